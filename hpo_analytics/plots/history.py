"""Optimization history: every trial's score in trial order, the best so far, the tied best trials."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._frames import as_frame, check_metric, is_numeric_param, resolve_metric
from .._validation import floats
from ..analysis import best_so_far
from ..errors import ConfigurationError
from ._common import BEST_COLOR, best_mask, metric_label, new_axes, no_data

__all__ = ["plot_optimization_history"]

#: Colour of the per-trial score points.
SCORE_COLOR = "#3b6ea8"


@dataclass(frozen=True)
class HistoryData:
    """What :func:`plot_optimization_history` draws, one entry per trial in ``order``.

    ``x`` is the ordering value (``trial_index``, else the row position);
    ``score`` the trial's score (NaN when it has none: not drawn);
    ``best_so_far`` the running best; ``is_best`` marks every trial tied for
    the best score.
    """

    trial_id: np.ndarray
    x: np.ndarray
    score: np.ndarray
    best_so_far: np.ndarray
    is_best: np.ndarray
    metric: str
    mode: str
    xlabel: str

    @property
    def n_unscored(self) -> int:
        """Trials without a finite score (left out of the scatter)."""
        return int((~np.isfinite(self.score)).sum())


def _optimization_history_data(trials: Any, *, metric: str | None = None, mode: str | None = None,
                               order: str = "trial_index") -> HistoryData:
    """The history, from :func:`hpo_analytics.analysis.best_so_far`."""
    metric, mode = resolve_metric(trials, metric, mode)
    check_metric(trials, metric)  # before the conversion, so an Arrow column is named by its Arrow type
    frame = as_frame(trials)
    xlabel = order
    if order == "trial_index" and "trial_index" not in frame.columns:
        attrs = frame.attrs
        frame = frame.assign(trial_index=np.arange(len(frame)))
        frame.attrs = attrs
        xlabel = "trial (row order)"
    elif order in frame.columns and not is_numeric_param(frame[order]):
        raise ConfigurationError(f"order must name a numeric column; {order!r} is {frame[order].dtype}")
    hist = best_so_far(frame, metric=metric, mode=mode, order=order)
    info = hist.attrs["hpo_analytics.analysis"]
    score = hist["score"].to_numpy(dtype=float)
    running = hist["best_so_far"].to_numpy(dtype=float)
    x = floats(hist["order"])
    return HistoryData(
        trial_id=hist["trial_id"].to_numpy(dtype=object),
        x=x,
        score=score,
        best_so_far=running,
        is_best=best_mask(score if info["mode"] == "max" else -score),
        metric=info["metric"],
        mode=info["mode"],
        xlabel=xlabel,
    )


def plot_optimization_history(trials: Any, *, metric: str | None = None, mode: str | None = None,
                              order: str = "trial_index", ax: Any = None) -> Any:
    """Every trial's score (points, in ``order``), the best-so-far step line, the tied best trials starred.

    ``trials``: a trial table (Arrow or pandas; a curve table works, each
    trial's latest row standing for it). ``order``: the column along x
    (``"trial_index"``, falling back to row order when the table has none,
    or e.g. ``"time_total_s"``). Trials without a finite score are not drawn
    (the legend counts them); an empty table draws a "no trials" note, and a
    metric that is not numeric or has no finite value raises
    :class:`~hpo_analytics.errors.ConfigurationError`. Returns the Axes.
    """
    data = _optimization_history_data(trials, metric=metric, mode=mode, order=order)
    ax = new_axes(ax)
    ax.set_xlabel(data.xlabel)
    ax.set_ylabel(metric_label(data.metric, data.mode))
    ax.set_title("Optimization history")
    if not np.isfinite(data.score).any():
        return no_data(ax)
    ok = np.isfinite(data.score) & np.isfinite(data.x)
    n = int(ok.sum())
    label = "trial score" if not data.n_unscored else f"trial score ({data.n_unscored} without one not shown)"
    ax.scatter(data.x[ok], data.score[ok], s=14 if n <= 2000 else 6, color=SCORE_COLOR,
               alpha=0.8 if n <= 2000 else 0.4, linewidths=0, label=label, zorder=2)
    line = np.isfinite(data.best_so_far) & np.isfinite(data.x)
    ax.step(data.x[line], data.best_so_far[line], where="post", color=BEST_COLOR, linewidth=1.6,
            label="best so far", zorder=3)
    k = int(data.is_best.sum())
    ax.scatter(data.x[data.is_best], data.score[data.is_best], marker="*", s=160, color=BEST_COLOR,
               edgecolors="black", linewidths=0.6, zorder=4,
               label="best trial" if k == 1 else f"best trials ({k} tied)")
    ax.legend(loc="best", fontsize="small")
    return ax
