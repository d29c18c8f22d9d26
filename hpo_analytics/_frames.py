"""Shared input handling for analysis, stopping and plots: tables in, frames out, metric defaults."""

from __future__ import annotations

import json
from collections.abc import Mapping
from numbers import Real
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from .errors import ConfigurationError
from ._table import METADATA_METRIC, METADATA_MODE, schema_metadata, to_pandas

Mode = Literal["max", "min"]

__all__ = ["Mode", "as_frame", "check_metric", "declared_metrics", "metadata_of", "refuse_unscored", "resolve_metric"]


def as_frame(table: Any) -> pd.DataFrame:
    """A pandas frame from an Arrow table (nullable dtypes, metadata in ``attrs``) or a frame (as is)."""
    if isinstance(table, pa.Table):
        return to_pandas(table)
    if isinstance(table, pd.DataFrame):
        return table
    raise ConfigurationError(
        f"expected a pyarrow.Table or pandas.DataFrame of trials, got {type(table).__name__}"
    )


def metadata_of(table: Any) -> dict[str, str]:
    """The ``hpo_analytics.*`` metadata of a table or frame, without the prefix (``metric``, ``mode``...)."""
    if isinstance(table, pa.Table):
        return schema_metadata(table)
    if isinstance(table, pd.DataFrame):
        return dict(table.attrs.get("hpo_analytics", {}))
    return {}


def declared_metrics(table: Any) -> list[tuple[str, str | None]]:
    """``(name, mode)`` of every metric a table's metadata says its job declares, the default first.

    Read from ``hpo_analytics.metrics`` (a JSON list of ``{"name", "mode"}``,
    as the client and the CLI record a job's ``reward_attrs``; a frame may
    hold the list itself); ``mode`` is ``"max"``, ``"min"`` or ``None``.
    Nothing recorded, or a value that is not such a list, gives ``[]``;
    malformed entries and repeated names are left out.
    """
    raw = metadata_of(table).get("metrics")
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError:
            return []
    if not isinstance(raw, list):
        return []
    out: list[tuple[str, str | None]] = []
    for entry in raw:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name or any(name == seen for seen, _ in out):
            continue
        mode = entry.get("mode")
        out.append((name, mode if mode in ("max", "min") else None))
    return out


def resolve_metric(table: Any, metric: str | None = None, mode: str | None = None) -> tuple[str, Mode]:
    """Fill in the metric and mode: the arguments, else the table's metadata, else ``reward_attr``/``"max"``.

    Raises :class:`~hpo_analytics.errors.ConfigurationError` for an unknown
    metric column (listing the available numeric columns) or a mode other
    than ``"max"``/``"min"``.
    """
    meta = metadata_of(table)
    metric = metric or meta.get(METADATA_METRIC.decode().removeprefix("hpo_analytics.")) or "reward_attr"
    mode = mode or meta.get(METADATA_MODE.decode().removeprefix("hpo_analytics.")) or "max"
    if mode not in ("max", "min"):
        raise ConfigurationError(f"mode must be 'max' or 'min', not {mode!r}")
    columns = table.column_names if isinstance(table, pa.Table) else list(getattr(table, "columns", []))
    if metric not in columns:
        numeric = _numeric_columns(table)
        raise ConfigurationError(
            f"no metric column {metric!r}; available: {', '.join(numeric) if numeric else '(none)'}"
        )
    return metric, mode  # type: ignore[return-value]


def check_metric(table: Any, metric: str, *, require_finite: bool = True) -> None:
    """Refuse a metric that cannot be scored: :class:`ConfigurationError` naming the column and its type.

    A metric must be numeric (integers or floats; not text, booleans or
    lists; an Arrow ``null`` column, or a pandas one holding nothing, has
    no values of any type yet) and, when the table has rows and
    ``require_finite`` is true, have at least one finite value (see
    :func:`refuse_unscored`).  Without this, every trial would score NaN and
    rank first together, or a rule would compare nothing with nothing: a
    plausible wrong answer.  A table with no rows passes (its answers are
    empty, not wrong).  ``require_finite=False`` is for a job that has only
    just started, which has no value yet.
    """
    columns = table.column_names if isinstance(table, pa.Table) else list(getattr(table, "columns", []))
    if metric not in columns:
        resolve_metric(table, metric, "max")  # the clear error for a missing column
    if isinstance(table, pa.Table):
        column = table[metric]
        kind = column.type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)
        type_name = str(kind)

        def values() -> np.ndarray:
            return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    else:
        series = table[metric]
        if isinstance(series, pd.DataFrame):
            raise ConfigurationError(f"metric column {metric!r} appears more than once in the frame")
        dtype = series.dtype
        type_name = str(dtype)
        numeric = bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
        if not numeric and dtype == object:
            present = series.dropna().tolist()
            kinds = {type(v).__name__ for v in present
                     if not isinstance(v, Real) or isinstance(v, (bool, np.bool_))}
            numeric = not kinds
            if kinds:
                type_name = f"object holding {', '.join(sorted(kinds))}"

        def values() -> np.ndarray:
            return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not numeric:
        others = [c for c in _numeric_columns(table) if c != metric]
        raise ConfigurationError(
            f"metric column {metric!r} is of type {type_name}, not numeric, so trials cannot be scored by it; "
            f"numeric columns: {', '.join(others) if others else '(none)'}"
        )
    if require_finite and len(table):
        refuse_unscored(values(), metric, type_name=type_name)


def refuse_unscored(values: np.ndarray, metric: str, *, type_name: str = "float64", context: str = "") -> None:
    """:class:`ConfigurationError` when ``values`` (a metric's numbers) are not empty but none is finite.

    ``type_name`` is the column's type as the message shows it; ``context``,
    when given, says after the message what left no number (a filter, a
    scope).
    """
    n = len(values)
    if n and not np.isfinite(values).any():
        raise ConfigurationError(
            f"metric column {metric!r} ({type_name}) has no finite value in its {n} row(s) "
            "(every cell is missing, NaN or infinite), so trials cannot be scored by it"
            + (f" ({context})" if context else "")
        )


def _numeric_columns(table: Any) -> list[str]:
    if isinstance(table, pa.Table):
        return [f.name for f in table.schema if pa.types.is_floating(f.type) or pa.types.is_integer(f.type)]
    if isinstance(table, pd.DataFrame):
        return [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c].dtype)
                and not pd.api.types.is_bool_dtype(table[c].dtype)]
    return []
