"""The numbers a report header needs, in one dictionary."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np

from .._frames import load, param_columns
from .._table import PARAM_PREFIX
from .._validation import floats
from .rank import rank_trials

__all__ = ["summarize"]

QUANTILES = (0.0, 0.25, 0.5, 0.75, 1.0)


def summarize(
    trials: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    statuses: Collection[str] | None = None,
) -> dict[str, Any]:
    """Counts, best trial, metric quantiles and running time of a search, as plain Python values.

    Keys: ``metric``, ``mode``, ``n_trials``, ``status_counts`` (status ->
    count, most common first; missing status counted as ``"UNKNOWN"``),
    ``n_scored`` (trials with a finite metric), ``best_value`` (NaN for
    an empty table), ``best_trial_ids`` (every trial tied for best, in display order of
    :func:`~hpo_analytics.analysis.rank_trials`), ``quantiles`` (``{0.0: min,
    0.25: ..., 1.0: max}`` of the finite values; NaN when none), ``n_params``
    and ``params`` (names without ``param/``), ``time_total_s`` (sum over
    trials, NaN-ignoring; NaN when the column is missing) and
    ``max_time_s`` (the longest trial). A curve table is reduced to each
    trial's latest row.
    """
    t = load(trials, metric=metric, mode=mode, statuses=statuses)
    frame = t.frame
    if "status" in frame.columns:
        counts = frame["status"].astype(object).fillna("UNKNOWN").value_counts(sort=True)
        status_counts = {str(k): int(v) for k, v in counts.items()}
    else:
        status_counts = {}
    finite = t.score[np.isfinite(t.score)]
    ranked = rank_trials(frame, metric=t.metric, mode=t.mode)
    best = ranked[ranked["is_best"].to_numpy(dtype=bool)]
    if "time_total_s" in frame.columns:
        time = floats(frame["time_total_s"])
        total = float(np.nansum(time)) if np.isfinite(time).any() else float("nan")
        longest = float(np.nanmax(time)) if np.isfinite(time).any() else float("nan")
    else:
        total = longest = float("nan")
    params = [c.removeprefix(PARAM_PREFIX) for c in param_columns(frame)]
    return {
        "metric": t.metric,
        "mode": t.mode,
        "n_trials": int(len(frame)),
        "status_counts": status_counts,
        "n_scored": int(finite.size),
        "best_value": float(best["score"].iloc[0]) if len(best) else float("nan"),
        "best_trial_ids": [str(v) for v in best["trial_id"]] if "trial_id" in best.columns else [],
        "quantiles": {q: (float(np.quantile(finite, q)) if finite.size else float("nan")) for q in QUANTILES},
        "n_params": len(params),
        "params": params,
        "time_total_s": total,
        "max_time_s": longest,
    }
