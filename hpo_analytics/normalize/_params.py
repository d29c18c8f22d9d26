"""Search parameters: ``config`` cells to typed ``param/`` and ``config/`` values, and their types across batches.

Per batch, :func:`_config_batch` (configs the service sent: dicts, JSON or
Python-repr text) and :func:`_struct_config_batch` (configs the fast path
decoded into structs) fill the batch's ``trial_index``, one
:class:`_Typed` per ``param/`` key and one :class:`_Extra` per other key.
A parameter's kind (int, float, bool, str, json or null) is decided per
batch by :func:`_typed_values`; :func:`_unify_params` then gives it one
Arrow type over all batches, JSON text where the kinds do not mix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import repeat
from operator import attrgetter, is_, itemgetter
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import _jsonutil
from .._pyrepr import parse_python_literal
from .._table import CONFIG_PREFIX, PARAM_PREFIX
from ..errors import CellParseError
from ._fastpages import MISSING, astuple, optional_keys

if TYPE_CHECKING:
    from ._batches import _Batch

_EMPTY: dict[str, Any] = {}


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
        # An int beyond 2**53 would not round-trip through float64: such a mix is JSON text.
        if kinds <= {int, float} and not (int in kinds and any(type(v) is int and abs(v) > 2**53 for v in values)):
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
            value = parse_python_literal(text)  # raises CellParseError
        if isinstance(value, str):  # doubly encoded
            return _parse_config_cell(value)
    else:
        value = cell
    if value is None:
        return _EMPTY
    if not isinstance(value, dict):
        raise CellParseError(f"config is a {type(value).__name__}, not an object")
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
            except (ValueError, RecursionError) as exc:  # a CellParseError, or int() past Python's digit limit
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


def _index_only_batch(batch: _Batch, cells: Sequence[Any], fields: tuple[tuple[str, str], ...] | None) -> bool:
    """Read only ``trial_index`` from a batch's configs (no parameter column is asked for); False: read them whole.

    Taken only where it gives exactly what reading the configs whole gives:
    every config an object (a dict, or a fast-path struct with the fields
    ``fields`` name) and the batch's ``trial_index`` values all integers
    (or absent in some rows).  A cell still to parse, a struct of an
    earlier plan, or a ``trial_index`` that is not an integer is read whole,
    which reports it.  The parameters are not typed, so their conflicts are
    not looked for: as for any column not asked for.
    """
    if fields is None:
        if set(map(type, cells)) != {dict}:
            return False
        values = [config.get("trial_index") for config in cells]
    else:
        attr = next((name for name, key in fields if key == "trial_index"), None)
        if attr is None:
            return False
        try:
            values = list(map(attrgetter(attr), cells))
        except AttributeError:  # a run decoded before the key was learned: its structs lack the field
            return False
        values = [None if value is MISSING else value for value in values]
    typed = _typed_values(values)
    if typed.values.type != pa.int64():
        return False
    batch.has_config = True
    batch.trial_index = typed.values
    return True


def _transposed(cells: Sequence[Any], keys: list[str], runs: list[tuple[int, int, int]] | None) -> dict[str, list[Any]]:
    """Each key's value in every row, from structs whose fields are the keys in order.

    A struct is made a tuple in C (``astuple``) and the tuples transposed by
    ``zip``: no Python-level call per cell.  Rows of a run decoded before a
    late key was learned have fewer fields: :data:`MISSING` stands for the
    rest.
    """
    n = len(cells)
    if runs is None or len(runs) < 2:
        runs = [(0, n, len(keys))]
    raw: dict[str, list[Any]] = {key: [] for key in keys}
    for start, stop, width in runs:
        part = cells if (start, stop) == (0, n) else cells[start:stop]
        columns = zip(*map(astuple, part)) if width and stop > start else iter(())
        for key, values in zip(keys[:width], columns):
            raw[key].extend(values)
        for key in keys[width:]:
            raw[key].extend(repeat(MISSING, stop - start))
    return raw


def _struct_config_batch(batch: _Batch, cells: Sequence[Any], fields: tuple[tuple[str, str], ...], *,
                         keep_raw: bool, exact: Callable[[Iterable[int]], dict[int, Any]],
                         known: set[str] | frozenset[str] = frozenset(),
                         runs: list[tuple[int, int, int]] | None = None) -> None:
    """Configs decoded by the fast path: structs with a field per key ``fields`` name.

    A key a row lacks is :data:`MISSING` in its struct (a conditional
    parameter); a key no row of the batch has is not part of the batch.
    Where the order of a row's keys decides something (which of two new
    columns comes first, the order of conflict warnings, rows without any
    ``param/`` key), ``exact(positions)`` gives those rows' configs as the
    service wrote them; ``known`` are the column names earlier batches made.
    ``runs`` are (start, stop, number of fields) of rows decoded before a
    late key was learned: their structs have only the first fields.
    """
    batch.has_config = True
    n = len(cells)
    raw = _transposed(cells, [key for _, key in fields], runs)
    # How many rows lack each key. Only a struct's optional fields can be MISSING, and a key past
    # the fields of a run (learned later); the other keys are in every row: nothing to count.
    optional: set[str] = set()
    for struct_type in set(map(type, cells)):
        optional.update(optional_keys(struct_type))
    for start, stop, width in runs or ():
        if stop > start:
            optional.update(key for _, key in fields[width:])
    lacking = {key: column.count(MISSING) if key in optional else 0 for key, column in raw.items()}
    keys = [key for key in raw if lacking[key] < n]

    def dicts() -> list[dict[str, Any]]:
        """The configs as the service wrote them (rarely needed: read again from the pages)."""
        configs = exact(range(n))
        return [configs[pos] for pos in range(n)]

    if keep_raw:  # as the service wrote it, keys in its order: read again from the page
        batch.config_raw = pa.array([_jsonutil.dumps(d) for d in dicts()], type=pa.string())
    if not n:
        return
    prefixed = [k for k in keys if k.startswith(PARAM_PREFIX)]
    if prefixed and all(lacking[k] for k in prefixed):
        # Some row may have no param/ key at all; such a row contributes its other keys, in its own order.
        missing = np.ones(n, dtype=bool)
        for key in prefixed:
            missing &= np.fromiter(map(is_, raw[key], repeat(MISSING)), dtype=bool, count=n)
        if missing.any():
            configs = dicts()
            _config_params(batch, cells, list(dict.fromkeys(k for d in configs for k in d)),
                           lambda key: [d.get(key) for d in configs], lambda: configs, uniform=False, structs=True)
            return
    # Keys in the order the service's rows first show them: by the first row that has each, then by
    # that row's own order, read from its text when two keys that name new columns first meet there.
    first = {key: 0 if not lacking[key] else next(i for i, v in enumerate(raw[key]) if v is not MISSING)
             for key in keys}
    rank = {key: i for i, key in enumerate(keys)}

    def new(key: str) -> bool:
        if key == "trial_index":
            return False
        if key.startswith(PARAM_PREFIX):
            return key not in known
        return (f"{CONFIG_PREFIX}{key}" if prefixed else f"{PARAM_PREFIX}{key}") not in known

    meeting: dict[int, int] = {}
    for key in keys:
        if new(key):
            meeting[first[key]] = meeting.get(first[key], 0) + 1
    shown = exact(row for row, count in meeting.items() if count > 1)
    for row, config in shown.items():
        for i, key in enumerate(config):
            if first.get(key) == row:
                rank[key] = i
    keys.sort(key=lambda key: (first[key], rank[key]))

    if not any(lacking[key] for key in keys):
        _config_params(batch, cells, keys, raw.__getitem__, dicts, uniform=True, structs=True)
        _exact_conflicts(batch, exact, by_row=False)
        return
    filled: dict[str, list[Any]] = {}

    def column(key: str) -> list[Any]:
        """One key's values with None where a row lacks it (as ``dict.get`` gives)."""
        if not lacking[key]:
            return raw[key]
        if key not in filled:
            filled[key] = [None if value is MISSING else value for value in raw[key]]
        return filled[key]

    _config_params(batch, cells, keys, column, dicts, uniform=False, structs=True,
                   present=lambda key: raw[key] if lacking[key] else None)
    _exact_conflicts(batch, exact, by_row=True)


