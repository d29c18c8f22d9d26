"""``hpo-analytics demo``: the whole product against a local simulator, in seconds."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ._common import EXIT_OK, add_command, add_json_flag, print_json


def add_demo(sub: Any) -> None:
    """Register ``demo``."""
    from ..demo import DEFAULT_OUT_DIR

    parser = add_command(
        sub, "demo",
        help="see everything at once: simulated search, dry-run watch, fetch, report",
        description=(
            "Start a simulated ModelArts service on a free loopback port, run a short simulated\n"
            "search, watch it in dry run with the median stopping rule for a few cycles, fetch the\n"
            "trials and learning curves through the real client over HTTP, back-test two stop rules\n"
            "and write the HTML report. No cloud account or credentials needed; nothing is left\n"
            "running. Files of an earlier demo in --out are replaced."
        ),
        examples=["hpo-analytics demo", "hpo-analytics demo --out /tmp/hpo-demo --trials 100 --json"],
    )
    parser.add_argument("--out", type=Path, default=Path(DEFAULT_OUT_DIR),
                        help=f"output directory (default ./{DEFAULT_OUT_DIR})")
    parser.add_argument("--trials", type=int, default=48, help="trials in the simulated search (default 48)")
    parser.add_argument("--cycles", type=int, default=4, help="dry-run watch cycles (default 4)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    add_json_flag(parser)
    parser.set_defaults(run=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    """Run the demo, narrating each step (text) or printing one JSON object at the end."""
    from ..demo import run_demo as demo

    log = None if args.json else (lambda line: print(line, flush=True))
    result = demo(out_dir=args.out, seed=args.seed, n_trials=args.trials, cycles=args.cycles, log=log)
    if args.json:
        print_json({
            "out_dir": result.out_dir, "report": result.report, "trials": result.trials,
            "curves": result.curves, "decisions": result.decisions, "backtest": result.backtest,
            "state_dir": result.state_dir, "job_id": result.job_id, "n_trials": result.n_trials,
            "n_curve_points": result.n_curve_points, "cycles": result.cycles, "would_stop": result.would_stop,
            "metric": result.metric, "mode": result.mode, "best_value": result.best_value,
            "best_trial_ids": result.best_trial_ids, "seconds": round(result.seconds, 3),
        })
        return EXIT_OK
    best = ", ".join(result.best_trial_ids) or "-"
    print(f"best {result.metric} ({result.mode}): {result.best_value:.4g} (trial {best}) of {result.n_trials} trials")
    print(f"wrote {result.trials.name}, {result.curves.name}, {result.decisions.name}, {result.backtest.name} "
          f"and the watch ledger ({result.state_dir.name}/) in {result.out_dir}")
    print(f"done in {result.seconds:.1f} s. Open the report: {result.report}")
    return EXIT_OK
