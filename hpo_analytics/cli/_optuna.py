"""``hpo-analytics export-optuna``: write a job to an Optuna study (optuna-dashboard, ``optuna.visualization``).

INPUT is what ``report`` reads (a job directory, pages, Parquet, a Ray Tune
experiment directory), or with ``--job`` a JOB_ID fetched through the client.
``--follow`` fetches and re-exports a running job every ``--interval``
seconds, adding only what is new, until the job has ended or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError
from ._common import (
    EXIT_OK,
    _load_job_details,
    add_command,
    add_connection_args,
    add_json_flag,
    add_metric_args,
    client_from_args,
    print_json,
    read_curves_input,
    read_trials_input,
    resolve_input,
)

logger = logging.getLogger("hpo_analytics.cli")

#: How the follow loop waits between exports (tests replace it to move a simulator's clock instead).
_sleep = time.sleep


def add_export_optuna(sub: Any) -> None:
    """Register ``export-optuna``."""
    parser = add_command(
        sub, "export-optuna",
        help="write a job's trials and learning curves to an Optuna study (optuna-dashboard works on it)",
        description=(
            "Write one Optuna study per job: each trial with its parameters (distributions from the\n"
            "job's declared search space, else inferred), final value, intermediate values from the\n"
            "curves and its state (finished -> COMPLETE, ERROR -> FAIL, stopped early -> PRUNED,\n"
            "RUNNING -> RUNNING, PENDING -> WAITING). Exporting again to the same study adds only new\n"
            "trials, steps and state changes; a study of that name not written by hpo-analytics for\n"
            "this job is refused. With --job, INPUT is a JOB_ID fetched through the ModelArts API;\n"
            "--follow re-exports it every --interval seconds until the job has ended (or Ctrl-C).\n"
            "Needs Optuna: pip install 'hpo-analytics[optuna]'."
        ),
        examples=[
            "hpo-analytics export-optuna data/synthetic_job --storage sqlite:///study.db",
            "hpo-analytics export-optuna JOB_ID --job --storage sqlite:///study.db --state-dir .hpo-analytics/watch",
            "hpo-analytics export-optuna JOB_ID --follow --interval 60 --storage sqlite:///study.db "
            "&  optuna-dashboard sqlite:///study.db",
        ],
    )
    parser.add_argument("input", metavar="INPUT",
                        help="a job directory, pages, Parquet or a Ray Tune experiment directory; with "
                             "--job/--follow a JOB_ID")
    parser.add_argument("--storage", required=True, metavar="URL",
                        help="Optuna storage URL, e.g. sqlite:///study.db or postgresql://user@host/db")
    parser.add_argument("--study", metavar="NAME", help="study name (default: the job's name, else its id)")
    parser.add_argument("--curves", type=Path, help="learning curves of INPUT (a job directory brings its own)")
    parser.add_argument("--state-dir", type=Path, metavar="DIR",
                        help="a watch state directory: trials its ledger records as stopped become PRUNED")
    parser.add_argument("--job", action="store_true", help="INPUT is a JOB_ID: fetch trials and curves")
    parser.add_argument("--follow", action="store_true",
                        help="with a JOB_ID: export again every --interval seconds until the job has ended")
    parser.add_argument("--interval", type=float, default=None, metavar="SECONDS",
                        help="seconds between exports with --follow (default 60)")
    parser.add_argument("--no-infer-pruned", dest="infer_pruned", action="store_false",
                        help="finished trials with a shorter curve stay COMPLETE (only the ledger marks PRUNED)")
    parser.add_argument("--out-of-space", choices=("widen", "raise"), default="widen",
                        help="a value outside its declared distribution: widen it with a warning (default) "
                             "or stop with an error")
    add_metric_args(parser)
    add_json_flag(parser)
    add_connection_args(parser)
    parser.set_defaults(run=run_export_optuna)


def _with_job_metadata(table: Any, details: Mapping[str, Any] | None, job_id: str | None) -> Any:
    """``table`` with the job's declared space, algorithm, id and name in its metadata (what it lacks)."""
    from .._space import METADATA_ALGORITHM, METADATA_SPACE, AlgorithmConfig, SearchSpace
    from .._table import METADATA_JOB_ID, METADATA_JOB_NAME

    meta = dict(table.schema.metadata or {})
    space = SearchSpace.from_details(details) if details is not None else None
    algorithm = AlgorithmConfig.from_details(details) if details is not None else None
    if space is not None:
        meta.setdefault(METADATA_SPACE, space.to_json().encode())
    if algorithm is not None:
        meta.setdefault(METADATA_ALGORITHM, algorithm.to_json().encode())
    header = details.get("metadata") if isinstance(details, Mapping) else None
    name = header.get("name") if isinstance(header, Mapping) else None
    ident = job_id or (header.get("id") if isinstance(header, Mapping) else None)
    if isinstance(ident, str) and ident:
        meta.setdefault(METADATA_JOB_ID, ident.encode())
    if isinstance(name, str) and name:
        meta.setdefault(METADATA_JOB_NAME, name.encode())
    return table.replace_schema_metadata(meta)


