"""Assemble the per-job report and the index page (see the package docstring)."""

from __future__ import annotations

import os
import re
import secrets
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from .._frames import as_frame, check_metric, declared_metrics, resolve_metric
from ..analysis import param_importance, rank_trials, summarize
from ..analysis._common import PARAM_PREFIX, param_columns
from ..errors import ConfigurationError, HpoAnalyticsError, InsufficientDataWarning
from ..stopping import BACKTEST_COLUMNS, DECISION_COLUMNS
from . import _figures
from ._html import Cell, fmt, fmt_duration, key_values, page, table, text

__all__ = ["DEFAULT_TITLE", "JOB_KEYS", "TOP_TRIALS", "build_report", "build_reports", "safe_names"]

DEFAULT_TITLE = "Hyperparameter search report"
#: Keys a job of :func:`build_reports` may have (``trials`` is required).
JOB_KEYS = ("trials", "curves", "decisions", "backtest")
#: Rows of the top-trials table.
TOP_TRIALS = 20
#: Stop decisions listed one per row (the rest are counted).
_MAX_STOP_ROWS = 50
#: Panels of the per-parameter plots (the most important parameters), axes of the parallel coordinates,
#: and stop rules drawn one plot each.
MAX_PANELS = 6
MAX_PARALLEL = 8
MAX_RULE_PLOTS = 4
#: Jobs the index page draws one distribution curve each for (beyond that the legend is unreadable).
MAX_INDEX_CURVES = 12
_MAX_BEST_IDS = 10


# --------------------------------------------------------------------------- inputs


@dataclass
class _Job:
    """One job's validated inputs and the numbers computed once for it."""

    trials: pd.DataFrame
    metric: str
    mode: str
    curves: pd.DataFrame | None = None
    decisions: pd.DataFrame | None = None
    backtest: pd.DataFrame | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    importance: pd.DataFrame | None = None
    importance_error: str | None = None
    params: list[str] = field(default_factory=list)  # most important first, when ranked
    ranked: bool = False  # whether params are in order of importance (else table order)
    declared: list[tuple[str, str | None]] = field(default_factory=list)  # the job's metrics, default first

    @property
    def others(self) -> list[tuple[str, str | None]]:
        """The declared metrics other than the one the report ranks by, in declared order."""
        return [(name, mode) for name, mode in self.declared if name != self.metric]


def _frame_or_none(value: Any, what: str, required: Sequence[str]) -> pd.DataFrame | None:
    if value is None:
        return None
    try:
        frame = as_frame(value)
    except ConfigurationError:
        raise ConfigurationError(
            f"{what} must be a pyarrow.Table or pandas.DataFrame, not {type(value).__name__}"
        ) from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise ConfigurationError(f"{what} table lacks column(s) {', '.join(missing)}")
    return frame


def _direction(mode: str | None) -> str:
    """``"higher is better"``, ``"lower is better"``, or ``"direction not declared"`` for ``None``."""
    return {"max": "higher is better", "min": "lower is better"}.get(mode or "", "direction not declared")


def _prepare(trials: Any, *, curves: Any, decisions: Any, backtest: Any, metric: str | None,
             mode: str | None) -> _Job:
    if trials is None:
        raise ConfigurationError("trials is required (a pyarrow.Table or pandas.DataFrame of trials)")
    frame = _frame_or_none(trials, "trials", ("trial_id",))
    assert frame is not None
    metric, mode = resolve_metric(trials, metric, mode)
    check_metric(trials, metric)  # on the table as given, so an error names its own (Arrow) type
    curve_frame = _frame_or_none(curves, "curves", ("trial_id", "training_iteration", metric))
    job = _Job(
        trials=frame,
        metric=metric,
        mode=mode,
        curves=curve_frame,
        decisions=_frame_or_none(decisions, "decisions", DECISION_COLUMNS),
        backtest=_frame_or_none(backtest, "backtest", BACKTEST_COLUMNS),
        declared=declared_metrics(frame),
    )
    job.summary = summarize(frame, metric=metric, mode=mode)
    try:
        with warnings.catch_warnings():
            # Too few trials is said on the page itself (the table's attrs carry the sentence).
            warnings.simplefilter("ignore", InsufficientDataWarning)
            job.importance = param_importance(frame, metric=metric, mode=mode)
        job.ranked = bool((job.importance["importance"] > 0).any())
    except HpoAnalyticsError as exc:
        job.importance_error = str(exc)
    if job.ranked:
        assert job.importance is not None
        job.params = job.importance["param"].astype(str).tolist()
    else:
        job.params = [c.removeprefix(PARAM_PREFIX) for c in param_columns(frame)]
    return job