def _exact_conflicts(batch: _Batch, exact: Callable[[Iterable[int]], dict[int, Any]], *, by_row: bool) -> None:
    """Put a batch's conflicts in the order the row-by-row loop finds them, by the rows' own key order.

    ``by_row``: row by row, and within a row in its keys' order (rows that
    differ); else key by key in the first row's key order (rows alike).
    """
    conflicts = batch.conflicts
    if len({key for _, key, _, _ in conflicts}) < 2:
        return
    if by_row:
        rows: dict[int, int] = {}
        for pos, _, _, _ in conflicts:
            rows[pos] = rows.get(pos, 0) + 1
        shown = exact(pos for pos, count in rows.items() if count > 1)
        order = {pos: {key: i for i, key in enumerate(config)} for pos, config in shown.items()}
        conflicts.sort(key=lambda c: (c[0], order[c[0]][c[1]] if c[0] in order else 0))
    else:
        first = {key: i for i, key in enumerate(exact([0])[0])}
        conflicts.sort(key=lambda c: first[c[1]])  # stable: row order within a key


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


def _alike_twin(values: Sequence[Any], twins: Sequence[Any], typed: _Typed) -> tuple[list[int], bool]:
    """:func:`_bool_mismatches` and :func:`_types_as_twin` at once, for values equal to their twins row by row.

    The common cases need one look at the values' types at most: a twin of
    floats none of which is integral can only be equalled by floats, a twin
    of ints by ints and integral floats (and bools, the one mismatch), a twin
    of bools by bools (or 0 and 1).  :data:`MISSING` may stand in both lists
    where a row lacks both keys.
    """
    kind = typed.kind
    if kind in ("str", "null"):
        return [], True  # only a str equals a str; None (or MISSING) only equals itself
    if kind == "float":
        numbers = typed.values.to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            if not (numbers == np.floor(numbers)).any():
                return [], True
    elif kind in ("int", "bool"):
        kinds = set(map(type, values))
        if kind == "int" and bool not in kinds:
            return [], float not in kinds
        if kind == "bool" and kinds <= _BOOL_OR_ABSENT:
            return [], True
    return _bool_mismatches(values, twins, typed), _types_as_twin(values, typed)


