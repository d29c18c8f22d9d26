"""Checks shared by the plot tests: a plot on a figure of its own, a plot on given Axes, and saving as PNG.

Every plot promises the same three things (see ``hpo_analytics.plots._common``):
with ``ax=None`` it makes exactly one figure, with ``ax=`` it makes none, and
it never changes global matplotlib state. These helpers check them the same
way in every test module and always close the figures they open.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
from matplotlib.figure import Figure

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def figure_of(drawn: Any) -> Figure:
    """The Figure a plot returned (itself) or drew on (an Axes' figure)."""
    return drawn if isinstance(drawn, Figure) else drawn.figure


def save_png(drawn: Any, *, dpi: float | None = None) -> bytes:
    """Save the plot's figure as PNG into memory (this is what draws it) and return the bytes."""
    buffer = io.BytesIO()
    figure_of(drawn).savefig(buffer, format="png", **({} if dpi is None else {"dpi": dpi}))
    data = buffer.getvalue()
    assert data.startswith(PNG_SIGNATURE), "savefig did not write a PNG"
    return data


@contextmanager
def own_figure(plot: Callable[..., Any], *args: Any, png_dpi: float | None = None, **kwargs: Any) -> Iterator[Any]:
    """Call ``plot(*args, **kwargs)`` (no ``ax``) and yield what it returns, an Axes or a Figure.

    Checks that the call made exactly one new figure (the one returned or
    drawn on); after the block, that the figure saves as PNG (at ``png_dpi``,
    default matplotlib's) and that ``rcParams`` are as before the call. The
    figure is closed however the block ends.
    """
    before = dict(plt.rcParams)
    count = len(plt.get_fignums())
    drawn = plot(*args, **kwargs)
    fig = figure_of(drawn)
    try:
        assert len(plt.get_fignums()) == count + 1, "the plot should make exactly one figure"
        assert plt.fignum_exists(fig.number), "the plot returned a figure pyplot does not manage"
        yield drawn
        save_png(fig, dpi=png_dpi)
        assert dict(plt.rcParams) == before, "the plot changed matplotlib's rcParams"
    finally:
        plt.close(fig)


@contextmanager
def given_axes(nrows: int = 1, ncols: int = 1) -> Iterator[tuple[Figure, Any]]:
    """A new figure and its Axes as ``plt.subplots(nrows, ncols)`` gives them, for plots given ``ax=``.

    After the block, checks that no other figure was made (a plot given Axes
    draws on them); the figure is closed however the block ends.
    """
    fig, axes = plt.subplots(nrows, ncols)
    count = len(plt.get_fignums())
    try:
        yield fig, axes
        assert len(plt.get_fignums()) == count, "a plot given ax= made a figure of its own"
    finally:
        plt.close(fig)
