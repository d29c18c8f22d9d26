"""One job's report inputs, validated, and the numbers computed once for it (summary, importance)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from .._frames import as_frame, check_metric, declared_metrics, param_columns, resolve_metric
from .._table import PARAM_PREFIX, STEP
from ..analysis import param_importance, summarize
from ..errors import ConfigurationError, HpoAnalyticsError, InsufficientDataWarning
from ..stopping import BACKTEST_COLUMNS, DECISION_COLUMNS

__all__ = ["Job", "prepare"]


@dataclass
class Job:
    """One job's validated inputs and the numbers computed once for it."""

    trials: pd.DataFrame
    metric: str
    mode: str
    curves: pd.DataFrame | None = None
    decisions: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    importance: pd.DataFrame | None = None
    importance_error: str | None = None
    params: list[str] = field(default_factory=list)  # most important first, when ranked
    ranked: bool = False  # whether params are in order of importance (else table order)
    declared: list[tuple[str, str | None]] = field(default_factory=list)  # the job's metrics, default first

    @property
    def others(self) -> list[tuple[str, str | None]]:
        """The declared metrics other than the one the report ranks by, in declared order."""
        return [(name, mode) for name, mode in self.declared if name != self.metric]


def _frame_or_none(value: Any, what: str, required: Sequence[str]) -> pd.DataFrame | None:
    if value is None:
        return None
    try:
        frame = as_frame(value)
    except ConfigurationError:
        raise ConfigurationError(
            f"{what} must be a pyarrow.Table or pandas.DataFrame, not {type(value).__name__}"
        ) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"{what} table lacks column(s) {', '.join(missing)}")
    return frame


def prepare(trials: Any, *, curves: Any, decisions: Any, backtest: Any, metric: str | None,
            mode: str | None, summary_only: bool = False) -> Job:
    """Validate one job's tables (:class:`ConfigurationError` for unusable ones) and compute its summary and
    parameter importance; an importance the data cannot support is kept as the reason, not raised.

    ``summary_only``: the summary alone, enough for the index page (a job whose report is not redrawn).
    """
    if trials is None:
        raise ConfigurationError("trials is required (a pyarrow.Table or pandas.DataFrame of trials)")
    frame = _frame_or_none(trials, "trials", ("trial_id",))
    assert frame is not None
    metric, mode = resolve_metric(trials, metric, mode)
    check_metric(trials, metric)  # on the table as given, so an error names its own (Arrow) type
    curve_frame = _frame_or_none(curves, "curves", ("trial_id", STEP, metric))
    job = Job(
        trials=frame,
        metric=metric,
        mode=mode,
        curves=curve_frame,
        decisions=_frame_or_none(decisions, "decisions", DECISION_COLUMNS),
        backtest=_frame_or_none(backtest, "backtest", BACKTEST_COLUMNS),
        declared=declared_metrics(frame),
    )
    job.summary = summarize(frame, metric=metric, mode=mode)
    if summary_only:
        return job
    try:
        with warnings.catch_warnings():
            # Too few trials is said on the page itself (the table's attrs carry the sentence).
            warnings.simplefilter("ignore", InsufficientDataWarning)
            job.importance = param_importance(frame, metric=metric, mode=mode)
        job.ranked = bool((job.importance["importance"] > 0).any())
    except HpoAnalyticsError as exc:
        job.importance_error = str(exc)
    if job.ranked:
        assert job.importance is not None
        job.params = job.importance["param"].astype(str).tolist()
    else:
        job.params = [c.removeprefix(PARAM_PREFIX) for c in param_columns(frame)]
    return job
