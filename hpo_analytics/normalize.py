"""Turn the ModelArts ``header``/``data`` string matrix into typed Arrow tables.

The autosearch endpoints return every cell as text (``"True"``, ``"19.47"``,
``"tensor(0.0754, device='cuda:0', requires_grad=True)"``, ``""``) plus a
``config`` object per row.  This module converts pages of that matrix into
one :class:`pyarrow.Table`, column by column and vectorised:

1. pages are parsed one at a time and their rows are gathered into batches
   of about 4k rows, so many small pages cost the same as a few large ones
   and no more than one batch of Python objects is alive.  Page bytes whose
   shape matches the first page's go through msgspec into tuples and small
   config structs (:mod:`hpo_analytics._fastpages`); anything else through
   orjson (or the standard library) and the generic checks;
2. each batch is transposed into raw Arrow string columns, and the ``config``
   cells into typed parameter columns;
3. when all pages are in, each text column is parsed once over all its
   batches with :mod:`pyarrow.compute` (numbers, tensor reprs, booleans,
   null tokens; a cast is only tried where it will succeed, because a
   failing Arrow cast is slow), several columns at once on a small thread
   pool, since the kernels release the GIL;
4. duplicates are resolved by ``trial_id`` and the rows are put in ``trial_index`` order.

Columns are found by header name, never by position.  Service text is never
passed to ``eval``: Python-repr configs go through a small restricted parser
(:mod:`hpo_analytics._pyrepr`).

Positions in errors and warnings are 0-based: ``page`` is the index of the
page in the input (or the file it came from) and ``row`` the index within
that page's ``data``.
"""

from __future__ import annotations

import logging
import os
import re
import warnings
from concurrent.futures import ThreadPoolExecutor
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter, itemgetter
from typing import Any, Literal, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import _jsonutil
from ._fastpages import Decoded, FastPages
from ._pyrepr import parse_python_literal
from ._table import (
    CONFIG_PREFIX,
    METADATA_METRIC,
    METADATA_METRICS,
    METADATA_MODE,
    METADATA_TABLE,
    METADATA_VERSION,
    PARAM_PREFIX,
    to_pandas,
)
from ._version import __version__
from .errors import CellParseError, ConfigurationError, MatrixError, ParseWarning

__all__ = [
    "KNOWN_COLUMNS",
    "METADATA_METRIC",
    "METADATA_METRICS",
    "METADATA_MODE",
    "algorithms_to_pandas",
    "curves_to_arrow",
    "curves_to_pandas",
    "to_pandas",
    "trials_to_arrow",
    "trials_to_pandas",
]

logger = logging.getLogger("hpo_analytics.normalize")

Errors = Literal["coerce", "raise"]


_STRING_COLUMNS = ("trial_id", "status")
_BOOL_COLUMNS = ("done",)
_INT_COLUMNS = ("training_iteration", "pid", "worker_index")
_FLOAT_COLUMNS = ("time_total_s", "reward_attr", "best_reward")

#: Known columns and their Arrow types, in the order they lead a table.
KNOWN_COLUMNS: dict[str, pa.DataType] = {
    "trial_id": pa.string(),
    "trial_index": pa.int64(),
    "status": pa.string(),
    "done": pa.bool_(),
    "training_iteration": pa.int64(),
    "time_total_s": pa.float64(),
    "reward_attr": pa.float64(),
    "best_reward": pa.float64(),
    "pid": pa.int64(),
    "worker_index": pa.int64(),
}


_BATCH_ROWS = 4_096  # rows of Python objects alive at once; smaller costs time, larger memory
_FAST_PAGES = True  # tests turn the msgspec fast path off to compare it with the generic path
_THREADED_ROWS = 20_000  # below this, starting threads costs more than it saves
_NULL_TOKENS = pa.array(["", "None", "null"])
_NUMBER_RE = (
    r"^[+-]?(?:(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|(?i:nan|inf|infinity))$"
)
# tensor(0.07, device='cuda:0'), np.float32(0.5), array(0.5), Decimal('0.5') ...
_WRAPPED_SCALAR_RE = (
    r"^(?:tensor|torch\.tensor|array|np\.array|numpy\.array|Decimal"
    r"|(?:np|numpy)\.(?:float|int|uint)(?:8|16|32|64|128)?|(?:np|numpy)\.(?:double|single|half|float_|int_))"
    r"\(\s*['\"]?(?P<v>[^,()\[\]'\"\s]+)['\"]?\s*(?:,.*)?\)$"
)
_WRAPPED_VECTOR_RE = r"^(?:tensor|torch\.tensor|array|np\.array|numpy\.array)\(\s*\[(?P<v>[^\[\]]*)\]\s*(?:,.*)?\)$"
_FAST_WRAPPERS = frozenset({"tensor", "torch.tensor", "array", "np.array", "numpy.array", "np.float64", "np.float32",
                            "np.float16", "np.int64", "np.int32", "numpy.float64", "numpy.float32"})
_NUMERIC_FIRST = pa.array(list("0123456789+-.nNiI"))
_WHITESPACE_BYTES = np.frombuffer(b" \t\n\r\x0b\x0c", dtype=np.uint8)
_EMPTY: dict[str, Any] = {}


# --------------------------------------------------------------------------- input


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

    A page is a parsed JSON object, or a :class:`Decoded` page when ``fast``
    could decode its bytes.
    """
    if isinstance(source, (bytes, bytearray, memoryview, str)):
        yield from _iter_pages_labelled(((None, source),), fast)  # one document: a page or a list of pages
        return
    if isinstance(source, os.PathLike):
        from .io import iter_page_sources

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


# --------------------------------------------------------------------------- batches


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


_INFERRED_KINDS = {pa.int64(): "int", pa.string(): "str", pa.bool_(): "bool", pa.null(): "null"}


class _Typed(NamedTuple):
    """One batch's values of a parameter: typed, their kind, and their JSON text when typing lost it."""

    values: pa.Array
    kind: str  # int, float, bool, str, json or null
    json: pa.Array | None = None  # for floats mixed from ints and floats: "1" stays "1" if text is needed


class _Extra(NamedTuple):
    """One batch's values of a config key beside the ``param/`` keys.

    ``twin`` names the ``param/`` column it repeated with the same value in
    every row of the batch that has it (None when it did not); ``values``
    are its own values, or None when they are exactly the twin's.
    """

    values: _Typed | None
    twin: str | None


def _json_texts(values: Sequence[Any]) -> pa.Array:
    texts = [None if v is None else _jsonutil.dumps(v) for v in values]
    return pa.array([t.encode("utf-8", "backslashreplace").decode() if t else t for t in texts], type=pa.string())


def _float_typed(array: pa.Array, values: Sequence[Any], kinds: set[type] | None = None,
                 as_np: np.ndarray | None = None) -> _Typed:
    """A float64 batch; its JSON text is kept when some of the values were ints.

    ``kinds`` are the values' types and ``as_np`` the array in numpy, where
    the caller has them already.
    """
    if kinds is None:
        if as_np is None:
            as_np = array.to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            integral = (as_np == np.floor(as_np)).any()  # an int reads as an integral float; look only then
        kinds = set(map(type, values)) if integral else set()
    return _Typed(array, "float", _json_texts(values) if int in kinds else None)


