"""Learning curves: every curve (one LineCollection, or a density raster of thousands), the top trials
highlighted, stops marked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._table import STEP
from .._frames import as_frame, check_metric, resolve_metric
from ..analysis import rank_trials
from ..errors import ConfigurationError
from ..stopping import CurveMatrix
from ._common import MASS_COLOR, check_int, column_floats, floats, identity_colors, metric_label, new_axes, no_data

__all__ = ["plot_learning_curves"]

#: Colour of the stop markers.
STOP_COLOR = "#111111"
#: Above this many curves the mass is a density raster rather than a LineCollection.
DENSITY_THRESHOLD = 2000
#: The density raster: colour of its densest cell (one curve is MASS_COLOR) and opacity of one curve.
DENSE_COLOR = "#3c4043"
LONE_ALPHA = 0.3
#: Largest raster side drawn, in cells (a huge Axes or an extreme zoom should not allocate without bound).
MAX_PIXELS = 4096
#: Largest grid side :func:`segment_density` accepts (its row positions are float32).
MAX_CELLS = 16384


@dataclass(frozen=True)
class CurvesData:
    """What :func:`plot_learning_curves` draws.

    ``mass`` and ``top`` are ``(curves, steps, 2)`` arrays of ``(step, value)``
    points, ready for a ``LineCollection``: a step a trial skipped repeats
    its previous point (the line joins its reports), cells before its first
    or after its last report are NaN, and a reported NaN stays NaN (a gap).
    ``top`` holds the ``top_k`` trials by score, best first; ``mass`` every
    other trial, in table order. ``stop_x``/``stop_y`` place a marker for
    each stopped trial (``stop_ids``) at its stop step, on its latest finite
    value at or before that step; ``stops_unplaced`` counts the stops that
    could not be placed (unknown trial, no number by then). ``steps`` are the
    distinct steps of the table (the columns of the points arrays).
    """

    mass_ids: np.ndarray
    mass: np.ndarray
    top_ids: np.ndarray
    top_scores: np.ndarray
    top: np.ndarray
    stop_ids: np.ndarray
    stop_x: np.ndarray
    stop_y: np.ndarray
    stops_unplaced: int
    metric: str
    mode: str
    steps: np.ndarray

    @property
    def n_curves(self) -> int:
        """Number of curves drawn."""
        return len(self.mass_ids) + len(self.top_ids)


def stop_steps(stopped: Any) -> dict[str, int]:
    """``trial_id -> step`` of each stopped trial.

    ``stopped``: a decision table (``trial_id``, ``stop``, ``step``, as
    :meth:`~hpo_analytics.stopping.Rule.decide` and
    :func:`~hpo_analytics.stopping.replay_log` return; a trial stopped more
    than once keeps its earliest step) or a mapping ``trial_id -> step`` (as
    ``backtest(...).attrs["stop_step"][label]``; ``None`` means not stopped).
    """
    if stopped is None:
        return {}
    if isinstance(stopped, Mapping):
        out: dict[str, int] = {}
        for trial, step in stopped.items():
            if step is None or step is pd.NA or (isinstance(step, float) and np.isnan(step)):
                continue
            out[str(trial)] = int(step)
        return out
    try:
        frame = as_frame(stopped)
    except ConfigurationError:
        raise ConfigurationError(
            "stopped must be a decision table (trial_id, stop, step) or a mapping trial_id -> step, "
            f"not {type(stopped).__name__}") from None
    missing = [c for c in ("trial_id", "stop", "step") if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"the decision table has no {', '.join(map(repr, missing))} column")
    stop = frame["stop"].to_numpy(dtype=bool, na_value=False)
    step = column_floats(frame, "step")
    rows = pd.DataFrame({"trial_id": frame["trial_id"].astype(str).to_numpy(dtype=object)[stop],
                         "step": step[stop]}).dropna()
    first = rows.groupby("trial_id", sort=False)["step"].min()
    return {str(t): int(s) for t, s in first.items()}


def curve_matrix(frame: pd.DataFrame, metric: str) -> CurveMatrix:
    """The curves of a long ``frame`` as a :class:`CurveMatrix` of ``metric``.

    Raises :class:`ConfigurationError` when ``frame`` has no ``training_iteration`` column.
    """
    if STEP not in frame.columns:
        raise ConfigurationError(f"the curves have no {STEP!r} column (pass a curves_to_arrow table)")
    return CurveMatrix.from_frame(frame, metric)


def curve_points(cm: CurveMatrix) -> np.ndarray:
    """``(trials, steps, 2)`` points of ``cm``'s curves (see :class:`CurvesData` for the gaps)."""
    n, m = cm.values.shape
    cols = np.arange(m)
    prev = np.maximum.accumulate(np.where(cm.reported, cols[None, :], -1), axis=1) if m \
        else np.zeros((n, 0), dtype=np.int64)
    last = cm.last
    inside = (prev >= 0) & (cols[None, :] <= last[:, None])
    src = np.maximum(prev, 0)
    out = np.full((n, m, 2), np.nan)
    out[..., 0] = np.where(inside, cm.steps.astype(float)[src], np.nan)
    out[..., 1] = np.where(inside, np.take_along_axis(cm.values, src, axis=1), np.nan)
    return out


