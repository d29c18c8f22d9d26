"""Learning curves: every curve as one LineCollection, the top trials highlighted, stops marked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._frames import as_frame, resolve_metric
from ..analysis import rank_trials
from ..errors import ConfigurationError
from ..stopping import CurveMatrix
from ._common import MASS_COLOR, identity_colors, new_axes, no_data

__all__ = ["plot_learning_curves"]

STEP = "training_iteration"
#: Colour of the stop markers.
STOP_COLOR = "#111111"


@dataclass(frozen=True)
class CurvesData:
    """What :func:`plot_learning_curves` draws.

    ``mass`` and ``top`` are ``(curves, steps, 2)`` arrays of ``(step, value)``
    points, ready for a ``LineCollection``: a step a trial skipped repeats
    its previous point (the line joins its reports), cells before its first
    or after its last report are NaN, and a reported NaN stays NaN (a gap).
    ``top`` holds the ``top_k`` trials by score, best first; ``mass`` every
    other trial, in table order. ``stop_x``/``stop_y`` place a marker for
    each stopped trial (``stop_ids``) at its stop step, on its latest finite
    value at or before that step; ``stops_unplaced`` counts the stops that
    could not be placed (unknown trial, no number by then).
    """

    mass_ids: np.ndarray
    mass: np.ndarray
    top_ids: np.ndarray
    top_scores: np.ndarray
    top: np.ndarray
    stop_ids: np.ndarray
    stop_x: np.ndarray
    stop_y: np.ndarray
    stops_unplaced: int
    metric: str
    mode: str

    @property
    def n_curves(self) -> int:
        """Number of curves drawn."""
        return len(self.mass_ids) + len(self.top_ids)


def stop_steps(stopped: Any) -> dict[str, int]:
    """``trial_id -> step`` of each stopped trial.

    ``stopped``: a decision table (``trial_id``, ``stop``, ``step``, as
    :meth:`~hpo_analytics.stopping.Rule.decide` and
    :func:`~hpo_analytics.stopping.replay_log` return; a trial stopped more
    than once keeps its earliest step) or a mapping ``trial_id -> step`` (as
    ``backtest(...).attrs["stop_step"][label]``; ``None`` means not stopped).
    """
    if stopped is None:
        return {}
    if isinstance(stopped, Mapping):
        out: dict[str, int] = {}
        for trial, step in stopped.items():
            if step is None or step is pd.NA or (isinstance(step, float) and np.isnan(step)):
                continue
            out[str(trial)] = int(step)
        return out
    try:
        frame = as_frame(stopped)
    except ConfigurationError:
        raise ConfigurationError(
            "stopped must be a decision table (trial_id, stop, step) or a mapping trial_id -> step, "
            f"not {type(stopped).__name__}") from None
    missing = [c for c in ("trial_id", "stop", "step") if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"the decision table has no {', '.join(map(repr, missing))} column")
    stop = frame["stop"].to_numpy(dtype=bool, na_value=False)
    step = pd.to_numeric(frame["step"], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    rows = pd.DataFrame({"trial_id": frame["trial_id"].astype(str).to_numpy(dtype=object)[stop],
                         "step": step[stop]}).dropna()
    first = rows.groupby("trial_id", sort=False)["step"].min()
    return {str(t): int(s) for t, s in first.items()}


def curve_points(cm: CurveMatrix) -> np.ndarray:
    """``(trials, steps, 2)`` points of ``cm``'s curves (see :class:`CurvesData` for the gaps)."""
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


def _learning_curves_data(curves: Any, *, metric: str | None = None, mode: str | None = None,
                          top_k: int = 5, stopped: Any = None) -> CurvesData:
    """The curves of a long table split into the top ``top_k`` (by :func:`rank_trials`) and the rest."""
    if isinstance(top_k, bool) or not isinstance(top_k, (int, np.integer)) or top_k < 0:
        raise ConfigurationError(f"top_k must be an integer >= 0, not {top_k!r}")
    frame = as_frame(curves)
    metric, mode_ = resolve_metric(frame, metric, mode)
    if STEP not in frame.columns:
        raise ConfigurationError(f"the curves have no {STEP!r} column (pass a curves_to_arrow table)")
    cm = CurveMatrix.from_frame(frame, metric)
    points = curve_points(cm)
    ids = cm.trial_ids.astype(str)
    top_ids = np.zeros(0, dtype=object)
    top_scores = np.zeros(0)
    if top_k and len(ids):
        ranked = rank_trials(_latest(frame, cm, metric), metric=metric, mode=mode_)
        ranked = ranked[np.isfinite(ranked["score"].to_numpy(dtype=float))].head(int(top_k))
        top_ids = ranked["trial_id"].astype(str).to_numpy(dtype=object)
        top_scores = ranked["score"].to_numpy(dtype=float)
    position = pd.Index(ids)
    top_rows = position.get_indexer(top_ids)
    is_top = np.zeros(len(ids), dtype=bool)
    is_top[top_rows] = True
    stop_ids, stop_x, stop_y, unplaced = _stop_points(cm, stop_steps(stopped))
    return CurvesData(
        mass_ids=ids[~is_top].astype(object), mass=points[~is_top],
        top_ids=top_ids, top_scores=top_scores, top=points[top_rows],
        stop_ids=stop_ids, stop_x=stop_x, stop_y=stop_y, stops_unplaced=unplaced,
        metric=metric, mode=mode_,
    )


