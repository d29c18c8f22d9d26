"""Test datasets in the many-jobs layout (issue #16), written directly with pyarrow.

:func:`write_dataset` writes ``DIR/jobs/jobs.parquet``,
``DIR/trials/job_id=<id>/trials.parquet`` and ``DIR/curves/job_id=<id>/curves.parquet``
from tables a client fetched, unifying the schemas by the documented rule
(int64 and float64 give float64, null gives the other type, anything else
gives text), and ``_manifest.json`` last. It stands in for
``hpo_analytics.sync`` in the query tests: :func:`simulated_dataset` is the
one place to swap for a real sync against the simulator.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from hpo_analytics import ModelArtsClient
from hpo_analytics.simulator import Simulator

SEARCH_PARAM = pa.struct([
    ("name", pa.string()), ("param_type", pa.string()), ("lower_bound", pa.string()), ("upper_bound", pa.string()),
    ("discrete_points_num", pa.string()), ("discrete_values", pa.list_(pa.string())),
])
TS = pa.timestamp("ms", tz="UTC")
JOBS_SCHEMA = pa.schema([
    ("job_id", pa.string()), ("name", pa.string()), ("kind", pa.string()), ("phase", pa.string()),
    ("user_name", pa.string()), ("create_time", TS), ("duration_s", pa.float64()), ("algorithm", pa.string()),
    ("algo_configs", pa.string()), ("search_params", pa.list_(SEARCH_PARAM)), ("reward_metric", pa.string()),
    ("reward_mode", pa.string()), ("reward_attrs", pa.string()), ("n_trials", pa.int64()),
    ("n_completed", pa.int64()), ("n_failed", pa.int64()), ("n_running", pa.int64()), ("n_pending", pa.int64()),
    ("best_value", pa.float64()), ("synced_at", TS),
])


@dataclass
class Job:
    """One job as fetched: its details, trials and curves (``None``: not synced)."""

    details: dict[str, Any]
    trials: pa.Table
    curves: pa.Table | None = None
    job_id: str = field(init=False)

    def __post_init__(self) -> None:
        self.job_id = self.details["metadata"]["id"]


def _merge(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    if a == b or pa.types.is_null(b):
        return a
    if pa.types.is_null(a):
        return b
    if {a, b} == {pa.int64(), pa.float64()}:
        return pa.float64()
    return pa.string()


def unify(schemas: Sequence[pa.Schema]) -> pa.Schema:
    """The union of ``schemas`` by column name under the dataset's type rule."""
    types: dict[str, pa.DataType] = {}
    for schema in schemas:
        for f in schema:
            types[f.name] = _merge(types[f.name], f.type) if f.name in types else f.type
    return pa.schema(list(types.items()))


def conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` in the dataset ``schema``, its own schema metadata kept."""
    arrays = []
    for f in schema:
        if f.name not in table.column_names:
            arrays.append(pa.nulls(table.num_rows, f.type))
            continue
        col = table[f.name]
        if col.type == f.type:
            arrays.append(col)
        elif pa.types.is_string(f.type):
            arrays.append(pa.array([None if v is None else json.dumps(v) for v in col.to_pylist()], pa.string()))
        else:
            arrays.append(col.cast(f.type))
    return pa.Table.from_arrays(arrays, schema=schema.with_metadata(table.schema.metadata))


def _best(trials: pa.Table, metric: str | None, mode: str | None) -> float | None:
    if metric is None or metric not in trials.column_names:
        return None
    values = [v for v in trials[metric].to_pylist() if isinstance(v, (int, float)) and v == v]
    if not values:
        return None
    return float(min(values) if mode == "min" else max(values))


def job_row(job: Job, *, synced_at: datetime) -> dict[str, Any]:
    """The job's ``jobs.parquet`` row (the documented columns)."""
    d = job.details
    meta, status = d.get("metadata", {}), d.get("status", {})
    auto = d.get("algorithm", {}).get("policies", {}).get("auto_search", {})
    rewards = auto.get("reward_attrs") or []
    algos = auto.get("algo_configs") or []
    metric = rewards[0].get("name") if rewards else None
    mode = rewards[0].get("mode") if rewards else None
    statuses = job.trials["status"].to_pylist()
    return {
        "job_id": job.job_id, "name": meta.get("name"), "kind": d.get("kind"), "phase": status.get("phase"),
        "user_name": meta.get("user_name"),
        "create_time": datetime.fromtimestamp(meta["create_time"] / 1000, tz=timezone.utc),
        "duration_s": status.get("duration", 0) / 1000, "algorithm": algos[0].get("name") if algos else None,
        "algo_configs": json.dumps(algos), "search_params": auto.get("search_params"),
        "reward_metric": metric, "reward_mode": mode, "reward_attrs": json.dumps(rewards),
        "n_trials": len(statuses), "n_completed": statuses.count("TERMINATED"), "n_failed": statuses.count("ERROR"),
        "n_running": statuses.count("RUNNING"), "n_pending": statuses.count("PENDING"),
        "best_value": _best(job.trials, metric, mode), "synced_at": synced_at,
    }


def write_dataset(root: str | os.PathLike[str], jobs: Sequence[Job]) -> Path:
    """Write ``jobs`` in the dataset layout under ``root``; returns ``root``."""
    root = Path(root)
    synced_at = datetime(2026, 1, 1, tzinfo=timezone.utc)
    schemas = {kind: unify([getattr(j, kind).schema for j in jobs if getattr(j, kind) is not None])
               for kind in ("trials", "curves")}
    manifest: dict[str, Any] = {"format": 1, "jobs": {}}
    for job in jobs:
        for kind in ("trials", "curves"):
            table = getattr(job, kind)
            if table is None:
                continue
            path = root / kind / f"job_id={job.job_id}" / f"{kind}.parquet"
            path.parent.mkdir(parents=True, exist_ok=True)
            pq.write_table(conform(table, schemas[kind]), path)
        # what a sync records per job: its phase, and each trial's iterations and status
        iterations = job.trials["training_iteration"].to_pylist() if "training_iteration" in job.trials.column_names \
            else [None] * job.trials.num_rows
        manifest["jobs"][job.job_id] = {
            "phase": job.details["status"]["phase"], "curves": job.curves is not None,
            "trials": {t: [i, s] for t, i, s in zip(job.trials["trial_id"].to_pylist(), iterations,
                                                   job.trials["status"].to_pylist())},
        }
    (root / "jobs").mkdir(parents=True, exist_ok=True)
    rows = [job_row(j, synced_at=synced_at) for j in jobs]
    pq.write_table(pa.Table.from_pylist(rows, schema=JOBS_SCHEMA), root / "jobs" / "jobs.parquet")
    (root / "_manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return root


def fetch_jobs(sim: Simulator, *, curves: bool = True,
               edit: Callable[[int, pa.Table], pa.Table] | None = None) -> list[Job]:
    """Every job of ``sim`` fetched over loopback HTTP by the real client (``edit(k, trials)`` varies them)."""
    jobs = []
    with ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
        for k, job_id in enumerate(sim.job_ids):
            trials = client.fetch_trials(job_id)
            table_curves = client.fetch_curves(job_id) if curves else None
            if edit is not None:
                trials = edit(k, trials)
                if table_curves is not None:
                    table_curves = edit(k, table_curves)
            jobs.append(Job(client.get_training_job(job_id), trials, table_curves))
    return jobs


def _vary(k: int, table: pa.Table) -> pa.Table:
    """Jobs with differing search spaces: job 2 has a float batch size, job 3 other parameters."""
    if k == 2 and "param/batch_size" in table.column_names:
        i = table.column_names.index("param/batch_size")
        return table.set_column(i, "param/batch_size", table["param/batch_size"].cast(pa.float64()))
    if k == 3:
        table = table.drop_columns([c for c in ("param/weight_decay",) if c in table.column_names])
        if "param/seed_offset" in table.column_names:  # a parameter whose type differs between jobs: text
            i = table.column_names.index("param/seed_offset")
            table = table.set_column(i, "param/seed_offset", table["param/seed_offset"].cast(pa.string()))
        momentum = pa.array([0.5 + (i % 5) / 10 for i in range(table.num_rows)], pa.float64())
        table = table.append_column("param/momentum", momentum)
    return table


def simulated_fleet(*, seed: int = 3, n_trials: int = 40) -> list[Job]:
    """Four simulated jobs, fetched: acc/max jobs, a loss/min job, a running job, differing spaces."""
    with Simulator(seed=seed, n_trials=n_trials, n_jobs=2, n_iterations=8, auth="any") as sim:
        sim.add_job(n_trials=n_trials // 2, reward_attrs=[{"name": "loss", "mode": "min"},
                                                           {"name": "acc", "mode": "max"}])
        running = sim.add_job(n_trials=n_trials // 2, elapsed=300.0)
        stopped: list[str] = []
        with ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
            listing = client.fetch_trials(running)
            for trial_id, status in zip(listing["trial_id"].to_pylist(), listing["status"].to_pylist()):
                if status == "RUNNING" and len(stopped) < 2:
                    client.early_stop(running, trial_id)
                    stopped.append(trial_id)  # two trials stopped early, for the cost analysis
        return fetch_jobs(sim, edit=_vary)


def simulated_dataset(root: str | os.PathLike[str], *, seed: int = 3, n_trials: int = 40) -> Path:
    """:func:`simulated_fleet` written in the layout under ``root``."""
    return write_dataset(root, simulated_fleet(seed=seed, n_trials=n_trials))
