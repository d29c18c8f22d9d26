"""How the metric moves with one hyperparameter: per value or per bin, with a bootstrap interval."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from .._frames import MISSING_LEVEL, load, param_columns, param_scale
from .._table import PARAM_PREFIX
from .._validation import check_int
from ..errors import ConfigurationError

__all__ = ["MARGINAL_COLUMNS", "marginals"]

MARGINAL_COLUMNS = ("param", "value", "low", "high", "count", "mean", "median", "ci_low", "ci_high")


def _bootstrap_group_ci(y: np.ndarray, groups: np.ndarray, n_groups: int, *, n_bootstrap: int,
                        confidence: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    low = np.full(n_groups, np.nan)
    high = np.full(n_groups, np.nan)
    alpha = (1.0 - confidence) / 2.0
    for g in range(n_groups):
        values = y[groups == g]
        if values.size == 0:
            continue
        if values.size == 1:
            low[g] = high[g] = values[0]
            continue
        means = values[rng.integers(0, values.size, (n_bootstrap, values.size))].mean(axis=1)
        low[g], high[g] = np.quantile(means, [alpha, 1.0 - alpha])
    return low, high


def marginals(
    trials: Any,
    param: str,
    *,
    metric: str | None = None,
    mode: str | None = None,
    bins: int = 10,
    log: bool | None = None,
    n_bootstrap: int = 200,
    confidence: float = 0.95,
    statuses: Collection[str] | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    """The metric per value of a parameter (categories, or numbers with at most ``bins`` distinct values)
    or per bin (other numbers).

    Bins are ``bins`` equal-width intervals between the smallest and largest
    value, in log10 space when ``log`` is true (default: when the range is
    log-like, see :func:`~hpo_analytics._frames.is_log_scale`);
    empty bins are kept with count 0 so a plot shows the gap. Trials with a
    NaN/missing metric or parameter are left out.

    When the table records the job's declared search space (see
    :func:`~hpo_analytics._frames.param_scale`): a discrete parameter has
    one row per declared value, in numeric order when the values are
    numbers (else as declared), every declared value whether tried or not
    (count 0); a continuous one is binned between its declared bounds, on a
    log scale when declared or when the bounds span two decades or more
    (``log`` given still decides). A trial whose value lies outside the
    declared bounds or values is left out, with a
    :class:`~hpo_analytics.errors.SpaceWarning` naming it.

    Returns one row per value or bin, in order: ``param``; ``value`` (the
    category or number; a bin's centre, geometric for log bins); ``low`` and
    ``high`` (the bin's edges, both ``value`` for exact values; NaN for
    categories); ``count``; ``mean``; ``median``; and ``ci_low``/``ci_high``,
    a percentile bootstrap interval of the mean (``n_bootstrap`` resamples
    within the group; a single trial gives ``(value, value)``, none gives
    NaN). ``mode`` is accepted for symmetry and recorded in ``attrs``.
    """
    bins = check_int("bins", bins, low=1)
    n_bootstrap = check_int("n_bootstrap", n_bootstrap, low=1)
    if not 0 < confidence < 1:
        raise ConfigurationError(f"confidence must be between 0 and 1, not {confidence!r}")
    t = load(trials, metric=metric, mode=mode, statuses=statuses)
    (column,) = param_columns(t.frame, [param])
    series = t.frame[column]
    y_all = t.score
    rng = np.random.default_rng(seed)
    name = column.removeprefix(PARAM_PREFIX)

    scale = param_scale(t.frame, column)
    labels: tuple[str, ...] | None = None
    if scale.categorical:
        # Missing values are left out: the <NA> level (inferred or declared) has no group.
        levels = [v for v in scale.levels if v != MISSING_LEVEL] if scale.declared else None
        if scale.declared:
            assert scale.codes is not None and levels is not None
            keep = np.isfinite(y_all) & (scale.codes >= 0) & (scale.codes < len(levels))
            groups, n_groups = scale.codes[keep], len(levels)
            labels = scale.labels[:n_groups]
        else:
            keep = np.isfinite(y_all) & series.notna().to_numpy(dtype=bool)
            codes, found = pd.factorize(series[keep].astype(object), sort=True)
            groups, n_groups, levels = codes, len(found), list(found)
        y = y_all[keep]
        use_log = False
        numeric_levels = scale.declared and all(isinstance(v, (int, float)) for v in levels)
        if numeric_levels:
            integral = all(isinstance(v, int) for v in levels)
            value_column = np.asarray(levels, dtype=np.int64 if integral else float)
        else:
            value_column = np.asarray(levels, dtype=object)
        if numeric_levels:
            low = high = np.asarray(levels, dtype=float)
        else:
            low = high = np.full(n_groups, np.nan)
    else:
        x_all = scale.x
        keep = np.isfinite(x_all) & np.isfinite(y_all)
        x, y = x_all[keep], y_all[keep]
        distinct = np.unique(x)
        use_log = scale.log if log is None else bool(log)
        if use_log and x.size and distinct.min() <= 0:
            raise ConfigurationError(f"log bins need positive values; {name!r} has {distinct.min()!r}")
        if len(distinct) <= bins:
            groups = np.searchsorted(distinct, x)
            values, low, high = distinct, distinct, distinct
        else:
            lo, hi = float(distinct[0]), float(distinct[-1])
            if scale.limits is not None and (not use_log or scale.limits[0] > 0):
                lo, hi = scale.limits  # the declared range: unexplored ends show as empty bins
            edges = np.logspace(np.log10(lo), np.log10(hi), bins + 1) if use_log else np.linspace(lo, hi, bins + 1)
            groups = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, bins - 1)
            low, high = edges[:-1], edges[1:]
            values = np.sqrt(low * high) if use_log else (low + high) / 2.0
        n_groups = len(values)
        value_column = values

    count = np.bincount(groups, minlength=n_groups)
    sums = np.bincount(groups, weights=y, minlength=n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, sums / np.maximum(count, 1), np.nan)
    median = np.array([np.median(y[groups == g]) if count[g] else np.nan for g in range(n_groups)])
    ci_low, ci_high = _bootstrap_group_ci(y, groups, n_groups, n_bootstrap=n_bootstrap, confidence=confidence,
                                          rng=rng)
    out = pd.DataFrame({
        "param": name, "value": value_column, "low": low, "high": high, "count": count.astype(np.int64),
        "mean": mean, "median": median, "ci_low": ci_low, "ci_high": ci_high,
    }, columns=list(MARGINAL_COLUMNS))
    out.attrs["hpo_analytics.analysis"] = {"metric": t.metric, "mode": t.mode, "param": name, "log": use_log,
                                           "categorical": scale.categorical, "declared": scale.declared,
                                           "limits": scale.limits,
                                           "labels": labels if labels is not None else
                                           tuple(str(v) for v in value_column) if scale.categorical else None}
    return out
