"""Rendering of synthetic trials as the service writes them: string cells, tensor reprs, page bodies.

Everything that turns the model's numbers into what ModelArts sends lives
here: the ``header``/``data`` matrices of the all-trials and per-trial
endpoints (numbers as ``repr`` text, ``"True"``/``"False"``, ``""`` for
missing values, PyTorch tensor reprs), the page and job-details JSON bodies,
and :func:`generate_pages`, which renders finished jobs of any size lazily.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from ...errors import ConfigurationError
from ._model import METRICS, SPACES, TrialSet, generate_trials, trial_configs

__all__ = [
    "ALL_TRIALS_HEADER",
    "PER_TRIAL_HEADER",
    "all_trials_header",
    "analysis_page",
    "format_number",
    "format_tensor",
    "generate_pages",
    "history_page",
    "history_rows",
    "per_trial_header",
    "job_details",
    "render_trial_rows",
    "trials_page",
]

ALL_TRIALS_HEADER: tuple[str, ...] = (
    "", "done", "pid", "config", "trial_id", "training_iteration", "time_total_s",
    "worker_index", "reward_attr", "status", "acc", "loss", "best_reward",
)
"""Column order of the all-trials endpoint (leading unnamed row-index column)."""

PER_TRIAL_HEADER: tuple[str, ...] = (
    "done", "pid", "best_reward", "time_total_s", "config", "acc", "loss",
    "trial_id", "training_iteration", "reward_attr",
)
"""Column order of the per-trial endpoint (no index column, one row per iteration)."""

_ANALYSIS_HEADER = ("parameters", "the mean/std of importance")


def _check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise ConfigurationError(f"metric must be one of {sorted(METRICS)}, not {metric!r}")


def all_trials_header(metric: str = "acc") -> tuple[str, ...]:
    """:data:`ALL_TRIALS_HEADER` of a job searching on ``metric`` (``rmse`` replaces the ``acc`` column)."""
    _check_metric(metric)
    return tuple("rmse" if h == "acc" and metric == "rmse" else h for h in ALL_TRIALS_HEADER)


def per_trial_header(metric: str = "acc") -> tuple[str, ...]:
    """:data:`PER_TRIAL_HEADER` of a job searching on ``metric``."""
    _check_metric(metric)
    return tuple("rmse" if h == "acc" and metric == "rmse" else h for h in PER_TRIAL_HEADER)


def _metric_arrays(ts: TrialSet, metric: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(first column, reward, best reward so far)`` matrices of a job searching on ``metric``.

    The first metric column is ``acc`` (or ``rmse = 1 - acc``); the reward is
    the searched metric's value, and the best is its running max (``acc``) or min.
    """
    _check_metric(metric)
    if metric == "acc":
        return ts.acc, ts.acc, ts.best
    if metric == "loss":
        return ts.acc, ts.loss, np.fmin.accumulate(ts.loss, axis=1)
    rmse = np.round(1.0 - ts.acc, 6)
    return rmse, rmse, np.fmin.accumulate(rmse, axis=1)


def format_number(value: float | int) -> str:
    """A number as the service writes it: ``repr`` of the float, ``nan``, ``inf``."""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return repr(float(value))


def format_tensor(value: float, *, device: str = "cuda:0") -> str:
    """A scalar as ``str()`` of a PyTorch tensor: ``tensor(0.0754, device='cuda:0', requires_grad=True)``."""
    v = float(value)
    text = "nan" if math.isnan(v) else ("inf" if v == math.inf else ("-inf" if v == -math.inf else f"{v:.4f}"))
    return f"tensor({text}, device='{device}', requires_grad=True)"


