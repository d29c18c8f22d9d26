"""Which hyperparameters matter, with bootstrap uncertainty.

:func:`param_importance` scores each ``param/<name>`` column by one of three
methods, all on parameters mapped into [0, 1] (log10 first for positive
ranges spanning 100x or more; categories as equal slices, see
:func:`~hpo_analytics._frames.encode_param`). When the table records the
job's declared search space, the declared types decide instead
(:func:`~hpo_analytics._frames.param_scale`): numbers are mapped over their
declared bounds (log10 when declared so or when the bounds span two decades
or more), discrete values take their declared order, and a value outside the
declared space counts as missing (with a
:class:`~hpo_analytics.errors.SpaceWarning`). The methods:

``"fanova"`` (what the default ``"auto"`` uses when there are enough trials)
    Variance decomposition over a tree ensemble, as fANOVA (Hutter et al.,
    2014) does: extremely randomized regression trees are fitted on bootstrap
    resamples, and for each tree the variance of its *marginal* prediction
    along one parameter (the other parameters integrated out over the
    uniform box) is divided by the variance of the tree over the box. Only
    first-order effects are reported; interactions are left out. Trees are
    built in numpy, breadth-limited (``min_leaf``) and each on at most
    ``max_samples`` rows, so 100,000 trials cost about as much as 10,000.
``"binned"``
    Model-free first-order variance share: the correlation ratio of the
    metric over up to 10 quantile bins of a number (or the levels of a
    category), bias-corrected as epsilon-squared ``(SSB - (k-1) MSW) / SST``
    and clipped at zero, so an inert parameter scores about 0 rather than
    ``(k-1)/n``. Catches non-monotone effects; fastest.
``"spearman"``
    Squared Spearman rank correlation with the metric: monotone effects
    only (a parameter best in the middle of its range can score near 0).

Every method's scores are normalised to sum to 1 (all zeros when no
parameter explains anything). Uncertainty comes from ``n_bootstrap``
resamples of the trials: ``ci_low``/``ci_high`` are percentile intervals of
the normalised importance and ``rank_stability`` the fraction of resamples in
which the parameter held the rank it has in the point estimate. A parameter
with a single value (constant) gets importance 0, an empty interval at 0 and
kind ``"constant"``; it is not an error. Trials whose metric is NaN or
missing are left out; missing parameter values take the median (numbers) or
their own level (categories).

Too few scored trials (those with a finite metric) for the method, or a
metric with one value in all of them, cannot say which parameter matters:
rather than a confident-looking 0 with a zero-width interval and rank
stability 1, every varying parameter then gets NaN importance, interval and
stability and a missing rank, with an
:class:`~hpo_analytics.errors.InsufficientDataWarning` that says how many
scored trials there are and how many the method needs (:data:`MIN_TRIALS`):

``"fanova"``: 20 (``4 * min_leaf`` when ``min_leaf`` is given)
    A tree splits a node only with ``min_leaf`` rows (5 by default) on each
    side, and its threshold is drawn at random between the node's smallest
    and largest value, so below ``2 * min_leaf`` rows no tree ever splits
    (every importance came out 0) and at exactly ``2 * min_leaf`` almost
    none does. With ``4 * min_leaf`` a random threshold leaves enough rows on
    both sides about half the time per parameter, so the trees of nearly
    every bootstrap resample split.
``"binned"``: 10
    Below 30 trials it uses two bins (quantile halves, or the levels of a
    category); 10 puts at least 5 trials behind each bin's mean.
``"spearman"``: 5
    With 4 trials or fewer even a perfectly monotone relation cannot be told
    from chance (the two-sided permutation p-value of a perfect rank
    correlation is ``2/24 = 0.083`` at 4 trials, ``2/120 = 0.017`` at 5).

The default, ``method="auto"``, is fanova when there are at least 20 scored
trials and spearman (with the warning) from 5 to 19: a small search still
gets an answer, with intervals as wide as its few trials make them.

A metric that is not numeric, or has no finite value at all, raises
:class:`~hpo_analytics.errors.ConfigurationError` naming the column and its
type.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Collection
from typing import Any

import numpy as np
import pandas as pd

from .._frames import Encoded, encode_param, load, param_columns, param_scale
from .._table import PARAM_PREFIX
from .._validation import check_int
from ..errors import ConfigurationError, InsufficientDataWarning
from .stats import rankdata

__all__ = ["IMPORTANCE_COLUMNS", "METHODS", "MIN_TRIALS", "min_trials", "param_importance"]

IMPORTANCE_COLUMNS = ("param", "importance", "ci_low", "ci_high", "rank", "rank_stability", "kind")
METHODS = ("fanova", "binned", "spearman")
#: fanova's smallest leaf by default (``max(5, rows // 64)``).
_DEFAULT_MIN_LEAF = 5
#: Fewest scored trials per method (fanova: with the default ``min_leaf``); the module docstring says why.
MIN_TRIALS = {"fanova": 4 * _DEFAULT_MIN_LEAF, "binned": 10, "spearman": 5}
_DEFAULT_BOOTSTRAP = {"fanova": 16, "binned": 200, "spearman": 200}
_MAX_BINS = 10


# --------------------------------------------------------------------------- model-free


def _bins(enc: Encoded, n: int) -> tuple[np.ndarray, int]:
    """Bin index per row: the level of a category, else up to 10 quantile bins (fewer for few trials)."""
    if enc.categorical:
        assert enc.codes is not None and enc.levels is not None
        return enc.codes, len(enc.levels)
    distinct, inverse = np.unique(enc.values, return_inverse=True)
    k = max(2, min(_MAX_BINS, n // 10))
    if len(distinct) <= k:
        return inverse.astype(np.int64), len(distinct)
    ranks = rankdata(enc.values)
    return np.minimum(((ranks - 1) * k / n).astype(np.int64), k - 1), k


def _binned_scores(bins: list[tuple[np.ndarray, int]], y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    def score(weights: np.ndarray) -> np.ndarray:
        n = weights.sum()
        wy = weights * y
        mean = wy.sum() / n
        sst = float((weights * (y - mean) ** 2).sum())
        out = np.zeros(len(bins))
        if sst <= 0:
            return np.full(len(bins), np.nan)  # a resample whose metric is constant: shares undefined
        for j, (b, k) in enumerate(bins):
            counts = np.bincount(b, weights=weights, minlength=k)
            sums = np.bincount(b, weights=wy, minlength=k)
            present = counts > 0
            k_eff = int(present.sum())
            if k_eff < 2 or n - k_eff <= 0:
                continue
            ssb = float((sums[present] ** 2 / counts[present]).sum() - n * mean**2)
            msw = max(sst - ssb, 0.0) / (n - k_eff)
            out[j] = max(ssb - (k_eff - 1) * msw, 0.0) / sst
        return out

    return score


def _spearman_scores(x: np.ndarray, y: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    rx = np.column_stack([rankdata(col) for col in x.T]) if x.shape[1] else x
    ry = rankdata(y)

    def score(weights: np.ndarray) -> np.ndarray:
        n = weights.sum()
        mx = weights @ rx / n
        my = float(weights @ ry / n)
        dx = rx - mx
        dy = ry - my
        cov = (weights * dy) @ dx
        vx = weights @ (dx * dx)
        vy = float(weights @ (dy * dy))
        if vy <= 0:
            return np.full(x.shape[1], np.nan)  # a resample whose metric is constant: shares undefined
        with np.errstate(invalid="ignore", divide="ignore"):
            rho = np.where(vx > 0, cov / np.sqrt(vx * vy), 0.0)
        return rho**2

    return score


# --------------------------------------------------------------------------- fANOVA over extra trees


def _fit_tree(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, min_leaf: int,
              max_depth: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """An extremely randomized regression tree on [0, 1]^d; returns its leaves' boxes and values.

    At each node one random threshold per parameter is drawn between the
    node's smallest and largest value; the split with the largest variance
    reduction that leaves ``min_leaf`` rows on each side wins, and its
    threshold is moved to the midpoint between the neighbouring values, so a
    category's slice is never cut through its middle when its neighbours are
    present.
    """
    m, d = x.shape
    lows, highs, values = [], [], []
    stack = [(np.arange(m), np.zeros(d), np.ones(d), 0)]
    while stack:
        idx, low, high, depth = stack.pop()
        yn = y[idx]
        n = len(idx)
        total = float(yn.sum())
        if n >= 2 * min_leaf and depth < max_depth and np.ptp(yn) > 0:
            xn = x[idx]
            lo, hi = xn.min(axis=0), xn.max(axis=0)
            splittable = hi > lo
            if splittable.any():
                threshold = lo + rng.random(d) * (hi - lo)
                left = xn <= threshold
                n_left = left.sum(axis=0)
                s_left = yn @ left
                n_right = n - n_left
                ok = splittable & (n_left >= min_leaf) & (n_right >= min_leaf)
                if ok.any():
                    with np.errstate(invalid="ignore", divide="ignore"):
                        gain = s_left**2 / n_left + (total - s_left) ** 2 / n_right
                    gain = np.where(ok, gain, -np.inf)
                    j = int(np.argmax(gain))
                    column, mask = xn[:, j], left[:, j]
                    cut = (column[mask].max() + column[~mask].min()) / 2.0
                    left_high = high.copy()
                    left_high[j] = cut
                    right_low = low.copy()
                    right_low[j] = cut
                    stack.append((idx[mask], low, left_high, depth + 1))
                    stack.append((idx[~mask], right_low, high, depth + 1))
                    continue
        lows.append(low)
        highs.append(high)
        values.append(total / n)
    return np.array(lows), np.array(highs), np.array(values)


def _tree_main_effects(low: np.ndarray, high: np.ndarray, value: np.ndarray) -> np.ndarray:
    """Each dimension's first-order variance share of one tree over the uniform unit box."""
    d = low.shape[1]
    width = high - low
    volume = width.prod(axis=1)
    mean = float(volume @ value)
    variance = float(volume @ value**2) - mean**2
    out = np.zeros(d)
    if variance <= 1e-15 * max(1.0, mean**2):
        return out
    for j in range(d):
        bounds = np.unique(np.concatenate([low[:, j], high[:, j]]))
        if len(bounds) <= 2:
            continue
        mids = (bounds[:-1] + bounds[1:]) / 2.0
        lengths = np.diff(bounds)
        inside = (low[:, j, None] <= mids) & (mids < high[:, j, None])
        marginal = (volume / width[:, j] * value) @ inside
        out[j] = max(float(lengths @ marginal**2) - mean**2, 0.0) / variance
    return out


