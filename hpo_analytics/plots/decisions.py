"""Why was my trial stopped? Curves, the rule's reference at each step, and every stop with its reason."""

from __future__ import annotations

import textwrap
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._frames import as_frame, check_metric, resolve_metric
from .._table import STEP
from .._validation import check_int, floats
from ..errors import ConfigurationError
from ..stopping import Rule, SuccessiveHalvingRule, replay_log
from ._common import MASS_COLOR, STOP_COLOR, identity_colors, metric_label, new_axes, no_data
from ._curvematrix import curve_matrix, curve_points, latest_finite

__all__ = ["plot_stop_decisions"]

#: How each rule's reference reads on the plot (by :attr:`Rule.name`).
REFERENCE_LABELS = {
    "median": "median of the finished trials",
    "percentile": "percentile cut-off of the finished trials",
    "threshold": "threshold",
    "significance": "reference level (finished trials)",
    "asha": "rung cut-off",
}
#: Rules whose reference is per trial (its own past), not one number per step.
OWN_REFERENCE = {"patience"}
#: Rules whose reference exists only at a few steps (rungs): drawn as points.
POINT_REFERENCE = {"asha"}

DECISION_NEEDS = ("trial_id", "stop", "step", "value", "reference", "reason")


@dataclass(frozen=True)
class StopDecisionsData:
    """What :func:`plot_stop_decisions` draws.

    ``points`` are the curves (``(trials, steps, 2)``, see
    :func:`~hpo_analytics.plots._curvematrix.curve_points`) of ``trial_ids``;
    ``stop_col[i]`` is the column trial ``i`` was stopped at (``-1``: never),
    so ``points[i, :stop_col + 1]`` ran and the rest would not have.
    ``reference`` has one row per step where the rule compared with
    something: ``step``, ``latest`` (the reference of the last decision at
    that step, i.e. as the search ended), ``low``/``high`` (its range over the
    search); ``reference_kind`` is ``"line"``, ``"points"`` (rungs) or
    ``"own"`` (each trial against its own past: no per-step reference).
    ``stops`` has one row per stopped trial (``trial_id``, ``step``,
    ``value``, ``reference``, ``reason``, ``final``: its best value over the
    whole curve), in stop order; ``explained`` lists the trials whose reason
    is spelled out (``highlight`` when given, else the stopped trials that
    would have ended best), with ``explain_text``.
    """

    trial_ids: np.ndarray
    points: np.ndarray
    stop_col: np.ndarray
    reference: pd.DataFrame
    reference_kind: str
    reference_label: str
    stops: pd.DataFrame
    explained: tuple[str, ...]
    explain_text: tuple[str, ...]
    rule: str
    metric: str
    mode: str


def _rule_name(rule: Rule | None, decisions: pd.DataFrame) -> tuple[str, str]:
    """``(name, description)`` of the rule, from the instance or the decision table's ``rule`` column."""
    if rule is not None:
        return rule.name, rule.describe()
    if "rule" in decisions.columns and len(decisions):
        text = str(decisions["rule"].iloc[0])
        return text.split("(", 1)[0], text
    return "rule", "rule"


def _check_decisions(decisions: Any) -> pd.DataFrame:
    try:
        frame = as_frame(decisions)
    except ConfigurationError:
        raise ConfigurationError(f"decisions must be a decision table (as Rule.decide returns), "
                                 f"not {type(decisions).__name__}") from None
    missing = [c for c in DECISION_NEEDS if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"the decision table has no {', '.join(map(repr, missing))} column")
    return frame


