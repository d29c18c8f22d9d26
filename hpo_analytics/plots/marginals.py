"""Marginal plot: the mean metric per value or bin of each parameter, with its interval; one panel each.

The numbers come from :func:`~hpo_analytics.analysis.marginals` (values, or
equal-width bins, log10 bins for log-like ranges; a percentile bootstrap
interval of each group's mean). Numbers draw a line through the group means
with the interval as a band (empty bins break the line); categories draw a
point with an error bar per level. The trials themselves can be drawn faintly
behind. With the job's declared search space recorded in the table, a
discrete parameter's groups are its declared values in order (one tick
each) and a continuous one's axis spans its declared bounds, as
:func:`~hpo_analytics.analysis.marginals` groups them; trials outside the
declared space are left out (with a
:class:`~hpo_analytics.errors.SpaceWarning`). Trials without a finite
metric are left out; a parameter with no such trial shows a "no trials"
note in its panel. A metric that is not
numeric or has no finite value raises
:class:`~hpo_analytics.errors.ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._frames import load, param_columns, param_scale
from .._validation import check_int, floats
from ..errors import ConfigurationError
from ._common import BEST_COLOR, MASS_COLOR, label_of, marker_size, no_data, panel_axes, param_xaxis
from ._raster import RASTERIZE_FROM

__all__ = ["MarginalPanel", "MarginalsData", "plot_marginals"]

LINE_COLOR = "#3b6ea8"


@dataclass(frozen=True)
class MarginalPanel:
    """One parameter's groups (rows of ``marginals``), in order.

    ``x`` is the group's position: its value or bin centre for numbers, its
    index ``0..k-1`` for categories (named by ``levels``). ``points_x`` /
    ``points_y`` are the trials behind (positions as for ``x``; NaN when the
    parameter is missing or outside the declared space). ``limits`` are
    the declared bounds (``None`` when not declared).
    """

    param: str
    x: np.ndarray
    mean: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    count: np.ndarray
    log: bool
    categorical: bool
    levels: tuple[str, ...]
    points_x: np.ndarray
    points_y: np.ndarray
    limits: tuple[float, float] | None = None


@dataclass(frozen=True)
class MarginalsData:
    """What :func:`plot_marginals` draws: one panel per parameter."""

    metric: str
    mode: str
    confidence: float
    panels: tuple[MarginalPanel, ...]


def _marginals_data(
    trials: Any,
    *,
    params: Collection[str] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    bins: int = 10,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    statuses: Collection[str] | None = None,
    seed: int = 0,
) -> MarginalsData:
    """Compute the marginal plot's data (see :func:`plot_marginals`)."""
    from ..analysis import marginals

    t = load(trials, metric=metric, mode=mode, statuses=statuses)
    columns = param_columns(t.frame, params)
    if not columns:
        raise ConfigurationError("the table has no parameter columns (param/<name>) to draw marginals of")
    keep = np.isfinite(t.score)
    y = t.score[keep]
    panels = []
    for column in columns:
        # t.frame is already one row per trial with the statuses kept: convert the table once, not per column.
        out = marginals(t.frame, column, metric=t.metric, mode=t.mode, bins=bins, n_bootstrap=n_bootstrap,
                        confidence=confidence, seed=seed)
        info = out.attrs["hpo_analytics.analysis"]
        series = t.frame[column][keep]
        if info["categorical"] and info.get("declared"):
            levels = tuple(info["labels"])
            # the marginals warned about values outside the space already
            codes = param_scale(t.frame, column, warn=False).codes[keep]  # type: ignore[index]
            points_x = np.where((codes >= 0) & (codes < len(levels)), codes, np.nan).astype(float)
            x = np.arange(len(out), dtype=float)
        elif info["categorical"]:
            levels = tuple(str(v) for v in out["value"])
            codes = pd.Categorical(series.astype(object), categories=list(out["value"])).codes
            points_x = np.where(codes >= 0, codes, np.nan).astype(float)
            x = np.arange(len(out), dtype=float)
        else:
            levels = ()
            points_x = param_scale(t.frame, column, warn=False).x[keep] if info.get("declared") else floats(series)
            x = out["value"].to_numpy(dtype=float)
        panels.append(MarginalPanel(
            param=label_of(column), x=x, mean=out["mean"].to_numpy(dtype=float),
            ci_low=out["ci_low"].to_numpy(dtype=float), ci_high=out["ci_high"].to_numpy(dtype=float),
            count=out["count"].to_numpy(dtype=np.int64), log=bool(info["log"]),
            categorical=bool(info["categorical"]), levels=levels, points_x=points_x, points_y=y,
            limits=info.get("limits")))
    return MarginalsData(metric=t.metric, mode=t.mode, confidence=confidence, panels=tuple(panels))