def render_trial_rows(
    ts: TrialSet,
    idx: np.ndarray,
    completed: np.ndarray,
    status: np.ndarray,
    started: np.ndarray,
    *,
    first_position: int = 0,
    metric: str = "acc",
) -> list[list[Any]]:
    """All-trials rows for trials ``idx`` of ``ts`` (column-wise, so 1,000,000 rows take seconds).

    ``completed`` (iterations reported), ``status`` and ``started`` are per
    row; positions (the leading index cell) count from ``first_position``.
    ``metric`` is what the job searches on (see :func:`all_trials_header`).
    """
    n = len(idx)
    k = np.asarray(completed, dtype=np.int64)
    has = k > 0
    col = np.maximum(k - 1, 0)
    first, reward, best_m = _metric_arrays(ts, metric)
    acc = first[idx, col].tolist()
    loss = ts.loss[idx, col].tolist()
    best = best_m[idx, col].tolist()
    tts = ts.cum_time[idx, col].tolist()
    has_l = has.tolist()
    acc_s = [repr(v) if h else "" for v, h in zip(acc, has_l)]
    reward_s = acc_s if reward is first else [repr(v) if h else "" for v, h in zip(reward[idx, col].tolist(), has_l)]
    rows = []
    for r, (cfg, tid, pid, st, kk, h, a, rw, lo, b, t, s0) in enumerate(zip(
        trial_configs(ts, idx), [ts.trial_ids[i] for i in idx.tolist()], ts.pid[idx].tolist(),
        [str(x) for x in status], k.tolist(), has_l, acc_s, reward_s, loss, best, tts, np.asarray(started).tolist(),
    )):
        rows.append([
            str(first_position + r), "True" if st == "TERMINATED" else "False",
            str(pid) if s0 or h else "", cfg, tid,
            str(kk) if h else "", repr(t) if h else "", "", rw, st, a,
            format_tensor(lo) if h else "", repr(b) if h else "",
        ])
    assert len(rows) == n
    return rows


def history_rows(ts: TrialSet, i: int, *, completed: int, status: str, metric: str = "acc") -> list[list[Any]]:
    """Per-trial rows (header :func:`per_trial_header`) of trial ``i``, one per reported iteration.

    ``completed`` is how many iterations it has reported; ``done`` is
    ``"True"`` only on the last row of a ``TERMINATED`` trial.
    """
    cfg = ts.config(i)
    pid = str(int(ts.pid[i]))
    first, reward, best = _metric_arrays(ts, metric)
    rows = []
    for j in range(completed):
        acc = format_number(first[i, j])
        last_done = j == completed - 1 and status == "TERMINATED"
        rows.append([
            "True" if last_done else "False", pid, format_number(best[i, j]),
            format_number(ts.cum_time[i, j]), cfg, acc, format_tensor(ts.loss[i, j]),
            ts.trial_ids[i], str(j + 1), format_number(reward[i, j]),
        ])
    return rows


def trials_page(rows: list[list[Any]], *, total: int, limit: int, offset: int, metric: str = "acc") -> dict[str, Any]:
    """An all-trials response body around ``rows`` (``limit`` and ``offset`` as echoed)."""
    return {
        "total": total,
        "count": len(rows),
        "limit": limit,
        "offset": offset,
        "group_by": "",
        "items": {"header": list(all_trials_header(metric)), "data": rows},
    }


def history_page(rows: list[list[Any]], *, metric: str = "acc") -> dict[str, Any]:
    """A per-trial response body (top-level ``header``/``data``)."""
    return {"header": list(per_trial_header(metric)), "data": rows}


def analysis_page(names: Sequence[str], shares: np.ndarray | None) -> dict[str, Any]:
    """The parameter-analysis body: one ``"mean/std"`` row per name (4 decimals), none when ``shares`` is ``None``.

    ``shares`` has one row per bootstrap resample and one column per name.
    """
    if shares is None:
        return {"header": list(_ANALYSIS_HEADER), "data": []}
    data = [
        [name, f"{shares[:, j].mean():.4f}/{shares[:, j].std():.4f}"]
        for j, name in enumerate(names)
    ]
    return {"header": list(_ANALYSIS_HEADER), "data": data}


