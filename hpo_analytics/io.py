"""Read and write trial tables: JSON response files, directories of pages, Parquet."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .normalize import curves_to_arrow, iter_page_sources, trials_to_arrow

__all__ = ["iter_page_sources", "read_curves", "read_trials", "write_parquet"]

_PARQUET_SUFFIXES = (".parquet", ".pq")


def _read(path: str | os.PathLike[str], kind: str, **options: Any) -> pa.Table:
    p = Path(path)
    if p.is_file() and p.suffix.lower() in _PARQUET_SUFFIXES:
        return pq.read_table(p)
    convert = trials_to_arrow if kind == "trials" else curves_to_arrow
    return convert(p, **options)


def read_trials(path: str | os.PathLike[str], **options: Any) -> pa.Table:
    """Read trials from a JSON response file, a directory of page files, or Parquet.

    JSON goes through :func:`~hpo_analytics.trials_to_arrow` (``options`` are
    passed on: ``keep_raw``, ``errors``); a Parquet file written by
    :func:`write_parquet` is read back with its types and metadata.
    """
    return _read(path, "trials", **options)


def read_curves(path: str | os.PathLike[str], **options: Any) -> pa.Table:
    """Like :func:`read_trials`, but through :func:`~hpo_analytics.curves_to_arrow`."""
    return _read(path, "curves", **options)


def write_parquet(table: pa.Table, path: str | os.PathLike[str]) -> Path:
    """Write a table (with its schema metadata) to Parquet and return the path."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True)
    pq.write_table(table, p)
    return p
