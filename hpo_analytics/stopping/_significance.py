"""Significance rule: stop only trials that are worse than the reference with statistical confidence."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from .._validation import check_float, check_int
from ._base import (
    CurveMatrix,
    Decisions,
    Rule,
    check_grace,
    column_medians,
    column_percentiles,
    fmt,
    gate,
    grace_param,
    resolve_grace,
    steps_at,
)

__all__ = ["SignificanceRule", "benjamini_hochberg", "noise_sd", "normal_cdf"]


class SignificanceRule(Rule):
    """Stop a trial only when it is worse than the reference *with confidence*, with FDR control.

    The test, for a running trial at its latest step ``t``:

    * **Smoothing / window.** Take the trial's reports in the last ``window``
      steps of the step grid up to ``t`` (and at or after ``grace_period``).
      At each such step ``s`` the reference level ``m_s`` is the
      ``100 - percentile`` percentile (the median by default) of the finished
      reference trials' values at ``s``, and ``d_s = y_s - m_s`` (signed so
      that negative is worse). The window mean ``d`` smooths the noise.
    * **Noise.** The per-report noise ``sigma`` is pooled over every trial's
      curve from second differences, ``1.4826 * median|y[t+1] - 2 y[t] +
      y[t-1]| / sqrt(6)`` (robust, and insensitive to a smooth trend).
    * **Statistic.** ``z = (d + min_effect) / se`` with ``se**2 = sigma**2 / w
      + se_ref**2``, ``w`` the number of window reports, and ``se_ref`` the
      mean over the window of the median's standard error ``sqrt(pi/2) *
      1.4826 MAD_s / sqrt(n_s)`` (a conservative sum: the same reference trials
      appear at every step). The one-sided p-value is ``Phi(z)``.
    * **False discoveries.** The p-values of every trial tested in one call are
      put through the Benjamini-Hochberg procedure at level ``alpha``; only the
      rejected ones are stopped.

    No trial is tested before ``grace_period``: an int, or ``None``/``"auto"``
    (the default): half the longest finished curve (see
    :mod:`hpo_analytics.stopping._base`). The test is about where a trial
    *is*, not where it is going: early on a slow starter is confidently
    worse than the median and still ends best.

    Assumptions: reports of one trial scatter around a smooth curve with
    independent, roughly normal noise of a common ``sigma``; the reference
    trials are a fair sample of finished runs. Each call controls the FDR among
    the trials it tests; a loop that asks again every cycle tests a trial
    several times (no alpha spending), so ``alpha`` is deliberately small.

    Cases, as tested:

    1. **NaN.** NaN reports are left out of the window, the references and the
       noise estimate. A trial whose reports in the window are all NaN is
       stopped as diverged (no test needed).
    2. **Too few trials.** Window steps with fewer than ``min_samples``
       reference numbers are left out; with no step left, or no noise estimate
       (fewer than three consecutive reports in all), the trial continues.
       With the auto grace period and no finished trial, nothing is decided.
    3. **Ragged steps.** Only the steps the trial reported in its window are
       compared, each with the references that reported at the same step.
    4. **Ties.** A trial equal to the reference has ``z = 0`` (``p = 0.5``) and
       is never stopped; equal p-values are ranked together by BH.
    """

    name: ClassVar[str] = "significance"

    def __init__(self, *, alpha: float = 0.01, window: int = 3, percentile: float = 50.0, min_effect: float = 0.0,
                 grace_period: int | str | None = None, min_samples: int = 5, interval: int = 1,
                 metric: str | None = None, mode: str | None = None) -> None:
        super().__init__(metric=metric, mode=mode)
        self.alpha = check_float("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
        self.window = check_int("window", window, low=1)
        self.percentile = check_float("percentile", percentile, low=0.0, high=100.0)
        self.min_effect = check_float("min_effect", min_effect, low=0.0)
        self.grace_period = check_grace(grace_period)
        self.min_samples = check_int("min_samples", min_samples, low=1)
        self.interval = check_int("interval", interval, low=1)

    def params(self) -> dict[str, Any]:
        return {"alpha": self.alpha, "window": self.window, "percentile": self.percentile,
                "min_effect": self.min_effect, "grace_period": grace_param(self.grace_period),
                "min_samples": self.min_samples, "interval": self.interval}

    def _decide(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float) -> Decisions:
        grace = resolve_grace(self.grace_period, cm, reference)
        due, last, reasons = gate(cm, candidates, grace, self.interval)
        n = len(candidates)
        steps = cm.steps
        step = steps_at(steps, last)
        stop = np.zeros(n, dtype=bool)
        value = np.full(n, np.nan)
        refv = np.full(n, np.nan)
        if not due.any():
            return Decisions(candidates, stop, step, value, refv, grace.annotate(reasons))
        assert grace.step is not None  # some candidate is due, so the grace period was resolved
        grace_period = grace.step
        ks = np.flatnonzero(due)
        rows = candidates[ks]
        cols = last[ks][:, None] - np.arange(self.window)[::-1][None, :]
        inwin = cols >= 0
        cols_c = np.maximum(cols, 0)

        # the reference levels only at the columns in some window (the back-test asks about a few trials)
        needed = np.unique(cols_c)
        block = sign * cm.values[np.ix_(np.flatnonzero(reference), needed)]
        count = np.zeros(len(steps), dtype=np.int64)
        med = np.full(len(steps), np.nan)
        mad = np.full(len(steps), np.nan)
        count[needed] = (~np.isnan(block)).sum(axis=0)
        if block.shape[0]:
            med[needed] = column_percentiles(block, 100.0 - self.percentile)
            mad[needed] = column_medians(np.abs(block - column_medians(block)))
        se_med = np.sqrt(np.pi / 2) * 1.4826 * mad / np.sqrt(np.maximum(count, 1))
        usable = (count >= self.min_samples) & (steps >= grace_period)
        sigma = _pooled_noise(cm)

        y = sign * cm.values[rows[:, None], cols_c]
        rep = cm.reported[rows[:, None], cols_c] & inwin & (steps[cols_c] >= grace_period)
        all_nan = rep.any(axis=1) & np.all(~rep | np.isnan(y), axis=1)
        ok = rep & ~np.isnan(y) & usable[cols_c]
        w = ok.sum(axis=1)
        d = np.where(ok, y - med[cols_c], 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            dbar = d.sum(axis=1) / np.maximum(w, 1)
            ybar = np.where(ok, y, 0.0).sum(axis=1) / np.maximum(w, 1)
            mbar = np.where(ok, med[cols_c], 0.0).sum(axis=1) / np.maximum(w, 1)
            se_ref = np.where(ok, se_med[cols_c], 0.0).sum(axis=1) / np.maximum(w, 1)
            se = np.sqrt(sigma ** 2 / np.maximum(w, 1) + se_ref ** 2)
            z = (dbar + self.min_effect) / se
        tested = (w > 0) & ~all_nan & np.isfinite(z)
        p = np.where(tested, normal_cdf(np.where(tested, z, 0.0)), np.nan)
        reject = np.zeros(len(ks), dtype=bool)
        if tested.any():
            reject[tested] = benjamini_hochberg(p[tested], self.alpha)
        m_tests = int(tested.sum())
        for i, k in enumerate(ks):
            if all_nan[i]:
                stop[k] = True
                reasons[k] = f"every report in the last {self.window} steps up to step {step[k]} is NaN (diverged)"
                continue
            if w[i] == 0:
                reasons[k] = (f"no step in the window up to step {step[k]} has {self.min_samples} finished "
                              "trials to compare with")
                continue
            if not np.isfinite(z[i]):
                reasons[k] = "no noise estimate yet (too few consecutive reports)"
                continue
            value[k], refv[k] = ybar[i], mbar[i]
            stop[k] = bool(reject[i])
            verdict = "worse than" if stop[k] else "not confidently worse than"
            reasons[k] = (f"mean {fmt(sign * ybar[i])} over {w[i]} reports up to step {step[k]} is {verdict} "
                          f"the reference {fmt(sign * mbar[i])} (z={z[i]:.2f}, p={p[i]:.2g}, "
                          f"BH at alpha={self.alpha:g} over {m_tests} trials)")
        return Decisions(candidates, stop, step, sign * value, sign * refv, grace.annotate(reasons))


def noise_sd(values: np.ndarray) -> float:
    """Pooled per-report noise from second differences along each row (NaN when there are none)."""
    d2 = _second_differences(values)
    if d2.size == 0:
        return float("nan")
    return _noise_from_median(np.median(d2))


def _second_differences(values: np.ndarray) -> np.ndarray:
    """``|y[t+1] - 2 y[t] + y[t-1]|`` along each row, NaNs left out (flat)."""
    if values.shape[1] < 3:
        return np.zeros(0)
    d2 = values[:, 2:] - 2 * values[:, 1:-1] + values[:, :-2]
    return np.abs(d2[~np.isnan(d2)])


def _noise_from_median(median: float) -> float:
    return float(1.4826 * median / np.sqrt(6.0))


def _pooled_noise(cm: CurveMatrix) -> float:
    """:func:`noise_sd` of ``cm.values``; in a back-test replay (``cm.memo``), the settled rows'
    second differences are kept sorted in the memo and only the rows still running are added."""
    if cm.memo is None or cm.settled == 0:
        return noise_sd(cm.values)
    done, kept = cm.memo.get("significance.d2", (0, np.zeros(0)))
    if done > cm.settled:  # not the replay's growing views after all: start over
        done, kept = 0, np.zeros(0)
    if done != cm.settled:
        new = np.sort(_second_differences(cm.values[done:cm.settled]))
        kept = np.insert(kept, np.searchsorted(kept, new), new)
        cm.memo["significance.d2"] = (cm.settled, kept)
    live = np.sort(_second_differences(cm.values[cm.settled:]))
    total = len(kept) + len(live)
    if total == 0:
        return float("nan")
    low, high = _kth_of_union(kept, live, (total - 1) // 2), _kth_of_union(kept, live, total // 2)
    # as np.median: the middle element, or the mean of the two middle ones
    return _noise_from_median(low if total % 2 else (low + high) / 2.0)


def _kth_of_union(big: np.ndarray, small: np.ndarray, k: int) -> np.float64:
    """The ``k``-th smallest (from 0) of two sorted arrays together, in O(len(small) log len(small)).

    At most ``len(small)`` elements of ``small`` come before it, so it is among
    ``big[k - len(small) : k + 1]`` and ``small``.
    """
    lo = max(0, k - len(small))
    window = np.sort(np.concatenate([big[lo:k + 1], small]))
    return window[k - lo]


def normal_cdf(z: np.ndarray) -> np.ndarray:
    """Standard normal CDF, vectorised (erfc by Chebyshev fit; relative error < 1.2e-7)."""
    x = -np.asarray(z, dtype=float) / np.sqrt(2.0)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.5 * a)
    poly = -a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (
        -0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (
            -0.82215223 + t * 0.17087277))))))))
    r = t * np.exp(poly)
    erfc = np.where(x >= 0, r, 2.0 - r)
    return 0.5 * erfc


def benjamini_hochberg(p: np.ndarray, alpha: float) -> np.ndarray:
    """Which p-values the Benjamini-Hochberg step-up procedure rejects at FDR level ``alpha``."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    if m == 0:
        return np.zeros(0, dtype=bool)
    order = np.argsort(p, kind="stable")
    ranked = p[order]
    passed = ranked <= alpha * np.arange(1, m + 1) / m
    out = np.zeros(m, dtype=bool)
    if passed.any():
        k = int(np.flatnonzero(passed).max())
        out[order[: k + 1]] = True
    return out
