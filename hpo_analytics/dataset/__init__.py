"""The many-jobs dataset: a job-partitioned Parquet directory that ``sync`` keeps up to date.

Layout (the contract; nothing in it needs this library to read it)::

    DIR/
      _manifest.json                      what was synced (format 1), written atomically after the data
      .lock                               flock'ed by a running sync
      jobs/jobs.parquet                   one row per job (:data:`JOBS_SCHEMA`)
      trials/job_id=<id>/trials.parquet   the job's trials
      curves/job_id=<id>/curves.parquet   the job's learning curves (one row per trial and iteration)

Files hold no ``job_id`` column: DuckDB, Dask, Spark and pyarrow.dataset
take it from the hive path (in DuckDB pass ``hive_types={'job_id':
'VARCHAR'}``, so an id that looks like a number stays text). Every trials
file has the same schema (the union of every job's columns by name, with
the type rule of :mod:`._schema`: int and float give float, any other
disagreement gives text with a :class:`~hpo_analytics.errors.SchemaWarning`),
and likewise every curves file, so an engine reads the whole directory
as one table. Each file keeps its job's schema metadata (metric, mode) and
its own schema, so :func:`read_dataset_table` (and
:func:`hpo_analytics.read_trials` on the directory with ``job_id=``) gives
back exactly the table the client fetched.

Modules: ``_sync`` (:func:`sync`, :class:`SyncSummary`), ``_schema``
(unification and the way back), ``_jobs`` (the jobs table), ``_manifest``,
``_layout`` (paths), ``_fs`` (the filesystem seam: :class:`FileSystem`,
:class:`LocalFileSystem`, atomic writes, the lock) and ``_read``.
"""

from __future__ import annotations

from ._fs import FileSystem, LocalFileSystem
from ._jobs import JOBS_SCHEMA
from ._layout import JOBS_FILE, LOCK_FILE, MANIFEST_FILE, job_file
from ._manifest import FINISHED_PHASES, load_manifest
from ._read import is_dataset, read_dataset_table
from ._schema import unify
from ._sync import JobSync, SyncSummary, sync

__all__ = [
    "FINISHED_PHASES",
    "FileSystem",
    "JOBS_FILE",
    "JOBS_SCHEMA",
    "JobSync",
    "LOCK_FILE",
    "LocalFileSystem",
    "MANIFEST_FILE",
    "SyncSummary",
    "is_dataset",
    "job_file",
    "load_manifest",
    "read_dataset_table",
    "sync",
    "unify",
]