def _print(summary: Any, args: argparse.Namespace) -> None:
    if args.json:
        print_json(summary.to_dict())
        return
    states = ", ".join(f"{n} {s}" for s, n in sorted(summary.states.items()))
    print(f"study {summary.study_name!r}: {summary.trials} trials ({states}); {summary.added} added, "
          f"{summary.updated} changed state, {summary.steps_added} intermediate values added, "
          f"{summary.unchanged} unchanged", flush=True)
    if summary.conflicts:
        print(f"finished in Optuna, left as they are: {', '.join(summary.conflicts)}", flush=True)


def run_export_optuna(args: argparse.Namespace) -> int:
    """Export once, or follow a running job."""
    from ..interop import to_optuna
    if not args.verbose:  # Optuna logs every study it creates at INFO; the summary line says it
        try:
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
        except ImportError:  # to_optuna says which extra to install
            pass
    if args.interval is not None and not args.follow:
        raise ConfigurationError("--interval applies to --follow")
    interval = 60.0 if args.interval is None else args.interval
    if interval < 0:
        raise ConfigurationError(f"--interval must be >= 0, not {args.interval}")
    options = {"storage": args.storage, "metric": args.metric, "mode": args.mode, "state_dir": args.state_dir,
               "infer_pruned": args.infer_pruned, "out_of_space": args.out_of_space}
    if not (args.job or args.follow):
        job = resolve_input(args.input)
        trials = read_trials_input(job)
        curves = read_curves_input(args.curves) if args.curves is not None else (
            read_curves_input(job) if job.curves is not None else None)
        details = None
        if job.details is not None:
            details = _load_job_details(job.details)
        trials = _with_job_metadata(trials, details, None)
        summary = to_optuna(trials, curves, study_name=args.study or job.name, **options)
        _print(summary, args)
        return EXIT_OK
    if args.curves is not None:
        raise ConfigurationError("--curves applies to a file INPUT; a JOB_ID's curves are fetched")
    from ..client import ENDED_PHASES

    job_id = args.input
    with client_from_args(args) as client:
        while True:
            details = client.get_training_job(job_id)
            status = details.get("status")
            phase = status.get("phase") if isinstance(status, Mapping) else None
            trials = _with_job_metadata(client.fetch_trials(job_id, details=details), details, job_id)
            curves = client.fetch_curves(job_id, trials.column("trial_id").to_pylist(), details=details)
            summary = to_optuna(trials, curves, study_name=args.study, **options)
            _print(summary, args)
            if not args.follow or phase in ENDED_PHASES:
                if args.follow:
                    logger.info("job %s has ended (%s): the export is complete", job_id, phase)
                return EXIT_OK
            try:
                _sleep(interval)
            except KeyboardInterrupt:  # between exports: the study is complete as of the last one
                return EXIT_OK
