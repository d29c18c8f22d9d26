"""Many jobs in one process: one :class:`Watcher` per job, a bounded number of jobs' cycles in flight.

:class:`Fleet` watches the jobs it is given (``job_ids``) and, with
``all_running=True``, the project's running autosearch jobs it discovers at
the start of every cycle (``client.search_training_jobs`` with
:data:`RUNNING_AUTOSEARCH_FILTERS` and the caller's own filters). Each job
has its own :class:`Watcher` (its own rule from ``rule_factory``, since rules
may keep state; its own ledger in ``job_state_dir(state_root, job_id)``; its
own metric and mode, from its details unless given; its own safety counts).
One cycle of the fleet is one pass over every open job, with at most
``max_jobs_in_flight`` jobs' cycles running at once on a thread pool (the
client is thread-safe and bounds its own connections).

A job is *closed out* - its ledger gets an ``exit`` event and it is never
watched again in this run - when its phase says it ended (or it is gone),
when every trial is done, or when it failed: a configuration or data error
(a metric that is not numeric), a listing that says the job does not exist,
or ``max_consecutive_errors`` service errors in a row. Such a failure is
recorded in that job's ledger and in the result; the other jobs go on. An
authentication or permission failure stops everything (no job's cycle starts
after it; those in flight finish their bookkeeping).

An explicit job that does not exist when the fleet starts is reported in
:attr:`FleetResult.not_found` and leaves no state behind; a discovered job is
known to exist. :func:`watch_jobs` runs the loop: it ends when no job is left
to watch (only for an explicit list: with ``all_running`` it keeps looking for
new jobs), after ``max_cycles`` passes, or on SIGINT/SIGTERM (or the shared
``stop_event``).
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._validation import check_float, check_int
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    HpoAnalyticsError,
    NotFoundError,
    PermissionDeniedError,
)
from ._base import Rule
from ._watch import JOB_NOT_FOUND, CycleReport, WatchResult, Watcher
from .ledger import LEDGER_FILE

__all__ = ["RUNNING_AUTOSEARCH_FILTERS", "Fleet", "FleetResult", "job_state_dir", "watch_jobs"]

logger = logging.getLogger("hpo_analytics.stopping")

#: The job search that finds the project's running autosearch jobs (``POST …/training-job-searches``).
RUNNING_AUTOSEARCH_FILTERS: tuple[dict[str, Any], ...] = (
    {"key": "kind", "operator": "in", "value": ["autosearch_job"]},
    {"key": "phase", "operator": "in", "value": ["Running"]},
)

#: ``WatchResult.ended`` of a job whose watch was closed out by an error (the error is in ``FleetResult.errors``).
JOB_ERROR = "error"

_AUTH = (AuthenticationError, PermissionDeniedError)


def job_state_dir(root: str | Path, job_id: str) -> Path:
    """The state directory of one job under ``root``: ``root/job_id``.

    Raises :class:`~hpo_analytics.errors.ConfigurationError` when ``root``
    itself holds a ledger (the old single-job layout), rather than start
    afresh beside it, and for a job id that is not a plain directory name.
    """
    root = _check_root(root, job_id)
    if not job_id or job_id in (".", "..") or "/" in job_id or "\\" in job_id:
        raise ConfigurationError(f"job id {job_id!r} cannot name a state directory")
    return root / job_id


def _check_root(root: str | Path, job_id: str = "JOB_ID") -> Path:
    """``root`` as a path, refused when it holds a ledger of the old single-job layout."""
    root = Path(root)
    if (root / LEDGER_FILE).exists():
        # an earlier version kept one job's ledger right in --state-dir: never start afresh beside it
        raise ConfigurationError(
            f"{root} holds a ledger in the old single-job layout; move {root / LEDGER_FILE} (and its -wal/-shm "
            f"files) into {root / job_id}/ if it belongs to that job, then run again")
    return root


@dataclass
class FleetResult:
    """How a run of a :class:`Fleet` ended: each job's run-scoped :class:`WatchResult`, and why it returned.

    ``ended`` is ``"no job left"`` (every job of an explicit list closed
    out), ``"max_cycles"``, ``"signal"`` or ``"error"`` (``fatal`` says
    which). ``jobs`` holds every job watched in this run, in the order it was
    first seen (an explicit job that was not found included, with ``ended``
    ``"job not found"`` and no cycles). ``not_found`` maps the explicit job ids
    that did not exist at the start to the service's answer; ``errors`` the
    jobs closed out by an error to that error; ``explicit`` lists the job ids
    the fleet was given.
    """

    cycles: int
    ended: str
    jobs: dict[str, WatchResult]
    explicit: list[str] = field(default_factory=list)
    not_found: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    fatal: HpoAnalyticsError | None = None

    @property
    def failed(self) -> dict[str, list[str]]:
        """The failed or unresolved stop requests of this run, by job (jobs without any left out)."""
        return {job: r.failed for job, r in self.jobs.items() if r.failed}


@dataclass
class _Job:
    """One job's watch inside a fleet."""

    watcher: Watcher
    errors: int = 0
    ended: str = ""


