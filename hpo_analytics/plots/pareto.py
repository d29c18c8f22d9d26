"""Pareto front plot: trials in objective space, the non-dominated ones highlighted.

The front comes from :func:`~hpo_analytics.analysis.pareto_front`. With two
objectives it is one Axes: dominated trials faint, the front in colour and
joined by the staircase that bounds the region it dominates. With more, a
Figure with one panel per pair of objectives (the front is the front in all
objectives, so some of its points look dominated in a single panel). Trials
with a non-finite objective are left out (counted in ``n_missing``); with
none left the plot shows a "no trials" note. An objective that is not
numeric or has no finite value raises
:class:`~hpo_analytics.errors.ConfigurationError`.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from typing import Any

import numpy as np

from .._frames import resolve_metric
from .._validation import check_int, floats
from ..errors import ConfigurationError
from ._common import BEST_COLOR, MASS_COLOR, marker_size, new_axes, no_data, panel_axes
from ._raster import RASTERIZE_FROM

__all__ = ["ParetoData", "plot_pareto_front"]


@dataclass(frozen=True)
class ParetoData:
    """What :func:`plot_pareto_front` draws.

    ``values`` (one row per plotted trial, one column per objective) and
    ``is_pareto``/``trial_ids`` follow :func:`pareto_front`'s order: the front
    first, best first by the first objective. ``staircase`` (two objectives
    only, else None) is the front's boundary as vertices ``p1, (x1, y2), p2,
    (x2, y3), p3, ...`` with the front sorted from worst to best in the first
    objective.
    """

    objectives: tuple[tuple[str, str], ...]
    values: np.ndarray
    is_pareto: np.ndarray
    trial_ids: np.ndarray
    staircase: np.ndarray | None
    n_missing: int


def _objectives(trials: Any, metrics: Sequence[str] | Mapping[str, str] | None,
                directions: Sequence[str] | None, metric: str | None, mode: str | None) -> dict[str, str]:
    if metrics is None:
        if directions is not None:
            raise ConfigurationError("directions= needs metrics= (the objectives they belong to)")
        first, first_mode = resolve_metric(trials, metric, mode)
        if first == "time_total_s":
            raise ConfigurationError("the metric is time_total_s: pass metrics= with two objectives")
        return {first: first_mode, "time_total_s": "min"}
    if metric is not None or mode is not None:
        raise ConfigurationError("pass either metrics= (all objectives) or metric=/mode= (with time_total_s)")
    if isinstance(metrics, Mapping):
        if directions is not None:
            raise ConfigurationError("metrics= is a mapping name -> direction already; leave directions= unset")
        objectives = dict(metrics)
    else:
        if isinstance(metrics, str):
            raise ConfigurationError(f"metrics= must list two or more objectives, not the string {metrics!r}")
        names = list(metrics)
        if directions is None:
            raise ConfigurationError(
                "directions= is needed with a list of metrics ('max'/'min' each), or pass a mapping name -> direction")
        dirs = [directions] * len(names) if isinstance(directions, str) else list(directions)
        if len(dirs) != len(names):
            raise ConfigurationError(f"{len(names)} metrics but {len(dirs)} directions")
        if len(set(names)) != len(names):
            raise ConfigurationError(f"each objective once, please: {names}")
        objectives = dict(zip(names, dirs))
    if len(objectives) < 2:
        raise ConfigurationError(f"a Pareto front needs two or more objectives, got {list(objectives)}")
    return objectives


def _staircase(front: np.ndarray, signs: np.ndarray) -> np.ndarray:
    """Boundary vertices of the region a 2-D front dominates (see :class:`ParetoData`)."""
    keys = front * signs
    order = np.lexsort((-keys[:, 1], keys[:, 0]))  # first objective worst to best, ties: best second first
    pts = front[order]
    if len(pts) == 0:
        return np.zeros((0, 2))
    out = np.empty((2 * len(pts) - 1, 2))
    out[0::2] = pts
    out[1::2, 0] = pts[:-1, 0]
    out[1::2, 1] = pts[1:, 1]
    return out


def _pareto_data(
    trials: Any,
    *,
    metrics: Sequence[str] | Mapping[str, str] | None = None,
    directions: Sequence[str] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    statuses: Collection[str] | None = None,
) -> ParetoData:
    """Compute the Pareto plot's data (see :func:`plot_pareto_front`)."""
    from ..analysis import pareto_front

    objectives = _objectives(trials, metrics, directions, metric, mode)
    out = pareto_front(trials, objectives, statuses=statuses)
    values = np.column_stack([floats(out[c]) for c in objectives])
    finite = np.isfinite(values).all(axis=1)
    is_pareto = out["is_pareto"].to_numpy(dtype=bool)[finite]
    values = values[finite]
    ids = out["trial_id"].astype(object).to_numpy()[finite] if "trial_id" in out.columns \
        else np.flatnonzero(finite)
    signs = np.array([1.0 if d == "max" else -1.0 for d in objectives.values()])
    staircase = _staircase(values[is_pareto], signs) if len(objectives) == 2 else None
    return ParetoData(objectives=tuple(objectives.items()), values=values, is_pareto=is_pareto, trial_ids=ids,
                      staircase=staircase, n_missing=int((~finite).sum()))


