"""The watch loop: poll a running search, decide with a rule, stop trials through the API — safely.

Each cycle: fetch the trials listing; append new reports to the history store
(the listing's row when it is exactly the next report of a known trial, else
the per-trial history); run the rule on the running trials (comparing with
finished trials this loop did not stop); apply the safety checks; act (or,
by default, only say what it would do); record everything in the
:class:`~hpo_analytics.stopping.Ledger`; print one line per decision.

Safety (:class:`Safety`, all with safe defaults):

* dry run unless ``execute=True``;
* never stop the current best ``protect_top`` trials (by best value so far
  over every trial, running or finished);
* never stop a trial the latest listing does not show ``RUNNING``;
* at most ``max_stops_per_cycle`` stops per cycle and at most
  ``max_stop_fraction`` of all trials over the job's life;
* keep at least ``min_running`` trials running;
* while the file ``state_dir/PAUSE`` (``kill_switch``) exists, decisions are
  made and recorded but nothing is acted on.

Idempotency: before a stop request is sent, the intent is committed to the
ledger; a trial with any stop record is never sent another request — within
a run, across cycles and across restarts. A run killed between the intent
and the answer leaves an ``intent``; the next run resolves it from the
listing (finished: ``already_stopped``; still running: ``unresolved``, and
still not re-sent — we never risk a second request). The client reports a
4xx on a trial that the service shows finished as ``already_finished``,
recorded as ``already_stopped``, not retried; any other failure is recorded
as ``failed`` and not retried either.

The metric: one that is not numeric (text, booleans, lists) is refused at
the first cycle with :class:`~hpo_analytics.errors.ConfigurationError`
naming the column and its type, and the loop ends. A metric that has no
finite value *yet* (a job that has only just started: empty cells, or
only NaN reported so far) is not an error: that cycle decides nothing, and
the ledger's ``cycle`` event and the log say why.

The job's lifecycle: when the client can tell the job's phase
(``job_phase``, as :class:`~hpo_analytics.client.ModelArtsClient` does),
each cycle reads it first. A job that is no longer running (``Completed``,
``Failed``, ``Terminated``, ``Abnormal``, ``Terminating``) gets that cycle's
bookkeeping (the listing, the history, interrupted stops resolved) but no
decisions; the ledger records a ``job_ended`` event saying why, and the loop
returns. A job that no longer exists ends the loop the same way
(``ended="job not found"``); one that does not exist when the loop starts
raises :class:`~hpo_analytics.errors.NotFoundError` before any state is
written.

SIGINT/SIGTERM (with ``handle_signals=True``, as the CLI does): the cycle in
progress finishes its bookkeeping (no new stop requests are started), then
the loop returns. It also returns on its own when every trial is done.

:class:`WatchResult` describes *this run* only (what an earlier run of the
same state did is in the ledger). ``notify``, when given, hears of what an
operator wants to know as it happens (see :data:`NOTIFY_EVENTS`); whatever it
raises is logged and recorded as a ``notify_failed`` event, never acted on.
"""

from __future__ import annotations

import inspect
import itertools
import json
import logging
import math
import signal
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from .._frames import as_frame, check_metric, resolve_metric
from .._table import FINISHED_STATUSES, STEP
from .._validation import check_float, check_int, floats
from ..errors import (
    AuthenticationError,
    ConfigurationError,
    HpoAnalyticsError,
    NotFoundError,
    PermissionDeniedError,
)
from ._base import CurveMatrix, Decisions, Rule
from ._search_stop import SEARCH_NOTIFY_EVENTS, SearchStop, SearchStopper
from .ledger import LEDGER_FILE, Ledger

__all__ = ["ENDED_PHASES", "JOB_NOT_FOUND", "NOTIFY_EVENTS", "CycleReport", "Safety", "WatchResult", "Watcher", "watch"]

logger = logging.getLogger("hpo_analytics.stopping")

_FATAL = (AuthenticationError, PermissionDeniedError, NotFoundError, ConfigurationError)

#: Job phases after which the watch ends (the service's ``status.phase``).
ENDED_PHASES = frozenset({"Completed", "Failed", "Terminated", "Abnormal", "Terminating"})

#: What ``notify`` hears: a trial stopped, a stop that failed (or is
#: unresolved), a dry run's "would stop", the job ending, the loop ending with an error.
NOTIFY_EVENTS = ("trial_stopped", "stop_failed", "would_stop", "job_ended", "watch_error", *SEARCH_NOTIFY_EVENTS)

#: ``WatchResult.ended`` when the job does not exist (any more).
JOB_NOT_FOUND = "job not found"


@dataclass(frozen=True)
class Safety:
    """Limits on what the watch loop may do (see the module docstring)."""

    protect_top: int = 1
    max_stops_per_cycle: int = 2
    max_stop_fraction: float = 0.5
    min_running: int = 2
    kill_switch: str = "PAUSE"

    def __post_init__(self) -> None:
        check_int("protect_top", self.protect_top, low=0)
        check_int("max_stops_per_cycle", self.max_stops_per_cycle, low=0)
        check_float("max_stop_fraction", self.max_stop_fraction, low=0.0, high=1.0)
        check_int("min_running", self.min_running, low=0)
        if not self.kill_switch or "/" in self.kill_switch:
            raise ConfigurationError("kill_switch must be a file name inside state_dir")


