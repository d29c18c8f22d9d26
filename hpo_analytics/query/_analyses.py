"""Cross-job analyses over a dataset, computed in DuckDB: leaderboard, parameter effects, cost per job.

Each function takes a dataset directory or a connection from
:func:`~hpo_analytics.query.open_dataset` and returns a small pandas frame;
the SQL does the work over every trial (only the answer reaches pandas).
"""

from __future__ import annotations

import math
import os
from typing import TYPE_CHECKING, Any

from .._validation import check_int
from ._connect import connection, ident, is_numeric, trial_columns

if TYPE_CHECKING:  # pragma: no cover
    import duckdb
    import pandas as pd

__all__ = ["job_costs", "leaderboard", "level_effects", "param_effects"]

def _run(source: Any, sql: str, params: list[Any] | None = None) -> pd.DataFrame:
    con, owned = connection(source)
    try:
        return con.execute(sql, params or []).df()
    finally:
        if owned:
            con.close()


def leaderboard(source: str | os.PathLike[str] | duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """The best trial of every job by its own metric and mode, ranked across jobs that share both.

    One row per job that has a trial with a value: ``job_id``, ``name``,
    ``phase``, ``metric``, ``mode``, ``best_value``, ``trial_id`` and
    ``status`` of the best trial (ties: the smaller ``trial_id``),
    ``n_valued`` (trials with a value), then ``rank`` (1 = best) among the
    ``n_jobs`` jobs with the same metric and mode. Every trial with a value
    counts, running ones included (so ``best_value`` equals the jobs table's).
    Ordered by metric, mode and rank.
    """
    sql = """
        WITH best AS (
            SELECT job_id, any_value(metric) AS metric, any_value(mode) AS mode, max(score) AS score,
                   first({'trial_id': trial_id, 'status': status, 'value': value} ORDER BY score DESC, trial_id)
                       AS top,
                   count(*) AS n_valued
            FROM trial_values WHERE score IS NOT NULL GROUP BY job_id)
        SELECT b.job_id, j.name, j.phase, b.metric, b.mode, b.top.value AS best_value, b.top.trial_id AS trial_id,
               b.top.status AS status, b.n_valued,
               rank() OVER (PARTITION BY b.metric, lower(coalesce(b.mode, 'max')) ORDER BY b.score DESC) AS rank,
               count(*) OVER (PARTITION BY b.metric, lower(coalesce(b.mode, 'max'))) AS n_jobs
        FROM best AS b JOIN jobs AS j ON b.job_id = j.job_id
        ORDER BY b.metric, b.mode, rank, b.job_id
    """
    return _run(source, sql)


def job_costs(source: str | os.PathLike[str] | duckdb.DuckDBPyConnection) -> pd.DataFrame:
    """What each job's trials cost, and what stopping some of them early saved.

    One row per job: ``job_id``, ``name``, ``phase``, ``n_trials``,
    ``run_time_s`` (summed ``time_total_s``), ``iterations`` (summed
    ``training_iteration``), ``max_iterations`` (the job's longest
    ``TERMINATED`` trial), ``n_stopped_early`` (``TERMINATED`` trials with
    fewer iterations than that), ``iterations_saved`` (their shortfall from
    it) and ``saved_fraction`` (saved / (run + saved)). A column the trials
    lack counts as unknown (NULL). Ordered by run time, largest first.
    """
    con, owned = connection(source)
    try:
        columns = trial_columns(con)

        def col(name: str, cast: str) -> str:
            return f"CAST(t.{ident(name)} AS {cast})" if name in columns else f"CAST(NULL AS {cast})"

        sql = f"""
            WITH t AS (
                SELECT t.job_id, t.status, {col("time_total_s", "DOUBLE")} AS run_s,
                       coalesce({col("training_iteration", "BIGINT")}, 0) AS it
                FROM trials AS t),
            longest AS (SELECT job_id, max(it) AS max_it FROM t WHERE status = 'TERMINATED' GROUP BY job_id),
            per_job AS (
                SELECT t.job_id, count(*) AS n_trials, sum(run_s) AS run_time_s, CAST(sum(it) AS BIGINT) AS iterations,
                       any_value(l.max_it) AS max_iterations,
                       count(*) FILTER (WHERE t.status = 'TERMINATED' AND t.it < l.max_it) AS n_stopped_early,
                       CAST(coalesce(sum(l.max_it - t.it)
                                     FILTER (WHERE t.status = 'TERMINATED' AND t.it < l.max_it), 0) AS BIGINT)
                           AS iterations_saved
                FROM t LEFT JOIN longest AS l ON t.job_id = l.job_id
                GROUP BY t.job_id)
            SELECT p.job_id, j.name, j.phase, p.n_trials, p.run_time_s, p.iterations, p.max_iterations,
                   p.n_stopped_early, p.iterations_saved,
                   CASE WHEN p.iterations + p.iterations_saved > 0
                        THEN p.iterations_saved / (p.iterations + p.iterations_saved) END AS saved_fraction
            FROM per_job AS p LEFT JOIN jobs AS j ON p.job_id = j.job_id
            ORDER BY p.run_time_s DESC NULLS LAST, p.job_id
        """
        return con.execute(sql).df()
    finally:
        if owned:
            con.close()


def _wide(params: list[str], sql_type: str) -> str:
    """The CTE ``wide`` (after ``z``): each standardised trial's ``z`` beside its ``params`` cast to ``sql_type``."""
    selects = ", ".join(f"CAST(t.{ident(p)} AS {sql_type}) AS {ident(p)}" for p in params)
    return f"""wide AS (
                    SELECT z.job_id, z.z, {selects}
                    FROM z JOIN trials AS t ON t.job_id = z.job_id AND t.trial_id = z.trial_id
                    WHERE z.z IS NOT NULL)"""


def _numeric_params(columns: dict[str, str]) -> list[str]:
    return [name for name, kind in columns.items() if name.startswith("param/") and is_numeric(kind)]


def param_effects(
    source: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    *,
    min_trials: int = 8,
    per_job: bool = False,
) -> pd.DataFrame:
    """How each numeric parameter moves the metric, per job and pooled across the jobs that share it.

    Within each job the metric is standardised (``(score - mean) / sd``
    over its ``TERMINATED`` trials with a value, ``score`` signed so that
    higher is better whatever the job's mode), and the effect of a parameter
    is the rank correlation (Spearman, average ranks for ties) between it and
    the standardised metric: +1 when larger values always did better, -1
    when they always did worse. Rank correlation needs no choice of scale (a
    log-uniform learning rate gives the same answer as its log). Jobs with
    fewer than ``min_trials`` such trials, or a constant parameter, are left
    out.

    ``per_job=True``: one row per ``(param, job_id)`` with ``n`` and
    ``effect``. Otherwise one row per parameter: ``n_jobs``, ``n_trials``,
    ``effect`` (the jobs' correlations pooled by Fisher's z, weighted by
    ``n - 3``), ``low``/``high`` (its 95 % interval), ``n_positive``,
    ``n_negative`` and ``note`` (which jobs disagree in sign, when they do).
    Ordered by the size of the pooled effect. Text parameters (categories)
    are in :func:`level_effects`.
    """
    import pandas as pd

    min_trials = check_int("min_trials", min_trials, low=4)
    con, owned = connection(source)
    try:
        params = _numeric_params(trial_columns(con))
        if not params:
            per = pd.DataFrame({"param": pd.Series(dtype=object), "job_id": pd.Series(dtype=object),
                                "n": pd.Series(dtype="int64"), "effect": pd.Series(dtype="float64")})
        else:
            columns = ", ".join(ident(p) for p in params)
            sql = f"""
                WITH {_STANDARDISED},
                {_wide(params, "DOUBLE")},
                long AS (
                    SELECT job_id, z, param, x FROM (UNPIVOT wide ON {columns} INTO NAME param VALUE x)
                    WHERE x IS NOT NULL AND NOT isnan(x) AND NOT isinf(x)),
                ranked AS (
                    SELECT job_id, param,
                           rank() OVER (PARTITION BY job_id, param ORDER BY x)
                               + (count(*) OVER (PARTITION BY job_id, param, x) - 1) / 2.0 AS rx,
                           rank() OVER (PARTITION BY job_id, param ORDER BY z)
                               + (count(*) OVER (PARTITION BY job_id, param, z) - 1) / 2.0 AS rz
                    FROM long)
                SELECT param, job_id, count(*) AS n, corr(rx, rz) AS effect
                FROM ranked GROUP BY param, job_id
                HAVING count(*) >= ? AND corr(rx, rz) IS NOT NULL AND NOT isnan(corr(rx, rz))
                ORDER BY param, job_id
            """
            per = con.execute(sql, [min_trials]).df()
    finally:
        if owned:
            con.close()
    if per_job:
        return per.reset_index(drop=True)
    return _pool(per)


_STANDARDISED = """
    v AS (
        SELECT job_id, trial_id, score FROM trial_values
        WHERE status = 'TERMINATED' AND score IS NOT NULL AND NOT isinf(score)),
    z AS (
        SELECT job_id, trial_id, (score - avg(score) OVER w) / nullif(stddev_samp(score) OVER w, 0) AS z
        FROM v WINDOW w AS (PARTITION BY job_id))"""


def level_effects(
    source: str | os.PathLike[str] | duckdb.DuckDBPyConnection,
    *,
    min_trials: int = 8,
    max_levels: int = 20,
    per_job: bool = False,
) -> pd.DataFrame:
    """How each level of a text parameter (an optimizer, say) did, per job and pooled across jobs.

    The metric is standardised within each job as in :func:`param_effects`
    (finished trials, higher is better); a level's effect is the mean
    standardised metric of its trials: 0 is the job's average, +0.5 half a
    standard deviation better. Jobs with fewer than ``min_trials`` trials
    with a value of the parameter, with only one level, or with more than
    ``max_levels`` levels or fewer than two trials per level on average
    (an identifier or a number stored as text, not a choice) are left out.

    ``per_job=True``: one row per ``(param, level, job_id)`` with ``n`` and
    ``effect``. Otherwise one row per ``(param, level)``: ``n_jobs``,
    ``n_trials``, ``effect`` (the trials' mean over the jobs), ``low``/``high``
    (a 95 % interval, the standardised metric having unit variance within a
    job) and ``note``, on every row of a parameter whose best level differs
    between jobs. Ordered by parameter, then effect, best first.
    """
    import pandas as pd

    min_trials = check_int("min_trials", min_trials, low=4)
    max_levels = check_int("max_levels", max_levels, low=2)
    con, owned = connection(source)
    try:
        params = [name for name, kind in trial_columns(con).items()
                  if name.startswith("param/") and not is_numeric(kind) and kind.upper() in ("VARCHAR", "BOOLEAN")]
        if not params:
            per = pd.DataFrame({"param": pd.Series(dtype=object), "level": pd.Series(dtype=object),
                                "job_id": pd.Series(dtype=object), "n": pd.Series(dtype="int64"),
                                "effect": pd.Series(dtype="float64")})
        else:
            columns = ", ".join(ident(p) for p in params)
            sql = f"""
                WITH {_STANDARDISED},
                {_wide(params, "VARCHAR")},
                long AS (SELECT job_id, z, param, level FROM (UNPIVOT wide ON {columns} INTO NAME param VALUE level)),
                usable AS (
                    SELECT job_id, param FROM long GROUP BY job_id, param
                    HAVING count(*) >= ? AND count(DISTINCT level) BETWEEN 2 AND ?
                       AND count(DISTINCT level) * 2 <= count(*))
                SELECT l.param, l.level, l.job_id, count(*) AS n, avg(l.z) AS effect
                FROM long AS l SEMI JOIN usable AS u ON l.job_id = u.job_id AND l.param = u.param
                GROUP BY l.param, l.level, l.job_id
                ORDER BY l.param, l.level, l.job_id
            """
            per = con.execute(sql, [min_trials, max_levels]).df()
    finally:
        if owned:
            con.close()
    if per_job:
        return per.reset_index(drop=True)
    return _pool_levels(per)


def _pool_levels(per: pd.DataFrame) -> pd.DataFrame:
    """One row per ``(param, level)``: the trials' mean standardised metric over the jobs, and a note."""
    import pandas as pd

    columns = ["param", "level", "n_jobs", "n_trials", "effect", "low", "high", "note"]
    if per.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for param, group in per.groupby("param", sort=True):
        best = group.loc[group.groupby("job_id")["effect"].idxmax(), ["job_id", "level"]]
        winners = best.groupby("level")["job_id"].apply(list)
        note = ""
        if len(winners) > 1:
            parts = [f"{level} in {len(ids)} ({_few(ids)})" for level, ids in
                     sorted(winners.items(), key=lambda item: (-len(item[1]), item[0]))]
            note = "jobs disagree on the best level: " + "; ".join(parts)
        for level, lv in group.groupby("level", sort=True):
            n = int(lv["n"].sum())
            effect = float((lv["n"] * lv["effect"]).sum() / n)
            half = 1.959964 / math.sqrt(n)
            rows.append({"param": param, "level": level, "n_jobs": len(lv), "n_trials": n, "effect": effect,
                         "low": effect - half, "high": effect + half, "note": note})
    out = pd.DataFrame(rows, columns=columns)
    return out.sort_values(["param", "effect"], ascending=[True, False], kind="stable").reset_index(drop=True)


def _pool(per: pd.DataFrame) -> pd.DataFrame:
    """One row per parameter from the per-job correlations (Fisher's z, weights ``n - 3``)."""
    import pandas as pd

    rows = []
    for param, group in per.groupby("param", sort=True):
        weights = (group["n"] - 3).astype(float)
        zs = group["effect"].clip(-0.999999, 0.999999).map(math.atanh)
        total = float(weights.sum())
        pooled = float((weights * zs).sum() / total)
        half = 1.959964 / math.sqrt(total)
        positive = group.loc[group["effect"] > 0, "job_id"].tolist()
        negative = group.loc[group["effect"] < 0, "job_id"].tolist()
        note = ""
        if positive and negative:
            note = (f"jobs disagree in sign: {len(positive)} positive ({_few(positive)}), "
                    f"{len(negative)} negative ({_few(negative)})")
        rows.append({"param": param, "n_jobs": len(group), "n_trials": int(group["n"].sum()),
                     "effect": math.tanh(pooled), "low": math.tanh(pooled - half), "high": math.tanh(pooled + half),
                     "n_positive": len(positive), "n_negative": len(negative), "note": note})
    columns = ["param", "n_jobs", "n_trials", "effect", "low", "high", "n_positive", "n_negative", "note"]
    out = pd.DataFrame(rows, columns=columns)
    if out.empty:
        return out
    order = out["effect"].abs().sort_values(ascending=False, kind="stable").index
    return out.loc[order].reset_index(drop=True)


def _few(ids: list[str], limit: int = 3) -> str:
    shown = ", ".join(ids[:limit])
    return shown + (f" and {len(ids) - limit} more" if len(ids) > limit else "")
