"""Helpers shared by the plot modules: axes, colours, input handling.

Every plot follows one shape: a small ``_<name>_data`` function computes what
is drawn (tested exactly), then the public ``plot_<name>`` draws it on ``ax``
(or on a new figure) and returns the Axes (or the Figure for multi-panel
plots). Nothing here touches global matplotlib state: no ``rcParams`` writes,
no ``plt.style.use``, no ``plt.show()``.
"""

from __future__ import annotations

import colorsys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..analysis._common import (
    PARAM_PREFIX,
    Trials,
    encode_param,
    is_log_scale,
    is_numeric_param,
    load,
    param_columns,
)
from ..errors import ConfigurationError

__all__ = [
    "METRIC_CMAP",
    "PARAM_PREFIX",
    "Trials",
    "check_ax",
    "encode_param",
    "finite",
    "identity_colors",
    "is_log_scale",
    "is_numeric_param",
    "label_of",
    "load",
    "new_axes",
    "new_figure",
    "param_columns",
]

#: Perceptually uniform colormap for metric values (readable in grey scale and by most colour-blind readers).
METRIC_CMAP = "viridis"

#: Colour of "the mass" (all trials that are not highlighted).
MASS_COLOR = "#9aa0a6"
#: Colour of the best-so-far line and best markers.
BEST_COLOR = "#d62728"


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


def finite(values: Sequence[float] | np.ndarray) -> np.ndarray:
    """The finite entries of ``values`` as float64."""
    arr = np.asarray(values, dtype=float)
    return arr[np.isfinite(arr)]
