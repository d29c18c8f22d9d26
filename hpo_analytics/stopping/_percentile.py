"""Percentile rule: stop a trial that is not among the top ``percentile`` % at its step."""

from __future__ import annotations

import math
from typing import Any, ClassVar, Literal

import numpy as np

from .._validation import check_float, check_int
from ..errors import ConfigurationError
from ._base import (
    CurveMatrix,
    Decisions,
    Rule,
    best_so_far,
    check_grace,
    column_percentiles,
    fmt,
    gate,
    grace_param,
    last_reported,
    resolve_grace,
    steps_at,
)

__all__ = ["PercentileRule"]

Semantics = Literal["optuna", "ray"]


class PercentileRule(Rule):
    """Stop a running trial whose best value so far is worse than the reference percentile.

    ``percentile`` keeps the top ``percentile`` % (Optuna's meaning: 25 keeps
    the best quarter; the median rule is 50). ``grace_period`` is the first
    step (``training_iteration``) a decision may be made at: an int, or
    ``None``/``"auto"`` (the default), half the longest finished curve (see
    :mod:`hpo_analytics.stopping._base`: under ``grace_period=0`` the median
    rule stops the eventual best trial of the bundled example job).
    ``interval`` is the spacing of decision steps after it, ``min_samples``
    the number of reference trials needed.

    ``semantics="optuna"`` (as ``optuna.pruners.PercentilePruner(percentile,
    n_startup_trials=min_samples, n_warmup_steps=grace_period,
    interval_steps=interval, n_min_trials=1)``): the trial's best value over
    its reports so far (NaN ignored) is compared with the percentile of the
    **finished** reference trials' values **at the trial's latest step**
    (linear interpolation, ``numpy.nanpercentile``). ``min_samples`` counts
    finished reference trials.

    ``semantics="ray"`` (as ``ray.tune.schedulers.MedianStoppingRule(
    time_attr="training_iteration", grace_period=grace_period,
    min_samples_required=min_samples)`` for the median), decided exactly as
    Ray decides, NaN included: at the trial's latest step ``t``, the *other*
    trials (running or finished) whose latest step is ``>= t`` are counted
    for ``min_samples``; each one's **running mean** is ``numpy.mean`` of its
    reports at steps ``grace_period <= step <= t``; the reference is
    ``numpy.median`` of those means (``numpy.percentile``, linear, for other
    percentiles); the trial's **best** is Python's built-in ``max`` (``min``
    for ``mode="min"``) over *all* its own reports in report order; and it is
    stopped iff ``max(median, best) != best`` (``min`` for ``mode="min"``).

    The quirk, kept on purpose (it is what Ray does): the built-in ``max``
    keeps its first item until a later one compares greater, and nothing
    compares greater than NaN, so **a NaN first report poisons the best**
    (``max([nan, .5, .7])`` is NaN) and the trial is stopped as soon as there
    is a median to compare with (``max(median, nan)`` is the median, which is
    not NaN); a NaN *later* report is skipped (``max([.5, nan, .7])`` is .7).
    ``numpy.mean`` does not skip NaN, so a reference trial with a NaN report
    in ``[grace_period, t]`` has a NaN running mean. One deliberate change
    from Ray (issue #12): running means that are not finite (NaN, +-inf, or
    no report in the window) are **left out of the median** -- Ray would take
    ``numpy.median`` over them, get NaN, and stop every trial. ``min_samples``
    still counts Ray's way (every other trial that reached ``t``, before
    leaving any out); when no finite running mean is left, the trial
    continues (conservative) and the reason says so.

    Decisions are made at each trial's latest report only. Cases, as tested:

    1. **NaN.** Optuna: a reported NaN is ignored when taking a best (NaN
       cells never enter a reference), and a trial *whose every value so far
       is NaN* is stopped ("diverged"), as Optuna does. Ray: as above -- a NaN
       first report poisons the best (stopped once a median exists), a later
       one is skipped; a reference whose window holds a NaN (or an infinity)
       is left out of the median.
    2. **Too few trials.** With fewer than ``min_samples`` reference trials
       (Optuna: finished; Ray: others that reached the step), or no
       reference number at the step (Optuna: no finished trial reported
       there; Ray: no finite running mean), the trial continues and the
       reason says so. With the auto grace period and no finished trial yet,
       nothing is decided.
    3. **Ragged steps.** "Optuna": only reference trials that reported *at*
       the trial's latest step count. "Ray": other trials count when their
       latest step is at or beyond it; their running mean covers whatever
       steps they reported in ``[grace_period, step]`` (none: left out). A
       trial whose previous report is already past the latest decision step
       is not re-decided.
    4. **Ties.** The comparison is strict: a trial equal to the reference
       continues (both tools do the same).
    """

    name: ClassVar[str] = "percentile"

    def __init__(self, percentile: float = 25.0, *, grace_period: int | str | None = None, min_samples: int = 5,
                 interval: int = 1, semantics: Semantics = "optuna", metric: str | None = None,
                 mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.percentile = check_float("percentile", percentile, low=0.0, high=100.0)
        self.grace_period = check_grace(grace_period)
        self.min_samples = check_int("min_samples", min_samples, low=1)
        self.interval = check_int("interval", interval, low=1)
        if semantics not in ("optuna", "ray"):
            raise ConfigurationError(f"semantics must be 'optuna' or 'ray', not {semantics!r}")
        self.semantics: Semantics = semantics

    def params(self) -> dict[str, Any]:
        return {"percentile": self.percentile, "semantics": self.semantics,
                "grace_period": grace_param(self.grace_period), "min_samples": self.min_samples,
                "interval": self.interval}

    def _decide(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float) -> Decisions:
        n = len(candidates)
        grace = resolve_grace(self.grace_period, cm, reference)
        due, last, reasons = gate(cm, candidates, grace, self.interval)
        step = steps_at(cm.steps, last)
        q = 100.0 - self.percentile
        kind = "median" if self.percentile == 50.0 else f"{q:g}th percentile"
        if self.semantics == "ray":
            stop, mine, ref_val = self._decide_ray(cm, candidates, reference, sign, grace.step, due, last, step,
                                                   reasons, q, kind)
            return Decisions(candidates, stop, step, sign * mine, sign * ref_val, grace.annotate(reasons))
        stop = np.zeros(n, dtype=bool)
        ref_val = np.full(n, np.nan)
        best = best_so_far(cm, sign, rows=candidates)
        mine = best[np.arange(n), np.maximum(last, 0)] if cm.values.shape[1] else np.full(n, np.nan)
        mine = np.where(last >= 0, mine, np.nan)
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
            verdict = "worse than" if stop[k] else "not worse than"
            reasons[k] = (f"best {fmt(sign * mine[k])} by step {step[k]} is {verdict} the {kind} "
                          f"{fmt(sign * ref_val[k])} of the other trials' values")
        return Decisions(candidates, stop, step, sign * mine, sign * ref_val, grace.annotate(reasons))

    def _decide_ray(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float,
                    grace_period: int | None, due: np.ndarray, last: np.ndarray, step: np.ndarray,
                    reasons: list[str | None], q: float, kind: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Ray's decisions (see the class docstring), in ``sign * values`` space: ``(stop, best, reference)``.
        Fills ``reasons`` in place."""
        n = len(candidates)
        stop = np.zeros(n, dtype=bool)
        ref_val = np.full(n, np.nan)
        mine = builtin_best(sign * cm.values[candidates], cm.reported[candidates])
        if not due.any() or grace_period is None:
            return stop, mine, ref_val
        pool = reference.copy()
        pool[candidates] = True
        # only the pool's rows (the back-test's matrices hold many more), and their running means only
        # at the columns being decided at
        rows = np.flatnonzero(pool)
        cols = np.unique(last[due])
        pool_last = last_reported(cm.reported[rows])
        first = int(np.searchsorted(cm.steps, grace_period, side="left"))  # first column of the window
        means = running_means(sign * cm.values[rows], cm.reported[rows], first, cols, pool_last)
        at = np.searchsorted(rows, candidates)
        for c, j in enumerate(cols.tolist()):
            beyond = pool_last >= j
            mj = means[:, c]
            finite = beyond & np.isfinite(mj)
            s = np.sort(mj[finite])
            n_beyond = int(beyond.sum())
            for k in np.flatnonzero(due & (last == j)).tolist():
                i = at[k]
                others = n_beyond - 1  # the trial itself reached its own latest step
                if others < self.min_samples:
                    reasons[k] = (f"only {others} other trials reached step {step[k]} "
                                  f"(fewer than min_samples={self.min_samples})")
                    continue
                own = bool(finite[i])
                usable = len(s) - own
                if usable == 0:
                    reasons[k] = (f"none of the {others} other trials that reached step {step[k]} has a finite "
                                  f"running mean over steps {grace_period}..{step[k]} (NaN, infinite or no report "
                                  "there); left out, nothing to compare with (Ray would compare with NaN and stop)")
                    continue
                rank = int(np.searchsorted(s, mj[i])) if own else -1
                ref_val[k] = _quantile_excluding(s, q, rank)
                best, ref = float(mine[k]), float(ref_val[k])
                stop[k] = not best > ref and ref != best  # max(ref, best) != best, as Ray compares
                left_out = others - usable
                among = (f"{usable} other trials' running means over steps {grace_period}..{step[k]}"
                         + (f"; {left_out} not finite, left out" if left_out else ""))
                if best != best:
                    reasons[k] = (f"best is NaN (its first report is NaN, which Ray's max() never replaces), "
                                  f"so it is stopped against the {kind} {fmt(sign * ref)} of {among}")
                else:
                    verdict = "worse than" if stop[k] else "not worse than"
                    reasons[k] = (f"best {fmt(sign * best)} by step {step[k]} is {verdict} the {kind} "
                                  f"{fmt(sign * ref)} of {among}")
        return stop, mine, ref_val


def builtin_best(values: np.ndarray, reported: np.ndarray) -> np.ndarray:
    """Per row, Python's built-in ``max`` over the reported ``values`` in column (report) order.

    ``max`` keeps its first item until a later one compares greater; nothing
    compares greater than NaN and NaN compares greater than nothing. So: NaN
    when the first report is NaN (or there is none), else the largest of the
    non-NaN reports (infinities compare as usual).
    """
    n, m = values.shape
    if m == 0:
        return np.full(n, np.nan)
    has = reported.any(axis=1)
    first = values[np.arange(n), reported.argmax(axis=1)]
    numbers = reported & ~np.isnan(values)
    largest = np.where(numbers, values, -np.inf).max(axis=1)
    return np.where(has & ~np.isnan(first), largest, np.nan)


def running_means(values: np.ndarray, reported: np.ndarray, first: int, cols: np.ndarray,
                  last: np.ndarray) -> np.ndarray:
    """``numpy.mean`` of each row's reported values in columns ``first..j``, for each ``j`` in ``cols``.

    Shape ``(rows, len(cols))``; NaN where the row has no report there or its
    latest report (column ``last``) is before ``j`` (not needed). The numbers
    are ``numpy.mean``'s to the last bit -- NaN and infinities propagating,
    and its pairwise summation, not a running sum (ten reports of 0.7 average
    to 0.7, where a running sum gives 0.7000000000000001). Each row's reports
    are packed to the left; a window of up to 128 reports is summed the way
    numpy adds a 1-d array (:class:`_PairwiseSums`), from a few cumulative
    sums shared by every window; longer ones (or all, on a numpy found to add
    differently) are averaged by ``numpy.mean`` itself, rows with the same
    count together.
    """
    n = values.shape[0]
    out = np.full((len(cols), n), np.nan)  # one row per column: the loop below reads and writes whole rows
    if n == 0 or not len(cols):
        return out.T
    hi = int(np.max(cols)) + 1
    if hi <= first:
        return out.T
    sub = values[:, first:hi]
    rep = reported[:, first:hi]
    packed = sub if rep.all() else np.take_along_axis(sub, np.argsort(~rep, axis=1, kind="stable"), axis=1)
    packed_t = np.ascontiguousarray(packed.T)  # report k of every row is one contiguous row
    counts_t = np.cumsum(rep.T, axis=0)
    with np.errstate(invalid="ignore", over="ignore"):
        sums = _PairwiseSums(packed_t) if _pairwise_matches_numpy() else None
        for c, j in enumerate(np.asarray(cols).tolist()):
            if j < first:
                continue
            count = counts_t[j - first]
            want = (last >= j) & (count > 0)
            if not want.any():
                continue
            sizes = count[want]
            low, high = int(sizes.min()), int(sizes.max())
            for size in ([low] if low == high else np.unique(sizes).tolist()):
                rows = want if low == high else want & (count == size)
                most = 2 * int(rows.sum()) > n  # then work on every row and keep the ones wanted
                if sums is not None and size <= _PAIRWISE_BLOCK:
                    total = sums.prefix(size, None if most else np.flatnonzero(rows))
                    out[c, rows] = (total[rows] if most else total) / size
                elif most:
                    out[c, rows] = np.mean(packed[:, :size], axis=1)[rows]
                else:
                    out[c, rows] = np.mean(packed[rows, :size], axis=1)
    return out.T


#: The longest run numpy adds as one block of eight running sums (numpy's ``PW_BLOCKSIZE``).
_PAIRWISE_BLOCK = 128
_PAIRWISE_OK: list[bool] = []


class _PairwiseSums:
    """Sums of the prefixes (up to 128 items) of each column of ``packed_t`` (item ``k`` of every run is
    row ``k``), as ``numpy.add.reduce`` adds a 1-d run.

    numpy's pairwise summation of ``k <= 128`` items: fewer than eight are
    added one after another; otherwise eight running sums ``r[0..7]`` take
    items ``8 b + j`` whole block by whole block, are combined as ``((r0 +
    r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))``, and the ``k % 8`` items after
    the last whole block are added one after another. Both kinds of running
    sum are one ``cumsum`` for every prefix at once.
    """

    def __init__(self, packed_t: np.ndarray) -> None:
        width, n = packed_t.shape
        width = min(width, _PAIRWISE_BLOCK)
        self.packed_t = packed_t
        self.sequential = np.cumsum(packed_t[:min(width, 7)], axis=0)
        blocks = width // 8
        r = np.cumsum(packed_t[:8 * blocks].reshape(blocks, 8, n), axis=0)
        self.blocks = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + ((r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7]))

    def prefix(self, k: int, runs: np.ndarray | None) -> np.ndarray:
        """The sums of the first ``k`` items of the columns ``runs`` (``None``: every column)."""
        pick = slice(None) if runs is None else runs
        if k < 8:
            return self.sequential[k - 1, pick]
        whole = k // 8
        total = self.blocks[whole - 1, pick]
        for j in range(8 * whole, k):
            total = total + self.packed_t[j, pick]
        return total


def _pairwise_matches_numpy() -> bool:
    """Whether :class:`_PairwiseSums` gives ``numpy.add.reduce``'s sums on this numpy (checked once)."""
    if not _PAIRWISE_OK:
        rng = np.random.default_rng(12)
        shape = (3, _PAIRWISE_BLOCK)
        runs = np.where(rng.random(shape) < 0.5, rng.choice([0.1, 0.7, 0.3], shape),
                        rng.normal(size=shape) * 10.0 ** rng.integers(-8, 8, shape))
        sums = _PairwiseSums(np.ascontiguousarray(runs.T))
        _PAIRWISE_OK.append(all(
            np.array_equal(sums.prefix(k, None), [np.add.reduce(runs[i, :k]) for i in range(len(runs))])
            for k in range(1, _PAIRWISE_BLOCK + 1)))
    return _PAIRWISE_OK[0]


def _column_percentiles(block: np.ndarray, q: float) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the number of non-NaN cells, and their ``q``-th percentile (NaN when none).

    Callers pass only the columns being decided at (the back-test asks once
    per step and wave).
    """
    return (~np.isnan(block)).sum(axis=0), column_percentiles(block, q)


def _quantile_excluding(s: np.ndarray, q: float, rank: int) -> float:
    """``numpy.percentile(t, q)`` (``numpy.median(t)`` when ``q == 50``, to the last bit) of ``t``, the
    sorted, non-empty, NaN-free ``s`` without the element at ``rank`` (-1: keep all)."""
    m = len(s) - (rank >= 0)

    def get(i: int) -> float:
        return float(s[i + (1 if 0 <= rank <= i else 0)])

    if q == 50.0:  # numpy.median: the middle value, or the mean of the middle two
        half = m // 2
        return get(half) if m % 2 else (get(half - 1) + get(half)) / 2.0
    virtual = (m - 1) * (q / 100.0)
    if virtual >= m - 1:
        return get(m - 1)
    below = math.floor(virtual)
    a, b = get(below), get(below + 1)
    t = virtual - below
    diff = b - a
    return b - diff * (1 - t) if t >= 0.5 else a + diff * t
