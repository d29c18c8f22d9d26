"""``open_dataset``: an in-memory DuckDB connection with views over a dataset directory's Parquet files.

The views read the files at query time (a sync that adds jobs shows up in
the next query on the same connection), take ``job_id`` from the hive path
as text, and unify the files by column name, so nothing here depends on how
the files were written beyond the layout.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    import duckdb

__all__ = [
    "connection",
    "ident",
    "is_numeric",
    "literal",
    "open_dataset",
    "require_duckdb",
    "run_sql",
    "trial_columns",
]

JOBS_FILE = "jobs/jobs.parquet"
KINDS = ("trials", "curves")
# What an empty kind (no job has rows yet) looks like, so queries over it give no rows, not an error.
_EMPTY = {
    "trials": "SELECT NULL::VARCHAR AS job_id, NULL::VARCHAR AS trial_id, NULL::VARCHAR AS status WHERE false",
    "curves": ("SELECT NULL::VARCHAR AS job_id, NULL::VARCHAR AS trial_id, NULL::BIGINT AS training_iteration "
               "WHERE false"),
}
_GLOB_CHARS = frozenset("*?[]{}")


def require_duckdb() -> Any:
    """The :mod:`duckdb` module, or :class:`ConfigurationError` naming the extra that installs it."""
    try:
        import duckdb
    except ImportError:
        raise ConfigurationError(
            "querying a dataset needs DuckDB: pip install 'hpo-analytics[query]'"
        ) from None
    return duckdb


def literal(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier (``param/lr`` needs the quotes)."""
    return '"' + name.replace('"', '""') + '"'


def _kind_source(root: Path, kind: str) -> str:
    files = sorted(root.glob(f"{kind}/job_id=*/{kind}.parquet"))
    if not files:
        return _EMPTY[kind]
    if _GLOB_CHARS.isdisjoint(str(root)):
        # a glob, so jobs a later sync adds appear in the next query
        where = literal(f"{root.as_posix()}/{kind}/job_id=*/{kind}.parquet")
    else:  # a directory name DuckDB would read as a pattern: the files as they are now
        where = "[" + ", ".join(literal(f.as_posix()) for f in files) + "]"
    return (f"SELECT * FROM read_parquet({where}, hive_partitioning = true, "
            "hive_types = {'job_id': 'VARCHAR'}, union_by_name = true)")