def _typed_values(values: Sequence[Any]) -> _Typed:
    """Parameter values as a typed array and its kind (int, float, bool, str, json, null)."""
    try:  # Arrow's own inference is the fast path; it refuses int/bool and int/str mixes
        inferred = pa.array(values)
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        inferred = None
    if inferred is not None:
        kind = _INFERRED_KINDS.get(inferred.type)
        if kind is not None:
            return _Typed(inferred, kind)
        # Arrow reads True as 1.0 among floats; such a mix is JSON text here. (It refuses
        # integers that float64 cannot hold exactly, as the slow path below does.)
        if inferred.type == pa.float64():
            as_np = inferred.to_numpy(zero_copy_only=False)
            # Only a 0.0 or 1.0 can be a bool in disguise; look at the types only then.
            if not ((as_np == 0.0) | (as_np == 1.0)).any():
                return _float_typed(inferred, values, as_np=as_np)
    kinds = set(map(type, values))
    if inferred is not None and inferred.type == pa.float64() and bool not in kinds:
        return _float_typed(inferred, values, kinds)
    kinds.discard(type(None))
    try:
        if not kinds:
            return _Typed(pa.nulls(len(values)), "null")
        if kinds == {int}:
            return _Typed(pa.array(values, type=pa.int64()), "int")
        if kinds <= {int, float}:
            if int in kinds and any(type(v) is int and abs(v) > 2**53 for v in values):
                raise OverflowError  # would not round-trip through float64
            return _float_typed(pa.array(values, type=pa.float64()), values, kinds)
        if kinds == {bool}:
            return _Typed(pa.array(values, type=pa.bool_()), "bool")
        if kinds == {str}:
            return _Typed(pa.array(values, type=pa.string()), "str")
    except (OverflowError, pa.ArrowInvalid, pa.ArrowTypeError, UnicodeEncodeError):
        pass
    return _Typed(_json_texts(values), "json")


def _parse_config_cell(cell: Any) -> dict[Any, Any]:
    if isinstance(cell, str):
        text = cell.strip()
        if not text or text in ("None", "null"):
            return _EMPTY
        try:
            value = _jsonutil.loads(text)
        except _jsonutil.JSONDecodeError:
            value = parse_python_literal(text)  # raises ValueError
        if isinstance(value, str):  # doubly encoded
            return _parse_config_cell(value)
    else:
        value = cell
    if value is None:
        return _EMPTY
    if not isinstance(value, dict):
        raise ValueError(f"config is a {type(value).__name__}, not an object")
    return value


def _uniform_columns(dicts: Sequence[dict[Any, Any]]) -> dict[Any, tuple[Any, ...]] | None:
    """Every dict's values by key when all dicts have the same keys, else None."""
    first = dicts[0]
    if not first or set(map(len, dicts)) != {len(first)}:
        return None
    keys = list(first)
    try:
        # Each dict has every key of the first and as many keys: the key sets are equal.
        rows = list(map(itemgetter(*keys), dicts))
    except KeyError:
        return None
    if len(keys) == 1:
        return {keys[0]: tuple(rows)}
    return dict(zip(keys, zip(*rows)))


def _config_batch(batch: _Batch, cells: Sequence[Any], *, keep_raw: bool) -> None:
    batch.has_config = True
    if set(map(type, cells)) == {dict}:
        dicts: Sequence[dict[Any, Any]] = cells
    else:
        dicts = []
        for pos, cell in enumerate(cells):
            if type(cell) is dict:
                dicts.append(cell)
                continue
            try:
                dicts.append(_parse_config_cell(cell))
            except (ValueError, RecursionError) as exc:
                dicts.append(_EMPTY)
                batch.config_bad.append((pos, cell, str(exc)))
    if keep_raw:
        batch.config_raw = pa.array(
            [c if isinstance(c, str) or c is None else _jsonutil.dumps(c) for c in cells], type=pa.string()
        )
    if not dicts:
        return
    columns = _uniform_columns(dicts)
    if columns is not None:
        _config_params(batch, cells, list(dicts[0]), columns.__getitem__, lambda: dicts, uniform=True)
    else:
        _config_params(batch, cells, list(dict.fromkeys(k for d in dicts for k in d)),
                       lambda key: [d.get(key) for d in dicts], lambda: dicts, uniform=False)


def _struct_config_batch(batch: _Batch, cells: Sequence[Any], fields: tuple[tuple[str, str], ...], *,
                         keep_raw: bool) -> None:
    """Configs decoded by the fast path: structs that all have exactly the keys ``fields`` name."""
    batch.has_config = True
    attribute = {key: attr for attr, key in fields}

    def dicts() -> list[dict[str, Any]]:
        return [{key: getattr(cell, attr) for attr, key in fields} for cell in cells]

    if keep_raw:
        batch.config_raw = pa.array([_jsonutil.dumps(d) for d in dicts()], type=pa.string())
    if cells:
        _config_params(batch, cells, list(attribute), lambda key: list(map(attrgetter(attribute[key]), cells)),
                       dicts, uniform=True, structs=True)


def _same_value(a: Any, b: Any) -> bool:
    """Whether a config key's raw value and its ``param/`` duplicate are the same value (NaN equals NaN)."""
    return a is b or (a == b and (type(a) is bool) == (type(b) is bool)) or (a != a and b != b)


def _bool_mismatches(values: Sequence[Any], twins: Sequence[Any], typed: _Typed) -> list[int]:
    """Positions where equal values differ only as a bool and a number (``True == 1`` in Python).

    Only cells whose twin is 0 or 1 can, so a numeric twin column is searched
    with numpy first and Python looks at those cells alone.
    """
    if typed.kind == "str":
        return []
    if typed.kind in ("int", "float"):
        numbers = typed.values.to_numpy(zero_copy_only=False)
        positions: Iterable[int] = np.flatnonzero((numbers == 0) | (numbers == 1)).tolist()
    else:
        positions = range(len(values))
    return [pos for pos in positions if (type(values[pos]) is bool) != (type(twins[pos]) is bool)]


