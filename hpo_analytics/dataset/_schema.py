"""One schema for every job's file: unification by column name, and the way back to each job's own table.

The type rule (when jobs disagree about a column):

* the same type: kept;
* ``null`` (a column with no value yet) and anything: the other type;
* ``int64`` and ``float64``: ``float64``;
* any other disagreement: ``string``, with a :class:`~hpo_analytics.errors.SchemaWarning`
  naming the column and the jobs. A job whose column was already text keeps
  its strings; every other job's values become their JSON text (``3``,
  ``0.5``, ``true``, ``[0.1,0.2]``), as the normalizer writes a parameter of
  mixed kinds.

Columns keep the order in which they were first seen. Each file records its
job's own schema (with the table's metadata) under :data:`JOB_SCHEMA_KEY`,
so :func:`restore` gives back exactly the table that was written.
"""

from __future__ import annotations

import base64
import warnings
from collections.abc import Iterable, Sequence

import pyarrow as pa

from .. import _jsonutil, _table
from ..errors import SchemaWarning, StateError

__all__ = [
    "JOB_SCHEMA_KEY",
    "concat_jobs",
    "conform",
    "decode_schema",
    "encode_schema",
    "restore",
    "same_table",
    "sort_rows",
    "unify",
]

#: The file metadata key holding the job's own Arrow schema (IPC, base64).
JOB_SCHEMA_KEY = b"hpo_analytics.dataset.job_schema"


def encode_schema(schema: pa.Schema) -> str:
    """An Arrow schema (with its metadata) as base64 text of its IPC form."""
    return base64.b64encode(schema.serialize().to_pybytes()).decode("ascii")


def decode_schema(text: str | bytes) -> pa.Schema:
    """The inverse of :func:`encode_schema`."""
    import pyarrow.ipc

    return pyarrow.ipc.read_schema(pa.py_buffer(base64.b64decode(text)))


def _merge_type(a: pa.DataType, b: pa.DataType) -> pa.DataType | None:
    """The type covering ``a`` and ``b``, ``None`` when only text does."""
    if a == b:
        return a
    if pa.types.is_null(a):
        return b
    if pa.types.is_null(b):
        return a
    if {a, b} == {pa.int64(), pa.float64()}:
        return pa.float64()
    return None


def unify(schemas: Iterable[tuple[str, pa.Schema]], *, kind: str = "trials") -> pa.Schema:
    """The dataset schema covering every ``(job_id, schema)``, by column name (rule in the module docstring).

    A label may stand for several jobs (the sync names the schema on disk ``"earlier syncs"``). A
    column that becomes text warns once, naming the jobs and their types.
    """
    types: dict[str, pa.DataType] = {}
    seen: dict[str, dict[str, list[str]]] = {}
    text: set[str] = set()
    for job_id, schema in schemas:
        for field in schema:
            name, t = field.name, field.type
            seen.setdefault(name, {}).setdefault(str(t), []).append(job_id)
            if name not in types:
                types[name] = t
                continue
            merged = _merge_type(types[name], t)
            if merged is None:
                merged = pa.string()
                text.add(name)
            types[name] = merged
    for name in sorted(text):
        described = "; ".join(
            f"{t} in {', '.join(jobs[:5])}{' and others' if len(jobs) > 5 else ''}"
            for t, jobs in seen[name].items()
        )
        warnings.warn(
            f"{kind} column {name!r} has different types between jobs ({described}): "
            "the dataset stores it as text (JSON text of each value)",
            SchemaWarning,
            stacklevel=3,
        )
    return pa.schema([pa.field(n, t) for n, t in types.items()])


def _as_text(column: pa.ChunkedArray) -> pa.Array:
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.combine_chunks().cast(pa.string())
    return pa.array([None if v is None else _jsonutil.dumps(v) for v in column.to_pylist()], type=pa.string())


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` (one job's own) in the dataset ``schema``: missing columns null, types widened by the rule.

    The result's metadata is the table's, plus its own schema under
    :data:`JOB_SCHEMA_KEY`. A column the schema cannot hold raises
    :class:`StateError` (the schema did not come from :func:`unify` over it).
    """
    n = table.num_rows
    names = set(table.column_names)
    missing = names - set(schema.names)
    if missing:
        raise StateError(f"columns {sorted(missing)} are not in the dataset schema")
    arrays = []
    for field in schema:
        if field.name not in names:
            arrays.append(pa.nulls(n, field.type))
            continue
        col = table[field.name]
        if col.type == field.type:
            arrays.append(col)
        elif pa.types.is_null(col.type):
            arrays.append(pa.nulls(n, field.type))
        elif field.type == pa.float64() and col.type == pa.int64():
            arrays.append(col.cast(pa.float64()))
        elif pa.types.is_string(field.type):
            arrays.append(_as_text(col))
        else:
            raise StateError(f"column {field.name!r} of type {col.type} cannot be stored as {field.type}")
    meta = dict(table.schema.metadata or {})
    meta[JOB_SCHEMA_KEY] = encode_schema(table.schema).encode("ascii")
    return pa.Table.from_arrays(arrays, schema=schema.with_metadata(meta))


def _from_text(column: pa.ChunkedArray, target: pa.DataType) -> pa.Array:
    values = [None if v is None else _jsonutil.loads(v) for v in column.to_pylist()]
    return pa.array(values, type=target)


def restore(table: pa.Table) -> pa.Table:
    """A job's own table from its file's ``table`` (the inverse of :func:`conform`).

    A table without :data:`JOB_SCHEMA_KEY` (not written by the dataset writer) is returned as is.
    """
    meta = table.schema.metadata or {}
    encoded = meta.get(JOB_SCHEMA_KEY)
    if encoded is None:
        return table
    own = decode_schema(encoded)
    arrays = []
    for field in own:
        col = table[field.name]
        if col.type == field.type:
            arrays.append(col)
        elif pa.types.is_null(field.type):
            arrays.append(pa.nulls(table.num_rows))
        elif pa.types.is_string(col.type) and not pa.types.is_string(field.type):
            arrays.append(_from_text(col, field.type))
        else:
            arrays.append(col.cast(field.type))
    return pa.Table.from_arrays(arrays, schema=own)


def concat_jobs(tables: Sequence[pa.Table], *, kind: str) -> pa.Table:
    """Tables of one job (an earlier sync's rows and new ones) as one, their schemas unified."""
    schema = unify(((str(i), t.schema) for i, t in enumerate(tables)), kind=kind)
    return pa.concat_tables([conform(t, schema).replace_schema_metadata(None) for t in tables])


def same_table(a: pa.Table, b: pa.Table) -> bool:
    """Equal schemas (metadata included) and values, where NaN equals NaN (``Table.equals`` says it does not)."""
    import pyarrow.compute as pc

    if not a.schema.equals(b.schema, check_metadata=True) or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a[name].combine_chunks(), b[name].combine_chunks()
        if pa.types.is_floating(x.type):
            if not pc.is_nan(x).equals(pc.is_nan(y)):
                return False
            x = pc.if_else(pc.is_nan(x), 0.0, x)
            y = pc.if_else(pc.is_nan(y), 0.0, y)
        if not x.equals(y):
            return False
    return True


def sort_rows(table: pa.Table, keys: Sequence[str]) -> pa.Table:
    """``table`` sorted by those of ``keys`` it has (ascending, nulls last; stable), as the normalizer orders its rows."""
    return _table.sort_rows(table, [k for k in keys if k in table.column_names])
