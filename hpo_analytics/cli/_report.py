"""``hpo-analytics report``: one self-contained HTML report per job (plus an index for several)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ._common import (
    EXIT_OK,
    JobInput,
    add_command,
    add_json_flag,
    add_metric_args,
    print_json,
    read_curves_input,
    read_trials_input,
    resolve_input,
)


def add_report(sub: Any) -> None:
    """Register ``report``."""
    parser = add_command(
        sub, "report",
        help="write an HTML report of one search, or of several with an index page",
        description=(
            "One INPUT: write one self-contained HTML report to PATH (summary, top trials, parameter\n"
            "importance with intervals, plots; learning curves when known). Several INPUTs: PATH is a\n"
            "directory that receives one report per job and index.html comparing them. A job\n"
            "directory INPUT brings its own curves (histories/ or curves.parquet)."
        ),
        examples=[
            "hpo-analytics report data/synthetic_job -o out/report.html",
            ("hpo-analytics report out/trials.parquet --curves out/curves.parquet "
             "--decisions .hpo-analytics/watch/JOB_ID -o out/report.html"),
            "hpo-analytics report out/job-a out/job-b -o out/reports/   # writes out/reports/index.html",
        ],
    )
    parser.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                        help="trials: JSON page file, directory of pages, Parquet, or job directory")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="PATH",
                        help="the report file (one INPUT) or the directory of reports (several)")
    parser.add_argument("--curves", type=Path, help="learning curves of the (single) INPUT")
    parser.add_argument("--decisions", type=Path, metavar="STATE_DIR",
                        help="a watch state directory: add its stop decisions (single INPUT)")
    parser.add_argument("--title", help="page title (single INPUT; default: a generic title)")
    add_metric_args(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run_report)


def _unique_names(jobs: list[JobInput]) -> list[str]:
    names: list[str] = []
    for job in jobs:
        name, i = job.name, 2
        while name in names:
            name, i = f"{job.name} ({i})", i + 1
        names.append(name)
    return names


def run_report(args: argparse.Namespace) -> int:
    """Read every INPUT, then write the report(s) and print where."""
    from ..report import build_report, build_reports

    jobs = [resolve_input(p) for p in args.inputs]
    if len(jobs) > 1:
        for option in ("curves", "decisions", "title"):
            if getattr(args, option) is not None:
                hint = "; give job directories that hold their curves instead" if option == "curves" else ""
                raise ConfigurationError(f"--{option} applies to a single INPUT, not to {len(jobs)}{hint}")
    decisions = None
    if args.decisions is not None:
        from ..stopping import decisions_from_ledger

        decisions = decisions_from_ledger(args.decisions)
    if len(jobs) == 1:
        job = jobs[0]
        trials = read_trials_input(job)
        if args.curves is not None:
            curves = read_curves_input(args.curves)
        else:
            curves = read_curves_input(job) if job.curves is not None else None
        path = build_report(trials, curves=curves, decisions=decisions, out=args.output, title=args.title,
                            metric=args.metric, mode=args.mode)
        result = {"report": str(path), "jobs": 1, "curves": curves is not None}
    else:
        specs: dict[str, dict[str, Any]] = {}
        for name, job in zip(_unique_names(jobs), jobs):
            spec: dict[str, Any] = {"trials": read_trials_input(job)}
            if job.curves is not None:
                spec["curves"] = read_curves_input(job)
            specs[name] = spec
        path = build_reports(specs, out_dir=args.output, metric=args.metric, mode=args.mode)
        result = {"report": str(path), "jobs": len(specs), "directory": str(path.parent)}
    if args.json:
        print_json(result)
    else:
        what = "report" if len(jobs) == 1 else f"{len(jobs)} reports and the index"
        print(f"Wrote {what}: {path}")
    return EXIT_OK