def _draw_pair(ax: Any, data: ParetoData, i: int, j: int, *, legend: bool) -> None:
    (xname, xdir), (yname, ydir) = data.objectives[i], data.objectives[j]
    ax.set_xlabel(f"{xname} ({xdir})")
    ax.set_ylabel(f"{yname} ({ydir})")
    if not len(data.values):
        no_data(ax)
        return
    dominated = ~data.is_pareto
    n = len(data.values)
    ax.scatter(data.values[dominated, i], data.values[dominated, j], s=marker_size(n), c=MASS_COLOR, alpha=0.45,
               linewidths=0, rasterized=n >= RASTERIZE_FROM, label=f"dominated ({int(dominated.sum())})")
    if data.staircase is not None and len(data.staircase) > 1:
        ax.plot(data.staircase[:, 0], data.staircase[:, 1], color=BEST_COLOR, linewidth=1.2, zorder=2)
    ax.scatter(data.values[data.is_pareto, i], data.values[data.is_pareto, j], s=36, c=BEST_COLOR,
               edgecolors="white", linewidths=0.6, zorder=3, label=f"Pareto front ({int(data.is_pareto.sum())})")
    if legend:
        ax.legend(loc="best" if n < RASTERIZE_FROM else "upper right", fontsize="small")


def plot_pareto_front(
    trials: Any,
    *,
    metrics: Sequence[str] | Mapping[str, str] | None = None,
    directions: Sequence[str] | None = None,
    metric: str | None = None,
    mode: str | None = None,
    statuses: Collection[str] | None = None,
    ncols: int = 3,
    ax: Any = None,
) -> Any:
    """Trials in objective space with the Pareto front highlighted.

    Objectives: ``metrics`` as a mapping name -> ``"max"``/``"min"``, or a
    list of names with ``directions`` (one per name, or one string for all);
    by default the metric (``metric``/``mode``, else the table's metadata) and
    ``time_total_s`` minimised, as :func:`~hpo_analytics.analysis.pareto_front`
    does. Returns the Axes for two objectives; for more, the Figure of one
    panel per pair (``ax`` then may be None, one Axes to split, or one Axes
    per pair; ``ncols`` panels per row).
    """
    ncols = check_int("ncols", ncols, low=1)
    data = _pareto_data(trials, metrics=metrics, directions=directions, metric=metric, mode=mode,
                        statuses=statuses)
    names = [name for name, _ in data.objectives]
    if len(names) == 2:
        ax = new_axes(ax)
        ax.set_title(f"Pareto front: {names[0]} vs {names[1]}")
        _draw_pair(ax, data, 0, 1, legend=True)
        return ax
    pairs = list(combinations(range(len(names)), 2))
    fig, axes = panel_axes(ax, len(pairs), ncols=ncols)
    for k, (panel_ax, (i, j)) in enumerate(zip(axes, pairs)):
        _draw_pair(panel_ax, data, i, j, legend=k == 0)
    if fig is not None and ax is None:
        fig.suptitle(f"Pareto front over {', '.join(names)}")
    return fig
