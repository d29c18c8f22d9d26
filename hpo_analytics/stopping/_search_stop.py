"""Search-level stops: opt-in criteria that end the whole search, and the part of the watch loop that acts on them.

:class:`SearchStop` says when a search has done its work: a target value of
the metric reached, a budget spent (finished trials, summed trial run time,
wall time since the job started), or no improvement of the best for N
finished trials. When the watch loop is given one (``watch(...,
search_stop=SearchStop(...))``), every cycle, after the trial decisions, it
checks the criteria and, when one is met, ends the job through the
service's terminate action (``client.terminate_job``) — with the safety
model of trial stops:

* a dry run unless ``execute=True``: a ``would_terminate`` event, line and
  notification (the notification once per run, not every cycle: the job
  goes on running and the criterion keeps holding);
* while the kill switch file (``PAUSE``) exists, or while the loop shuts
  down, nothing is sent (a ``terminate_held`` event says why);
* the intent is committed to the ledger's ``terminations`` table before the
  request; a job with a row there is never sent a second terminate, within
  a run, across cycles or across restarts. A run killed between the intent
  and the answer leaves ``intent``; the next run resolves it from the job's
  phase (ending or ended: ``already_ended``; still running or unknown:
  ``unresolved``, counted as failed and still not sent again);
* a terminate that fails (or stays unresolved) puts the job id in the run's
  ``outcomes["failed"]`` (the CLI's exit status 3) and is notified as
  ``terminate_failed``; one that is accepted is notified as
  ``job_terminated``. The job then goes ``Terminating`` → ``Terminated``
  and the loop's lifecycle check ends the watch at the next cycle.

What the criteria look at:

* the best value: the best report of any trial (running or finished) in the
  watch's history, by the job's mode;
* finished trials: the latest listing's trials with a finished status;
* trial run time: the listing's ``time_total_s`` summed over every trial
  (running trials count what they have used so far; a listing without the
  column leaves the criterion undecided, and the log says so once);
* wall time: the injected clock minus the job's ``status.start_time``
  (epoch ms), or ``metadata.create_time`` while the job reports no start;
* no improvement: trials in the order they finished *as the watch saw
  them*, each with its best value, kept in the ledger as ``trial_finished``
  events so that a restarted watch counts the same. The order within one
  cycle is unknown (every trial already finished when the watch first
  looks, or those that finished while it was down or between two polls): such
  a batch is taken worst first, so its best counts as the most recent
  improvement — the count never runs ahead of any true order, and the
  criterion never fires earlier than it would have had the order been known.
  A finished trial with no finite value, like one this watch stopped early
  that did not beat the best, counts as a trial that did not improve it.

A job that no longer exists ends the watch before this part runs: an
interrupted intent then stays ``intent`` in the ledger (and is never sent).
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._table import FINISHED_STATUSES
from .._validation import check_float, check_int, floats
from ..errors import AuthenticationError, ConfigurationError, HpoAnalyticsError, PermissionDeniedError
from ._base import CurveMatrix

__all__ = ["SEARCH_NOTIFY_EVENTS", "SearchProgress", "SearchStop", "SearchStopper"]

logger = logging.getLogger("hpo_analytics.stopping")

#: What ``notify`` hears of search-level stops (besides the loop's own events).
SEARCH_NOTIFY_EVENTS = ("would_terminate", "job_terminated", "terminate_failed")

_TIME_COLUMN = "time_total_s"


@dataclass(frozen=True)
class SearchProgress:
    """What the criteria of a :class:`SearchStop` look at, as of one cycle (``None``/NaN: not known)."""

    metric: str
    mode: str
    #: the best value reported by any trial so far, and that trial
    best: float = math.nan
    best_trial: str | None = None
    #: trials the listing shows finished
    finished: int = 0
    #: ``time_total_s`` summed over the listing's trials
    trial_time_s: float | None = None
    #: seconds since the job started
    wall_time_s: float | None = None
    #: finished trials (in finishing order) since the best of the finished ones last improved
    since_improvement: int = 0
    #: the best finished trial's value and id (what ``since_improvement`` counts from)
    best_finished: float = math.nan
    best_finished_trial: str | None = None


@dataclass(frozen=True)
class SearchStop:
    """When to end the whole search; every criterion is optional and at least one must be set.

    * ``target`` — the best value of the metric reached it (``>=`` for
      ``mode="max"``, ``<=`` for ``"min"``);
    * ``max_trials`` — this many trials finished;
    * ``max_trial_time_s`` — the trials' run time (``time_total_s``) summed
      reached it;
    * ``max_wall_time_s`` — this many seconds passed since the job started;
    * ``no_improvement`` — the best of the finished trials did not improve
      over the last N trials to finish.

    Any one criterion met ends the search (see the module docstring for what
    each one reads and for the safety model).
    """

    target: float | None = None
    max_trials: int | None = None
    max_trial_time_s: float | None = None
    max_wall_time_s: float | None = None
    no_improvement: int | None = None

    def __post_init__(self) -> None:
        if self.target is not None:
            object.__setattr__(self, "target", check_float("target", self.target))
        if self.max_trials is not None:
            check_int("max_trials", self.max_trials, low=1)
        if self.max_trial_time_s is not None:
            object.__setattr__(self, "max_trial_time_s",
                               check_float("max_trial_time_s", self.max_trial_time_s, low=0.0, low_open=True))
        if self.max_wall_time_s is not None:
            object.__setattr__(self, "max_wall_time_s",
                               check_float("max_wall_time_s", self.max_wall_time_s, low=0.0, low_open=True))
        if self.no_improvement is not None:
            check_int("no_improvement", self.no_improvement, low=1)
        if not self.params():
            raise ConfigurationError("a search stop needs at least one criterion: target, max_trials, "
                                     "max_trial_time_s, max_wall_time_s or no_improvement")

    def params(self) -> dict[str, Any]:
        """The criteria that are set, by name."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def describe(self) -> str:
        """One line for the ledger and the log, e.g. ``search stop(target=0.9, max_trials=50)``."""
        return "search stop(" + ", ".join(f"{k}={v:g}" for k, v in self.params().items()) + ")"

    def reasons(self, progress: SearchProgress) -> list[str]:
        """Why the search should end, one reason per criterion met (empty: keep going)."""
        p = progress
        out: list[str] = []
        if self.target is not None and math.isfinite(p.best):
            reached = p.best >= self.target if p.mode == "max" else p.best <= self.target
            if reached:
                out.append(f"target reached: best {p.metric} {p.best:g} (trial {p.best_trial}) "
                           f"{'>=' if p.mode == 'max' else '<='} target {self.target:g}")
        if self.max_trials is not None and p.finished >= self.max_trials:
            out.append(f"budget spent: {p.finished} trials finished >= max_trials {self.max_trials}")
        if self.max_trial_time_s is not None and p.trial_time_s is not None \
                and p.trial_time_s >= self.max_trial_time_s:
            out.append(f"budget spent: {p.trial_time_s:g} s of trial run time (time_total_s summed) "
                       f">= max_trial_time_s {self.max_trial_time_s:g}")
        if self.max_wall_time_s is not None and p.wall_time_s is not None and p.wall_time_s >= self.max_wall_time_s:
            out.append(f"budget spent: {p.wall_time_s:.0f} s since the job started "
                       f">= max_wall_time_s {self.max_wall_time_s:g}")
        if self.no_improvement is not None and math.isfinite(p.best_finished) \
                and p.since_improvement >= self.no_improvement:
            out.append(f"no improvement: the best finished {p.metric} {p.best_finished:g} "
                       f"(trial {p.best_finished_trial}) was not beaten by the last {p.since_improvement} "
                       f"trials to finish (no_improvement {self.no_improvement})")
        return out


