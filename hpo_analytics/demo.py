"""The whole product in a few seconds, without a cloud account: ``hpo-analytics demo``.

:func:`run_demo` starts the :class:`~hpo_analytics.simulator.Simulator` on a
free loopback port (in this process, on a thread), lets a simulated search
make progress, runs the early-stopping :func:`~hpo_analytics.stopping.watch`
loop against it in dry run for a few cycles (its ledger in the output
directory), lets the search finish, fetches the trials and learning curves
through the real :class:`~hpo_analytics.client.ModelArtsClient` over HTTP,
back-tests two stop rules on the curves, and writes the HTML report. The
simulator and every connection are closed before it returns, also on error.

Simulated time moves only when the demo advances it (between watch cycles),
so the run takes seconds of real time whatever the simulated duration.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigurationError

__all__ = ["DEFAULT_OUT_DIR", "DemoResult", "run_demo"]

#: Where ``hpo-analytics demo`` writes when ``--out`` is not given.
DEFAULT_OUT_DIR = "hpo-demo"

# File names inside the output directory (an earlier demo's files are replaced).
TRIALS_FILE = "trials.parquet"
CURVES_FILE = "curves.parquet"
DECISIONS_FILE = "decisions.csv"
BACKTEST_FILE = "backtest.csv"
REPORT_FILE = "report.html"
STATE_DIR = "watch"


@dataclass(frozen=True)
class DemoResult:
    """What :func:`run_demo` did and where it put things."""

    out_dir: Path
    report: Path
    trials: Path
    curves: Path
    decisions: Path
    backtest: Path
    state_dir: Path
    endpoint: str
    job_id: str
    job_name: str
    n_trials: int
    n_curve_points: int
    cycles: int
    would_stop: list[str]
    metric: str
    mode: str
    best_value: float
    best_trial_ids: list[str]
    seconds: float


def _clear_previous(out: Path) -> None:
    """Remove the files an earlier demo left in ``out`` (only those names)."""
    from .stopping.ledger import LEDGER_FILE

    state = out / STATE_DIR
    for name in (LEDGER_FILE, f"{LEDGER_FILE}-wal", f"{LEDGER_FILE}-shm"):
        (state / name).unlink(missing_ok=True)


def run_demo(
    *,
    out_dir: str | os.PathLike[str] = DEFAULT_OUT_DIR,
    seed: int = 0,
    n_trials: int = 48,
    cycles: int = 4,
    log: Callable[[str], None] | None = None,
) -> DemoResult:
    """Run the demo (see the module docstring) and write its files into ``out_dir``.

    ``out_dir`` receives ``trials.parquet``, ``curves.parquet``,
    ``decisions.csv`` (the watch's decisions), ``backtest.csv``,
    ``report.html`` and ``watch/`` (the watch's SQLite ledger); files of an
    earlier demo there are replaced. ``n_trials`` (at least 12) trials of 12
    iterations run 8 at a time; the watch runs ``cycles`` dry-run cycles, one
    simulated minute apart. ``log`` gets one line per step.
    """
    from .analysis import summarize
    from .client import ModelArtsClient
    from .io import write_parquet
    from .report import build_report
    from .simulator import Simulator
    from .stopping import MedianStoppingRule, SignificanceRule, backtest, decisions_from_ledger, watch

    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 12:
        raise ConfigurationError(f"n_trials must be an integer of at least 12, not {n_trials!r}")
    if isinstance(cycles, bool) or not isinstance(cycles, int) or cycles < 1:
        raise ConfigurationError(f"cycles must be a positive integer, not {cycles!r}")
    say = log or (lambda line: None)
    started = time.perf_counter()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigurationError(f"--out must be a directory, but {str(out)!r} is a file")
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out)
    state_dir = out / STATE_DIR
    rule = MedianStoppingRule(min_samples=3)
    per_cycle: dict[int, list[str]] = {}

    def on_event(event: dict[str, Any]) -> None:
        if event.get("action") == "would_stop":
            per_cycle.setdefault(event["cycle"], []).append(str(event["trial_id"]))

    # The first trials have finished when the watch starts, so the rule has references.
    with Simulator(seed=seed, n_trials=n_trials, n_iterations=12, max_concurrent=8, elapsed=330.0,
                   auth="token") as sim:
        job_id = sim.job_ids[0]
        job_name = sim.job(job_id).name
        endpoint = sim.url
        say(f"simulated ModelArts service at {endpoint}: job {job_name} ({job_id}), {n_trials} trials, "
            "8 running at a time")
        with ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
            say(f"watching it in dry run with {rule.describe()}, ledger in {state_dir}")
            result = watch(client, job_id, rule, state_dir=state_dir, execute=False, interval_s=60.0,
                           max_cycles=cycles, emit=on_event, sleep=sim.advance)
            for c in range(1, result.cycles + 1):
                ids = per_cycle.get(c, [])
                say(f"  cycle {c}: would stop {len(ids)} trial(s){': ' + ', '.join(ids) if ids else ''}")
            sim.run_to_completion()
            say("the search finished; fetching trials and learning curves through ModelArtsClient")
            trials = client.fetch_trials(job_id)
            curves = client.fetch_curves(job_id)
    trials_path = write_parquet(trials, out / TRIALS_FILE)
    curves_path = write_parquet(curves, out / CURVES_FILE)
    decisions = decisions_from_ledger(state_dir, job_id)
    decisions_path = out / DECISIONS_FILE
    decisions.to_csv(decisions_path, index=False)
    rules = {"median": MedianStoppingRule(min_samples=3),
             "significance": SignificanceRule(min_samples=3)}
    tested = backtest(curves, rules, concurrency=8)
    backtest_path = out / BACKTEST_FILE
    tested.to_csv(backtest_path, index=False)
    say(f"back-tested {', '.join(rules)} on {curves.num_rows} curve points; writing the report")
    report = build_report(trials, curves=curves, decisions=decisions, backtest=tested, out=out / REPORT_FILE,
                          title=f"Demo: {job_name} (simulated)")
    summary = summarize(trials)
    return DemoResult(
        out_dir=out, report=report, trials=trials_path, curves=curves_path, decisions=decisions_path,
        backtest=backtest_path, state_dir=state_dir, endpoint=endpoint, job_id=job_id,
        job_name=job_name, n_trials=trials.num_rows, n_curve_points=curves.num_rows, cycles=result.cycles,
        would_stop=list(result.would_stop), metric=summary["metric"], mode=summary["mode"],
        best_value=summary["best_value"], best_trial_ids=summary["best_trial_ids"],
        seconds=time.perf_counter() - started,
    )
