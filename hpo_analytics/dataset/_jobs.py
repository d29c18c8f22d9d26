"""The ``jobs`` table: one row per job, from its details (a job search's answer) and its trials.

:func:`job_row` makes the JSON-able row the manifest keeps; :func:`jobs_table`
turns the rows into the Arrow table of :data:`JOBS_SCHEMA`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from .._jsonutil import dig


__all__ = ["JOBS_SCHEMA", "SEARCH_PARAM_TYPE", "job_row", "jobs_table"]

SEARCH_PARAM_TYPE = pa.struct([
    ("name", pa.string()),
    ("param_type", pa.string()),
    ("lower_bound", pa.string()),
    ("upper_bound", pa.string()),
    ("discrete_points_num", pa.string()),
    ("discrete_values", pa.list_(pa.string())),
])

_TS = pa.timestamp("ms", tz="UTC")

JOBS_SCHEMA = pa.schema([
    ("job_id", pa.string()),
    ("name", pa.string()),
    ("kind", pa.string()),
    ("phase", pa.string()),
    ("user_name", pa.string()),
    ("create_time", _TS),
    ("duration_s", pa.float64()),
    ("algorithm", pa.string()),
    ("algo_configs", pa.string()),
    ("search_params", pa.list_(SEARCH_PARAM_TYPE)),
    ("reward_metric", pa.string()),
    ("reward_mode", pa.string()),
    ("reward_attrs", pa.string()),
    ("n_trials", pa.int64()),
    ("n_completed", pa.int64()),
    ("n_failed", pa.int64()),
    ("n_running", pa.int64()),
    ("n_pending", pa.int64()),
    ("best_value", pa.float64()),
    ("synced_at", _TS),
])
"""The columns of ``jobs/jobs.parquet``."""


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _search_params(value: Any) -> list[dict[str, Any]] | None:
    if not isinstance(value, list):
        return None
    out = []
    for entry in value:
        if not isinstance(entry, Mapping):
            continue
        values = entry.get("discrete_values")
        out.append({
            "name": _text(entry.get("name")),
            "param_type": _text(entry.get("param_type")),
            "lower_bound": _text(entry.get("lower_bound")),
            "upper_bound": _text(entry.get("upper_bound")),
            "discrete_points_num": _text(entry.get("discrete_points_num")),
            "discrete_values": [str(v) for v in values] if isinstance(values, list) else None,
        })
    return out


def _best(trials: pa.Table | None, metric: str | None, mode: str | None) -> float | None:
    if trials is None or metric is None or metric not in trials.column_names:
        return None
    col = trials[metric]
    if not (pa.types.is_floating(col.type) or pa.types.is_integer(col.type)):
        return None
    values = [float(v) for v in col.to_pylist() if v is not None and not math.isnan(float(v))]
    if not values:
        return None
    return min(values) if mode == "min" else max(values)


def job_row(details: Mapping[str, Any], trials: pa.Table | None, *, synced_at_ms: int) -> dict[str, Any]:
    """The ``jobs`` row of one job (JSON-able; times in epoch milliseconds)."""
    auto = dig(details, "algorithm", "policies", "auto_search")
    algo_configs = dig(auto, "algo_configs")
    reward_attrs = dig(auto, "reward_attrs")
    first_algo = algo_configs[0] if isinstance(algo_configs, list) and algo_configs else None
    first_reward = reward_attrs[0] if isinstance(reward_attrs, list) and reward_attrs else None
    metric = _text(dig(first_reward, "name")) or None
    mode = _text(dig(first_reward, "mode"))
    mode = mode.lower() if mode else None
    counts = {"TERMINATED": 0, "ERROR": 0, "RUNNING": 0, "PENDING": 0}
    if trials is not None and "status" in trials.column_names:
        for status in trials["status"].to_pylist():
            key = status.upper() if isinstance(status, str) else status
            if key in counts:
                counts[key] += 1
    created = _number(dig(details, "metadata", "create_time"))
    duration = _number(dig(details, "status", "duration"))
    return {
        "job_id": _text(dig(details, "metadata", "id")),
        "name": _text(dig(details, "metadata", "name")),
        "kind": _text(dig(details, "kind")),
        "phase": _text(dig(details, "status", "phase")),
        "user_name": _text(dig(details, "metadata", "user_name")),
        "create_time": int(created) if created is not None else None,
        "duration_s": duration / 1000.0 if duration is not None else None,
        "algorithm": _text(dig(first_algo, "name")),
        "algo_configs": json.dumps(algo_configs, ensure_ascii=False) if algo_configs is not None else None,
        "search_params": _search_params(dig(auto, "search_params")),
        "reward_metric": metric,
        "reward_mode": mode,
        "reward_attrs": json.dumps(reward_attrs, ensure_ascii=False) if reward_attrs is not None else None,
        "n_trials": trials.num_rows if trials is not None else 0,
        "n_completed": counts["TERMINATED"],
        "n_failed": counts["ERROR"],
        "n_running": counts["RUNNING"],
        "n_pending": counts["PENDING"],
        "best_value": _best(trials, metric, mode),
        "synced_at": synced_at_ms,
    }


def jobs_table(rows: Iterable[Mapping[str, Any]]) -> pa.Table:
    """The ``jobs`` table of ``rows`` (:func:`job_row`), ordered by ``create_time`` then ``job_id``."""
    ordered = sorted(rows, key=lambda r: (r.get("create_time") is None, r.get("create_time") or 0, r["job_id"]))
    return pa.Table.from_pylist([dict(r) for r in ordered], schema=JOBS_SCHEMA)