def _stop_decisions_data(curves: Any, rule: Rule | None = None, *, decisions: Any = None,
                         highlight: Iterable[str] | None = None, metric: str | None = None,
                         mode: str | None = None, concurrency: int = 4, explain: int = 3) -> StopDecisionsData:
    """Replay ``rule`` over ``curves`` (or take ``decisions``) and gather what to draw."""
    frame = as_frame(curves)
    if "reason" in frame.columns and "stop" in frame.columns and STEP not in frame.columns:
        raise ConfigurationError("the first argument looks like a decision table: pass the curves first and "
                                 "the decisions as decisions= (the curves are what the stops are drawn on)")
    if (rule is None) == (decisions is None):
        raise ConfigurationError("pass a stop rule (rule=) to replay, or a decision table (decisions=), "
                                 "exactly one of them")
    if rule is not None and not isinstance(rule, Rule):
        raise ConfigurationError(f"rule must be a hpo_analytics.stopping rule, not {type(rule).__name__}")
    explain = check_int("explain", explain, low=0)
    metric, mode_ = resolve_metric(frame, metric or (rule.metric if rule else None),
                                   mode or (rule.mode if rule else None))
    check_metric(curves, metric)  # the input itself, so an Arrow column is named by its Arrow type
    cm = curve_matrix(frame, metric)
    log = replay_log(frame, rule, metric=metric, mode=mode_, concurrency=concurrency) if rule is not None \
        else _check_decisions(decisions)
    name, description = _rule_name(rule, log)
    ids = cm.trial_ids.astype(str)
    trial_ids = log["trial_id"].astype(str).to_numpy(dtype=object)
    steps = floats(log["step"])
    stop = log["stop"].to_numpy(dtype=bool, na_value=False) & ~np.isnan(steps)
    value = floats(log["value"])
    ref = floats(log["reference"])
    reasons = log["reason"].astype(object).to_numpy()

    # one row per stopped trial: its first stop
    stops = pd.DataFrame({"trial_id": trial_ids[stop], "step": steps[stop], "value": value[stop],
                          "reference": ref[stop], "reason": reasons[stop]})
    stops = stops.drop_duplicates("trial_id", keep="first").reset_index(drop=True)
    stops["step"] = stops["step"].astype(np.int64)
    row = pd.Index(ids).get_indexer(stops["trial_id"].to_numpy(dtype=object))
    stops = stops[row >= 0].reset_index(drop=True)
    row = row[row >= 0]
    sign = 1.0 if mode_ == "max" else -1.0
    with np.errstate(all="ignore"):
        final = sign * np.fmax.reduce(sign * cm.values, axis=1) if cm.values.shape[1] else np.zeros(len(ids))
    stops["final"] = final[row]
    # where the marker goes: the value compared, else (a diverged trial) its latest finite value by then
    fallback = latest_finite(cm, stops["trial_id"].to_numpy(dtype=object), stops["step"].to_numpy())
    stops["y"] = np.where(np.isfinite(stops["value"].to_numpy(dtype=float)), stops["value"], fallback)
    stop_col = np.full(len(ids), -1, dtype=np.int64)
    stop_col[row] = np.searchsorted(cm.steps, stops["step"].to_numpy(), side="right") - 1

    kind = "own" if name in OWN_REFERENCE else "points" if name in POINT_REFERENCE else "line"
    if kind == "own":
        reference = pd.DataFrame({"step": np.zeros(0, np.int64), "latest": np.zeros(0), "low": np.zeros(0),
                                  "high": np.zeros(0)})
    else:
        has = ~np.isnan(ref) & ~np.isnan(steps)
        at = steps[has].astype(np.int64)
        if isinstance(rule, SuccessiveHalvingRule) and len(at):
            # a trial past a rung is still judged against that rung's cut-off: file it under the rung
            rungs = rule.rungs(int(at.max()))
            at = rungs[np.maximum(np.searchsorted(rungs, at, side="right") - 1, 0)]
        by = pd.DataFrame({"step": at, "ref": ref[has]}).groupby("step", sort=True)["ref"]
        reference = pd.DataFrame({"latest": by.last(), "low": by.min(), "high": by.max()}).reset_index()

    if highlight is not None:
        wanted = [str(t) for t in highlight]
        unknown = [t for t in wanted if t not in set(ids)]
        if unknown:
            raise ConfigurationError(f"no curves for trial(s) {', '.join(map(repr, unknown[:5]))}")
        explained = tuple(dict.fromkeys(wanted))
    else:
        order = np.argsort(-sign * stops["final"].to_numpy(dtype=float), kind="stable")
        ranked = stops["trial_id"].to_numpy(dtype=object)[order]
        finite = np.isfinite(stops["final"].to_numpy(dtype=float))[order]
        explained = tuple(str(t) for t in ranked[finite][:explain])
    texts = []
    by_trial = stops.set_index("trial_id")
    for trial in explained:
        if trial in by_trial.index:
            s = by_trial.loc[trial]
            texts.append(f"{trial} stopped at step {int(s['step'])}: {s['reason']}")
        else:
            mine = np.flatnonzero(trial_ids == trial)
            last = f": {reasons[mine[-1]]}" if len(mine) and reasons[mine[-1]] else ""
            texts.append(f"{trial} not stopped{last}")
    return StopDecisionsData(
        trial_ids=ids.astype(object), points=curve_points(cm), stop_col=stop_col, reference=reference,
        reference_kind=kind, reference_label=REFERENCE_LABELS.get(name, f"{name} reference"), stops=stops,
        explained=explained, explain_text=tuple(texts), rule=description, metric=metric, mode=mode_,
    )


