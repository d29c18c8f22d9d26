"""Which trial is best: ranking with honest ties, the tie set, and the running best.

Every function here takes a trial table (``trials_to_arrow``'s Arrow table or
its pandas frame) or a curve table (one row per ``(trial, iteration)``; each
trial's latest row then stands for it). ``metric=None`` means the metric in
the table's metadata, else ``reward_attr``; ``mode=None`` likewise, else
``"max"``. A metric that is not numeric, or whose scores (after
``statuses`` and ``scope``) include no finite value, raises
:class:`~hpo_analytics.errors.ConfigurationError` naming the column and its
type: with nothing to compare, every trial would otherwise share rank 1.

Ties are honest: trials whose scores are exactly equal share a rank, and every
one of them is "best" when they tie for first. Optuna's ``best_trial`` keeps
only the earliest of tied trials; Ray Tune's ``get_best_trial`` depends on the
order the trials come in.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import numpy as np
import pandas as pd

from .._frames import Trials, load
from .._validation import floats
from ..errors import ConfigurationError

__all__ = ["best_so_far", "best_trials", "rank_trials"]


def _display_order(t: Trials) -> np.ndarray:
    """Positions sorted best first: key descending (NaN last), then ``trial_index``, then ``trial_id``."""
    key = t.key
    n = len(key)
    nan = np.isnan(key)
    sort_key = np.where(nan, 0.0, -key)
    if "trial_index" in t.frame.columns:
        index = floats(t.frame["trial_index"])
        index = np.where(np.isnan(index), np.inf, index)
    else:
        index = np.zeros(n)
    clash = bool(nan.any() and np.isposinf(sort_key).any())  # a -inf score must still beat NaN
    if n > 1 and not clash and bool((index[1:] >= index[:-1]).all()):
        # Rows already in trial_index order: one stable sort (NaN as +inf goes last) is enough.
        order = np.argsort(np.where(nan, np.inf, sort_key), kind="stable")
    else:
        order = np.lexsort((index, sort_key, nan))  # np.lexsort sorts by the last key first
    if "trial_id" not in t.frame.columns or n < 2:
        return order
    k, i = sort_key[order], index[order]
    same = (k[1:] == k[:-1]) & (i[1:] == i[:-1]) & (nan[order][1:] == nan[order][:-1])
    if not same.any():
        return order  # trial_id never decides: skip sorting strings (the common, fast case)
    ids = pd.factorize(t.frame["trial_id"].astype(object), sort=True)[0]
    return np.lexsort((ids, index, sort_key, nan))


def _competition_ranks(sorted_key: np.ndarray) -> np.ndarray:
    """1, 1, 3 ranks of a key sorted descending with NaNs at the end (NaNs share the last rank)."""
    n = len(sorted_key)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    nan = np.isnan(sorted_key)
    start = np.ones(n, dtype=bool)
    same = (sorted_key[1:] == sorted_key[:-1]) | (nan[1:] & nan[:-1])
    start[1:] = ~same
    positions = np.where(start, np.arange(n), 0)
    return np.maximum.accumulate(positions) + 1


def rank_trials(
    trials: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    scope: str = "last",
    k: int = 3,
    curves: Any = None,
    statuses: Collection[str] | None = None,
) -> pd.DataFrame:
    """Rank trials, best first, with ties sharing a rank.

    ``scope`` picks each trial's score: ``"last"`` its latest value (the
    trial table's metric cell), ``"best"`` its best value over its curve, or
    ``"mean_last_k"`` the mean of its last ``k`` reports. The last two need
    the curves: pass ``curves=`` (a ``curves_to_arrow`` table) or pass the
    curve table as ``trials``. NaN values in a curve are ignored; ``statuses``
    keeps only trials with those statuses (e.g. ``{"TERMINATED"}``).

    Returns the trial rows with three leading columns: ``rank`` (competition
    ranking: equal scores share a rank, the next rank skips, ``1, 1, 3``),
    ``is_best`` (every trial tied for rank 1)
    and ``score`` (the number ranked, in the metric's units). **NaN and
    missing scores rank last**, all sharing the rank after the last scored
    trial, and are never best. Rows are sorted for display by score (best
    first), then ``trial_index``, then ``trial_id``, so the order is
    deterministic and does not depend on the input order. ``attrs`` records
    ``metric``, ``mode`` and ``scope``.
    """
    t = load(trials, metric=metric, mode=mode, scope=scope, k=k, curves=curves, statuses=statuses)
    order = _display_order(t)
    sorted_key = t.key[order]
    ranks = _competition_ranks(sorted_key)
    is_best = (ranks == 1) & ~np.isnan(sorted_key)
    body = t.frame.take(order)
    body.index = pd.RangeIndex(len(body))
    lead = pd.DataFrame({"rank": ranks, "is_best": is_best, "score": t.score[order]}, index=body.index)
    out = pd.concat([lead, body.drop(columns=[c for c in ("rank", "is_best", "score") if c in body.columns])],
                    axis=1)
    out.attrs["hpo_analytics.analysis"] = {"metric": t.metric, "mode": t.mode, "scope": scope}
    return out


def best_trials(
    trials: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    scope: str = "last",
    k: int = 3,
    curves: Any = None,
    statuses: Collection[str] | None = None,
) -> pd.DataFrame:
    """Every trial tied for best (the ``is_best`` rows of :func:`rank_trials`; empty for an empty table)."""
    ranked = rank_trials(trials, metric=metric, mode=mode, scope=scope, k=k, curves=curves, statuses=statuses)
    best = ranked[ranked["is_best"].to_numpy(dtype=bool)].reset_index(drop=True)
    best.attrs = ranked.attrs
    return best


def best_so_far(
    trials: Any,
    *,
    metric: str | None = None,
    mode: str | None = None,
    order: str = "trial_index",
    statuses: Collection[str] | None = None,
) -> pd.DataFrame:
    """The optimization history: each trial's score and the best score up to it.

    Trials are taken in ``order`` (a column: ``"trial_index"``, or e.g.
    ``"time_total_s"``; ties and missing values broken by ``trial_index`` then
    ``trial_id``, missing values last). Returns one row per trial with
    ``trial_id``, ``trial_index``, ``order`` (the ordering value), ``score``,
    ``best_so_far`` (running best, NaN until the first scored trial; NaN
    scores are skipped), ``is_new_best`` (the score is strictly better than
    every earlier one: a later trial that only ties does not take over) and
    ``best_trial_id`` (the trial holding the running best).
    """
    t = load(trials, metric=metric, mode=mode, statuses=statuses)
    frame = t.frame
    if order not in frame.columns:
        raise ConfigurationError(f"no column {order!r} to order trials by")
    n = len(frame)
    by = floats(frame[order]) \
        if pd.api.types.is_numeric_dtype(frame[order].dtype) else \
        pd.factorize(frame[order].astype(object), sort=True)[0].astype(float)
    index = pd.to_numeric(frame["trial_index"], errors="coerce").to_numpy(dtype=float, na_value=np.inf) \
        if "trial_index" in frame.columns else np.zeros(n)
    ids = pd.factorize(frame["trial_id"].astype(object), sort=True)[0] if "trial_id" in frame.columns \
        else np.zeros(n, np.int64)
    nan_by = np.isnan(by)
    pos = np.lexsort((ids, np.where(np.isnan(index), np.inf, index), np.where(nan_by, 0.0, by), nan_by))
    key = t.key[pos]
    running = np.fmax.accumulate(np.where(np.isnan(key), -np.inf, key)) if n else key
    previous = np.concatenate([[-np.inf], running[:-1]]) if n else running
    is_new = ~np.isnan(key) & (key > previous)
    holder = np.maximum.accumulate(np.where(is_new, np.arange(n), -1)) if n else np.zeros(0, np.int64)
    running = np.where(np.isinf(running) & (running < 0), np.nan, running)
    best = running if t.mode == "max" else -running
    trial_id = frame["trial_id"].astype(object).to_numpy()[pos] if "trial_id" in frame.columns \
        else np.full(n, None, dtype=object)
    holder_id = np.where(holder >= 0, trial_id[np.maximum(holder, 0)], None)
    out = pd.DataFrame({
        "trial_id": trial_id,
        "trial_index": frame["trial_index"].to_numpy()[pos] if "trial_index" in frame.columns else np.arange(n),
        "order": frame[order].to_numpy()[pos],
        "score": t.score[pos],
        "best_so_far": best,
        "is_new_best": is_new,
        "best_trial_id": holder_id,
    })
    out.attrs["hpo_analytics.analysis"] = {"metric": t.metric, "mode": t.mode, "order": order}
    return out