def _config_params(batch: _Batch, cells: Sequence[Any], keys: list[Any],
                   column: Callable[[Any], Sequence[Any]], dicts: Callable[[], Sequence[dict[Any, Any]]], *,
                   uniform: bool, structs: bool = False) -> None:
    """Fill ``trial_index``, the ``param/`` columns and the other config keys of a batch from its configs.

    ``keys`` are the config keys in first-seen order, ``column(key)`` one
    key's value in every row (None where a row lacks it) and ``dicts()`` the
    configs as dicts, asked for only in the rare cases that need them.
    ``uniform`` says every config has the same keys; ``structs`` that the
    cells are fast-path structs rather than what the service sent.

    A row whose config has no ``param/`` key contributes every key (but
    ``trial_index``) as ``param/<key>``.  In a row that has ``param/`` keys,
    another key either repeats its ``param/`` twin with the same value (it
    collapses into it) or is kept for a ``config/<key>`` column: whether that
    column exists is decided over the whole table in :func:`_assemble`.
    """
    batch.trial_index = _typed_values(column("trial_index") if "trial_index" in keys else [None] * len(cells)).values
    if batch.trial_index.type != pa.int64():
        # A trial_index that is not an integer is a broken config, not a number to guess.
        as_dicts = dicts()
        shown = as_dicts if structs else cells  # a struct is shown as the dict it stands for
        values = [d.get("trial_index") for d in as_dicts]
        for pos, value in enumerate(values):
            if value is not None and type(value) is not int:
                batch.config_bad.append((pos, shown[pos], f"trial_index {value!r} is not an integer"))
        batch.trial_index = pa.array([v if type(v) is int and -(2**63) <= v < 2**63 else None for v in values],
                                     type=pa.int64())
    prefixed = [k for k in keys if isinstance(k, str) and k.startswith(PARAM_PREFIX)]
    if not prefixed:
        for key in keys:
            if key != "trial_index":
                batch.params[f"{PARAM_PREFIX}{key}"] = _typed_values(column(key))
        return
    others = [k for k in keys if k != "trial_index" and not (isinstance(k, str) and k.startswith(PARAM_PREFIX))]
    if uniform:
        cached = {key: column(key) for key in prefixed}  # read once: the twins are compared below
        for key in prefixed:
            batch.params[key] = _typed_values(cached[key])
        for key in others:
            twin = f"{PARAM_PREFIX}{key}"
            values = column(key)
            if twin in cached:
                twins = cached[twin]
                if values == twins:  # the usual case, compared in C; only True == 1 can still hide here
                    differ = _bool_mismatches(values, twins, batch.params[twin])
                else:
                    differ = [pos for pos, (a, b) in enumerate(zip(values, twins)) if not _same_value(a, b)]
                if not differ:
                    batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(None, twin)
                    continue
                batch.conflicts.extend((pos, key, values[pos], twins[pos]) for pos in differ)
            batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(_typed_values(values), None)
        return
    # Rows differ: each row contributes its param/ keys, or all its keys when it has none.
    rows: list[dict[Any, Any]] = []
    extra_values: dict[Any, list[Any]] = {key: [None] * len(cells) for key in others}
    kept: set[Any] = set()
    for pos, d in enumerate(dicts()):
        own = {k: v for k, v in d.items() if isinstance(k, str) and k.startswith(PARAM_PREFIX)}
        if not own:
            rows.append({f"{PARAM_PREFIX}{k}": v for k, v in d.items() if k != "trial_index"})
            continue
        rows.append(own)
        for key, value in d.items():
            if key == "trial_index" or key not in extra_values:
                continue
            extra_values[key][pos] = value
            twin = f"{PARAM_PREFIX}{key}"
            if twin not in own:
                kept.add(key)
            elif not _same_value(value, own[twin]):
                kept.add(key)
                batch.conflicts.append((pos, key, value, own[twin]))
    for name in dict.fromkeys(k for d in rows for k in d):
        batch.params[name] = _typed_values([d.get(name) for d in rows])
    for key in others:
        twin = f"{PARAM_PREFIX}{key}"
        if key in kept or twin not in batch.params:
            batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(_typed_values(extra_values[key]), None)
        else:
            # Collapsed in every row that has it; should the column exist after all, its values are these.
            batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(_typed_values(extra_values[key]), twin)


def _convert_batch(header: list[str], rows: list[Sequence[Any]], spans: list[tuple[int, int]],
                   labels: dict[int, str], *, keep_raw: bool,
                   config_fields: tuple[tuple[str, str], ...] | None = None) -> _Batch:
    n = len(rows)
    counts = np.fromiter((k for _, k in spans), dtype=np.int64, count=len(spans))
    pages = np.repeat(np.fromiter((p for p, _ in spans), dtype=np.int32, count=len(spans)), counts)
    starts = np.repeat(np.cumsum(counts) - counts, counts)
    batch = _Batch(n=n, page=pages, row=(np.arange(n) - starts).astype(np.int32), labels=labels)
    columns = list(zip(*rows)) if rows else [() for _ in header]
    for index, name in enumerate(header):
        if name == "":
            continue  # the leading position index
        cells = columns[index]
        if name == "config":
            if config_fields is not None:
                _struct_config_batch(batch, cells, config_fields, keep_raw=keep_raw)
            else:
                _config_batch(batch, cells, keep_raw=keep_raw)
        else:
            batch.text[name], batch.kinds[name] = _text_array(cells)
    return batch


class _Collector:
    """Gathers rows of consecutive pages into batches and converts them."""

    def __init__(self, *, keep_raw: bool, batch_rows: int | None = None) -> None:
        self.keep_raw = keep_raw
        self.batch_rows = batch_rows or _BATCH_ROWS  # read at call time, so tests can shrink it
        self.batches: list[_Batch] = []
        self.headers: list[list[str]] = []
        self._header: list[str] | None = None
        self._fields: tuple[tuple[str, str], ...] | None = None
        self._rows: list[Sequence[Any]] = []
        self._spans: list[tuple[int, int]] = []
        self._labels: dict[int, str] = {}

    def add(self, index: int, label: str | None, header: list[str], rows: Sequence[Sequence[Any]],
            config_fields: tuple[tuple[str, str], ...] | None = None) -> None:
        """Take a page's rows; ``config_fields`` when its configs are fast-path structs."""
        if header and (not self.headers or header is not self.headers[-1]) and header not in self.headers:
            self.headers.append(header)
        if not rows:
            return
        if self._header is not None and (header != self._header or config_fields != self._fields):
            self.flush()
        self._header = header
        self._fields = config_fields
        self._rows.extend(rows)
        self._spans.append((index, len(rows)))
        if label is not None:
            self._labels[index] = label
        if len(self._rows) >= self.batch_rows:
            self.flush()

    def flush(self) -> None:
        if self._rows and self._header is not None:
            self.batches.append(
                _convert_batch(self._header, self._rows, self._spans, self._labels, keep_raw=self.keep_raw,
                               config_fields=self._fields)
            )
        self._rows, self._spans, self._labels = [], [], {}


def _collect(source: Any, *, keep_raw: bool) -> _Collector:
    collector = _Collector(keep_raw=keep_raw)
    fast = FastPages(enabled=_FAST_PAGES)
    with _jsonutil.gc_paused():
        for index, label, page in _iter_pages(source, fast):
            if type(page) is Decoded:
                collector.add(index, label, page.header, page.rows, page.config_fields)
            else:
                header, rows = _matrix(page, index, label)
                collector.add(index, label, header, rows)
        collector.flush()
    return collector


# --------------------------------------------------------------------------- cell parsing


@dataclass
class _Parsed:
    values: pa.Array | pa.ChunkedArray
    bad: np.ndarray | None = None  # True where a non-null cell could not be parsed
    vector_cells: bool = False  # the bad cells are vectors in a column of numbers


_NULL_WORDS = np.frombuffer(b"Nonenull", dtype=np.uint32)  # the 4-byte null tokens, as integers


