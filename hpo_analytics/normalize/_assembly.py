"""Table assembly: parsed columns and parameters into one table, one row per trial (or per iteration).

:func:`_assemble` takes the batches of a conversion, has their text columns
parsed (:mod:`._cells`) and their parameters unified (:mod:`._params`),
reports the cells and configs that could not be parsed (a ParseWarning, or
a CellParseError with ``errors="raise"``), orders the columns (the known
ones first), records the table's kind and the library version in the
schema metadata, and resolves duplicate rows by ``trial_id`` before
ordering the rows (:func:`_select_rows`).  No rows give an empty table
with the columns the headers named.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._table import CONFIG_PREFIX, METADATA_TABLE, METADATA_VERSION, PARAM_PREFIX, sort_rows
from .._version import __version__
from ..errors import CellParseError, ParseWarning
from ._cells import KNOWN_COLUMNS, _expected, _parse_all, _string_buffers
from ._params import _Typed, _unify_params

if TYPE_CHECKING:
    from ._batches import _Batch, _Collector

Errors = Literal["coerce", "raise"]


def _where(batches: list[_Batch], position: int) -> tuple[int, int, str | None]:
    """The page, row and file (None when not read from one) of the row at ``position`` over all batches."""
    for batch in batches[:-1]:
        if position < batch.n:
            break
        position -= batch.n
    else:
        batch = batches[-1]  # a position past its rows is an IndexError below, never a wrong place
    page = int(batch.page[position])
    return page, int(batch.row[position]), batch.labels.get(page)


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
    return sort_rows(table, keys)


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