def _learning_curves_data(curves: Any, *, metric: str | None = None, mode: str | None = None,
                          top_k: int = 5, stopped: Any = None) -> CurvesData:
    """The curves of a long table split into the top ``top_k`` (by :func:`rank_trials`) and the rest."""
    top_k = check_int("top_k", top_k, low=0)
    frame = as_frame(curves)
    metric, mode_ = resolve_metric(frame, metric, mode)
    check_metric(curves, metric)  # the input itself, so an Arrow column is named by its Arrow type
    cm = curve_matrix(frame, metric)
    points = curve_points(cm)
    ids = cm.trial_ids.astype(str)
    top_ids = np.zeros(0, dtype=object)
    top_scores = np.zeros(0)
    latest = _latest(frame, cm, metric) if top_k and len(ids) else None
    # Every curve may end on a NaN (all diverged): then no trial has a score to be top by.
    if latest is not None and np.isfinite(latest[metric].to_numpy(dtype=float)).any():
        ranked = rank_trials(latest, metric=metric, mode=mode_)
        ranked = ranked[np.isfinite(ranked["score"].to_numpy(dtype=float))].head(int(top_k))
        top_ids = ranked["trial_id"].astype(str).to_numpy(dtype=object)
        top_scores = ranked["score"].to_numpy(dtype=float)
    position = pd.Index(ids)
    top_rows = position.get_indexer(top_ids)
    is_top = np.zeros(len(ids), dtype=bool)
    is_top[top_rows] = True
    stop_ids, stop_x, stop_y, unplaced = _stop_points(cm, stop_steps(stopped))
    return CurvesData(
        mass_ids=ids[~is_top].astype(object), mass=points[~is_top],
        top_ids=top_ids, top_scores=top_scores, top=points[top_rows],
        stop_ids=stop_ids, stop_x=stop_x, stop_y=stop_y, stops_unplaced=unplaced,
        metric=metric, mode=mode_, steps=cm.steps.astype(float),
    )


def _latest(frame: pd.DataFrame, cm: CurveMatrix, metric: str) -> pd.DataFrame:
    """One row per curve: its latest report (what :func:`rank_trials` scores a curve table by), built
    from the pivoted matrix rather than by re-sorting the long table."""
    n = len(cm.trial_ids)
    last = cm.last
    value = np.where(last >= 0, cm.values[np.arange(n), np.maximum(last, 0)], np.nan) if n else np.zeros(0)
    out = pd.DataFrame({"trial_id": cm.trial_ids.astype(str), metric: value})
    if "trial_index" in frame.columns:
        first = frame.drop_duplicates("trial_id").set_index("trial_id")["trial_index"]
        out["trial_index"] = floats(first.reindex(out["trial_id"]))
    return out


