"""Status plot: how many trials are in each status, overall or over iterations (or time).

From a trials table: one bar per status. From a curve table (one row per
trial and report): the trials in each status at every value of ``x``
(``training_iteration``, or a wall-clock column such as ``timestamp``),
stacked. A trial counts as ``PENDING`` before its first report, as the
status of its latest report so far while it reports (``RUNNING`` when the
curves have no ``status`` column), and from its last report on as its final
status: the ``status`` of the ``trials=`` table when given, else of its last
curve row, else ``TERMINATED``/``RUNNING`` from ``done``. Trials of
``trials=`` that never reported count in their final status throughout.
Known statuses (Ray Tune's ``PENDING``, ``RUNNING``, ``PAUSED``,
``TERMINATED``, ``ERROR``) keep fixed colours; any other status gets an
identity colour. An empty table draws a "no trials" note.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._frames import as_frame, is_curve_frame
from .._table import KNOWN_STATUSES, STEP
from .._validation import check_int, floats
from ..errors import ConfigurationError
from ._common import identity_colors, new_axes, no_data

__all__ = ["KNOWN_STATUSES", "STATUS_COLORS", "StatusData", "plot_status"]

#: One colour per known status, the same in every plot and report.
STATUS_COLORS = {
    "PENDING": "#b8bcc2",
    "RUNNING": "#1f77b4",
    "PAUSED": "#e8a33d",
    "TERMINATED": "#2ca02c",
    "ERROR": "#d62728",
}
#: Status of a trial whose status the table does not say (a null cell, or curves without status or done).
UNKNOWN = "UNKNOWN"
KINDS = ("area", "bars")


@dataclass(frozen=True)
class StatusData:
    """What :func:`plot_status` draws.

    ``statuses`` (known ones in :data:`KNOWN_STATUSES` order, then the others
    sorted; only those that occur) with their ``colors``. For a trials table
    ``x`` is None and ``counts`` has one number per status; for curves
    ``counts`` is ``len(statuses) x len(x)``: trials per status at each
    ``x`` value.
    """

    statuses: tuple[str, ...]
    colors: tuple[Any, ...]
    counts: np.ndarray
    x: np.ndarray | None
    x_label: str | None
    n_trials: int


def _status_strings(series: pd.Series) -> np.ndarray:
    """Statuses as Python strings, a missing one as :data:`UNKNOWN`."""
    return series.astype("string").fillna(UNKNOWN).to_numpy(dtype=object)


def _order_and_colors(names: list[str]) -> tuple[tuple[str, ...], tuple[Any, ...]]:
    known = [s for s in KNOWN_STATUSES if s in names]
    other = sorted(s for s in names if s not in STATUS_COLORS)
    # Skip the first identity colours (blue, red, green): they read as RUNNING, ERROR, TERMINATED.
    extra = identity_colors(3 + len(other))[3:]
    return tuple(known + other), tuple([STATUS_COLORS[s] for s in known] + extra)


def _final_status(curves: pd.DataFrame, trials: pd.DataFrame | None, ids: np.ndarray,
                  last_rows: np.ndarray) -> np.ndarray:
    """Each trial's final status (``ids`` are the trials, ``last_rows`` their last curve rows)."""
    if trials is not None:
        by_id = pd.Series(_status_strings(trials["status"]), index=trials["trial_id"].astype(object).to_numpy())
        by_id = by_id[~by_id.index.duplicated(keep="last")]
        found = by_id.reindex(ids).to_numpy(dtype=object)
        missing = pd.isna(found)
        if missing.any():
            found[missing] = _final_status(curves, None, ids[missing], last_rows[missing])
        return found
    if "status" in curves.columns:
        return _status_strings(curves["status"].iloc[last_rows])
    if "done" in curves.columns:
        done = curves["done"].iloc[last_rows].to_numpy(dtype=object)
        return np.array(["TERMINATED" if d is True or d == 1 else "RUNNING" for d in done], dtype=object)
    return np.full(len(ids), UNKNOWN, dtype=object)


