"""``hpo-analytics ledger``: the watch's audit trail, readable while a watch runs."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import (
    EXIT_OK,
    add_command,
    add_json_flag,
    frame_records,
    print_json,
    text_table,
)

#: What the text table shows by default: what the loop did and why, not each "continue".
_ACTIONS = ("intent", "stopped", "already_stopped", "failed", "unresolved", "dry_run", "held", "job_ended",
            "notify_failed", "error", "exit")


def add_ledger(sub: Any) -> None:
    """Register ``ledger``."""
    from ._watch import DEFAULT_STATE_ROOT

    parser = add_command(
        sub, "ledger",
        help="show what the watch decided and did: when, why, with which rule and numbers, what failed",
        description=(
            "Read the SQLite ledgers 'hpo-analytics watch' writes (one per job under --state-dir) and\n"
            "print the audit trail, oldest first. By default: the actions (stop intents, stops, dry-run\n"
            "'would stop's, holds by a safety limit, failures, job ends, undelivered notifications,\n"
            "errors, exits) and each stop decision; --all adds every 'continue' decision and cycle.\n"
            "The files are opened read-only, so this is safe while a watch is running."
        ),
        examples=[
            "hpo-analytics ledger JOB_ID",
            "hpo-analytics ledger --state-dir /var/lib/hpo-watch --json",
            "hpo-analytics ledger JOB_ID --kind failed --kind unresolved",
        ],
    )
    parser.add_argument("job_id", metavar="JOB_ID", nargs="?", help="one job (default: every job under --state-dir)")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help=f"the watch's --state-dir (default {DEFAULT_STATE_ROOT})")
    parser.add_argument("--all", action="store_true", help="every event, 'continue' decisions and cycles included")
    parser.add_argument("--kind", action="append", default=[], help="only events of this kind (repeatable)")
    add_json_flag(parser)
    parser.set_defaults(run=run_ledger)


def run_ledger(args: argparse.Namespace) -> int:
    """Print the ledger as a table (or one JSON array)."""
    from ..stopping import read_ledger
    from ._watch import DEFAULT_STATE_ROOT

    root = args.state_dir if args.state_dir is not None else DEFAULT_STATE_ROOT
    where = root / args.job_id if args.job_id and (root / args.job_id).is_dir() else root
    events = read_ledger(where, job_id=args.job_id)
    if args.kind:
        events = events[events["kind"].isin(args.kind)]
    elif not args.all:
        stop_decision = (events["kind"] == "decision") & events["reason"].fillna("").str.startswith("stop:")
        events = events[events["kind"].isin(_ACTIONS) | stop_decision]
    if args.json:
        print_json(frame_records(events))
        return EXIT_OK
    if not len(events):
        print("no matching events")
        return EXIT_OK
    rows = [[e["time"].strftime("%Y-%m-%d %H:%M:%S"), e["job_id"], e["cycle"], e["kind"], e["trial_id"], e["rule"],
             e["step"], e["value"], e["reference"], _why(e)] for e in events.to_dict("records")]
    print(text_table(rows, ["time (UTC)", "job", "cycle", "kind", "trial", "rule", "step", "value", "reference",
                            "why / error"]))
    return EXIT_OK


def _why(event: dict[str, Any]) -> str | None:
    text = event.get("error") if isinstance(event.get("error"), str) else event.get("reason")
    return text if isinstance(text, str) else None
