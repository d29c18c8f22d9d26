"""Helpers shared by the analysis modules: scores per trial, parameter columns, their scales."""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from .._frames import Mode, as_frame, check_metric, refuse_unscored, resolve_metric
from .._table import PARAM_PREFIX, STEP
from .._validation import check_int, floats
from ..errors import ConfigurationError

__all__ = [
    "PARAM_PREFIX",
    "Scope",
    "Trials",
    "check_int",
    "encode_param",
    "floats",
    "is_log_scale",
    "load",
    "param_columns",
    "per_trial_last",
]

Scope = Literal["last", "best", "mean_last_k"]

#: A numeric range is read on a log scale when it is positive and spans this ratio or more.
LOG_RATIO = 100.0


@dataclass(frozen=True)
class Trials:
    """One row per trial, with the metric's score resolved.

    ``frame`` holds the trials (row order of the input); ``score`` is the
    number each trial is judged by (NaN when it has none); ``key`` is the
    score oriented so that larger is better (``-score`` for ``"min"``), NaN
    kept.
    """

    frame: pd.DataFrame
    metric: str
    mode: Mode
    score: np.ndarray

    @property
    def key(self) -> np.ndarray:
        return self.score if self.mode == "max" else -self.score


def per_trial_last(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per trial of a curve frame: each trial's row with the highest ``training_iteration``."""
    if "trial_id" not in frame.columns:
        raise ConfigurationError("the table has no 'trial_id' column")
    order = [c for c in (STEP,) if c in frame.columns]
    if order:
        step = floats(frame[STEP])
        step = np.where(np.isnan(step), -np.inf, step)
        pos = np.lexsort((np.arange(len(frame)), step))  # stable: the last row of the highest step wins
        sorted_frame = frame.iloc[pos]
    else:
        sorted_frame = frame
    last = sorted_frame.drop_duplicates("trial_id", keep="last")
    if "trial_index" in last.columns:
        last = last.sort_values(["trial_index", "trial_id"], kind="stable")
    return last.reset_index(drop=True)


def _has_repeats(frame: pd.DataFrame) -> bool:
    """Whether some trial has several rows (a curve table), cheaply when the table says what it is."""
    if "trial_id" not in frame.columns:
        return False
    kind = frame.attrs.get("hpo_analytics", {}).get("table")
    if kind in ("trials", "curves"):
        return kind == "curves"
    if "trial_index" in frame.columns and len(frame) > 1:
        index = frame["trial_index"].to_numpy(dtype=float, na_value=np.nan)
        if not np.isnan(index).any() and bool((index[1:] > index[:-1]).all()):
            return False  # one row per trial_index
    return bool(frame["trial_id"].nunique(dropna=False) < len(frame))


def load(
    trials: Any,
    *,
    metric: str | None,
    mode: str | None,
    scope: str = "last",
    k: int = 3,
    curves: Any = None,
    statuses: Collection[str] | None = None,
) -> Trials:
    """Resolve the metric and compute each trial's score under ``scope``.

    ``trials`` may itself be a curve table (several rows per trial); its
    per-trial rows are then the latest ones and it serves as ``curves``.
    The metric column (of ``trials``, or of the curves for ``scope="best"``
    and ``"mean_last_k"``) must pass :func:`~hpo_analytics._frames.check_metric`,
    and the final scores must hold a finite value when there are any
    (:func:`~hpo_analytics._frames.refuse_unscored`), else :class:`ConfigurationError`.
    """
    metric, mode_ = resolve_metric(trials, metric, mode)
    if scope not in ("last", "best", "mean_last_k"):
        raise ConfigurationError(f"scope must be 'last', 'best' or 'mean_last_k', not {scope!r}")
    if scope == "last" or curves is None:
        check_metric(trials, metric)  # on the input itself, so an Arrow column is named by its Arrow type
    frame = as_frame(trials)
    if _has_repeats(frame):
        if curves is None:
            curves = frame
        frame = per_trial_last(frame)
    if statuses is not None:
        if "status" not in frame.columns:
            raise ConfigurationError("statuses= given but the table has no 'status' column")
        frame = frame[frame["status"].isin(list(statuses)).to_numpy(dtype=bool, na_value=False)]
        frame = frame.reset_index(drop=True)
    if scope == "last":
        score = floats(frame[metric])
    else:
        if curves is None:
            raise ConfigurationError(
                f"scope={scope!r} needs the learning curves: pass curves= (a curves_to_arrow table) "
                "or pass the curve table itself"
            )
        check_metric(curves, metric)
        score = _curve_scores(frame, as_frame(curves), metric, mode_, scope, check_int("k", k, low=1))
    context = [f"scope={scope!r}, scored from the curves"] if scope != "last" else []
    if statuses is not None:
        context.append(f"statuses={sorted(map(str, statuses))}")
    refuse_unscored(score, metric, context="; ".join(context))
    return Trials(frame=frame, metric=metric, mode=mode_, score=score)


def _curve_scores(frame: pd.DataFrame, curves: pd.DataFrame, metric: str, mode: str, scope: str,
                  k: int) -> np.ndarray:
    """Each trial's best value over its curve, or the mean of its last ``k`` reports (NaN-ignoring)."""
    for column in ("trial_id", metric):
        if column not in curves.columns:
            raise ConfigurationError(f"the curves have no {column!r} column")
    values = floats(curves[metric])
    ids = curves["trial_id"].astype(object).to_numpy()
    step = floats(curves[STEP]) if STEP in curves.columns else np.arange(len(curves), dtype=float)
    pos = np.lexsort((np.arange(len(curves)), step))
    values, ids = values[pos], ids[pos]
    data = pd.DataFrame({"trial_id": ids, "v": values})
    if scope == "best":
        agg = data.groupby("trial_id", sort=False)["v"].max() if mode == "max" else \
            data.groupby("trial_id", sort=False)["v"].min()
    else:
        tail = data.groupby("trial_id", sort=False).tail(k)
        agg = tail.groupby("trial_id", sort=False)["v"].mean()
    return agg.reindex(frame["trial_id"].astype(object)).to_numpy(dtype=float, na_value=np.nan)


def param_columns(frame: pd.DataFrame, params: Collection[str] | None = None) -> list[str]:
    """The ``param/<name>`` columns (all, or those named in ``params``, with or without the prefix)."""
    if params is None:
        return [c for c in frame.columns if isinstance(c, str) and c.startswith(PARAM_PREFIX)]
    out = []
    for name in params:
        column = name if name in frame.columns else PARAM_PREFIX + name
        if column not in frame.columns:
            available = ", ".join(c.removeprefix(PARAM_PREFIX) for c in param_columns(frame)) or "(none)"
            raise ConfigurationError(f"no parameter {name!r}; available: {available}")
        out.append(column)
    return out


def is_numeric_param(series: pd.Series) -> bool:
    """Numbers (not booleans) are ordered; anything else is a category."""
    dtype = series.dtype
    return bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))