@dataclass
class CycleReport:
    """What one cycle saw and did."""

    cycle: int
    trials: int
    running: int
    new_reports: int
    #: the decision table, or a function that builds it: :attr:`decisions` builds it when first read
    #: (an unattended watch never reads it, and building one frame per job and cycle was measurable)
    decision_table: pd.DataFrame | Callable[[], pd.DataFrame] = field(repr=False)
    actions: dict[str, str] = field(default_factory=dict)
    all_done: bool = False
    #: why nothing was decided this cycle (``""`` when the rule was asked)
    skipped: str = ""
    #: the job's phase this cycle (``None`` when the client cannot tell)
    phase: str | None = None
    #: why the job is over (``""`` while it runs): its phase, or :data:`JOB_NOT_FOUND`
    job_ended: str = ""

    @property
    def decisions(self) -> pd.DataFrame:
        """The rule's decisions this cycle (:data:`~hpo_analytics.stopping.DECISION_COLUMNS`)."""
        if callable(self.decision_table):
            self.decision_table = self.decision_table()
        return self.decision_table


@dataclass
class WatchResult:
    """How this run of a watch ended: its cycles, trials per outcome *in this run*, and why it returned.

    ``ended`` is ``"all trials done"``, ``"job Completed"`` (or another
    ended phase), ``"job not found"``, ``"max_cycles"`` or ``"signal"``.
    ``failed`` lists the stop requests of this run that failed, and the
    interrupted stops of an earlier run this run found unresolved.
    """

    cycles: int
    stopped: list[str]
    already_stopped: list[str]
    failed: list[str]
    would_stop: list[str]
    ended: str
    job_id: str = ""