# --------------------------------------------------------------------------- sections


def _ranking_note(job: _Job) -> str:
    """Which metric the report ranks by and the other metrics the job declares, as escaped HTML text."""
    said = f"Ranked by {job.metric} ({_direction(job.mode)}"
    declared_mode = dict(job.declared).get(job.metric)
    if declared_mode is not None and declared_mode != job.mode:
        said += f"; the job declares it {_direction(declared_mode)}"
    said += ")."
    if job.others:
        also = "also declares" if len(job.others) < len(job.declared) else "declares"
        said += f" The job {also}: " + ", ".join(f"{n} ({_direction(m)})" for n, m in job.others) + "."
    return text(said)


def _summary_section(job: _Job) -> str:
    s = job.summary
    ids = s["best_trial_ids"]
    best_ids = ", ".join(ids[:_MAX_BEST_IDS]) + (f" and {len(ids) - _MAX_BEST_IDS} more"
                                                 if len(ids) > _MAX_BEST_IDS else "")
    q = s["quantiles"]
    spread = " / ".join(fmt(q[k]) for k in sorted(q))
    statuses = ", ".join(f"{k} {v:,}" for k, v in s["status_counts"].items()) or fmt(None)
    pairs: dict[str, Any] = {
        "metric": f"{s['metric']} ({'higher' if s['mode'] == 'max' else 'lower'} is better)",
        "trials": f"{s['n_trials']:,}",
        "trials with a score": f"{s['n_scored']:,}",
        "best value": s["best_value"],
        "best trial" if len(ids) <= 1 else f"best trials ({len(ids)} tied)": best_ids or fmt(None),
        "status": statuses,
        "min / 25% / median / 75% / max": spread,
        "parameters": ", ".join(s["params"]) or fmt(None),
        "total run time": fmt_duration(s["time_total_s"]),
        "longest trial": fmt_duration(s["max_time_s"]),
    }
    return key_values(pairs)


def _top_trials_section(job: _Job, top: int) -> str:
    ranked = rank_trials(job.trials, metric=job.metric, mode=job.mode)
    if not len(ranked):
        return '<p class="note">No trials.</p>'
    shown = ranked.head(top)
    params = param_columns(shown)
    columns = ["rank", "trial_id"]
    columns += [c for c in ("status",) if c in shown.columns]
    columns += ["score"] + params
    columns += [c for c in ("training_iteration", "time_total_s") if c in shown.columns]
    header = [job.metric if c == "score" else c.removeprefix(PARAM_PREFIX) for c in columns]
    rows = shown[columns].astype(object).to_numpy().tolist()
    classes = ["best" if b else "" for b in shown["is_best"].to_numpy(dtype=bool)]
    note = (f'<p class="note">The {len(shown):,} best of {len(ranked):,} trials by {text(job.metric)} '
            f"({text(job.mode)}); equal scores share a rank, trials without a score rank last; "
            "highlighted rows are tied for best.</p>")
    return note + table(header, rows, row_classes=classes)


def _importance_section(job: _Job) -> str:
    imp = job.importance
    if imp is None:
        return _figures.skipped_html("Parameter importance", job.importance_error or "unknown error")
    if imp.empty:
        return '<p class="note">No parameter columns (<code>param/...</code>) in the trials.</p>'
    info = imp.attrs.get("hpo_analytics.analysis", {})
    conf = float(info.get("confidence", 0.95))
    rows = [[r.param, r.importance, r.ci_low, r.ci_high, r.rank, r.rank_stability, r.kind]
            for r in imp.itertuples(index=False)]
    header = ["parameter", "importance", f"{conf:.0%} low", f"{conf:.0%} high", "rank", "rank stability", "kind"]
    if info.get("warning"):
        note = f'<p class="note">Importance not estimated: {text(info["warning"])}.</p>'
    elif not job.ranked:
        note = (f'<p class="note">No parameter explains any of the variation of {text(job.metric)} over '
                f'{text(info.get("n_trials", "?"))} scored trials.</p>')
    else:
        note = (f'<p class="note">Method {text(info.get("method", "?"))} over {text(info.get("n_trials", "?"))} '
                f'scored trials; intervals from {text(info.get("n_bootstrap", "?"))} bootstrap resamples; rank '
                "stability is the share of resamples that gave the same rank. Importances sum to 1.</p>")
        if info.get("fallback"):
            note += f'<p class="note">{text(info["fallback"])}.</p>'
    return note + table(header, rows)


