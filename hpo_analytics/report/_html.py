"""HTML building blocks of the report: escaping, value formatting, tables and the page shell.

Every value that comes from data (trial ids, parameter names and values,
statuses, reasons, job names) goes through :func:`text` (``html.escape`` with
quotes), so service text is shown as text and never parsed as markup. The page
shell carries a Content-Security-Policy that forbids scripts and every
network fetch (only ``data:`` images and the inline style sheet are
allowed), as a second line of defence and a promise that viewing the file
needs no network.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any

import pandas as pd

__all__ = [
    "CSP",
    "Cell",
    "fmt",
    "fmt_duration",
    "key_values",
    "page",
    "table",
    "text",
]

#: Scripts, frames, fonts, fetches and remote images are all forbidden.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'"

_MAX_CHARS = 160
_MISSING = "\u2014"  # em dash

_STYLE = """
:root { color-scheme: light; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2328;
       margin: 0 auto; max-width: 1180px; padding: 24px; background: #fff; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; padding-top: 8px; border-top: 1px solid #d0d7de; }
h3 { font-size: 15px; margin: 20px 0 6px; }
p.sub, p.note { color: #57606a; margin: 4px 0 12px; }
nav { margin: 8px 0 0; color: #57606a; }
nav a { margin-right: 12px; }
a { color: #0969da; }
table { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
th, td { border: 1px solid #d0d7de; padding: 3px 8px; text-align: left; vertical-align: top;
         max-width: 360px; overflow-wrap: break-word; }
th { background: #f6f8fa; font-weight: 600; white-space: nowrap; }
td.num { text-align: right; white-space: nowrap; }
tr.best td { background: #fff8c5; }
tr.stop td { background: #ffebe9; }
table.kv th { width: 180px; }
table.kv td.num { text-align: left; }
div.wide { overflow-x: auto; }
figure { margin: 12px 0 20px; }
figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
figcaption { color: #57606a; font-size: 13px; }
.skipped { color: #57606a; font-style: italic; }
"""


def text(value: Any) -> str:
    """``value`` as escaped HTML text (quotes included, so it is safe in attributes too)."""
    return html.escape(str(value), quote=True)


def fmt(value: Any) -> str:
    """A data value as display text (not yet escaped): numbers to 6 significant digits, missing as a dash."""
    if value is None or value is pd.NA or value is pd.NaT:
        return _MISSING
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Integral):
        return str(int(value))
    if isinstance(value, Real):
        v = float(value)
        if math.isnan(v):
            return _MISSING
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        return f"{v:.6g}"
    try:
        if pd.isna(value):
            return _MISSING
    except (TypeError, ValueError):
        pass  # lists and other containers: shown as their text
    s = str(value)
    return s if len(s) <= _MAX_CHARS else s[: _MAX_CHARS - 1] + "\u2026"


def fmt_duration(seconds: float) -> str:
    """Seconds as ``"54,070 s (15.0 h)"``; a dash when not a number."""
    if seconds is None or not math.isfinite(seconds):
        return _MISSING
    hours = seconds / 3600.0
    tail = f" ({hours:,.1f} h)" if hours >= 1 else f" ({seconds / 60:,.1f} min)" if seconds >= 60 else ""
    return f"{seconds:,.0f} s{tail}"


def _is_number(value: Any) -> bool:
    return isinstance(value, Real) and not isinstance(value, bool)


@dataclass(frozen=True)
class Cell:
    """A table cell whose content is already HTML (e.g. a link); everything else is escaped."""

    html: str
    numeric: bool = False


def _td(value: Any) -> str:
    if isinstance(value, Cell):
        return f'<td class="num">{value.html}</td>' if value.numeric else f"<td>{value.html}</td>"
    shown = text(fmt(value))
    if _is_number(value):
        return f'<td class="num">{shown}</td>'
    full = str(value)
    if isinstance(value, str) and len(full) > _MAX_CHARS:
        return f'<td title="{text(full)}">{shown}</td>'
    return f"<td>{shown}</td>"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]], *, row_classes: Sequence[str] | None = None,
          css_class: str = "") -> str:
    """An HTML table; header names and cell values are escaped (except :class:`Cell` contents)."""
    head = "".join(f"<th>{text(h)}</th>" for h in header)
    body = []
    for i, row in enumerate(rows):
        cls = row_classes[i] if row_classes is not None and row_classes[i] else ""
        attr = f' class="{text(cls)}"' if cls else ""
        body.append(f"<tr{attr}>" + "".join(_td(v) for v in row) + "</tr>")
    table_attr = f' class="{text(css_class)}"' if css_class else ""
    return (f'<div class="wide"><table{table_attr}><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(body)}</tbody></table></div>")


def key_values(pairs: Mapping[str, Any]) -> str:
    """A two-column table of labelled values (labels and values escaped)."""
    rows = "".join(f"<tr><th>{text(k)}</th>{_td(v)}</tr>" for k, v in pairs.items())
    return f'<table class="kv"><tbody>{rows}</tbody></table>'


def page(title: str, body: str) -> str:
    """A complete HTML document: the escaped ``title``, the inline style sheet, ``body`` (already HTML)."""
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="hpo_analytics">\n'
        f"<title>{text(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        f"{body}\n</body>\n</html>\n"
    )