def open_dataset(path: str | os.PathLike[str]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB connection with views over the dataset at ``path``.

    Views:

    * ``jobs`` - ``jobs/jobs.parquet``, one row per job;
    * ``trials`` and ``curves`` - every job's file, with ``job_id`` (text)
      from the hive path ``trials/job_id=<id>/``;
    * ``trial_values`` - ``job_id, trial_id, status, metric, mode, value,
      score``: each trial's value of its own job's ``reward_metric`` (NaN as
      NULL) and ``score``, the value signed so that higher is better
      (``mode`` ``min`` negates; any other mode counts as ``max``).

    Nothing is loaded until a query runs, and each query reads the files as
    they are then (jobs a later sync adds included; a kind that had no file
    at all when the connection was opened stays empty until it is opened
    again). Close the connection when done (or use it in a ``with`` block).
    Needs the ``query`` extra (DuckDB).
    """
    duckdb = require_duckdb()
    root = Path(path).expanduser().resolve()
    if not root.is_dir():
        raise ConfigurationError(f"{path} is not a directory; give the dataset directory that sync wrote")
    if not (root / JOBS_FILE).is_file():
        raise ConfigurationError(f"{path} has no {JOBS_FILE}: not a dataset directory (run hpo-analytics sync)")
    con = duckdb.connect(":memory:")
    try:
        # every query reads the footers of every job's file; keep them (DuckDB re-reads a file that changed)
        con.execute("SET parquet_metadata_cache = true")
        con.execute(f"CREATE VIEW jobs AS SELECT * FROM read_parquet({literal((root / JOBS_FILE).as_posix())})")
        for kind in KINDS:
            con.execute(f"CREATE VIEW {kind} AS {_kind_source(root, kind)}")
        con.execute(f"CREATE VIEW trial_values AS {_trial_values_sql(con)}")
    except Exception:
        con.close()
        raise
    return con


def trial_columns(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """The ``trials`` view's columns and their DuckDB types."""
    return _describe(con, "trials")


def _describe(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    # the catalog's record of the view (bound when it was created), not DESCRIBE, which reads every
    # file's footer again to unify the schemas
    rows = con.execute("SELECT column_name, data_type FROM duckdb_columns() "
                       "WHERE table_name = ? AND schema_name = 'main' ORDER BY column_index", [view]).fetchall()
    return {str(name): str(kind) for name, kind in rows}


_NUMERIC = frozenset({"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER",
                      "UBIGINT", "FLOAT", "DOUBLE", "REAL"})


def is_numeric(kind: str) -> bool:
    """Whether a DuckDB type name is a number."""
    return kind.upper() in _NUMERIC or kind.upper().startswith("DECIMAL")


def _value_of(column: str, kind: str) -> str:
    # a metric stored as text (jobs disagreed about its type) holds JSON text of numbers: TRY_CAST reads them
    how = "CAST" if is_numeric(kind) else "TRY_CAST"
    return f"{how}(t.{ident(column)} AS DOUBLE)"


def _trial_values_sql(con: duckdb.DuckDBPyConnection) -> str:
    """The ``trial_values`` view: one CASE arm per metric some job rewards and the trials table holds."""
    columns = _describe(con, "trials")
    metrics = [str(row[0]) for row in con.execute(
        "SELECT DISTINCT reward_metric FROM jobs WHERE reward_metric IS NOT NULL ORDER BY 1").fetchall()]
    arms = " ".join(f"WHEN {literal(m)} THEN {_value_of(m, columns[m])}" for m in metrics if m in columns)
    raw = f"CASE j.reward_metric {arms} END" if arms else "CAST(NULL AS DOUBLE)"
    status = "t.status" if "status" in columns else "CAST(NULL AS VARCHAR)"
    return (
        "SELECT job_id, trial_id, status, metric, mode, value, "
        "CASE WHEN lower(mode) = 'min' THEN -value ELSE value END AS score FROM ("
        "SELECT job_id, trial_id, status, metric, mode, CASE WHEN isnan(raw) THEN NULL ELSE raw END AS value FROM ("
        f"SELECT t.job_id, t.trial_id, {status} AS status, j.reward_metric AS metric, j.reward_mode AS mode, "
        f"{raw} AS raw FROM trials AS t JOIN jobs AS j ON t.job_id = j.job_id))"
    )


def connection(source: Any) -> tuple[duckdb.DuckDBPyConnection, bool]:
    """``(connection, owned)``: ``source`` itself when it is a connection, else a new one over the directory."""
    duckdb = require_duckdb()
    if isinstance(source, duckdb.DuckDBPyConnection):
        return source, False
    if isinstance(source, (str, os.PathLike)):
        return open_dataset(source), True
    raise ConfigurationError(
        f"expected a dataset directory or a connection from open_dataset, not {type(source).__name__}"
    )


def run_sql(con: duckdb.DuckDBPyConnection, sql: str) -> Any:
    """The rows of one SQL statement as a pandas frame (an empty frame for a statement without rows).

    A statement DuckDB refuses (syntax, unknown column, ...) raises
    :class:`ConfigurationError` with DuckDB's message.
    """
    duckdb = require_duckdb()
    import pandas as pd

    if not isinstance(sql, str) or not sql.strip():
        raise ConfigurationError("the SQL statement is empty")
    try:
        result = con.execute(sql)
        if result.description is None:
            return pd.DataFrame()
        return result.df()
    except duckdb.Error as exc:
        raise ConfigurationError(f"DuckDB could not run the statement: {exc}") from None