def _decisions_section(job: _Job) -> str:
    d = job.decisions
    assert d is not None
    stop = d["stop"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    rules = d["rule"].astype(object).where(d["rule"].notna(), None).astype(str)
    per_rule = (pd.DataFrame({"rule": rules, "stop": stop})
                .groupby("rule", sort=True)["stop"].agg(["size", "sum"]))
    counts = table(["rule", "trials decided", "stop"],
                   [[name, int(r["size"]), int(r["sum"])] for name, r in per_rule.iterrows()])
    stops = d[stop]
    listed = stops.head(_MAX_STOP_ROWS)
    shown = ["trial_id", "rule", "step", "value", "reference", "reason"]
    rows = listed[shown].astype(object).to_numpy().tolist()
    more = len(stops) - len(listed)
    tail = f'<p class="note">and {more:,} more stop decisions not listed.</p>' if more > 0 else ""
    body = (table(shown, rows) + tail
            if len(stops) else '<p class="note">No trial would be stopped.</p>')
    return counts + "<h3>Trials to stop</h3>" + body


def _backtest_section(job: _Job) -> str:
    b = job.backtest
    assert b is not None

    def pct(v: Any) -> Any:
        return Cell(text(f"{float(v):.1%}"), numeric=True) if pd.notna(v) else None

    rows = [[r.rule, r.trials, r.stopped, pct(r.saved), r.best_stopped, pct(r.top_stopped), r.regret]
            for r in b.itertuples(index=False)]
    note = ('<p class="note">Each rule replayed over the finished search: iterations saved, whether the '
            "eventual best trial would have been stopped, the share of the top trials stopped, and the regret "
            "(how much worse the best surviving trial is).</p>")
    return note + table(["rule", "trials", "stopped", "iterations saved", "best stopped", "top stopped",
                         "regret"], rows)


# --------------------------------------------------------------------------- plots


@dataclass(frozen=True)
class _Call:
    """One drawing: ``plot(*args, **options)`` on one Axes of ``figsize``, or on ``panels`` Axes; or a note."""

    args: tuple[Any, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)
    figsize: tuple[float, float] = (7.0, 4.5)
    panels: int | None = None
    title: str | None = None
    caption: str = ""
    note: str | None = None


@dataclass(frozen=True)
class _Plot:
    """A plot of :mod:`hpo_analytics.plots`, the section it goes in, and the drawings a job gets from it."""

    name: str
    title: str
    section: str
    calls: Callable[[_Job], list[_Call]]


def _target(job: _Job) -> dict[str, Any]:
    return {"metric": job.metric, "mode": job.mode}


def _status(job: _Job) -> list[_Call]:
    return [_Call((job.trials,), figsize=(6.5, 3.0))] if "status" in job.trials.columns else []


def _on_trials(job: _Job) -> list[_Call]:
    return [_Call((job.trials,), _target(job))]


def _importance_bars(job: _Job) -> list[_Call]:
    if job.importance is None or job.importance.empty:
        return []
    return [_Call((job.importance,), figsize=(7.0, max(2.6, 1.1 + 0.4 * len(job.importance))))]


def _params_panels(job: _Job) -> list[_Call]:
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
    return [_Call((job.trials,), {"params": params, **_target(job)}, panels=len(params), caption=caption)]


def _parallel(job: _Job) -> list[_Call]:
    params = job.params[:MAX_PARALLEL]
    if not params:
        return []
    return [_Call((job.trials,), {"params": params, **_target(job)}, figsize=(10.0, 4.8))]


def _contour(job: _Job) -> list[_Call]:
    if len(job.params) < 2:
        return []
    x, y = job.params[:2]
    return [_Call((job.trials,), {"x": x, "y": y, **_target(job)}, figsize=(7.0, 5.0),
                  caption="The two most important parameters." if job.ranked else "The first two parameters.")]


def _pareto(job: _Job) -> list[_Call]:
    if "time_total_s" not in job.trials.columns or job.metric == "time_total_s":
        return []
    return [_Call((job.trials,), _target(job), caption=f"{job.metric} against the run time of each trial.")]


def _curves(job: _Job) -> list[_Call]:
    if job.curves is None:
        return []
    stopped = {"stopped": job.decisions} if job.decisions is not None else {}
    return [_Call((job.curves,), {**_target(job), "top_k": 5, **stopped}, figsize=(8.0, 4.8))]


def _stop_decisions(job: _Job) -> list[_Call]:
    if job.decisions is None:
        return []
    if job.curves is None:
        return [_Call(note="the curves are needed to draw the decisions")]
    rules = sorted(job.decisions["rule"].dropna().astype(str).unique())
    calls = []
    for rule in rules[:MAX_RULE_PLOTS]:
        d = job.decisions[job.decisions["rule"].astype(object) == rule]
        calls.append(_Call((job.curves,), {"decisions": d, **_target(job)}, figsize=(8.0, 4.8),
                           title=f"Stop decisions: {rule}" if len(rules) > 1 else None))
    return calls


def _backtest(job: _Job) -> list[_Call]:
    return [_Call((job.backtest,))] if job.backtest is not None else []


#: Every plot of hpo_analytics.plots, in report order.
PLOTS: tuple[_Plot, ...] = (
    _Plot("plot_status", "Trials by status", "summary", _status),
    _Plot("plot_optimization_history", "Optimization history", "summary", _on_trials),
    _Plot("plot_edf", "Distribution of the metric", "summary", _on_trials),
    _Plot("plot_param_importance", "Parameter importance", "parameters", _importance_bars),
    _Plot("plot_marginals", "Metric by parameter value", "parameters", _params_panels),
    _Plot("plot_slice", "Metric against each parameter", "parameters", _params_panels),
    _Plot("plot_parallel_coordinates", "Parallel coordinates", "parameters", _parallel),
    _Plot("plot_contour", "Metric over two parameters", "parameters", _contour),
    _Plot("plot_pareto_front", "Pareto front", "parameters", _pareto),
    _Plot("plot_learning_curves", "Learning curves", "curves", _curves),
    _Plot("plot_stop_decisions", "Stop decisions", "decisions", _stop_decisions),
    _Plot("plot_backtest", "Back-test of stop rules", "backtest", _backtest),
)


def _plots_html(job: _Job, section: str) -> str:
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


# --------------------------------------------------------------------------- pages


def _job_body(job: _Job, *, title: str, back: str | None, top: int) -> str:
    sections: list[tuple[str, str, str]] = [
        ("summary", "Summary", _summary_section(job) + _plots_html(job, "summary")),
        ("top-trials", "Top trials", _top_trials_section(job, top)),
        ("parameters", "Parameters", _importance_section(job) + _plots_html(job, "parameters")),
    ]
    if job.curves is not None:
        sections.append(("curves", "Learning curves", _plots_html(job, "curves")))
    if job.decisions is not None:
        sections.append(("decisions", "Early-stop decisions", _decisions_section(job)
                         + _plots_html(job, "decisions")))
    if job.backtest is not None:
        sections.append(("backtest", "Back-test of stop rules", _backtest_section(job)
                         + _plots_html(job, "backtest")))
    links = "".join(f'<a href="#{anchor}">{text(name)}</a>' for anchor, name, _ in sections)
    up = f'<a href="{text(back)}">All jobs</a>' if back else ""
    head = (f'<header><h1>{text(title)}</h1><p class="sub ranking">{_ranking_note(job)}</p>'
            f"<nav>{up}{links}</nav></header>")
    parts = [f'<section id="{anchor}"><h2>{text(name)}</h2>{content}</section>' for anchor, name, content in sections]
    return head + "\n" + "\n".join(parts)


def _write(path: Path, document: str) -> Path:
    """Write ``document`` to ``path`` atomically (a temporary file in the same folder, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Not mkstemp: its files are owner-only, and a report is shared like any file the user writes
    # (mode 0o666 less the umask).
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(document)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _out_path(out: Any, what: str) -> Path:
    if out is None:
        raise ConfigurationError(f"{what} is required")
    try:
        path = Path(out)
    except TypeError:
        raise ConfigurationError(f"{what} must be a path, not {type(out).__name__}") from None
    return path


def build_report(
    trials: Any,
    *,
    curves: Any = None,
    decisions: Any = None,
    backtest: Any = None,
    out: str | os.PathLike[str],
    title: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    top: int = TOP_TRIALS,
) -> Path:
    """Write one self-contained HTML report of a search to ``out`` and return its path.

    ``trials``: the trial table (Arrow or pandas); ``curves``: the long curve
    table (adds the learning-curve section); ``decisions``: stop decisions
    (columns :data:`hpo_analytics.stopping.DECISION_COLUMNS`, one rule's or
    several concatenated; adds that section); ``backtest``: the frame
    :func:`hpo_analytics.stopping.backtest` returns (adds that section).
    ``metric``/``mode`` default to the table's metadata, else
    ``reward_attr``/``"max"``; ``top`` rows go in the top-trials table.
    Under the title the page says which metric it ranks by and lists the
    other metrics the job declares (``hpo_analytics.metrics`` in the table's
    metadata, recorded from the job's ``reward_attrs``), if any.

    The page holds the summary, the top trials, the importance table with
    intervals and the plots, as inline PNG images; it loads nothing from the
    network and runs no script. Every value from the data is escaped. The
    same input gives the same bytes (no timestamps). Parent folders are
    created; the file is replaced atomically.
    """
    path = _out_path(out, "out")
    if path.is_dir():
        raise ConfigurationError(f"out is a directory, not a file path: {path}")
    if title is not None and not isinstance(title, str):
        raise ConfigurationError(f"title must be a string or None, not {type(title).__name__}")
    top = _check_top(top)
    job = _prepare(trials, curves=curves, decisions=decisions, backtest=backtest, metric=metric, mode=mode)
    title = title or DEFAULT_TITLE
    return _write(path, page(title, _job_body(job, title=title, back=None, top=top)))


def _check_top(top: Any) -> int:
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or top < 1:
        raise ConfigurationError(f"top must be a positive integer, not {top!r}")
    return int(top)


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_names(names: Sequence[str]) -> dict[str, str]:
    """A file stem per job name: letters, digits, ``.``, ``_``, ``-`` only; unique ignoring case; never ``index``."""
    used = {"index"}
    out: dict[str, str] = {}
    for name in names:
        base = _UNSAFE.sub("_", name).strip("._-")[:80] or "job"
        stem, i = base, 2
        while stem.lower() in used:
            stem, i = f"{base}-{i}", i + 1
        used.add(stem.lower())
        out[name] = stem
    return out


def _index_body(rows: list[tuple[str, str, _Job]]) -> str:
    statuses: dict[str, int] = {}
    for _, _, job in rows:
        for k, v in job.summary["status_counts"].items():
            statuses[k] = statuses.get(k, 0) + v
    status_cols = sorted(statuses, key=lambda k: (-statuses[k], k))
    targets = {(job.metric, job.mode) for _, _, job in rows}
    best = np.zeros(len(rows), dtype=bool)  # every job tied for the best value, when comparable
    if len(targets) == 1:
        sign = 1.0 if next(iter(targets))[1] == "max" else -1.0
        values = np.array([sign * job.summary["best_value"] for _, _, job in rows], dtype=float)
        if np.isfinite(values).any():
            best = values == np.nanmax(np.where(np.isfinite(values), values, np.nan))
    others = any(job.others for _, _, job in rows)  # a column only when some job declares more metrics
    header = ["job", "metric", *(["other metrics"] if others else []), "best value", "best trial", "trials",
              "with a score", *status_cols, "total run time"]
    body, classes = [], []
    for i, (name, stem, job) in enumerate(rows):
        s = job.summary
        link = Cell(f'<a href="{text(stem)}.html">{text(name)}</a>')
        ids = s["best_trial_ids"]
        best_id = ids[0] + (f" (+{len(ids) - 1} tied)" if len(ids) > 1 else "") if ids else None
        also = [", ".join(f"{n} ({m or 'direction not declared'})" for n, m in job.others) or None] if others else []
        body.append([link, f"{s['metric']} ({s['mode']})", *also, s["best_value"], best_id, s["n_trials"],
                     s["n_scored"], *[s["status_counts"].get(k, 0) for k in status_cols],
                     Cell(text(fmt_duration(s["time_total_s"])), numeric=True)])
        classes.append("best" if best[i] else "")
    if len(targets) == 1:
        metric, mode = next(iter(targets))
        ranking = f"Every job is ranked by {metric} ({_direction(mode)})."
    else:
        ranking = "Each job is ranked by its own metric (the metric column)."
    if others:
        ranking += " Other metrics: what else each job declares (not used to rank it)."
    note = f'<p class="note">{text(ranking)}</p>'
    if best.any():
        note += ('<p class="note">One report per job; highlighted: the best value (all jobs share the metric and '
                 "its direction).</p>")
    return (f"<header><h1>Hyperparameter searches</h1><p class=\"sub\">{len(rows)} jobs</p></header>"
            + note + table(header, body, row_classes=classes) + _index_figure(rows, targets))


def _index_figure(rows: list[tuple[str, str, _Job]], targets: set[tuple[str, str]]) -> str:
    """The metric's distribution per job, one curve each, when the jobs share a metric and direction."""
    title = "Distribution of the metric by job"
    if len(targets) != 1:
        return ""
    if len(rows) > MAX_INDEX_CURVES:
        return _figures.skipped_html(title, f"more than {MAX_INDEX_CURVES} jobs")
    from ..plots import plot_edf

    metric, mode = next(iter(targets))
    by_job = {name: job.trials for name, _, job in rows}
    return _figures.draw(plot_edf, (by_job,), {"metric": metric, "mode": mode}, title=title, figsize=(8.0, 4.8))


def build_reports(
    jobs: Mapping[str, Mapping[str, Any]],
    *,
    out_dir: str | os.PathLike[str],
    metric: str | None = None,
    mode: str | None = None,
) -> Path:
    """Write one report per job and an index page comparing them; return the index path.

    ``jobs`` maps a job name to a dict with ``trials`` and optionally
    ``curves``, ``decisions`` and ``backtest`` (as for :func:`build_report`).
    Each report goes to ``<out_dir>/<safe name>.html`` (see :func:`safe_names`)
    and links back to ``<out_dir>/index.html``, which lists every job's
    metric, best value and trial, number of trials, status counts and total
    run time (sum of ``time_total_s``), with a link to its report, and, when
    the jobs share a metric and direction, highlights the best job and draws
    the metric's distribution per job (up to :data:`MAX_INDEX_CURVES` jobs).
    It says which metric the jobs are ranked by and, when some job declares
    metrics besides that one, lists them in an "other metrics" column.
    Every job is validated before anything is written.
    """
    if not isinstance(jobs, Mapping) or not jobs:
        raise ConfigurationError("jobs must be a non-empty mapping of job name -> {'trials': ..., ...}")
    directory = _out_path(out_dir, "out_dir")
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"out_dir is a file, not a directory: {directory}")
    prepared: list[tuple[str, _Job]] = []
    for name, spec in jobs.items():
        if not isinstance(name, str) or not name:
            raise ConfigurationError(f"job names must be non-empty strings, not {name!r}")
        if not isinstance(spec, Mapping) or "trials" not in spec:
            raise ConfigurationError(f"job {name!r} must be a mapping with a 'trials' entry")
        unknown = sorted(set(spec) - set(JOB_KEYS))
        if unknown:
            raise ConfigurationError(f"job {name!r} has unknown key(s) {', '.join(map(str, unknown))}; "
                                     f"expected {', '.join(JOB_KEYS)}")
        try:
            job = _prepare(spec["trials"], curves=spec.get("curves"), decisions=spec.get("decisions"),
                           backtest=spec.get("backtest"), metric=metric, mode=mode)
        except ConfigurationError as exc:
            raise ConfigurationError(f"job {name!r}: {exc}") from exc
        prepared.append((name, job))
    stems = safe_names([name for name, _ in prepared])
    rows = []
    for name, job in prepared:
        _write(directory / f"{stems[name]}.html",
               page(name, _job_body(job, title=name, back="index.html", top=TOP_TRIALS)))
        rows.append((name, stems[name], job))
    return _write(directory / "index.html", page("Hyperparameter searches", _index_body(rows)))