def job_details(
    *,
    job_id: str,
    name: str,
    create_time_ms: int,
    user_name: str,
    phase: str,
    started: bool,
    duration_ms: int,
    reward_attrs: list[Any],
    n_trials: int,
    seed: int,
    space: str = "default",
    algorithm: str = "bayes_opt_search",
) -> dict[str, Any]:
    """The training-job details body (``GET /v2/{p}/training-jobs/{j}``); ``reward_attrs`` is copied as given.

    ``space`` (one of :data:`~._model.SPACES`) gives ``search_params``; ``algorithm`` the ``algo_configs`` entry.
    """
    return {
        "kind": "autosearch_job",
        "metadata": {
            "id": job_id,
            "name": name,
            "workspace_id": "0",
            "description": "simulated autosearch job",
            "create_time": create_time_ms,
            "user_name": user_name,
            "annotations": {},
        },
        "status": {
            "phase": phase,
            "secondary_phase": phase,
            "duration": duration_ms,
            "start_time": create_time_ms if started else 0,
            "node_count_metrics": None,
            "tasks": ["worker-0"],
        },
        "algorithm": {
            "code_dir": "obs://hpo-sim/code/",
            "boot_file": "obs://hpo-sim/code/train.py",
            "autosearch_config_path": "obs://hpo-sim/code/autosearch.yaml",
            "autosearch_framework_path": "obs://hpo-sim/code/",
            "engine": {
                "engine_id": "pytorch-cp36-1.4.0-v2",
                "engine_name": "PyTorch",
                "engine_version": "PyTorch-1.4.0-python3.6-v2",
            },
            "policies": {
                "auto_search": {
                    "skip_search_params": "",
                    "reward_attrs": copy.deepcopy(reward_attrs),
                    "search_params": [spec.search_param() for spec in SPACES[space]],
                    "algo_configs": [
                        {
                            "name": algorithm,
                            "params": (
                                [{"key": "kind", "value": "ucb", "type": "String"}]
                                if algorithm == "bayes_opt_search" else []
                            ) + [
                                {"key": "num_samples", "value": str(n_trials), "type": "Integer"},
                                {"key": "seed", "value": str(seed), "type": "Integer"},
                            ],
                        }
                    ],
                }
            },
        },
        "spec": {
            "resource": {
                "policy": "regular",
                "flavor_id": "modelarts.vm.gpu.p100",
                "node_count": 1,
            }
        },
    }


def generate_pages(
    n_trials: int,
    *,
    seed: int = 0,
    page_size: int = 50,
    n_iterations: int = 12,
    chunk_size: int = 20_000,
) -> Iterator[dict[str, Any]]:
    """All-trials response pages (record offsets) of a finished synthetic job, generated lazily.

    Meant for benchmarks and normalizer tests: trials are drawn ``chunk_size``
    at a time, so memory stays bounded (1,000,000 trials work); every trial
    has finished (``TERMINATED``, or ``ERROR`` for about 5 %) and the rows are
    those :class:`~hpo_analytics.simulator.synthetic.SimulatedJob` renders for a finished job.
    """
    if page_size < 1 or chunk_size < 1:
        raise ConfigurationError("page_size and chunk_size must be >= 1")
    chunk_size = max(page_size, chunk_size - chunk_size % page_size)
    seen: set[str] = set()
    if n_trials == 0:
        yield trials_page([], total=0, limit=page_size, offset=0)
        return
    for start in range(0, n_trials, chunk_size):
        ts = generate_trials(
            min(chunk_size, n_trials - start), seed=seed, n_iterations=n_iterations,
            start_index=start, exclude_ids=seen,
        )
        seen.update(ts.trial_ids)
        idx = np.arange(len(ts))
        status = np.where(ts.will_error, "ERROR", "TERMINATED")
        for lo in range(0, len(ts), page_size):
            sel = idx[lo: lo + page_size]
            rows = render_trial_rows(
                ts, sel, ts.n_planned[sel], status[sel], np.ones(len(sel), dtype=bool),
                first_position=start + lo,
            )
            yield trials_page(rows, total=n_trials, limit=page_size, offset=start + lo)
