"""The frame layer between normalize and analysis: tables in, frames out, metric defaults, trial scores.

Shared input handling for analysis, stopping, plots and the report:

- a table (Arrow or pandas) as a pandas frame, its ``hpo_analytics.*``
  metadata, the metric and mode to use and the refusal of a metric that
  cannot be scored;
- the trial frame every analysis and plot starts from (:func:`load`: one
  row per trial, each trial's score under a scope, :class:`Trials`), and
  whether a frame is a curve table (:func:`is_curve_frame`);
- the parameter columns (:func:`param_columns`) and how a parameter reads:
  ordered or a category (:func:`is_numeric_param`), on a log scale or not
  (:func:`is_log_scale`), mapped into [0, 1] (:func:`encode_param`), so
  analysis and plots scale and bin a parameter the same way;
- the one place that decides each parameter's scale (:func:`param_scale`):
  from the job's declared search space when the table records one
  (:func:`space_of`), else inferred from the values as above, with the
  trials outside the declared space flagged (a
  :class:`~hpo_analytics.errors.SpaceWarning`) and left out.

Internal: not part of the public API (which re-exports what users need
from :mod:`hpo_analytics.analysis`).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa

from ._space import METADATA_ALGORITHM, METADATA_SPACE, AlgorithmConfig, SearchParam, SearchSpace
from ._table import METADATA_METRIC, METADATA_MODE, PARAM_PREFIX, STEP, schema_metadata, to_pandas
from ._validation import check_int, floats
from .errors import ConfigurationError, SpaceWarning

Mode = Literal["max", "min"]

__all__ = [
    "Encoded",
    "LOG_RATIO",
    "MISSING_LEVEL",
    "Mode",
    "ParamScale",
    "Trials",
    "algorithm_of",
    "as_frame",
    "check_metric",
    "declared_metrics",
    "encode_param",
    "is_curve_frame",
    "is_log_scale",
    "is_numeric_param",
    "load",
    "metadata_of",
    "param_columns",
    "param_scale",
    "per_trial_last",
    "refuse_unscored",
    "resolve_metric",
    "space_of",
]


def as_frame(table: Any) -> pd.DataFrame:
    """A pandas frame from an Arrow table (nullable dtypes, metadata in ``attrs``) or a frame (as is)."""
    if isinstance(table, pa.Table):
        return to_pandas(table)
    if isinstance(table, pd.DataFrame):
        return table
    raise ConfigurationError(
        f"expected a pyarrow.Table or pandas.DataFrame of trials, got {type(table).__name__}"
    )


def metadata_of(table: Any) -> dict[str, str]:
    """The ``hpo_analytics.*`` metadata of a table or frame, without the prefix (``metric``, ``mode``...)."""
    if isinstance(table, pa.Table):
        return schema_metadata(table)
    if isinstance(table, pd.DataFrame):
        return dict(table.attrs.get("hpo_analytics", {}))
    return {}


def declared_metrics(table: Any) -> list[tuple[str, str | None]]:
    """``(name, mode)`` of every metric a table's metadata says its job declares, the default first.

    Read from ``hpo_analytics.metrics`` (a JSON list of ``{"name", "mode"}``,
    as the client and the CLI record a job's ``reward_attrs``; a frame may
    hold the list itself); ``mode`` is ``"max"``, ``"min"`` or ``None``.
    Nothing recorded, or a value that is not such a list, gives ``[]``;
    malformed entries and repeated names are left out.
    """
    raw = metadata_of(table).get("metrics")
    if isinstance(raw, (str, bytes)):
        try:
            raw = json.loads(raw)
        except ValueError:
            return []
    if not isinstance(raw, list):
        return []
    out: list[tuple[str, str | None]] = []
    for entry in raw:
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name or any(name == seen for seen, _ in out):
            continue
        mode = entry.get("mode")
        out.append((name, mode if mode in ("max", "min") else None))
    return out


def resolve_metric(table: Any, metric: str | None = None, mode: str | None = None) -> tuple[str, Mode]:
    """Fill in the metric and mode: the arguments, else the table's metadata, else ``reward_attr``/``"max"``.

    Raises :class:`~hpo_analytics.errors.ConfigurationError` for an unknown
    metric column (listing the available numeric columns) or a mode other
    than ``"max"``/``"min"``.
    """
    meta = metadata_of(table)
    metric = metric or meta.get(METADATA_METRIC.decode().removeprefix("hpo_analytics.")) or "reward_attr"
    mode = mode or meta.get(METADATA_MODE.decode().removeprefix("hpo_analytics.")) or "max"
    if mode not in ("max", "min"):
        raise ConfigurationError(f"mode must be 'max' or 'min', not {mode!r}")
    columns = table.column_names if isinstance(table, pa.Table) else list(getattr(table, "columns", []))
    if metric not in columns:
        numeric = _numeric_columns(table)
        raise ConfigurationError(
            f"no metric column {metric!r}; available: {', '.join(numeric) if numeric else '(none)'}"
        )
    return metric, mode  # type: ignore[return-value]


def check_metric(table: Any, metric: str, *, require_finite: bool = True) -> None:
    """Refuse a metric that cannot be scored: :class:`ConfigurationError` naming the column and its type.

    A metric must be numeric (integers or floats; not text, booleans or
    lists; an Arrow ``null`` column, or a pandas one holding nothing, has
    no values of any type yet) and, when the table has rows and
    ``require_finite`` is true, have at least one finite value (see
    :func:`refuse_unscored`).  Without this, every trial would score NaN and
    rank first together, or a rule would compare nothing with nothing: a
    plausible wrong answer.  A table with no rows passes (its answers are
    empty, not wrong).  ``require_finite=False`` is for a job that has only
    just started, which has no value yet.
    """
    columns = table.column_names if isinstance(table, pa.Table) else list(getattr(table, "columns", []))
    if metric not in columns:
        resolve_metric(table, metric, "max")  # the clear error for a missing column
    if isinstance(table, pa.Table):
        column = table[metric]
        kind = column.type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_null(kind)
        type_name = str(kind)

        def values() -> np.ndarray:
            return column.cast(pa.float64()).to_numpy(zero_copy_only=False)
    else:
        series = table[metric]
        if isinstance(series, pd.DataFrame):
            raise ConfigurationError(f"metric column {metric!r} appears more than once in the frame")
        dtype = series.dtype
        type_name = str(dtype)
        numeric = bool(pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype))
        if not numeric and dtype == object:
            present = series.dropna().tolist()
            kinds = {type(v).__name__ for v in present
                     if not isinstance(v, Real) or isinstance(v, (bool, np.bool_))}
            numeric = not kinds
            if kinds:
                type_name = f"object holding {', '.join(sorted(kinds))}"

        def values() -> np.ndarray:
            return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    if not numeric:
        others = [c for c in _numeric_columns(table) if c != metric]
        raise ConfigurationError(
            f"metric column {metric!r} is of type {type_name}, not numeric, so trials cannot be scored by it; "
            f"numeric columns: {', '.join(others) if others else '(none)'}"
        )
    if require_finite and len(table):
        refuse_unscored(values(), metric, type_name=type_name)


def refuse_unscored(values: np.ndarray, metric: str, *, type_name: str = "float64", context: str = "") -> None:
    """:class:`ConfigurationError` when ``values`` (a metric's numbers) are not empty but none is finite.

    ``type_name`` is the column's type as the message shows it; ``context``,
    when given, says after the message what left no number (a filter, a
    scope).
    """
    n = len(values)
    if n and not np.isfinite(values).any():
        raise ConfigurationError(
            f"metric column {metric!r} ({type_name}) has no finite value in its {n} row(s) "
            "(every cell is missing, NaN or infinite), so trials cannot be scored by it"
            + (f" ({context})" if context else "")
        )


def _numeric_columns(table: Any) -> list[str]:
    if isinstance(table, pa.Table):
        return [f.name for f in table.schema if pa.types.is_floating(f.type) or pa.types.is_integer(f.type)]
    if isinstance(table, pd.DataFrame):
        return [c for c in table.columns if pd.api.types.is_numeric_dtype(table[c].dtype)
                and not pd.api.types.is_bool_dtype(table[c].dtype)]
    return []


# --------------------------------------------------------------------------- the trial frame

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


def is_curve_frame(frame: pd.DataFrame) -> bool:
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
    and ``"mean_last_k"``) must pass :func:`check_metric`, and the final
    scores must hold a finite value when there are any (:func:`refuse_unscored`),
    else :class:`ConfigurationError`.
    """
    metric, mode_ = resolve_metric(trials, metric, mode)
    if scope not in ("last", "best", "mean_last_k"):
        raise ConfigurationError(f"scope must be 'last', 'best' or 'mean_last_k', not {scope!r}")
    if scope == "last" or curves is None:
        check_metric(trials, metric)  # on the input itself, so an Arrow column is named by its Arrow type
    frame = as_frame(trials)
    if is_curve_frame(frame):
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


def encode_param(series: pd.Series, *, scale: ParamScale | None = None) -> Encoded:
    """Encode one parameter column (see :class:`Encoded`).

    With a declared ``scale`` (:func:`param_scale` of the same column),
    numbers are scaled min-max over the declared bounds (in log10 when the
    scale is log) and discrete values take the declared levels in their
    order; a value outside the declared space counts as missing (the
    median, or the ``<NA>`` level). ``constant`` then means a single value
    observed.
    """
    if scale is not None and scale.declared:
        return _encode_declared(scale)
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


# --------------------------------------------------------------------------- the declared search space


def space_of(table: Any) -> SearchSpace | None:
    """The search space a table's metadata records (``hpo_analytics.search_space``), else ``None``.

    Recorded by the client, a job directory's ``job.json`` or the CLI (see
    :data:`~hpo_analytics._space.METADATA_SPACE`); a pandas frame carries it
    in ``attrs`` as :func:`as_frame` converts it. A record that does not
    parse is ignored with a :class:`~hpo_analytics.errors.SpaceWarning`.
    """
    raw = metadata_of(table).get(METADATA_SPACE.decode().removeprefix("hpo_analytics."))
    if not raw:
        return None
    try:
        return SearchSpace.from_json(raw)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        warnings.warn(f"the table's recorded search space does not parse ({exc}); it is ignored",
                      SpaceWarning, stacklevel=2)
        return None


def algorithm_of(table: Any) -> AlgorithmConfig | None:
    """The search algorithm a table's metadata records (``hpo_analytics.algorithm``), else ``None``.

    As :func:`space_of`: a record that does not parse is ignored with a
    :class:`~hpo_analytics.errors.SpaceWarning`.
    """
    raw = metadata_of(table).get(METADATA_ALGORITHM.decode().removeprefix("hpo_analytics."))
    if not raw:
        return None
    try:
        return AlgorithmConfig.from_metadata({METADATA_ALGORITHM: raw.encode("utf-8")})
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        warnings.warn(f"the table's recorded search algorithm does not parse ({exc}); it is ignored",
                      SpaceWarning, stacklevel=2)
        return None


#: The level of trials without a value (a conditional parameter, a pending trial) on a category axis.
MISSING_LEVEL = "<NA>"


@dataclass(frozen=True)
class ParamScale:
    """How one parameter column reads on an axis and in the analysis, and where each row sits on it.

    ``kind`` is ``"linear"``, ``"log"`` or ``"categorical"``; ``declared``
    says the job's declared space decided it (else it is inferred from the
    values, as :func:`is_numeric_param` and :func:`is_log_scale` do).

    Numbers: ``x`` is each row's value (NaN when missing or outside the
    declared space); ``low``/``high`` are the declared bounds (the axis
    limits), ``None`` when not declared. Categories: ``levels`` are the
    categories in order (declared: the declared values, in numeric order when
    they are all numbers, else in the order declared; inferred: sorted),
    with :data:`MISSING_LEVEL` last when some row has no value; ``labels``
    are their tick texts (a declared value as the job wrote it); ``codes``
    each row's level index (-1 outside the declared values) and ``x`` the
    code as a float (NaN for -1). ``outside`` marks the rows whose value
    lies outside the declared bounds or values.
    """

    column: str
    kind: str
    declared: bool
    x: np.ndarray
    outside: np.ndarray
    codes: np.ndarray | None = None
    levels: tuple[Any, ...] = ()
    labels: tuple[str, ...] = ()
    low: float | None = None
    high: float | None = None

    @property
    def name(self) -> str:
        """The parameter's name (the column without ``param/``)."""
        return self.column.removeprefix(PARAM_PREFIX)

    @property
    def log(self) -> bool:
        """Whether the axis is logarithmic."""
        return self.kind == "log"

    @property
    def categorical(self) -> bool:
        """Whether the parameter is drawn as categories at ``0..len(levels)-1``."""
        return self.kind == "categorical"

    @property
    def limits(self) -> tuple[float, float] | None:
        """The declared bounds as axis limits (numbers with both bounds declared), else ``None``."""
        if self.categorical or self.low is None or self.high is None or self.high <= self.low:
            return None
        return (self.low, self.high)


def param_scale(frame: pd.DataFrame, column: str, *, space: SearchSpace | None | str = "auto",
                warn: bool = True) -> ParamScale:
    """Decide how ``frame[column]`` reads: the one place plots and analysis take scales from.

    ``space`` is the declared search space (default ``"auto"``: the frame's
    own, :func:`space_of`); ``None`` infers. When the parameter is declared:

    * discrete values are ordered categories: the declared values, in
      numeric order when every one is a number (and the column holds
      numbers), else in the order the job lists them, every declared value a
      level whether or not a trial took it;
    * a continuous parameter is a number with its bounds as limits, on a log
      scale when declared so (``log`` in the space), or when both bounds are
      positive and ``high / low >=`` :data:`LOG_RATIO` (two decades or more),
      else linear. With a bound missing, the scale is inferred from the values
      and only the declared bound is checked.

    Otherwise (no space, the parameter not in it, or a continuous declaration
    over a column of text) the scale is inferred from the values as before.
    A row whose value lies outside the declared bounds (with a relative
    tolerance of 1e-9 of the range) or values is marked in ``outside`` and
    has no position (NaN); with ``warn``, a
    :class:`~hpo_analytics.errors.SpaceWarning` names the parameter, how many
    rows, and the first trial (``trial_id``) with its value.
    """
    series = frame[column]
    if isinstance(space, str):
        space = space_of(frame)
    spec = space.get(column) if space is not None else None
    scale = None
    if spec is not None:
        if spec.is_discrete and spec.values:
            scale = _declared_discrete(series, column, spec)
        elif not spec.is_discrete and is_numeric_param(series):
            scale = _declared_continuous(series, column, spec)
    if scale is None:
        return _inferred_scale(series, column)
    if warn and scale.outside.any():
        _warn_outside(frame, scale, spec)  # type: ignore[arg-type]
    return scale


def _inferred_scale(series: pd.Series, column: str) -> ParamScale:
    n = len(series)
    if is_numeric_param(series):
        x = floats(series)
        return ParamScale(column, "log" if is_log_scale(x) else "linear", False, x, np.zeros(n, dtype=bool))
    enc = encode_param(series)
    assert enc.codes is not None and enc.levels is not None
    return ParamScale(column, "categorical", False, enc.codes.astype(float), np.zeros(n, dtype=bool),
                      codes=enc.codes, levels=tuple(enc.levels), labels=tuple(str(v) for v in enc.levels))


def _declared_continuous(series: pd.Series, column: str, spec: SearchParam) -> ParamScale:
    x = floats(series)
    low, high = spec.low, spec.high
    known = [b for b in (low, high) if b is not None]
    span = high - low if low is not None and high is not None else 0.0
    tol = 1e-9 * max([abs(b) for b in known] + [span, 1e-300])  # bounds written as text round-trip inexactly
    finite = np.isfinite(x)
    outside = np.zeros(len(x), dtype=bool)
    if low is not None:
        outside |= finite & (x < low - tol)
    if high is not None:
        outside |= finite & (x > high + tol)
    inside = np.where(outside, np.nan, x)
    if spec.log is not None:
        log = spec.log
    elif low is not None and high is not None:
        log = low > 0 and high / low >= LOG_RATIO
    else:
        log = is_log_scale(inside)
    positive = inside[np.isfinite(inside)]
    if log and ((low is not None and low <= 0) or (positive.size and positive.min() <= 0)):
        log = False  # a log axis cannot hold zero or negative values, whatever was declared
    return ParamScale(column, "log" if log else "linear", True, inside, outside, low=low, high=high)


def _declared_discrete(series: pd.Series, column: str, spec: SearchParam) -> ParamScale:
    declared = list(dict.fromkeys(spec.values or ()))  # a value declared twice is one level
    present = series.notna().to_numpy(dtype=bool).copy()
    numbers = SearchParam(spec.name, "discrete", values=tuple(declared)).numeric_values()
    if numbers is not None and is_numeric_param(series):
        order = np.argsort(np.asarray(numbers), kind="stable")
        grid = np.asarray(numbers, dtype=float)[order]
        labels = [declared[i] for i in order]
        x = floats(series)
        present = present & np.isfinite(x)
        nearest = np.clip(np.searchsorted(grid, x), 0, len(grid) - 1)
        below = np.clip(nearest - 1, 0, len(grid) - 1)
        nearest = np.where(np.abs(grid[below] - x) < np.abs(grid[nearest] - x), below, nearest)
        with np.errstate(invalid="ignore"):
            match = present & np.isclose(x, grid[nearest], rtol=1e-9, atol=1e-12)
        codes = np.where(match, nearest, -1).astype(np.int64)
        integral = pd.api.types.is_integer_dtype(series.dtype) and all(float(v).is_integer() for v in grid)
        levels: list[Any] = [int(v) for v in grid] if integral else [float(v) for v in grid]
    else:
        if numbers is not None:  # numbers held as text: still in numeric order
            declared = [declared[i] for i in np.argsort(np.asarray(numbers), kind="stable")]
        labels = declared
        levels = list(declared)
        lookup = {v: i for i, v in enumerate(declared)}
        # A boolean column's True matches a declared "true" as well as "True"; text must match exactly.
        boolean = pd.api.types.is_bool_dtype(series.dtype)
        folded = {v.lower(): i for i, v in reversed(list(enumerate(declared)))} if boolean else {}
        values = series.astype(object).to_numpy()
        codes = np.full(len(values), -1, dtype=np.int64)
        for row in np.flatnonzero(present):
            text = str(values[row])
            codes[row] = lookup.get(text, folded.get(text.lower(), -1))
    outside = present & (codes < 0)
    if (~present).any():
        levels.append(MISSING_LEVEL)
        labels = [*labels, MISSING_LEVEL]
        codes = np.where(present, codes, len(levels) - 1)
    x = np.where(codes >= 0, codes, np.nan).astype(float)
    return ParamScale(column, "categorical", True, x, outside, codes=codes, levels=tuple(levels),
                      labels=tuple(labels))


def _warn_outside(frame: pd.DataFrame, scale: ParamScale, spec: SearchParam) -> None:
    rows = np.flatnonzero(scale.outside)
    first = int(rows[0])
    trial = frame["trial_id"].iloc[first] if "trial_id" in frame.columns else f"row {first}"
    value = frame[scale.column].iloc[first]
    value = value.item() if isinstance(value, np.generic) else value
    if spec.is_discrete:
        declared = "values " + ", ".join(spec.values or ())
    else:
        declared = f"range [{_bound(spec.low)}, {_bound(spec.high)}]"
    warnings.warn(
        f"parameter {scale.name!r}: {len(rows)} trial(s) outside the declared {declared} (first: trial "
        f"{str(trial)!r} with {value!r}); they are not plotted and count as missing in the analysis",
        SpaceWarning, stacklevel=3)


def _bound(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def _encode_declared(scale: ParamScale) -> Encoded:
    if scale.categorical:
        assert scale.codes is not None
        codes = scale.codes.copy()
        levels = list(scale.levels)
        if (codes < 0).any():  # outside the declared values: counted as missing
            if MISSING_LEVEL not in levels:
                levels.append(MISSING_LEVEL)
            codes = np.where(codes < 0, levels.index(MISSING_LEVEL), codes)
        k = len(levels)
        return Encoded((codes + 0.5) / max(k, 1), categorical=True, log=False,
                       constant=len(np.unique(codes)) <= 1, levels=np.asarray(levels, dtype=object), codes=codes)
    raw = scale.x
    log = scale.log
    x = np.log10(np.where(raw > 0, raw, np.nan)) if log else raw
    finite = np.isfinite(x)
    if not finite.any():
        return Encoded(np.zeros(len(x)), categorical=False, log=log, constant=True)
    observed = x[finite]
    constant = bool(observed.max() <= observed.min())
    x = np.where(finite, x, np.median(observed))
    if scale.limits is not None:
        low, high = scale.limits
        low, high = (math.log10(low), math.log10(high)) if log else (low, high)
    else:
        low, high = float(x.min()), float(x.max())
    if high <= low:
        return Encoded(np.zeros(len(x)), categorical=False, log=log, constant=True)
    return Encoded(np.clip((x - low) / (high - low), 0.0, 1.0), categorical=False, log=log, constant=constant)
