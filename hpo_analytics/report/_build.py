"""Assemble the per-job report and the index page (see the package docstring).

The orchestration only: :mod:`._job` validates a job's inputs and computes
its numbers once, :mod:`._sections` writes the text sections,
:mod:`._registry` says which plots each section draws, and this module
arranges them into pages and writes the files.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigurationError
from ._html import page, text
from ._job import Job, prepare
from ._registry import index_figure, plots_html
from ._space import space_section
from ._sections import (
    backtest_section,
    decisions_section,
    importance_section,
    index_section,
    ranking_note,
    summary_section,
    top_trials_section,
)

__all__ = ["DEFAULT_TITLE", "JOB_KEYS", "TOP_TRIALS", "build_report", "build_reports", "safe_names"]

DEFAULT_TITLE = "Hyperparameter search report"
#: Keys a job of :func:`build_reports` may have (``trials`` is required).
JOB_KEYS = ("trials", "curves", "decisions", "backtest")
#: Rows of the top-trials table.
TOP_TRIALS = 20


def _job_body(job: Job, *, title: str, back: str | None, top: int) -> str:
    """One job's page: its header (title, ranking sentence, links) and its sections, each text then plots."""
    sections: list[tuple[str, str, str]] = [
        ("summary", "Summary", summary_section(job) + plots_html(job, "summary")),
        ("top-trials", "Top trials", top_trials_section(job, top)),
        ("parameters", "Parameters", importance_section(job) + plots_html(job, "parameters")),
    ]
    space = space_section(job)
    if space:
        sections.insert(2, ("search-space", "Search space", space))
    if job.curves is not None:
        sections.append(("curves", "Learning curves", plots_html(job, "curves")))
    if job.decisions is not None:
        sections.append(("decisions", "Early-stop decisions", decisions_section(job)
                         + plots_html(job, "decisions")))
    if job.backtest is not None:
        sections.append(("backtest", "Back-test of stop rules", backtest_section(job)
                         + plots_html(job, "backtest")))
    links = "".join(f'<a href="#{anchor}">{text(name)}</a>' for anchor, name, _ in sections)
    up = f'<a href="{text(back)}">All jobs</a>' if back else ""
    head = (f'<header><h1>{text(title)}</h1><p class="sub ranking">{ranking_note(job)}</p>'
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
    metadata, recorded from the job's ``reward_attrs``), if any. When the
    table records the job's declared search space or algorithm, a "Search
    space" section shows the algorithm with its settings and each declared
    parameter's type, bounds or values and explored range, with a sentence
    where the search never came near a bound or piled up against one
    (thresholds in :mod:`hpo_analytics.report._space`).

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
    job = prepare(trials, curves=curves, decisions=decisions, backtest=backtest, metric=metric, mode=mode)
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


def _check_stems(jobs: Mapping[str, Any], stems: Mapping[str, str] | None) -> dict[str, str]:
    """Each job's file stem: ``stems`` checked, or :func:`safe_names` of the job names."""
    if stems is None:
        return safe_names(list(jobs))
    out: dict[str, str] = {}
    seen: set[str] = {"index"}
    for name in jobs:
        stem = stems.get(name) if isinstance(stems, Mapping) else None
        if (not isinstance(stem, str) or not stem or _UNSAFE.search(stem) or stem.startswith(".")
                or stem.lower() in seen):
            raise ConfigurationError(f"stems must give job {name!r} a unique file stem of letters, digits, "
                                     f"'.', '_', '-' (not leading '.', not 'index'), not {stem!r}")
        seen.add(stem.lower())
        out[name] = stem
    return out


def build_reports(
    jobs: Mapping[str, Mapping[str, Any]],
    *,
    out_dir: str | os.PathLike[str],
    metric: str | None = None,
    mode: str | None = None,
    stems: Mapping[str, str] | None = None,
    keep: Collection[str] = (),
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

    For a report directory kept up to date (``hpo-analytics report DIR`` over
    a synced dataset): ``stems`` gives each job's file stem instead (letters,
    digits, ``.``, ``_``, ``-``; unique; not ``index``), and the jobs named in
    ``keep`` are not drawn again: their report must already exist, and only
    their summary is computed, for the index.
    """
    if not isinstance(jobs, Mapping) or not jobs:
        raise ConfigurationError("jobs must be a non-empty mapping of job name -> {'trials': ..., ...}")
    directory = _out_path(out_dir, "out_dir")
    if directory.exists() and not directory.is_dir():
        raise ConfigurationError(f"out_dir is a file, not a directory: {directory}")
    missing = sorted(set(keep) - set(jobs))
    if missing:
        raise ConfigurationError(f"keep names job(s) not in jobs: {', '.join(map(repr, missing))}")
    stems = _check_stems(jobs, stems)
    prepared: list[tuple[str, Job]] = []
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
            job = prepare(spec["trials"], curves=spec.get("curves"), decisions=spec.get("decisions"),
                           backtest=spec.get("backtest"), metric=metric, mode=mode, summary_only=name in keep)
        except ConfigurationError as exc:
            raise ConfigurationError(f"job {name!r}: {exc}") from exc
        if name in keep and not (directory / f"{stems[name]}.html").is_file():
            raise ConfigurationError(f"job {name!r} is to be kept, but {directory / stems[name]}.html is missing")
        prepared.append((name, job))
    rows = []
    for name, job in prepared:
        if name not in keep:
            _write(directory / f"{stems[name]}.html",
                   page(name, _job_body(job, title=name, back="index.html", top=TOP_TRIALS)))
        rows.append((name, stems[name], job))
    return _write(directory / "index.html", page("Hyperparameter searches", index_section(rows) + index_figure(rows)))
