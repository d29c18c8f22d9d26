"""Percentile rule: stop a trial that is not among the top ``percentile`` % at its step."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np

from ..errors import ConfigurationError
from ._base import (
    CurveMatrix,
    Decisions,
    Rule,
    best_so_far,
    check_float,
    check_int,
    column_percentiles,
    fmt,
    gate,
    last_reported,
    steps_at,
)

__all__ = ["PercentileRule"]

Semantics = Literal["optuna", "ray"]


class PercentileRule(Rule):
    """Stop a running trial whose best value so far is worse than the reference percentile.

    ``percentile`` keeps the top ``percentile`` % (Optuna's meaning: 25 keeps
    the best quarter; the median rule is 50). ``grace_period`` is the first
    step (``training_iteration``) a decision may be made at, ``interval`` the
    spacing of decision steps after it, ``min_samples`` the number of
    reference trials needed.

    ``semantics="optuna"`` (as ``optuna.pruners.PercentilePruner(percentile,
    n_startup_trials=min_samples, n_warmup_steps=grace_period,
    interval_steps=interval, n_min_trials=1)``): the trial's best value over
    its reports so far is compared with the percentile of the **finished**
    reference trials' values **at the trial's latest step** (linear
    interpolation, ``numpy.nanpercentile``). ``min_samples`` counts finished
    reference trials.

    ``semantics="ray"`` (as ``ray.tune.schedulers.MedianStoppingRule(
    time_attr="training_iteration", grace_period=grace_period,
    min_samples_required=min_samples)`` for the median): the trial's best value
    is compared with the percentile (median) of the **running means** of the
    *other* trials (running or finished) that have reached the trial's step,
    each mean taken over their reports from ``grace_period`` to that step.
    ``min_samples`` counts those other trials.

    Decisions are made at each trial's latest report only. Cases, as tested:

    1. **NaN.** A reported NaN is ignored when taking a best or a mean (the
       trial's ``nanmax``/``nanmin``; NaN cells never enter a reference), so one
       diverged trial never moves the reference. A trial *whose every value so
       far is NaN* is stopped ("diverged"), as Optuna does. (Ray itself would
       let one NaN turn the median into NaN and stop nothing; we do not copy
       that.)
    2. **Too few trials.** With fewer than ``min_samples`` reference trials, or
       no reference number at the step, the trial continues and the reason
       says so.
    3. **Ragged steps.** "Optuna": only reference trials that reported *at*
       the trial's latest step count. "Ray": other trials count when their
       latest step is at or beyond it; their running mean covers whatever
       steps they reported in ``[grace_period, step]``. A trial whose previous
       report is already past the latest decision step is not re-decided.
    4. **Ties.** The comparison is strict: a trial equal to the reference
       continues (both tools do the same).
    """

    name: ClassVar[str] = "percentile"

    def __init__(self, percentile: float = 25.0, *, grace_period: int = 0, min_samples: int = 5,
                 interval: int = 1, semantics: Semantics = "optuna", metric: str | None = None,
                 mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.percentile = check_float("percentile", percentile, low=0.0, high=100.0)
        self.grace_period = check_int("grace_period", grace_period, low=0)
        self.min_samples = check_int("min_samples", min_samples, low=1)
        self.interval = check_int("interval", interval, low=1)
        if semantics not in ("optuna", "ray"):
            raise ConfigurationError(f"semantics must be 'optuna' or 'ray', not {semantics!r}")
        self.semantics: Semantics = semantics

    def params(self) -> dict[str, Any]:
        return {"percentile": self.percentile, "semantics": self.semantics, "grace_period": self.grace_period,
                "min_samples": self.min_samples, "interval": self.interval}

    def _decide(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float) -> Decisions:
        n = len(candidates)
        due, last, reasons = gate(cm, candidates, self.grace_period, self.interval)
        stop = np.zeros(n, dtype=bool)
        ref_val = np.full(n, np.nan)
        best = best_so_far(cm, sign, rows=candidates)
        mine = best[np.arange(n), np.maximum(last, 0)] if cm.values.shape[1] else np.full(n, np.nan)
        mine = np.where(last >= 0, mine, np.nan)
        step = steps_at(cm.steps, last)
        q = 100.0 - self.percentile
        kind = "median" if self.percentile == 50.0 else f"{q:g}th percentile"
        if self.semantics == "optuna":
            ref_rows = np.flatnonzero(reference)
            n_ref = len(ref_rows)
            # only the columns being decided at: the back-test asks about a few trials at one step
            cols = np.unique(last[due])
            count, refq = np.zeros(cm.values.shape[1], dtype=np.int64), np.full(cm.values.shape[1], np.nan)
            count[cols], refq[cols] = _column_percentiles(sign * cm.values[np.ix_(ref_rows, cols)], q)
            for k in np.flatnonzero(due):
                j = last[k]
                if n_ref < self.min_samples:
                    reasons[k] = f"only {n_ref} finished trials (fewer than min_samples={self.min_samples})"
                    due[k] = False
                    continue
                if np.isnan(mine[k]):
                    stop[k] = True
                    reasons[k] = f"every value up to step {step[k]} is NaN (diverged)"
                    continue
                if count[j] == 0:
                    reasons[k] = f"no finished trial has a number at step {step[k]}"
                    continue
                ref_val[k] = refq[j]
                stop[k] = mine[k] < refq[j]
        else:
            pool = reference.copy()
            pool[candidates] = True
            # only the pool's rows, and their running means only up to the last column being decided at
            # (the back-test asks about a few trials at one step of a large matrix)
            rows = np.flatnonzero(pool)
            cols = np.unique(last[due])
            upto = int(cols.max()) + 1 if len(cols) else 0
            pool_last = last_reported(cm.reported[rows])
            means = _running_means(cm.values[rows, :upto], cm.steps[:upto], sign, self.grace_period)
            at = np.searchsorted(rows, candidates)
            for j in cols:
                ks = np.flatnonzero(due & (last == j))
                others = (pool_last >= j) & ~np.isnan(means[:, j])
                s = np.sort(means[others, j])
                for k in ks:
                    i = at[k]
                    own = bool(others[i])
                    m = len(s) - own
                    if m < self.min_samples:
                        reasons[k] = (f"only {m} other trials reached step {step[k]} "
                                      f"(fewer than min_samples={self.min_samples})")
                        continue
                    if np.isnan(mine[k]):
                        stop[k] = True
                        reasons[k] = f"every value up to step {step[k]} is NaN (diverged)"
                        continue
                    rank = int(np.searchsorted(s, means[i, j])) if own else -1
                    ref_val[k] = _quantile_excluding(s, q / 100.0, rank)
                    stop[k] = mine[k] < ref_val[k]
        for k in np.flatnonzero(due & ~np.isnan(ref_val)):
            what = "running-mean " if self.semantics == "ray" else ""
            if stop[k]:
                reasons[k] = (f"best {fmt(sign * mine[k])} by step {step[k]} is worse than the {kind} "
                              f"{fmt(sign * ref_val[k])} of the other trials' {what}values")
            else:
                reasons[k] = (f"best {fmt(sign * mine[k])} by step {step[k]} is not worse than the {kind} "
                              f"{fmt(sign * ref_val[k])} of the other trials' {what}values")
        return Decisions(candidates, stop, step, sign * mine, sign * ref_val, [r or "" for r in reasons])


def _column_percentiles(block: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the number of non-NaN cells, and their ``q``-th percentile (NaN when none).

    Callers pass only the columns being decided at (the back-test asks once
    per step and wave).
    """
    return (~np.isnan(block)).sum(axis=0), column_percentiles(block, q)


def _running_means(values: np.ndarray, steps: np.ndarray, sign: float, grace_period: int) -> np.ndarray:
    """Mean of each row's non-NaN ``sign * values`` over steps ``grace_period..step`` (NaN when none)."""
    inside = (steps >= grace_period)[None, :]
    vals = sign * values
    ok = inside & ~np.isnan(vals)
    total = np.cumsum(np.where(ok, vals, 0.0), axis=1)
    count = np.cumsum(ok, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def _quantile_excluding(s: np.ndarray, q: float, rank: int) -> float:
    """Linear-interpolated quantile ``q`` of sorted ``s`` without the element at ``rank`` (-1: keep all)."""
    m = len(s) - (rank >= 0)
    pos = q * (m - 1)
    lo = int(np.floor(pos))
    hi = min(lo + 1, m - 1)

    def get(i: int) -> float:
        return float(s[i + (1 if 0 <= rank <= i else 0)])

    a, b = get(lo), get(hi)
    return a + (pos - lo) * (b - a)