def _fanova_scores(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, *, n_trees: int, max_samples: int,
                   min_leaf: int | None, max_depth: int) -> Callable[[np.ndarray], np.ndarray]:
    n = len(y)
    m = min(n, max_samples)
    leaf = min_leaf if min_leaf is not None else max(_DEFAULT_MIN_LEAF, m // 64)
    # Standardise y so the variance threshold in _tree_main_effects is scale-free.
    scale = float(y.std()) or 1.0
    ys = (y - y.mean()) / scale

    def score(rows: np.ndarray) -> np.ndarray:
        shares = np.zeros(x.shape[1])
        split = False
        for _ in range(n_trees):
            sample = rows if len(rows) <= m else rows[rng.integers(0, len(rows), m)]
            low, high, value = _fit_tree(x[sample], ys[sample], rng, min_leaf=leaf, max_depth=max_depth)
            split = split or len(value) > 1
            shares += _tree_main_effects(low, high, value)
        # No tree split: the resample says nothing (NaN), which is not the same as "no effect" (0).
        return shares / n_trees if split else np.full(x.shape[1], np.nan)

    return score


# --------------------------------------------------------------------------- the function


def _normalise(raw: np.ndarray) -> np.ndarray:
    """Shares summing to 1 along the last axis (all 0 when nothing is positive; all NaN stays NaN)."""
    undefined = np.isnan(raw).all(axis=-1, keepdims=True) & (raw.shape[-1] > 0)
    raw = np.where(np.isfinite(raw) & (raw > 0), raw, 0.0)
    total = raw.sum(axis=-1, keepdims=True)
    out = np.divide(raw, total, out=np.zeros_like(raw), where=total > 0)
    return np.where(undefined, np.nan, out)


def min_trials(method: str, *, min_leaf: int | None = None) -> int:
    """The fewest scored trials ``method`` answers from (see :data:`MIN_TRIALS` and the module docstring).

    For ``"fanova"`` with an explicit ``min_leaf`` it is ``4 * min_leaf``:
    room for a tree to split at least once with ``min_leaf`` rows each side.
    """
    if method not in METHODS:
        raise ConfigurationError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if method == "fanova" and min_leaf is not None:
        return 4 * min_leaf
    return MIN_TRIALS[method]


def _ranks_desc(values: np.ndarray) -> np.ndarray:
    """Rank 1 = largest; ties take the better (smaller) rank; along the last axis."""
    return (values[..., None, :] > values[..., :, None]).sum(axis=-1) + 1


def param_importance(
    trials: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    method: str = "auto",
    params: Collection[str] | None = None,
    n_bootstrap: int | None = None,
    confidence: float = 0.95,
    statuses: Collection[str] | None = None,
    seed: int = 0,
    n_trees: int = 4,
    max_samples: int = 4096,
    min_leaf: int | None = None,
    max_depth: int = 24,
) -> pd.DataFrame:
    """Importance of each hyperparameter for the metric, with bootstrap intervals.

    ``method`` is ``"fanova"``, ``"binned"`` or ``"spearman"`` (see the
    module docstring), or ``"auto"`` (default): fanova when there are enough
    scored trials for it, else spearman, which needs fewest, with an
    :class:`~hpo_analytics.errors.InsufficientDataWarning` saying so (its
    intervals are then honestly wide; ``attrs["method"]`` is the method
    used and ``attrs["fallback"]`` the warning's text). ``n_bootstrap`` resamples of the trials (default
    16 for fanova, 200 otherwise) give the intervals; for ``"fanova"`` each
    resample grows ``n_trees`` trees, each on ``max_samples`` rows at most
    (drawn with replacement from the resample), with at least ``min_leaf``
    rows per leaf (default ``max(5, rows // 64)``), and the importance is the
    mean over resamples (bagging). For the other methods it is the value on
    all trials. With more trials than ``max_samples``, each fanova resample is
    fitted on ``max_samples`` rows, so its intervals describe that sample
    size and are wider (conservative) than the full data would warrant.
    ``mode`` does not change importance (a variance share has no
    direction) and is accepted for symmetry. ``seed`` makes results
    reproducible.

    **Too little data.** Each method needs a minimum number of scored trials
    (trials with a finite metric; :data:`MIN_TRIALS`: fanova 20, or
    ``4 * min_leaf`` when ``min_leaf`` is given; binned 10; spearman 5 — the
    module docstring says why). With fewer, or when the metric has the same
    value in every scored trial, importance is undefined: an
    :class:`~hpo_analytics.errors.InsufficientDataWarning` says how many
    scored trials there are and how many the method needs, and every
    varying parameter gets NaN importance, NaN interval, NaN
    ``rank_stability`` and a missing (``<NA>``) rank; a constant parameter
    still gets importance 0. A non-numeric metric, or one with no finite
    value, raises :class:`~hpo_analytics.errors.ConfigurationError`.

    Returns one row per parameter, most important first: ``param`` (name
    without ``param/``), ``importance`` (sums to 1 over parameters when
    estimable; all 0 when no parameter explains any variation, or when every
    parameter is constant; NaN as above), ``ci_low``/``ci_high``
    (``confidence`` percentile interval over the resamples), ``rank`` (1 =
    most important; ties share; nullable ``Int64``), ``rank_stability`` and
    ``kind`` (``"log"``, ``"numeric"``, ``"categorical"`` or ``"constant"``).
    A resample in which the metric came out constant (or, for fanova, in
    which no tree could split) has no shares and is left out of the
    interval and the stability. ``attrs`` records the method, metric,
    ``n_trials`` (scored), ``n_bootstrap``, ``n_bootstrap_undefined`` (the
    resamples left out), ``confidence``, ``min_trials`` and ``warning`` (the
    warning's text, None when the answer is estimable).
    """
    if method != "auto" and method not in METHODS:
        raise ConfigurationError(f"method must be 'auto' or one of {', '.join(METHODS)}, not {method!r}")
    if n_bootstrap is not None:
        check_int("n_bootstrap", n_bootstrap, low=1)
    check_int("n_trees", n_trees, low=1)
    check_int("max_samples", max_samples, low=2)
    if min_leaf is not None:
        check_int("min_leaf", min_leaf, low=1)
    fanova_need = min_trials("fanova", min_leaf=min_leaf)
    if method in ("auto", "fanova") and max_samples < fanova_need:
        raise ConfigurationError(f"max_samples={max_samples} is too few rows per tree: with min_leaf "
                                 f"{min_leaf or _DEFAULT_MIN_LEAF} a tree needs {fanova_need} to split reliably")
    if not 0 < confidence < 1:
        raise ConfigurationError(f"confidence must be between 0 and 1, not {confidence!r}")
    t = load(trials, metric=metric, mode=mode, statuses=statuses)
    columns = param_columns(t.frame, params)
    keep = np.isfinite(t.score)
    frame = t.frame[keep]
    y = t.score[keep]
    n = len(y)
    requested = method
    fallback = None
    if method == "auto":
        # fanova when there are trials enough for its trees, else the method that needs fewest.
        method = "fanova" if n >= fanova_need or n < MIN_TRIALS["spearman"] else "spearman"
        if method == "spearman":
            fallback = (f"param_importance: {n} scored trial(s) (with a finite {t.metric!r}) are too few for "
                        f"fanova (it needs {fanova_need}); importance is the squared Spearman correlation "
                        "(monotone effects only) instead, and its intervals are wide because the trials are few")
    n_boot = _DEFAULT_BOOTSTRAP[method] if n_bootstrap is None else n_bootstrap
    need = min_trials(method, min_leaf=min_leaf)
    encoded = [encode_param(frame[c], scale=param_scale(frame, c)) for c in columns]
    kinds = ["constant" if e.constant else "categorical" if e.categorical else "log" if e.log else "numeric"
             for e in encoded]
    active = [j for j, e in enumerate(encoded) if not e.constant]
    rng = np.random.default_rng(seed)

    # With no scored trial at all even a 'constant' parameter has no value to be constant at.
    problem = _unanswerable(n, y, t.metric, method, need) if active or (n == 0 and columns) else None
    point = np.zeros(len(columns))
    replicates = np.zeros((n_boot, len(columns)))
    if active and problem is None:
        x = np.column_stack([encoded[j].values for j in active])
        if method == "fanova":
            score_rows = _fanova_scores(x, y, rng, n_trees=n_trees, max_samples=max_samples, min_leaf=min_leaf,
                                        max_depth=max_depth)
            for r in range(n_boot):
                replicates[r, active] = _normalise(score_rows(rng.integers(0, n, n)))
            fitted = ~np.isnan(replicates).any(axis=1)
            if fitted.any():
                point = _normalise(replicates[fitted].mean(axis=0))
            else:
                problem = (f"param_importance: no bootstrap resample of the {n} scored trials grew a tree that "
                           f"splits (too few distinct values of {t.metric!r}?), so importance, intervals and "
                           "rank stability are NaN")
        else:
            if method == "binned":
                score_w = _binned_scores([_bins(encoded[j], n) for j in active], y)
            else:
                score_w = _spearman_scores(x, y)
            point[active] = _normalise(score_w(np.ones(n)))
            for r in range(n_boot):
                weights = np.bincount(rng.integers(0, n, n), minlength=n).astype(float)
                replicates[r, active] = _normalise(score_w(weights))
    # A resample whose metric came out constant (or, for fanova, whose trees could not split) has no
    # shares at all: it is left out of the interval and the rank stability rather than counted as zeros.
    defined = replicates[~np.isnan(replicates).any(axis=1)]
    rank = pd.array(_ranks_desc(point), dtype="Int64")
    alpha = (1.0 - confidence) / 2.0
    if len(columns) and len(defined):
        ci_low, ci_high = np.quantile(defined, [alpha, 1.0 - alpha], axis=0)
        stability = (_ranks_desc(defined) == _ranks_desc(point)).mean(axis=0)
    else:
        ci_low = ci_high = stability = np.full(len(columns), np.nan)
    if fallback is not None and problem is None:
        warnings.warn(fallback, InsufficientDataWarning, stacklevel=2)
    if problem is not None:
        warnings.warn(problem, InsufficientDataWarning, stacklevel=2)
        unknown = np.ones(len(columns), dtype=bool)
        if n:
            unknown[[j for j, e in enumerate(encoded) if e.constant]] = False
        point = np.where(unknown, np.nan, 0.0)
        ci_low = ci_high = point
        stability = np.full(len(columns), np.nan)
        rank = pd.array([pd.NA] * len(columns), dtype="Int64")
    out = pd.DataFrame({
        "param": [c.removeprefix(PARAM_PREFIX) for c in columns],
        "importance": point,
        "ci_low": np.minimum(ci_low, point),
        "ci_high": np.maximum(ci_high, point),
        "rank": rank,
        "rank_stability": stability,
        "kind": kinds,
    }, columns=list(IMPORTANCE_COLUMNS))
    out = out.sort_values(["rank", "param"], kind="stable", na_position="last").reset_index(drop=True)
    out.attrs["hpo_analytics.analysis"] = {
        "metric": t.metric, "mode": t.mode, "method": method, "requested_method": requested,
        "fallback": fallback if problem is None else None, "n_trials": n, "n_bootstrap": n_boot,
        "confidence": confidence, "min_trials": need,
        "n_bootstrap_undefined": n_boot if problem else n_boot - len(defined), "warning": problem,
    }
    return out


def _unanswerable(n: int, y: np.ndarray, metric: str, method: str, need: int) -> str | None:
    """Why ``n`` scored trials with values ``y`` cannot support ``method`` (None when they can)."""
    if n < need:
        others = [m for m in METHODS if m != method and n >= MIN_TRIALS[m]]
        hint = f"; method {others[0]!r} needs only {MIN_TRIALS[others[0]]}" if others else ""
        return (f"param_importance: {n} scored trial(s) (with a finite {metric!r}) but method {method!r} needs "
                f"at least {need}, so importance, intervals and rank stability are NaN{hint}")
    if np.ptp(y) == 0:
        return (f"param_importance: {metric!r} is {y[0]:.6g} in every one of the {n} scored trials, so no "
                "parameter explains any of its variation: importance, intervals and rank stability are NaN")
    return None
