"""The text sections of a report: the ranking sentence, summary, top trials, importance table, stop
decisions and back-test, and the index page's table of jobs (HTML strings, every value escaped)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._frames import param_columns
from .._table import PARAM_PREFIX, STEP
from ..analysis import rank_trials
from . import _figures
from ._html import Cell, fmt, fmt_duration, key_values, table, text
from ._job import Job

__all__ = [
    "backtest_section",
    "decisions_section",
    "importance_section",
    "index_section",
    "ranking_note",
    "summary_section",
    "top_trials_section",
]

#: Stop decisions listed one per row (the rest are counted).
_MAX_STOP_ROWS = 50
#: Best trial ids named in the summary (the rest are counted).
_MAX_BEST_IDS = 10


def _direction(mode: str | None) -> str:
    """``"higher is better"``, ``"lower is better"``, or ``"direction not declared"`` for ``None``."""
    return {"max": "higher is better", "min": "lower is better"}.get(mode or "", "direction not declared")


def ranking_note(job: Job) -> str:
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


def summary_section(job: Job) -> str:
    """The summary: metric, counts, best value and trial(s), spread, statuses, parameters, run time."""
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


def top_trials_section(job: Job, top: int) -> str:
    """The ``top`` best trials by :func:`~hpo_analytics.analysis.rank_trials`, the tied best highlighted."""
    ranked = rank_trials(job.trials, metric=job.metric, mode=job.mode)
    if not len(ranked):
        return '<p class="note">No trials.</p>'
    shown = ranked.head(top)
    params = param_columns(shown)
    columns = ["rank", "trial_id"]
    columns += [c for c in ("status",) if c in shown.columns]
    columns += ["score"] + params
    columns += [c for c in (STEP, "time_total_s") if c in shown.columns]
    header = [job.metric if c == "score" else c.removeprefix(PARAM_PREFIX) for c in columns]
    rows = shown[columns].astype(object).to_numpy().tolist()
    classes = ["best" if b else "" for b in shown["is_best"].to_numpy(dtype=bool)]
    note = (f'<p class="note">The {len(shown):,} best of {len(ranked):,} trials by {text(job.metric)} '
            f"({text(job.mode)}); equal scores share a rank, trials without a score rank last; "
            "highlighted rows are tied for best.</p>")
    return note + table(header, rows, row_classes=classes)


def importance_section(job: Job) -> str:
    """The parameter-importance table with its intervals and a note on how it was estimated (or why not)."""
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


def decisions_section(job: Job) -> str:
    """Stop decisions counted per rule, then the trials to stop with their reasons."""
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


def backtest_section(job: Job) -> str:
    """The back-test table: per rule, iterations saved, best stopped, top stopped and regret."""
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


def index_section(rows: list[tuple[str, str, Job]]) -> str:
    """The index page's heading, ranking note and table of jobs (``(name, file stem, job)`` rows)."""
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
            + note + table(header, body, row_classes=classes))
