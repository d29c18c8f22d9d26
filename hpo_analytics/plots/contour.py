"""Contour plot: the metric over two parameters, with the observed trials on top.

The two axes are gridded: a number with at most ``bins`` distinct values
keeps one cell per value; other numbers get ``bins`` equal-width bins
(equal in log10 when the range is log-like); a category gets one cell per
level (missing as ``<NA>``). ``method="binned"`` shows the mean metric of the
trials in each cell (empty cells stay blank: no invented values);
``method="interpolate"`` smooths those cell sums with a Gaussian kernel
(Nadaraya-Watson, in numpy: a bandwidth of ``bandwidth`` of each numeric
axis's range, none across categories) and blanks cells with no trial within
about two bandwidths. Both numeric axes draw filled contours; with a
category (or an axis with one value) the cells are drawn as a mesh, since
contours between categories mean nothing. With the job's declared search
space recorded in the table (:func:`~hpo_analytics._frames.param_scale`), a
discrete parameter is a category axis of its declared values in order, and
a continuous one is binned between its declared bounds (the axis limits),
log when declared or when they span two decades or more; a trial outside the
declared space has no cell and is not drawn (with a
:class:`~hpo_analytics.errors.SpaceWarning`). Trials without a finite metric
are left out; an empty table draws a "no trials" note, and a metric that is
not numeric or has no finite value raises
:class:`~hpo_analytics.errors.ConfigurationError`.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._frames import ParamScale, is_log_scale, load, param_columns, param_scale
from .._table import PARAM_PREFIX
from .._validation import check_int
from ..errors import ConfigurationError, InsufficientDataWarning
from ._common import BEST_COLOR, METRIC_CMAP, best_mask, label_of, marker_size, new_axes, no_data
from ._raster import RASTERIZE_FROM

__all__ = ["ContourAxis", "ContourData", "plot_contour"]

METHODS = ("binned", "interpolate")
#: At most this many trials are drawn over the surface (a seeded sample; more would hide it).
MAX_POINTS = 5000


@dataclass(frozen=True)
class ContourAxis:
    """One gridded parameter.

    ``centers`` are the cells' positions on the axis (values for numbers,
    geometric means of the edges on log axes; ``0..k-1`` for categories, whose
    names are ``levels``); ``edges`` their ``len(centers) + 1`` boundaries;
    ``points`` each plotted trial's position (NaN when its value is missing)
    and ``cell`` its cell index (-1 when missing or outside the declared
    space). ``limits`` are the declared bounds of a number (``None`` when not
    declared): the axis spans them.
    """

    param: str
    centers: np.ndarray
    edges: np.ndarray
    points: np.ndarray
    cell: np.ndarray
    log: bool
    categorical: bool
    levels: tuple[str, ...]
    limits: tuple[float, float] | None = None


@dataclass(frozen=True)
class ContourData:
    """What :func:`plot_contour` draws.

    ``z`` (``len(y.centers)`` rows x ``len(x.centers)`` columns) is the
    metric per cell, NaN where blank; ``count`` the trials per cell.
    ``score`` and ``best`` run over the plotted trials (finite metric).
    """

    metric: str
    mode: str
    method: str
    x: ContourAxis
    y: ContourAxis
    z: np.ndarray
    count: np.ndarray
    score: np.ndarray
    best: np.ndarray


def _numeric_axis(name: str, values: np.ndarray, bins: int, *, log: bool | None = None,
                  limits: tuple[float, float] | None = None) -> ContourAxis:
    finite = values[np.isfinite(values)]
    log = is_log_scale(finite) if log is None else log
    distinct = np.unique(finite)
    cell = np.full(len(values), -1, dtype=np.int64)
    ok = np.isfinite(values)
    if len(distinct) == 0:
        return ContourAxis(name, np.zeros(0), np.zeros(1), values, cell, log=False, categorical=False, levels=())
    if len(distinct) <= bins:
        centers = distinct
        cell[ok] = np.searchsorted(distinct, values[ok])
        inner = np.sqrt(distinct[:-1] * distinct[1:]) if log else (distinct[:-1] + distinct[1:]) / 2.0
        if len(distinct) == 1:
            pad = abs(distinct[0]) * 0.5 or 0.5
            edges = np.array([distinct[0] - pad, distinct[0] + pad])  # one value is never log-like
        elif log:
            edges = np.concatenate([[distinct[0] ** 2 / inner[0]], inner, [distinct[-1] ** 2 / inner[-1]]])
        else:
            edges = np.concatenate([[2 * distinct[0] - inner[0]], inner, [2 * distinct[-1] - inner[-1]]])
    else:
        lo, hi = float(distinct[0]), float(distinct[-1])
        if limits is not None and (not log or limits[0] > 0):
            lo, hi = limits  # cells over the declared range: the unexplored part stays blank
        edges = np.logspace(np.log10(lo), np.log10(hi), bins + 1) if log else np.linspace(lo, hi, bins + 1)
        centers = np.sqrt(edges[:-1] * edges[1:]) if log else (edges[:-1] + edges[1:]) / 2.0
        cell[ok] = np.clip(np.searchsorted(edges, values[ok], side="right") - 1, 0, bins - 1)
    return ContourAxis(name, centers, edges, values, cell, log=log, categorical=False, levels=(), limits=limits)


def _grid_axis(scale: ParamScale, name: str, bins: int) -> ContourAxis:
    if not scale.categorical:
        if not scale.declared:
            return _numeric_axis(name, scale.x, bins)
        return _numeric_axis(name, scale.x, bins, log=scale.log, limits=scale.limits)
    assert scale.codes is not None
    k = len(scale.levels)
    return ContourAxis(name, np.arange(k, dtype=float), np.arange(k + 1, dtype=float) - 0.5,
                       scale.x, scale.codes.astype(np.int64), log=False, categorical=True, levels=scale.labels)


def _kernel(axis: ContourAxis, bandwidth: float) -> np.ndarray:
    """Cell-to-cell smoothing weights along one axis (identity for categories and single cells)."""
    k = len(axis.centers)
    if axis.categorical or k < 2:
        return np.eye(k)
    u = np.log10(axis.centers) if axis.log else axis.centers
    u = (u - u[0]) / (u[-1] - u[0])
    return np.exp(-0.5 * ((u[:, None] - u[None, :]) / bandwidth) ** 2)


def _default_pair(trials: Any, metric: str, mode: str, columns: list[str]) -> tuple[str, str]:
    """The two most important varying parameters (binned importance: fast and model-free), else the first two."""
    from ..analysis import param_importance

    try:
        with warnings.catch_warnings():
            # Too few trials to rate the parameters: the first two are the answer, not a warning.
            warnings.simplefilter("ignore", InsufficientDataWarning)
            imp = param_importance(trials, metric=metric, mode=mode, method="binned", n_bootstrap=1)
    except ConfigurationError:
        return columns[0], columns[1]
    ranked = [p for p, kind in zip(imp["param"], imp["kind"]) if kind != "constant"]
    ranked += [label_of(c) for c in columns if label_of(c) not in ranked]
    if not (imp["importance"] > 0).any():
        return columns[0], columns[1]
    return PARAM_PREFIX + ranked[0], PARAM_PREFIX + ranked[1]


def _contour_data(
    trials: Any,
    *,
    x: str | None = None,
    y: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    method: str = "binned",
    bins: int | None = None,
    bandwidth: float = 0.1,
) -> ContourData:
    """Compute the contour plot's data (see :func:`plot_contour`)."""
    if method not in METHODS:
        raise ConfigurationError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if not (isinstance(bandwidth, (int, float)) and 0 < bandwidth <= 1):
        raise ConfigurationError(f"bandwidth must be a fraction of the axis range in (0, 1], not {bandwidth!r}")
    t = load(trials, metric=metric, mode=mode)
    columns = param_columns(t.frame)
    if (x is None or y is None) and len(columns) < 2:
        raise ConfigurationError(
            f"a contour plot needs two parameters; the table has {len(columns)} (param/<name> columns)")
    if x is None or y is None:
        first, second = _default_pair(trials, t.metric, t.mode, columns)
        if x is None and y is None:
            x_col, y_col = first, second
        else:
            (given,) = param_columns(t.frame, [x if x is not None else y])  # type: ignore[list-item]
            other = second if first == given else first
            x_col, y_col = (given, other) if x is not None else (other, given)
    else:
        x_col, y_col = param_columns(t.frame, [x, y])
    if x_col == y_col:
        raise ConfigurationError(f"x and y must be two different parameters, both are {label_of(x_col)!r}")
    keep = np.isfinite(t.score)
    frame = t.frame[keep]
    score = t.score[keep]
    n = len(score)
    if bins is None:
        bins = int(np.clip(np.sqrt(max(n, 1) / 3.0), 4, 30))
    bins = check_int("bins", bins, low=1)
    ax_x = _grid_axis(param_scale(frame, x_col), label_of(x_col), bins)
    ax_y = _grid_axis(param_scale(frame, y_col), label_of(y_col), bins)
    nx, ny = len(ax_x.centers), len(ax_y.centers)
    both = (ax_x.cell >= 0) & (ax_y.cell >= 0)
    flat = ax_y.cell[both] * nx + ax_x.cell[both]
    count = np.bincount(flat, minlength=nx * ny).reshape(ny, nx).astype(np.int64)
    sums = np.bincount(flat, weights=score[both], minlength=nx * ny).reshape(ny, nx)
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "binned":
            z = np.where(count > 0, sums / np.maximum(count, 1), np.nan)
        else:
            kx, ky = _kernel(ax_x, bandwidth), _kernel(ax_y, bandwidth)
            weight = ky @ count @ kx.T
            z = np.where(weight >= np.exp(-2.0), (ky @ sums @ kx.T) / weight, np.nan)
    return ContourData(metric=t.metric, mode=t.mode, method=method, x=ax_x, y=ax_y, z=z, count=count,
                       score=score, best=best_mask(t.key[keep]))


