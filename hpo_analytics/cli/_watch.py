"""``hpo-analytics watch``: poll a running search and early-stop hopeless trials (dry run by default)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import (
    EXIT_OK,
    add_command,
    add_connection_args,
    add_json_flag,
    add_metric_args,
    client_from_args,
    print_json,
)
from ._rules import RULES, add_rule_options, build_rule


def add_watch(sub: Any) -> None:
    """Register ``watch``."""
    parser = add_command(
        sub, "watch",
        help="watch a running search and early-stop hopeless trials (dry run unless --execute)",
        description=(
            "Every --poll seconds: read the job's trials, record new reports in a SQLite file in\n"
            "--state-dir, decide with the rule, and (only with --execute) stop trials through the\n"
            "API. Every decision and action is recorded. Safety: dry run by default; never stops\n"
            "the best --protect-top trials or a trial that is not running; at most\n"
            "--max-stops-per-cycle per cycle and --max-stop-fraction of all trials; keeps\n"
            "--min-running trials running; a file named PAUSE in --state-dir pauses acting.\n"
            "Exits when every trial is done, or on Ctrl-C/SIGTERM after the cycle's bookkeeping.\n"
            "Credentials come from the environment (see 'hpo-analytics simulate')."
        ),
        examples=[
            "hpo-analytics watch JOB_ID --rule median --metric acc --mode max",
            "hpo-analytics watch JOB_ID --rule significance --alpha 0.01 --execute --json",
        ],
    )
    parser.add_argument("job_id", metavar="JOB_ID", help="the autosearch training job id")
    parser.add_argument("--rule", default="median", choices=RULES, help="stop rule (default median)")
    add_metric_args(parser)
    parser.add_argument("--execute", action="store_true", help="really send stop requests (default: dry run)")
    add_json_flag(parser)
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the SQLite state lives (default .hpo-analytics/watch/JOB_ID)")
    parser.add_argument("--poll", type=float, default=60.0, help="seconds between cycles (default 60)")
    parser.add_argument("--max-cycles", type=int, default=None, help="stop after this many cycles")
    add_rule_options(parser)
    safety = parser.add_argument_group("safety")
    safety.add_argument("--protect-top", type=int, default=1, help="never stop the best K trials (1)")
    safety.add_argument("--max-stops-per-cycle", type=int, default=2, help="at most N stops per cycle (2)")
    safety.add_argument("--max-stop-fraction", type=float, default=0.5,
                        help="at most this fraction of all trials stopped (0.5)")
    safety.add_argument("--min-running", type=int, default=2, help="keep at least M trials running (2)")
    add_connection_args(parser)
    parser.set_defaults(run=run_watch)


def run_watch(args: argparse.Namespace) -> int:
    """Run the watch loop, one line (or JSON line) per decision, then a summary."""
    from ..stopping import Safety, watch

    rule = build_rule(args.rule, args)
    safety = Safety(protect_top=args.protect_top, max_stops_per_cycle=args.max_stops_per_cycle,
                    max_stop_fraction=args.max_stop_fraction, min_running=args.min_running)
    state_dir = args.state_dir or Path(".hpo-analytics") / "watch" / args.job_id

    def emit(event: dict[str, Any]) -> None:
        if args.json:
            print_json(event)
        else:
            who = f" trial {event['trial_id']}" if event.get("trial_id") is not None else ""
            step = f" step {event['step']}" if event.get("step") is not None else ""
            print(f"cycle {event.get('cycle')}{who}{step}: {event['action']} - {event.get('reason', '')}",
                  flush=True)

    mode = "EXECUTE" if args.execute else "dry run (add --execute to stop trials)"
    if not args.json:
        print(f"watching job {args.job_id} with {rule.describe()}; {mode}; state in {state_dir}", flush=True)
    with client_from_args(args) as client:
        result = watch(client, args.job_id, rule, state_dir=state_dir, execute=args.execute,
                       interval_s=args.poll, safety=safety, max_cycles=args.max_cycles, emit=emit,
                       handle_signals=True)
    summary = {"event": "end", "job_id": args.job_id, "ended": result.ended, "cycles": result.cycles,
               "stopped": result.stopped, "already_stopped": result.already_stopped, "failed": result.failed,
               "would_stop": result.would_stop}
    if args.json:
        print_json(summary)
    else:
        print(f"watch ended ({result.ended}) after {result.cycles} cycles: {len(result.stopped)} stopped, "
              f"{len(result.already_stopped)} already stopped, {len(result.failed)} failed or unresolved, "
              f"{len(result.would_stop)} would have been stopped", flush=True)
    return EXIT_OK
