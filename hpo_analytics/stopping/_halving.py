"""Successive halving (ASHA-style rungs): keep the top ``1 / reduction_factor`` at each rung."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_int
from ._base import CurveMatrix, Decisions, Rule, fmt, last_reported, steps_at

__all__ = ["SuccessiveHalvingRule"]


class SuccessiveHalvingRule(Rule):
    """Asynchronous successive halving over rungs ``min_resource * reduction_factor ** k``.

    A trial is judged at the highest rung (a ``training_iteration``) it has
    reached: its value there is compared with the ``1 - 1/reduction_factor``
    quantile (linear interpolation, as Ray's ``AsyncHyperBandScheduler`` takes
    ``nanpercentile``) of the values of every trial — running or finished,
    itself included — that reached that rung. Below the cutoff it is stopped.
    The trial is re-judged at its current rung on every call, so a decision can
    change as more trials reach the rung (the population only grows).

    It has no grace period: ``min_resource`` is its first rung (1 by default,
    as Ray's ``AsyncHyperBandScheduler(grace_period=1)``), and judging trials
    that early, against a shrinking top fraction, is what successive halving
    is. It is the most aggressive rule here: on the bundled example job it
    stops the eventual best trial. Raise ``min_resource`` (or back-test
    first) when slow starters matter.

    Cases, as tested:

    1. **NaN.** A trial whose value at the rung is NaN is stopped (diverged);
       NaN values are left out of the rung's population.
    2. **Too few trials.** With fewer than ``min_samples`` numbers at the rung
       (default: ``reduction_factor``), the trial continues (is promoted).
    3. **Ragged steps.** A trial has reached a rung when its latest step is at
       or past it; its value at the rung is its report at the latest step at
       or before the rung. Below ``min_resource`` nothing is decided.
    4. **Ties.** Strict comparison: a value equal to the cutoff is promoted.
    """

    name: ClassVar[str] = "asha"

    def __init__(self, *, min_resource: int = 1, reduction_factor: int = 3, min_samples: int | None = None,
                 metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.min_resource = check_int("min_resource", min_resource, low=1)
        self.reduction_factor = check_int("reduction_factor", reduction_factor, low=2)
        self.min_samples = check_int("min_samples", reduction_factor if min_samples is None else min_samples,
                                     low=1)

    def params(self) -> dict[str, Any]:
        return {"min_resource": self.min_resource, "reduction_factor": self.reduction_factor,
                "min_samples": self.min_samples}

    def rungs(self, max_step: int) -> np.ndarray:
        """The rung steps up to ``max_step``."""
        out = []
        r = self.min_resource
        while r <= max_step:
            out.append(r)
            r *= self.reduction_factor
        return np.asarray(out, dtype=np.int64)

    def _decide(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float) -> Decisions:
        n = len(candidates)
        steps = cm.steps
        stop = np.zeros(n, dtype=bool)
        value = np.full(n, np.nan)
        ref = np.full(n, np.nan)
        # only the pool's rows (reference and candidates) matter: the back-test's matrices hold many more
        pool = reference.copy()
        pool[candidates] = True
        rows = np.flatnonzero(pool)
        mine = np.searchsorted(rows, candidates)
        reported = cm.reported[rows]
        last = last_reported(reported)
        cstep = steps_at(steps, last[mine])
        reasons = ["no report yet" if s < 0 else f"step {s} is below the first rung ({self.min_resource})"
                   for s in cstep.tolist()]
        if not len(steps):
            return Decisions(candidates, stop, cstep, value, ref, reasons)
        last_step = steps_at(steps, last)
        rungs = self.rungs(int(steps.max()))
        q = 100.0 * (1.0 - 1.0 / self.reduction_factor)
        judged = np.zeros(n, dtype=bool)
        vals = sign * cm.values[rows]
        for r in rungs[::-1]:
            # value at rung r: the report at the latest step <= r (LOCF over missing steps)
            col = int(np.searchsorted(steps, r, side="right")) - 1
            judge = np.flatnonzero((cstep >= r) & ~judged)
            if col < 0 or not len(judge):
                continue
            judged[judge] = True
            upto = reported[:, : col + 1]
            has = upto.any(axis=1)
            lc = np.where(has, col - upto[:, ::-1].argmax(axis=1), 0)
            at = np.where(has, vals[np.arange(len(vals)), lc], np.nan)
            reached = last_step >= r
            population = at[reached & ~np.isnan(at)]
            cutoff = float(np.percentile(population, q)) if len(population) else np.nan
            for k in judge:
                v = at[mine[k]]
                value[k] = v
                if np.isnan(v):
                    stop[k] = True
                    reasons[k] = f"value at rung {r} is NaN (diverged)"
                    continue
                if len(population) < self.min_samples:
                    reasons[k] = (f"only {len(population)} trials have a number at rung {r} "
                                  f"(fewer than min_samples={self.min_samples}); promoted")
                    continue
                ref[k] = cutoff
                stop[k] = v < ref[k]
                verdict = "below" if stop[k] else "not below"
                reasons[k] = (f"value {fmt(sign * v)} at rung {r} is {verdict} the cutoff "
                              f"{fmt(sign * ref[k])} for the top 1/{self.reduction_factor} of "
                              f"{len(population)} trials")
        return Decisions(candidates, stop, cstep, sign * value, sign * ref, reasons)
