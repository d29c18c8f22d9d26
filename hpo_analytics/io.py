"""Read and write trial tables: JSON response files, directories of pages, Parquet, job directories and
synced datasets."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from .dataset import is_dataset, read_dataset_table
from .errors import ConfigurationError
from .normalize import curves_to_arrow, iter_page_sources, trials_to_arrow

__all__ = ["iter_page_sources", "read_curves", "read_job_details", "read_trials", "write_parquet"]

_PARQUET_SUFFIXES = (".parquet", ".pq")
#: A job directory's trials and curves: pages as ``data/synthetic_job`` holds them, or the Parquet files
#: ``hpo-analytics fetch --curves`` writes; its ``job.json`` holds the job's details.
_JOB_LAYOUTS = (("trials", "histories"), ("trials.parquet", "curves.parquet"))
_JOB_DETAILS = "job.json"


def read_job_details(path: str | os.PathLike[str]) -> dict[str, Any]:
    """A job-details file (``job.json``: what ``GET /v2/{project_id}/training-jobs/{id}`` answered), parsed.

    Raises :class:`~hpo_analytics.errors.ConfigurationError` naming the file
    when it cannot be read, is not JSON, or is not a JSON object.
    """
    try:
        job = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(f"{str(path)!r} is not a readable job-details JSON file: {exc}") from exc
    if not isinstance(job, dict):
        raise ConfigurationError(f"{str(path)!r}: job details must be a JSON object")
    return job


def _job_details_metadata(path: Path) -> dict[bytes, bytes]:
    """The schema metadata a job-details file gives its tables (metrics, space, algorithm), as ``fetch`` does."""
    from .client import reward_metadata

    return reward_metadata(read_job_details(path), source=str(path))


def _read_job_dir(p: Path, kind: str, **options: Any) -> pa.Table | None:
    """A job directory's trials or curves with its ``job.json`` recorded, or ``None`` when ``p`` is not one."""
    for trials_name, curves_name in _JOB_LAYOUTS:
        if not (p / trials_name).exists():
            continue
        source = p / (trials_name if kind == "trials" else curves_name)
        if not source.exists():
            raise ConfigurationError(f"job directory {str(p)!r} has {trials_name} but no {curves_name}")
        table = _read(source, kind, **options)
        details = p / _JOB_DETAILS
        if details.is_file():
            meta = dict(table.schema.metadata or {})
            # What the table already records (a fetched Parquet file's own metadata) wins, key by key.
            for key, value in _job_details_metadata(details).items():
                meta.setdefault(key, value)
            table = table.replace_schema_metadata(meta)
        return table
    return None


def _read(path: str | os.PathLike[str], kind: str, *, job_id: str | None = None, **options: Any) -> pa.Table:
    p = Path(path)
    if p.is_dir() and is_dataset(p):
        return read_dataset_table(p, kind, job_id=job_id)
    if job_id is not None:
        raise ConfigurationError(f"job_id= reads a synced dataset directory; {p} has no _manifest.json")
    if p.is_dir():
        table = _read_job_dir(p, kind, **options)
        if table is not None:
            return table
    if p.is_file() and p.suffix.lower() in _PARQUET_SUFFIXES:
        return pq.read_table(p)
    convert = trials_to_arrow if kind == "trials" else curves_to_arrow
    return convert(p, **options)


def read_trials(path: str | os.PathLike[str], *, job_id: str | None = None, **options: Any) -> pa.Table:
    """Read trials from a JSON response file, a directory of page files, Parquet, a job directory, or a
    synced dataset.

    JSON goes through :func:`~hpo_analytics.trials_to_arrow` (``options`` are
    passed on: ``keep_raw``, ``errors``); a Parquet file written by
    :func:`write_parquet` is read back with its types and metadata. A job
    directory holds ``trials/`` (pages; ``histories/`` for
    :func:`read_curves`), as ``data/synthetic_job`` does, or
    ``trials.parquet`` (``curves.parquet``), and optionally ``job.json``, the
    job's details: its declared metrics, search space and algorithm are
    recorded in the table's schema metadata as
    :meth:`~hpo_analytics.ModelArtsClient.fetch_trials` records them (a key
    the table already holds is kept). A
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
