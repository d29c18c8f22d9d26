"""Early stopping: rules over learning curves, a back-test, and a safe watch loop.

* Rules decide (:class:`Rule`, one module each): :class:`MedianStoppingRule`,
  :class:`PercentileRule`, :class:`SuccessiveHalvingRule`,
  :class:`ThresholdRule`, :class:`PatienceRule`, :class:`SignificanceRule`,
  :class:`ForecastRule`.
* :func:`backtest` replays a finished search as if the rules had run;
  :func:`replay_log` lists every decision of such a replay (what plots draw).
* :func:`watch` acts: it polls a job, records every decision and action in a
  SQLite ledger (:class:`Ledger`) and stops trials through the API, safely;
  :func:`decisions_from_ledger` reads the decisions back, :func:`read_ledger`
  the whole audit trail; a :class:`Notifier` tells people (webhook, command).
  Given a :class:`SearchStop`, :func:`watch` also ends the whole job when the
  search has done its work (a target reached, a budget spent, no improvement).
* :func:`watch_jobs` (:class:`Fleet`) watches many jobs in one process, each
  with its own watcher and ledger (:func:`job_state_dir`).
"""

from __future__ import annotations

from ._backtest import BACKTEST_COLUMNS, backtest, replay_log
from ._base import DECISION_COLUMNS, CurveMatrix, Rule
from ._fleet import RUNNING_AUTOSEARCH_FILTERS, Fleet, FleetResult, job_state_dir, watch_jobs
from ._forecast import ForecastRule
from ._halving import SuccessiveHalvingRule
from ._median import MedianStoppingRule
from ._notify import CommandSink, Notifier, WebhookSink
from ._patience import PatienceRule
from ._percentile import PercentileRule
from ._search_stop import SearchProgress, SearchStop
from ._significance import SignificanceRule
from ._threshold import ThresholdRule
from ._watch import ENDED_PHASES, JOB_NOT_FOUND, NOTIFY_EVENTS, Safety, WatchResult, watch
from .ledger import LEDGER_COLUMNS, Ledger, decisions_from_ledger, read_ledger

__all__ = [
    "BACKTEST_COLUMNS",
    "CommandSink",
    "CurveMatrix",
    "DECISION_COLUMNS",
    "ENDED_PHASES",
    "Fleet",
    "FleetResult",
    "ForecastRule",
    "JOB_NOT_FOUND",
    "LEDGER_COLUMNS",
    "Ledger",
    "MedianStoppingRule",
    "NOTIFY_EVENTS",
    "Notifier",
    "PatienceRule",
    "PercentileRule",
    "RUNNING_AUTOSEARCH_FILTERS",
    "Rule",
    "Safety",
    "SearchProgress",
    "SearchStop",
    "SignificanceRule",
    "SuccessiveHalvingRule",
    "ThresholdRule",
    "WatchResult",
    "WebhookSink",
    "backtest",
    "decisions_from_ledger",
    "job_state_dir",
    "read_ledger",
    "replay_log",
    "watch",
    "watch_jobs",
]
