"""Back-test: compute saved against regret, one point per stop rule."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .._frames import as_frame
from .._validation import floats
from ..errors import ConfigurationError
from ._common import identity_colors, new_axes, no_data

__all__ = ["plot_backtest"]

NEEDS = ("rule", "saved", "regret")


@dataclass(frozen=True)
class BacktestData:
    """One entry per rule (the back-test's row order): ``saved`` (fraction of trial-iterations not run),
    ``regret`` (NaN when no trial survived: drawn on the top edge) and ``best_stopped``
    (whether the eventual best trial would have been stopped; False when the table does not say)."""

    rule: tuple[str, ...]
    saved: np.ndarray
    regret: np.ndarray
    best_stopped: np.ndarray

    @property
    def undefined(self) -> tuple[str, ...]:
        """Rules under which no trial survived (regret undefined)."""
        return tuple(r for r, g in zip(self.rule, self.regret) if np.isnan(g))


def _backtest_data(table: Any) -> BacktestData:
    """The columns the plot needs, from :func:`hpo_analytics.stopping.backtest`'s frame."""
    frame = as_frame(table)
    missing = [c for c in NEEDS if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"the back-test table has no {', '.join(map(repr, missing))} column "
                                 "(pass the frame hpo_analytics.stopping.backtest returns)")
    best = frame["best_stopped"].to_numpy(dtype=bool, na_value=False) if "best_stopped" in frame.columns \
        else np.zeros(len(frame), dtype=bool)
    return BacktestData(
        rule=tuple(str(r) for r in frame["rule"].tolist()),
        saved=floats(frame["saved"]),
        regret=floats(frame["regret"]),
        best_stopped=best,
    )


def plot_backtest(table: Any, *, ax: Any = None) -> Any:
    """Compute saved (x, fraction of trial-iterations) against regret (y), one labelled point per rule.

    ``table``: the frame :func:`hpo_analytics.stopping.backtest` returns
    (Arrow or pandas with ``rule``, ``saved``, ``regret``; ``best_stopped``
    optional). Each rule has its own colour (colours never repeat) and its
    name beside the point; a rule that would have stopped the eventual best
    trial is a cross instead of a dot. A rule under which no trial survives
    has no regret: its point sits on the top edge, hollow, and the legend
    says so. The good corner is bottom right. An empty table draws a "no
    rules" note; one without those columns raises
    :class:`~hpo_analytics.errors.ConfigurationError`. Returns the Axes.
    """
    from matplotlib.lines import Line2D
    from matplotlib.ticker import PercentFormatter

    data = _backtest_data(table)
    ax = new_axes(ax)
    ax.set_xlabel("compute saved (fraction of trial-iterations not run)")
    ax.set_ylabel("regret (how much worse the best survivor ends)")
    ax.set_title("Early-stopping back-test: savings against regret")
    if not data.rule:
        return no_data(ax, "no rules")
    finite = data.regret[np.isfinite(data.regret)]
    top = float(finite.max()) if len(finite) else 1.0
    top = top * 1.15 if top > 0 else 1.0
    colors = identity_colors(len(data.rule))
    for name, x, y, hit, color in zip(data.rule, data.saved, data.regret, data.best_stopped, colors):
        undefined = np.isnan(y)
        yy = top if undefined else y
        marker = "X" if hit else "o"
        ax.scatter([x], [yy], s=80, marker=marker, zorder=3, linewidths=1.2,
                   facecolors="none" if undefined else [color], edgecolors=[color],
                   label=name + (" (no trial survives)" if undefined else ""))
        ax.annotate(name, (x, yy), xytext=(6, 4), textcoords="offset points", fontsize="small", color=color)
    ax.xaxis.set_major_formatter(PercentFormatter(xmax=1.0))
    ax.set_xlim(min(0.0, float(np.nanmin(data.saved)) - 0.05) if np.isfinite(data.saved).any() else 0.0,
                max(1.0, float(np.nanmax(data.saved)) + 0.05) if np.isfinite(data.saved).any() else 1.0)
    ax.set_ylim(bottom=-0.05 * top, top=top * 1.1)
    handles, _ = ax.get_legend_handles_labels()
    if data.best_stopped.any():
        handles.append(Line2D([], [], marker="X", linestyle="none", color="black", label="stops the eventual best"))
    ax.legend(handles=handles, loc="best", fontsize="small")
    return ax
