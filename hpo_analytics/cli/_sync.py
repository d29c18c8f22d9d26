"""``hpo-analytics sync``: keep a job-partitioned Parquet dataset up to date with the service."""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import ConfigurationError
from ._common import (
    EXIT_ERROR,
    EXIT_OK,
    add_command,
    add_connection_args,
    add_json_flag,
    client_from_args,
    print_json,
    progress_bar,
)

_OPERATORS = ("like", "in", "not", "between")


def add_sync(sub: Any) -> None:
    """Register ``sync``."""
    parser = add_command(
        sub, "sync",
        help="download many jobs into a job-partitioned Parquet dataset, incrementally",
        description=(
            "Write (or bring up to date) a dataset directory: DIR/jobs/jobs.parquet (one row per job),\n"
            "DIR/trials/job_id=<id>/trials.parquet and DIR/curves/job_id=<id>/curves.parquet, readable\n"
            "as one table by DuckDB, Dask, Spark or pyarrow.dataset. A job that was finished at the\n"
            "last sync is not downloaded again; for a running job only the listing and the learning\n"
            "curves that grew are. Files appear atomically and a killed sync is completed by the\n"
            "next one; a second sync into DIR while one runs stops at once. Exit status 1 when any\n"
            "job failed (the others are still written)."
        ),
        examples=[
            "hpo-analytics sync --to fleet/ --all",
            "hpo-analytics sync --to fleet/ JOB_ID JOB_ID2 --no-curves",
            "hpo-analytics sync --to fleet/ --filter phase:in:Running --filter name:like:resnet --json",
            "hpo-analytics sync --to fleet/ --filter create_time:between:1700000000000,1710000000000",
        ],
        note="KEY:OP:VALUE filters are the job search's: keys name, phase, kind, create_time, "
             "algorithm_name, user_id; operators like, in, not, between; VALUE is a comma-separated list.",
    )
    parser.add_argument("job_ids", nargs="*", metavar="JOB_ID", help="jobs to sync (else --all or --filter)")
    parser.add_argument("--to", required=True, metavar="DIR", help="the dataset directory")
    parser.add_argument("--all", action="store_true", help="every autosearch job")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY:OP:VALUE",
                        help="only jobs the search matches; repeatable")
    parser.add_argument("--no-curves", action="store_true", help="skip the per-trial learning curves")
    add_json_flag(parser)
    add_connection_args(parser)
    parser.set_defaults(run=run_sync)


def parse_filter(text: str) -> dict[str, Any]:
    """``KEY:OP:VALUE`` as a job-search filter (``VALUE`` split on commas)."""
    key, sep, rest = text.partition(":")
    op, sep2, value = rest.partition(":")
    if not sep or not sep2 or not key or op not in _OPERATORS:
        raise ConfigurationError(f"--filter {text!r}: expected KEY:OP:VALUE with OP one of {', '.join(_OPERATORS)}")
    return {"key": key, "operator": op, "value": value.split(",")}


def run_sync(args: argparse.Namespace) -> int:
    """Sync and report."""
    from ..dataset import sync

    if args.job_ids and (args.all or args.filter):
        raise ConfigurationError("give JOB_IDs, or --all / --filter, not both")
    if not args.job_ids and not args.all and not args.filter:
        raise ConfigurationError("say what to sync: JOB_ID ..., --all, or --filter KEY:OP:VALUE")
    filters = [parse_filter(f) for f in args.filter]
    with client_from_args(args) as client:
        summary = sync(client, args.to, job_ids=args.job_ids or None, filters=filters, all_jobs=args.all,
                       curves=not args.no_curves, progress=progress_bar() or None)
    status = EXIT_ERROR if summary.failed else EXIT_OK
    if args.json:
        print_json(summary.to_dict())
        return status
    print(f"Synced {len(summary.jobs)} job{'s' if len(summary.jobs) != 1 else ''} into {summary.out_dir} "
          f"in {summary.seconds:.2f} s: {len(summary.fetched)} fetched, {len(summary.unchanged)} unchanged, "
          f"{len(summary.failed)} failed; {summary.requests} requests, {summary.rows_written} rows written")
    for job in summary.jobs:
        if job.state == "failed":
            print(f"  failed {job.job_id}: {job.reason}")
    return status
