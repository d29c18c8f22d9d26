"""Seeded synthetic autosearch jobs with a known ground truth.

This module makes trials the way a ModelArts hyperparameter search would, and
renders them exactly as the service renders them, so the simulator, the
example data and the benchmarks all share one source of truth.

Search space (:data:`SEARCH_SPACE`)
    ``learning_rate``  log-uniform on [1e-5, 1e-1]          (float)
    ``batch_size``     one of 16, 32, 64, 128, 256          (int)
    ``optimizer``      one of ``adam``, ``sgd``, ``rmsprop`` (str)
    ``dropout``        uniform on [0, 0.6]                  (float)
    ``weight_decay``   log-uniform on [1e-6, 1e-2]          (float)
    ``seed_offset``    integer uniform on [0, 99]           (int)

Objective (:func:`effects`, :data:`GROUND_TRUTH`)
    Each trial's accuracy rises towards an asymptote::

        asymptote = clip(0.92 + sum of effects + N(0, 0.01), 0.10, 0.99)

    with these effects, largest first:

    * ``learning_rate``: ``-0.05 * (log10(lr) + 2.5) ** 2`` (best at ~3.2e-3)
    * ``optimizer``: adam 0, rmsprop -0.04, sgd -0.12
    * ``dropout``: ``-0.8 * (dropout - 0.2) ** 2``
    * ``batch_size``: ``-0.02 * |log2(batch_size / 64)|``
    * ``weight_decay`` and ``seed_offset`` are **inert**: they change nothing.

    Over the whole space the effects' variances are about 0.0069, 0.0025,
    0.0012 and 0.0002 (shares ~64 %, 23 %, 11 %, 2 %; the noise adds ~1 %).

    Learning curves: ``acc_t = 0.1 + (asymptote - 0.1) * (1 - exp(-t / tau))``
    plus N(0, 0.008) per iteration, where ``tau`` grows as the learning rate
    shrinks; ``loss`` falls from ~2.3 towards ``-0.5 * ln(asymptote)`` with
    the same ``tau``. Trials with a large learning rate (``log10(lr) > -1.8``)
    diverge with probability 0.6: from a random iteration on, ``loss`` and
    ``acc`` are NaN (rendered ``"nan"`` and ``tensor(nan, ...)``).
    A fraction ``error_rate`` of trials fail: they report a random number of
    iterations (possibly none) and end with status ``ERROR``.

Rendering (:func:`format_number`, :func:`format_tensor`, :meth:`SimulatedJob.trial_rows`)
    Every cell is a string except ``config``, a JSON object holding the raw
    names, ``trial_index`` and ``param/<name>`` duplicates (the seed's key
    order). Booleans are ``"True"``/``"False"``; numbers are Python's shortest
    round-trip decimal text (``repr(float)``); missing values (``worker_index``
    always, metrics before a trial's first report) are ``""``; ``loss`` is a
    PyTorch repr ``tensor(0.0754, device='cuda:0', requires_grad=True)``;
    ``reward_attr`` is the reward metric (``acc``) of the latest report and
    ``best_reward`` the best (NaN-ignoring maximum) ``acc`` so far.

Job details (:meth:`SimulatedJob.details`)
    The job declares two metrics (:data:`REWARD_ATTRS`), as a job that logs
    both would: ``acc`` (``max``), the first and so the default, then
    ``loss`` (``min``). A job can be given other ``reward_attrs``.

Time (:class:`SimulatedJob`)
    Trials start in ``trial_index`` order, at most ``max_concurrent`` at a
    time, when simulated time is advanced (:meth:`SimulatedJob.advance`);
    nothing here reads a real clock. Status: ``PENDING`` (not started),
    ``RUNNING``, then ``TERMINATED`` (``done == "True"``) or ``ERROR``
    (``done == "False"``). An early-stopped trial keeps the reports it had
    made and ends ``TERMINATED`` with ``done == "True"``.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from .errors import TrialFinishedError, TrialNotFoundError

__all__ = [
    "ALL_TRIALS_HEADER",
    "GROUND_TRUTH",
    "PER_TRIAL_HEADER",
    "REWARD_ATTRS",
    "SEARCH_SPACE",
    "GroundTruth",
    "ParamSpec",
    "SimulatedJob",
    "TrialFinishedError",
    "TrialNotFoundError",
    "TrialSet",
    "effects",
    "format_number",
    "format_tensor",
    "generate_pages",
    "generate_trials",
    "render_trial_rows",
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


@dataclass(frozen=True)
class ParamSpec:
    """One hyperparameter of the search space.

    ``kind`` is ``"log_uniform"``/``"uniform"`` (floats on [low, high]),
    ``"int_uniform"`` (integers on [low, high]) or ``"choice"`` (one of
    ``choices``, all of one type).
    """

    name: str
    kind: Literal["log_uniform", "uniform", "int_uniform", "choice"]
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()

    def sample(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """Draw ``n`` values."""
        if self.kind == "log_uniform":
            assert self.low is not None and self.high is not None
            return np.exp(rng.uniform(math.log(self.low), math.log(self.high), n))
        if self.kind == "uniform":
            assert self.low is not None and self.high is not None
            return rng.uniform(self.low, self.high, n)
        if self.kind == "int_uniform":
            assert self.low is not None and self.high is not None
            return rng.integers(int(self.low), int(self.high) + 1, n)
        return np.asarray(self.choices, dtype=object)[rng.integers(0, len(self.choices), n)]

    def search_param(self) -> dict[str, Any]:
        """This parameter as a job's ``algorithm.policies.auto_search.search_params`` entry."""
        if self.kind == "choice":
            return {
                "name": self.name,
                "param_type": "discrete",
                "lower_bound": "",
                "upper_bound": "",
                "discrete_points_num": str(len(self.choices)),
                "discrete_values": [str(c) for c in self.choices],
            }
        low = int(self.low) if self.kind == "int_uniform" else self.low  # type: ignore[arg-type]
        high = int(self.high) if self.kind == "int_uniform" else self.high  # type: ignore[arg-type]
        return {
            "name": self.name,
            "param_type": "continuous",
            "lower_bound": str(low),
            "upper_bound": str(high),
            "discrete_points_num": "",
            "discrete_values": [],
        }


