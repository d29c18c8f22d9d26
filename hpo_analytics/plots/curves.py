"""Learning curves: every curve (one LineCollection, or a density raster of thousands), the top trials
highlighted, stops marked."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._frames import as_frame, check_metric, resolve_metric
from .._table import STEP
from .._validation import check_int, floats
from ..analysis import rank_trials
from ..errors import ConfigurationError
from ..stopping import CurveMatrix
from ._common import MASS_COLOR, STOP_COLOR, identity_colors, metric_label, new_axes, no_data
from ._curvematrix import curve_matrix, curve_points, latest_finite
from ._raster import draw_curve_density

__all__ = ["plot_learning_curves"]

#: Above this many curves the mass is a density raster rather than a LineCollection.
DENSITY_THRESHOLD = 2000


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
    could not be placed (unknown trial, no number by then). ``steps`` are the
    distinct steps of the table (the columns of the points arrays).
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
    steps: np.ndarray

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
    step = floats(frame["step"])
    rows = pd.DataFrame({"trial_id": frame["trial_id"].astype(str).to_numpy(dtype=object)[stop],
                         "step": step[stop]}).dropna()
    first = rows.groupby("trial_id", sort=False)["step"].min()
    return {str(t): int(s) for t, s in first.items()}


def _learning_curves_data(curves: Any, *, metric: str | None = None, mode: str | None = None,
                          top_k: int = 5, stopped: Any = None) -> CurvesData:
    """The curves of a long table split into the top ``top_k`` (by :func:`rank_trials`) and the rest."""
    top_k = check_int("top_k", top_k, low=0)
    frame = as_frame(curves)
    metric, mode_ = resolve_metric(frame, metric, mode)
    check_metric(curves, metric)  # the input itself, so an Arrow column is named by its Arrow type
    cm = curve_matrix(frame, metric)
    points = curve_points(cm)
    ids = cm.trial_ids.astype(str)
    top_ids = np.zeros(0, dtype=object)
    top_scores = np.zeros(0)
    latest = _latest(frame, cm, metric) if top_k and len(ids) else None
    # Every curve may end on a NaN (all diverged): then no trial has a score to be top by.
    if latest is not None and np.isfinite(latest[metric].to_numpy(dtype=float)).any():
        ranked = rank_trials(latest, metric=metric, mode=mode_)
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
        metric=metric, mode=mode_, steps=cm.steps.astype(float),
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
        out["trial_index"] = floats(first.reindex(out["trial_id"]))
    return out


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
                         stopped: Any = None, density: bool | None = None,
                         density_threshold: int = DENSITY_THRESHOLD, ax: Any = None) -> Any:
    """Every learning curve, the ``top_k`` trials highlighted and labelled, stopped trials marked.

    ``curves``: the long table (``curves_to_arrow``/``read_curves``, Arrow or
    pandas: ``trial_id``, ``training_iteration``, the metric). The top
    ``top_k`` trials (by :func:`~hpo_analytics.analysis.rank_trials`: each
    trial's latest value) are lines in colours that never repeat, drawn over
    all the others ("the mass"); only they (plus one entry for the rest and
    one for the stops) are in the legend.

    How the mass is drawn: up to ``density_threshold`` curves in all, as one
    thin, light, rasterized ``LineCollection`` whose opacity falls with the
    number of curves; above it, as a density raster of all its segments:
    :func:`~hpo_analytics.plots._raster.segment_density` counts the curves
    that cross each screen pixel of the Axes, and ``imshow`` shows the
    counts from a faint grey (one curve) to dark grey (the densest pixel) on
    a square-root scale. Why:
    Agg strokes every segment of a collection (about 1.2 s for 10,000
    curves x 100 steps, a million segments), while the counts take about a
    tenth of that and the image costs the same however many curves it
    holds, so 10,000 curves render to PNG in about half a second
    (``benchmarks/plots.py``). Every segment still counts, and NaN breaks a
    curve exactly as in the ``LineCollection``. ``density=True``/``False``
    forces either way. The raster is binned for linear axes at the Axes'
    size and limits when drawn (saving at a higher ``dpi`` enlarges its
    cells): on an Axes already set to a log scale the ``LineCollection`` is
    used (``density=True`` raises), and a scale or limits set afterwards are
    not re-binned.

    ``stopped``: a decision table (``trial_id``, ``stop``, ``step``) or a
    mapping ``trial_id -> step`` (``backtest(...).attrs["stop_step"][label]``);
    each stopped trial gets an ``x`` where it stopped. A table without
    reports draws a "no trials" note; a metric that is not numeric or has no
    finite value raises :class:`~hpo_analytics.errors.ConfigurationError`.
    Returns the Axes.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    if density is not None and not isinstance(density, (bool, np.bool_)):
        raise ConfigurationError(f"density must be True, False or None (automatic), not {density!r}")
    density_threshold = check_int("density_threshold", density_threshold, low=0)
    data = _learning_curves_data(curves, metric=metric, mode=mode, top_k=top_k, stopped=stopped)
    ax = new_axes(ax)
    linear = ax.get_xscale() == "linear" and ax.get_yscale() == "linear"
    if density and not linear:
        raise ConfigurationError("density=True needs linear axes (the raster is binned in data units); this "
                                 f"Axes has x scale {ax.get_xscale()!r}, y scale {ax.get_yscale()!r}")
    ax.set_xlabel(STEP)
    ax.set_ylabel(metric_label(data.metric, data.mode))
    top = f"; top {len(data.top_ids)} by {data.metric}" if len(data.top_ids) else ""
    ax.set_title(f"Learning curves ({data.n_curves} trials{top})")
    if not data.n_curves:
        return no_data(ax)
    handles = []
    n_mass = len(data.mass_ids)
    raster = bool(n_mass) and (data.n_curves > density_threshold and linear if density is None else bool(density))
    if n_mass:
        if not raster:
            # bevel joins and butt caps: round ones cost a fifth more to rasterise at 10,000 curves
            mass = LineCollection(data.mass, colors=MASS_COLOR, linewidths=0.9 if n_mass <= 200 else 0.6,
                                  alpha=_mass_alpha(n_mass), rasterized=True, zorder=1, joinstyle="bevel",
                                  capstyle="butt")
            ax.add_collection(mass)
        # the mass itself may be nearly transparent: the legend shows an opaque stand-in
        handles.append(Line2D([], [], color=MASS_COLOR, linewidth=1.5, label=f"other trials ({n_mass})"))
    for (tid, score, pts), color in zip(zip(data.top_ids, data.top_scores, data.top),
                                        identity_colors(len(data.top_ids))):
        handles += ax.plot(pts[:, 0], pts[:, 1], color=color, linewidth=1.8, zorder=3,
                           label=f"{tid} ({data.metric}={score:.4g})")
    if len(data.stop_ids) or data.stops_unplaced:
        note = f", {data.stops_unplaced} not placed" if data.stops_unplaced else ""
        handles.append(ax.scatter(data.stop_x, data.stop_y, marker="x", s=28, color=STOP_COLOR, linewidths=1.2,
                                  zorder=4, label=f"stopped ({len(data.stop_ids)}{note})"))
    mass_range = finite_range(data.mass)
    _fit_limits(ax, [mass_range, finite_range(data.top)])
    if raster and mass_range is not None:
        draw_curve_density(ax, data.steps, data.mass, mass_range)
    ax.legend(handles=handles, loc="best", fontsize="small")
    return ax


def finite_range(points: np.ndarray) -> tuple[float, float, float, float] | None:
    """``(x0, x1, y0, y1)``: the range of the points (``(..., 2)``) whose x and y are both finite; None
    when there are none."""
    x, y = points[..., 0], points[..., 1]
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any():
        return None
    return (float(np.min(x, where=ok, initial=np.inf)), float(np.max(x, where=ok, initial=-np.inf)),
            float(np.min(y, where=ok, initial=np.inf)), float(np.max(y, where=ok, initial=-np.inf)))


def _fit_limits(ax: Any, ranges: list[tuple[float, float, float, float] | None]) -> None:
    """Grow the data limits to the finite points' ranges (collections with NaN do not autoscale reliably)."""
    known = [r for r in ranges if r is not None]
    if known:
        lo = (min(r[0] for r in known), min(r[2] for r in known))
        hi = (max(r[1] for r in known), max(r[3] for r in known))
        ax.update_datalim(np.array([lo, hi]))
        ax.autoscale_view()
