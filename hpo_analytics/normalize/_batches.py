"""Batches: rows of consecutive pages gathered and converted about 4k rows at a time.

:func:`_collect` reads the pages (:mod:`._input`, with the msgspec fast
path of :mod:`._fastpages` for page bytes) into a :class:`_Collector`,
which turns each run of rows that share a header into a :class:`_Batch`:
one raw Arrow string column per header name, and the ``config`` cells
converted to typed parameters (:mod:`._params`).  Only one batch of
Python objects is alive at a time; the text columns are parsed later,
over all batches at once (:mod:`._cells`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from .. import _jsonutil
from .._table import CONFIG_PREFIX, PARAM_PREFIX
from ._fastpages import Decoded, FastPages, raw_rows
from ._input import _iter_pages, _matrix
from ._params import _config_batch, _Extra, _index_only_batch, _struct_config_batch, _Typed

_BATCH_ROWS = 4_096  # rows of Python objects alive at once; smaller costs time, larger memory
#: the columns that decide which rows a table keeps and their order: read whatever ``columns`` asks for
ROW_KEYS = frozenset({"trial_id", "training_iteration"})
_FAST_PAGES = True  # tests turn the msgspec fast path off to compare it with the generic path


@dataclass
class _Batch:
    n: int
    page: np.ndarray  # int32 page index of every row
    row: np.ndarray  # int32 row index within its page
    labels: dict[int, str]  # page index -> file name, where known
    text: dict[str, pa.Array] = field(default_factory=dict)
    kinds: dict[str, frozenset[str]] = field(default_factory=dict)  # non-string JSON cell kinds
    has_config: bool = False
    params: dict[str, _Typed] = field(default_factory=dict)
    trial_index: pa.Array | None = None
    config_bad: list[tuple[int, Any, str]] = field(default_factory=list)
    config_raw: pa.Array | None = None
    extras: dict[str, _Extra] = field(default_factory=dict)  # config/<key> candidates
    conflicts: list[tuple[int, Any, Any, Any]] = field(default_factory=list)  # (row, key, value, param value)


def _text_array(cells: Sequence[Any]) -> tuple[pa.Array, frozenset[str]]:
    """Cells as an Arrow string array; JSON non-strings are rendered as the service would."""
    try:
        return pa.array(cells, type=pa.string()), frozenset()
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, UnicodeEncodeError):
        pass
    kinds: set[str] = set()
    out: list[str | None] = []
    for value in cells:
        kind = type(value)
        if kind is str:
            out.append(value.encode("utf-8", "backslashreplace").decode("utf-8"))
            kinds.add("str")
        elif value is None:
            out.append(None)
        elif kind is bool:
            out.append("True" if value else "False")
            kinds.add("bool")
        elif kind is int:
            out.append(str(value))
            kinds.add("int")
        elif kind is float:
            out.append(repr(value))
            kinds.add("float")
        else:
            out.append(_jsonutil.dumps(value))
            kinds.add("json")
    return pa.array(out, type=pa.string()), frozenset(kinds)


def _exact_configs(spans: list[tuple[int, int]], pages: list[Any], at: int) -> Callable[[Iterable[int]], dict[int, Any]]:
    """``exact(positions)``: the config of those rows of a batch as the service wrote it (a dict in its key order).

    Fast-path structs do not remember the order of a config's keys; the few
    questions that need it read the rows again from their page's bytes.
    """
    starts = np.cumsum([0] + [k for _, k in spans])

    def exact(positions: Iterable[int]) -> dict[int, Any]:
        out: dict[int, Any] = {}
        texts: dict[int, list[Any]] = {}
        for pos in sorted(set(positions)):
            span = int(np.searchsorted(starts, pos, side="right")) - 1
            if span not in texts:
                texts[span] = raw_rows(pages[span])
            out[pos] = _jsonutil.loads(bytes(texts[span][pos - int(starts[span])]))[at]
        return out

    return exact


def _runs(spans: list[tuple[int, int]], widths: list[int]) -> list[tuple[int, int, int]]:
    """(start, stop, number of config fields) of each run of rows decoded with the same struct fields."""
    runs: list[tuple[int, int, int]] = []
    start = 0
    for (_, count), width in zip(spans, widths):
        if runs and runs[-1][2] == width:
            runs[-1] = (runs[-1][0], start + count, width)
        else:
            runs.append((start, start + count, width))
        start += count
    return runs


def _convert_batch(header: list[str], rows: list[Sequence[Any]], spans: list[tuple[int, int]],
                   labels: dict[int, str], *, keep_raw: bool,
                   config_fields: tuple[tuple[str, str], ...] | None = None,
                   pages: list[Any] | None = None, known: set[str] | frozenset[str] = frozenset(),
                   widths: list[int] | None = None, wanted: frozenset[str] | None = None,
                   index_only: bool = False) -> _Batch:
    n = len(rows)
    counts = np.fromiter((k for _, k in spans), dtype=np.int64, count=len(spans))
    pages_of_rows = np.repeat(np.fromiter((p for p, _ in spans), dtype=np.int32, count=len(spans)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    batch = _Batch(n=n, page=pages_of_rows, row=(np.arange(n) - starts).astype(np.int32), labels=labels)
    cells_of = list(zip(*rows)) if rows else [() for _ in header]
    for index, name in enumerate(header):
        if name == "":
            continue  # the leading position index
        if wanted is not None and name not in wanted:
            continue  # a column the caller does not read: never parsed
        cells = cells_of[index]
        if name == "config":
            if index_only and _index_only_batch(batch, cells, config_fields):
                continue
            if config_fields is not None:
                assert pages is not None
                _struct_config_batch(batch, cells, config_fields, keep_raw=keep_raw,
                                     exact=_exact_configs(spans, pages, index), known=known,
                                     runs=_runs(spans, widths or [len(config_fields)] * len(spans)))
            else:
                _config_batch(batch, cells, keep_raw=keep_raw)
        else:
            batch.text[name], batch.kinds[name] = _text_array(cells)
    return batch


def _wanted(columns: frozenset[str] | None, *, keep_raw: bool) -> tuple[frozenset[str] | None, bool]:
    """What to read for ``columns``: the header names (``None``: all; the row keys always, the configs for
    their columns), and whether the configs are read for ``trial_index`` alone (no parameter asked for)."""
    if columns is None:
        return None, False
    params = any(c.startswith((PARAM_PREFIX, CONFIG_PREFIX)) for c in columns)
    index = "trial_index" in columns
    names = columns | ROW_KEYS | ({"config"} if params or index else frozenset())
    return names, index and not params and not keep_raw


def _extends(fields: tuple[tuple[str, str], ...] | None, before: tuple[tuple[str, str], ...] | None) -> bool:
    """Whether configs decoded with ``fields`` can join a batch of configs decoded with ``before``.

    Generic pages (None) join generic pages; struct fields join when they
    only add keys at the end, as the fast path does when a key appears late.
    """
    if fields is None or before is None:
        return fields is before
    return fields[:len(before)] == before


class _Collector:
    """Gathers rows of consecutive pages into batches and converts them."""

    def __init__(self, *, keep_raw: bool, batch_rows: int | None = None,
                 columns: frozenset[str] | None = None) -> None:
        self.keep_raw = keep_raw
        self._wanted, self._index_only = _wanted(columns, keep_raw=keep_raw)  # the same for every batch
        self.batch_rows = batch_rows or _BATCH_ROWS  # read at call time, so tests can shrink it
        self.batches: list[_Batch] = []
        self.headers: list[list[str]] = []
        self._header: list[str] | None = None
        self._fields: tuple[tuple[str, str], ...] | None = None
        self._rows: list[Sequence[Any]] = []
        self._spans: list[tuple[int, int]] = []
        self._labels: dict[int, str] = {}
        self._pages: list[Any] = []  # each span's page, where it was decoded by the fast path
        self._widths: list[int] = []  # each span's number of config fields (a key seen late adds one)
        self._known: set[str] = set()  # param/ and config/ names of the batches so far

    def add(self, index: int, label: str | None, header: list[str], rows: Sequence[Sequence[Any]],
            config_fields: tuple[tuple[str, str], ...] | None = None, data: Any = None) -> None:
        """Take a page's rows; ``config_fields`` when its configs are fast-path structs (``data`` the page)."""
        if header and (not self.headers or header is not self.headers[-1]) and header not in self.headers:
            self.headers.append(header)
        if not rows:
            return
        if self._header is not None and (header != self._header or not _extends(config_fields, self._fields)):
            self.flush()
        self._header = header
        self._fields = config_fields
        self._widths.append(len(config_fields or ()))
        self._rows.extend(rows)
        self._spans.append((index, len(rows)))
        self._pages.append(data)
        if label is not None:
            self._labels[index] = label
        if len(self._rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self._rows and self._header is not None:
            batch = _convert_batch(self._header, self._rows, self._spans, self._labels, keep_raw=self.keep_raw,
                                   config_fields=self._fields, pages=self._pages, known=self._known,
                                   widths=self._widths, wanted=self._wanted, index_only=self._index_only)
            self.batches.append(batch)
            self._known.update(batch.params, batch.extras)
        self._rows, self._spans, self._labels, self._pages, self._widths = [], [], {}, [], []


def _collect(source: Any, *, keep_raw: bool, columns: frozenset[str] | None = None) -> _Collector:
    """Read every page of ``source`` into batches (see :func:`hpo_analytics.normalize.trials_to_arrow`)."""
    collector = _Collector(keep_raw=keep_raw, columns=columns)
    fast = FastPages(enabled=_FAST_PAGES)
    with _jsonutil.gc_paused():
        for index, label, page in _iter_pages(source, fast):
            if type(page) is Decoded:
                collector.add(index, label, page.header, page.rows, page.config_fields, page.data)
            else:
                header, rows = _matrix(page, index, label)
                collector.add(index, label, header, rows)
        collector.flush()
    return collector