def _latest(frame: pd.DataFrame, cm: CurveMatrix, metric: str) -> pd.DataFrame:
    """One row per curve: its latest report (what :func:`rank_trials` scores a curve table by), built
    from the pivoted matrix rather than by re-sorting the long table."""
    n = len(cm.trial_ids)
    last = cm.last
    value = np.where(last >= 0, cm.values[np.arange(n), np.maximum(last, 0)], np.nan) if n else np.zeros(0)
    out = pd.DataFrame({"trial_id": cm.trial_ids.astype(str), metric: value})
    if "trial_index" in frame.columns:
        first = frame.drop_duplicates("trial_id").set_index("trial_id")["trial_index"]
        out["trial_index"] = pd.to_numeric(first.reindex(out["trial_id"]), errors="coerce").to_numpy(
            dtype=float, na_value=np.nan)
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


def _stop_points(cm: CurveMatrix, steps: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """Where each stop is drawn: its step, on the trial's latest finite value at or before it."""
    ids = np.asarray(list(steps), dtype=object)
    at = np.asarray(list(steps.values()), dtype=float)
    y = latest_finite(cm, ids, at)
    ok = ~np.isnan(y)
    return ids[ok], at[ok], y[ok], int((~ok).sum())


def _mass_alpha(n: int) -> float:
    """Line opacity for ``n`` overlapping curves: dense regions darken, single curves stay visible."""
    return float(np.clip(25.0 / max(n, 1), 0.005, 0.7))


def plot_learning_curves(curves: Any, *, metric: str | None = None, mode: str | None = None, top_k: int = 5,
                         stopped: Any = None, ax: Any = None) -> Any:
    """Every learning curve, the ``top_k`` trials highlighted and labelled, stopped trials marked.

    ``curves``: the long table (``curves_to_arrow``/``read_curves``, Arrow or
    pandas: ``trial_id``, ``training_iteration``, the metric). All curves but
    the top ``top_k`` (by :func:`~hpo_analytics.analysis.rank_trials`: each
    trial's latest value) are one thin, light, rasterized
    ``LineCollection`` whose opacity falls with the number of curves, so
    10,000 curves read as a density; the top ``top_k`` are drawn over it in
    colours that never repeat, and only they (plus one entry for the rest and
    one for the stops) are in the legend. ``stopped``: a decision table
    (``trial_id``, ``stop``, ``step``) or a mapping ``trial_id -> step``
    (``backtest(...).attrs["stop_step"][label]``); each stopped trial gets an
    ``x`` where it stopped. A table without reports draws a "no trials"
    note. Returns the Axes.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    data = _learning_curves_data(curves, metric=metric, mode=mode, top_k=top_k, stopped=stopped)
    ax = new_axes(ax)
    ax.set_xlabel(STEP)
    ax.set_ylabel(f"{data.metric} ({'higher' if data.mode == 'max' else 'lower'} is better)")
    top = f"; top {len(data.top_ids)} by {data.metric}" if len(data.top_ids) else ""
    ax.set_title(f"Learning curves ({data.n_curves} trials{top})")
    if not data.n_curves:
        return no_data(ax)
    handles = []
    n_mass = len(data.mass_ids)
    if n_mass:
        # bevel joins and butt caps: round ones cost a fifth more to rasterise at 10,000 curves
        mass = LineCollection(data.mass, colors=MASS_COLOR, linewidths=0.9 if n_mass <= 200 else 0.6,
                              alpha=_mass_alpha(n_mass), rasterized=True, zorder=1, joinstyle="bevel",
                              capstyle="butt")
        ax.add_collection(mass)
        # the collection itself may be nearly transparent: the legend shows an opaque stand-in
        handles.append(Line2D([], [], color=MASS_COLOR, linewidth=1.5, label=f"other trials ({n_mass})"))
    for (tid, score, pts), color in zip(zip(data.top_ids, data.top_scores, data.top),
                                        identity_colors(len(data.top_ids))):
        handles += ax.plot(pts[:, 0], pts[:, 1], color=color, linewidth=1.8, zorder=3,
                           label=f"{tid} ({data.metric}={score:.4g})")
    if len(data.stop_ids) or data.stops_unplaced:
        note = f", {data.stops_unplaced} not placed" if data.stops_unplaced else ""
        handles.append(ax.scatter(data.stop_x, data.stop_y, marker="x", s=28, color=STOP_COLOR, linewidths=1.2,
                                  zorder=4, label=f"stopped ({len(data.stop_ids)}{note})"))
    _fit_limits(ax, np.concatenate([data.mass.reshape(-1, 2), data.top.reshape(-1, 2)]))
    ax.legend(handles=handles, loc="best", fontsize="small")
    return ax


def _fit_limits(ax: Any, points: np.ndarray) -> None:
    """Grow the data limits to the finite points (collections with NaN do not autoscale reliably)."""
    ok = np.isfinite(points).all(axis=1)
    if ok.any():
        pts = points[ok]
        ax.update_datalim(np.array([pts.min(axis=0), pts.max(axis=0)]))
        ax.autoscale_view()