def plot_contour(
    trials: Any,
    *,
    x: str | None = None,
    y: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    method: str = "binned",
    bins: int | None = None,
    bandwidth: float = 0.1,
    levels: int = 10,
    points: bool = True,
    ax: Any = None,
) -> Any:
    """The metric over two parameters as filled contours (or cells), the trials on top; returns the Axes.

    ``x``/``y`` name the parameters (with or without ``param/``); by default
    the two with the largest ``param_importance`` (``method="binned"``), or
    the first two when nothing is important. ``method`` is ``"binned"`` (cell
    means) or ``"interpolate"`` (kernel-smoothed, see the module docstring);
    ``bins`` cells per numeric axis (default ``sqrt(n / 3)`` clipped to
    4..30), ``levels`` contour levels, ``points`` draws the observed trials
    (a seeded sample of :data:`MAX_POINTS` when there are more; the best
    ones always, as stars). A colorbar is added next to ``ax``. Raises
    :class:`~hpo_analytics.errors.ConfigurationError` for fewer than two
    parameters, unknown names, or the same parameter twice.
    """
    levels = check_int("levels", levels, low=2)
    data = _contour_data(trials, x=x, y=y, metric=metric, mode=mode, method=method, bins=bins,
                         bandwidth=bandwidth)
    created = ax is None
    ax = new_axes(ax, figsize=(6.5, 5.0))
    if created:
        ax.figure.subplots_adjust(left=0.15)  # room for category names on the y axis
    ax.set_xlabel(data.x.param)
    ax.set_ylabel(data.y.param)
    ax.set_title(f"{data.metric} ({data.mode}) over {data.x.param} and {data.y.param}, {data.method}")
    for axis, set_scale, set_ticks, set_lim in ((data.x, ax.set_xscale, ax.set_xticks, ax.set_xlim),
                                                (data.y, ax.set_yscale, ax.set_yticks, ax.set_ylim)):
        if axis.log:
            set_scale("log")
        if axis.categorical:
            set_ticks(range(len(axis.levels)), axis.levels)
        if axis.limits is not None:
            set_lim(*axis.limits)
        elif len(axis.edges) >= 2:
            set_lim(axis.edges[0], axis.edges[-1])
    finite_z = np.isfinite(data.z)
    if len(data.score) == 0 or not finite_z.any():
        return no_data(ax)
    z = np.ma.masked_invalid(data.z)
    contour = (not data.x.categorical and not data.y.categorical and len(data.x.centers) >= 2
               and len(data.y.centers) >= 2 and np.ptp(data.z[finite_z]) > 0)
    if contour:
        mappable = ax.contourf(data.x.centers, data.y.centers, z, levels=levels, cmap=METRIC_CMAP)
    else:
        mappable = ax.pcolormesh(data.x.edges, data.y.edges, z, cmap=METRIC_CMAP, shading="flat")
    ax.figure.colorbar(mappable, ax=ax, label=data.metric)
    if points:
        n = len(data.score)
        # Trials of one category would sit on one line; spread them a little (drawing only).
        rng = np.random.default_rng(0)
        px = data.x.points + (rng.uniform(-0.2, 0.2, n) if data.x.categorical else 0.0)
        py = data.y.points + (rng.uniform(-0.2, 0.2, n) if data.y.categorical else 0.0)
        shown = np.sort(rng.choice(n, MAX_POINTS, replace=False)) if n > MAX_POINTS else np.arange(n)
        ax.scatter(px[shown], py[shown], s=marker_size(len(shown)) * 0.6, c="black", alpha=0.5, linewidths=0,
                   rasterized=len(shown) >= RASTERIZE_FROM,
                   label="trials" if len(shown) == n else f"trials ({len(shown):,} of {n:,})")
        if data.best.any():
            ax.scatter(px[data.best], py[data.best], marker="*", s=160, c=BEST_COLOR, edgecolors="white",
                       linewidths=0.8, label="best", zorder=3)
        ax.legend(loc="upper right", fontsize="small")
    return ax
