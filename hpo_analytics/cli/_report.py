"""``hpo-analytics report``: one self-contained HTML report per job (plus an index for several).

Given a dataset directory (``hpo-analytics sync`` wrote it), it reports on
every job in it and keeps the report directory up to date: a state file
there (:data:`STATE_FILE`) records, per job, a key made from the job's
manifest entry (or its files' sizes and times when the manifest has none),
and a later run redraws only the jobs whose key changed; the index is
always written again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ._common import (
    EXIT_OK,
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
            "directory INPUT brings its own curves (histories/ or curves.parquet). A dataset\n"
            "directory INPUT (written by sync): one report per job, named by job id, and the index;\n"
            "a later run redraws only the jobs whose data changed."
        ),
        examples=[
            "hpo-analytics report data/synthetic_job -o out/report.html",
            ("hpo-analytics report out/trials.parquet --curves out/curves.parquet "
             "--decisions .hpo-analytics/watch/JOB_ID -o out/report.html"),
            "hpo-analytics report out/job-a out/job-b -o out/reports/   # writes out/reports/index.html",
            "hpo-analytics report fleet/ -o reports/   # a synced dataset: every job, redrawing only changed ones",
            "hpo-analytics report sqlite:///study.db --study my-job -o out/report.html   # an Optuna study",
            "hpo-analytics report ~/ray_results/train_fn --metric mean_accuracy --mode max -o out/ray.html",
        ],
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT",
                        help="trials: JSON page file, directory of pages, Parquet, job directory, an Optuna "
                             "storage URL (sqlite:///study.db, postgresql://...) or a Ray Tune experiment directory")
    parser.add_argument("--study", metavar="NAME",
                        help="the study of an Optuna storage INPUT (default: the storage's only study)")
    parser.add_argument("-o", "--output", type=Path, required=True, metavar="PATH",
                        help="the report file (one INPUT) or the directory of reports (several)")
    parser.add_argument("--curves", type=Path, help="learning curves of the (single) INPUT")
    parser.add_argument("--decisions", type=Path, metavar="STATE_DIR",
                        help="a watch state directory: add its stop decisions (single INPUT)")
    parser.add_argument("--title", help="page title (single INPUT; default: a generic title)")
    add_metric_args(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run_report)


def _unique_names(wanted: list[str]) -> list[str]:
    names: list[str] = []
    for base in wanted:
        name, i = base, 2
        while name in names:
            name, i = f"{base} ({i})", i + 1
        names.append(name)
    return names


def run_report(args: argparse.Namespace) -> int:
    """Read every INPUT, then write the report(s) and print where."""
    from ..query import is_dataset_dir
    from ..report import build_report, build_reports

    if len(args.inputs) == 1 and is_dataset_dir(args.inputs[0]):
        if args.study is not None:
            raise ConfigurationError("--study applies to an Optuna storage INPUT, not to a dataset directory")
        return run_dataset_report(args)
    jobs = [resolve_input(p, study=args.study) for p in args.inputs]
    if args.study is not None and not any(job.kind == "optuna" for job in jobs):
        raise ConfigurationError("--study applies to an Optuna storage INPUT (sqlite:///..., postgresql://...)")
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
        for name, job in zip(_unique_names([job.name for job in jobs]), jobs):
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


# ---------------------------------------------------------------------- a dataset directory

#: The file in the report directory that records what each job's report was drawn from.
STATE_FILE = ".hpo-analytics-reports.json"
_STATE_FORMAT = 1


def _job_key(root: Path, job_id: str, entry: Any) -> str:
    """What a job's report depends on: its manifest entry (without the sync time), else its files' stats."""
    from ..query import job_file

    if isinstance(entry, dict) and entry:
        entry = dict(entry)
        if isinstance(entry.get("row"), dict):  # re-synced without changes: the same report
            entry["row"] = {k: v for k, v in entry["row"].items() if k != "synced_at"}
        basis: Any = {"manifest": entry}
    else:
        stats = {}
        for kind in ("trials", "curves"):
            path = job_file(root, kind, job_id)
            if path.is_file():
                st = path.stat()
                stats[kind] = [st.st_size, st.st_mtime_ns]
        basis = {"files": stats}
    text = json.dumps(basis, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _load_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # none yet, or unreadable: draw everything again
        return {}
    return state if isinstance(state, dict) and state.get("format") == _STATE_FORMAT else {}


def _save_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(state, indent=1, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def run_dataset_report(args: argparse.Namespace) -> int:
    """One report per job of a dataset and the index; only the jobs whose key changed are drawn again."""
    from ..query import read_job_table, read_jobs, read_manifest
    from ..report import build_reports

    for option in ("curves", "decisions", "title"):
        if getattr(args, option) is not None:
            raise ConfigurationError(f"--{option} applies to a single job INPUT, not to a dataset directory")
    root = Path(args.inputs[0])
    out: Path = args.output
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"-o must be a directory for a dataset INPUT, and {out} is a file")
    jobs = read_jobs(root).select(["job_id", "name"]).to_pylist()
    manifest_jobs = read_manifest(root).get("jobs") or {}
    state_path = out / STATE_FILE
    state = _load_state(state_path)
    options = {"metric": args.metric, "mode": args.mode}
    previous = state.get("jobs", {}) if state.get("options") == options else {}

    specs: dict[str, dict[str, Any]] = {}
    stems: dict[str, str] = {}
    keys: dict[str, str] = {}
    keep: list[str] = []
    skipped: list[str] = []
    names = _unique_names([str(j["name"] or j["job_id"]) for j in jobs])
    for name, job in zip(names, jobs):
        job_id = str(job["job_id"])
        trials = read_job_table(root, "trials", job_id)
        if trials is None or trials.num_rows == 0:
            skipped.append(job_id)
            continue
        key = _job_key(root, job_id, manifest_jobs.get(job_id))
        unchanged = previous.get(job_id) == key and (out / f"{job_id}.html").is_file()
        spec: dict[str, Any] = {"trials": trials}
        if not unchanged:
            curves = read_job_table(root, "curves", job_id)
            if curves is not None and curves.num_rows:
                spec["curves"] = curves
        else:
            keep.append(name)
        specs[name], stems[name], keys[job_id] = spec, job_id, key
    if not specs:
        raise ConfigurationError(f"the dataset {root} has no job with trials to report on")
    index = build_reports(specs, out_dir=out, metric=args.metric, mode=args.mode, stems=stems, keep=keep)
    for job_id in set(state.get("jobs", {})) - set(keys):  # jobs gone from the dataset: their reports too
        (out / f"{job_id}.html").unlink(missing_ok=True)
    _save_state(state_path, {"format": _STATE_FORMAT, "options": options, "jobs": keys})
    rebuilt = sorted(stems[name] for name in specs if name not in keep)
    result = {"report": str(index), "directory": str(out), "jobs": len(specs), "rebuilt": rebuilt,
              "unchanged": len(keep), "skipped": skipped}
    if args.json:
        print_json(result)
    else:
        print(f"Wrote {len(rebuilt)} of {len(specs)} reports ({len(keep)} unchanged) and the index: {index}")
        if skipped:
            print(f"Skipped {len(skipped)} job(s) with no trials: {', '.join(skipped)}")
    return EXIT_OK
