"""Draw one plot into an embedded image.

Figures are embedded as base64 PNG (``<img src="data:image/png;base64,...">``),
not SVG. A PNG's size is bounded by its pixels, whatever the number of
trials; an SVG grows with every point drawn unless the plot rasterises (and
then carries a PNG inside anyway). Measured on synthetic jobs: the
optimization history of 10,000 trials is 171 kB as PNG and 968 kB as SVG;
SVG wins sometimes (parallel coordinates of 300 trials: 131 kB against
393 kB), but picking per figure would mean rendering every figure twice.
Agg rasterising is also the fastest way matplotlib draws large plots, and a
PNG carries no markup from the data into the page. The browser test checks
each image by its decoded ``naturalWidth``.

Each plot is drawn on a fresh :class:`matplotlib.figure.Figure` (never
pyplot's global state) with the Agg canvas; a figure a plot makes for itself
(multi-panel plots) is closed after saving. PNGs are written without the
``Software`` metadata entry, so the same input gives the same bytes.
"""

from __future__ import annotations

import base64
import inspect
import io
import struct
import sys
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import HpoAnalyticsError
from ._html import text

__all__ = ["DPI", "PANEL_SIZE", "draw", "figure_html", "png_size", "render_png", "skipped_html"]

#: Pixels per inch of every embedded image (a 7 x 4.5 in figure is 700 x 450 px).
DPI = 100


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a PNG, read from its IHDR chunk.

    Raises :class:`~hpo_analytics.errors.HpoAnalyticsError` for bytes that are
    not a PNG: matplotlib's output is checked here, so that is a bug, and
    :func:`draw` calls this outside the ``try`` that turns a plot's refusal
    into a note, so it is never shown as one.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise HpoAnalyticsError("not a PNG")
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover - builtins without signatures
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())


def _close_foreign(fig: Any) -> None:
    """Close a figure a plot made through pyplot (ours are not registered with pyplot)."""
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(fig)


#: Size of one panel of a multi-panel plot and the fixed margins around the grid, in inches. Fixed
#: margins, not constrained layout: measuring every tick label of six panels doubles the save time.
PANEL_SIZE = (3.4, 2.8)
_MARGINS = {"left": 0.75, "right": 1.1, "bottom": 0.55, "top": 0.45, "wgap": 0.65, "hgap": 0.7}


def _panel_figure(n: int, ncols: int) -> tuple[Any, list[Any]]:
    """A Figure (not pyplot's) with ``n`` Axes in rows of ``ncols``; the right margin leaves room for a colorbar."""
    from matplotlib.figure import Figure

    m = _MARGINS
    cols = max(1, min(ncols, n))
    rows = -(-n // cols)
    width = m["left"] + m["right"] + cols * PANEL_SIZE[0] + (cols - 1) * m["wgap"]
    height = m["bottom"] + m["top"] + rows * PANEL_SIZE[1] + (rows - 1) * m["hgap"]
    fig = Figure(figsize=(width, height), dpi=DPI)
    fig.subplots_adjust(left=m["left"] / width, right=1 - m["right"] / width, bottom=m["bottom"] / height,
                        top=1 - m["top"] / height, wspace=m["wgap"] / PANEL_SIZE[0], hspace=m["hgap"] / PANEL_SIZE[1])
    return fig, [fig.add_subplot(rows, cols, i + 1) for i in range(n)]


def render_png(plot: Callable[..., Any], args: tuple[Any, ...], options: Mapping[str, Any], *,
               figsize: tuple[float, float] = (7.0, 4.5), panels: int | None = None, ncols: int = 3) -> bytes:
    """Call ``plot(*args, **options, ax=...)`` on a fresh Figure and return the drawn figure as PNG bytes.

    ``panels=None``: one Axes of a ``figsize`` figure (constrained layout);
    ``panels=n``: a list of ``n`` Axes in rows of ``ncols``, the figure sized
    to fit them. A plot that does not take ``ax=`` (or returns a Figure of its
    own) is saved from the figure it returns, which is then closed.
    """
    from matplotlib.axes import Axes
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    kwargs = dict(options)
    if panels is None:
        own = Figure(figsize=figsize, dpi=DPI, layout="constrained")
        if _accepts(plot, "ax"):
            kwargs["ax"] = own.add_subplot()
    else:
        own, axes = _panel_figure(panels, ncols)
        kwargs["ax"] = axes
    FigureCanvasAgg(own)
    result = plot(*args, **kwargs)
    if isinstance(result, Axes):
        fig = result.figure
        while not hasattr(fig, "savefig"):  # an Axes on a SubFigure: save the root figure
            fig = fig.figure
    elif result is not None and hasattr(result, "savefig"):
        fig = result
    else:
        fig = own
    try:
        if not isinstance(fig.canvas, FigureCanvasAgg):
            FigureCanvasAgg(fig)
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
        return buf.getvalue()
    finally:
        if fig is not own:
            _close_foreign(fig)


def figure_html(png: bytes, *, title: str, caption: str = "") -> str:
    """A ``<figure>`` holding ``png`` as a data URI, with escaped alt text and caption."""
    width, height = png_size(png)
    data = base64.b64encode(png).decode("ascii")
    cap = f"<figcaption>{text(caption)}</figcaption>" if caption else ""
    return (f'<figure><img alt="{text(title)}" width="{width}" height="{height}" '
            f'src="data:image/png;base64,{data}">{cap}</figure>')


def skipped_html(title: str, reason: str) -> str:
    """The note shown instead of a plot the data cannot support (e.g. one objective for a Pareto front)."""
    return f'<p class="skipped">{text(title)}: not drawn ({text(reason)}).</p>'


def draw(plot: Callable[..., Any], args: tuple[Any, ...], options: Mapping[str, Any], *, title: str,
         figsize: tuple[float, float] = (7.0, 4.5), panels: int | None = None, caption: str = "") -> str:
    """A plot as embedded HTML, or a note when it refuses the data with an :class:`HpoAnalyticsError`.

    Any other exception is a bug and propagates.
    """
    try:
        png = render_png(plot, args, options, figsize=figsize, panels=panels)
    except HpoAnalyticsError as exc:
        return skipped_html(title, str(exc))
    return figure_html(png, title=title, caption=caption)
