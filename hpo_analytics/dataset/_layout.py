"""Where things live in a dataset directory (the contract every engine reads by)::

    DIR/
      _manifest.json                      what was synced (format 1), written atomically
      .lock                               held (flock) by a running sync
      jobs/jobs.parquet                   one row per job
      trials/job_id=<id>/trials.parquet   the job's trials
      curves/job_id=<id>/curves.parquet   the job's learning curves

No file holds a ``job_id`` column: engines take it from the hive path.
"""

from __future__ import annotations

import re

from ..errors import ConfigurationError

__all__ = [
    "JOBS_FILE",
    "KINDS",
    "LOCK_FILE",
    "MANIFEST_FILE",
    "check_job_id",
    "job_dir",
    "job_file",
]

MANIFEST_FILE = "_manifest.json"
LOCK_FILE = ".lock"
JOBS_FILE = "jobs/jobs.parquet"
KINDS = ("trials", "curves")

# A job id becomes a directory name: no separators, no leading dot, nothing a hive path would escape.
_SAFE_ID = re.compile(r"^[A-Za-z0-9_\-][A-Za-z0-9_.\-]{0,127}$")


def check_job_id(job_id: object) -> str:
    """``job_id`` when it is safe as a path component, else :class:`ConfigurationError`."""
    if not isinstance(job_id, str) or not _SAFE_ID.match(job_id):
        raise ConfigurationError(
            f"job id {job_id!r} cannot name a dataset directory (letters, digits, '_', '-', '.'; not leading '.')"
        )
    return job_id


def job_dir(root: str, kind: str, job_id: str) -> str:
    """``root/<kind>/job_id=<id>``."""
    return f"{root}/{kind}/job_id={check_job_id(job_id)}"


def job_file(root: str, kind: str, job_id: str) -> str:
    """``root/<kind>/job_id=<id>/<kind>.parquet``."""
    return f"{job_dir(root, kind, job_id)}/{kind}.parquet"