def latest_finite(cm: CurveMatrix, trial_ids: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Each trial's latest finite value at or before its step (NaN for an unknown trial or no number yet)."""
    rows = pd.Index(cm.trial_ids.astype(str)).get_indexer(np.asarray(trial_ids, dtype=object))
    y = np.full(len(rows), np.nan)
    for k, (row, step) in enumerate(zip(rows.tolist(), np.asarray(steps, dtype=float).tolist())):
        if row < 0:
            continue
        upto = int(np.searchsorted(cm.steps, step, side="right"))
        finite = np.flatnonzero(np.isfinite(cm.values[row, :upto]))
        if len(finite):
            y[k] = cm.values[row, finite[-1]]
    return y


def _stop_points(cm: CurveMatrix, steps: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Where each stop is drawn: its step, on the trial's latest finite value at or before it."""
    ids = np.asarray(list(steps), dtype=object)
    at = np.asarray(list(steps.values()), dtype=float)
    y = latest_finite(cm, ids, at)
    ok = ~np.isnan(y)
    return ids[ok], at[ok], y[ok], int((~ok).sum())


def grid_values(points: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """The curves of ``points`` (``(curves, steps, 2)``, as :func:`curve_points` makes them) as values at
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


def _mass_alpha(n: int) -> float:
    """Line opacity for ``n`` overlapping curves: dense regions darken, single curves stay visible."""
    return float(np.clip(25.0 / max(n, 1), 0.005, 0.7))


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


def plot_learning_curves(curves: Any, *, metric: str | None = None, mode: str | None = None, top_k: int = 5,
                         stopped: Any = None, density: bool | None = None,
                         density_threshold: int = DENSITY_THRESHOLD, ax: Any = None) -> Any:
    """Every learning curve, the ``top_k`` trials highlighted and labelled, stopped trials marked.

    ``curves``: the long table (``curves_to_arrow``/``read_curves``, Arrow or
    pandas: ``trial_id``, ``training_iteration``, the metric). The top
    ``top_k`` trials (by :func:`~hpo_analytics.analysis.rank_trials`: each
    trial's latest value) are lines in colours that never repeat, drawn over
    all the others ("the mass"); only they (plus one entry for the rest and
    one for the stops) are in the legend.

    How the mass is drawn: up to ``density_threshold`` curves in all, as one
    thin, light, rasterized ``LineCollection`` whose opacity falls with the
    number of curves; above it, as a density raster of all its segments:
    :func:`segment_density` counts the curves that cross each screen pixel
    of the Axes, and ``imshow`` shows the counts from a faint grey (one
    curve) to dark grey (the densest pixel) on a square-root scale. Why:
    Agg strokes every segment of a collection (about 1.2 s for 10,000
    curves x 100 steps, a million segments), while the counts take about a
    tenth of that and the image costs the same however many curves it
    holds, so 10,000 curves render to PNG in about half a second
    (``benchmarks/plots.py``). Every segment still counts, and NaN breaks a
    curve exactly as in the ``LineCollection``. ``density=True``/``False``
    forces either way. The raster is binned for linear axes at the Axes'
    size and limits when drawn (saving at a higher ``dpi`` enlarges its
    cells): on an Axes already set to a log scale the ``LineCollection`` is
    used (``density=True`` raises), and a scale or limits set afterwards are
    not re-binned.

    ``stopped``: a decision table (``trial_id``, ``stop``, ``step``) or a
    mapping ``trial_id -> step`` (``backtest(...).attrs["stop_step"][label]``);
    each stopped trial gets an ``x`` where it stopped. A table without
    reports draws a "no trials" note; a metric that is not numeric or has no
    finite value raises :class:`~hpo_analytics.errors.ConfigurationError`.
    Returns the Axes.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if density is not None and not isinstance(density, (bool, np.bool_)):
        raise ConfigurationError(f"density must be True, False or None (automatic), not {density!r}")
    density_threshold = check_int("density_threshold", density_threshold, low=0)
    data = _learning_curves_data(curves, metric=metric, mode=mode, top_k=top_k, stopped=stopped)
    ax = new_axes(ax)
    linear = ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    if density and not linear:
        raise ConfigurationError("density=True needs linear axes (the raster is binned in data units); this "
                                 f"Axes has x scale {ax.get_xscale()!r}, y scale {ax.get_yscale()!r}")
    ax.set_xlabel(STEP)
    ax.set_ylabel(metric_label(data.metric, data.mode))
    top = f"; top {len(data.top_ids)} by {data.metric}" if len(data.top_ids) else ""
    ax.set_title(f"Learning curves ({data.n_curves} trials{top})")
    if not data.n_curves:
        return no_data(ax)
    handles = []
    n_mass = len(data.mass_ids)
    raster = bool(n_mass) and (data.n_curves > density_threshold and linear if density is None else bool(density))
    if n_mass:
        if not raster:
            # bevel joins and butt caps: round ones cost a fifth more to rasterise at 10,000 curves
            mass = LineCollection(data.mass, colors=MASS_COLOR, linewidths=0.9 if n_mass <= 200 else 0.6,
                                  alpha=_mass_alpha(n_mass), rasterized=True, zorder=1, joinstyle="bevel",
                                  capstyle="butt")
            ax.add_collection(mass)
        # the mass itself may be nearly transparent: the legend shows an opaque stand-in
        handles.append(Line2D([], [], color=MASS_COLOR, linewidth=1.5, label=f"other trials ({n_mass})"))
    for (tid, score, pts), color in zip(zip(data.top_ids, data.top_scores, data.top),
                                        identity_colors(len(data.top_ids))):
        handles += ax.plot(pts[:, 0], pts[:, 1], color=color, linewidth=1.8, zorder=3,
                           label=f"{tid} ({data.metric}={score:.4g})")
    if len(data.stop_ids) or data.stops_unplaced:
        note = f", {data.stops_unplaced} not placed" if data.stops_unplaced else ""
        handles.append(ax.scatter(data.stop_x, data.stop_y, marker="x", s=28, color=STOP_COLOR, linewidths=1.2,
                                  zorder=4, label=f"stopped ({len(data.stop_ids)}{note})"))
    mass_range = finite_range(data.mass)
    _fit_limits(ax, [mass_range, finite_range(data.top)])
    if raster and mass_range is not None:
        _draw_density(ax, data, mass_range)
    ax.legend(handles=handles, loc="best", fontsize="small")
    return ax


def finite_range(points: np.ndarray) -> tuple[float, float, float, float] | None:
    """``(x0, x1, y0, y1)``: the range of the points (``(..., 2)``) whose x and y are both finite; None
    when there are none."""
    x, y = points[..., 0], points[..., 1]
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    return (float(np.min(x, where=ok, initial=np.inf)), float(np.max(x, where=ok, initial=-np.inf)),
            float(np.min(y, where=ok, initial=np.inf)), float(np.max(y, where=ok, initial=-np.inf)))


def _draw_density(ax: Any, data: CurvesData, extent: tuple[float, float, float, float]) -> None:
    """The mass as a :func:`segment_density` image over ``extent`` (the mass's data range), one cell per
    screen pixel at the Axes' current limits and size; the Axes' limits are left as the curves set them."""
    x0, x1, y0, y1 = extent
    if x1 <= x0:  # one step: nothing is drawn, but the grid needs a width
        x0, x1 = x0 - 0.5, x1 + 0.5
    if y1 <= y0:
        pad = abs(y0) * 0.05 or 0.5
        y0, y1 = y0 - pad, y1 + pad
    corners = ax.transData.transform([(x0, y0), (x1, y1)])
    cols, rows = (int(np.clip(math.ceil(abs(v) - 1e-9), 1, MAX_PIXELS)) for v in corners[1] - corners[0])
    count = segment_density(data.steps, grid_values(data.mass, data.steps), extent=(x0, x1, y0, y1),
                            shape=(rows, cols))
    image = ax.imshow(density_rgba(count), extent=(x0, x1, y0, y1), origin="lower", aspect="auto",
                      interpolation="nearest", zorder=1)
    # imshow pins the limits to the image (sticky edges); the curves' own margins should stay
    image.sticky_edges.x.clear()
    image.sticky_edges.y.clear()
    ax.autoscale_view()


def _fit_limits(ax: Any, ranges: list[tuple[float, float, float, float] | None]) -> None:
    """Grow the data limits to the finite points' ranges (collections with NaN do not autoscale reliably)."""
    known = [r for r in ranges if r is not None]
    if known:
        lo = (min(r[0] for r in known), min(r[2] for r in known))
        hi = (max(r[1] for r in known), max(r[3] for r in known))
        ax.update_datalim(np.array([lo, hi]))
        ax.autoscale_view()