def plot_stop_decisions(curves: Any, rule: Rule | None = None, *, decisions: Any = None,
                        highlight: Iterable[str] | None = None, metric: str | None = None, mode: str | None = None,
                        concurrency: int = 4, explain: int = 3, ax: Any = None) -> Any:
    """The picture that answers "why was my trial stopped?".

    Give the curves (long table) and either a stop ``rule`` — the search is
    replayed as :func:`~hpo_analytics.stopping.backtest` replays it
    (``concurrency`` trials at a time, in ``trial_index`` order) and every
    decision is kept — or ``decisions``, a decision table already made
    (``Rule.decide``'s, or :func:`~hpo_analytics.stopping.replay_log`'s).

    Drawn: every curve (thin grey up to its stop; dotted after it, the part a
    replay says would not have run), the rule's reference at each step (a
    line for the latest reference as the search ended and a band for its
    range over the search; points at the rungs for successive halving;
    nothing per step for rules that compare a trial with its own past), each
    stop as an ``x`` at the value the rule compared, joined to the reference
    it was compared with. The reasons of a few trials are spelled out in the
    legend, their curves in matching colours: ``highlight`` (trial ids; a
    trial that was not stopped shows the rule's last word on it), else the ``explain``
    stopped trials that would have ended best. A curve table without
    reports draws a "no trials" note. Raises
    :class:`~hpo_analytics.errors.ConfigurationError` when both or neither of
    ``rule``/``decisions`` are given, a ``highlight`` id has no curve, or the
    metric is not numeric or has no finite value.
    Returns the Axes.
    """
    from matplotlib.collections import LineCollection
    from matplotlib.lines import Line2D

    data = _stop_decisions_data(curves, rule, decisions=decisions, highlight=highlight, metric=metric, mode=mode,
                                concurrency=concurrency, explain=explain)
    ax = new_axes(ax, figsize=(9.0, 5.5))
    n, m = data.points.shape[:2]
    ax.set_xlabel(STEP)
    ax.set_ylabel(metric_label(data.metric, data.mode))
    ax.set_title(f"Stop decisions: {textwrap.shorten(data.rule, width=90)}", fontsize="medium")
    if not n:
        return no_data(ax)
    cols = np.arange(m)[None, :]
    ran = (data.stop_col < 0)[:, None] | (cols <= data.stop_col[:, None])
    before = np.where(ran[..., None], data.points, np.nan)
    after = np.where(~ran[..., None] | (cols == data.stop_col[:, None])[..., None], data.points, np.nan)
    stopped = data.stop_col >= 0
    alpha = float(np.clip(25.0 / max(n, 1), 0.01, 0.6))
    handles: list[Any] = []
    ax.add_collection(LineCollection(before, colors=MASS_COLOR, linewidths=0.8, alpha=alpha, rasterized=n > 500,
                                     zorder=1))
    handles.append(Line2D([], [], color=MASS_COLOR, linewidth=1.2, label=f"curves ({n} trials)"))
    if stopped.any():
        ax.add_collection(LineCollection(after[stopped], colors=MASS_COLOR, linewidths=0.8, linestyles=":",
                                         alpha=min(1.0, 1.5 * alpha), rasterized=n > 500, zorder=1))
        handles.append(Line2D([], [], color=MASS_COLOR, linewidth=1.2, linestyle=":",
                              label="after the stop (would not have run)"))
    ref = data.reference
    if len(ref):
        x = ref["step"].to_numpy(dtype=float)
        if data.reference_kind == "points":
            handles.append(ax.scatter(x, ref["latest"], marker="_", s=400, linewidths=2.5, color="black",
                                      zorder=4, label=data.reference_label))
            ax.vlines(x, ref["low"], ref["high"], colors="black", linewidths=1.0, alpha=0.5, zorder=4)
        else:
            handles += ax.plot(x, ref["latest"], color="black", linewidth=1.6, zorder=4,
                               label=f"{data.reference_label} (as the search ended)")
            if (ref["high"] > ref["low"]).any():
                handles.append(ax.fill_between(x, ref["low"], ref["high"], color="black", alpha=0.12, linewidth=0,
                                               zorder=2, label="its range during the search"))
    stops = data.stops
    if len(stops):
        sx = stops["step"].to_numpy(dtype=float)
        sv = stops["y"].to_numpy(dtype=float)
        sr = stops["reference"].to_numpy(dtype=float)
        placed = np.isfinite(sv)
        gap = placed & np.isfinite(sr) & np.isfinite(stops["value"].to_numpy(dtype=float))
        ax.vlines(sx[gap], sv[gap], sr[gap], colors=STOP_COLOR, linewidths=0.6, alpha=0.5, zorder=3)
        handles.append(ax.scatter(sx[placed], sv[placed], marker="x", s=26, color=STOP_COLOR, linewidths=1.1,
                                  zorder=5, label=f"stopped ({len(stops)}; x = the value compared)"))
    index = {t: i for i, t in enumerate(data.trial_ids.tolist())}
    by_trial = stops.set_index("trial_id") if len(stops) else None
    for trial, text, color in zip(data.explained, data.explain_text, identity_colors(len(data.explained))):
        row = index[trial]
        pts = before[row]
        ax.plot(pts[:, 0], pts[:, 1], color=color, linewidth=2.0, zorder=6)
        ax.plot(after[row, :, 0], after[row, :, 1], color=color, linewidth=1.2, linestyle=":", zorder=6)
        label = textwrap.fill(text, width=70)
        if by_trial is not None and trial in by_trial.index and np.isfinite(by_trial.loc[trial, "y"]):
            s = by_trial.loc[trial]
            handles.append(ax.scatter([s["step"]], [s["y"]], marker="X", s=90, color=color,
                                      edgecolors="black", linewidths=0.6, zorder=7, label=label))
        else:
            handles.append(Line2D([], [], color=color, linewidth=2.0, label=label))
    ok = np.isfinite(data.points).all(axis=-1)
    if ok.any():
        pts = data.points[ok]
        ax.update_datalim(np.array([pts.min(axis=0), pts.max(axis=0)]))
        ax.autoscale_view()
    ax.legend(handles=handles, loc="best", fontsize="x-small")
    return ax
