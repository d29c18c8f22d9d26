"""Trade-offs between objectives: the non-dominated trials."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from .._frames import as_frame, check_metric, load, refuse_unscored, resolve_metric
from .._validation import floats
from ..errors import ConfigurationError

__all__ = ["pareto_front"]


def _non_dominated(keys: np.ndarray) -> np.ndarray:
    """Mask of rows no other row dominates (larger is better in every column; rows all finite).

    Row ``a`` dominates ``b`` when it is at least as good everywhere and
    strictly better somewhere; equal rows do not dominate each other.
    """
    n = len(keys)
    mask = np.zeros(n, dtype=bool)
    if n == 0:
        return mask
    # Lexicographic best-first order: a dominator always comes before the rows it dominates.
    order = np.lexsort(tuple(-keys[:, j] for j in range(keys.shape[1] - 1, -1, -1)))
    front = np.empty((0, keys.shape[1]))
    for i in order:
        row = keys[i]
        if len(front):
            at_least = (front >= row).all(axis=1)
            if (at_least & (front > row).any(axis=1)).any():
                continue
        mask[i] = True
        front = np.vstack([front, row])
    return mask


def pareto_front(
    trials: Any,
    objectives: Mapping[str, str] | None = None,
    *,
    statuses: Collection[str] | None = None,
) -> pd.DataFrame:
    """Flag the non-dominated trials for ``objectives`` (column -> ``"max"``/``"min"``).

    Default objectives: the metric (from the metadata, else ``reward_attr``)
    in its mode, and ``time_total_s`` minimised. A trial is on the front when
    no other trial is at least as good in every objective and strictly better
    in one; trials with equal objective values are all kept. Trials with a
    NaN or missing objective are never on the front. A curve table is reduced
    to each trial's latest row.

    Every objective must be a numeric column with a finite value (after
    ``statuses``), else :class:`~hpo_analytics.errors.ConfigurationError`
    names the column and its type.

    Returns every trial with a leading ``is_pareto`` column: the front first,
    sorted best first by the first objective (then the next ones), then the
    rest in their input order. ``attrs`` records the objectives.
    """
    if objectives is None:
        metric, mode = resolve_metric(trials)
        objectives = {metric: mode, "time_total_s": "min"}
    if len(objectives) < 1:
        raise ConfigurationError("pareto_front needs at least one objective")
    frame_in = as_frame(trials)
    for column, direction in objectives.items():
        if direction not in ("max", "min"):
            raise ConfigurationError(f"objective {column!r}: direction must be 'max' or 'min', not {direction!r}")
        resolve_metric(frame_in, column, direction)  # the clear error for a missing column
        check_metric(trials, column)
    first = next(iter(objectives))
    frame = load(trials, metric=first, mode=objectives[first], statuses=statuses).frame
    context = f"statuses={sorted(map(str, statuses))}" if statuses is not None else ""
    columns = []
    for column, direction in objectives.items():
        values = floats(frame[column])
        refuse_unscored(values, column, context=context)
        columns.append((1.0 if direction == "max" else -1.0) * values)
    keys = np.column_stack(columns)
    finite = np.isfinite(keys).all(axis=1)
    mask = np.zeros(len(frame), dtype=bool)
    mask[np.flatnonzero(finite)] = _non_dominated(keys[finite])
    on = np.flatnonzero(mask)
    on = on[np.lexsort(tuple(-keys[on, j] for j in range(keys.shape[1] - 1, -1, -1)))]
    order = np.concatenate([on, np.flatnonzero(~mask)]).astype(np.int64)
    body = frame.take(order).reset_index(drop=True)
    out = pd.concat([pd.DataFrame({"is_pareto": mask[order]}), body.drop(columns=["is_pareto"], errors="ignore")],
                    axis=1)
    out.attrs["hpo_analytics.analysis"] = {"objectives": dict(objectives)}
    return out