def _status_data(
    table: Any,
    *,
    trials: Any = None,
    x: str | None = None,
    max_points: int = 200,
) -> StatusData:
    """Compute the counts (see :func:`plot_status`)."""
    max_points = check_int("max_points", max_points, low=2)
    frame = as_frame(table)
    if not is_curve_frame(frame):
        if trials is not None:
            raise ConfigurationError("trials= goes with a curve table; this table has one row per trial")
        if x is not None:
            raise ConfigurationError(f"x={x!r} needs a curve table (one row per trial and report)")
        if "status" not in frame.columns:
            raise ConfigurationError("the table has no 'status' column to count")
        status = _status_strings(frame["status"])
        names, counts = np.unique(status, return_counts=True) if len(status) else (np.zeros(0), np.zeros(0))
        tally = dict(zip(names.tolist(), counts.tolist()))
        order, colors = _order_and_colors(list(tally))
        return StatusData(order, colors, np.array([tally[s] for s in order], dtype=np.int64), None, None,
                          len(frame))
    if x is None:
        x = "timestamp" if "timestamp" in frame.columns else STEP
    for column in ("trial_id", x):
        if column not in frame.columns:
            raise ConfigurationError(f"the curves have no {column!r} column")
    if not pd.api.types.is_numeric_dtype(frame[x].dtype) or pd.api.types.is_bool_dtype(frame[x].dtype):
        raise ConfigurationError(f"x must be a numeric column of the curves; {x!r} is {frame[x].dtype}")
    trials_frame = as_frame(trials) if trials is not None else None
    if trials_frame is not None:
        for column in ("trial_id", "status"):
            if column not in trials_frame.columns:
                raise ConfigurationError(f"trials= has no {column!r} column")

    xs = floats(frame[x])
    ok = np.isfinite(xs)
    curves = frame[ok].reset_index(drop=True)
    xs = xs[ok]
    trial_code, ids = pd.factorize(curves["trial_id"].astype(object))
    ids = np.asarray(ids, dtype=object)
    pos = np.lexsort((np.arange(len(curves)), xs, trial_code))
    code, xs = trial_code[pos], xs[pos]
    first = np.ones(len(pos), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    last = np.ones(len(pos), dtype=bool)
    last[:-1] = code[1:] != code[:-1]
    row_status = _status_strings(curves["status"].iloc[pos]) if "status" in curves.columns \
        else np.full(len(pos), "RUNNING", dtype=object)
    final = _final_status(curves, trials_frame, ids, pos[last])  # trials in first-seen (code) order
    state = row_status.copy()
    state[last] = final
    prev = np.empty_like(state)
    prev[1:] = state[:-1]
    prev[first] = "PENDING"

    absent = np.zeros(0, dtype=object)  # final statuses of trials that never reported
    if trials_frame is not None:
        reported = set(ids.tolist())
        mask = ~trials_frame["trial_id"].astype(object).isin(reported).to_numpy(dtype=bool)
        absent = _status_strings(trials_frame["status"][mask])

    names = sorted(set(state.tolist()) | set(absent.tolist()) | {"PENDING"})
    order, colors = _order_and_colors(names)
    index = {s: i for i, s in enumerate(order)}
    k = len(order)
    grid = np.unique(xs)
    if len(grid) > max_points:
        grid = np.linspace(grid[0], grid[-1], max_points)
    base = np.zeros(k)
    base[index["PENDING"]] += len(ids)
    for s in absent:
        base[index[s]] += 1
    change = state != prev
    ev_x = np.concatenate([xs[change], xs[change]])
    ev_code = np.array([index[s] for s in np.concatenate([state[change], prev[change]])], dtype=np.int64)
    ev_delta = np.concatenate([np.ones(int(change.sum())), -np.ones(int(change.sum()))])
    ev_bin = np.searchsorted(grid, ev_x, side="left")  # an event at x counts from the first grid point >= x
    inside = ev_bin < len(grid)
    deltas = np.bincount(ev_code[inside] * len(grid) + ev_bin[inside], weights=ev_delta[inside],
                         minlength=k * len(grid)).reshape(k, len(grid))
    counts = np.rint(base[:, None] + np.cumsum(deltas, axis=1)).astype(np.int64)
    present = counts.any(axis=1)
    return StatusData(tuple(s for s, p in zip(order, present) if p),
                      tuple(c for c, p in zip(colors, present) if p), counts[present], grid, x,
                      len(ids) + len(absent))


def plot_status(
    table: Any,
    *,
    trials: Any = None,
    x: str | None = None,
    kind: str = "area",
    max_points: int = 200,
    ax: Any = None,
) -> Any:
    """Trials by status: bars for a trials table, stacked counts over ``x`` for a curve table; returns the Axes.

    ``x`` (curves only) is the column to count along: default ``timestamp``
    when the curves have it, else ``training_iteration``. ``trials=`` (a
    trials table) supplies each trial's final status, which curves alone may
    not know. ``kind`` is ``"area"`` (stacked, stepwise) or ``"bars"``
    (stacked bars). With more than ``max_points`` distinct ``x`` values the
    counts are taken at ``max_points`` evenly spaced ones.
    """
    if kind not in KINDS:
        raise ConfigurationError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    data = _status_data(table, trials=trials, x=x, max_points=max_points)
    created = ax is None
    ax = new_axes(ax, figsize=(7.5, 4.0))
    if created and data.x is not None:
        ax.figure.subplots_adjust(right=0.74)  # the legend sits to the right of the axes
    ax.set_ylabel("trials")
    if data.x is None:
        ax.set_title(f"Trials by status ({data.n_trials} trials)")
        ax.set_xlabel("status")
        if data.n_trials == 0:
            return no_data(ax)
        bars = ax.bar(list(data.statuses), data.counts, color=list(data.colors))
        ax.bar_label(bars, fontsize="small")
        return ax
    ax.set_title(f"Trials by status over {data.x_label} ({data.n_trials} trials)")
    ax.set_xlabel(data.x_label)
    if data.n_trials == 0 or len(data.x) == 0:
        return no_data(ax)
    labels = [f"{s} ({c})" for s, c in zip(data.statuses, data.counts[:, -1])]
    if kind == "area":
        # Each count holds from its x to the next; give the last one a step of its own so its change shows.
        gap = float(data.x[-1] - data.x[-2]) if len(data.x) > 1 else 1.0
        x_draw = np.append(data.x, data.x[-1] + gap)
        counts_draw = np.hstack([data.counts, data.counts[:, -1:]])
        ax.stackplot(x_draw, counts_draw, labels=labels, colors=list(data.colors), step="post", linewidth=0)
        ax.set_xlim(x_draw[0], x_draw[-1])
    else:
        width = 0.8 * (float(np.min(np.diff(data.x))) if len(data.x) > 1 else 1.0)
        bottom = np.zeros(len(data.x))
        for label, color, row in zip(labels, data.colors, data.counts):
            ax.bar(data.x, row, width=width, bottom=bottom, color=color, label=label, linewidth=0)
            bottom = bottom + row
    ax.set_ylim(0, data.n_trials * 1.02)
    # Newest first in the legend, matching the stack from the top.
    handles, names = ax.get_legend_handles_labels()
    ax.legend(handles[::-1], names[::-1], loc="center left", bbox_to_anchor=(1.01, 0.5), fontsize="small",
              title="at the end")
    return ax
