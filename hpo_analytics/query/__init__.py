"""SQL over a many-jobs dataset directory, with DuckDB as the embedded engine.

:func:`open_dataset` gives an in-memory DuckDB connection with views
``jobs``, ``trials``, ``curves`` and ``trial_values`` over the Parquet files
of a dataset directory (the layout ``hpo-analytics sync`` writes). The
cross-job analyses run their SQL on such a connection and return small
pandas frames; nothing loads every trial into pandas.

Modules: ``_connect`` (the connection, its views, :func:`run_sql`),
``_analyses`` (:func:`leaderboard`, :func:`param_effects`, :func:`level_effects`,
:func:`job_costs`)
and ``_files`` (the jobs table, the manifest and one job's table, read with
pyarrow alone: what the reports of a dataset need).
DuckDB is the ``query`` extra: ``pip install 'hpo-analytics[query]'``.
"""

from __future__ import annotations

from ._analyses import job_costs, leaderboard, level_effects, param_effects
from ._connect import open_dataset, run_sql
from ._files import is_dataset_dir, job_file, read_job_table, read_jobs, read_manifest

__all__ = [
    "is_dataset_dir",
    "job_costs",
    "job_file",
    "leaderboard",
    "level_effects",
    "open_dataset",
    "param_effects",
    "read_job_table",
    "read_jobs",
    "read_manifest",
    "run_sql",
]