class Watcher:
    """One watch loop's state (the ledger, the history in memory); :meth:`cycle` runs one cycle."""

    def __init__(self, client: Any, job_id: str, rule: Rule, *, state_dir: str | Path, execute: bool = False,
                 safety: Safety | None = None, metric: str | None = None, mode: str | None = None,
                 emit: Callable[[dict[str, Any]], None] | None = None,
                 clock: Callable[[], float] = time.time,
                 notify: Callable[[dict[str, Any]], None] | None = None,
                 search_stop: SearchStop | None = None) -> None:
        if not isinstance(rule, Rule):
            raise ConfigurationError(f"rule must be a Rule, not {type(rule).__name__}")
        if not isinstance(job_id, str) or not job_id:
            raise ConfigurationError("job_id must be a non-empty string")
        self.search_stop = (SearchStopper(search_stop, client=client, execute=execute)
                            if search_stop is not None else None)
        self.client = client
        self.job_id = job_id
        self.rule = rule
        self.execute = bool(execute)
        self.safety = safety if safety is not None else Safety()
        self.metric = metric or rule.metric
        self.mode = mode or rule.mode
        self.emit = emit
        self.notify = notify
        self.clock = clock
        self.cycles_run = 0
        #: the job's details as this cycle read them (``None`` for a client that cannot read them)
        self.details: dict[str, Any] | None = None
        #: this run's outcomes: trial ids by ``stopped``/``already_stopped``/``failed``/``would_stop``
        self.outcomes: dict[str, list[str]] = {"stopped": [], "already_stopped": [], "failed": [], "would_stop": []}
        self.state_dir = Path(state_dir)
        self.ledger = Ledger(self.state_dir)
        self.stopping = threading.Event()
        self.cycle_no = self.ledger.last_cycle(job_id)
        hist = self.ledger.history(job_id)
        # the history in memory as a curve matrix, kept up to date cell by cell (not rebuilt every cycle)
        self._curves = _Curves(hist)
        self._last: dict[str, int] = (
            hist.groupby("trial_id", sort=False)[STEP].max().astype(int).to_dict() if len(hist) else {}
        )
        self._interrupted = {t for t, s in self.ledger.stop_states(job_id).items() if s == "intent"}
        # the metric a cycle resolved (``None`` before the first): later cycles read only the listing's
        # columns a cycle uses, from a client whose fetch_trials/fetch_curves take ``columns``
        self._resolved: str | None = None
        self._beside: ThreadPoolExecutor | None = None
        self._narrow_trials = _accepts(getattr(client, "fetch_trials", None), "columns")
        self._narrow_curves = _accepts(getattr(client, "fetch_curves", None), "columns")

    def close(self) -> None:
        """Close the ledger (and the listing's thread)."""
        if self._beside is not None:
            self._beside.shutdown(wait=True)
            self._beside = None
        self.ledger.close()

    def result(self, ended: str) -> WatchResult:
        """What this run did (its outcomes so far), as a watch that ended for ``ended`` reports it."""
        return WatchResult(
            cycles=self.cycles_run,
            stopped=sorted(self.outcomes["stopped"]),
            already_stopped=sorted(self.outcomes["already_stopped"]),
            failed=sorted(set(self.outcomes["failed"])),
            would_stop=sorted(self.outcomes["would_stop"]),
            ended=ended,
            job_id=self.job_id,
        )

    @property
    def paused(self) -> bool:
        """Whether the kill switch file exists."""
        return (self.state_dir / self.safety.kill_switch).exists()

    # ------------------------------------------------------------------ one cycle
    def cycle(self) -> CycleReport:
        """Fetch, record, decide, act, record. Errors of the service propagate (after the client's retries)."""
        self.cycle_no += 1
        self.cycles_run += 1
        c = self.cycle_no
        phase: str | None = None
        earlier, self.details = self.details, None
        # Once the metric is known the listing's metadata (the details' metric) is no longer read: the
        # listing is fetched beside this cycle's details read, not after it, with the details read before.
        beside = (self._side().submit(self._listing, earlier)
                  if earlier is not None and self._resolved is not None and self._narrow_trials else None)
        try:
            if hasattr(self.client, "get_training_job"):
                # one read of the job's details per cycle: its phase, and the metric that fetch_trials records
                self.details = self.client.get_training_job(self.job_id)
                phase = _phase(self.details)
            elif hasattr(self.client, "job_phase"):
                phase = self.client.job_phase(self.job_id)
        except NotFoundError as exc:
            if beside is not None:
                wait([beside])  # its answer (or error) is of a job that is gone: not read
            return self._ended(c, JOB_NOT_FOUND, f"the job no longer exists ({exc})", phase=None)
        except BaseException:
            if beside is not None:
                wait([beside])
            raise
        table = beside.result() if beside is not None else self._listing(self.details)
        metric, mode = resolve_metric(table, self.metric, self.mode)
        check_metric(table, metric, require_finite=False)  # no value yet is no error at the start
        self.metric, self.mode = metric, mode
        self._resolved = metric
        # only the columns a cycle reads (the parameters and the other metrics are not converted)
        narrow = _columns(table, ["trial_id", "status", STEP, metric, "time_total_s"])
        have = _names(narrow)
        ids = _texts(narrow, "trial_id")
        status = np.array(list(map(str.upper, _texts(narrow, "status").tolist())), dtype=object) \
            if "status" in have else np.full(len(ids), "RUNNING", dtype=object)
        its = _numbers(narrow, STEP) if STEP in have else np.full(len(ids), np.nan)
        vals = _numbers(narrow, metric)
        new = self._update_history(ids, its, vals)
        self._resolve_interrupted(c, ids, status)

        running_ids = ids[status == "RUNNING"]
        states = self.ledger.stop_states(self.job_id)
        cm = self._curves.matrix()
        cm_ids = cm.trial_ids.astype(str).tolist()
        cand = np.flatnonzero(_isin(cm_ids, running_ids))
        ok_finished = ids[(status == "TERMINATED")]
        ref = _isin(cm_ids, ok_finished) & ~_isin(cm_ids, states)
        skipped = ""
        over = phase in ENDED_PHASES
        if over:
            skipped = f"the job is {phase}; nothing decided"
            cand = cand[:0]
        elif not np.isfinite(cm.values).any():
            # a job that has only just started: nothing to compare, and no error either
            skipped = f"no finite value of {metric!r} yet; nothing decided"
            logger.info("watch cycle %d of job %s: %s", c, self.job_id, skipped)
            self._line({"cycle": c, "trial_id": None, "action": "skipped", "reason": skipped})
            cand = cand[:0]
        d = self.rule.decide_matrix(cm, cand, ref, mode)
        described, trial_ids = self.rule.describe(), cm.trial_ids  # not the whole matrix: reports may be kept
        report = CycleReport(c, len(ids), len(running_ids), new, lambda: d.frame_of(trial_ids, described),
                             skipped=skipped, phase=phase)
        self._act(report, _Decisions.read(d, cm), cm, mode, set(running_ids.tolist()), states, len(ids))
        if self.search_stop is not None:  # ends the whole job when a search-level criterion is met
            self.search_stop.after_decisions(self, c, ended=over, phase=phase, listing=as_frame(narrow),
                                             status=status, cm=cm, metric=metric, mode=mode)
        report.all_done = len(ids) > 0 and bool(_isin(status.tolist(), FINISHED_STATUSES).all())
        self.ledger.record(self.job_id, "cycle", time=self.clock(), cycle=c,
                           reason=f"{len(ids)} trials, {len(running_ids)} running, {new} new reports, "
                                  + (skipped if skipped else f"{int(np.count_nonzero(d.stop))} stop decisions")
                                  + (", all trials done" if report.all_done else ""))
        if over:
            unfinished = int((~_isin(status.tolist(), FINISHED_STATUSES)).sum())
            note = f"; {unfinished} trials still listed unfinished" if unfinished else ""
            ended = self._ended(c, f"job {phase}", f"the job is {phase}{note}", phase=phase)
            report.job_ended = ended.job_ended
        return report

    def _side(self) -> ThreadPoolExecutor:
        """The thread that reads the listing while the details are read (started on first use)."""
        if self._beside is None:
            self._beside = ThreadPoolExecutor(max_workers=1, thread_name_prefix="hpo-watch-listing")
        return self._beside

    def _listing(self, details: dict[str, Any] | None) -> Any:
        """The trials listing: once the metric is known, only the columns a cycle reads (all when one is missing).

        The columns read are exactly those of the whole listing (the
        normalizer parses each column on its own, and ``trial_index`` keeps
        the rows in the same order); a metric column that has gone missing
        reads the whole listing again, so the error names every column.
        """
        kw: dict[str, Any] = {} if details is None else {"details": details}
        if self._resolved is None or not self._narrow_trials:
            return self.client.fetch_trials(self.job_id, **kw)
        table = self.client.fetch_trials(self.job_id, columns=[*_LISTING_COLUMNS, self._resolved], **kw)
        if self._resolved not in table.column_names:
            table = self.client.fetch_trials(self.job_id, **kw)
        return table

    def _ended(self, c: int, ended: str, reason: str, *, phase: str | None) -> CycleReport:
        """Record that the job is over (``job_ended`` event, log, notification); a report saying so."""
        self.ledger.record(self.job_id, "job_ended", time=self.clock(), cycle=c, reason=reason)
        logger.info("watch of job %s: %s", self.job_id, reason)
        self._line({"cycle": c, "trial_id": None, "action": "job_ended", "reason": reason})
        self._notify("job_ended", cycle=c, reason=reason, phase=phase)
        return CycleReport(c, 0, 0, 0, pd.DataFrame(), phase=phase, job_ended=ended)

    def _notify(self, event: str, **fields: Any) -> None:
        """Tell ``notify`` (never raises: a failure is logged and recorded)."""
        if self.notify is None:
            return
        message = {"event": event, "job_id": self.job_id, "time": self.clock(), **fields}
        try:
            self.notify(message)
        except Exception as exc:  # a notifier's failure must never block or repeat a stop
            logger.warning("notification %s for job %s failed: %s", event, self.job_id, exc)
            self.ledger.record(self.job_id, "notify_failed", time=self.clock(), cycle=fields.get("cycle"),
                               trial_id=fields.get("trial_id"), reason=event, error=f"{type(exc).__name__}: {exc}")
        self.record_notify_failures()

    def record_notify_failures(self, *, flush: float | None = None) -> None:
        """Record in the ledger the deliveries a queueing notifier reports failed (after waiting ``flush`` s)."""
        if flush is not None and hasattr(self.notify, "flush"):
            self.notify.flush(flush)
        failures = getattr(self.notify, "failures", None)
        if failures is None:
            return
        for event, exc in failures(self.job_id):
            self.ledger.record(self.job_id, "notify_failed", time=self.clock(), cycle=event.get("cycle"),
                               trial_id=event.get("trial_id"), reason=event.get("event"),
                               error=f"{type(exc).__name__}: {exc}")

    def _update_history(self, ids: np.ndarray, its: np.ndarray, vals: np.ndarray) -> int:
        rows, fetch = _news(ids, its, vals, self._last)
        if fetch:
            kw: dict[str, Any] = {} if self.details is None else {"details": self.details}
            if self._narrow_curves:
                kw["columns"] = [self.metric]
            fetched = self.client.fetch_curves(self.job_id, fetch, **kw)
            curves = _columns(fetched, ["trial_id", STEP, self.metric])
            if len(curves):
                steps = _numbers(curves, STEP)
                values = _numbers(curves, self.metric) if self.metric in _names(curves) else \
                    np.full(len(curves), np.nan)
                trial_ids = _texts(curves, "trial_id").tolist()  # not the Arrow iterator
                for t, k, v in zip(trial_ids, steps.tolist(), values.tolist()):
                    if k == k and int(k) > self._last.get(t, -1):
                        rows.append((t, int(k), v))
        rows.sort(key=lambda r: (r[0], r[1]))
        n = self.ledger.append_history(self.job_id, rows)
        fresh = []
        for t, k, v in rows:
            if k > self._last.get(t, -1):
                fresh.append((t, k, v))
                self._last[t] = k
        if fresh:
            self._curves.add(*zip(*fresh))
        return n

    def _resolve_interrupted(self, c: int, ids: np.ndarray, status: np.ndarray) -> None:
        if not self._interrupted:
            return
        where = dict(zip(ids.tolist(), status.tolist()))
        now = self.clock()
        for t in sorted(self._interrupted):
            st = where.get(t)
            if st in FINISHED_STATUSES:
                state = "already_stopped"
                reason = (f"an earlier run was interrupted after deciding to stop; the trial is now {st}; "
                          "no request sent again")
            else:
                state = "unresolved"
                reason = (f"an earlier run was interrupted between the stop intent and its answer; the trial is "
                          f"{st or 'not listed'}; not sent again (a trial never gets two stop requests)")
            self.ledger.set_stop_state(self.job_id, t, state, now)
            self.ledger.record(self.job_id, state, time=now, cycle=c, trial_id=t, reason=reason)
            self._line({"cycle": c, "trial_id": t, "action": state, "reason": reason})
            if state == "unresolved":
                self.outcomes["failed"].append(t)
                self._notify("stop_failed", cycle=c, trial_id=t, reason=reason)
            else:
                self.outcomes["already_stopped"].append(t)
        self._interrupted.clear()

    def _act(self, report: CycleReport, rows: _Decisions, cm: CurveMatrix, mode: str, running: set[str],
             states: dict[str, str], n_total: int) -> None:
        c = report.cycle
        sign = 1.0 if mode == "max" else -1.0
        sf = self.safety
        with np.errstate(all="ignore"):
            best = np.fmax.reduce(sign * cm.values, axis=1) if cm.values.shape[1] else np.full(len(cm.trial_ids),
                                                                                               np.nan)
        order = np.argsort(-np.where(np.isnan(best), -np.inf, best), kind="stable")
        protected = set(cm.trial_ids[order[: sf.protect_top]].astype(str).tolist()) if sf.protect_top else set()
        cap_total = int(math.floor(sf.max_stop_fraction * n_total))
        used_total = len(states)
        paused = self.paused
        now = self.clock()
        params = json.dumps(self.rule.params(), sort_keys=True)
        rule = self.rule.describe()
        self.ledger.record_many(self.job_id, [
            {"kind": "decision", "cycle": c, "trial_id": r.trial_id, "rule": rule, "params": params, "step": r.step,
             "value": r.value, "reference": r.reference, "reason": f"{'stop' if r.stop else 'continue'}: {r.reason}"}
            for r in rows], time=now)
        # Most hopeless first: diverged, then furthest below the reference (a stable order).
        wanted = sorted((r for r in rows if r.stop), key=lambda r: _hopeless(r, sign))
        actions: dict[str, str] = {r.trial_id: "continue" for r in rows if not r.stop}
        # holds and dry-run lines send nothing: they are committed together, before any stop request and at the end
        quiet: list[dict[str, Any]] = []
        done_now = 0
        n_running = len(running)
        for row in wanted:
            t = row.trial_id
            hold = None
            if t in states:
                hold = f"a stop request was already made for this trial ({states[t]}); never twice"
            elif t not in running:
                hold = "not running"
            elif t in protected:
                hold = f"among the current best {sf.protect_top}"
            elif paused:
                hold = f"kill switch {sf.kill_switch} is present"
            elif self.stopping.is_set():
                hold = "shutting down"
            elif done_now >= sf.max_stops_per_cycle:
                hold = f"limit of {sf.max_stops_per_cycle} stops per cycle"
            elif used_total + done_now >= cap_total:
                hold = f"limit of {sf.max_stop_fraction:g} of all {n_total} trials stopped"
            elif n_running - done_now - 1 < sf.min_running:
                hold = f"keeping at least {sf.min_running} trials running"
            if hold is not None:
                actions[t] = f"held: {hold}"
                quiet.append({"kind": "held", "cycle": c, "trial_id": t, "rule": rule, "reason": hold})
                self._line({"cycle": c, "trial_id": t, "step": row.step, "action": "held",
                            "reason": f"{row.reason}; held: {hold}"})
                continue
            done_now += 1
            if not self.execute:
                actions[t] = "would_stop"
                quiet.append({"kind": "dry_run", "cycle": c, "trial_id": t, "rule": rule,
                              "reason": "dry run: would stop"})
                self._line({"cycle": c, "trial_id": t, "step": row.step, "action": "would_stop",
                            "reason": row.reason})
                if t not in self.outcomes["would_stop"]:
                    self.outcomes["would_stop"].append(t)
                self._notify("would_stop", cycle=c, trial_id=t, rule=rule, step=row.step,
                             value=_finite(row.value), reference=_finite(row.reference), reason=row.reason)
                continue
            self.ledger.record_many(self.job_id, quiet, time=self.clock())
            quiet = []
            actions[t] = self._stop(c, t, row, rule)
        self.ledger.record_many(self.job_id, quiet, time=self.clock())
        for row in rows:
            if not row.stop:
                self._line({"cycle": c, "trial_id": row.trial_id, "step": row.step, "action": "continue",
                            "reason": row.reason})
        report.actions = actions

    def _stop(self, c: int, t: str, row: Any, rule: str) -> str:
        request = f"POST /v2/{{project_id}}/training-jobs/{self.job_id}/autosearch-trial-earlystop/{t}"
        if not self.ledger.claim_stop(self.job_id, t, self.clock()):
            return "held: a stop was already intended for this trial"
        self.ledger.record(self.job_id, "intent", time=self.clock(), cycle=c, trial_id=t, rule=rule,
                           step=_int(row.step), value=row.value, reference=row.reference, reason=row.reason,
                           request=request)
        try:
            result = self.client.early_stop(self.job_id, t)
        except HpoAnalyticsError as exc:
            self.ledger.set_stop_state(self.job_id, t, "failed", self.clock())
            self.ledger.record(self.job_id, "failed", time=self.clock(), cycle=c, trial_id=t, rule=rule,
                               request=request, error=f"{type(exc).__name__}: {exc}")
            self._line({"cycle": c, "trial_id": t, "step": _int(row.step), "action": "failed",
                        "reason": f"{row.reason}; stop request failed: {exc}"})
            self.outcomes["failed"].append(t)
            self._notify("stop_failed", cycle=c, trial_id=t, rule=rule, step=_int(row.step),
                         value=_finite(row.value), reference=_finite(row.reference),
                         reason=row.reason, error=f"{type(exc).__name__}: {exc}")
            if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
                raise
            return "failed"
        state = "stopped" if getattr(result, "outcome", "stopped") == "stopped" else "already_stopped"
        response = json.dumps(asdict(result)) if hasattr(result, "__dataclass_fields__") else repr(result)
        self.ledger.set_stop_state(self.job_id, t, state, self.clock())
        self.ledger.record(self.job_id, state, time=self.clock(), cycle=c, trial_id=t, rule=rule, request=request,
                           response=response)
        self._line({"cycle": c, "trial_id": t, "step": _int(row.step), "action": state, "reason": row.reason})
        self.outcomes[state].append(t)
        if state == "stopped":
            self._notify("trial_stopped", cycle=c, trial_id=t, rule=rule, step=_int(row.step),
                         value=_finite(row.value), reference=_finite(row.reference), reason=row.reason)
        return state

    def _line(self, event: dict[str, Any]) -> None:
        if self.emit is not None:
            self.emit({"job_id": self.job_id, **event})


