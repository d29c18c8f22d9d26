"""Benchmark: querying the many-jobs dataset (issue #16), one section per question.

Section ``query``: best trial per job over ``--jobs`` x ``--trials`` trials
(default 2,000 x 500 = 1,000,000), each job by its own metric and mode
(every fourth job minimises ``loss``, the others maximise ``acc``), in the
dataset layout (``trials/job_id=<id>/trials.parquet``, ``jobs/jobs.parquet``).
The dataset is generated once into ``--cache`` (default: a directory under
the system's temporary directory named by the sizes and seed) and reused.

* DuckDB: :func:`hpo_analytics.query.leaderboard` on the directory, end to
  end (opening the views, reading the Parquet files, the per-job metric,
  ranking); and, for information, on a connection opened once beforehand
  (as a notebook or a script asking several questions would).
* pandas: ``pd.read_parquet`` of the trials directory (hive partitions, only
  the columns the question needs) and of the jobs table, each trial's value
  of its job's metric, ``groupby("job_id").idxmax()`` of the signed score.

Both must give the same best value for every job. Medians over ``--reps``
runs (interleaved, after one untimed warm-up of each) and the ratio pandas /
DuckDB are printed.

Usage::

    python benchmarks/query.py [--section query] [--jobs 2000] [--trials 500] [--reps 5] [--cache DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from hpo_analytics.query import leaderboard, open_dataset

# The columns of jobs/jobs.parquet (the dataset contract of issue #16).
_TS = pa.timestamp("ms", tz="UTC")
_SEARCH_PARAM = pa.struct([
    ("name", pa.string()), ("param_type", pa.string()), ("lower_bound", pa.string()), ("upper_bound", pa.string()),
    ("discrete_points_num", pa.string()), ("discrete_values", pa.list_(pa.string())),
])
JOBS_SCHEMA = pa.schema([
    ("job_id", pa.string()), ("name", pa.string()), ("kind", pa.string()), ("phase", pa.string()),
    ("user_name", pa.string()), ("create_time", _TS), ("duration_s", pa.float64()), ("algorithm", pa.string()),
    ("algo_configs", pa.string()), ("search_params", pa.list_(_SEARCH_PARAM)), ("reward_metric", pa.string()),
    ("reward_mode", pa.string()), ("reward_attrs", pa.string()), ("n_trials", pa.int64()),
    ("n_completed", pa.int64()), ("n_failed", pa.int64()), ("n_running", pa.int64()), ("n_pending", pa.int64()),
    ("best_value", pa.float64()), ("synced_at", _TS),
])
_DONE_MARKER = "_generated"


def _job_trials(rng: np.random.Generator, n: int) -> pa.Table:
    """One job's trials table (the normalizer's column names), with a few NaN metrics and failed trials."""
    lr = 10 ** rng.uniform(-5, -1, n)
    dropout = rng.uniform(0, 0.6, n)
    acc = np.clip(0.92 - 0.05 * (np.log10(lr) + 2.5) ** 2 - 0.8 * (dropout - 0.2) ** 2
                  + rng.normal(0, 0.01, n), 0.1, 0.99)
    loss = -0.5 * np.log(acc) + rng.normal(0, 0.01, n)
    diverged = rng.random(n) < 0.02
    acc[diverged] = np.nan
    loss[diverged] = np.nan
    status = np.where(rng.random(n) < 0.05, "ERROR", "TERMINATED")
    iterations = np.where(rng.random(n) < 0.3, rng.integers(1, 50, n), 50)
    return pa.table({
        "trial_id": pa.array([f"{i:08x}" for i in rng.integers(0, 2**32, n)], pa.string()),
        "trial_index": pa.array(np.arange(n), pa.int64()),
        "status": pa.array(status, pa.string()),
        "training_iteration": pa.array(iterations, pa.int64()),
        "time_total_s": pa.array(iterations * rng.uniform(5, 30, n), pa.float64()),
        "acc": pa.array(acc, pa.float64()),
        "loss": pa.array(loss, pa.float64()),
        "param/learning_rate": pa.array(lr, pa.float64()),
        "param/batch_size": pa.array(rng.choice([16, 32, 64, 128, 256], n), pa.int64()),
        "param/dropout": pa.array(dropout, pa.float64()),
    })


def make_dataset(root: Path, *, n_jobs: int, n_trials: int, seed: int = 0) -> Path:
    """Write (once) ``n_jobs`` jobs of ``n_trials`` trials in the dataset layout under ``root``."""
    if (root / _DONE_MARKER).exists():
        return root
    rng = np.random.default_rng(seed)
    rows = []
    for k in range(n_jobs):
        job_id = f"job-{seed}-{k:05d}"
        table = _job_trials(rng, n_trials)
        path = root / "trials" / f"job_id={job_id}" / "trials.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, path)
        metric, mode = ("loss", "min") if k % 4 == 3 else ("acc", "max")
        values = table[metric].to_numpy(zero_copy_only=False)
        best = float(np.nanmin(values) if mode == "min" else np.nanmax(values))
        statuses = table["status"].to_pylist()
        rows.append({
            "job_id": job_id, "name": f"fleet-{k:05d}", "kind": "autosearch_job", "phase": "Completed",
            "user_name": "bench", "create_time": pd.Timestamp(1_700_000_000_000 + k * 60_000, unit="ms", tz="UTC"),
            "duration_s": 3600.0, "algorithm": "bayes_opt_search", "algo_configs": "[]", "search_params": [],
            "reward_metric": metric, "reward_mode": mode,
            "reward_attrs": f'[{{"name": "{metric}", "mode": "{mode}"}}]', "n_trials": n_trials,
            "n_completed": statuses.count("TERMINATED"), "n_failed": statuses.count("ERROR"),
            "n_running": 0, "n_pending": 0, "best_value": best,
            "synced_at": pd.Timestamp("2026-01-01", tz="UTC"),
        })
    (root / "jobs").mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema=JOBS_SCHEMA), root / "jobs" / "jobs.parquet")
    (root / _DONE_MARKER).write_text(f"{n_jobs} x {n_trials}, seed {seed}\n", encoding="utf-8")
    return root


def best_duckdb(source: Path | duckdb.DuckDBPyConnection) -> pd.Series:
    """Best value per job through the DuckDB leaderboard (of a directory, or on an open connection)."""
    board = leaderboard(source)
    return board.set_index("job_id")["best_value"].sort_index()


def best_pandas(root: Path) -> pd.Series:
    """Best value per job with pandas alone: read the Parquet, pick each job's metric, groupby."""
    trials = pd.read_parquet(root / "trials", columns=["job_id", "trial_id", "acc", "loss"])
    jobs = pd.read_parquet(root / "jobs" / "jobs.parquet", columns=["job_id", "reward_metric", "reward_mode"])
    trials["job_id"] = trials["job_id"].astype(str)
    df = trials.merge(jobs, on="job_id")
    value = np.where(df["reward_metric"].to_numpy() == "loss", df["loss"].to_numpy(), df["acc"].to_numpy())
    df["value"] = value
    df["score"] = np.where(df["reward_mode"].to_numpy() == "min", -value, value)
    df = df[df["score"].notna()]
    best = df.loc[df.groupby("job_id")["score"].idxmax(), ["job_id", "value"]]
    return best.set_index("job_id")["value"].sort_index()


