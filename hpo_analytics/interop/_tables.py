"""Rows of plain Python values to a typed Arrow table (the importers' common last step).

A column's type is given, or inferred from its values: booleans → ``bool``,
integers → ``int64``, numbers → ``float64``, text → ``string``; a column whose
values mix kinds (or hold lists or dicts) becomes JSON text, as the
normalizer stores nested ``config`` values. Missing values are nulls; an empty
table still has every named column.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["infer_type", "table_from_rows"]


def infer_type(values: Sequence[Any]) -> pa.DataType:
    """The Arrow type of a column of Python values (see the module docstring)."""
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if not present:
        return pa.float64()
    if all(isinstance(v, bool) for v in present):
        return pa.bool_()
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present):
        return pa.int64()
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present):
        return pa.float64()
    if all(isinstance(v, str) for v in present):
        return pa.string()
    return pa.string()  # mixed kinds, lists, dicts: JSON text


def _cell(value: Any, kind: pa.DataType) -> Any:
    import pyarrow as pa

    if value is None:
        return None
    if pa.types.is_string(kind):
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    if pa.types.is_floating(kind):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return None
        return float(value)
    if pa.types.is_integer(kind):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, float):
            return int(value) if math.isfinite(value) and value.is_integer() else None
        return value if isinstance(value, int) else None
    if pa.types.is_boolean(kind):
        return value if isinstance(value, bool) else None
    return value


def table_from_rows(
    rows: Sequence[Mapping[str, Any]],
    *,
    first: Sequence[str] = (),
    types: Mapping[str, pa.DataType] | None = None,
    metadata: Mapping[bytes, bytes] | None = None,
) -> pa.Table:
    """A table with the ``first`` columns in that order, then every other key in order of first appearance."""
    import pyarrow as pa

    types = dict(types or {})
    names = list(dict.fromkeys([*first, *(k for row in rows for k in row)]))
    arrays = []
    fields = []
    for name in names:
        values = [row.get(name) for row in rows]
        kind = types.get(name) or infer_type(values)
        arrays.append(pa.array([_cell(v, kind) for v in values], type=kind))
        fields.append(pa.field(name, kind))
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=dict(metadata or {})))
