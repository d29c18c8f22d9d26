"""Threshold rule: stop a trial that has not reached a fixed value by a given step."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ._base import (
    CurveMatrix,
    Decisions,
    Rule,
    best_so_far,
    check_float,
    check_int,
    fmt,
    gate,
    steps_at,
)

__all__ = ["ThresholdRule"]


class ThresholdRule(Rule):
    """Stop a running trial whose value is worse than ``threshold`` at or after ``grace_period``.

    With ``use_best=True`` (default) the trial's best value so far is
    compared, else its latest report. It never looks at other trials.

    Cases, as tested:

    1. **NaN.** NaN reports are ignored when taking the best; a trial whose
       every value so far is NaN (``use_best``) or whose latest report is NaN
       (``use_best=False``) is stopped as diverged.
    2. **Too few trials.** Not applicable: other trials are never consulted, so
       the rule decides with a single trial.
    3. **Ragged steps.** Each trial is judged at its own latest step (subject to
       ``grace_period`` and ``interval``).
    4. **Ties.** A value equal to the threshold continues.
    """

    name: ClassVar[str] = "threshold"
    independent: ClassVar[bool] = True

    def __init__(self, threshold: float, *, grace_period: int = 0, interval: int = 1, use_best: bool = True,
                 metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.threshold = check_float("threshold", threshold)
        self.grace_period = check_int("grace_period", grace_period, low=0)
        self.interval = check_int("interval", interval, low=1)
        self.use_best = bool(use_best)

    def params(self) -> dict[str, Any]:
        return {"threshold": self.threshold, "grace_period": self.grace_period, "interval": self.interval,
                "use_best": self.use_best}

    def _decide(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float) -> Decisions:
        due, last, reasons = gate(cm, candidates, self.grace_period, self.interval)
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
                         [r or "" for r in reasons])