def _time(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def section_query(args: argparse.Namespace) -> int:
    """Best-per-job in DuckDB against pandas groupby; prints medians and the ratio."""
    n = args.jobs * args.trials
    cache = Path(args.cache) if args.cache else (
        Path(tempfile.gettempdir()) / f"hpo-analytics-bench-fleet-{args.jobs}x{args.trials}-seed{args.seed}")
    t0 = time.perf_counter()
    existed = (cache / _DONE_MARKER).exists()
    make_dataset(cache, n_jobs=args.jobs, n_trials=args.trials, seed=args.seed)
    print(f"data: {args.jobs:,} jobs x {args.trials:,} trials = {n:,} trials in {cache} "
          f"({'reused' if existed else f'written in {time.perf_counter() - t0:.1f} s'})")

    duck, panda = best_duckdb(cache), best_pandas(cache)  # warm-up (imports, file cache), and the check
    if not duck.index.equals(panda.index) or not np.allclose(duck.to_numpy(), panda.to_numpy()):
        print("DuckDB and pandas disagree on the best value of some job", file=sys.stderr)
        return 1
    with open_dataset(cache) as con:
        runs: dict[str, Callable[[], object]] = {
            "duckdb": lambda: best_duckdb(cache),
            "duckdb, open": lambda: best_duckdb(con),
            "pandas": lambda: best_pandas(cache),
        }
        runs["duckdb, open"]()  # warm-up of the open connection
        times: dict[str, list[float]] = {k: [] for k in runs}
        for rep in range(args.reps):
            order = list(runs) if rep % 2 == 0 else list(reversed(runs))
            for key in order:
                times[key].append(_time(runs[key]))
                print(f"  rep {rep + 1}: {key:<12} {times[key][-1]:7.3f} s", flush=True)
    med = {k: statistics.median(v) for k, v in times.items()}
    print()
    print(f"best per job over {n:,} trials, DuckDB leaderboard (open + query): median {med['duckdb']:.3f} s "
          f"over {args.reps} reps")
    print(f"best per job over {n:,} trials, DuckDB leaderboard on an open connection: "
          f"median {med['duckdb, open']:.3f} s")
    print(f"best per job over {n:,} trials, pandas read_parquet + groupby: median {med['pandas']:.3f} s")
    print(f"ratio: pandas takes {med['pandas'] / med['duckdb']:.2f}x DuckDB's time, open + query "
          f"({med['pandas'] / med['duckdb, open']:.2f}x on an open connection; "
          f"same best value for all {len(duck):,} jobs)")
    return 0


SECTIONS: dict[str, Callable[[argparse.Namespace], int]] = {"query": section_query}
"""Each section's runner; ``--section all`` runs them in this order."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", choices=[*SECTIONS, "all"], default="all")
    parser.add_argument("--jobs", type=int, default=2_000, help="query: jobs in the generated dataset")
    parser.add_argument("--trials", type=int, default=500, help="query: trials per job")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--cache", help="query: where the generated dataset is kept (reused when complete)")
    args = parser.parse_args(argv)
    status = 0
    for name, run in SECTIONS.items():
        if args.section in (name, "all"):
            print(f"== {name}")
            status = max(status, run(args))
    return status


if __name__ == "__main__":
    sys.exit(main())
