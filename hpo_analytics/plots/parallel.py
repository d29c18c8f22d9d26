"""Parallel coordinates: one normalised axis per parameter and one for the metric, lines coloured by metric.

Up to ``density_threshold`` trials every trial is a line of one
``LineCollection``; above it the mass is a density raster (how many lines
cross each pixel column, coloured by their mean metric) and only the best
``top_lines`` trials are lines. Either way the best trials are drawn last, on
top.

With the job's declared search space recorded in the table
(:func:`~hpo_analytics._frames.param_scale`), a discrete parameter's axis
has a tick per declared value, in order, and a continuous one spans its
declared bounds (log when declared or when they span two decades or more),
however much of it the trials explored; a trial with a value outside the
declared space is not drawn (the title counts it, and a
:class:`~hpo_analytics.errors.SpaceWarning` names it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._frames import encode_param, load, param_columns, param_scale
from .._validation import check_int, floats
from ..errors import ConfigurationError
from ._common import BEST_COLOR, METRIC_CMAP, best_mask, label_of, new_axes, no_data
from ._raster import density_raster, raster_rgba

__all__ = ["plot_parallel_coordinates"]

#: Above this many trials the mass is drawn as a density raster.
DENSITY_THRESHOLD = 2000


@dataclass(frozen=True)
class AxisInfo:
    """One vertical axis: its column, label, scale and ticks (positions in [0, 1] and their text)."""

    column: str
    label: str
    kind: str  # "linear", "log", "categorical", "constant" or "metric"
    tick_positions: tuple[float, ...]
    tick_labels: tuple[str, ...]


@dataclass(frozen=True)
class ParallelData:
    """What :func:`plot_parallel_coordinates` draws.

    ``values[i, j]`` is trial ``trial_ids[i]`` on axis ``j`` in [0, 1] (the
    metric is the last axis); rows are sorted worst first, so drawing in row
    order puts the best on top. ``score`` is each row's metric value,
    ``is_best`` marks the trials tied for best. Trials without a finite score
    are left out and counted in ``n_unscored``; those with a value outside the
    declared space, in ``n_outside``.
    """

    trial_ids: np.ndarray
    values: np.ndarray
    score: np.ndarray
    is_best: np.ndarray
    axes: tuple[AxisInfo, ...]
    metric: str
    mode: str
    n_unscored: int
    n_outside: int = 0


def _numeric_ticks(raw: np.ndarray, *, log: bool,
                   limits: tuple[float, float] | None = None) -> tuple[tuple[float, ...], tuple[str, ...]]:
    """Ticks of a numeric axis scaled as :func:`encode_param` scales it: decades (log) or min/mid/max
    (of the declared ``limits`` when given)."""
    if limits is not None:
        low, high = limits
    else:
        finite = raw[np.isfinite(raw) & ((raw > 0) if log else True)]
        low, high = float(finite.min()), float(finite.max())
    if log:
        a, b = math.log10(low), math.log10(high)
        decades = range(math.ceil(a - 1e-12), math.floor(b + 1e-12) + 1)
        return (tuple((d - a) / (b - a) for d in decades), tuple(f"1e{d}" for d in decades))
    values = (low, (low + high) / 2, high)
    return (0.0, 0.5, 1.0), tuple(f"{v:.3g}" for v in values)


def _parallel_coordinates_data(trials: Any, *, params: Sequence[str] | None = None, metric: str | None = None,
                               mode: str | None = None) -> ParallelData:
    """Normalise each parameter (as :func:`hpo_analytics.analysis` encodes it) and the metric to [0, 1]."""
    t = load(trials, metric=metric, mode=mode)
    frame = t.frame
    columns = param_columns(frame, params)
    if not columns:
        raise ConfigurationError("the table has no parameter columns (param/<name>) to draw axes for")
    scales = [param_scale(frame, column) for column in columns]
    outside = np.zeros(len(frame), dtype=bool)
    for scale in scales:
        outside |= scale.outside
    n_outside = int((outside & np.isfinite(t.score)).sum())
    scored = np.isfinite(t.score) & ~outside
    if not scored.any():
        return ParallelData(trial_ids=np.zeros(0, dtype=object), values=np.zeros((0, len(columns) + 1)),
                            score=np.zeros(0), is_best=np.zeros(0, dtype=bool), axes=(), metric=t.metric,
                            mode=t.mode, n_unscored=int((~np.isfinite(t.score)).sum()), n_outside=n_outside)
    key = t.key[scored]
    order = np.argsort(key, kind="stable")  # worst first: the best are drawn last, on top
    rows = np.flatnonzero(scored)[order]
    axes: list[AxisInfo] = []
    block = np.empty((len(rows), len(columns) + 1))
    for j, (column, scale) in enumerate(zip(columns, scales)):
        enc = encode_param(frame[column], scale=scale)
        values = enc.values[rows]
        if scale.declared and scale.categorical:
            # Every declared value keeps its tick, even when the trials took only one; the rows drawn
            # are inside the space, so each has its level.
            assert scale.codes is not None
            n = len(scale.levels)
            values = (scale.codes[rows] + 0.5) / n
            info = AxisInfo(column, label_of(column), "categorical", tuple((i + 0.5) / n for i in range(n)),
                            scale.labels)
        elif scale.declared and scale.limits is not None:
            positions, labels = _numeric_ticks(scale.x, log=enc.log, limits=scale.limits)
            info = AxisInfo(column, label_of(column), "log" if enc.log else "linear", positions, labels)
        elif enc.constant:
            values = np.full(len(rows), 0.5)
            level = enc.levels[0] if enc.categorical and enc.levels is not None and len(enc.levels) else \
                frame[column].dropna().iloc[0] if frame[column].notna().any() else "<NA>"
            info = AxisInfo(column, label_of(column), "constant", (0.5,), (str(level),))
        elif enc.categorical:
            assert enc.levels is not None
            n = len(enc.levels)
            info = AxisInfo(column, label_of(column), "categorical",
                            tuple((i + 0.5) / n for i in range(n)), tuple(str(v) for v in enc.levels))
        else:
            raw = floats(frame[column])
            positions, labels = _numeric_ticks(raw, log=enc.log)
            info = AxisInfo(column, label_of(column), "log" if enc.log else "linear", positions, labels)
        block[:, j] = values
        axes.append(info)
    score = t.score[rows]
    low, high = float(score.min()), float(score.max())
    block[:, -1] = (score - low) / (high - low) if high > low else 0.5
    if high > low:
        mids = (low, (low + high) / 2, high)
        axes.append(AxisInfo(t.metric, t.metric, "metric", (0.0, 0.5, 1.0), tuple(f"{v:.4g}" for v in mids)))
    else:
        axes.append(AxisInfo(t.metric, t.metric, "metric", (0.5,), (f"{low:.4g}",)))
    ids = frame["trial_id"].astype(str).to_numpy(dtype=object)[rows] if "trial_id" in frame.columns \
        else rows.astype(str).astype(object)
    return ParallelData(trial_ids=ids, values=block, score=score, is_best=best_mask(t.key[rows]),
                        axes=tuple(axes), metric=t.metric, mode=t.mode,
                        n_unscored=int((~np.isfinite(t.score)).sum()), n_outside=n_outside)


def plot_parallel_coordinates(trials: Any, *, params: Sequence[str] | None = None, metric: str | None = None,
                              mode: str | None = None, density: bool | None = None,
                              density_threshold: int = DENSITY_THRESHOLD, top_lines: int = 100,
                              colorbar: bool = True, ax: Any = None) -> Any:
    """One axis per parameter (``params``, default all) and one for the metric; each trial a line.

    Numbers are scaled min-max, on a log scale for log-distributed
    parameters (ticks at decades); strings and booleans get one tick per
    level; a missing number sits at the column's median (as the analysis
    encodes it). Lines are coloured by the metric (``viridis``, reversed for
    ``mode="min"`` so the best are always the bright end, with a colorbar)
    and drawn worst first, so the best are on top; the trials tied for best
    are outlined in red. With more than ``density_threshold`` trials (or
    ``density=True``) the mass is a density raster and only the best
    ``top_lines`` trials are lines, so 100,000 trials render in seconds.
    Trials without a finite score are left out (the title counts them); an
    empty table draws a "no trials" note. Raises
    :class:`~hpo_analytics.errors.ConfigurationError` for a table without
    parameter columns (or an unknown ``params`` name), or a metric that is
    not numeric or has no finite value. Returns the Axes.
    """
    import matplotlib
    from matplotlib.cm import ScalarMappable
    from matplotlib.collections import LineCollection
    from matplotlib.colors import Normalize

    top_lines = check_int("top_lines", top_lines, low=0)
    data = _parallel_coordinates_data(trials, params=params, metric=metric, mode=mode)
    created = ax is None
    ax = new_axes(ax, figsize=(max(6.0, 1.3 * len(data.axes) + 2.5), 5.0))
    if created:
        ax.figure.subplots_adjust(bottom=0.14, left=0.05, right=0.97)
    if not len(data.values):
        ax.set_title("Parallel coordinates")
        return no_data(ax)
    cmap = matplotlib.colormaps[METRIC_CMAP if data.mode == "max" else METRIC_CMAP + "_r"]
    n, k = data.values.shape
    low, high = float(data.score.min()), float(data.score.max())
    norm = Normalize(low, high if high > low else low + 1.0)
    x = np.arange(k, dtype=float)
    use_density = n > density_threshold if density is None else bool(density)
    lines_from = max(n - top_lines, 0) if use_density else 0
    if use_density and lines_from > 0:
        raster = density_raster(data.values[:lines_from], data.values[:lines_from, -1])
        ax.imshow(raster_rgba(raster, cmap), extent=(0.0, k - 1.0, 0.0, 1.0), origin="lower", aspect="auto",
                  interpolation="nearest", zorder=1)
    lines = data.values[lines_from:]
    segments = np.stack([np.broadcast_to(x, lines.shape), lines], axis=-1)
    shown = len(lines)
    collection = LineCollection(segments, cmap=cmap, norm=norm, linewidths=1.2 if shown <= 200 else 0.7,
                                alpha=float(np.clip(60.0 / max(shown, 1), 0.15, 0.9)), zorder=2,
                                rasterized=shown > 2000)
    collection.set_array(data.score[lines_from:])
    ax.add_collection(collection)
    best = data.values[data.is_best]
    if len(best):
        ax.add_collection(LineCollection(np.stack([np.broadcast_to(x, best.shape), best], axis=-1),
                                         colors=BEST_COLOR, linewidths=2.2, zorder=3,
                                         label="best trial" if len(best) == 1 else f"best trials ({len(best)} tied)"))
    _draw_axes(ax, data.axes)
    ax.set_xlim(-0.3, k - 1 + 0.3)
    # A band above the axes' top tick labels holds the legend, so it covers no axis or label.
    ax.set_ylim(-0.06, 1.14)
    if colorbar:
        ax.figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=data.metric, pad=0.02)
    note = f"; {data.n_unscored} without a score not shown" if data.n_unscored else ""
    if data.n_outside:
        note += f"; {data.n_outside} outside the declared space not shown"
    how = f"density of {lines_from} + top {shown} as lines" if use_density and lines_from else f"{n} trials"
    ax.set_title(f"Parallel coordinates ({how}{note})")
    if len(best):
        ax.legend(loc="upper center", fontsize="small", frameon=False, borderaxespad=0.2)
    return ax


def _draw_axes(ax: Any, axes: tuple[AxisInfo, ...]) -> None:
    """Vertical axis lines, names below, each axis's own tick labels beside it."""
    k = len(axes)
    ax.vlines(np.arange(k), 0.0, 1.0, colors="#444444", linewidths=0.8, zorder=4)
    ax.set_xticks(np.arange(k))
    ax.set_xticklabels([a.label + ("\n(log)" if a.kind == "log" else "") for a in axes])
    ax.set_yticks([])
    for spine in ("left", "right", "top"):
        ax.spines[spine].set_visible(False)
    for j, a in enumerate(axes):
        for pos, text in zip(a.tick_positions, a.tick_labels):
            ax.text(j + 0.03, pos, text, fontsize="x-small", va="center", ha="left", zorder=5,
                    bbox={"boxstyle": "round,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.7})
