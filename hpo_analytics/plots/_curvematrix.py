"""Learning curves as a matrix, shared by the learning-curve and stop-decision plots.

A long curve table pivots into a :class:`~hpo_analytics.stopping.CurveMatrix`
(:func:`curve_matrix`), whose rows become ``(trials, steps, 2)`` line points
(:func:`curve_points`); :func:`latest_finite` finds where a marker (a stop)
sits on a curve.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._table import STEP
from ..errors import ConfigurationError
from ..stopping import CurveMatrix

__all__ = ["curve_matrix", "curve_points", "latest_finite"]


def curve_matrix(frame: pd.DataFrame, metric: str) -> CurveMatrix:
    """The curves of a long ``frame`` as a :class:`CurveMatrix` of ``metric``.

    Raises :class:`ConfigurationError` when ``frame`` has no ``training_iteration`` column.
    """
    if STEP not in frame.columns:
        raise ConfigurationError(f"the curves have no {STEP!r} column (pass a curves_to_arrow table)")
    return CurveMatrix.from_frame(frame, metric)


def curve_points(cm: CurveMatrix) -> np.ndarray:
    """``(trials, steps, 2)`` points of ``cm``'s curves, ready for a ``LineCollection``.

    A step a trial skipped repeats its previous point (the line joins its
    reports), cells before its first or after its last report are NaN, and a
    reported NaN stays NaN (a gap).
    """
    n, m = cm.values.shape
    cols = np.arange(m)
    prev = np.maximum.accumulate(np.where(cm.reported, cols[None, :], -1), axis=1) if m \
        else np.zeros((n, 0), dtype=np.int64)
    last = cm.last
    inside = (prev >= 0) & (cols[None, :] <= last[:, None])
    src = np.maximum(prev, 0)
    out = np.full((n, m, 2), np.nan)
    out[..., 0] = np.where(inside, cm.steps.astype(float)[src], np.nan)
    out[..., 1] = np.where(inside, np.take_along_axis(cm.values, src, axis=1), np.nan)
    return out


def latest_finite(cm: CurveMatrix, trial_ids: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Each trial's latest finite value at or before its step (NaN for an unknown trial or no number yet)."""
    rows = pd.Index(cm.trial_ids.astype(str)).get_indexer(np.asarray(trial_ids, dtype=object))
    y = np.full(len(rows), np.nan)
    for k, (row, step) in enumerate(zip(rows.tolist(), np.asarray(steps, dtype=float).tolist())):
        if row < 0:
            continue
        upto = int(np.searchsorted(cm.steps, step, side="right"))
        finite = np.flatnonzero(np.isfinite(cm.values[row, :upto]))
        if len(finite):
            y[k] = cm.values[row, finite[-1]]
    return y
