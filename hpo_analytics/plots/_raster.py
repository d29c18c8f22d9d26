"""Drawing many marks as pixels: when layers are rasterized and the two density-raster engines.

Vector output (and Agg) strokes every marker and segment, so a plot of
thousands of trials draws its bulk as an image instead:

- :data:`RASTERIZE_FROM`: from this many points on, scatter layers are
  rasterized;
- learning curves: :func:`segment_density` counts the curves crossing each
  cell of a grid in data units (:func:`grid_values` puts every curve on
  every step first), :func:`density_rgba` colours the counts and
  :func:`draw_curve_density` draws them at one cell per screen pixel;
- parallel coordinates: :func:`density_raster` counts the polylines
  crossing each pixel between adjacent axes, with their mean colour value,
  and :func:`raster_rgba` colours that.

Both engines add +1 where a line's run of rows starts and -1 after it ends,
then fill the runs in with a cumulative sum down each column, so the work is
linear in the number of lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ._common import MASS_COLOR

__all__ = [
    "DENSE_COLOR",
    "DensityRaster",
    "LONE_ALPHA",
    "MAX_CELLS",
    "MAX_PIXELS",
    "RASTERIZE_FROM",
    "density_raster",
    "density_rgba",
    "draw_curve_density",
    "grid_values",
    "raster_rgba",
    "segment_density",
]

#: From this many points on, scatter layers are rasterized (a vector file of 100,000 markers is unusable).
RASTERIZE_FROM = 5000
#: The curve density raster: colour of its densest cell (one curve is MASS_COLOR) and opacity of one curve.
DENSE_COLOR = "#3c4043"
LONE_ALPHA = 0.3
#: Largest raster side drawn, in cells (a huge Axes or an extreme zoom should not allocate without bound).
MAX_PIXELS = 4096
#: Largest grid side :func:`segment_density` accepts (its row positions are float32).
MAX_CELLS = 16384


# --------------------------------------------------------------------------- learning curves


def grid_values(points: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The curves of ``points`` (``(curves, steps, 2)``, as
    :func:`~hpo_analytics.plots._curvematrix.curve_points` makes them) as values at
    every one of ``steps``: a step a curve skipped gets the value on its line between the reports either
    side (the same line the points draw), NaN stays NaN."""
    m = points.shape[1]
    x, y = points[..., 0], points[..., 1]
    real = x == steps[None, :]  # a repeated point (skipped step) sits at an earlier step
    repeat = np.isfinite(x) & ~real
    if not repeat.any():
        return y.copy()
    cols = np.where(real, np.arange(m)[None, :], m)
    nxt = np.minimum(np.minimum.accumulate(cols[:, ::-1], axis=1)[:, ::-1], m - 1)
    y_next = np.take_along_axis(y, nxt, axis=1)
    x_next = steps[nxt]
    with np.errstate(invalid="ignore", divide="ignore"):
        between = y + (steps[None, :] - x) / (x_next - x) * (y_next - y)
    return np.where(repeat, between, y)


