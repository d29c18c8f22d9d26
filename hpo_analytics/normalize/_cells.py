"""Cell parsing: each text column parsed once, vectorised, over all batches.

The known columns have fixed types (:data:`KNOWN_COLUMNS`); any other
column's type is inferred from its cells (:func:`_infer`).  The work is
done with :mod:`pyarrow.compute` and numpy views of the Arrow buffers:
null tokens (``""``, ``"None"``, ``"null"``), plain numbers, scalar
wrappers such as ``tensor(0.07, device='cuda:0')``, vectors, booleans.
A cast is only tried where it will succeed (a failing Arrow cast is slow),
and several columns are parsed at once on a small thread pool, since the
kernels release the GIL.  A cell that cannot be parsed is marked in the
result's ``bad`` mask; what to do about it is the caller's business.
"""

from __future__ import annotations

import os
import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:
    from ._batches import _Batch

__all__ = ["KNOWN_COLUMNS"]

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


def _column_text(batches: list[_Batch], name: str) -> pa.ChunkedArray:
    """A column's original text over all batches."""
    chunks = []
    for b in batches:
        chunks.append(b.text.get(name, pa.nulls(b.n, pa.string())))
    return pa.chunked_array(chunks, pa.string())
