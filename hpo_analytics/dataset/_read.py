"""Reading a dataset back: one job's table exactly as it was fetched, or every job's with a ``job_id`` column."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..errors import ConfigurationError
from ._fs import FileSystem, LocalFileSystem
from ._layout import KINDS, MANIFEST_FILE, job_file
from ._schema import JOB_SCHEMA_KEY, restore

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["is_dataset", "read_dataset_table", "read_file"]


def is_dataset(path: str | os.PathLike[str], *, filesystem: FileSystem | None = None) -> bool:
    """Whether ``path`` is a dataset directory (it holds ``_manifest.json``)."""
    fs = filesystem or LocalFileSystem()
    return fs.exists(f"{os.fspath(path)}/{MANIFEST_FILE}")


def read_file(fs: FileSystem, path: str) -> pa.Table:
    """One Parquet file of the dataset as written (the dataset schema)."""
    import pyarrow.parquet as pq

    with fs.open(path, "rb") as f:
        return pq.read_table(f)


def read_dataset_table(
    path: str | os.PathLike[str], kind: str, *, job_id: str | None = None, filesystem: FileSystem | None = None
) -> pa.Table:
    """``kind`` (``"trials"`` or ``"curves"``) of one job, or of every job.

    With ``job_id``: the job's own table, as :meth:`ModelArtsClient.fetch_trials`
    (or ``fetch_curves``) gave it when it was synced: its columns, types and
    schema metadata. Without: every job's rows in the dataset schema, with a
    ``job_id`` column (string) first.
    """
    import pyarrow as pa

    if kind not in KINDS:
        raise ConfigurationError(f"kind must be one of {KINDS}, not {kind!r}")
    fs = filesystem or LocalFileSystem()
    root = os.fspath(path).rstrip("/") or "/"
    if job_id is not None:
        file = job_file(root, kind, job_id)
        if not fs.exists(file):
            raise ConfigurationError(f"the dataset {root} has no {kind} of job {job_id!r}")
        return restore(read_file(fs, file))
    tables = []
    for name in sorted(fs.listdir(f"{root}/{kind}")):
        if not name.startswith("job_id="):
            continue
        file = f"{root}/{kind}/{name}/{kind}.parquet"
        if not fs.exists(file):
            continue
        table = read_file(fs, file)
        ids = pa.array([name[len("job_id="):]] * table.num_rows, pa.string())
        meta = {k: v for k, v in (table.schema.metadata or {}).items() if k != JOB_SCHEMA_KEY}
        tables.append(table.replace_schema_metadata(meta).add_column(0, "job_id", ids))
    if not tables:
        return pa.table({"job_id": pa.array([], pa.string())})
    # files of one dataset share one schema; only their metadata (each job's metric) differs
    return pa.concat_tables([t.replace_schema_metadata(None) for t in tables], promote_options="permissive")