def _string_buffers(text: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A string array's offsets and data bytes as numpy views, or None for other layouts."""
    if text.type != pa.string():
        return None
    _, offsets_buf, data_buf = text.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int32, count=len(text) + 1, offset=4 * text.offset)
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def _null_mask(text: pa.Array) -> np.ndarray:
    """True where a cell is null, ``""``, ``"None"`` or ``"null"``.

    Read from the buffers: the tokens are the cells of length 0 or 4, so only
    those are compared (three Arrow kernels cost several times as much).
    """
    buffers = _string_buffers(text) if len(text) else None
    if buffers is None:
        mask = pc.or_(pc.is_null(text), pc.fill_null(pc.is_in(text, value_set=_NULL_TOKENS), False))
        return np.asarray(mask, dtype=bool)
    offsets, data = buffers
    lengths = np.diff(offsets)
    isnull = lengths == 0
    four = np.flatnonzero(lengths == 4)
    if len(four):
        words = data[offsets[four][:, None] + np.arange(4)].view(np.uint32).ravel()
        isnull[four] = (words == _NULL_WORDS[0]) | (words == _NULL_WORDS[1])
    if text.null_count:
        isnull |= ~np.asarray(pc.is_valid(text))
    return isnull


def _with_nulls(text: pa.Array, isnull: np.ndarray) -> pa.Array:
    """``text`` with the cells where ``isnull`` is True made null (no copy of the text)."""
    if text.type == pa.string() and text.offset == 0:
        _, offsets_buf, data_buf = text.buffers()
        validity = pa.py_buffer(np.packbits(~isnull, bitorder="little"))
        return pa.StringArray.from_buffers(len(text), offsets_buf, data_buf, validity)
    return pc.if_else(pa.array(isnull), pa.scalar(None, text.type), text)


_NUMERIC_FIRST_BYTE = np.zeros(256, dtype=bool)
_NUMERIC_FIRST_BYTE[np.frombuffer(b"0123456789+-.nNiI", dtype=np.uint8)] = True


def _plausible(text: pa.Array) -> bool:
    """Whether every non-null cell starts like a number.

    A failing Arrow cast costs tens of times more than a successful one, so
    casts are only tried where they will almost surely succeed.  The first
    bytes are read straight from the array's buffers.
    """
    if len(text) == 0:
        return True
    if text.type != pa.string():
        # is_in answers False (not null) for a null cell, so nulls are made to look numeric first.
        first = pc.fill_null(pc.utf8_slice_codeunits(text, 0, 1), "0")
        return bool(pc.all(pc.is_in(first, value_set=_NUMERIC_FIRST)).as_py())
    offsets, data = _string_buffers(text)  # type: ignore[misc]
    starts = offsets[:-1]
    present = offsets[1:] > starts
    if text.null_count:
        valid = np.asarray(pc.is_valid(text))
        if (valid & ~present).any():
            return False  # an empty string
        present &= valid
    elif not present.all():
        return False
    return bool(_NUMERIC_FIRST_BYTE[data[starts[present]]].all())


def _numbers(text: pa.Array, *, vectors: bool,
             isnull: np.ndarray | None = None) -> tuple[pa.Array, np.ndarray, pa.Array | None]:
    """Parse numeric text; return (float64 values, bad mask, vector list array or None).

    ``isnull`` is ``_null_mask(text)`` when the caller has already computed it.
    """
    nothing_bad = np.zeros(len(text), dtype=bool)
    if isnull is None:
        isnull = _null_mask(text)
    if isnull.all():
        return pa.nulls(len(text), pa.float64()), nothing_bad, None
    cleaned = _with_nulls(text, isnull) if isnull.any() else text
    if _plausible(cleaned):
        try:  # the common case: every cell is a plain number
            return pc.cast(cleaned, pa.float64()), nothing_bad, None
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    trimmed = pc.utf8_trim_whitespace(cleaned)
    fast = _unwrap_fast(trimmed)
    if fast is not None:
        return fast, nothing_bad, None
    # The careful path: find exactly which cells are numbers, wrapped numbers, vectors or bad.
    wrapped = pc.extract_regex(trimmed, _WRAPPED_SCALAR_RE).flatten()[0]
    inner = pc.coalesce(wrapped, trimmed)
    ok = pc.fill_null(pc.match_substring_regex(inner, _NUMBER_RE), False)
    values = pc.cast(pc.if_else(ok, inner, pa.scalar(None, pa.string())), pa.float64())
    bad = ~np.asarray(ok) & ~np.asarray(isnull)
    vector_values = None
    if vectors and bad.any():
        vector_values, vector_ok = _vectors(trimmed)
        bad &= ~vector_ok
        if not vector_ok.any():
            vector_values = None
    return values, bad, vector_values


