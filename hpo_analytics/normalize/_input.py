"""Reading pages: files and directories, JSON text, and the checks of the ``header``/``data`` matrix.

:func:`_iter_pages` turns whatever a caller passes (a page, JSON bytes or
text, a path, an iterable of these) into numbered pages, each either a
parsed JSON object or a page the msgspec fast path
(:mod:`._fastpages`) decoded; :func:`_matrix` checks a parsed page and
returns its header and rows.  Every structural problem is a
:class:`~hpo_analytics.errors.MatrixError` naming the page (and the file).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pyarrow as pa

from .. import _jsonutil
from ..errors import ConfigurationError, MatrixError
from ._fastpages import FastPages

__all__ = ["iter_page_sources"]


def iter_page_sources(path: str | os.PathLike[str]) -> Iterator[tuple[str, bytes]]:
    """Yield ``(file name, bytes)`` for a JSON file, or for each ``*.json`` file of a directory.

    Files of a directory are read one at a time, in name order, so only one
    page's text is in memory at once.
    """
    p = Path(path)
    if p.is_dir():
        files = sorted(f for f in p.iterdir() if f.suffix.lower() == ".json" and f.is_file())
        if not files:
            raise ConfigurationError(f"no *.json page files in directory {str(p)!r}")
        for f in files:
            yield f.name, f.read_bytes()
    elif p.is_file():
        yield p.name, p.read_bytes()
    else:
        raise ConfigurationError(f"no such file or directory: {str(p)!r}")


def _parse_json(data: bytes | bytearray | memoryview | str, *, page: int, source: str | None) -> Any:
    try:
        return _jsonutil.loads(data)
    except _jsonutil.JSONDecodeError as exc:
        text = bytes(data[:200]).decode("utf-8", "replace") if not isinstance(data, str) else data[:200]
        hint = ""
        if isinstance(data, str) and not data.lstrip().startswith(("{", "[")) and os.path.exists(data):
            hint = "; to read a file, use read_trials(path)"
        raise MatrixError(f"JSON does not parse: {exc}{hint}", page=page, value=text, source=source) from None


def _iter_pages(source: Any, fast: FastPages) -> Iterator[tuple[int, str | None, Any]]:
    """Yield ``(page_index, source_label, page)`` for every page in ``source``.

    A page is a parsed JSON object, or a :class:`._fastpages.Decoded` page when ``fast``
    could decode its bytes.
    """
    if isinstance(source, (bytes, bytearray, memoryview, str)):
        yield from _iter_pages_labelled(((None, source),), fast)  # one document: a page or a list of pages
        return
    if isinstance(source, os.PathLike):
        yield from _iter_pages_labelled(iter_page_sources(source), fast)
        return
    if isinstance(source, Mapping):
        yield 0, None, source
        return
    if isinstance(source, pa.Table):
        raise MatrixError("source is already an Arrow table; pass the service's JSON pages instead")
    if isinstance(source, Iterable):
        yield from _iter_pages_labelled(((None, item) for item in source), fast)
        return
    raise MatrixError(f"unsupported source of type {type(source).__name__}; expected JSON pages")


def _iter_pages_labelled(items: Iterable[tuple[str | None, Any]],
                         fast: FastPages) -> Iterator[tuple[int, str | None, Any]]:
    index = 0
    for label, item in items:
        if isinstance(item, (bytes, bytearray, memoryview, str)):
            decoded = fast.decode(item)
            if decoded is not None:
                yield index, label, decoded
                index += 1
                continue
            item = _parse_json(item, page=index, source=label)
            if isinstance(item, list):  # a file holding a list of pages
                for page in item:
                    yield index, label, page
                    index += 1
                continue
        yield index, label, item
        index += 1


def _matrix(page: Any, index: int, label: str | None) -> tuple[list[str], list[Any]]:
    """Validate one page and return its header and rows."""
    if not isinstance(page, Mapping):
        raise MatrixError("page is not a JSON object", page=index, value=page, source=label)
    if "items" in page:
        items = page["items"]
        if items is None and page.get("total") in (0, None) and not page.get("count"):
            return [], []
        if not isinstance(items, Mapping):
            raise MatrixError("'items' is not an object with 'header' and 'data'", page=index, value=items, source=label)
    elif "header" in page or "data" in page:
        items = page
    else:
        raise MatrixError(
            "page has no 'items' (nor a bare 'header'/'data' matrix)", page=index, value=list(page)[:10], source=label
        )
    if "header" not in items:
        raise MatrixError("matrix has no 'header'", page=index, source=label)
    if "data" not in items:
        raise MatrixError("matrix has no 'data'", page=index, source=label)
    header, data = items["header"], items["data"]
    if header is None:
        header = []
    if data is None:
        data = []
    if not isinstance(header, list) or not all(isinstance(h, str) for h in header):
        raise MatrixError("'header' is not a list of strings", page=index, value=header, source=label)
    if len(set(header)) != len(header):
        seen: set[str] = set()
        for name in header:
            if name in seen:
                raise MatrixError("duplicate header name", page=index, column=name, value=header, source=label)
            seen.add(name)
    if not isinstance(data, list):
        raise MatrixError("'data' is not a list of rows", page=index, value=data, source=label)
    if data:
        if set(map(type, data)) != {list}:
            for row, cells in enumerate(data):
                if not isinstance(cells, list):
                    raise MatrixError("row is not a list", page=index, row=row, value=cells, source=label)
        if set(map(len, data)) != {len(header)}:
            for row, cells in enumerate(data):
                if len(cells) != len(header):
                    raise MatrixError(
                        f"row has {len(cells)} cells but the header has {len(header)}",
                        page=index, row=row, value=cells, source=label,
                    )
    return header, data
