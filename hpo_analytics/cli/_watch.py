"""``hpo-analytics watch``: poll a running search and early-stop hopeless trials (dry run by default).

Exit statuses (documented in ``--help`` and the README, tested as a subprocess):

* 0 — ended normally (the job ended, every trial is done, ``--once`` or
  ``--max-cycles`` reached, or a signal) and nothing failed;
* 1 — an error of the service or of the data that the loop could not get past;
* 2 — bad arguments (checked before anything is printed or written);
* 3 — some stop requests of this run failed or are unresolved;
* 4 — authentication or permission failure;
* 5 — the job was not found (the first check leaves no state behind).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..errors import (
    AuthenticationError,
    ConfigurationError,
    HpoAnalyticsError,
    NotFoundError,
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
    **SEARCH_STOP_FLAGS,
}

#: Where each job's state lives by default: ``.hpo-analytics/watch/<JOB_ID>/``.
DEFAULT_STATE_ROOT = Path(".hpo-analytics") / "watch"

EXIT_STATUSES = (
    "exit status: 0 ended normally (job ended, all trials done, --once/--max-cycles, or a signal) with nothing\n"
    "failed; 1 a service or data error; 2 bad arguments; 3 some stop requests failed or are unresolved;\n"
    "4 authentication or permission failure; 5 job not found."
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
            + EXIT_STATUSES
        ),
        examples=[
            "hpo-analytics watch JOB_ID --rule median --metric acc --mode max",
            "hpo-analytics watch JOB_ID --rule significance --alpha 0.01 --execute --json",
            "hpo-analytics watch JOB_ID --once --execute   # one cycle, e.g. from cron",
        ],
    )
    parser.add_argument("job_id", metavar="JOB_ID", help="the autosearch training job id")
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
    add_search_stop_options(parser)
    add_connection_args(parser)
    parser.set_defaults(run=run_watch)


def job_state_dir(root: Path | None, job_id: str) -> Path:
    """The state directory of one job under ``root`` (default :data:`DEFAULT_STATE_ROOT`)."""
    from ..stopping.ledger import LEDGER_FILE

    root = root if root is not None else DEFAULT_STATE_ROOT
    if (root / LEDGER_FILE).exists():
        # an earlier version kept one job's ledger right in --state-dir: never start afresh beside it
        raise ConfigurationError(
            f"{root} holds a ledger in the old single-job layout; move {root / LEDGER_FILE} (and its -wal/-shm "
            f"files) into {root / job_id}/ if it belongs to that job, then run again")
    return root / job_id


def _options(args: argparse.Namespace) -> tuple[Any, Any, Path, int | None]:
    """The rule, safety limits, state directory and cycle limit, checked (messages name the CLI's flags)."""
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
    return rule, safety, job_state_dir(args.state_dir, args.job_id), max_cycles


def run_watch(args: argparse.Namespace) -> int:
    """Run the watch loop, one line (or JSON line) per decision, then a summary of this run."""
    try:
        rule, safety, state_dir, max_cycles = _options(args)
        search_stop = build_search_stop(args)
    except ConfigurationError as exc:
        fail("watch", flag_names(str(exc), _FLAGS))
        return EXIT_USAGE
    try:
        client = client_from_args(args)
    except ConfigurationError as exc:
        fail("watch", exc)
        return EXIT_USAGE
    from ..stopping import watch

    def emit(event: dict[str, Any]) -> None:
        if args.json:
            print_json(event)
        else:
            who = f" trial {event['trial_id']}" if event.get("trial_id") is not None else ""
            step = f" step {event['step']}" if event.get("step") is not None else ""
            print(f"cycle {event.get('cycle')}{who}{step}: {event['action']} - {event.get('reason', '')}",
                  flush=True)

    mode = "EXECUTE" if args.execute else "dry run (add --execute to stop trials)"
    with client:
        try:
            if hasattr(client, "job_phase"):
                client.job_phase(args.job_id)  # a job that does not exist: say so before the banner
            if not args.json:
                print(f"watching job {args.job_id} with {rule.describe()}; {mode}; state in {state_dir}",
                      flush=True)
            result = watch(client, args.job_id, rule, state_dir=state_dir, execute=args.execute,
                           interval_s=args.poll, safety=safety, max_cycles=max_cycles, emit=emit,
                           handle_signals=True, search_stop=search_stop)
        except (AuthenticationError, PermissionDeniedError) as exc:
            fail("watch", exc)
            return EXIT_AUTH
        except NotFoundError as exc:
            fail("watch", exc)
            return EXIT_NOT_FOUND
        except HpoAnalyticsError as exc:
            fail("watch", exc)
            return EXIT_ERROR
    summary = {"event": "end", "job_id": args.job_id, "ended": result.ended, "cycles": result.cycles,
               "stopped": result.stopped, "already_stopped": result.already_stopped, "failed": result.failed,
               "would_stop": result.would_stop}
    if args.json:
        print_json(summary)
    else:
        print(f"watch ended ({result.ended}) after {result.cycles} cycles in this run: {len(result.stopped)} "
              f"stopped, {len(result.already_stopped)} already stopped, {len(result.failed)} failed or "
              f"unresolved, {len(result.would_stop)} would have been stopped", flush=True)
    return exit_status(result)


def exit_status(result: Any) -> int:
    """The exit status of a watch that returned ``result`` (see the module docstring)."""
    from ..stopping import JOB_NOT_FOUND

    if result.failed:
        return EXIT_STOPS_FAILED
    if result.ended == JOB_NOT_FOUND:
        return EXIT_NOT_FOUND
    return EXIT_OK