class _Curves:
    """The watch's history as a :class:`CurveMatrix`, updated in place with each cycle's new reports.

    :meth:`matrix` is what ``CurveMatrix.from_frame(history, "value")`` of the
    whole history gives (trials in the order first recorded, the distinct
    steps sorted), given that a new report is always a new ``(trial, step)``
    cell, as the watch records them (a trial's next steps only).
    """

    def __init__(self, frame: pd.DataFrame) -> None:
        cm = CurveMatrix.from_frame(frame, "value")
        self._ids: list[Any] = cm.trial_ids.tolist()
        self._row = {t: i for i, t in enumerate(self._ids)}
        self._steps = cm.steps
        self._col = {int(k): j for j, k in enumerate(cm.steps.tolist())}
        n, m = cm.values.shape
        cap = max(16, 2 * n)
        self._values = np.full((cap, m), np.nan)
        self._reported = np.zeros((cap, m), dtype=bool)
        self._values[:n] = cm.values
        self._reported[:n] = cm.reported

    def add(self, ids: Any, steps: Any, values: Any) -> None:
        """New cells ``(ids[i], steps[i]) = values[i]`` (each one not recorded before)."""
        for k in steps:
            if k not in self._col:
                self._add_steps(steps)
                break
        rows = []
        for t in ids:
            r = self._row.get(t)
            if r is None:
                r = self._row[t] = len(self._ids)
                self._ids.append(t)
            rows.append(r)
        if len(self._ids) > len(self._values):
            self._grow(len(self._ids))
        cols = [self._col[k] for k in steps]
        self._values[rows, cols] = values
        self._reported[rows, cols] = True

    def _add_steps(self, steps: Any) -> None:
        """Insert the columns of steps not seen before, keeping the steps sorted."""
        every = np.union1d(self._steps, np.asarray(list(steps), dtype=np.int64))
        where = np.searchsorted(every, self._steps)
        values = np.full((len(self._values), len(every)), np.nan)
        reported = np.zeros((len(self._values), len(every)), dtype=bool)
        values[:, where] = self._values
        reported[:, where] = self._reported
        self._values, self._reported, self._steps = values, reported, every
        self._col = {int(k): j for j, k in enumerate(every.tolist())}

    def _grow(self, n: int) -> None:
        cap = max(2 * len(self._values), n)
        values = np.full((cap, self._values.shape[1]), np.nan)
        reported = np.zeros((cap, self._values.shape[1]), dtype=bool)
        values[:len(self._values)] = self._values
        reported[:len(self._values)] = self._reported
        self._values, self._reported = values, reported

    def matrix(self) -> CurveMatrix:
        """The matrix now (its own copies: a rule may do with it what it likes)."""
        n = len(self._ids)
        return CurveMatrix(np.asarray(self._ids, dtype=object), self._steps.copy(), self._values[:n].copy(),
                           self._reported[:n].copy())