def _unwrap_fast(trimmed: pa.Array) -> pa.Array | None:
    """The common case of one wrapper, e.g. every cell ``tensor(0.07, device='cuda:0')``.

    The wrapper is taken from the first cell; every cell that starts with it
    must end with ``)``, and its first argument (up to a comma) is cast.
    The argument's bounds are found on the buffers (string kernels or a
    regular expression cost two to four times as much).  Returns None
    whenever any cell needs the careful path.
    """
    buffers = _string_buffers(trimmed)
    valid = np.asarray(pc.is_valid(trimmed)) if trimmed.null_count else None
    first = 0 if valid is None else int(np.argmax(valid)) if valid.any() else -1
    if buffers is None or first < 0 or len(trimmed) == 0:
        return None
    match = re.match(r"([A-Za-z_][A-Za-z_0-9.]*)\(", trimmed[first].as_py())
    if not match or match.group(1) not in _FAST_WRAPPERS:
        return None
    prefix = match.group(0)
    wrapped = np.asarray(pc.fill_null(pc.starts_with(trimmed, prefix), False))
    if (wrapped & ~np.asarray(pc.fill_null(pc.ends_with(trimmed, ")"), False))).any():
        return None
    offsets, data = buffers
    starts, ends = offsets[:-1], offsets[1:]
    comma = np.asarray(pc.fill_null(pc.find_substring(trimmed, ","), -1), dtype=np.int32)
    arg_start = starts + np.int32(len(prefix)) * wrapped
    arg_end = np.where(wrapped, np.where(comma >= 0, starts + comma, ends - 1), ends)
    if valid is not None:
        arg_end[~valid] = arg_start[~valid]
    lo, hi = arg_start[wrapped], arg_end[wrapped]
    if (hi <= lo).any() or np.isin(np.concatenate((data[lo], data[hi - 1])), _WHITESPACE_BYTES).any():
        return None  # an empty or padded argument: the careful path knows what to do
    # Every argument as an element of one array over the same bytes; the gaps between them are taken out.
    bounds = np.empty(2 * len(trimmed), dtype=np.int32)
    bounds[0::2], bounds[1::2] = arg_start, arg_end
    pieces = pa.StringArray.from_buffers(len(bounds) - 1, pa.py_buffer(bounds), trimmed.buffers()[2])
    inner = pieces.take(pa.array(np.arange(0, len(bounds) - 1, 2), mask=None if valid is None else ~valid))
    if not _plausible(inner):
        return None
    try:
        return pc.cast(inner, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None


def _vectors(trimmed: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """Parse ``tensor([0.1, 0.2])``-style cells into list<float64>; others null."""
    body = pc.extract_regex(trimmed, _WRAPPED_VECTOR_RE).flatten()[0]
    found = np.asarray(pc.is_valid(body))
    parts = pc.split_pattern_regex(pc.utf8_trim_whitespace(body), r"\s*,\s*")
    flat = pc.list_flatten(parts)
    lengths = np.asarray(pc.fill_null(pc.list_value_length(parts), 0))
    flat_ok = np.asarray(pc.fill_null(pc.match_substring_regex(flat, _NUMBER_RE), False))
    # "tensor([])" splits into one empty string: an empty vector.
    empty = np.asarray(pc.fill_null(pc.equal(body, ""), False))
    owner = np.repeat(np.arange(len(trimmed)), lengths)
    row_ok = found.copy()
    bad_rows = owner[~flat_ok]
    row_ok[bad_rows] = False
    row_ok |= empty
    offsets = np.zeros(len(trimmed) + 1, dtype=np.int32)
    keep_len = np.where(row_ok & ~empty, lengths, 0)
    np.cumsum(keep_len, out=offsets[1:])
    keep_flat = row_ok[owner] & ~empty[owner] if len(owner) else np.zeros(0, dtype=bool)
    numbers = pc.cast(pc.filter(flat, pa.array(keep_flat)), pa.float64())
    lists = pa.ListArray.from_arrays(pa.array(offsets), numbers, mask=pa.array(~row_ok))
    return lists, row_ok


def _parse_float(text: pa.Array) -> _Parsed:
    values, bad, _ = _numbers(text, vectors=False)
    return _Parsed(values, bad if bad.any() else None)


def _parse_int(text: pa.Array, isnull: np.ndarray | None = None) -> _Parsed:
    if isnull is None:
        isnull = _null_mask(text)
    if isnull.all():
        return _Parsed(pa.nulls(len(text), pa.int64()))
    cleaned = _with_nulls(text, isnull) if isnull.any() else text
    if _plausible(cleaned) and not pc.any(pc.match_substring(cleaned, ".")).as_py():
        try:  # the common case: every cell is a plain integer
            return _Parsed(pc.cast(cleaned, pa.int64()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    floats, bad, _ = _numbers(text, vectors=False, isnull=isnull)
    as_np = np.asarray(pc.fill_null(floats, 0.5), dtype=np.float64)
    with np.errstate(invalid="ignore"):
        integral = np.isfinite(as_np) & (np.floor(as_np) == as_np) & (np.abs(as_np) < 2.0**63)
    bad = bad | (~integral & np.asarray(pc.is_valid(floats)))
    ints = np.where(integral, as_np, 0).astype(np.int64)
    # Exact for |x| < 2**53; larger integer text is re-read exactly by Arrow where it parses.
    mask = ~integral
    return _Parsed(pa.array(ints, mask=mask), bad if bad.any() else None)


def _parse_bool(text: pa.Array, isnull: np.ndarray | None = None) -> _Parsed:
    isnull = _null_mask(text) if isnull is None else isnull
    # The service writes "True"/"False"; only other spellings need the lower-cased, trimmed text.
    true = np.asarray(pc.fill_null(pc.equal(text, "True"), False))
    false = np.asarray(pc.fill_null(pc.equal(text, "False"), False))
    if not (true | false | isnull).all():
        lowered = pc.utf8_lower(pc.utf8_trim_whitespace(text))
        true = np.asarray(pc.fill_null(pc.equal(lowered, "true"), False))
        false = np.asarray(pc.fill_null(pc.equal(lowered, "false"), False))
    bad = ~(true | false | isnull)
    values = pa.array(true, mask=~(true | false))
    return _Parsed(values, bad if bad.any() else None)


def _parse_string(text: pa.Array, isnull: np.ndarray | None = None) -> _Parsed:
    if isnull is None:
        isnull = _null_mask(text)
    if not isnull.any():
        return _Parsed(text)
    return _Parsed(_with_nulls(text, isnull))


def _infer(text: pa.Array, kinds: frozenset[str]) -> _Parsed:
    """Infer the type of a column that is not a known one (metrics, Ray extras).

    float64 when every non-empty cell is a number or a scalar wrapper;
    list<float64> only when every non-empty cell is a vector
    (``tensor([0.1, 0.2])``).  Where numbers and vectors mix, the numbers
    win: a vector has no single value, so its cells are bad cells (null
    with a warning, kept by ``keep_raw``), never silently turned into a list
    column that no metric code can read.  Then bool, else string.  An
    all-empty column comes out float64 (from :func:`_numbers`)."""
    isnull = _null_mask(text)  # computed once for every parser tried below
    if kinds and kinds <= {"int"}:
        parsed = _parse_int(text, isnull)
        if parsed.bad is None:
            return parsed
    values, bad, vectors = _numbers(text, vectors=True, isnull=isnull)
    if not bad.any():
        if vectors is None:
            return _Parsed(values)
        is_vector = np.asarray(pc.is_valid(vectors))
        if not (np.asarray(pc.is_valid(values)) & ~is_vector).any():
            return _Parsed(vectors)  # every non-empty cell is a vector
        # Numbers and a few vectors: the vectors are the cells that are not numbers.
        return _Parsed(values, is_vector, vector_cells=True)
    boolean = _parse_bool(text, isnull)
    if boolean.bad is None:
        return boolean
    return _parse_string(text, isnull)


def _expected(name: str) -> str:
    """What a good cell of a column looks like, for messages."""
    if name in _STRING_COLUMNS:
        return "text"
    if name in _BOOL_COLUMNS:
        return "a boolean (True/False)"
    if name in _INT_COLUMNS:
        return "an integer"
    if name in _FLOAT_COLUMNS:
        return "a number"
    return "parseable"


def _parse_column(name: str, text: pa.Array, kinds: frozenset[str]) -> _Parsed:
    """Parse one text column by the rule its name calls for."""
    if name in _STRING_COLUMNS:
        return _parse_string(text)
    if name in _BOOL_COLUMNS:
        return _parse_bool(text)
    if name in _INT_COLUMNS:
        return _parse_int(text)
    if name in _FLOAT_COLUMNS:
        return _parse_float(text)
    return _infer(text, kinds)


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # what this process may run on, not the machine's count
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _parse_all(names: list[str], batches: list[_Batch], *,
               keep_raw: bool) -> list[tuple[pa.Array | None, _Parsed]]:
    """Parse every text column over all batches at once.

    Returns each column's result and its text where a later step needs it
    (``keep_raw``, or a cell that could not be parsed), else None.

    Whole columns, not batch by batch: each compute kernel call has a fixed
    cost, and one call per column instead of one per batch and column
    halved the parsing time of 100,000 rows in 8k-row batches.  The batches'
    text of a column is dropped once it is joined, so it is not held twice.
    """
    def one(name: str) -> tuple[pa.Array | None, _Parsed]:
        kinds = frozenset().union(*(b.kinds.get(name, frozenset()) for b in batches))
        text = _column_text(batches, name).combine_chunks()
        for b in batches:
            b.text.pop(name, None)
        parsed = _parse_column(name, text, kinds)
        # Hand the column's scratch memory back now: without this the peak RSS of 100,000
        # rows grew by about 20 MB, the allocator keeping what each column had freed.
        pa.default_memory_pool().release_unused()
        return (text if keep_raw or parsed.bad is not None else None), parsed

    rows = sum(b.n for b in batches)
    workers = min(len(names), _usable_cpus(), 4)
    if workers < 2 or rows < _THREADED_ROWS:
        return [one(name) for name in names]
    # The kernels release the GIL, so columns parse side by side on the cores there are.
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hpo-normalize") as pool:
        return list(pool.map(one, names))


# --------------------------------------------------------------------------- params


def _unify_params(chunks: list[_Typed]) -> pa.ChunkedArray:
    kinds = {chunk.kind for chunk in chunks if chunk.kind != "null"}
    if not kinds:  # never set anywhere: keep the column, typed as text
        return pa.chunked_array([pa.nulls(len(c.values), pa.string()) for c in chunks], pa.string())
    target: pa.DataType
    if kinds == {"int"}:
        target = pa.int64()
    elif kinds <= {"int", "float"}:
        target = pa.float64()
    elif kinds == {"bool"}:
        target = pa.bool_()
    elif kinds == {"str"}:
        target = pa.string()
    else:
        return pa.chunked_array([_as_json_text(c) for c in chunks], pa.string())
    try:
        return pa.chunked_array(
            [pa.nulls(len(c.values), target) if c.kind == "null" else c.values.cast(target) for c in chunks], target
        )
    except pa.ArrowInvalid:  # an integer float64 cannot hold exactly: JSON text, as within one batch
        return pa.chunked_array([_as_json_text(c) for c in chunks], pa.string())


def _as_json_text(chunk: _Typed) -> pa.Array:
    array, kind = chunk.values, chunk.kind
    if chunk.json is not None:
        return chunk.json
    if kind in ("json", "null", "int"):
        return array.cast(pa.string())
    if kind == "bool":
        return pc.if_else(array, "true", "false")
    return _json_texts(array.to_pylist())


# --------------------------------------------------------------------------- assembly


def _column_text(batches: list[_Batch], name: str) -> pa.ChunkedArray:
    """A column's original text over all batches."""
    chunks = []
    for b in batches:
        chunks.append(b.text.get(name, pa.nulls(b.n, pa.string())))
    return pa.chunked_array(chunks, pa.string())


def _where(batches: list[_Batch], position: int) -> tuple[int, int, str | None]:
    for batch in batches:
        if position < batch.n:
            page = int(batch.page[position])
            return page, int(batch.row[position]), batch.labels.get(page)
        position -= batch.n
    raise IndexError(position)  # pragma: no cover


def _place(batches: list[_Batch], position: int) -> str:
    """Where the row at ``position`` came from, for messages: ``page P row R`` (``of FILE`` when known)."""
    page, row, label = _where(batches, position)
    return f"page {page} row {row}" + (f" of {label}" if label else "")


def _report_bad(name: str, bad: np.ndarray, text: pa.Array, batches: list[_Batch], *,
                expected: str, errors: Errors, keep_raw: bool) -> None:
    positions = np.flatnonzero(bad)
    first = int(positions[0])
    page, row, label = _where(batches, first)
    raw = text[first].as_py()
    if errors == "raise":
        raise CellParseError(f"cell is not {expected}", page=page, row=row, column=name, value=raw, source=label)
    where = _place(batches, first)
    advice = "kept in raw/" + name if keep_raw else "pass keep_raw=True to keep the text"
    warnings.warn(
        ParseWarning(
            f"column {name!r}: {len(positions)} cell(s) are not {expected} and became null "
            f"(first at {where}: {raw!r}); {advice}, or errors='raise' to fail"
        ),
        stacklevel=4,
    )


def _empty_table(headers: list[list[str]], kind: str) -> pa.Table:
    names: list[str] = []
    for header in headers:
        names.extend(h for h in header if h not in names)
    if not names:
        fields = [pa.field(n, t) for n, t in KNOWN_COLUMNS.items()]
    else:
        present = set(names)
        if "config" in present:
            present.add("trial_index")
        fields = [pa.field(n, t) for n, t in KNOWN_COLUMNS.items() if n in present]
        fields += [pa.field(n, pa.float64()) for n in names if n not in KNOWN_COLUMNS and n not in ("", "config")]
    schema = pa.schema(fields, metadata=_metadata(kind))
    return schema.empty_table()


def _metadata(kind: str) -> dict[bytes, bytes]:
    return {METADATA_TABLE: kind.encode(), METADATA_VERSION: __version__.encode()}


def _assemble(collector: _Collector, *, kind: str, keep_raw: bool, errors: Errors) -> pa.Table:
    batches = collector.batches
    if not batches:
        return _empty_table(collector.headers, kind)
    names: list[str] = []
    param_names: list[str] = []
    extra_names: list[str] = []
    for batch in batches:
        names.extend(n for n in batch.text if n not in names)
        param_names.extend(n for n in batch.params if n not in param_names)
        extra_names.extend(n for n in batch.extras if n not in extra_names)
    has_config = any(b.has_config for b in batches)
    columns: dict[str, pa.Array] = {}
    raw: dict[str, pa.Array] = {}
    for name, (text, parsed) in zip(names, _parse_all(names, batches, keep_raw=keep_raw)):
        if parsed.bad is not None:
            assert text is not None
            expected = "a number (a vector tensor in a column of numbers has no single value)" \
                if parsed.vector_cells else _expected(name)
            _report_bad(name, parsed.bad, text, batches, expected=expected, errors=errors, keep_raw=keep_raw)
        columns[name] = parsed.values
        if keep_raw and parsed.values.type != pa.string():
            assert text is not None
            raw[f"raw/{name}"] = text
    if has_config:
        offsets = np.cumsum([0] + [b.n for b in batches])
        bad_cfg = [(int(offsets[i]) + pos, cell, why) for i, b in enumerate(batches) for pos, cell, why in b.config_bad]
        if bad_cfg:
            position, cell, why = bad_cfg[0]
            page, row, label = _where(batches, position)
            if errors == "raise":
                raise CellParseError(f"config cannot be parsed: {why}", page=page, row=row, column="config",
                                     value=cell, source=label)
            where = _place(batches, position)
            warnings.warn(
                ParseWarning(
                    f"column 'config': {len(bad_cfg)} cell(s) cannot be parsed ({why}) and their parameters "
                    f"became null (first at {where}: {cell!r}); "
                    + ("kept in raw/config" if keep_raw else "pass keep_raw=True to keep the text")
                ),
                stacklevel=3,
            )
        columns["trial_index"] = pa.chunked_array(
            [b.trial_index if b.trial_index is not None else pa.nulls(b.n, pa.int64()) for b in batches], pa.int64()
        )
        for name in param_names:
            chunks = [b.params.get(name, _Typed(pa.nulls(b.n), "null")) for b in batches]
            columns[name] = _unify_params(chunks)
        _warn_conflicts(batches)
        for name in extra_names:
            parts = [b.extras.get(name) for b in batches]
            if all(part is None or part.twin is not None for part in parts):
                continue  # the same value as its param/ twin wherever it appears: nothing to keep apart
            columns[name] = _unify_params([
                _Typed(pa.nulls(b.n), "null") if part is None
                else part.values if part.values is not None else b.params[part.twin]  # type: ignore[index]
                for b, part in zip(batches, parts)
            ])
            param_names.append(name)
        if keep_raw:
            raw["raw/config"] = pa.chunked_array(
                [b.config_raw if b.config_raw is not None else pa.nulls(b.n, pa.string()) for b in batches],
                pa.string(),
            )
    ordered = [n for n in KNOWN_COLUMNS if n in columns]
    ordered += [n for n in names if n not in KNOWN_COLUMNS]
    ordered = list(dict.fromkeys(ordered + param_names))
    table = pa.table({n: columns[n] for n in ordered} | raw, metadata=_metadata(kind))
    return _select_rows(table, kind, lambda position: _place(batches, position))


def _warn_conflicts(batches: list[_Batch]) -> None:
    """One ParseWarning per config key whose value disagrees with its ``param/`` twin in some row."""
    offsets = np.cumsum([0] + [b.n for b in batches])
    by_key: dict[Any, list[tuple[int, Any, Any]]] = {}
    for i, batch in enumerate(batches):
        for pos, key, value, twin in batch.conflicts:
            by_key.setdefault(key, []).append((int(offsets[i]) + pos, value, twin))
    for key, rows in by_key.items():
        position, value, twin = rows[0]
        where = _place(batches, position)
        warnings.warn(
            ParseWarning(
                f"config key {key!r} disagrees with {PARAM_PREFIX}{key} in {len(rows)} row(s) "
                f"(first at {where}: {value!r} vs {twin!r}); both are kept, as "
                f"{CONFIG_PREFIX}{key} and {PARAM_PREFIX}{key}"
            ),
            stacklevel=4,
        )


def _select_rows(table: pa.Table, kind: str, locate: Callable[[int], str]) -> pa.Table:
    """Resolve duplicates and order rows by trial (and iteration, for curves).

    A trial is its ``trial_id``.  Of several rows of one trial (of one
    ``(trial_id, training_iteration)`` for curves) the one with the highest
    ``training_iteration`` wins, then the last one seen.  Nothing here looks
    at where pages or batches begin, so the same rows in other pages give
    the same table; a trial seen under several ``trial_index`` values gets a
    ParseWarning (``locate(position)`` says where a row came from).
    """
    n = table.num_rows
    if "trial_id" not in table.column_names:
        return table
    ids = table["trial_id"]
    ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
    if ids.null_count or not _distinct(ids):
        encoded = pc.dictionary_encode(ids)
        codes = np.asarray(pc.fill_null(encoded.indices, -1), dtype=np.int64)
        nulls = codes < 0
        # Rows without an id cannot be duplicates of anything: give each its own code.
        codes[nulls] = len(encoded.dictionary) + np.arange(int(nulls.sum()))
        if "trial_index" in table.column_names:
            _warn_index_conflicts(table, codes, locate)
        iteration = (
            np.asarray(pc.fill_null(table["training_iteration"], np.iinfo(np.int64).min))
            if "training_iteration" in table.column_names
            else np.zeros(n, dtype=np.int64)
        )
        order = np.lexsort((np.arange(n), iteration, codes))
        sorted_codes = codes[order]
        if kind == "trials":
            # The last row of each trial's group has its highest iteration, then is the last seen.
            last = np.r_[sorted_codes[1:] != sorted_codes[:-1], True]
        else:
            sorted_iter = iteration[order]
            same = (sorted_codes[1:] == sorted_codes[:-1]) & (sorted_iter[1:] == sorted_iter[:-1])
            last = np.r_[~same, True]
        table = table.take(pa.array(np.sort(order[last])))
    return _order(table, kind)


def _distinct(ids: pa.Array) -> bool:
    """Whether no two cells of a string array (without nulls) are equal.

    Ray's ids are 8 characters: ids of one length up to 8 bytes are read
    as unsigned 64-bit integers straight from the buffer (equal integers if
    and only if equal strings) and hashed by pandas, a few times cheaper
    than hashing them as strings; other ids go to Arrow.
    """
    n = len(ids)
    if n < 2:
        return True
    buffers = _string_buffers(ids)
    if buffers is not None:
        offsets, data = buffers
        width = int(offsets[1] - offsets[0])
        if 0 < width <= 8 and int(offsets[-1] - offsets[0]) == width * n and \
                bool((np.diff(offsets) == width).all()):
            block = data[offsets[0]:offsets[-1]].reshape(n, width)
            if width < 8:
                block = np.concatenate([block, np.zeros((n, 8 - width), dtype=np.uint8)], axis=1)
            import pandas as pd  # imported by the package already; kept out of the module's import time

            return not pd.Series(np.ascontiguousarray(block).view(np.uint64).ravel()).duplicated().any()
    return pc.count_distinct(ids).as_py() == n


def _warn_index_conflicts(table: pa.Table, codes: np.ndarray, locate: Callable[[int], str]) -> None:
    """A ParseWarning when one trial_id comes with different (non-null) trial_index values."""
    index = table["trial_index"]
    present = np.asarray(index.is_valid())
    if not present.any():
        return
    values = np.asarray(pc.fill_null(index, 0), dtype=np.int64)
    rows = np.flatnonzero(present)
    order = rows[np.lexsort((values[rows], codes[rows]))]
    c, v = codes[order], values[order]
    clash = (c[1:] == c[:-1]) & (v[1:] != v[:-1])
    if not clash.any():
        return
    trials = np.unique(c[1:][clash])
    first = int(trials[0])
    mine = order[c == first]
    shown = sorted(set(values[mine].tolist()))
    trial_id = table["trial_id"][int(mine[0])].as_py()
    where = f" (at {', '.join(locate(int(p)) for p in sorted(mine.tolist())[:3])})"
    warnings.warn(
        ParseWarning(
            f"{len(trials)} trial(s) appear under more than one trial_index: trial {trial_id!r} as "
            f"{', '.join(map(str, shown[:5]))}{where}; one row per trial_id is kept (highest "
            "training_iteration, then the last seen), with that row's trial_index"
        ),
        stacklevel=5,
    )


def _order(table: pa.Table, kind: str) -> pa.Table:
    names = table.column_names
    if "trial_index" in names:
        index = table["trial_index"]
        if index.null_count == 0:
            values = np.asarray(index)
            ascending = np.all(values[1:] > values[:-1]) if kind == "trials" else np.all(values[1:] >= values[:-1])
            if ascending and (kind == "trials" or _iterations_ascending(table)):
                return table
    keys = [k for k in ("trial_index", "trial_id") if k in names]
    if kind == "curves" and "training_iteration" in names:
        keys.append("training_iteration")
    if not keys:
        return table
    # sort_indices is stable, so rows that tie keep their input order.
    subset = table.select(keys)
    try:
        order = pc.sort_indices(subset, sort_keys=[(k, "ascending", "at_end") for k in keys])
    except (TypeError, ValueError, pa.ArrowInvalid):  # pyarrow < 25 takes one placement for all keys
        order = pc.sort_indices(subset, sort_keys=[(k, "ascending") for k in keys], null_placement="at_end")
    return table.take(order)


def _iterations_ascending(table: pa.Table) -> bool:
    if "training_iteration" not in table.column_names:
        return True
    it = table["training_iteration"]
    if it.null_count:
        return False
    index = np.asarray(table["trial_index"])
    values = np.asarray(it)
    same_trial = index[1:] == index[:-1]
    return bool(np.all(~same_trial | (values[1:] > values[:-1])))


def _check_errors(errors: str) -> None:
    if errors not in ("coerce", "raise"):
        raise ConfigurationError(f"errors must be 'coerce' or 'raise', not {errors!r}")


# --------------------------------------------------------------------------- public


def trials_to_arrow(source: Any, *, keep_raw: bool = False, errors: Errors = "coerce") -> pa.Table:
    """Convert autosearch trial pages into one typed Arrow table, one row per trial.

    ``source`` is a full response (``{"total", "count", "limit", "offset",
    "items": {"header", "data"}}``), a bare ``{"header", "data"}`` matrix,
    raw JSON ``bytes``/``str`` (one page or a list of pages), a path to a
    file or directory of pages, or an iterable of any of these.

    A trial is identified by its ``trial_id``: the table has one row per
    ``trial_id``.  When a trial appears more than once, the row with the
    highest ``training_iteration`` wins, then the last one seen; a trial seen
    under different ``trial_index`` values also gets a
    :class:`~hpo_analytics.errors.ParseWarning`.  The result does not depend
    on how the rows are cut into pages or in which order the pages come
    (except, by that rule, which of two rows at the same iteration was seen
    last).  Rows are ordered by ``trial_index`` (then ``trial_id``).

    Known columns get fixed types (``trial_id``/``status`` string, ``done``
    bool, ``training_iteration``/``pid``/``worker_index`` int64,
    ``time_total_s``/``reward_attr``/``best_reward`` float64, ``trial_index``
    int64 from the config).  Hyperparameters become ``param/<name>``
    columns: the config's ``param/`` keys, or every key when a config has
    none.  Nothing else in a config is dropped: a key beside the ``param/``
    keys that repeats its ``param/`` twin with the same value collapses into
    it; any other key becomes a ``config/<name>`` column (a ``seed``, a
    ``data_version``), and a key whose value disagrees with its ``param/``
    twin keeps both columns with a ParseWarning.  Other columns are inferred:
    float64 when every non-empty cell is a number or scalar tensor (a rare
    vector ``tensor([...])`` among them becomes null with a ParseWarning),
    list<float64> only when every non-empty cell is a vector, else bool or
    string.  ``""``, ``"None"``, ``"null"`` and JSON null are null;
    ``"nan"`` stays NaN.

    A cell of a typed column that cannot be parsed becomes null with a
    :class:`~hpo_analytics.errors.ParseWarning` (``errors="coerce"``) or
    raises :class:`~hpo_analytics.errors.CellParseError` (``errors="raise"``);
    ``keep_raw=True`` adds ``raw/<column>`` with the original text of every
    typed column.  Malformed structure raises
    :class:`~hpo_analytics.errors.MatrixError` naming page, row and column.
    """
    _check_errors(errors)
    collector = _collect(source, keep_raw=keep_raw)
    return _assemble(collector, kind="trials", keep_raw=keep_raw, errors=errors)


def curves_to_arrow(source: Any, *, keep_raw: bool = False, errors: Errors = "coerce") -> pa.Table:
    """Like :func:`trials_to_arrow`, but one row per (trial, ``training_iteration``).

    This is the long form for learning curves: the per-trial endpoint returns
    one row per reported iteration.  A (trial, iteration) pair seen twice
    keeps the last row seen.  Rows are ordered by trial, then iteration.
    """
    _check_errors(errors)
    collector = _collect(source, keep_raw=keep_raw)
    return _assemble(collector, kind="curves", keep_raw=keep_raw, errors=errors)


def trials_to_pandas(source: Any, *, keep_raw: bool = False, errors: Errors = "coerce") -> Any:
    """:func:`trials_to_arrow` as a pandas frame (see :func:`to_pandas`); also accepts an Arrow table."""
    table = source if isinstance(source, pa.Table) else trials_to_arrow(source, keep_raw=keep_raw, errors=errors)
    return to_pandas(table)


def curves_to_pandas(source: Any, *, keep_raw: bool = False, errors: Errors = "coerce") -> Any:
    """:func:`curves_to_arrow` as a pandas frame (see :func:`to_pandas`); also accepts an Arrow table."""
    table = source if isinstance(source, pa.Table) else curves_to_arrow(source, keep_raw=keep_raw, errors=errors)
    return to_pandas(table)


def algorithms_to_pandas(catalogue: Any, *, errors: Errors = "coerce") -> Any:
    """The search-algorithm catalogue as a frame: one row per (algorithm, parameter).

    ``catalogue`` is the response of ``GET /v2/{project_id}/search-algorithms``
    (a dict, or its JSON text).  Columns: ``algorithm``, ``description``,
    ``param``, ``type``, ``value`` (converted by ``type``: ``Integer`` to int,
    ``Float`` to float, ``String`` and unknown types kept as text) and
    ``value_text`` (the original string).  An algorithm without parameters
    gets one row with null parameter fields.
    """
    import pandas as pd

    _check_errors(errors)
    if isinstance(catalogue, (bytes, bytearray, memoryview, str)):
        catalogue = _parse_json(catalogue, page=0, source=None)
    if not isinstance(catalogue, Mapping) or not isinstance(catalogue.get("search_algo_list"), list):
        raise MatrixError("catalogue has no 'search_algo_list' list", value=catalogue)
    rows = []
    bad: list[tuple[int, str, Any]] = []
    for index, algo in enumerate(catalogue["search_algo_list"]):
        if not isinstance(algo, Mapping):
            raise MatrixError("algorithm entry is not an object", row=index, value=algo)
        name, description = algo.get("name"), algo.get("description")
        params = algo.get("params") or []
        if not isinstance(params, list):
            raise MatrixError("'params' is not a list", row=index, column="params", value=params)
        if not params:
            rows.append((name, description, None, None, None, None))
        for param in params:
            if not isinstance(param, Mapping):
                raise MatrixError("parameter entry is not an object", row=index, column="params", value=param)
            kind, text = param.get("type"), param.get("value")
            value: Any = text
            if isinstance(text, str):
                try:
                    if kind == "Integer":
                        value = int(text.strip())
                    elif kind == "Float":
                        value = float(text.strip())
                except ValueError:
                    bad.append((index, str(param.get("key")), text))
            rows.append((name, description, param.get("key"), kind, value, text))
    if bad:
        index, key, text = bad[0]
        if errors == "raise":
            raise CellParseError("parameter value does not match its type", row=index, column=key, value=text)
        warnings.warn(
            ParseWarning(f"{len(bad)} parameter value(s) do not match their type and were kept as text "
                         f"(first: algorithm {index}, {key}={text!r})"),
            stacklevel=2,
        )
    frame = pd.DataFrame(rows, columns=["algorithm", "description", "param", "type", "value", "value_text"])
    frame["value"] = frame["value"].astype(object)
    return frame