def is_log_scale(values: np.ndarray) -> bool:
    """Whether a numeric range reads best on a log scale.

    All finite values positive, ``max / min >= 100``, and at least a quarter
    of them below the range's geometric midpoint ``sqrt(min * max)`` (true of
    a log-uniform sample, about half; a uniform sample on ``[0.001, 0.6]``
    has ~4 % there, so it stays linear).
    """
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return False
    low, high = float(finite.min()), float(finite.max())
    if not (low > 0 and high / low >= LOG_RATIO):
        return False
    return bool(np.mean(finite < math.sqrt(low * high)) >= 0.25)


@dataclass(frozen=True)
class Encoded:
    """A parameter column mapped into [0, 1] for models and bins.

    Numbers are scaled min-max (in log10 when :func:`is_log_scale`); missing
    numbers take the median. Categories (strings, booleans, missing as its own
    level) become ``(code + 0.5) / n_levels``, so every level owns an equal
    slice of [0, 1]. ``constant`` marks a column with a single value.
    """

    values: np.ndarray
    categorical: bool
    log: bool
    constant: bool
    levels: np.ndarray | None = None
    codes: np.ndarray | None = None


def encode_param(series: pd.Series) -> Encoded:
    """Encode one parameter column (see :class:`Encoded`)."""
    if is_numeric_param(series):
        raw = floats(series)
        log = is_log_scale(raw)
        x = np.log10(np.where(raw > 0, raw, np.nan)) if log else raw
        finite = np.isfinite(x)
        if not finite.any():
            return Encoded(np.zeros(len(x)), categorical=False, log=log, constant=True)
        x = np.where(finite, x, np.median(x[finite]))
        low, high = float(x.min()), float(x.max())
        if high <= low:
            return Encoded(np.zeros(len(x)), categorical=False, log=log, constant=True)
        return Encoded((x - low) / (high - low), categorical=False, log=log, constant=False)
    codes, levels = pd.factorize(series.astype(object), use_na_sentinel=True, sort=True)
    codes = codes.astype(np.int64)
    if (codes < 0).any():
        levels = np.append(np.asarray(levels, dtype=object), "<NA>")
        codes = np.where(codes < 0, len(levels) - 1, codes)
    n_levels = len(levels)
    values = (codes + 0.5) / max(n_levels, 1)
    return Encoded(values, categorical=True, log=False, constant=n_levels <= 1,
                   levels=np.asarray(levels, dtype=object), codes=codes)