_BOOL_OR_ABSENT = frozenset({bool, type(None), type(MISSING)})


def _types_as_twin(values: Sequence[Any], typed: _Typed) -> bool:
    """Whether ``values``, equal to the twin's values row by row and alike as bools, would type as ``typed`` did.

    Equal values of the same Python types give the same Arrow array and the
    same JSON text; what can differ is an int beside an equal float (the
    kind, or which cells keep JSON text), a 0.0 beside a -0.0, and nested
    values as JSON text.  Where that cannot be ruled out cheaply, say no.
    """
    if typed.kind in ("str", "bool", "null"):
        return True  # only a str equals a str; bools were compared as bools; None only equals None
    if typed.kind == "int":
        return float not in set(map(type, values))  # equal to ints: ints, or floats such as 1.0
    if typed.kind == "float":
        # Equal to floats none of which is integral (0.0 and -0.0 included): floats themselves.
        numbers = typed.values.to_numpy(zero_copy_only=False)
        with np.errstate(invalid="ignore"):
            return not (numbers == np.floor(numbers)).any()
    return False


def _config_params(batch: _Batch, cells: Sequence[Any], keys: list[Any],
                   column: Callable[[Any], Sequence[Any]], dicts: Callable[[], Sequence[dict[Any, Any]]], *,
                   uniform: bool, structs: bool = False,
                   present: Callable[[Any], Sequence[Any] | None] | None = None) -> None:
    """Fill ``trial_index``, the ``param/`` columns and the other config keys of a batch from its configs.

    ``keys`` are the config keys in first-seen order, ``column(key)`` one
    key's value in every row (None where a row lacks it) and ``dicts()`` the
    configs as dicts, asked for only in the rare cases that need them.
    ``uniform`` says every config has the same keys; ``structs`` that the
    cells are fast-path structs rather than what the service sent.  With
    ``present``, every row has a ``param/`` key and ``present(key)`` gives a
    key's values with :data:`MISSING` where a row lacks it (None when no
    row does): then rows that differ are handled a key at a time, not a row
    at a time.

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
    if present is not None:
        _sparse_params(batch, prefixed, others, column, present)
        return
    # Rows differ: each row contributes its param/ keys, or all its keys when it has none.
    # Only rows with param/ keys have other keys beside them, so only their keys are candidates, in
    # the order those rows show them (as when every row is a batch of its own).
    rows: list[dict[Any, Any]] = []
    extra_values: dict[Any, list[Any]] = {}
    kept: set[Any] = set()
    for pos, d in enumerate(dicts()):
        own = {k: v for k, v in d.items() if isinstance(k, str) and k.startswith(PARAM_PREFIX)}
        if not own:
            rows.append({f"{PARAM_PREFIX}{k}": v for k, v in d.items() if k != "trial_index"})
            continue
        rows.append(own)
        for key, value in d.items():
            if key == "trial_index" or key in own:
                continue
            if key not in extra_values:
                extra_values[key] = [None] * len(cells)
            extra_values[key][pos] = value
            twin = f"{PARAM_PREFIX}{key}"
            if twin not in own:
                kept.add(key)
            elif not _same_value(value, own[twin]):
                kept.add(key)
                batch.conflicts.append((pos, key, value, own[twin]))
    for name in dict.fromkeys(k for d in rows for k in d):
        batch.params[name] = _typed_values([d.get(name) for d in rows])
    for key in extra_values:
        twin = f"{PARAM_PREFIX}{key}"
        if key in kept or twin not in batch.params:
            batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(_typed_values(extra_values[key]), None)
        else:
            # Collapsed in every row that has it; should the column exist after all, its values are these.
            batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(_typed_values(extra_values[key]), twin)


def _sparse_params(batch: _Batch, prefixed: list[Any], others: list[Any], column: Callable[[Any], Sequence[Any]],
                   present: Callable[[Any], Sequence[Any] | None]) -> None:
    """What the row-by-row loop of :func:`_config_params` gives when every row has a ``param/`` key, by key."""
    for key in prefixed:
        batch.params[key] = _typed_values(column(key))
    conflicts: list[tuple[int, int, Any, Any, Any]] = []
    for order, key in enumerate(others):
        twin = f"{PARAM_PREFIX}{key}"
        if twin not in batch.params:
            batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(_typed_values(column(key)), None)
            continue
        # Compared with MISSING where a row lacks a key (the same rows have both, or they differ):
        # a key that repeats its twin is never filled with None.
        mine, theirs = present(key), present(twin)
        mine = column(key) if mine is None else mine
        theirs = column(twin) if theirs is None else theirs
        if mine == theirs:  # the same rows have both, with equal values but for True == 1
            differ, same_types = _alike_twin(mine, theirs, batch.params[twin])
            if not differ and same_types:
                batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(None, twin)  # typed, they would be the twin's array
                continue
        else:
            differ = [pos for pos, (a, b) in enumerate(zip(mine, theirs))
                      if a is not MISSING and (b is MISSING or not _same_value(a, b))]
        values = column(key)
        if differ:
            twins = column(twin)
            marks = present(twin)
            conflicts.extend((pos, order, key, values[pos], twins[pos]) for pos in differ
                             if marks is None or marks[pos] is not MISSING)
        batch.extras[f"{CONFIG_PREFIX}{key}"] = _Extra(_typed_values(values), None if differ else twin)
    conflicts.sort(key=itemgetter(0, 1))  # row by row (within a row, see _exact_conflicts)
    batch.conflicts.extend((pos, key, value, twin) for pos, _, key, value, twin in conflicts)


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