class Fleet:
    """Watch several jobs in one process; :meth:`cycle` runs one pass, :meth:`run` the loop (see the module doc).

    ``watcher_options`` go to every :class:`Watcher` unchanged (``execute``,
    ``safety``, ``metric``, ``mode``, ``notify`` and whatever else it takes);
    ``emit`` and ``clock`` are the fleet's own and shared by every job (``emit``
    is called under a lock, one event at a time). Explicit jobs are checked
    here: one that does not exist is recorded in ``not_found`` without any
    state written; authentication and permission errors are raised. When a
    job's watch ends, a queueing notifier gets up to ``notify_flush_s``
    seconds to deliver; the deliveries that failed go to that job's ledger.
    """

    def __init__(self, client: Any, rule_factory: Callable[[], Rule], *, state_root: str | Path,
                 job_ids: Sequence[str] = (), all_running: bool = False,
                 filters: Iterable[Mapping[str, Any]] = (), max_jobs_in_flight: int = 4,
                 max_consecutive_errors: int = 5, emit: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time, stop_event: threading.Event | None = None,
                 watcher_options: Mapping[str, Any] | None = None, notify_flush_s: float = 30.0) -> None:
        check_int("max_jobs_in_flight", max_jobs_in_flight, low=1)
        check_int("max_consecutive_errors", max_consecutive_errors, low=1)
        if not callable(rule_factory):
            raise ConfigurationError("rule_factory must be a callable that returns a new Rule for each job")
        if isinstance(job_ids, str):
            raise ConfigurationError("job_ids must be a list of job ids, not one string")
        ids = list(dict.fromkeys(job_ids))
        if not ids and not all_running:
            raise ConfigurationError("give job ids to watch, or all_running=True")
        if all_running and ids:
            raise ConfigurationError("give either job ids or all_running=True, not both")
        self.filters = [dict(f) for f in filters]
        if self.filters and not all_running:
            raise ConfigurationError("filters select running jobs to discover; they need all_running=True")
        options = dict(watcher_options or {})
        clash = sorted({"client", "job_id", "rule", "state_dir", "emit", "clock"} & set(options))
        if clash:
            raise ConfigurationError(f"watcher_options may not set {', '.join(clash)} (the fleet sets them)")
        self.client = client
        self.rule_factory = rule_factory
        # the old single-job layout is refused before anything runs
        self.state_root = _check_root(state_root, ids[0] if len(ids) == 1 else "JOB_ID")
        self.all_running = bool(all_running)
        self.explicit = ids
        self.max_jobs_in_flight = max_jobs_in_flight
        self.max_consecutive_errors = max_consecutive_errors
        self.clock = clock
        self.stopping = stop_event if stop_event is not None else threading.Event()
        self.options = options
        self.notify_flush_s = check_float("notify_flush_s", notify_flush_s, low=0.0)
        self.cycles = 0
        self.not_found: dict[str, str] = {}
        self.errors: dict[str, str] = {}
        self._emit = emit
        self._emit_lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._results: dict[str, WatchResult] = {}
        self._seen: list[str] = []  # every job of this run, in the order first seen
        self._discovery_errors = 0
        self._pool: ThreadPoolExecutor | None = None
        try:
            for job_id in ids:
                self._open(job_id, check=True)
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ jobs
    @property
    def open_jobs(self) -> list[str]:
        """The jobs still watched, in the order they were first seen."""
        return [j for j, job in self._jobs.items() if not job.ended]

    @property
    def watchers(self) -> dict[str, Watcher]:
        """The :class:`Watcher` of each job still watched."""
        return {j: job.watcher for j, job in self._jobs.items() if not job.ended}

    def _say(self, event: dict[str, Any]) -> None:
        if self._emit is not None:
            with self._emit_lock:
                self._emit(event)

    def _open(self, job_id: str, *, check: bool) -> None:
        """Start watching ``job_id`` (for an explicit job, first check that it exists)."""
        self._seen.append(job_id)
        state_dir = job_state_dir(self.state_root, job_id)
        if check and hasattr(self.client, "job_phase") and not (state_dir / LEDGER_FILE).exists():
            try:  # a job that does not exist leaves no state behind
                self.client.job_phase(job_id)
            except NotFoundError as exc:
                self.not_found[job_id] = str(exc)
                self._results[job_id] = WatchResult(0, [], [], [], [], JOB_NOT_FOUND, job_id=job_id)
                return
            except _AUTH:
                raise
            except HpoAnalyticsError as exc:  # a passing fault: the first cycle will try again
                logger.info("watch of job %s: could not read its phase yet: %s", job_id, exc)
        watcher = Watcher(self.client, job_id, self.rule_factory(), state_dir=state_dir, emit=self._say,
                          clock=self.clock, **self.options)
        watcher.stopping = self.stopping
        self._jobs[job_id] = _Job(watcher)

    def _discover(self) -> None:
        """Open the running jobs the search finds that this run has not seen yet."""
        try:
            found = self.client.search_training_jobs(filters=[*RUNNING_AUTOSEARCH_FILTERS, *self.filters])
        except _AUTH:
            raise
        except HpoAnalyticsError as exc:
            self._discovery_errors += 1
            if self._discovery_errors >= self.max_consecutive_errors:
                raise
            logger.warning("finding running jobs failed (%d in a row): %s", self._discovery_errors, exc)
            return
        self._discovery_errors = 0
        for job in found:
            meta = job.get("metadata") if isinstance(job, Mapping) else None
            job_id = meta.get("id") if isinstance(meta, Mapping) else None
            if isinstance(job_id, str) and job_id and job_id not in self._jobs and job_id not in self._results:
                logger.info("watching job %s (found running)", job_id)
                try:
                    self._open(job_id, check=False)
                except _AUTH:
                    raise
                except HpoAnalyticsError as exc:  # e.g. an id that cannot name a directory: this job only
                    error = f"{type(exc).__name__}: {exc}"
                    logger.error("cannot watch job %s: %s", job_id, error)
                    self.errors[job_id] = error
                    self._results[job_id] = WatchResult(0, [], [], [], [], JOB_ERROR, job_id=job_id)
                    self._say({"job_id": job_id, "cycle": None, "trial_id": None, "action": "error",
                               "reason": error})

    def _close_out(self, job_id: str, ended: str, *, error: str = "") -> None:
        """Record why ``job_id``'s watch ends, keep its result, close its ledger; it is not watched again."""
        job = self._jobs[job_id]
        w = job.watcher
        job.ended = ended
        if error:
            self.errors[job_id] = error
        w.ledger.record(job_id, "exit", time=self.clock(), cycle=w.cycle_no, reason=ended if not error
                        else f"{ended}: {error}")
        self._results[job_id] = w.result(ended)
        # a queueing notifier's undelivered events of this job go to its ledger before it closes
        w.record_notify_failures(flush=self.notify_flush_s)
        w.close()

    # ------------------------------------------------------------------ one pass
    def cycle(self) -> dict[str, CycleReport]:
        """One pass: discover (with ``all_running``), then one cycle of every open job; their reports.

        Jobs that ended, are done or failed are closed out. Raises the first
        authentication or permission error (after every cycle in flight has
        finished), and a discovery error that persisted ``max_consecutive_errors``
        times.
        """
        if self.all_running and not self.stopping.is_set():
            self._discover()
        jobs = self.open_jobs
        self.cycles += 1
        if not jobs:
            return {}
        if self._pool is None and self.max_jobs_in_flight > 1:
            self._pool = ThreadPoolExecutor(max_workers=self.max_jobs_in_flight, thread_name_prefix="hpo-watch")
        if self._pool is None:
            outcomes = [_run(self._jobs[j].watcher) for j in jobs]
        else:
            futures: list[Future[tuple[CycleReport | None, BaseException | None]]] = [
                self._pool.submit(_run, self._jobs[j].watcher) for j in jobs]
            outcomes = [f.result() for f in futures]
        reports: dict[str, CycleReport] = {}
        fatal: BaseException | None = None
        for job_id, (report, exc) in zip(jobs, outcomes):
            if exc is not None:
                if not isinstance(exc, HpoAnalyticsError):
                    fatal = fatal or exc  # a bug: never swallowed
                    continue
                if self._failed(job_id, exc):
                    fatal = fatal or exc
                continue
            assert report is not None
            reports[job_id] = report
            self._jobs[job_id].errors = 0
            if report.job_ended:
                self._close_out(job_id, report.job_ended)
            elif report.all_done:
                self._close_out(job_id, "all trials done")
        if fatal is not None:
            raise fatal
        return reports

    def _failed(self, job_id: str, exc: HpoAnalyticsError) -> bool:
        """Record a cycle's error in the job's ledger; close the job out if it is final. True: stop everything."""
        job = self._jobs[job_id]
        w = job.watcher
        job.errors += 1
        error = f"{type(exc).__name__}: {exc}"
        w.ledger.record(job_id, "error", time=self.clock(), cycle=w.cycle_no, error=error)
        auth = isinstance(exc, _AUTH)
        final = auth or isinstance(exc, (NotFoundError, ConfigurationError)) \
            or job.errors >= self.max_consecutive_errors
        if not final:
            logger.warning("watch cycle %d of job %s failed (%d in a row): %s", w.cycle_no, job_id, job.errors, exc)
            return False
        logger.error("watch of job %s: %s", job_id, error)
        w._notify("watch_error", cycle=w.cycle_no, error=error)
        self._say({"job_id": job_id, "cycle": w.cycle_no, "trial_id": None, "action": "error", "reason": error})
        if not auth:
            self._close_out(job_id, JOB_NOT_FOUND if isinstance(exc, NotFoundError) else JOB_ERROR, error=error)
        return auth

    # ------------------------------------------------------------------ the loop
    def run(self, *, interval_s: float = 60.0, max_cycles: int | None = None,
            sleep: Callable[[float], None] | None = None, handle_signals: bool = False) -> FleetResult:
        """Cycle every ``interval_s`` seconds until no job is left (explicit jobs only), ``max_cycles``, or a signal.

        Authentication and permission errors, and a discovery that keeps
        failing, end the run with ``ended="error"`` and the error in
        ``FleetResult.fatal`` (not raised: the other jobs' results still count).
        """
        interval_s = check_float("interval_s", interval_s, low=0.0)
        if max_cycles is not None:
            check_int("max_cycles", max_cycles, low=1)
        wait = sleep if sleep is not None else (lambda s: self.stopping.wait(s))
        previous: dict[int, Any] = {}
        if handle_signals and threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda signum, frame: self.stopping.set())
        fatal: HpoAnalyticsError | None = None
        ended = "max_cycles"
        start = self.cycles
        try:
            while True:
                if not self.all_running and not self.open_jobs:
                    ended = "no job left"
                    break
                try:
                    self.cycle()
                except HpoAnalyticsError as exc:
                    fatal, ended = exc, "error"
                    break
                if not self.all_running and not self.open_jobs:
                    ended = "no job left"
                    break
                if self.stopping.is_set():
                    ended = "signal"
                    break
                if max_cycles is not None and self.cycles - start >= max_cycles:
                    ended = "max_cycles"
                    break
                wait(interval_s)
                if self.stopping.is_set():
                    ended = "signal"
                    break
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return self.finish(ended, fatal)

    def finish(self, ended: str, fatal: HpoAnalyticsError | None = None) -> FleetResult:
        """Close out every job still open (its ``ended`` is the run's) and describe the run."""
        for job_id in self.open_jobs:
            self._close_out(job_id, ended)
        jobs = {j: self._results[j] for j in self._seen if j in self._results}
        return FleetResult(cycles=self.cycles, ended=ended, jobs=jobs, explicit=list(self.explicit),
                           not_found=dict(self.not_found), errors=dict(self.errors), fatal=fatal)

    def close(self) -> None:
        """Close every open ledger and the thread pool (without recording an ``exit``)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        for job in self._jobs.values():
            if not job.ended:
                job.watcher.close()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _run(watcher: Watcher) -> tuple[CycleReport | None, BaseException | None]:
    """One cycle of one job, its error returned rather than raised (the fleet decides what it means)."""
    try:
        return watcher.cycle(), None
    except BaseException as exc:  # handed back to the fleet's thread, which re-raises what is not a job's failure
        return None, exc


def watch_jobs(client: Any, rule_factory: Callable[[], Rule], *, state_root: str | Path,
               job_ids: Sequence[str] = (), all_running: bool = False, filters: Iterable[Mapping[str, Any]] = (),
               max_jobs_in_flight: int = 4, interval_s: float = 60.0, max_cycles: int | None = None,
               emit: Callable[[dict[str, Any]], None] | None = None, sleep: Callable[[float], None] | None = None,
               clock: Callable[[], float] = time.time, handle_signals: bool = False,
               max_consecutive_errors: int = 5, stop_event: threading.Event | None = None,
               watcher_options: Mapping[str, Any] | None = None) -> FleetResult:
    """Watch ``job_ids`` (or, with ``all_running``, every running autosearch job) in one process.

    See :class:`Fleet` and the module docstring; ``rule_factory`` builds one
    rule per job (``lambda: MedianStoppingRule()``). Authentication and
    permission errors at the start are raised; later they end the run with
    ``FleetResult.fatal`` set.
    """
    with Fleet(client, rule_factory, state_root=state_root, job_ids=job_ids, all_running=all_running,
               filters=filters, max_jobs_in_flight=max_jobs_in_flight,
               max_consecutive_errors=max_consecutive_errors, emit=emit, clock=clock, stop_event=stop_event,
               watcher_options=watcher_options) as fleet:
        return fleet.run(interval_s=interval_s, max_cycles=max_cycles, sleep=sleep, handle_signals=handle_signals)