def plot_marginals(
    trials: Any,
    *,
    params: Collection[str] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    bins: int = 10,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    statuses: Collection[str] | None = None,
    seed: int = 0,
    points: bool = True,
    ncols: int = 3,
    ax: Any = None,
) -> Any:
    """The mean metric per value or bin of each parameter with its bootstrap interval; returns the Figure.

    ``params`` chooses the parameters (default all ``param/`` columns);
    ``bins``, ``n_bootstrap``, ``confidence``, ``statuses`` and ``seed`` go
    to :func:`~hpo_analytics.analysis.marginals`. ``points`` draws the trials
    faintly behind. ``ax`` is None (a new figure, ``ncols`` panels per row),
    an Axes (split into the panels when there are several) or one Axes per
    parameter.
    """
    ncols = check_int("ncols", ncols, low=1)
    data = _marginals_data(trials, params=params, metric=metric, mode=mode, bins=bins, n_bootstrap=n_bootstrap,
                           confidence=confidence, statuses=statuses, seed=seed)
    fig, axes = panel_axes(ax, len(data.panels), ncols=ncols)
    band_label = f"{data.confidence:.0%} interval of the mean"
    for i, (panel_ax, panel) in enumerate(zip(axes, data.panels)):
        panel_ax.set_xlabel(panel.param)
        if ax is not None or i % ncols == 0:
            panel_ax.set_ylabel(data.metric)
        param_xaxis(panel_ax, log=panel.log, levels=panel.levels, limits=panel.limits)
        if not (panel.count > 0).any():
            no_data(panel_ax)
            continue
        n = len(panel.points_y)
        if points:
            panel_ax.scatter(panel.points_x, panel.points_y, s=marker_size(n) * 0.5, c=MASS_COLOR,
                             alpha=0.5, linewidths=0, rasterized=n >= RASTERIZE_FROM, zorder=1)
        if panel.categorical:
            err = np.vstack([panel.mean - panel.ci_low, panel.ci_high - panel.mean])
            panel_ax.errorbar(panel.x, panel.mean, yerr=np.nan_to_num(err), fmt="o", color=LINE_COLOR,
                              capsize=4, zorder=3, label="mean")
        else:
            panel_ax.fill_between(panel.x, panel.ci_low, panel.ci_high, color=LINE_COLOR, alpha=0.2,
                                  linewidth=0, zorder=2, label=band_label)
            panel_ax.plot(panel.x, panel.mean, "o-", color=LINE_COLOR, markersize=3, zorder=3, label="mean")
        best = np.nanargmax(panel.mean) if data.mode == "max" else np.nanargmin(panel.mean)
        panel_ax.plot(panel.x[best], panel.mean[best], "*", color=BEST_COLOR, markersize=11, zorder=4,
                      label="best group")
    for panel_ax in axes:  # one legend, on the first panel that has something to explain
        if panel_ax.get_legend_handles_labels()[0]:
            panel_ax.legend(loc="lower right", fontsize="x-small")
            break
    if fig is not None and ax is None:
        fig.suptitle(f"Marginals: mean {data.metric} ({data.mode}) by parameter")
    return fig