SEARCH_SPACE: tuple[ParamSpec, ...] = (
    ParamSpec("learning_rate", "log_uniform", 1e-5, 1e-1),
    ParamSpec("batch_size", "choice", choices=(16, 32, 64, 128, 256)),
    ParamSpec("optimizer", "choice", choices=("adam", "sgd", "rmsprop")),
    ParamSpec("dropout", "uniform", 0.0, 0.6),
    ParamSpec("weight_decay", "log_uniform", 1e-6, 1e-2),
    ParamSpec("seed_offset", "int_uniform", 0, 99),
)
"""The synthetic search space (see the module docstring)."""

_OPTIMIZER_EFFECT = {"adam": 0.0, "rmsprop": -0.04, "sgd": -0.12}


@dataclass(frozen=True)
class GroundTruth:
    """What the synthetic objective really depends on.

    ``important`` lists the parameters that change the outcome, most
    influential first; ``inert`` those that change nothing. ``reward_metric``
    and ``mode`` name the objective as the job details do.
    """

    important: tuple[str, ...]
    inert: tuple[str, ...]
    reward_metric: str = "acc"
    mode: Literal["max", "min"] = "max"


#: The metrics the synthetic jobs declare (``algorithm.policies.auto_search.reward_attrs``), in order:
#: the first, ``acc``, is the search objective (:data:`GROUND_TRUTH`); ``loss`` is logged alongside.
REWARD_ATTRS: tuple[dict[str, str], ...] = (
    {"name": "acc", "mode": "max", "regex": r"(?<=acc=)[0-9]+\.?[0-9]*"},
    {"name": "loss", "mode": "min", "regex": r"(?<=loss=)[0-9]+\.?[0-9]*"},
)

GROUND_TRUTH = GroundTruth(
    important=("learning_rate", "optimizer", "dropout", "batch_size"),
    inert=("weight_decay", "seed_offset"),
)
"""Ground truth of :data:`SEARCH_SPACE` under :func:`effects`."""


