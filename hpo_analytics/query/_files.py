"""Reading the dataset's files with pyarrow alone (no DuckDB): the jobs table, the manifest, one job's table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError, StateError

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["MANIFEST_FILE", "is_dataset_dir", "job_file", "read_job_table", "read_jobs", "read_manifest"]

JOBS_FILE = "jobs/jobs.parquet"
MANIFEST_FILE = "_manifest.json"
_KINDS = ("trials", "curves")


def is_dataset_dir(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a dataset directory (it has ``jobs/jobs.parquet``)."""
    return (Path(path) / JOBS_FILE).is_file()


def job_file(root: str | os.PathLike[str], kind: str, job_id: str) -> Path:
    """``root/<kind>/job_id=<id>/<kind>.parquet``."""
    if kind not in _KINDS:
        raise ConfigurationError(f"kind must be one of {_KINDS}, not {kind!r}")
    if not isinstance(job_id, str) or not job_id or "/" in job_id or job_id.startswith("."):
        raise ConfigurationError(f"job id {job_id!r} cannot name a dataset directory")
    return Path(root) / kind / f"job_id={job_id}" / f"{kind}.parquet"


def read_jobs(root: str | os.PathLike[str]) -> pa.Table:
    """The dataset's ``jobs/jobs.parquet``."""
    import pyarrow.parquet as pq

    path = Path(root) / JOBS_FILE
    if not path.is_file():
        raise ConfigurationError(f"{root} has no {JOBS_FILE}: not a dataset directory (run hpo-analytics sync)")
    return pq.read_table(path)


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The dataset's ``_manifest.json`` (``{}`` when there is none)."""
    path = Path(root) / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise StateError(f"{path} is not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise StateError(f"{path} is not a dataset manifest (not a JSON object)")
    return data


def read_job_table(root: str | os.PathLike[str], kind: str, job_id: str) -> pa.Table | None:
    """One job's ``trials`` or ``curves`` as stored (``None`` when the job has no such file).

    The file holds the dataset schema, so columns only other jobs have are
    there as nulls: columns with no value in this job are dropped, and the
    file's schema metadata (the job's metric and mode) is kept.
    """
    import pyarrow.parquet as pq

    path = job_file(root, kind, job_id)
    if not path.is_file():
        return None
    table = pq.read_table(path)
    empty = [name for name in table.column_names
             if table.num_rows and table[name].null_count == table.num_rows and name != "trial_id"]
    return table.drop_columns(empty)
