"""The plot registry: which plots of :mod:`hpo_analytics.plots` a report draws, in which section, with
which arguments (:data:`PLOTS`), and the index page's figure; :mod:`._figures` turns each into an
embedded PNG."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from . import _figures
from ._job import Job

__all__ = [
    "Call",
    "MAX_INDEX_CURVES",
    "MAX_PANELS",
    "MAX_PARALLEL",
    "MAX_RULE_PLOTS",
    "PLOTS",
    "Plot",
    "index_figure",
    "plots_html",
]

#: Panels of the per-parameter plots (the most important parameters), axes of the parallel coordinates,
#: and stop rules drawn one plot each.
MAX_PANELS = 6
MAX_PARALLEL = 8
MAX_RULE_PLOTS = 4
#: Jobs the index page draws one distribution curve each for (beyond that the legend is unreadable).
MAX_INDEX_CURVES = 12


@dataclass(frozen=True)
class Call:
    """One drawing: ``plot(*args, **options)`` on one Axes of ``figsize``, or on ``panels`` Axes; or a note."""

    args: tuple[Any, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    figsize: tuple[float, float] = (7.0, 4.5)
    panels: int | None = None
    title: str | None = None
    caption: str = ""
    note: str | None = None


@dataclass(frozen=True)
class Plot:
    """A plot of :mod:`hpo_analytics.plots`, the section it goes in, and the drawings a job gets from it."""

    name: str
    title: str
    section: str
    calls: Callable[[Job], list[Call]]


def _target(job: Job) -> dict[str, Any]:
    return {"metric": job.metric, "mode": job.mode}


def _status(job: Job) -> list[Call]:
    return [Call((job.trials,), figsize=(6.5, 3.0))] if "status" in job.trials.columns else []


def _on_trials(job: Job) -> list[Call]:
    return [Call((job.trials,), _target(job))]


def _importance_bars(job: Job) -> list[Call]:
    if job.importance is None or job.importance.empty:
        return []
    return [Call((job.importance,), figsize=(7.0, max(2.6, 1.1 + 0.4 * len(job.importance))))]


def _params_panels(job: Job) -> list[Call]:
    params = job.params[:MAX_PANELS]
    if not params:
        return []
    if not job.ranked:
        caption = "Parameters in table order" + (f" (the first {len(params)})." if len(job.params) > len(params)
                                                 else ".")
    elif len(job.params) > len(params):
        caption = f"The {len(params)} most important of {len(job.params)} parameters."
    else:
        caption = "Parameters from most to least important."
    return [Call((job.trials,), {"params": params, **_target(job)}, panels=len(params), caption=caption)]


def _parallel(job: Job) -> list[Call]:
    params = job.params[:MAX_PARALLEL]
    if not params:
        return []
    return [Call((job.trials,), {"params": params, **_target(job)}, figsize=(10.0, 4.8))]


def _contour(job: Job) -> list[Call]:
    if len(job.params) < 2:
        return []
    x, y = job.params[:2]
    return [Call((job.trials,), {"x": x, "y": y, **_target(job)}, figsize=(7.0, 5.0),
                  caption="The two most important parameters." if job.ranked else "The first two parameters.")]


def _pareto(job: Job) -> list[Call]:
    if "time_total_s" not in job.trials.columns or job.metric == "time_total_s":
        return []
    return [Call((job.trials,), _target(job), caption=f"{job.metric} against the run time of each trial.")]


def _curves(job: Job) -> list[Call]:
    if job.curves is None:
        return []
    stopped = {"stopped": job.decisions} if job.decisions is not None else {}
    return [Call((job.curves,), {**_target(job), "top_k": 5, **stopped}, figsize=(8.0, 4.8))]


def _stop_decisions(job: Job) -> list[Call]:
    if job.decisions is None:
        return []
    if job.curves is None:
        return [Call(note="the curves are needed to draw the decisions")]
    rules = sorted(job.decisions["rule"].dropna().astype(str).unique())
    calls = []
    for rule in rules[:MAX_RULE_PLOTS]:
        d = job.decisions[job.decisions["rule"].astype(object) == rule]
        calls.append(Call((job.curves,), {"decisions": d, **_target(job)}, figsize=(8.0, 4.8),
                           title=f"Stop decisions: {rule}" if len(rules) > 1 else None))
    return calls


def _backtest(job: Job) -> list[Call]:
    return [Call((job.backtest,))] if job.backtest is not None else []


#: Every plot of hpo_analytics.plots, in report order.
PLOTS: tuple[Plot, ...] = (
    Plot("plot_status", "Trials by status", "summary", _status),
    Plot("plot_optimization_history", "Optimization history", "summary", _on_trials),
    Plot("plot_edf", "Distribution of the metric", "summary", _on_trials),
    Plot("plot_param_importance", "Parameter importance", "parameters", _importance_bars),
    Plot("plot_marginals", "Metric by parameter value", "parameters", _params_panels),
    Plot("plot_slice", "Metric against each parameter", "parameters", _params_panels),
    Plot("plot_parallel_coordinates", "Parallel coordinates", "parameters", _parallel),
    Plot("plot_contour", "Metric over two parameters", "parameters", _contour),
    Plot("plot_pareto_front", "Pareto front", "parameters", _pareto),
    Plot("plot_learning_curves", "Learning curves", "curves", _curves),
    Plot("plot_stop_decisions", "Stop decisions", "decisions", _stop_decisions),
    Plot("plot_backtest", "Back-test of stop rules", "backtest", _backtest),
)


def plots_html(job: Job, section: str) -> str:
    """Every drawing :data:`PLOTS` gives ``job`` for ``section``, in order, as embedded figures or notes."""
    from .. import plots

    out = []
    for spec in PLOTS:
        if spec.section != section:
            continue
        fn = getattr(plots, spec.name)
        for call in spec.calls(job):
            title = call.title or spec.title
            if call.note is not None:
                out.append(_figures.skipped_html(title, call.note))
                continue
            # Multi-panel figures carry no title of their own: the caption names them.
            caption = f"{title}. {call.caption}".strip() if call.panels else call.caption
            out.append(_figures.draw(fn, call.args, call.options, title=title, figsize=call.figsize,
                                     panels=call.panels, caption=caption))
    return "".join(out)


def index_figure(rows: list[tuple[str, str, Job]]) -> str:
    """The metric's distribution per job, one curve each, when the jobs share a metric and direction."""
    title = "Distribution of the metric by job"
    targets = {(job.metric, job.mode) for _, _, job in rows}
    if len(targets) != 1:
        return ""
    if len(rows) > MAX_INDEX_CURVES:
        return _figures.skipped_html(title, f"more than {MAX_INDEX_CURVES} jobs")
    from ..plots import plot_edf

    metric, mode = next(iter(targets))
    by_job = {name: job.trials for name, _, job in rows}
    return _figures.draw(plot_edf, (by_job,), {"metric": metric, "mode": mode}, title=title, figsize=(8.0, 4.8))
