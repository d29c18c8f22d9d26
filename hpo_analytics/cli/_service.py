"""Subcommands that talk to the service: ``fetch``, ``jobs``, ``algorithms``.

Credentials come from the environment as
:meth:`~hpo_analytics.client.ModelArtsClient.from_env` reads them;
``--endpoint``/``--region``/``--project-id`` override the connection.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from .._jsonutil import dig
from ._common import (
    EXIT_OK,
    add_command,
    add_connection_args,
    add_json_flag,
    client_from_args,
    print_json,
    progress_bar,
    text_table,
)

_ENV_NOTE = (
    "credentials: HPO_ANALYTICS_TOKEN (IAM token) or HUAWEICLOUD_SDK_AK + HUAWEICLOUD_SDK_SK\n"
    "(+ HUAWEICLOUD_SDK_SECURITY_TOKEN); HUAWEICLOUD_SDK_PROJECT_ID; HPO_ANALYTICS_ENDPOINT or\n"
    "HPO_ANALYTICS_REGION. 'hpo-analytics simulate' prints these for a local simulator."
)


# ---------------------------------------------------------------------- fetch


def add_fetch(sub: Any) -> None:
    """Register ``fetch``."""
    parser = add_command(
        sub, "fetch",
        help="download a job's trials (and learning curves) into Parquet",
        description=(
            "Fetch every trial of an autosearch job through the ModelArts API (all pages, deduplicated,\n"
            "typed; the job's reward metric and mode are recorded in the table) and write it as\n"
            "Parquet. With --curves, also fetch every trial's history (one row per trial and\n"
            "iteration). A progress bar is drawn on stderr when it is a terminal."
        ),
        examples=[
            "hpo-analytics fetch JOB_ID -o out/job/trials.parquet --curves   # also out/job/curves.parquet",
            "hpo-analytics fetch JOB_ID --json",
        ],
        note=_ENV_NOTE,
    )
    parser.add_argument("job_id", metavar="JOB_ID", help="the autosearch training job id")
    parser.add_argument("-o", "--output", type=Path, help="Parquet file for the trials (else only a summary)")
    parser.add_argument("--curves", action="store_true", help="also fetch the per-trial learning curves")
    parser.add_argument("--curves-output", type=Path,
                        help="Parquet file for the curves (default: next to --output, 'trials' in its name "
                             "replaced by 'curves', else <name>_curves.parquet)")
    parser.add_argument("--page-size", type=int, default=None,
                        help="trials per request (default: the client's, 1000, or less when the service caps it)")
    add_json_flag(parser)
    add_connection_args(parser)
    parser.set_defaults(run=run_fetch)


def curves_path_for(trials_path: Path) -> Path:
    """Where ``fetch --curves`` writes curves next to ``trials_path``."""
    stem = trials_path.stem
    new = stem.replace("trials", "curves") if "trials" in stem else f"{stem}_curves"
    return trials_path.with_name(new + (trials_path.suffix or ".parquet"))


def run_fetch(args: argparse.Namespace) -> int:
    """Fetch, summarize, write."""
    from .._frames import declared_metrics, metadata_of
    from ..io import write_parquet
    from ._normalize import summary_lines

    curves_out = args.curves_output
    if curves_out is not None and not args.curves:
        args.curves = True  # asking where to write curves is asking for curves
    if args.curves and curves_out is None and args.output is not None:
        curves_out = curves_path_for(args.output)
    bar = progress_bar()
    result: dict[str, Any] = {"job_id": args.job_id}
    with client_from_args(args) as client:
        started = time.perf_counter()
        trials = client.fetch_trials(args.job_id, page_size=args.page_size, progress=bar or None)
        result.update(trials=trials.num_rows, columns=trials.num_columns,
                      trials_seconds=round(time.perf_counter() - started, 3))
        curves = None
        if args.curves:
            started = time.perf_counter()
            ids = trials["trial_id"].to_pylist() if "trial_id" in trials.column_names else []
            curves = client.fetch_curves(args.job_id, [i for i in ids if i], progress=bar or None)
            result.update(curve_rows=curves.num_rows, curves_seconds=round(time.perf_counter() - started, 3))
    meta = metadata_of(trials)
    # every metric the job declares, as recorded in the Parquet metadata (the first is the default)
    result.update(metric=meta.get("metric") or None, mode=meta.get("mode") or None,
                  metrics=[{"name": name, "mode": mode} for name, mode in declared_metrics(trials)])
    if args.output is not None:
        result["output"] = str(write_parquet(trials, args.output))
    if curves is not None and curves_out is not None:
        result["curves_output"] = str(write_parquet(curves, curves_out))
    if args.json:
        print_json(result)
        return EXIT_OK
    print(f"Fetched {trials.num_rows} trials ({trials.num_columns} columns) of job {args.job_id} "
          f"in {result['trials_seconds']:.2f} s")
    for line in summary_lines(trials)[:-1]:  # all but the column list
        print(line)
    if curves is not None:
        print(f"Fetched {curves.num_rows} curve points of {len(set(curves['trial_id'].to_pylist()))} trials "
              f"in {result['curves_seconds']:.2f} s")
    if "output" in result:
        print(f"Wrote {result['output']}")
    if "curves_output" in result:
        print(f"Wrote {result['curves_output']}")
    return EXIT_OK


# ---------------------------------------------------------------------- jobs


def add_jobs(sub: Any) -> None:
    """Register ``jobs``."""
    parser = add_command(
        sub, "jobs",
        help="search training jobs (autosearch jobs by default)",
        description="List training jobs through POST /v2/{project_id}/training-job-searches, every page.",
        examples=[
            "hpo-analytics jobs",
            "hpo-analytics jobs --name resnet --phase Running --json",
        ],
        note=_ENV_NOTE,
    )
    parser.add_argument("--name", help="only jobs whose name contains this text")
    parser.add_argument("--phase", action="append", default=[],
                        help="only jobs in this phase (Running, Completed, Failed, ...); repeatable")
    kind = parser.add_mutually_exclusive_group()
    kind.add_argument("--kind", default="autosearch_job", help="job kind (default autosearch_job)")
    kind.add_argument("--all-kinds", action="store_true", help="every kind of training job")
    parser.add_argument("--sort-by", choices=("create_time", "name"), default="create_time",
                        help="sort key (default create_time)")
    parser.add_argument("--order", choices=("asc", "desc"), default="desc", help="sort order (default desc)")
    add_json_flag(parser)
    add_connection_args(parser)
    parser.set_defaults(run=run_jobs)


def job_summary(job: Mapping[str, Any]) -> dict[str, Any]:
    """The fields ``jobs`` shows of one ``JobResponse``."""
    attrs = dig(job, "algorithm", "policies", "auto_search", "reward_attrs")
    reward = attrs[0] if isinstance(attrs, list) and attrs and isinstance(attrs[0], Mapping) else {}
    created = dig(job, "metadata", "create_time")
    created_iso = None
    if isinstance(created, (int, float)) and not isinstance(created, bool) and created > 0:
        created_iso = datetime.fromtimestamp(created / 1000, tz=timezone.utc).strftime("%Y-%m-%d %H:%M")
    return {
        "id": dig(job, "metadata", "id"),
        "name": dig(job, "metadata", "name"),
        "kind": job.get("kind"),
        "phase": dig(job, "status", "phase"),
        "create_time": created,
        "created_utc": created_iso,
        "duration_ms": dig(job, "status", "duration"),
        "metric": reward.get("name"),
        "mode": reward.get("mode"),
    }


def _duration(ms: Any) -> str | None:
    if not isinstance(ms, (int, float)) or isinstance(ms, bool) or ms < 0:
        return None
    seconds = int(ms // 1000)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def run_jobs(args: argparse.Namespace) -> int:
    """Search and list."""
    filters: list[dict[str, Any]] = []
    if not args.all_kinds:
        filters.append({"key": "kind", "operator": "in", "value": [args.kind]})
    if args.name:
        filters.append({"key": "name", "operator": "like", "value": [args.name]})
    if args.phase:
        filters.append({"key": "phase", "operator": "in", "value": list(args.phase)})
    with client_from_args(args) as client:
        jobs = client.search_training_jobs(filters=filters, sort_by=args.sort_by, order=args.order)
    rows = [job_summary(j) for j in jobs]
    if args.json:
        print_json(rows)
        return EXIT_OK
    if not rows:
        print("no matching training jobs")
        return EXIT_OK
    print(text_table([[r["id"], r["name"], r["phase"], r["created_utc"], _duration(r["duration_ms"]),
                       f"{r['metric']} ({r['mode']})" if r["metric"] else None] for r in rows],
                     ["id", "name", "phase", "created (UTC)", "duration", "metric"]))
    print(f"{len(rows)} job{'s' if len(rows) != 1 else ''}")
    return EXIT_OK


# ---------------------------------------------------------------------- algorithms


def add_algorithms(sub: Any) -> None:
    """Register ``algorithms``."""
    parser = add_command(
        sub, "algorithms",
        help="list the search algorithms the service offers, with their parameters",
        description="Show GET /v2/{project_id}/search-algorithms: each algorithm and its parameters, typed.",
        examples=["hpo-analytics algorithms", "hpo-analytics algorithms --json"],
        note=_ENV_NOTE,
    )
    add_json_flag(parser)
    add_connection_args(parser)
    parser.set_defaults(run=run_algorithms)


def run_algorithms(args: argparse.Namespace) -> int:
    """Fetch the catalogue and print it."""
    from ..normalize import algorithms_to_pandas

    with client_from_args(args) as client:
        catalogue = client.search_algorithms()
    frame = algorithms_to_pandas(catalogue)
    algorithms: list[dict[str, Any]] = []
    for name, group in frame.groupby("algorithm", sort=False, dropna=False):
        params = [{"key": r.param, "type": r.type, "value": r.value}
                  for r in group.itertuples(index=False) if r.param is not None and r.param == r.param]
        algorithms.append({"name": name, "description": group["description"].iloc[0], "params": params})
    if args.json:
        print_json(algorithms)
        return EXIT_OK
    for algo in algorithms:
        print(f"{algo['name']}: {algo['description'] or ''}".rstrip(": "))
        for p in algo["params"]:
            print(f"  {p['key']} = {p['value']!s} ({p['type']})")
    print(f"{len(algorithms)} algorithm{'s' if len(algorithms) != 1 else ''}")
    return EXIT_OK
