"""``hpo-analytics watch``: poll a running search and early-stop hopeless trials (dry run by default).

Exit statuses (documented in ``--help`` and the README, tested as a subprocess):

* 0 — ended normally (the job ended, every trial is done, ``--once`` or
  ``--max-cycles`` reached, or a signal) and nothing failed;
* 1 — an error of the service or of the data that the loop could not get past;
* 2 — bad arguments (checked before anything is printed or written);
* 3 — some stop requests of this run failed or are unresolved;
* 4 — authentication or permission failure;
* 5 — the job was not found (the first check leaves no state behind).

Many jobs (``JOB_ID JOB_ID ...`` or ``--all-running``) run in one process
(:class:`~hpo_analytics.stopping.Fleet`); the statuses combine: 4 if
authentication failed, else 3 if any job's stops failed, else 1 if any job's
watch ended in an error, else 5 if a job id given did not exist, else 0.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, Callable

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    HpoAnalyticsError,
    PermissionDeniedError,
)
from ._common import (
    EXIT_AUTH,
    EXIT_ERROR,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_STOPS_FAILED,
    EXIT_USAGE,
    add_command,
    add_connection_args,
    add_json_flag,
    add_metric_args,
    client_from_args,
    fail,
    flag_names,
    print_json,
)
from ._notify import add_notify_options, build_notifier
from ._rules import RULES, add_rule_options, build_rule
from ._search_stop import SEARCH_STOP_FLAGS, add_search_stop_options, build_search_stop

#: The library's option names as the CLI spells them, for messages.
_FLAGS = {
    "interval_s": "--poll",
    "max_cycles": "--max-cycles",
    "protect_top": "--protect-top",
    "max_stops_per_cycle": "--max-stops-per-cycle",
    "max_stop_fraction": "--max-stop-fraction",
    "min_running": "--min-running",
    "grace_period": "--grace-period",
    "min_samples": "--min-samples",
    "max_jobs_in_flight": "--max-jobs-in-flight",
    **SEARCH_STOP_FLAGS,
}

#: Where each job's state lives by default: ``.hpo-analytics/watch/<JOB_ID>/``.
DEFAULT_STATE_ROOT = Path(".hpo-analytics") / "watch"

EXIT_STATUSES = (
    "exit status: 0 ended normally (job ended, all trials done, --once/--max-cycles, or a signal) with nothing\n"
    "failed; 1 a service or data error; 2 bad arguments; 3 some stop requests failed or are unresolved;\n"
    "4 authentication or permission failure; 5 job not found. With several jobs: 4 if authentication\n"
    "failed, else 3 if any job's stops failed, else 1 if any job's watch ended in an error, else 5 if a\n"
    "JOB_ID given does not exist, else 0."
)


def add_watch(sub: Any) -> None:
    """Register ``watch``."""
    parser = add_command(
        sub, "watch",
        help="watch a running search and early-stop hopeless trials (dry run unless --execute)",
        description=(
            "Every --poll seconds: read the job's phase and trials, record new reports in a SQLite\n"
            "ledger under --state-dir, decide with the rule, and (only with --execute) stop trials\n"
            "through the API. Every decision and action is recorded. Safety: dry run by default;\n"
            "never stops the best --protect-top trials or a trial that is not running; at most\n"
            "--max-stops-per-cycle per cycle and --max-stop-fraction of all trials; keeps\n"
            "--min-running trials running; a file named PAUSE in the job's state directory pauses\n"
            "acting. Ends when the job ends (Completed, Failed, Terminated, Abnormal, or deleted),\n"
            "when every trial is done, after --once / --max-cycles, or on Ctrl-C/SIGTERM after the\n"
            "cycle's bookkeeping. The summary covers this run; 'hpo-analytics ledger' shows them all.\n"
            "Credentials come from the environment (see 'hpo-analytics simulate'); for runs of days\n"
            "use AK/SK, or HPO_ANALYTICS_TOKEN_FILE (read again when the token expires).\n\n"
            "Several JOB_IDs, or --all-running (the project's running autosearch jobs, looked up again\n"
            "every cycle, narrowed by --filter), are watched in one process: each job with its own rule,\n"
            "ledger (--state-dir/JOB_ID), metric and mode (from its details unless --metric/--mode) and\n"
            "safety limits; at most --max-jobs-in-flight jobs' cycles at once. A cycle is one pass over\n"
            "every job. A job that ends, is done or fails (e.g. a metric that is not numeric) is closed\n"
            "out and the others go on; an authentication failure stops everything. With JOB_IDs the\n"
            "watch ends when every job has; with --all-running it keeps looking for new running jobs\n"
            "until --once/--max-cycles or a signal.\n\n"
            + EXIT_STATUSES
        ),
        examples=[
            "hpo-analytics watch JOB_ID --rule median --metric acc --mode max",
            "hpo-analytics watch JOB_ID --rule significance --alpha 0.01 --execute --json",
            "hpo-analytics watch JOB_ID --once --execute   # one cycle, e.g. from cron",
            "hpo-analytics watch --all-running --filter name:like:resnet --execute --json",
        ],
    )
    parser.add_argument("job_ids", metavar="JOB_ID", nargs="*", help="the autosearch training job id(s)")
    parser.add_argument("--all-running", action="store_true",
                        help="watch every running autosearch job of the project, found again each cycle")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY:OP:VALUE", dest="filters",
                        help="with --all-running, only jobs matching this job-search filter, e.g. name:like:resnet "
                             "or user_id:in:u1,u2 (VALUE: comma-separated); repeatable, all must match")
    parser.add_argument("--max-jobs-in-flight", type=int, default=4, metavar="N",
                        help="at most N jobs' cycles at once (default 4)")
    parser.add_argument("--rule", default="median", choices=RULES, help="stop rule (default median)")
    add_metric_args(parser)
    parser.add_argument("--execute", action="store_true", help="really send stop requests (default: dry run)")
    add_json_flag(parser)
    parser.add_argument("--state-dir", type=Path, default=None,
                        help=f"where each job's SQLite ledger lives, in a directory per job (default "
                             f"{DEFAULT_STATE_ROOT}/JOB_ID)")
    parser.add_argument("--poll", type=float, default=60.0, help="seconds between cycles (default 60)")
    parser.add_argument("--max-cycles", type=int, default=None, help="stop after this many cycles")
    parser.add_argument("--once", action="store_true", help="run exactly one cycle (for cron); same exit statuses")
    add_rule_options(parser)
    safety = parser.add_argument_group("safety")
    safety.add_argument("--protect-top", type=int, default=1, help="never stop the best K trials (1)")
    safety.add_argument("--max-stops-per-cycle", type=int, default=2, help="at most N stops per cycle (2)")
    safety.add_argument("--max-stop-fraction", type=float, default=0.5,
                        help="at most this fraction of all trials stopped (0.5)")
    safety.add_argument("--min-running", type=int, default=2, help="keep at least M trials running (2)")
    add_notify_options(parser)
    add_search_stop_options(parser)
    add_connection_args(parser)
    parser.set_defaults(run=run_watch)


def job_state_dir(root: Path | None, job_id: str) -> Path:
    """The state directory of one job under ``root`` (default :data:`DEFAULT_STATE_ROOT`)."""
    from ..stopping import job_state_dir as state_dir

    return state_dir(root if root is not None else DEFAULT_STATE_ROOT, job_id)


def parse_filter(text: str) -> dict[str, Any]:
    """``--filter KEY:OP:VALUE`` as the job search takes it: ``{"key", "operator", "value": [...]}``.

    VALUE may list several values separated by commas (``phase:in:Running,Pending``);
    the service checks the keys and operators it knows.
    """
    key, _, rest = text.partition(":")
    op, _, value = rest.partition(":")
    values = [v.strip() for v in value.split(",") if v.strip()]
    if not key.strip() or not op.strip() or not values:
        raise ConfigurationError(f"--filter {text!r} is not KEY:OP:VALUE (e.g. name:like:resnet or user_id:in:u1,u2)")
    return {"key": key.strip(), "operator": op.strip(), "value": values}


def _options(args: argparse.Namespace) -> tuple[Any, Any, Path, int | None, list[dict[str, Any]]]:
    """The rule, safety limits, state root, cycle limit and job filters, checked (messages name the CLI's flags)."""
    from .._validation import check_float, check_int
    from ..stopping import Safety

    rule = build_rule(args.rule, args)
    safety = Safety(protect_top=args.protect_top, max_stops_per_cycle=args.max_stops_per_cycle,
                    max_stop_fraction=args.max_stop_fraction, min_running=args.min_running)
    check_float("interval_s", args.poll, low=0.0)
    max_cycles = 1 if args.once else args.max_cycles
    if args.once and args.max_cycles not in (None, 1):
        raise ConfigurationError("--once runs one cycle; do not combine it with --max-cycles")
    if max_cycles is not None:
        check_int("max_cycles", max_cycles, low=1)
    check_int("max_jobs_in_flight", args.max_jobs_in_flight, low=1)
    if args.all_running and args.job_ids:
        raise ConfigurationError("give JOB_IDs or --all-running, not both")
    if not args.all_running and not args.job_ids:
        raise ConfigurationError("give the JOB_ID(s) to watch, or --all-running")
    if args.filters and not args.all_running:
        raise ConfigurationError("--filter narrows --all-running; it needs --all-running")
    filters = [parse_filter(text) for text in args.filters]
    root = args.state_dir if args.state_dir is not None else DEFAULT_STATE_ROOT
    for job_id in args.job_ids:
        job_state_dir(root, job_id)
    if args.all_running:
        job_state_dir(root, "JOB_ID")
    return rule, safety, root, max_cycles, filters


def run_watch(args: argparse.Namespace) -> int:
    """Run the watch over the jobs asked for, one line (or JSON line) per decision, then a summary of this run."""
    try:
        rule, safety, root, max_cycles, filters = _options(args)
        notifier = build_notifier(args)
        search_stop = build_search_stop(args)
    except ConfigurationError as exc:
        fail("watch", flag_names(str(exc), _FLAGS))
        return EXIT_USAGE
    try:
        client = client_from_args(args)
    except ConfigurationError as exc:
        fail("watch", exc)
        return EXIT_USAGE
    job_ids = list(dict.fromkeys(args.job_ids))
    many = args.all_running or len(job_ids) > 1

    def emit(event: dict[str, Any]) -> None:
        if args.json:
            print_json(event)
        else:
            job = f"job {event['job_id']} " if many else ""
            who = f" trial {event['trial_id']}" if event.get("trial_id") is not None else ""
            step = f" step {event['step']}" if event.get("step") is not None else ""
            print(f"{job}cycle {event.get('cycle')}{who}{step}: {event['action']} - {event.get('reason', '')}",
                  flush=True)

    # what every job's Watcher gets, unchanged
    watcher_options: dict[str, Any] = {"execute": args.execute, "safety": safety, "notify": notifier,
                                       "search_stop": search_stop}
    mode = "EXECUTE" if args.execute else "dry run (add --execute to stop trials)"
    with client:
        try:
            return _run_fleet(args, client, rule, root, max_cycles, filters, job_ids, many, mode, emit,
                              watcher_options)
        finally:
            if notifier is not None:
                notifier.close()


def _run_fleet(args: argparse.Namespace, client: Any, rule: Any, root: Path, max_cycles: int | None,
               filters: list[dict[str, Any]], job_ids: list[str], many: bool, mode: str,
               emit: Callable[[dict[str, Any]], None], watcher_options: dict[str, Any]) -> int:
    """Build the fleet, say what is watched, run it and print the summaries; the exit status."""
    from ..stopping import Fleet

    try:
        # explicit jobs are checked here: one that does not exist is said before the banner, with no state
        fleet = Fleet(client, lambda: build_rule(args.rule, args), state_root=root, job_ids=job_ids,
                      all_running=args.all_running, filters=filters, max_jobs_in_flight=args.max_jobs_in_flight,
                      emit=emit, watcher_options=watcher_options)
    except (AuthenticationError, PermissionDeniedError) as exc:
        fail("watch", exc)
        return EXIT_AUTH
    except HpoAnalyticsError as exc:
        fail("watch", exc)
        return EXIT_ERROR
    with fleet:
        for job_id, message in fleet.not_found.items():
            fail("watch", message if not many else f"job {job_id}: {message}")
        if job_ids and len(fleet.not_found) == len(job_ids):
            return EXIT_NOT_FOUND
        if not args.json:
            if args.all_running:
                what = "every running autosearch job" + (f" matching {' and '.join(args.filters)}"
                                                        if args.filters else "")
                where = f"state under {root}"
            elif many:
                what, where = f"{len(fleet.open_jobs)} jobs", f"state under {root}"
            else:
                what, where = f"job {job_ids[0]}", f"state in {job_state_dir(root, job_ids[0])}"
            print(f"watching {what} with {rule.describe()}; {mode}; {where}", flush=True)
        result = fleet.run(interval_s=args.poll, max_cycles=max_cycles, handle_signals=True)
    if result.fatal is not None:
        fail("watch", result.fatal)
    for job_id, error in result.errors.items():
        fail("watch", error if not many else f"job {job_id}: {error}")
    status = fleet_exit_status(result)
    if not many and (result.fatal is not None or result.errors):
        return status  # one job: as before, an error line and no summary
    for job_id, r in result.jobs.items():
        if job_id in result.not_found:
            continue
        summary = {"event": "end", "job_id": job_id, "ended": r.ended, "cycles": r.cycles, "stopped": r.stopped,
                   "already_stopped": r.already_stopped, "failed": r.failed, "would_stop": r.would_stop}
        if args.json:
            print_json(summary)
        else:
            print(f"{f'job {job_id}: ' if many else ''}watch ended ({r.ended}) after {r.cycles} cycles in this run: "
                  f"{len(r.stopped)} stopped, {len(r.already_stopped)} already stopped, {len(r.failed)} failed or "
                  f"unresolved, {len(r.would_stop)} would have been stopped", flush=True)
    if many:
        total = {"event": "end_all", "ended": result.ended, "cycles": result.cycles,
                 "jobs": [j for j in result.jobs if j not in result.not_found], "not_found": sorted(result.not_found),
                 "errors": result.errors, "exit_status": status}
        if args.json:
            print_json(total)
        else:
            print(f"watch of {len(total['jobs'])} jobs ended ({result.ended}) after {result.cycles} cycles; "
                  f"{len(result.failed)} with failed stops, {len(result.errors)} ended by an error, "
                  f"{len(result.not_found)} not found; exit status {status}", flush=True)
    return status


def fleet_exit_status(result: Any) -> int:
    """The exit status of a watch of one or many jobs that returned ``result`` (a ``FleetResult``).

    4 authentication or permission failure; else 3 some job's stops failed
    or are unresolved; else 1 some job's watch ended in an error (or the
    run did: a job search that kept failing); else 5 a job id given does
    not exist (or no longer does); else 0.
    """
    from ..stopping import JOB_NOT_FOUND

    if isinstance(result.fatal, (AuthenticationError, PermissionDeniedError)):
        return EXIT_AUTH
    if result.failed:
        return EXIT_STOPS_FAILED
    if result.fatal is not None or any(result.jobs[j].ended != JOB_NOT_FOUND for j in result.errors):
        return EXIT_ERROR
    explicit = set(result.explicit)
    if any(r.ended == JOB_NOT_FOUND for j, r in result.jobs.items() if j in explicit):
        return EXIT_NOT_FOUND
    return EXIT_OK


def exit_status(result: Any) -> int:
    """The exit status of a watch that returned ``result`` (see the module docstring)."""
    from ..stopping import JOB_NOT_FOUND

    if result.failed:
        return EXIT_STOPS_FAILED
    if result.ended == JOB_NOT_FOUND:
        return EXIT_NOT_FOUND
    return EXIT_OK
