"""Helpers shared by the plot modules: axes and figures, colours, labels.

Every plot follows one shape: a small ``_<name>_data`` function computes what
is drawn (tested exactly), then the public ``plot_<name>`` draws it on ``ax``
(or on a new figure) and returns the Axes (or the Figure for multi-panel
plots). Nothing here touches global matplotlib state: no ``rcParams`` writes,
no ``plt.style.use``, no ``plt.show()``.

The plots read their input through :mod:`hpo_analytics._frames` (trials,
scores, parameter columns and scales, as the analysis reads them); the other
private modules here hold what only some plots share: :mod:`._raster`
(drawing many marks as pixels) and :mod:`._curvematrix` (learning curves as
a matrix). A plot module imports only these private modules, never another
plot module.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .._table import PARAM_PREFIX
from ..errors import ConfigurationError

__all__ = [
    "BEST_COLOR",
    "MASS_COLOR",
    "METRIC_CMAP",
    "STOP_COLOR",
    "best_mask",
    "check_ax",
    "identity_colors",
    "label_of",
    "marker_size",
    "metric_label",
    "new_axes",
    "new_figure",
    "no_data",
    "panel_axes",
    "param_xaxis",
]

#: Perceptually uniform colormap for metric values (readable in grey scale and by most colour-blind readers).
METRIC_CMAP = "viridis"

#: Colour of "the mass" (all trials that are not highlighted).
MASS_COLOR = "#9aa0a6"
#: Colour of the best-so-far line and best markers.
BEST_COLOR = "#d62728"
#: Colour of the stop markers (learning curves, stop decisions).
STOP_COLOR = "#111111"


def check_ax(ax: Any) -> None:
    """Raise :class:`ConfigurationError` unless ``ax`` is None or a matplotlib Axes."""
    if ax is None:
        return
    from matplotlib.axes import Axes

    if not isinstance(ax, Axes):
        raise ConfigurationError(f"ax must be a matplotlib Axes or None, not {type(ax).__name__}")


def new_axes(ax: Any = None, *, figsize: tuple[float, float] = (7.0, 4.5)) -> Any:
    """``ax`` itself, or the single Axes of a new figure.

    A new figure goes through ``pyplot`` so that notebooks display it, as
    pandas' and seaborn's plots do; it changes no global style.
    """
    check_ax(ax)
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=figsize)
    return fig.add_subplot()


def new_figure(*, figsize: tuple[float, float]) -> Any:
    """A new (pyplot-managed, so notebooks show it) figure for multi-panel plots."""
    import matplotlib.pyplot as plt

    return plt.figure(figsize=figsize)


def identity_colors(n: int) -> list[tuple[float, float, float]]:
    """``n`` distinct colours for items whose identity matters (labelled curves, rules).

    Hues step by the golden angle and lightness alternates over three levels,
    so no colour repeats however large ``n`` is (unlike ``tab10``/``tab20``);
    the first ten are well apart.
    """
    if n < 0:
        raise ConfigurationError(f"n must be >= 0, not {n}")
    golden = 0.381966011250105
    out = []
    for i in range(n):
        hue = (0.58 + i * golden) % 1.0
        lightness = (0.45, 0.32, 0.58)[(i // 7) % 3]
        saturation = 0.75 if i % 2 == 0 else 0.6
        out.append(colorsys.hls_to_rgb(hue, lightness, saturation))
    return out


def label_of(column: str) -> str:
    """A column name as an axis label: ``param/learning_rate`` -> ``learning_rate``."""
    return column.removeprefix(PARAM_PREFIX)


def best_mask(key: np.ndarray) -> np.ndarray:
    """Every trial tied for best: ``key`` (larger is better, NaN never best) equal to its maximum.

    The same set as :func:`~hpo_analytics.analysis.best_trials` marks ``is_best``.
    """
    key = np.asarray(key, dtype=float)
    finite_key = np.isfinite(key)
    if not finite_key.any():
        return np.zeros(len(key), dtype=bool)
    return finite_key & (key == key[finite_key].max())


def param_xaxis(ax: Any, *, log: bool, levels: Sequence[str],
                limits: tuple[float, float] | None = None) -> None:
    """Set up ``ax``'s x axis for a parameter (shared by the slice and marginal panels).

    A log scale when ``log``; for a category, whose ``levels`` sit at
    ``0..k-1``, one named tick per level and half a step of room either side.
    Numbers (no levels) keep matplotlib's ticks, and its limits unless
    ``limits`` (a declared range) are given.
    """
    if log:
        ax.set_xscale("log")
    if len(levels):
        ax.set_xticks(range(len(levels)), levels)
        ax.set_xlim(-0.5, len(levels) - 0.5)
    elif limits is not None:
        ax.set_xlim(*limits)


def marker_size(n: int) -> float:
    """Scatter marker area (points²) that keeps ``n`` points readable: 20 for a few, 1 at 100,000."""
    return float(np.clip(20.0 * np.sqrt(250.0 / max(n, 1)), 1.0, 20.0))


def metric_label(metric: str, mode: str) -> str:
    """An axis label for the metric that says which way is better: ``acc (higher is better)``."""
    return f"{metric} ({'higher' if mode == 'max' else 'lower'} is better)"


def no_data(ax: Any, text: str = "no trials") -> Any:
    """Write ``text`` in the middle of an empty ``ax`` (the plots' answer to "nothing to draw") and return ``ax``."""
    ax.text(0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=MASS_COLOR)
    return ax


def panel_axes(ax: Any, n: int, *, ncols: int = 3, panel_size: tuple[float, float] = (3.4, 2.8),
               right: float = 0.3) -> tuple[Any, list[Any]]:
    """The figure and ``n`` Axes of a multi-panel plot.

    ``ax=None`` makes a new figure with a grid of ``ncols`` columns, each
    panel ``panel_size`` inches plus fixed margins (``right`` inches on the
    right, e.g. room for a colorbar). Fixed margins rather than constrained
    layout: measuring every tick label made a six-panel figure twice as slow
    to save. A single Axes is used as is when ``n == 1``, else its place in
    its figure's grid is split into the panels (the Axes itself is removed);
    a sequence of ``n`` Axes is used as given, so the caller can place the
    panels. No figure is created when ``ax`` is given.
    """
    if ax is None:
        cols = max(1, min(ncols, n))
        rows = max(1, -(-n // cols))
        left, bottom, top, wgap, hgap = 0.75, 0.55, 0.55, 0.6, 0.65  # inches
        width = left + right + cols * panel_size[0] + (cols - 1) * wgap
        height = bottom + top + rows * panel_size[1] + (rows - 1) * hgap
        fig = new_figure(figsize=(width, height))
        fig.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height,
                            top=1 - top / height, wspace=wgap / panel_size[0], hspace=hgap / panel_size[1])
        axes = [fig.add_subplot(rows, cols, i + 1) for i in range(n)]
        return fig, axes
    from matplotlib.axes import Axes

    if isinstance(ax, Axes):
        if n == 1:
            return ax.figure, [ax]
        spec = ax.get_subplotspec()
        if spec is None:
            raise ConfigurationError(
                f"this plot has {n} panels: pass a grid Axes (add_subplot) to split, {n} Axes, or ax=None")
        cols = max(1, min(ncols, n))
        rows = -(-n // cols)
        fig = ax.figure
        # A layout engine (constrained) spaces the panels itself; fixed gaps on top of it waste the figure.
        gaps = {} if fig.get_layout_engine() is not None else {"wspace": 0.35, "hspace": 0.5}
        grid = spec.subgridspec(rows, cols, **gaps)
        ax.remove()
        return fig, [fig.add_subplot(grid[i // cols, i % cols]) for i in range(n)]
    try:
        axes = list(ax)
    except TypeError:
        raise ConfigurationError(
            f"ax must be a matplotlib Axes, a sequence of Axes or None, not {type(ax).__name__}"
        ) from None
    if len(axes) != n:
        raise ConfigurationError(f"this plot has {n} panels but {len(axes)} Axes were given")
    for one in axes:
        check_ax(one)
    return axes[0].figure if axes else None, axes
