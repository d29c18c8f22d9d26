"""The ``hpo-analytics`` command line.

Each subcommand is registered by an ``_add_<name>`` function and runs through
``_run_<name>(args) -> int``.  Errors of the library (bad input, service
errors) end in one line on stderr and a non-zero exit status, never a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import HpoAnalyticsError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

_Runner = Callable[[argparse.Namespace], int]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _add_normalize(sub: Any) -> None:
    parser = sub.add_parser(
        "normalize",
        help="convert trial pages (JSON) into a typed Parquet table and print a summary",
        description="Convert autosearch trial pages into one typed table, write it as Parquet and print a summary.",
        epilog=(
            "examples:\n"
            "  hpo-analytics normalize data/synthetic_job/trials -o out/trials.parquet\n"
            "  hpo-analytics normalize page.json --curves -o out/curves.parquet"
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("input", type=Path, help="a JSON response file, a directory of page files, or Parquet")
    parser.add_argument("-o", "--output", type=Path, help="where to write the Parquet table")
    parser.add_argument("--curves", action="store_true",
                        help="keep one row per (trial, iteration) instead of one row per trial")
    parser.add_argument("--keep-raw", action="store_true", help="add raw/<column> with the original text")
    parser.add_argument("--strict", action="store_true", help="fail on the first cell that cannot be parsed")
    parser.set_defaults(run=_run_normalize)


def _run_normalize(args: argparse.Namespace) -> int:
    from .io import read_curves, read_trials, write_parquet

    reader = read_curves if args.curves else read_trials
    options: dict[str, Any] = {}
    if args.input.suffix.lower() not in (".parquet", ".pq"):
        options = {"keep_raw": args.keep_raw, "errors": "raise" if args.strict else "coerce"}
    started = time.perf_counter()
    table = reader(args.input, **options)
    elapsed = time.perf_counter() - started
    kind = "rows" if args.curves else "trials"
    print(f"Read {table.num_rows} {kind} ({table.num_columns} columns) from {args.input} in {elapsed:.2f} s")
    for line in _summary_lines(table):
        print(line)
    if args.output:
        write_parquet(table, args.output)
        print(f"Wrote {args.output}")
    return EXIT_OK


def _summary_lines(table: Any) -> list[str]:
    import pyarrow.compute as pc

    lines = []
    names = table.column_names
    if "status" in names and table.num_rows:
        counts = pc.value_counts(table["status"]).to_pylist()
        parts = [f"{c['values'] if c['values'] is not None else '(none)'} {c['counts']}" for c in counts]
        lines.append("status: " + ", ".join(parts))
    metric = "reward_attr" if "reward_attr" in names else None
    meta = table.schema.metadata or {}
    metric = meta.get(b"hpo_analytics.metric", b"").decode() or metric
    mode = meta.get(b"hpo_analytics.mode", b"max").decode()
    if metric in names and table[metric].null_count < table.num_rows:
        values = table[metric]
        valid = pc.and_(pc.is_valid(values), pc.invert(pc.is_nan(values)))
        if pc.any(valid).as_py():
            best = (pc.max if mode == "max" else pc.min)(pc.filter(values, valid)).as_py()
            rows = table.filter(pc.and_(valid, pc.equal(values, best)))
            ids = rows["trial_id"].to_pylist() if "trial_id" in names else []
            shown = ", ".join(str(i) for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            lines.append(f"best {metric} ({mode}): {best:.6g} (trial {shown})")
    params = [n for n in names if n.startswith("param/")]
    if params:
        lines.append("parameters: " + ", ".join(p.removeprefix("param/") for p in params))
    lines.append("columns: " + ", ".join(f"{f.name}:{f.type}" for f in table.schema))
    return lines


def _add_simulate(sub: Any) -> None:
    parser = sub.add_parser(
        "simulate",
        help="run a local ModelArts-compatible server with simulated autosearch jobs",
        description=(
            "Serve simulated autosearch jobs on a loopback port, speaking the ModelArts API that\n"
            "hpo-analytics uses, until Ctrl-C. It prints the URL, the project id, the job ids\n"
            "and the environment variables that point hpo-analytics at it."
        ),
        epilog=(
            "examples:\n"
            "  hpo-analytics simulate --port 8765 --trials 500 --seed 1\n"
            "  hpo-analytics simulate --port 0 --offset-mode pages --elapsed 600 --speed 60\n"
            "then, in another shell, the printed 'export' lines and e.g.\n"
            "  curl -H \"X-Auth-Token: $HPO_ANALYTICS_TOKEN\" \\\n"
            "    \"$HPO_ANALYTICS_ENDPOINT/v2/$HUAWEICLOUD_SDK_PROJECT_ID/search-algorithms\""
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default 8765)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--trials", type=int, default=200, help="trials in the first job (default 200)")
    parser.add_argument("--jobs", type=int, default=1, help="number of jobs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--offset-mode", choices=("records", "pages"), default="records",
                        help="whether 'offset' counts records or pages (default records)")
    parser.add_argument("--auth", choices=("token", "aksk", "any"), default="any",
                        help="accepted authentication (default any)")
    parser.add_argument("--elapsed", type=float, default=None,
                        help="simulated seconds already past at start (default: every trial finished)")
    parser.add_argument("--speed", type=float, default=0.0,
                        help="simulated seconds that pass per real second (default 0: time stands still)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds of added latency per request")
    parser.set_defaults(run=_run_simulate)


def _run_simulate(args: argparse.Namespace) -> int:
    import signal
    import threading

    from .simulator import Faults, Simulator

    stop = threading.Event()

    def _terminate(signum: int, frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _terminate)
    sim = Simulator(
        seed=args.seed, n_trials=args.trials, n_jobs=args.jobs, offset_mode=args.offset_mode,
        auth=args.auth, elapsed=args.elapsed, host=args.host, port=args.port,
        faults=Faults(latency=args.latency),
    )
    try:
        with sim:
            print(f"hpo-analytics simulator listening on {sim.url}", flush=True)
            print(f"project id: {sim.project_id}")
            print("jobs:")
            for job_id, job in sim.jobs.items():
                print(f"  {job_id}  {job.name}  {job.total} trials  {job.phase}")
            print(f"offset mode: {sim.offset_mode}; auth: {sim.auth}")
            print("point hpo-analytics at it with:")
            print(f"  export HPO_ANALYTICS_ENDPOINT={sim.url}")
            print(f"  export HUAWEICLOUD_SDK_PROJECT_ID={sim.project_id}")
            if sim.auth in ("token", "any"):
                print(f"  export HPO_ANALYTICS_TOKEN={sim.token}")
            if sim.auth in ("aksk", "any"):
                mark = "# " if sim.auth == "any" else ""
                if mark:
                    print("  # or, to sign requests with AK/SK instead of the token:")
                print(f"  {mark}export HUAWEICLOUD_SDK_AK={sim.ak}")
                print(f"  {mark}export HUAWEICLOUD_SDK_SK={sim.sk}")
            print("Press Ctrl-C to stop.", flush=True)
            tick = 1.0
            while not stop.wait(tick):
                if args.speed > 0:
                    sim.advance(args.speed * tick)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("simulator stopped", flush=True)
    return EXIT_OK


def _add_watch(sub: Any) -> None:
    parser = sub.add_parser(
        "watch",
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
        epilog=(
            "examples:\n"
            "  hpo-analytics watch JOB_ID --rule median --metric acc --mode max\n"
            "  hpo-analytics watch JOB_ID --rule significance --alpha 0.01 --execute --json"
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("job_id", metavar="JOB_ID", help="the autosearch training job id")
    parser.add_argument("--rule", default="median",
                        choices=("median", "percentile", "asha", "threshold", "patience", "significance"),
                        help="stop rule (default median)")
    parser.add_argument("--metric", help="metric column (default: the job's reward metric, else reward_attr)")
    parser.add_argument("--mode", choices=("max", "min"), help="whether larger or smaller is better")
    parser.add_argument("--execute", action="store_true", help="really send stop requests (default: dry run)")
    parser.add_argument("--json", action="store_true", help="print JSON lines instead of text")
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the SQLite state lives (default .hpo-analytics/watch/JOB_ID)")
    parser.add_argument("--poll", type=float, default=60.0, help="seconds between cycles (default 60)")
    parser.add_argument("--max-cycles", type=int, default=None, help="stop after this many cycles")
    rule = parser.add_argument_group("rule options")
    rule.add_argument("--semantics", choices=("optuna", "ray"), default="optuna",
                      help="median/percentile: whose semantics (default optuna)")
    rule.add_argument("--grace-period", type=int, default=0, help="first step a decision may be made at")
    rule.add_argument("--min-samples", type=int, default=5, help="reference trials needed (default 5)")
    rule.add_argument("--interval", type=int, default=1, help="steps between decisions (default 1)")
    rule.add_argument("--percentile", type=float, default=25.0, help="percentile rule: keep the top P%% (25)")
    rule.add_argument("--threshold", type=float, default=None, help="threshold rule: the threshold")
    rule.add_argument("--patience", type=int, default=5, help="patience rule: steps without improvement (5)")
    rule.add_argument("--min-delta", type=float, default=0.0, help="patience rule: minimum improvement (0)")
    rule.add_argument("--alpha", type=float, default=0.01, help="significance rule: FDR level (0.01)")
    rule.add_argument("--window", type=int, default=3, help="significance rule: trailing window (3 steps)")
    rule.add_argument("--min-resource", type=int, default=1, help="asha: first rung (1)")
    rule.add_argument("--reduction-factor", type=int, default=3, help="asha: reduction factor (3)")
    safety = parser.add_argument_group("safety")
    safety.add_argument("--protect-top", type=int, default=1, help="never stop the best K trials (1)")
    safety.add_argument("--max-stops-per-cycle", type=int, default=2, help="at most N stops per cycle (2)")
    safety.add_argument("--max-stop-fraction", type=float, default=0.5,
                        help="at most this fraction of all trials stopped (0.5)")
    safety.add_argument("--min-running", type=int, default=2, help="keep at least M trials running (2)")
    conn = parser.add_argument_group("connection (override the environment)")
    conn.add_argument("--endpoint", help="service URL (else HPO_ANALYTICS_ENDPOINT / HPO_ANALYTICS_REGION)")
    conn.add_argument("--project-id", help="project id (else HUAWEICLOUD_SDK_PROJECT_ID)")
    parser.set_defaults(run=_run_watch)


def _watch_rule(args: argparse.Namespace) -> Any:
    from .errors import ConfigurationError
    from .stopping import (
        MedianStoppingRule,
        PatienceRule,
        PercentileRule,
        SignificanceRule,
        SuccessiveHalvingRule,
        ThresholdRule,
    )

    common = {"metric": args.metric, "mode": args.mode}
    gated = {"grace_period": args.grace_period, "interval": args.interval}
    if args.rule == "median":
        return MedianStoppingRule(min_samples=args.min_samples, semantics=args.semantics, **gated, **common)
    if args.rule == "percentile":
        return PercentileRule(args.percentile, min_samples=args.min_samples, semantics=args.semantics,
                              **gated, **common)
    if args.rule == "asha":
        return SuccessiveHalvingRule(min_resource=args.min_resource, reduction_factor=args.reduction_factor,
                                     **common)
    if args.rule == "threshold":
        if args.threshold is None:
            raise ConfigurationError("--rule threshold needs --threshold")
        return ThresholdRule(args.threshold, **gated, **common)
    if args.rule == "patience":
        return PatienceRule(patience=args.patience, min_delta=args.min_delta, **gated, **common)
    return SignificanceRule(alpha=args.alpha, window=args.window, min_samples=args.min_samples, **gated, **common)


def _run_watch(args: argparse.Namespace) -> int:
    import json
    import os

    from .client import ModelArtsClient
    from .stopping import Safety, watch

    rule = _watch_rule(args)
    safety = Safety(protect_top=args.protect_top, max_stops_per_cycle=args.max_stops_per_cycle,
                    max_stop_fraction=args.max_stop_fraction, min_running=args.min_running)
    environ = dict(os.environ)
    if args.endpoint:
        environ["HPO_ANALYTICS_ENDPOINT"] = args.endpoint
    if args.project_id:
        environ["HUAWEICLOUD_SDK_PROJECT_ID"] = args.project_id
    state_dir = args.state_dir or Path(".hpo-analytics") / "watch" / args.job_id

    def emit(event: dict[str, Any]) -> None:
        if args.json:
            clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in event.items()}
            print(json.dumps(clean, default=str), flush=True)
        else:
            step = f" step {event['step']}" if event.get("step") is not None else ""
            print(f"cycle {event.get('cycle')} trial {event['trial_id']}{step}: {event['action']} - "
                  f"{event.get('reason', '')}", flush=True)

    mode = "EXECUTE" if args.execute else "dry run (add --execute to stop trials)"
    if not args.json:
        print(f"watching job {args.job_id} with {rule.describe()}; {mode}; state in {state_dir}", flush=True)
    with ModelArtsClient.from_env(environ=environ) as client:
        result = watch(client, args.job_id, rule, state_dir=state_dir, execute=args.execute,
                       interval_s=args.poll, safety=safety, max_cycles=args.max_cycles, emit=emit,
                       handle_signals=True)
    summary = {"event": "end", "job_id": args.job_id, "ended": result.ended, "cycles": result.cycles,
               "stopped": result.stopped, "already_stopped": result.already_stopped, "failed": result.failed,
               "would_stop": result.would_stop}
    if args.json:
        print(json.dumps(summary), flush=True)
    else:
        print(f"watch ended ({result.ended}) after {result.cycles} cycles: {len(result.stopped)} stopped, "
              f"{len(result.already_stopped)} already stopped, {len(result.failed)} failed or unresolved, "
              f"{len(result.would_stop)} would have been stopped", flush=True)
    return EXIT_OK


_COMMANDS: list[Callable[[Any], None]] = [_add_normalize, _add_simulate, _add_watch]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="hpo-analytics",
        description="Typed tables, analysis and reports for ModelArts hyperparameter searches.",
        epilog="Run 'hpo-analytics COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"hpo-analytics {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpo-analytics`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # parse warnings as one log line each, not a source listing
    run: _Runner = args.run
    try:
        return run(args)
    except (HpoAnalyticsError, OSError) as exc:
        print(f"hpo-analytics {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into `head` and cut short: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