class SearchStopper:
    """The watch loop's search-level stop: one per :class:`~hpo_analytics.stopping._watch.Watcher`.

    Made (and checked: the policy, what the client can do) before the
    watcher opens its ledger; :meth:`after_decisions` runs once per cycle
    with the watcher, which gives the client, ledger, clock, emit/notify
    hooks, the kill switch and the run's ``outcomes``. What an earlier run
    left in the ledger is read at the first cycle.
    """

    def __init__(self, policy: SearchStop, *, client: Any, execute: bool) -> None:
        if not isinstance(policy, SearchStop):
            raise ConfigurationError(f"search_stop must be a SearchStop, not {type(policy).__name__}")
        if execute and not hasattr(client, "terminate_job"):
            raise ConfigurationError("search_stop with execute=True needs a client that can terminate_job")
        if policy.max_wall_time_s is not None and not hasattr(client, "get_training_job"):
            raise ConfigurationError("max_wall_time_s needs a client that can get_training_job (the start time)")
        self.policy = policy
        self.w: Any = None
        self.state: str | None = None
        self._interrupted = False
        self._order: list[tuple[str, float]] = []
        self._seen: set[str] = set()
        self._start_s: float | None = None
        self._would_notified = False
        self._said_no_time = False

    def _load(self, watcher: Any) -> None:
        """What earlier runs left: the terminate's state, the order trials were seen to finish."""
        self.w = watcher
        self.state = watcher.ledger.terminate_state(watcher.job_id)
        self._interrupted = self.state == "intent"
        seen = watcher.ledger.events(watcher.job_id, "trial_finished")
        if len(seen):
            self._order = list(zip(seen["trial_id"].astype(str).tolist(), floats(seen["value"]).tolist()))
        self._seen = {t for t, _ in self._order}

    # ------------------------------------------------------------------ one cycle
    def after_decisions(self, watcher: Any, c: int, *, ended: bool, phase: str | None, listing: pd.DataFrame,
                        status: np.ndarray, cm: CurveMatrix, metric: str, mode: str) -> None:
        """Resolve an interrupted terminate, record trials that finished, check the criteria, act."""
        if self.w is None:
            self._load(watcher)
        if self._interrupted:
            self._resolve_interrupted(c, ended, phase)
        ids = listing["trial_id"].astype(str).to_numpy()
        sign = 1.0 if mode == "max" else -1.0
        with np.errstate(all="ignore"):
            best = (np.fmax.reduce(sign * cm.values, axis=1) if cm.values.shape[1]
                    else np.full(len(cm.trial_ids), np.nan))
        cm_ids = cm.trial_ids.astype(str).tolist()
        best_of = dict(zip(cm_ids, (sign * best).tolist()))
        finished = pd.Index(status).isin(FINISHED_STATUSES)
        self._record_finished(c, ids[finished], sign, best_of)
        if ended:
            return  # the job is over: nothing to decide
        progress = self._progress(listing, int(finished.sum()), cm_ids, best, sign, metric, mode)
        reasons = self.policy.reasons(progress)
        if reasons:
            self._act(c, "; ".join(reasons), progress)

    def _record_finished(self, c: int, done: np.ndarray, sign: float, best_of: dict[str, float]) -> None:
        new = [t for t in done.tolist() if t not in self._seen]
        if not new:
            return
        # the order within one cycle is unknown: worst first, so the batch's best is its latest (module doc)
        new.sort(key=lambda t: -math.inf if math.isnan(best_of.get(t, math.nan)) else sign * best_of[t])
        self.w.ledger.record_many(self.w.job_id, [
            {"kind": "trial_finished", "cycle": c, "trial_id": t, "value": best_of.get(t, math.nan),
             "reason": "seen finished; order within a cycle unknown (taken worst first)" if len(new) > 1
             else "seen finished"}
            for t in new], time=self.w.clock())
        self._order.extend((t, best_of.get(t, math.nan)) for t in new)
        self._seen.update(new)

    def _progress(self, listing: pd.DataFrame, n_finished: int, cm_ids: list[str], best: np.ndarray,
                  sign: float, metric: str, mode: str) -> SearchProgress:
        kw: dict[str, Any] = {"metric": metric, "mode": mode, "finished": n_finished}
        if np.isfinite(best).any():
            i = int(np.nanargmax(np.where(np.isnan(best), -np.inf, best)))
            kw["best"], kw["best_trial"] = float(sign * best[i]), str(cm_ids[i])
        if self.policy.max_trial_time_s is not None:
            if _TIME_COLUMN in listing:
                kw["trial_time_s"] = float(np.nansum(floats(listing[_TIME_COLUMN])))
            elif not self._said_no_time:
                self._said_no_time = True
                logger.warning("watch of job %s: the listing has no %s column; max_trial_time_s cannot be "
                               "decided", self.w.job_id, _TIME_COLUMN)
        if self.policy.max_wall_time_s is not None:
            start = self._started_s()
            if start is not None:
                kw["wall_time_s"] = self.w.clock() - start
        if self.policy.no_improvement is not None:
            top, top_trial, since = -math.inf, None, 0
            for t, v in self._order:
                x = sign * v
                if x == x and x > top:
                    top, top_trial, since = x, t, 0
                else:
                    since += 1
            if top_trial is not None:
                kw.update(best_finished=sign * top, best_finished_trial=top_trial, since_improvement=since)
        return SearchProgress(**kw)

    def _started_s(self) -> float | None:
        """The job's start (epoch seconds), read from its details until it is known."""
        if self._start_s is not None:
            return self._start_s
        details = self.w.details if self.w.details is not None else self.w.client.get_training_job(self.w.job_id)
        status = details.get("status") if isinstance(details, dict) else None
        meta = details.get("metadata") if isinstance(details, dict) else None
        start = _epoch_ms(status.get("start_time") if isinstance(status, dict) else None)
        if start is not None:
            self._start_s = start
            return start
        return _epoch_ms(meta.get("create_time") if isinstance(meta, dict) else None)  # not started yet

    # ------------------------------------------------------------------ acting
    def _act(self, c: int, reason: str, progress: SearchProgress) -> None:
        w = self.w
        rule = self.policy.describe()
        hold = None
        if self.state is not None:
            hold = f"a terminate request was already made for this job ({self.state}); never twice"
        elif w.paused:
            hold = f"kill switch {w.safety.kill_switch} is present"
        elif w.stopping.is_set():
            hold = "shutting down"
        if hold is not None:
            self._event(c, "terminate_held", f"{reason}; held: {hold}", rule=rule)
            return
        if not w.execute:
            self._event(c, "would_terminate", f"dry run: would terminate the job: {reason}", rule=rule)
            if not self._would_notified:
                self._would_notified = True
                w._notify("would_terminate", cycle=c, rule=rule, reason=reason, value=_finite(progress.best))
            return
        if not w.ledger.claim_terminate(w.job_id, w.clock()):
            self.state = w.ledger.terminate_state(w.job_id)
            self._event(c, "terminate_held", f"{reason}; held: a terminate was already intended; never twice",
                        rule=rule)
            return
        self.state = "intent"
        request = f"POST /v2/{{project_id}}/training-jobs/{w.job_id}/actions terminate"
        w.ledger.record(w.job_id, "terminate_intent", time=w.clock(), cycle=c, rule=rule,
                        params=self.policy.params(), value=progress.best, reason=reason, request=request)
        try:
            result = w.client.terminate_job(w.job_id)
        except HpoAnalyticsError as exc:
            error = f"{type(exc).__name__}: {exc}"
            self._settle(c, "failed", "terminate_failed", f"{reason}; terminate request failed: {exc}", rule=rule,
                         request=request, error=error)
            if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
                raise
            return
        outcome = getattr(result, "outcome", "terminating")
        phase = getattr(result, "phase", None)
        response = f"{outcome} (phase {phase})"
        if outcome == "terminating":
            self._settle(c, "terminating", "job_terminated", reason, rule=rule, request=request, response=response)
        else:
            self._settle(c, "already_ended", "terminate_already_ended",
                         f"{reason}; the job was already {phase or 'ending'}", rule=rule, request=request,
                         response=response)

    def _resolve_interrupted(self, c: int, ended: bool, phase: str | None) -> None:
        self._interrupted = False
        if ended:
            self._settle(c, "already_ended", "terminate_already_ended",
                         f"an earlier run was interrupted after deciding to terminate; the job is now {phase}; "
                         "no request sent again")
        else:
            self._settle(c, "unresolved", "terminate_unresolved",
                         f"an earlier run was interrupted between the terminate intent and its answer; the job is "
                         f"{phase or 'of unknown phase'}; not sent again (a job never gets two terminate requests)")

    def _settle(self, c: int, state: str, kind: str, reason: str, **fields: Any) -> None:
        """Move the terminate to ``state``; record, print, count and notify it."""
        w = self.w
        self.state = state
        w.ledger.set_terminate_state(w.job_id, state, w.clock())
        self._event(c, kind, reason, **fields)
        if state in ("failed", "unresolved"):
            w.outcomes["failed"].append(w.job_id)
            w._notify("terminate_failed", cycle=c, reason=reason, error=fields.get("error"),
                      rule=fields.get("rule"))
        elif state == "terminating":
            w._notify("job_terminated", cycle=c, reason=reason, rule=fields.get("rule"))

    def _event(self, c: int, kind: str, reason: str, **fields: Any) -> None:
        self.w.ledger.record(self.w.job_id, kind, time=self.w.clock(), cycle=c, reason=reason, **fields)
        logger.info("watch cycle %d of job %s: %s: %s", c, self.w.job_id, kind, reason)
        self.w._line({"cycle": c, "trial_id": None, "action": kind, "reason": reason})


def _epoch_ms(value: Any) -> float | None:
    """Epoch milliseconds (a number or a numeric string) as epoch seconds; ``None`` for missing or 0."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v / 1000.0 if math.isfinite(v) and v > 0 else None


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None
