"""Is the best configuration really better than the runner-up?

A single run per configuration cannot answer that: :func:`compare_top` tests
only where there is replication (several trials with the same parameter
values) or, failing that, learning curves (the last reports of each run),
and says so plainly where there is neither.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from .._frames import as_frame, check_metric, load, param_columns
from .._table import PARAM_PREFIX, STEP
from .._validation import check_int, floats
from .stats import rank_sum_test

__all__ = ["COMPARE_COLUMNS", "compare_top"]

COMPARE_COLUMNS = (
    "best_config", "other_config", "other_rank", "n_best", "n_other", "mean_best", "mean_other", "difference",
    "diff_ci_low", "diff_ci_high", "effect_size", "p_value", "method", "note", "best_trials", "other_trials",
)

NO_REPLICATION = "no replication: one value per configuration and no curves, so no test is possible"
CURVE_NOTE = ("last reports of single runs, not independent repeats: the test sees noise within a run only, "
              "so the p-value is optimistic")


def _config_labels(frame: pd.DataFrame, columns: list[str]) -> np.ndarray:
    if not columns:
        return np.asarray(frame["trial_id"].astype(object), dtype=object) if "trial_id" in frame.columns \
            else np.arange(len(frame)).astype(str).astype(object)
    parts = [frame[c].astype(object).map(lambda v: "NA" if v is None or (isinstance(v, float) and math.isnan(v))
                                         else repr(v) if isinstance(v, str) else str(v)) for c in columns]
    labels = parts[0].radd(f"{columns[0].removeprefix(PARAM_PREFIX)}=")
    for c, p in zip(columns[1:], parts[1:]):
        labels = labels + f", {c.removeprefix(PARAM_PREFIX)}=" + p
    return labels.to_numpy(dtype=object)


def _tail_values(curves: pd.DataFrame, ids: list[Any], metric: str, last_k: int) -> np.ndarray:
    rows = curves[curves["trial_id"].isin(ids).to_numpy(dtype=bool, na_value=False)]
    if STEP in rows.columns:
        rows = rows.sort_values(STEP, kind="stable")
    values = floats(rows[metric])
    frame = pd.DataFrame({"trial_id": rows["trial_id"].astype(object).to_numpy(), "v": values})
    frame = frame[np.isfinite(frame["v"].to_numpy())]
    return frame.groupby("trial_id", sort=False).tail(last_k)["v"].to_numpy(dtype=float)


def _diff_ci(a: np.ndarray, b: np.ndarray, rng: np.random.Generator, n_bootstrap: int,
             confidence: float) -> tuple[float, float]:
    ma = a[rng.integers(0, a.size, (n_bootstrap, a.size))].mean(axis=1)
    mb = b[rng.integers(0, b.size, (n_bootstrap, b.size))].mean(axis=1)
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(ma - mb, [alpha, 1.0 - alpha])
    return float(low), float(high)


def compare_top(
    trials: Any,
    *,
    k: int = 2,
    metric: str | None = None,
    mode: str | None = None,
    curves: Any = None,
    last_k: int = 3,
    params: Collection[str] | None = None,
    statuses: Collection[str] | None = None,
    n_bootstrap: int = 2000,
    n_permutations: int = 10_000,
    confidence: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Test whether the best configuration beats each of the next ``k - 1``.

    Trials with equal values in every parameter column (or in ``params``)
    are one *configuration*; a configuration's score is the mean of its
    trials' latest metric values (NaN left out), and configurations are
    ranked by it (``mode``; ties by first ``trial_index``).

    For each runner-up (``other_rank`` 2..k) the observations are:

    * **repeats**, when both configurations have two or more scored trials:
      their trials' values (``method = "rank_sum:repeats"``);
    * else **curve tails**, when curves are available (``curves=``, or a
      curve table passed as ``trials``): each trial's last ``last_k`` finite
      reports (``method = "rank_sum:curve_tail"``, with a note that these are
      not independent repeats and the p-value is optimistic);
    * else nothing: ``p_value`` and the effect are NaN, ``method = "none"``
      and ``note`` says there is no replication, instead of inventing
      certainty.

    The test is one-sided Mann-Whitney (best better than other, in ``mode``'s
    direction) by exact or Monte Carlo permutation
    (:func:`~hpo_analytics.analysis.stats.rank_sum_test`). ``effect_size`` is
    the probability that a best observation beats an other one (ties half;
    0.5 = no difference); ``difference`` is ``mean_best - mean_other`` in the
    metric's units with a percentile bootstrap interval
    (``diff_ci_low``/``diff_ci_high``). Returns one row per comparison
    (none when there are fewer than two configurations).
    """
    k = check_int("k", k, low=2)
    last_k = check_int("last_k", last_k, low=1)
    t = load(trials, metric=metric, mode=mode, statuses=statuses)
    raw = as_frame(trials)
    if curves is None and "trial_id" in raw.columns and raw["trial_id"].duplicated().any():
        curves = raw
    if curves is not None:
        check_metric(curves, t.metric)  # a text or list column would leave no tails: "no replication", wrongly
    curve_frame = as_frame(curves) if curves is not None else None
    frame = t.frame
    labels = _config_labels(frame, param_columns(frame, params))
    codes, uniques = pd.factorize(pd.Series(labels, dtype=object), sort=False)
    n_configs = len(uniques)
    finite = np.isfinite(t.score)
    counts = np.bincount(codes[finite], minlength=n_configs)
    sums = np.bincount(codes[finite], weights=t.score[finite], minlength=n_configs)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
    index = pd.to_numeric(frame["trial_index"], errors="coerce").to_numpy(dtype=float, na_value=np.inf) \
        if "trial_index" in frame.columns else np.arange(len(frame), dtype=float)
    first = np.full(n_configs, np.inf)
    np.minimum.at(first, codes, index)
    key = means if t.mode == "max" else -means
    order = np.lexsort((first, np.where(np.isnan(key), 0.0, -key), np.isnan(key)))
    order = [c for c in order if counts[c] > 0]
    ids = frame["trial_id"].astype(object).to_numpy() if "trial_id" in frame.columns \
        else np.arange(len(frame)).astype(object)
    sign = 1.0 if t.mode == "max" else -1.0
    rng = np.random.default_rng(seed)
    rows = []
    if order:
        best = order[0]
        best_obs = t.score[(codes == best) & finite]
        best_ids = list(ids[codes == best])
        for position, other in enumerate(order[1:k], start=2):
            other_obs = t.score[(codes == other) & finite]
            other_ids = list(ids[codes == other])
            a, b, method, note = best_obs, other_obs, "none", NO_REPLICATION
            if len(best_obs) >= 2 and len(other_obs) >= 2:
                method, note = "rank_sum:repeats", ""
            elif curve_frame is not None:
                a = _tail_values(curve_frame, best_ids, t.metric, last_k)
                b = _tail_values(curve_frame, other_ids, t.metric, last_k)
                if len(a) >= 2 and len(b) >= 2:
                    method, note = "rank_sum:curve_tail", CURVE_NOTE
                else:
                    a, b = best_obs, other_obs
            if method == "none":
                p, effect, low, high = math.nan, math.nan, math.nan, math.nan
            else:
                p, effect = rank_sum_test(sign * a, sign * b, n_permutations=n_permutations, rng=rng)
                low, high = _diff_ci(a, b, rng, n_bootstrap, confidence)
            rows.append({
                "best_config": uniques[best], "other_config": uniques[other], "other_rank": position,
                "n_best": len(a), "n_other": len(b), "mean_best": float(np.mean(a)),
                "mean_other": float(np.mean(b)), "difference": float(np.mean(a) - np.mean(b)),
                "diff_ci_low": low, "diff_ci_high": high, "effect_size": effect, "p_value": p,
                "method": method, "note": note, "best_trials": best_ids, "other_trials": other_ids,
            })
    out = pd.DataFrame(rows, columns=list(COMPARE_COLUMNS))
    out.attrs["hpo_analytics.analysis"] = {"metric": t.metric, "mode": t.mode, "n_configs": n_configs}
    return out
