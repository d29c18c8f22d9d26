"""Small statistics in numpy: ranks, rank correlation, bootstrap intervals, a rank-sum test.

Implemented here so the package needs no SciPy. Each function states what it
does with ties and NaN.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from ..errors import ConfigurationError

__all__ = ["bootstrap_mean_ci", "rank_sum_test", "rankdata", "spearman"]


def rankdata(values: np.ndarray) -> np.ndarray:
    """Average ranks (1-based, ties share the mean of their positions), like ``scipy.stats.rankdata``.

    NaN is not allowed (drop it first).
    """
    x = np.asarray(values, dtype=float)
    n = len(x)
    if n == 0:
        return np.zeros(0)
    order = np.argsort(x, kind="stable")
    xs = x[order]
    start = np.r_[True, xs[1:] != xs[:-1]]
    group = np.cumsum(start) - 1
    first = np.flatnonzero(start)
    last = np.r_[first[1:], n] - 1
    avg = (first + last) / 2.0 + 1.0
    ranks = np.empty(n)
    ranks[order] = avg[group]
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rank correlation (Pearson on average ranks); NaN when either side is constant or n < 2."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if len(x) != len(y):
        raise ConfigurationError("x and y must have the same length")
    if len(x) < 2:
        return math.nan
    rx, ry = rankdata(x), rankdata(y)
    rx -= rx.mean()
    ry -= ry.mean()
    denominator = math.sqrt(float(rx @ rx) * float(ry @ ry))
    return float(rx @ ry) / denominator if denominator > 0 else math.nan


def bootstrap_mean_ci(values: np.ndarray, *, n_bootstrap: int = 1000, confidence: float = 0.95,
                      rng: np.random.Generator | None = None) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (NaN ignored; ``(nan, nan)`` when nothing is left).

    One value gives the degenerate interval ``(value, value)``.
    """
    x = np.asarray(values, dtype=float)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return math.nan, math.nan
    if x.size == 1:
        return float(x[0]), float(x[0])
    if n_bootstrap < 1:
        raise ConfigurationError(f"n_bootstrap must be >= 1, not {n_bootstrap!r}")
    rng = rng if rng is not None else np.random.default_rng(0)
    means = x[rng.integers(0, x.size, (n_bootstrap, x.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(low), float(high)


def _u_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Mann-Whitney U of ``a`` over ``b``: pairs with a > b, plus half the ties."""
    ranks = rankdata(np.concatenate([a, b]))
    return float(ranks[: len(a)].sum() - len(a) * (len(a) + 1) / 2.0)


def rank_sum_test(a: np.ndarray, b: np.ndarray, *, n_permutations: int = 10_000,
                  rng: np.random.Generator | None = None) -> tuple[float, float]:
    """One-sided test that ``a`` tends to be larger than ``b`` (Mann-Whitney U by permutation).

    Returns ``(p_value, probability_of_superiority)`` where the latter is
    ``U / (len(a) * len(b))`` (ties count half; 0.5 means no difference).
    The p-value is exact (every split of the pooled values enumerated) when
    there are at most ``n_permutations`` splits, else a Monte Carlo estimate
    with ``(hits + 1) / (n_permutations + 1)``. Ties are handled by average
    ranks. NaN values are dropped; an empty side gives ``(nan, nan)``.
    """
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    n1, n2 = len(a), len(b)
    if n1 == 0 or n2 == 0:
        return math.nan, math.nan
    pooled = np.concatenate([a, b])
    ranks = rankdata(pooled)
    observed = ranks[:n1].sum()
    effect = (observed - n1 * (n1 + 1) / 2.0) / (n1 * n2)
    total = math.comb(n1 + n2, n1)
    eps = 1e-9
    if total <= n_permutations:
        sums = np.fromiter((ranks[list(c)].sum() for c in combinations(range(n1 + n2), n1)), float, total)
        p = float(np.mean(sums >= observed - eps))
    else:
        rng = rng if rng is not None else np.random.default_rng(0)
        keys = rng.random((n_permutations, n1 + n2))
        picks = np.argpartition(keys, n1 - 1, axis=1)[:, :n1] if n1 < n1 + n2 else np.tile(np.arange(n1),
                                                                                         (n_permutations, 1))
        sums = ranks[picks].sum(axis=1)
        p = float((np.sum(sums >= observed - eps) + 1) / (n_permutations + 1))
    return p, float(effect)