@dataclass(frozen=True)
class _Decision:
    """One row of a decision table, as plain Python values (``None`` for missing)."""

    trial_id: str
    stop: bool
    step: int | None
    value: float | None
    reference: float | None
    reason: str


class _Decisions(list):
    """The rows of a decision table (:data:`DECISION_COLUMNS`), as plain Python values."""

    @classmethod
    def read(cls, d: Decisions, cm: CurveMatrix) -> _Decisions:
        """The rows of ``d.to_frame(cm, ...)`` read straight from the rule's arrays (no frame built and read back)."""
        n = len(d.rows)
        if not n:
            return cls()
        ids = cm.trial_ids[d.rows].astype(str).tolist()
        stop = np.asarray(d.stop, dtype=bool).tolist()
        steps = np.asarray(d.step, dtype=np.int64).tolist()
        values = np.asarray(d.value, dtype=float).tolist()
        refs = np.asarray(d.reference, dtype=float).tolist()
        reasons = ["" if r is None else str(r) for r in d.reason]
        return cls(_Decision(ids[i], stop[i], None if steps[i] < 0 else steps[i],
                             None if values[i] != values[i] else values[i],
                             None if refs[i] != refs[i] else refs[i], reasons[i]) for i in range(n))


#: the listing's columns a cycle reads beside the metric (``trial_index`` keeps the rows in the listing's order)
_LISTING_COLUMNS = ("trial_id", "trial_index", "status", STEP, "time_total_s")


