"""Patience rule: stop a trial whose best has not improved by ``min_delta`` within ``patience`` steps."""

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

__all__ = ["PatienceRule"]


class PatienceRule(Rule):
    """Stop a running trial when its best value did not improve by more than ``min_delta``
    over the last ``patience`` steps (Keras' ``EarlyStopping`` test, outside the training loop).

    At the trial's latest step ``t`` the best so far is compared with the best
    over its reports at steps ``<= t - patience``. No decision is made before
    ``grace_period``: an int, or ``None``/``"auto"`` (the default): half the
    longest finished curve (see :mod:`hpo_analytics.stopping._base`; a curve
    may plateau early -- a warm-up, a learning-rate schedule -- and climb
    again later).

    Cases, as tested:

    1. **NaN.** NaN reports are ignored in bests, so NaNs never count as an
       improvement: a trial that only reports NaN for ``patience`` steps is
       stopped; a trial with only NaNs before and a number now has improved.
    2. **Too few trials.** With an int grace period other trials are never
       consulted; with the auto one, nothing is decided until a trial has
       finished (its length sets the period). A trial with fewer than
       ``patience`` steps since its first report continues.
    3. **Ragged steps.** Steps, not reports, are counted: the best "before" is
       over the reports at steps ``<= t - patience``, whatever steps are missing.
    4. **Ties.** An improvement of exactly ``min_delta`` is not an improvement
       (as Keras): with ``min_delta=0`` a flat best for ``patience`` steps stops.
    """

    name: ClassVar[str] = "patience"

    def __init__(self, *, patience: int = 5, min_delta: float = 0.0, grace_period: int | str | None = None,
                 interval: int = 1, metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.patience = check_int("patience", patience, low=1)
        self.min_delta = check_float("min_delta", min_delta, low=0.0)
        self.grace_period = check_grace(grace_period)
        self.interval = check_int("interval", interval, low=1)

    @property
    def independent(self) -> bool:
        """With an int grace period a decision reads the trial's own curve only; auto reads the finished ones'."""
        return self.grace_period is not None

    def params(self) -> dict[str, Any]:
        return {"patience": self.patience, "min_delta": self.min_delta,
                "grace_period": grace_param(self.grace_period), "interval": self.interval}

    def _decide(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float) -> Decisions:
        grace = resolve_grace(self.grace_period, cm, reference)
        due, last, reasons = gate(cm, candidates, grace, self.interval)
        n = len(candidates)
        steps = cm.steps
        stop = np.zeros(n, dtype=bool)
        now = np.full(n, np.nan)
        before = np.full(n, np.nan)
        step = steps_at(steps, last)
        if len(steps):
            best = best_so_far(cm, sign, rows=candidates)
            first = cm.reported[candidates].argmax(axis=1)
            first_step = steps[first]
            now = np.where(last >= 0, best[np.arange(n), np.maximum(last, 0)], np.nan)
            bcol = np.searchsorted(steps, step - self.patience, side="right") - 1
            early = due & (step - self.patience < first_step)
            before = np.where(bcol >= 0, best[np.arange(n), np.maximum(bcol, 0)], np.nan)
            gain = now - before
            both_nan = np.isnan(now) & np.isnan(before)
            stop = due & ~early & (both_nan | (gain <= self.min_delta))
            for k in np.flatnonzero(due):
                if early[k]:
                    reasons[k] = f"fewer than {self.patience} steps since its first report (step {first_step[k]})"
                elif both_nan[k]:
                    reasons[k] = f"only NaN reported up to step {step[k]} (diverged)"
                elif np.isnan(before[k]):
                    reasons[k] = f"first number {fmt(sign * now[k])} after NaNs counts as an improvement"
                else:
                    verdict = "only" if stop[k] else "by"
                    reasons[k] = (f"best improved {verdict} {fmt(abs(gain[k]))} (from {fmt(sign * before[k])} to "
                                  f"{fmt(sign * now[k])}) in the {self.patience} steps up to step {step[k]}; "
                                  f"min_delta={fmt(self.min_delta)}")
        return Decisions(candidates, stop, step, sign * now, sign * before, grace.annotate(reasons))
