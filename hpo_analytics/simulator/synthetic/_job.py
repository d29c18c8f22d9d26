"""The state machine of a synthetic job: trials start, report and finish as simulated time advances.

:class:`SimulatedJob` schedules the trials :func:`generate_trials` planned
(at most ``max_concurrent`` at once, in ``trial_index`` order), stops them
early on request and takes in new ones; it never reads a real clock. Its
response methods hand the current state to ``_render``, which writes the
service's strings.
"""

from __future__ import annotations

import copy
import heapq
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from ...errors import ConfigurationError, TrialFinishedError, TrialNotFoundError
from . import _render
from ._model import METRICS, REWARD_ATTRS, SPACES, TrialSet, effects, generate_trials

__all__ = ["SimulatedJob"]


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
    #: the phase the job was ended with (:meth:`end`), ``None`` while its trials decide it
    ended_phase: str | None = None
    #: ``reward_attrs`` of :meth:`details`, as given (entries may be malformed, for tests of readers).
    reward_attrs: list[Any] = field(default_factory=lambda: [dict(a) for a in REWARD_ATTRS])
    #: the metric the job searches on (a key of :data:`~._model.METRICS`): its reward and rendered columns
    metric: str = "acc"
    #: the ``algo_configs`` algorithm its details name
    algorithm: str = "bayes_opt_search"

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
        space: str = "default",
        metric: str = "acc",
        algorithm: str = "bayes_opt_search",
    ) -> SimulatedJob:
        """A job of ``n_trials`` generated trials, all ``PENDING`` at time 0.

        ``space`` is one of :data:`~._model.SPACES` (``default``, ``gbdt``,
        ``conditional``); ``metric`` what it searches on (``acc`` max,
        ``loss`` or ``rmse`` min), which sets the declared metrics
        (:data:`~._model.METRICS`) and the rendered columns.
        ``reward_attrs`` replaces the declared metrics of :meth:`details`;
        entries are served as given.
        """
        if max_concurrent < 1:
            raise ConfigurationError("max_concurrent must be >= 1")
        if n_trials < 0:
            raise ConfigurationError("n_trials must be >= 0")
        if metric not in METRICS:
            raise ConfigurationError(f"metric must be one of {sorted(METRICS)}, not {metric!r}")
        trials = generate_trials(n_trials, seed=seed, n_iterations=n_iterations, error_rate=error_rate, space=space)
        job = cls(
            job_id=job_id, name=name, trials=trials, seed=seed,
            max_concurrent=max_concurrent, create_time_ms=create_time_ms, metric=metric, algorithm=algorithm,
        )
        job.reward_attrs = copy.deepcopy(list(reward_attrs if reward_attrs is not None else METRICS[metric]))
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
        """Move simulated time forward by ``seconds`` (>= 0), starting trials as slots free up.

        A job that has been ended (:meth:`end`) no longer moves: its trials keep the status they had.
        """
        if seconds < 0 or math.isnan(seconds):
            raise ConfigurationError("seconds must be >= 0")
        if self.ended_phase is not None:
            return
        self._schedule(self.now + seconds)
        self.now += seconds
        self._version += 1

    def run_to_completion(self) -> None:
        """Advance until every trial has finished (a no-op when they all have, or when the job was ended)."""
        if self.ended_phase is not None:
            return
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
        """``Running`` while any trial is pending or running, else ``Completed``; or the phase :meth:`end` set."""
        if self.ended_phase is not None:
            return self.ended_phase
        _, status = self.snapshot()
        if len(status) and np.isin(status, ["PENDING", "RUNNING"]).any():
            return "Running"
        return "Completed"

    # --------------------------------------------------------------- actions
    def end(self, phase: str = "Terminated") -> None:
        """End the job as the service does on terminate (or a failure): its phase becomes ``phase``.

        Time stops for it, and its trials keep the status they had (a
        terminated job can still list ``PENDING`` or ``RUNNING`` trials, as
        users have seen the service do). Ending an ended job is a no-op.
        """
        if phase not in ("Terminated", "Failed", "Abnormal", "Completed"):
            raise ConfigurationError(f"phase must be Terminated, Failed, Abnormal or Completed, not {phase!r}")
        if self.ended_phase is None:
            self.ended_phase = phase
            self._version += 1

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
            error_rate=self._error_rate, exclude_ids=self._index, space=self.trials.space,
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

    # ------------------------------------------------------- service answers
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
        return _render.render_trial_rows(
            self.trials, idx, completed[idx], status[idx], started, first_position=start, metric=self.metric
        )

    def history_rows(self, trial_id: str) -> list[list[Any]]:
        """Per-trial rows (header :data:`PER_TRIAL_HEADER`), one per reported iteration."""
        i = self.position(trial_id)
        completed, status = self.snapshot()
        return _render.history_rows(self.trials, i, completed=int(completed[i]), status=str(status[i]),
                                    metric=self.metric)

    def trials_response(self, *, offset: int, limit: int, offset_mode: Literal["records", "pages"]) -> dict[str, Any]:
        """The all-trials response body for one request (``offset`` echoed as sent)."""
        first = offset if offset_mode == "records" else offset * limit
        rows = self.trial_rows(first, first + limit) if first < self.total else []
        return _render.trials_page(rows, total=self.total, limit=limit, offset=offset, metric=self.metric)

    def history_response(self, trial_id: str) -> dict[str, Any]:
        """The per-trial response body (top-level ``header``/``data``)."""
        return _render.history_page(self.history_rows(trial_id), metric=self.metric)

    def details(self) -> dict[str, Any]:
        """The training-job details body (``GET /v2/{p}/training-jobs/{j}``)."""
        phase = self.phase
        started = bool(np.any(~np.isnan(self._start)))
        return _render.job_details(
            job_id=self.job_id,
            name=self.name,
            create_time_ms=self.create_time_ms,
            user_name=self.user_name,
            phase=phase,
            started=started,
            duration_ms=int(self.now * 1000) if started else 0,
            reward_attrs=self.reward_attrs,
            n_trials=len(self.trials),
            seed=self.seed,
            space=self.trials.space,
            algorithm=self.algorithm,
        )

    def parameter_analysis(self) -> dict[str, Any]:
        """The service's own sensitivity table, computed from the ground truth.

        For each parameter: its share of the variance of the (noise-free)
        effects over the finished trials, as ``"mean/std"`` from 20 bootstrap
        resamples (4 decimals). Empty until two trials have finished.
        """
        return _render.analysis_page([spec.name for spec in SPACES[self.trials.space]], self._importance_shares())

    def _importance_shares(self) -> np.ndarray | None:
        """Each parameter's variance share in 20 bootstrap resamples of the finished trials (``None``: < 2)."""
        _, status = self.snapshot()
        done = np.flatnonzero(np.isin(status, ["TERMINATED", "ERROR"]))
        if done.size < 2:
            return None
        eff = effects({k: v[done] for k, v in self.trials.params.items()}, self.trials.space)
        rng = np.random.default_rng([self.seed, done.size, 7])
        shares = []
        for _ in range(20):
            idx = rng.integers(0, done.size, done.size)
            var = np.array([np.var(eff[s.name][idx]) for s in SPACES[self.trials.space]])
            total = var.sum()
            shares.append(var / total if total > 0 else var)
        return np.array(shares)
