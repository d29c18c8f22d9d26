"""Parameter importance as horizontal bars with their bootstrap intervals.

Takes either a trials table (importance is computed by
:func:`~hpo_analytics.analysis.param_importance` with the options given) or
the frame ``param_importance`` returned. Bars are sorted, most important on
top; constant parameters are drawn grey. A table with no parameters raises
:class:`~hpo_analytics.errors.ConfigurationError`; an importance frame with
no rows draws a "no parameters" note, and one whose importance is NaN (too
few scored trials, or a constant metric: ``param_importance`` warned) draws
a note saying so instead of bars.
"""

from __future__ import annotations

from collections.abc import Collection
import textwrap
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._frames import as_frame, param_columns
from .._validation import check_int, floats
from ..errors import ConfigurationError
from ._common import MASS_COLOR, new_axes, no_data

__all__ = ["ImportanceData", "plot_param_importance"]

_REQUIRED = ("param", "importance", "ci_low", "ci_high")
#: Bar colour of parameters that matter (a single colour: bars are told apart by their labels).
BAR_COLOR = "#3b6ea8"


@dataclass(frozen=True)
class ImportanceData:
    """Bars to draw, most important first; ``method``/``metric`` come from the frame's ``attrs`` (None if absent).

    ``warning`` is why the importance is NaN (``param_importance``'s warning), None when it is not.
    """

    params: tuple[str, ...]
    importance: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    constant: np.ndarray
    method: str | None
    metric: str | None
    n_trials: int | None
    confidence: float | None
    warning: str | None = None

    @property
    def estimable(self) -> bool:
        """Whether some varying parameter has a number to draw (all constant counts: their 0 is exact)."""
        varying = ~self.constant
        return not varying.any() or bool(np.isfinite(self.importance[varying]).any())


def _is_importance_frame(obj: Any) -> bool:
    return isinstance(obj, pd.DataFrame) and all(c in obj.columns for c in _REQUIRED) \
        and "trial_id" not in obj.columns


def _importance_data(
    source: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    method: str | None = None,
    params: Collection[str] | None = None,
    n_bootstrap: int | None = None,
    confidence: float | None = None,
    statuses: Collection[str] | None = None,
    seed: int | None = None,
    top: int | None = None,
) -> ImportanceData:
    """Compute the bars (see :func:`plot_param_importance`)."""
    if top is not None:
        top = check_int("top", top, low=1)
    options = {"metric": metric, "mode": mode, "method": method, "params": params, "n_bootstrap": n_bootstrap,
               "confidence": confidence, "statuses": statuses, "seed": seed}
    if _is_importance_frame(source):
        given = [name for name, value in options.items() if value is not None]
        if given:
            raise ConfigurationError(
                f"{', '.join(given)} only apply when importance is computed from a trials table; "
                "this is already a param_importance frame")
        frame = source
    else:
        from ..analysis import param_importance

        if not param_columns(as_frame(source)):
            raise ConfigurationError("the table has no parameter columns (param/<name>) to rate")
        frame = param_importance(source, **{k: v for k, v in options.items() if v is not None})
    importance = floats(frame["importance"])
    # Sort here too: a frame edited or filtered by hand need not be in order.
    order = np.argsort(-np.where(np.isnan(importance), -np.inf, importance), kind="stable")
    if top is not None:
        order = order[:top]
    kind = frame["kind"].astype(object).to_numpy() if "kind" in frame.columns else np.full(len(frame), None)
    meta = frame.attrs.get("hpo_analytics.analysis", {})
    return ImportanceData(
        params=tuple(str(p) for p in frame["param"].to_numpy()[order]),
        importance=importance[order],
        ci_low=floats(frame["ci_low"])[order],
        ci_high=floats(frame["ci_high"])[order],
        constant=(kind == "constant")[order],
        method=meta.get("method"),
        metric=meta.get("metric"),
        n_trials=meta.get("n_trials"),
        confidence=meta.get("confidence"),
        warning=meta.get("warning"),
    )


def plot_param_importance(
    source: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    method: str | None = None,
    params: Collection[str] | None = None,
    n_bootstrap: int | None = None,
    confidence: float | None = None,
    statuses: Collection[str] | None = None,
    seed: int | None = None,
    top: int | None = None,
    ax: Any = None,
) -> Any:
    """Horizontal bars of parameter importance with confidence intervals; returns the Axes.

    ``source`` is a trials table (Arrow or pandas) or a frame from
    :func:`~hpo_analytics.analysis.param_importance`. For a table, the
    options ``metric`` .. ``seed`` are passed to ``param_importance``
    (None: its defaults, e.g. ``method="fanova"``); for a frame they must be
    left unset. ``top`` keeps the ``top`` most important parameters. The
    title names the method and the metric. When no varying parameter has a
    finite importance (too few scored trials or a constant metric), the Axes
    shows a note with the reason instead of bars; a single NaN bar reads
    "n/a".
    """
    data = _importance_data(source, metric=metric, mode=mode, method=method, params=params,
                            n_bootstrap=n_bootstrap, confidence=confidence, statuses=statuses, seed=seed, top=top)
    k = len(data.params)
    created = ax is None
    ax = new_axes(ax, figsize=(6.5, max(2.5, 1.2 + 0.38 * k)))
    if created:  # margins in inches: the longest parameter name on the left, the axis label below
        width, height = ax.figure.get_size_inches()
        longest = max((len(p) for p in data.params), default=4)
        ax.figure.subplots_adjust(left=min(0.5, (0.3 + 0.075 * longest) / width), right=0.95,
                                  bottom=0.6 / height, top=1 - 0.45 / height)
    parts = [p for p in (data.method, data.metric and f"for {data.metric}",
                         data.n_trials is not None and f"{data.n_trials} trials") if p]
    ax.set_title("Parameter importance" + (f" ({', '.join(parts)})" if parts else ""))
    ax.set_xlabel("importance (share of explained variation)")
    if k == 0:
        return no_data(ax, "no parameters")
    if not data.estimable:
        why = (data.warning or "").removeprefix("param_importance: ") or "too few scored trials or a constant metric"
        return no_data(ax, textwrap.fill(f"importance not estimable: {why}", 60))
    positions = np.arange(k)[::-1]  # most important on top
    low = np.clip(data.importance - data.ci_low, 0.0, None)
    high = np.clip(data.ci_high - data.importance, 0.0, None)
    colors = [MASS_COLOR if c else BAR_COLOR for c in data.constant]
    ax.barh(positions, data.importance, color=colors, height=0.65)
    ax.errorbar(data.importance, positions, xerr=np.vstack([np.nan_to_num(low), np.nan_to_num(high)]),
                fmt="none", ecolor="black", elinewidth=1.0, capsize=3,
                label=f"{data.confidence:.0%} interval" if data.confidence else "interval")
    ax.set_yticks(positions, data.params)
    ax.set_ylim(-0.6, k - 0.4)
    upper = np.nanmax(np.concatenate([data.ci_high, data.importance, [0.0]]))
    ax.set_xlim(0.0, max(upper * 1.15, 0.05))
    for pos, value, hi in zip(positions, data.importance, data.ci_high):
        if np.isfinite(value):
            ax.text(max(value, np.nan_to_num(hi)) + 0.01 * max(upper, 0.05), pos, f"{value:.2f}",
                    va="center", fontsize="small")
        else:
            ax.text(0.01 * max(upper, 0.05), pos, "n/a", va="center", fontsize="small", color=MASS_COLOR)
    ax.legend(loc="lower right", fontsize="small")
    return ax
