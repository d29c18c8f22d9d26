"""Slice plot: the metric against each parameter, one panel per parameter.

Numbers go on a linear axis, or a log axis when their range is log-like
(:func:`~hpo_analytics._frames.is_log_scale`); categories (strings,
booleans, missing values as ``<NA>``) sit at integer positions with a small
seeded jitter and their labels as ticks. When the table records the job's
declared search space, the declared types decide instead
(:func:`~hpo_analytics._frames.param_scale`): discrete values are ordered
categories (every declared value a tick), a continuous parameter's bounds
are the axis limits, and the axis is logarithmic when declared so or when
the bounds span two decades or more; a trial outside the declared space is
not drawn in that panel, with a :class:`~hpo_analytics.errors.SpaceWarning`. Points are coloured by trial order
(``trial_index``) or by the metric, with a perceptually uniform colormap; the
trials tied for best are ringed. Trials without a finite metric are left
out; an empty table draws a "no trials" note in each panel, and a metric
that is not numeric or has no finite value raises
:class:`~hpo_analytics.errors.ConfigurationError`. Markers shrink and
are rasterized as the number of trials grows, so 100,000 trials draw in
about a second per panel.
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
from ._common import BEST_COLOR, METRIC_CMAP, best_mask, label_of, marker_size, no_data, panel_axes, param_xaxis
from ._raster import RASTERIZE_FROM

__all__ = ["SliceData", "SlicePanel", "plot_slice"]

#: Categories are spread over ``position ± JITTER`` so that stacked points stay visible.
JITTER = 0.2


@dataclass(frozen=True)
class SlicePanel:
    """One parameter's panel.

    ``x`` holds the parameter value per plotted trial (numbers), or the
    category's position ``0..len(levels)-1`` (categories; ``jitter`` is added
    when drawing; NaN when the trial is not drawn: outside the declared
    space). ``log`` asks for a log x axis; ``limits`` are the declared
    bounds (``None`` when not declared); ``declared`` says the job's space
    chose the scale.
    """

    param: str
    x: np.ndarray
    jitter: np.ndarray
    log: bool
    categorical: bool
    levels: tuple[str, ...]
    limits: tuple[float, float] | None = None
    declared: bool = False


@dataclass(frozen=True)
class SliceData:
    """What :func:`plot_slice` draws: the plotted trials' scores, colours, best marks and one panel per parameter.

    ``y``, ``color``, ``best`` and ``trial_ids`` run over the trials with a
    finite score, in input order; ``color`` is the trial order (0 = first by
    ``trial_index``) or the score, as ``color_label`` says.
    """

    metric: str
    mode: str
    trial_ids: np.ndarray
    y: np.ndarray
    color: np.ndarray
    color_label: str
    best: np.ndarray
    panels: tuple[SlicePanel, ...]


def _trial_order(frame: pd.DataFrame) -> np.ndarray:
    """0-based position of each row when trials are taken by ``trial_index`` (row order breaks ties)."""
    if "trial_index" in frame.columns:
        index = floats(frame["trial_index"])
        index = np.where(np.isnan(index), np.inf, index)
    else:
        index = np.zeros(len(frame))
    order = np.lexsort((np.arange(len(frame)), index))
    ranks = np.empty(len(frame), dtype=np.int64)
    ranks[order] = np.arange(len(frame))
    return ranks


def _slice_data(
    trials: Any,
    *,
    params: Collection[str] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    color_by: str = "order",
    seed: int = 0,
) -> SliceData:
    """Compute the slice plot's data (see :func:`plot_slice`)."""
    if color_by not in ("order", "metric"):
        raise ConfigurationError(f"color_by must be 'order' or 'metric', not {color_by!r}")
    t = load(trials, metric=metric, mode=mode)
    columns = param_columns(t.frame, params)
    if not columns:
        raise ConfigurationError("the table has no parameter columns (param/<name>) to slice by")
    keep = np.isfinite(t.score)
    frame = t.frame[keep]
    y = t.score[keep]
    order = _trial_order(t.frame)[keep]
    rng = np.random.default_rng(seed)
    panels = []
    for column in columns:
        scale = param_scale(frame, column)
        if scale.categorical:
            jitter = rng.uniform(-JITTER, JITTER, len(frame))
            panels.append(SlicePanel(label_of(column), scale.x, jitter, log=False, categorical=True,
                                     levels=scale.labels, declared=scale.declared))
        else:
            panels.append(SlicePanel(label_of(column), scale.x, np.zeros(len(frame)), log=scale.log,
                                     categorical=False, levels=(), limits=scale.limits, declared=scale.declared))
    if color_by == "order":
        color, color_label = order.astype(float), "trial order"
    else:
        color, color_label = y.copy(), t.metric
    ids = frame["trial_id"].astype(object).to_numpy() if "trial_id" in frame.columns else np.arange(len(frame))
    return SliceData(metric=t.metric, mode=t.mode, trial_ids=ids, y=y, color=color, color_label=color_label,
                     best=best_mask(t.key[keep]), panels=tuple(panels))