def _accepts(method: Any, name: str) -> bool:
    """Whether ``method`` takes the keyword argument ``name`` (a client's optional feature)."""
    if method is None:
        return False
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    param = params.get(name)
    return param is not None and param.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


def _news_loop(ids: np.ndarray, its: np.ndarray, vals: np.ndarray,
               last: dict[str, int]) -> tuple[list[tuple[str, int, float]], list[str]]:
    """The listing's new reports: ``(rows, fetch)``, the rows that are exactly a trial's next report, and the
    trials whose history must be read (a first report after step 1, or more than one new step)."""
    rows: list[tuple[str, int, float]] = []
    fetch: list[str] = []
    for t, k, v in zip(ids.tolist(), its.tolist(), vals.tolist()):
        if k != k:  # no report yet
            continue
        k = int(k)
        prev = last.get(t)
        if prev is not None and k <= prev:
            continue
        if (prev is not None and k == prev + 1) or (prev is None and k == 1):
            rows.append((t, k, v))
        else:
            fetch.append(t)
    return rows, fetch


#: a step no trial reports (:func:`_news` marks a trial not seen before with it)
_UNSEEN = -(2 ** 62)


def _news(ids: np.ndarray, its: np.ndarray, vals: np.ndarray,
          last: dict[str, int]) -> tuple[list[tuple[str, int, float]], list[str]]:
    """:func:`_news_loop`, as arrays: the same lists in the same order (that loop for steps it cannot hold)."""
    present = ~np.isnan(its)
    k = its[present]
    if not (np.abs(k) < 2.0 ** 53).all() or (k != np.floor(k)).any():  # beyond an exact int64 step
        return _news_loop(ids, its, vals, last)
    ids_list = ids.tolist()
    prev = np.fromiter(map(last.get, ids_list, itertools.repeat(_UNSEEN)), dtype=np.int64, count=len(ids_list))
    step = np.zeros(len(ids_list), dtype=np.int64)
    step[present] = k.astype(np.int64)
    seen = prev != _UNSEEN
    newer = present & (~seen | (step > prev))
    direct = newer & np.where(seen, step == prev + 1, step == 1)
    rows = [(ids_list[i], s, v) for i, s, v in zip(np.flatnonzero(direct).tolist(), step[direct].tolist(),
                                                    vals[direct].tolist())]
    fetch = [ids_list[i] for i in np.flatnonzero(newer & ~direct).tolist()]
    return rows, fetch