def segment_density(x: np.ndarray, y: np.ndarray, *, extent: tuple[float, float, float, float],
                    shape: tuple[int, int], chunk: int = 512) -> np.ndarray:
    """How many curves pass through each cell of a ``rows x columns`` grid: the raster of a line plot.

    ``x``: the steps (increasing); ``y``: ``(curves, steps)`` values, each
    curve a line through its points, broken wherever a value is not finite
    (NaN, inf), as matplotlib breaks a line: a segment is drawn only between
    two finite neighbours, and a finite point with neither is not drawn.
    ``extent = (x0, x1, y0, y1)`` is the grid's data range; ``shape = (rows,
    columns)``. Column ``c`` covers ``x`` in ``[x0 + c dx, x0 + (c+1) dx)``
    (the last one includes ``x1``), row ``r`` likewise ``y`` from ``y0`` (up
    to a float32 rounding), so row 0 is the bottom (``imshow(origin="lower")``).
    Values outside the extent are clipped off. Returns the int64 counts,
    ``count[r, c]`` = curves that touch cell ``(r, c)``; at most
    :data:`MAX_CELLS` a side.

    Each curve is sampled exactly at every column edge (interpolating the
    segment there) and at its own points; within a column it covers the rows
    from the lowest to the highest of those values, so a steep segment stays
    solid and each curve counts once per cell, also where two of its segments
    meet. (A gap narrower than one column is not left open in that column.)
    The work is linear in curves x (columns + steps): each covered run of rows
    adds +1 at its first row and -1 after its last, and a cumulative sum down
    each column fills the runs in. ``chunk`` curves are done at a time to
    bound memory.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    rows, cols = (int(v) for v in shape)
    x0, x1, y0, y1 = (float(v) for v in extent)
    if y.ndim != 2 or x.ndim != 1 or y.shape[1] != len(x):
        raise ConfigurationError(f"y must be (curves, {len(x)}) for {len(x)} steps, not {y.shape}")
    if not (1 <= rows <= MAX_CELLS and 1 <= cols <= MAX_CELLS and x1 > x0 and y1 > y0):
        raise ConfigurationError(f"the grid needs 1 <= rows, columns <= {MAX_CELLS} and x1 > x0, y1 > y0; "
                                 f"got shape {shape}, extent {extent}")
    if len(x) > 1 and not (np.diff(x) > 0).all():
        raise ConfigurationError("x (the steps) must be increasing")
    n, m = y.shape
    if m < 2 or n == 0:
        return np.zeros((rows, cols), dtype=np.int64)
    edges = x0 + (x1 - x0) / cols * np.arange(cols + 1)
    edges[-1] = x1
    # The segment each edge falls in: x[g] <= edge < x[g + 1]. A column reads its left edge on the
    # segment starting there and its right edge on the segment ending there; they differ only when the
    # edge is exactly a step (then the segment before it ends on that step).
    g = np.searchsorted(x, edges, side="right") - 1
    gs = np.clip(g, 0, m - 2)
    t = np.clip((edges - x[gs]) / (x[gs + 1] - x[gs]), 0.0, 1.0)
    starts_ok = (g >= 0) & (g <= m - 2)
    on_step = (g >= 0) & (g <= m - 1) & (x[np.clip(g, 0, m - 1)] == edges)
    ends_none = on_step[1:] & (g[1:] == 0)  # a right edge on the first step: no segment ends there
    t32 = t.astype(np.float32)
    # The points strictly inside each column (a point on an edge is already that edge's value).
    vcol = np.searchsorted(edges, x, side="right") - 1
    inside = (vcol >= 0) & (vcol < cols)
    inside[inside] &= x[inside] > edges[vcol[inside]]
    vsteps = np.flatnonzero(inside)
    vgroups, vfirst = np.unique(vcol[vsteps], return_index=True)
    # Work in row units, offset by one: padded row = floor(value), where the grid has a spill row below
    # (row 0: everything below y0, and curves absent from a column: NaN goes there, as fmax ignores it)
    # and one above (everything above y1). Runs that reach into them are clipped for free; the spill
    # rows are dropped at the end. float32 is ample for row positions (< 2 ** 14) and halves the memory
    # traffic; y1 itself is pulled a hundredth of a row down, into the top row.
    scale = rows / (y1 - y0)
    size = (rows + 3) * cols
    diff = np.zeros(size, dtype=np.int64)
    column = np.arange(cols, dtype=np.intp)
    end_column = column + cols + size
    index = np.empty((2, min(chunk, n), cols), dtype=np.intp)
    # Columns whose right edge is exactly on a step read it on the segment before the step (see above).
    fix_ends = np.flatnonzero(on_step[1:] & (g[1:] >= 1))
    fix_steps = g[1:][fix_ends]
    no_ends = np.flatnonzero(ends_none)
    for first in range(0, n, chunk):
        raw = y[first:first + chunk]
        part = (raw - y0) * scale
        np.minimum(part, rows - 0.01, out=part, where=raw <= y1)
        part = (part + 1.0).astype(np.float32)
        part[~np.isfinite(part)] = np.nan
        a = part[:, gs]
        at = part[:, gs + 1]
        at -= a
        at *= t32
        at += a  # the curves at every edge: NaN where the segment is not drawn
        at[:, ~starts_ok] = np.nan
        low = np.fmin(at[:, :-1], at[:, 1:])
        high = np.fmax(at[:, :-1], at[:, 1:])
        if len(no_ends):
            low[:, no_ends] = high[:, no_ends] = at[:, no_ends]
        if len(fix_ends):
            right = np.where(np.isfinite(part[:, fix_steps - 1]), part[:, fix_steps], np.nan)
            low[:, fix_ends] = np.fmin(at[:, fix_ends], right)
            high[:, fix_ends] = np.fmax(at[:, fix_ends], right)
        if len(vsteps):
            drawn = np.zeros(part.shape, dtype=bool)
            drawn[:, 1:] |= np.isfinite(part[:, :-1])
            drawn[:, :-1] |= np.isfinite(part[:, 1:])
            points = np.where(drawn, part, np.float32(np.nan))[:, vsteps]
            low[:, vgroups] = np.fmin(low[:, vgroups], np.fmin.reduceat(points, vfirst, axis=1))
            high[:, vgroups] = np.fmax(high[:, vgroups], np.fmax.reduceat(points, vfirst, axis=1))
        np.fmin(np.fmax(low, 0.0, out=low), rows + 1.0, out=low)
        np.fmin(np.fmax(high, 0.0, out=high), rows + 1.0, out=high)
        # +1 at (first row, column), -1 at (last row + 1, column): both in one bincount, the -1s offset by size
        k = len(part)
        begin, end = index[0, :k], index[1, :k]
        np.copyto(begin, low, casting="unsafe")  # truncation is floor: the values are >= 0
        np.copyto(end, high, casting="unsafe")
        begin *= cols
        begin += column
        end *= cols
        end += end_column
        both = np.bincount(index[:, :k].ravel(), minlength=2 * size)
        diff += both[:size]
        diff -= both[size:]
    return np.cumsum(diff.reshape(rows + 3, cols), axis=0)[1:rows + 1]


def density_rgba(count: np.ndarray) -> np.ndarray:
    """The RGBA image of a :func:`segment_density` grid: empty cells transparent, one curve a faint
    :data:`MASS_COLOR`, the densest cell opaque and darker (:data:`DENSE_COLOR`), on a square-root scale
    of the count (a lone curve stays visible next to cells that hold thousands, and the bulk of the
    curves still stands out; a log scale made nearly everything dark at 10,000 curves)."""
    from matplotlib.colors import to_rgb

    count = np.asarray(count)
    peak = int(count.max()) if count.size else 0
    level = np.sqrt((np.maximum(count, 1) - 1) / (peak - 1)) if peak > 1 else np.zeros(count.shape)
    light, dark = np.array(to_rgb(MASS_COLOR)), np.array(to_rgb(DENSE_COLOR))
    rgba = np.empty(count.shape + (4,))
    rgba[..., :3] = light + (dark - light) * level[..., None]
    rgba[..., 3] = np.where(count > 0, LONE_ALPHA + (1.0 - LONE_ALPHA) * level, 0.0)
    return rgba


def draw_curve_density(ax: Any, steps: np.ndarray, points: np.ndarray,
                       extent: tuple[float, float, float, float]) -> None:
    """Curves as a :func:`segment_density` image over ``extent`` (their data range), one cell per screen
    pixel at the Axes' current limits and size; the Axes' limits are left as the curves set them.

    ``points``: ``(curves, steps, 2)`` as :func:`~hpo_analytics.plots._curvematrix.curve_points` makes
    them, over the distinct ``steps``.
    """
    x0, x1, y0, y1 = extent
    if x1 <= x0:  # one step: nothing is drawn, but the grid needs a width
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 <= y0:
        pad = abs(y0) * 0.05 or 0.5
        y0, y1 = y0 - pad, y1 + pad
    corners = ax.transData.transform([(x0, y0), (x1, y1)])
    cols, rows = (int(np.clip(math.ceil(abs(v) - 1e-9), 1, MAX_PIXELS)) for v in corners[1] - corners[0])
    count = segment_density(steps, grid_values(points, steps), extent=(x0, x1, y0, y1), shape=(rows, cols))
    image = ax.imshow(density_rgba(count), extent=(x0, x1, y0, y1), origin="lower", aspect="auto",
                      interpolation="nearest", zorder=1)
    # imshow pins the limits to the image (sticky edges); the curves' own margins should stay
    image.sticky_edges.x.clear()
    image.sticky_edges.y.clear()
    ax.autoscale_view()


# --------------------------------------------------------------------------- parallel coordinates


@dataclass(frozen=True)
class DensityRaster:
    """How many lines cross each pixel between adjacent axes.

    ``count[r, c]`` lines pass through pixel row ``r`` of column ``c``, with
    mean colour value ``mean[r, c]`` (NaN where none). Column ``c`` covers
    ``x`` in ``[c / columns_per_gap, (c + 1) / columns_per_gap]`` (axis ``j``
    is at ``x = j``); row ``r`` covers ``y`` in ``[r / rows, (r + 1) / rows]``.
    """

    count: np.ndarray
    mean: np.ndarray
    columns_per_gap: int


def density_raster(values: np.ndarray, colour: np.ndarray, *, columns_per_gap: int = 48,
                   rows: int = 240, chunk: int = 20_000) -> DensityRaster:
    """Rasterise the polylines ``values`` (lines x axes, each in [0, 1]).

    Within each pixel column a line covers the rows between its heights at
    the column's two edges (so steep lines stay solid); every covered cell
    counts it once and adds its ``colour`` (per line, in [0, 1]) to the
    cell's mean. Runs in time linear in lines x columns: each line adds +1
    where its run starts and -1 after it ends, and a cumulative sum down each
    column fills the runs in.
    """
    n, k = values.shape
    gaps = max(k - 1, 0)
    width = gaps * columns_per_gap
    size = (rows + 1) * width
    diff_count = np.zeros(size)
    diff_total = np.zeros(size)
    edges = np.arange(columns_per_gap + 1) / columns_per_gap
    for g in range(gaps):
        base = g * columns_per_gap + np.arange(columns_per_gap)
        for start in range(0, n, chunk):  # bounded memory: chunk x columns_per_gap cells at a time
            a = values[start:start + chunk, g][:, None]
            b = values[start:start + chunk, g + 1][:, None]
            y = a + (b - a) * edges[None, :]
            r = np.clip((y * rows).astype(np.int64), 0, rows - 1)
            first = np.minimum(r[:, :-1], r[:, 1:])
            last = np.maximum(r[:, :-1], r[:, 1:])
            w = np.broadcast_to(colour[start:start + chunk, None], first.shape).ravel()
            begin = (first * width + base[None, :]).ravel()
            end = ((last + 1) * width + base[None, :]).ravel()
            diff_count += np.bincount(begin, minlength=size) - np.bincount(end, minlength=size)
            diff_total += np.bincount(begin, weights=w, minlength=size) - np.bincount(end, weights=w, minlength=size)
    count = np.cumsum(diff_count.reshape(rows + 1, width), axis=0)[:rows]
    total = np.cumsum(diff_total.reshape(rows + 1, width), axis=0)[:rows]
    count = np.rint(count)  # exact integers; the float sums above only ever add and subtract ones
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return DensityRaster(count=count, mean=mean, columns_per_gap=columns_per_gap)


def raster_rgba(raster: DensityRaster, cmap: Any) -> np.ndarray:
    """The RGBA image of a :class:`DensityRaster`: hue from the mean colour value on ``cmap``, opacity from the
    log of the count."""
    count = raster.count
    peak = float(count.max()) if count.size else 0.0
    rgba = cmap(np.nan_to_num(raster.mean, nan=0.0))
    alpha = np.log1p(count) / math.log1p(peak) if peak > 0 else np.zeros_like(count)
    rgba[..., 3] = 0.9 * np.sqrt(alpha)
    return rgba
