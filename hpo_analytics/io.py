"""Read and write trial tables: JSON response files, directories of pages, Parquet, and synced datasets."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .dataset import is_dataset, read_dataset_table
from .errors import ConfigurationError
from .normalize import curves_to_arrow, iter_page_sources, trials_to_arrow

__all__ = ["iter_page_sources", "read_curves", "read_trials", "write_parquet"]

_PARQUET_SUFFIXES = (".parquet", ".pq")


def _read(path: str | os.PathLike[str], kind: str, *, job_id: str | None = None, **options: Any) -> pa.Table:
    p = Path(path)
    if p.is_dir() and is_dataset(p):
        return read_dataset_table(p, kind, job_id=job_id)
    if job_id is not None:
        raise ConfigurationError(f"job_id= reads a synced dataset directory; {p} has no _manifest.json")
    if p.is_file() and p.suffix.lower() in _PARQUET_SUFFIXES:
        return pq.read_table(p)
    convert = trials_to_arrow if kind == "trials" else curves_to_arrow
    return convert(p, **options)


def read_trials(path: str | os.PathLike[str], *, job_id: str | None = None, **options: Any) -> pa.Table:
    """Read trials from a JSON response file, a directory of page files, Parquet, or a synced dataset.

    JSON goes through :func:`~hpo_analytics.trials_to_arrow` (``options`` are
    passed on: ``keep_raw``, ``errors``); a Parquet file written by
    :func:`write_parquet` is read back with its types and metadata. A
    dataset directory (one with ``_manifest.json``, written by
    :func:`~hpo_analytics.sync`) gives one job's table exactly as the client
    fetched it with ``job_id=``, else every job's rows with a ``job_id`` column.
    """
    return _read(path, "trials", job_id=job_id, **options)


def read_curves(path: str | os.PathLike[str], *, job_id: str | None = None, **options: Any) -> pa.Table:
    """Like :func:`read_trials`, but through :func:`~hpo_analytics.curves_to_arrow` (a dataset's curves)."""
    return _read(path, "curves", job_id=job_id, **options)


def write_parquet(table: pa.Table, path: str | os.PathLike[str]) -> Path:
    """Write a table (with its schema metadata) to Parquet and return the path."""
    p = Path(path)
    if p.parent and not p.parent.exists():
        p.parent.mkdir(parents=True)
    pq.write_table(table, p)
    return p