def _isin(ids: list[str], among: Any) -> np.ndarray:
    """:func:`~hpo_analytics.stopping._base.member` of a list of strings, by one set (no pandas index built)."""
    wanted = {str(x) for x in among}
    return np.fromiter(map(wanted.__contains__, ids), dtype=bool, count=len(ids))


def _names(table: Any) -> list[str]:
    """The columns of an Arrow table or a frame."""
    return list(table.column_names) if isinstance(table, pa.Table) else list(table.columns)


def _columns(table: Any, names: list[str]) -> Any:
    """Those of ``names`` that ``table`` (an Arrow table or a frame) has, in that order; the rest left out."""
    have = _names(table)
    keep = list(dict.fromkeys(n for n in names if n in have))
    return table.select(keep) if isinstance(table, pa.Table) else table[keep]


def _texts(table: Any, name: str) -> np.ndarray:
    """``as_frame(table)[name].astype(str).to_numpy()``; from an Arrow string column without nulls, read directly."""
    if isinstance(table, pa.Table):
        column = table[name]
        if column.null_count == 0 and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            return column.to_numpy(zero_copy_only=False)  # str objects, as pandas holds them
        table = as_frame(table.select([name]))
    return table[name].astype(str).to_numpy()


def _numbers(table: Any, name: str) -> np.ndarray:
    """``floats(as_frame(table)[name])``; from an Arrow column of numbers, read directly (null: NaN)."""
    if isinstance(table, pa.Table):
        column = table[name]
        if pa.types.is_integer(column.type) or pa.types.is_floating(column.type):
            out = pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
            return out if out.flags.writeable else out.copy()
        table = as_frame(table.select([name]))
    return floats(table[name])


def _hopeless(row: _Decision, sign: float) -> float:
    """How far below its reference a trial is (lowest first); a trial with no value comes first of all."""
    if row.value is None:
        return -math.inf
    gap = sign * (row.value - row.reference) if row.reference is not None else 0.0
    return gap if gap == gap else 0.0


def _int(x: Any) -> int | None:
    return None if x is None or pd.isna(x) else int(x)


