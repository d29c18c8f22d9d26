"""Threshold rule: stop a trial that has not reached a fixed value by a given step."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_float, check_int
from ._base import (
    CurveMatrix,
    Decisions,
    Rule,
    best_so_far,
    check_grace,
    fmt,
    gate,
    grace_param,
    resolve_grace,
    steps_at,
)

__all__ = ["ThresholdRule"]


class ThresholdRule(Rule):
    """Stop a running trial whose value is worse than ``threshold`` at or after ``grace_period``.

    With ``use_best=True`` (default) the trial's best value so far is
    compared, else its latest report. ``grace_period`` is the step from
    which the threshold applies: an int, or ``None``/``"auto"`` (the
    default): half the longest finished curve (see
    :mod:`hpo_analytics.stopping._base`), so a trial that starts slowly is
    not held to the bar before it has had half the budget to reach it.

    Cases, as tested:

    1. **NaN.** NaN reports are ignored when taking the best; a trial whose
       every value so far is NaN (``use_best``) or whose latest report is NaN
       (``use_best=False``) is stopped as diverged.
    2. **Too few trials.** With an int grace period other trials are never
       consulted, so the rule decides with a single trial. With the auto
       grace period it reads one thing from the finished trials, the length
       of the longest: with none finished yet, nothing is decided.
    3. **Ragged steps.** Each trial is judged at its own latest step (subject to
       ``grace_period`` and ``interval``).
    4. **Ties.** A value equal to the threshold continues.
    """

    name: ClassVar[str] = "threshold"

    def __init__(self, threshold: float, *, grace_period: int | str | None = None, interval: int = 1,
                 use_best: bool = True, metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.threshold = check_float("threshold", threshold)
        self.grace_period = check_grace(grace_period)
        self.interval = check_int("interval", interval, low=1)
        self.use_best = bool(use_best)

    @property
    def independent(self) -> bool:
        """With an int grace period a decision reads the trial's own curve only; auto reads the finished ones'."""
        return self.grace_period is not None

    def params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "grace_period": grace_param(self.grace_period),
                "interval": self.interval, "use_best": self.use_best}

    def _decide(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float) -> Decisions:
        grace = resolve_grace(self.grace_period, cm, reference)
        due, last, reasons = gate(cm, candidates, grace, self.interval)
        n = len(candidates)
        src = best_so_far(cm, sign, rows=candidates) if self.use_best else sign * cm.values[candidates]
        mine = src[np.arange(n), np.maximum(last, 0)] if cm.values.shape[1] else np.full(n, np.nan)
        mine = np.where(last >= 0, mine, np.nan)
        step = steps_at(cm.steps, last)
        t = sign * self.threshold
        stop = due & (np.isnan(mine) | (mine < t))
        what = "best" if self.use_best else "latest value"
        for k in np.flatnonzero(due):
            if np.isnan(mine[k]):
                reasons[k] = f"{what} at step {step[k]} is NaN (diverged)"
            else:
                verdict = "worse than" if stop[k] else "not worse than"
                reasons[k] = f"{what} {fmt(sign * mine[k])} at step {step[k]} is {verdict} the threshold {fmt(self.threshold)}"
        return Decisions(candidates, stop, step, sign * mine, np.where(due, self.threshold, np.nan),
                         grace.annotate(reasons))