def colored_points(ax: Any, x: np.ndarray, y: np.ndarray, values: np.ndarray, *, vmin: float, vmax: float,
                   size: float) -> Any:
    """Points coloured by ``values`` on :data:`METRIC_CMAP`; returns a mappable for a colorbar.

    Up to :data:`RASTERIZE_FROM` points this is one ``scatter`` (exact
    colours). Beyond, the values are quantised to 64 colour levels and each
    level is one rasterized marker line: Agg stamps one marker shape for a
    whole line, about 4x faster than a scatter of per-point colours
    (600,000 points: 0.8 s against 3 s).
    """
    if len(x) < RASTERIZE_FROM:
        return ax.scatter(x, y, c=values, cmap=METRIC_CMAP, vmin=vmin, vmax=vmax, s=size, linewidths=0)
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    levels = 64
    norm = Normalize(vmin=vmin, vmax=vmax)
    cmap = colormaps[METRIC_CMAP]
    level = np.clip((norm(values).filled(0.5) * levels).astype(np.int64), 0, levels - 1)
    order = np.argsort(level, kind="stable")
    bounds = np.searchsorted(level[order], np.arange(levels + 1))
    for k in range(levels):
        rows = order[bounds[k]:bounds[k + 1]]
        if len(rows):
            ax.plot(x[rows], y[rows], linestyle="none", marker="o", markersize=float(np.sqrt(size)),
                    markeredgewidth=0, color=cmap((k + 0.5) / levels), rasterized=True)
    return ScalarMappable(norm=norm, cmap=cmap)


def plot_slice(
    trials: Any,
    *,
    params: Collection[str] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    color_by: str = "order",
    ncols: int = 3,
    seed: int = 0,
    ax: Any = None,
) -> Any:
    """The metric against each parameter; returns the Figure.

    ``params`` chooses the parameters (names with or without ``param/``;
    default all ``param/`` columns, in table order). ``color_by`` is
    ``"order"`` (trial order, to see where the search went over time) or
    ``"metric"``. ``seed`` fixes the jitter of categorical panels. ``ax`` is
    None (a new figure, ``ncols`` panels per row), an Axes when there is one
    parameter, or a sequence of one Axes per parameter. Raises
    :class:`~hpo_analytics.errors.ConfigurationError` when the table has no
    parameter columns or an unknown metric/parameter is named.
    """
    ncols = check_int("ncols", ncols, low=1)
    data = _slice_data(trials, params=params, metric=metric, mode=mode, color_by=color_by, seed=seed)
    fig, axes = panel_axes(ax, len(data.panels), ncols=ncols, right=1.1)
    n = len(data.y)
    size = marker_size(n)
    vmin, vmax = (float(data.color.min()), float(data.color.max())) if n else (0.0, 1.0)
    mappable = None
    for i, (panel_ax, panel) in enumerate(zip(axes, data.panels)):
        panel_ax.set_xlabel(panel.param)
        if ax is not None or i % ncols == 0:
            panel_ax.set_ylabel(data.metric)
        if n == 0:
            no_data(panel_ax)
            continue
        x = panel.x + panel.jitter
        mappable = colored_points(panel_ax, x, data.y, data.color, vmin=vmin, vmax=vmax, size=size)
        if data.best.any():
            panel_ax.scatter(x[data.best], data.y[data.best], s=max(4 * size, 40), facecolors="none",
                             edgecolors=BEST_COLOR, linewidths=1.5, label="best", zorder=3)
        param_xaxis(panel_ax, log=panel.log, levels=panel.levels, limits=panel.limits)
    if n and data.best.any():
        # loc="best" scans every point: fine for hundreds, slow for 100,000.
        axes[0].legend(loc="best" if n < RASTERIZE_FROM else "lower right", fontsize="small")
    if mappable is not None and fig is not None:
        if ax is None:  # in the right margin panel_axes kept free
            box = fig.subplotpars
            cax = fig.add_axes((box.right + 0.25 / fig.get_figwidth(), box.bottom, 0.15 / fig.get_figwidth(),
                                box.top - box.bottom))
            fig.colorbar(mappable, cax=cax, label=data.color_label)
        else:
            fig.colorbar(mappable, ax=axes, label=data.color_label)
    if fig is not None and ax is None:
        fig.suptitle(f"Slice: {data.metric} ({data.mode}) by parameter")
    return fig