def effects(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The noise-free effect of each parameter on the accuracy asymptote.

    ``params`` maps each name of :data:`SEARCH_SPACE` to an array of values;
    the result maps each name to an array of additive effects (zeros for the
    inert parameters).
    """
    lr = np.asarray(params["learning_rate"], dtype=float)
    bs = np.asarray(params["batch_size"], dtype=float)
    dropout = np.asarray(params["dropout"], dtype=float)
    opt = np.asarray(params["optimizer"], dtype=object)
    return {
        "learning_rate": -0.05 * (np.log10(lr) + 2.5) ** 2,
        "batch_size": -0.02 * np.abs(np.log2(bs / 64.0)),
        "optimizer": np.array([_OPTIMIZER_EFFECT[o] for o in opt], dtype=float),
        "dropout": -0.8 * (dropout - 0.2) ** 2,
        "weight_decay": np.zeros(len(lr)),
        "seed_offset": np.zeros(len(lr)),
    }


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


@dataclass
class TrialSet:
    """The full planned life of a batch of trials, as arrays (row ``i`` = one trial).

    ``acc``, ``loss``, ``best`` and ``cum_time`` have one column per iteration
    (``best`` is the running NaN-ignoring max of ``acc``; ``cum_time`` the
    seconds since the trial started at the end of each iteration).
    ``n_planned`` is how many iterations the trial will report if nobody stops
    it; ``will_error`` marks trials that then end ``ERROR``; ``startup_s`` is
    the run time of a trial that errors before its first report.
    """

    trial_ids: list[str]
    trial_index: np.ndarray
    params: dict[str, np.ndarray]
    asymptote: np.ndarray
    diverged: np.ndarray
    acc: np.ndarray
    loss: np.ndarray
    best: np.ndarray
    cum_time: np.ndarray
    n_planned: np.ndarray
    will_error: np.ndarray
    pid: np.ndarray
    startup_s: float = 3.0

    def __len__(self) -> int:
        return len(self.trial_ids)

    @property
    def n_iterations(self) -> int:
        """Maximum number of iterations any trial reports."""
        return int(self.acc.shape[1])

    def config(self, i: int) -> dict[str, Any]:
        """Trial ``i``'s ``config`` cell: raw names, ``trial_index``, ``param/`` duplicates."""
        return _configs(self, np.array([i]))[0]

    def concat(self, other: TrialSet) -> TrialSet:
        """A new set holding this set's trials followed by ``other``'s."""
        if other.n_iterations != self.n_iterations:
            raise ValueError("cannot concatenate trial sets with different iteration counts")
        return TrialSet(
            trial_ids=self.trial_ids + other.trial_ids,
            trial_index=np.concatenate([self.trial_index, other.trial_index]),
            params={k: np.concatenate([v, other.params[k]]) for k, v in self.params.items()},
            asymptote=np.concatenate([self.asymptote, other.asymptote]),
            diverged=np.concatenate([self.diverged, other.diverged]),
            acc=np.concatenate([self.acc, other.acc]),
            loss=np.concatenate([self.loss, other.loss]),
            best=np.concatenate([self.best, other.best]),
            cum_time=np.concatenate([self.cum_time, other.cum_time]),
            n_planned=np.concatenate([self.n_planned, other.n_planned]),
            will_error=np.concatenate([self.will_error, other.will_error]),
            pid=np.concatenate([self.pid, other.pid]),
            startup_s=self.startup_s,
        )


def _py(value: Any) -> Any:
    """A numpy scalar as the plain Python value JSON encoders expect."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    return value


def generate_trials(
    n: int,
    *,
    seed: int = 0,
    n_iterations: int = 12,
    start_index: int = 0,
    error_rate: float = 0.05,
    exclude_ids: Collection[str] = (),
) -> TrialSet:
    """Draw ``n`` trials (vectorised; 10,000 trials take a few milliseconds).

    The same ``seed`` and ``start_index`` give the same trials; ``start_index``
    numbers the trials (``trial_index``) and seeds the batch, so extending a job
    with more trials is deterministic too. Trial ids are 8 hex digits, unique
    within the batch and not in ``exclude_ids``.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if n_iterations < 1:
        raise ValueError("n_iterations must be >= 1")
    rng = np.random.default_rng([seed, start_index, 0x5EED])
    params = {spec.name: spec.sample(rng, n) for spec in SEARCH_SPACE}
    eff = effects(params)
    asym = 0.92 + sum(eff.values()) + rng.normal(0.0, 0.01, n)
    asym = np.clip(asym, 0.10, 0.99)

    log_lr = np.log10(params["learning_rate"].astype(float))
    tau = 1.0 + 1.5 * np.clip(-2.0 - log_lr, 0.0, 3.0)
    t = np.arange(1, n_iterations + 1, dtype=float)[None, :]
    progress = 1.0 - np.exp(-t / tau[:, None])
    acc = 0.1 + (asym[:, None] - 0.1) * progress + rng.normal(0.0, 0.008, (n, n_iterations))
    acc = np.round(np.clip(acc, 0.0, 1.0), 6)
    floor = -0.5 * np.log(asym)
    loss = floor[:, None] + (2.3 - floor[:, None]) * (1.0 - progress)
    loss = loss + np.abs(rng.normal(0.0, 0.02, (n, n_iterations)))

    diverged = (log_lr > -1.8) & (rng.random(n) < 0.6)
    diverge_at = rng.integers(0, n_iterations, n)
    nan_mask = diverged[:, None] & (np.arange(n_iterations)[None, :] >= diverge_at[:, None])
    acc[nan_mask] = np.nan
    loss[nan_mask] = np.nan
    best = np.fmax.accumulate(acc, axis=1)

    bs = params["batch_size"].astype(float)
    per_iter = 20.0 * (64.0 / bs) ** 0.3
    iter_s = per_iter[:, None] * rng.lognormal(0.0, 0.1, (n, n_iterations))
    cum_time = np.cumsum(iter_s, axis=1) + rng.uniform(0.5, 2.0, n)[:, None]

    will_error = rng.random(n) < error_rate
    n_planned = np.where(will_error, rng.integers(0, n_iterations, n), n_iterations)

    excluded = set(exclude_ids)
    ids: list[str] = []
    seen: set[str] = set()
    raw_ids = rng.integers(0, 2**32, n, dtype=np.uint64)
    for value in raw_ids:
        tid = f"{int(value):08x}"
        while tid in seen or tid in excluded:
            tid = f"{int(rng.integers(0, 2**32)):08x}"
        seen.add(tid)
        ids.append(tid)

    return TrialSet(
        trial_ids=ids,
        trial_index=np.arange(start_index, start_index + n, dtype=np.int64),
        params=params,
        asymptote=asym,
        diverged=diverged,
        acc=acc,
        loss=loss,
        best=best,
        cum_time=cum_time,
        n_planned=n_planned.astype(np.int64),
        will_error=will_error,
        pid=rng.integers(300, 32768, n),
    )


def _configs(ts: TrialSet, idx: np.ndarray) -> list[dict[str, Any]]:
    names = [spec.name for spec in SEARCH_SPACE]
    columns = [ts.params[name][idx].tolist() for name in names]
    prefixed = [f"param/{name}" for name in names]
    out = []
    for values, index in zip(zip(*columns), ts.trial_index[idx].tolist()):
        cfg = dict(zip(names, values))
        cfg["trial_index"] = index
        cfg.update(zip(prefixed, values))
        out.append(cfg)
    return out


def render_trial_rows(
    ts: TrialSet,
    idx: np.ndarray,
    completed: np.ndarray,
    status: np.ndarray,
    started: np.ndarray,
    *,
    first_position: int = 0,
) -> list[list[Any]]:
    """All-trials rows for trials ``idx`` of ``ts`` (column-wise, so 1,000,000 rows take seconds).

    ``completed`` (iterations reported), ``status`` and ``started`` are per
    row; positions (the leading index cell) count from ``first_position``.
    """
    n = len(idx)
    k = np.asarray(completed, dtype=np.int64)
    has = k > 0
    col = np.maximum(k - 1, 0)
    acc = ts.acc[idx, col].tolist()
    loss = ts.loss[idx, col].tolist()
    best = ts.best[idx, col].tolist()
    tts = ts.cum_time[idx, col].tolist()
    has_l = has.tolist()
    acc_s = [repr(v) if h else "" for v, h in zip(acc, has_l)]
    rows = []
    for r, (cfg, tid, pid, st, kk, h, a, lo, b, t, s0) in enumerate(zip(
        _configs(ts, idx), [ts.trial_ids[i] for i in idx.tolist()], ts.pid[idx].tolist(),
        [str(x) for x in status], k.tolist(), has_l, acc_s, loss, best, tts, np.asarray(started).tolist(),
    )):
        rows.append([
            str(first_position + r), "True" if st == "TERMINATED" else "False",
            str(pid) if s0 or h else "", cfg, tid,
            str(kk) if h else "", repr(t) if h else "", "", a, st, a,
            format_tensor(lo) if h else "", repr(b) if h else "",
        ])
    assert len(rows) == n
    return rows


@dataclass
class _Snapshot:
    now: float
    version: int
    completed: np.ndarray
    status: np.ndarray


@dataclass
class SimulatedJob:
    """One autosearch job whose trials progress as simulated time advances.

    Build it with :meth:`create`. ``now`` is the simulated number of seconds
    since the job started. ``order`` is the listing order of the all-trials
    endpoint (trial positions in ``trials``; inserted trials go at the end or
    the start).
    """

    job_id: str
    name: str
    trials: TrialSet
    seed: int
    max_concurrent: int = 4
    create_time_ms: int = 1_700_000_000_000
    user_name: str = "hpo_sim_user"
    now: float = 0.0
    order: list[int] = field(default_factory=list)
    _start: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _finish: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _stopped: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    _stop_iter: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    _next: int = 0
    _version: int = 0
    _snap: _Snapshot | None = None
    _index: dict[str, int] = field(default_factory=dict)
    _error_rate: float = 0.05
    #: ``reward_attrs`` of :meth:`details`, as given (entries may be malformed, for tests of readers).
    reward_attrs: list[Any] = field(default_factory=lambda: [dict(a) for a in REWARD_ATTRS])

    @classmethod
    def create(
        cls,
        *,
        job_id: str,
        name: str,
        n_trials: int,
        seed: int = 0,
        n_iterations: int = 12,
        max_concurrent: int = 4,
        error_rate: float = 0.05,
        create_time_ms: int = 1_700_000_000_000,
        reward_attrs: Sequence[Any] | None = None,
    ) -> SimulatedJob:
        """A job of ``n_trials`` generated trials, all ``PENDING`` at time 0.

        ``reward_attrs`` replaces the declared metrics of :meth:`details`
        (default :data:`REWARD_ATTRS`); entries are served as given.
        """
        if max_concurrent < 1:
            raise ValueError("max_concurrent must be >= 1")
        trials = generate_trials(n_trials, seed=seed, n_iterations=n_iterations, error_rate=error_rate)
        job = cls(
            job_id=job_id, name=name, trials=trials, seed=seed,
            max_concurrent=max_concurrent, create_time_ms=create_time_ms,
        )
        if reward_attrs is not None:
            job.reward_attrs = copy.deepcopy(list(reward_attrs))
        job.order = list(range(n_trials))
        job._start = np.full(n_trials, np.nan)
        job._finish = np.full(n_trials, np.nan)
        job._stopped = np.zeros(n_trials, dtype=bool)
        job._stop_iter = np.zeros(n_trials, dtype=np.int64)
        job._index = {tid: i for i, tid in enumerate(trials.trial_ids)}
        job._error_rate = error_rate
        return job

    # ------------------------------------------------------------------ time
    def _planned_duration(self, i: int) -> float:
        k = int(self.trials.n_planned[i])
        return float(self.trials.cum_time[i, k - 1]) if k > 0 else self.trials.startup_s

    def advance(self, seconds: float) -> None:
        """Move simulated time forward by ``seconds`` (>= 0), starting trials as slots free up."""
        if seconds < 0 or math.isnan(seconds):
            raise ValueError("seconds must be >= 0")
        self._schedule(self.now + seconds)
        self.now += seconds
        self._version += 1

    def run_to_completion(self) -> None:
        """Advance until every trial has finished (a no-op when they all have)."""
        self._schedule(math.inf)
        finish = self._finish[~np.isnan(self._finish)]
        if finish.size:
            self.now = max(self.now, float(finish.max()))
        self._version += 1

    def _schedule(self, target: float) -> None:
        running: list[tuple[float, int]] = [
            (float(self._finish[i]), int(i))
            for i in np.flatnonzero(~np.isnan(self._start) & (self._finish > self.now))
        ]
        heapq.heapify(running)
        cur = self.now
        n = len(self.trials)
        while self._next < n:
            i = self._next
            if self._stopped[i]:  # stopped while pending: never starts
                self._next += 1
                continue
            if len(running) >= self.max_concurrent:
                f, _ = running[0]
                if f > target:
                    break
                heapq.heappop(running)
                cur = max(cur, f)
                continue
            self._start[i] = cur
            self._finish[i] = cur + self._planned_duration(i)
            heapq.heappush(running, (float(self._finish[i]), i))
            self._next += 1

    def snapshot(self) -> tuple[np.ndarray, np.ndarray]:
        """``(completed_iterations, status)`` arrays for every trial at ``now``."""
        snap = self._snap
        if snap is not None and snap.version == self._version and snap.now == self.now:
            return snap.completed, snap.status
        started = ~np.isnan(self._start)
        elapsed = np.where(started, self.now - np.nan_to_num(self._start), -1.0)
        done_iters = (self.trials.cum_time <= elapsed[:, None]).sum(axis=1)
        end_iter = np.where(self._stopped, self._stop_iter, self.trials.n_planned)
        completed = np.minimum(done_iters, end_iter)
        finished = started & (self._finish <= self.now)
        status = np.full(len(self.trials), "PENDING", dtype=object)
        status[started] = "RUNNING"
        status[finished & self.trials.will_error] = "ERROR"
        status[finished & ~self.trials.will_error] = "TERMINATED"
        status[finished & self._stopped] = "TERMINATED"
        status[self._stopped & ~started] = "TERMINATED"
        self._snap = _Snapshot(self.now, self._version, completed, status)
        return completed, status

    @property
    def phase(self) -> str:
        """``Running`` while any trial is pending or running, else ``Completed``."""
        _, status = self.snapshot()
        if len(status) and np.isin(status, ["PENDING", "RUNNING"]).any():
            return "Running"
        return "Completed"

    # --------------------------------------------------------------- actions
    def position(self, trial_id: str) -> int:
        """Row of ``trial_id`` in :attr:`trials`; :class:`TrialNotFoundError` when unknown."""
        try:
            return self._index[trial_id]
        except KeyError:
            raise TrialNotFoundError(trial_id) from None

    def early_stop(self, trial_id: str) -> None:
        """Stop a pending or running trial now; it ends ``TERMINATED``.

        A running trial keeps the iterations it has reported and frees its
        slot; a pending trial never starts. A trial that has already finished
        (``TERMINATED`` or ``ERROR``, including one stopped earlier) raises
        :class:`TrialFinishedError`.
        """
        i = self.position(trial_id)
        completed, status = self.snapshot()
        if status[i] in ("TERMINATED", "ERROR"):
            raise TrialFinishedError(trial_id, str(status[i]))
        self._stopped[i] = True
        self._stop_iter[i] = completed[i]
        if status[i] == "RUNNING":
            self._finish[i] = self.now
        else:
            self._start[i] = np.nan
        self._version += 1
        self._schedule(self.now)

    def insert_trials(self, n: int, *, position: Literal["end", "start"] = "end") -> list[str]:
        """Add ``n`` new pending trials (listed at the end, or the start); returns their ids."""
        if n <= 0:
            return []
        old = len(self.trials)
        extra = generate_trials(
            n, seed=self.seed, n_iterations=self.trials.n_iterations, start_index=old,
            error_rate=self._error_rate, exclude_ids=self._index,
        )
        self.trials = self.trials.concat(extra)
        self._start = np.concatenate([self._start, np.full(n, np.nan)])
        self._finish = np.concatenate([self._finish, np.full(n, np.nan)])
        self._stopped = np.concatenate([self._stopped, np.zeros(n, dtype=bool)])
        self._stop_iter = np.concatenate([self._stop_iter, np.zeros(n, dtype=np.int64)])
        new = list(range(old, old + n))
        self.order = self.order + new if position == "end" else new + self.order
        for i in new:
            self._index[self.trials.trial_ids[i]] = i
        self._version += 1
        self._schedule(self.now)
        return [self.trials.trial_ids[i] for i in new]

    # ------------------------------------------------------------- rendering
    @property
    def total(self) -> int:
        """Number of trials listed by the all-trials endpoint."""
        return len(self.order)

    def trial_rows(self, start: int = 0, stop: int | None = None) -> list[list[Any]]:
        """All-trials rows (header :data:`ALL_TRIALS_HEADER`) for listing positions ``start:stop``."""
        completed, status = self.snapshot()
        end = min(self.total, self.total if stop is None else stop)
        if start >= end:
            return []
        idx = np.asarray(self.order[start:end], dtype=np.int64)
        started = ~np.isnan(self._start[idx])
        return render_trial_rows(
            self.trials, idx, completed[idx], status[idx], started, first_position=start
        )

    def history_rows(self, trial_id: str) -> list[list[Any]]:
        """Per-trial rows (header :data:`PER_TRIAL_HEADER`), one per reported iteration."""
        i = self.position(trial_id)
        completed, status = self.snapshot()
        k = int(completed[i])
        tr = self.trials
        cfg = tr.config(i)
        pid = str(int(tr.pid[i]))
        rows = []
        for j in range(k):
            acc = format_number(tr.acc[i, j])
            last_done = j == k - 1 and status[i] == "TERMINATED"
            rows.append([
                "True" if last_done else "False", pid, format_number(tr.best[i, j]),
                format_number(tr.cum_time[i, j]), cfg, acc, format_tensor(tr.loss[i, j]),
                tr.trial_ids[i], str(j + 1), acc,
            ])
        return rows

    def trials_response(self, *, offset: int, limit: int, offset_mode: Literal["records", "pages"]) -> dict[str, Any]:
        """The all-trials response body for one request (``offset`` echoed as sent)."""
        first = offset if offset_mode == "records" else offset * limit
        rows = self.trial_rows(first, first + limit) if first < self.total else []
        return {
            "total": self.total,
            "count": len(rows),
            "limit": limit,
            "offset": offset,
            "group_by": "",
            "items": {"header": list(ALL_TRIALS_HEADER), "data": rows},
        }

    def history_response(self, trial_id: str) -> dict[str, Any]:
        """The per-trial response body (top-level ``header``/``data``)."""
        return {"header": list(PER_TRIAL_HEADER), "data": self.history_rows(trial_id)}

    def details(self) -> dict[str, Any]:
        """The training-job details body (``GET /v2/{p}/training-jobs/{j}``)."""
        phase = self.phase
        started = self._start[~np.isnan(self._start)]
        duration_ms = int(self.now * 1000) if started.size else 0
        return {
            "kind": "autosearch_job",
            "metadata": {
                "id": self.job_id,
                "name": self.name,
                "workspace_id": "0",
                "description": "simulated autosearch job",
                "create_time": self.create_time_ms,
                "user_name": self.user_name,
                "annotations": {},
            },
            "status": {
                "phase": phase,
                "secondary_phase": phase,
                "duration": duration_ms,
                "start_time": self.create_time_ms if started.size else 0,
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
                        "reward_attrs": copy.deepcopy(self.reward_attrs),
                        "search_params": [spec.search_param() for spec in SEARCH_SPACE],
                        "algo_configs": [
                            {
                                "name": "bayes_opt_search",
                                "params": [
                                    {"key": "kind", "value": "ucb", "type": "String"},
                                    {"key": "num_samples", "value": str(len(self.trials)), "type": "Integer"},
                                    {"key": "seed", "value": str(self.seed), "type": "Integer"},
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

    def parameter_analysis(self) -> dict[str, Any]:
        """The service's own sensitivity table, computed from the ground truth.

        For each parameter: its share of the variance of the (noise-free)
        effects over the finished trials, as ``"mean/std"`` from 20 bootstrap
        resamples (4 decimals). Empty until two trials have finished.
        """
        _, status = self.snapshot()
        done = np.flatnonzero(np.isin(status, ["TERMINATED", "ERROR"]))
        if done.size < 2:
            return {"header": ["parameters", "the mean/std of importance"], "data": []}
        eff = effects({k: v[done] for k, v in self.trials.params.items()})
        rng = np.random.default_rng([self.seed, done.size, 7])
        shares = []
        for _ in range(20):
            idx = rng.integers(0, done.size, done.size)
            var = np.array([np.var(eff[s.name][idx]) for s in SEARCH_SPACE])
            total = var.sum()
            shares.append(var / total if total > 0 else var)
        arr = np.array(shares)
        data = [
            [spec.name, f"{arr[:, j].mean():.4f}/{arr[:, j].std():.4f}"]
            for j, spec in enumerate(SEARCH_SPACE)
        ]
        return {"header": ["parameters", "the mean/std of importance"], "data": data}


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
    those :class:`SimulatedJob` renders for a finished job.
    """
    if page_size < 1 or chunk_size < 1:
        raise ValueError("page_size and chunk_size must be >= 1")
    chunk_size = max(page_size, chunk_size - chunk_size % page_size)
    seen: set[str] = set()
    if n_trials == 0:
        yield {"total": 0, "count": 0, "limit": page_size, "offset": 0, "group_by": "",
               "items": {"header": list(ALL_TRIALS_HEADER), "data": []}}
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
            yield {"total": n_trials, "count": len(rows), "limit": page_size, "offset": start + lo,
                   "group_by": "", "items": {"header": list(ALL_TRIALS_HEADER), "data": rows}}