def _finite(x: Any) -> float | None:
    """A number for a JSON event: ``None`` for a missing or non-finite value."""
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _phase(details: Any) -> str | None:
    """``status.phase`` of a job's details, ``None`` when not given."""
    status = details.get("status") if isinstance(details, dict) else None
    phase = status.get("phase") if isinstance(status, dict) else None
    return phase if isinstance(phase, str) and phase else None


def watch(client: Any, job_id: str, rule: Rule, *, state_dir: str | Path, execute: bool = False,
          interval_s: float = 60.0, safety: Safety | None = None, metric: str | None = None,
          mode: str | None = None, max_cycles: int | None = None,
          emit: Callable[[dict[str, Any]], None] | None = None, sleep: Callable[[float], None] | None = None,
          clock: Callable[[], float] = time.time, handle_signals: bool = False,
          max_consecutive_errors: int = 5, notify: Callable[[dict[str, Any]], None] | None = None,
          stop_event: threading.Event | None = None, notify_flush_s: float = 30.0,
          search_stop: SearchStop | None = None) -> WatchResult:
    """Watch ``job_id`` until it ends, every trial is done, ``max_cycles``, or SIGINT/SIGTERM; see the module doc.

    ``client`` is a :class:`~hpo_analytics.client.ModelArtsClient` (or anything
    with ``fetch_trials``, ``fetch_curves`` and ``early_stop``, and optionally
    ``job_phase``; one with ``get_training_job`` reads the details once a
    cycle and hands them on as ``fetch_trials(job_id, details=...)`` and
    ``fetch_curves(job_id, ids, details=...)``). ``emit`` gets one dict per decision line (and one with
    ``trial_id`` ``None`` and ``action`` ``"skipped"`` for a cycle that decided
    nothing because the metric has no finite value yet, or ``"job_ended"``).
    ``notify`` gets the events of :data:`NOTIFY_EVENTS` (a queueing
    :class:`~hpo_analytics.stopping.Notifier` is given up to ``notify_flush_s``
    seconds at the end to deliver, and its failures go to the ledger).
    ``search_stop`` (a :class:`~hpo_analytics.stopping.SearchStop`) ends the
    whole job when one of its criteria is met, with the same safety model. ``sleep``/``clock``
    are injectable (tests never wait); by default the loop waits on an event
    that a signal (or ``stop_event``, shared by the loops of several jobs) sets.
    Service errors that survive the client's retries are recorded and the
    next cycle tries again; after ``max_consecutive_errors`` in a row, or at
    once for authentication, permission and not-found errors, they are raised.
    A job that does not exist when the loop starts raises
    :class:`~hpo_analytics.errors.NotFoundError` and leaves no state behind.
    """
    interval_s = check_float("interval_s", interval_s, low=0.0)
    if max_cycles is not None:
        check_int("max_cycles", max_cycles, low=1)
    check_int("max_consecutive_errors", max_consecutive_errors, low=1)
    if not isinstance(rule, Rule):
        raise ConfigurationError(f"rule must be a Rule, not {type(rule).__name__}")
    if hasattr(client, "job_phase") and not (Path(state_dir) / LEDGER_FILE).exists():
        try:  # a job that does not exist (or credentials that do not work) raise here, before any state is written
            client.job_phase(job_id)
        except _FATAL:
            raise
        except HpoAnalyticsError as exc:  # a passing fault: the first cycle will try again
            logger.info("watch of job %s: could not read its phase yet: %s", job_id, exc)
    w = Watcher(client, job_id, rule, state_dir=state_dir, execute=execute, safety=safety, metric=metric,
                mode=mode, emit=emit, clock=clock, notify=notify, search_stop=search_stop)
    if stop_event is not None:
        w.stopping = stop_event
    wait = sleep if sleep is not None else (lambda s: w.stopping.wait(s))
    previous: dict[int, Any] = {}
    if handle_signals and threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, lambda signum, frame: w.stopping.set())
    cycles = 0
    errors = 0
    ended = "max_cycles"
    try:
        while True:
            try:
                report = w.cycle()
            except HpoAnalyticsError as exc:
                errors += 1
                error = f"{type(exc).__name__}: {exc}"
                w.ledger.record(job_id, "error", time=clock(), cycle=w.cycle_no, error=error)
                fatal = isinstance(exc, _FATAL) or errors >= max_consecutive_errors
                if fatal:
                    w._notify("watch_error", cycle=w.cycle_no, error=error)
                    w.record_notify_failures(flush=notify_flush_s)
                    raise
                logger.warning("watch cycle %d failed (%d in a row): %s", w.cycle_no, errors, exc)
            else:
                errors = 0
                if report.job_ended:
                    ended = report.job_ended
                    break
                if report.all_done:
                    ended = "all trials done"
                    break
            cycles += 1
            if w.stopping.is_set():
                ended = "signal"
                break
            if max_cycles is not None and cycles >= max_cycles:
                break
            wait(interval_s)
            if w.stopping.is_set():
                ended = "signal"
                break
        w.record_notify_failures(flush=notify_flush_s)
        w.ledger.record(job_id, "exit", time=clock(), cycle=w.cycle_no, reason=ended)
        return w.result(ended)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        w.close()
