"""Benchmark: ``build_report`` for a 10,000-trial job with curves, stop decisions and a back-test.

Data (seeded, :mod:`hpo_analytics.simulator.synthetic`): ``--trials`` finished trials
rendered as the service pages them and normalized (``trials_to_arrow``), with
``--steps`` reports each as the long curve table (about 10,000 x 50 = 490,000
rows; failed trials report fewer). Stop decisions come from
``MedianStoppingRule.decide`` on a snapshot where ``--running`` of the trials
were still running (cut at a random step). The back-test frame replays the
first ``--backtest-trials`` trials (default: all of them; about 5 s per rule
at 10,000 x 50). Making the data is not timed.

Timed: ``build_report(trials, curves=..., decisions=..., backtest=..., out=...)``
end to end (summary, ranking, importance, every plot, PNG encoding, writing
the file), at ``--trials`` and at the baseline ``--baseline-trials`` (1,000),
interleaved, ``--reps`` times each; medians and their ratio are printed (10x
the trials in how many times the time). One more run at ``--trials`` prints
where the time goes (each plot, and the rest). Target: under 30 s at 10,000
trials.

Usage::

    python benchmarks/report.py [--trials 10000] [--steps 50] [--baseline-trials 1000] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from hpo_analytics import build_report, trials_to_arrow
from hpo_analytics.report import _figures
from hpo_analytics.simulator.synthetic import generate_pages, generate_trials
from hpo_analytics.stopping import MedianStoppingRule, backtest

TARGET_S = 30.0


def make_job(n: int, *, steps: int = 50, running: int = 2_000, backtest_trials: int = 500,
             seed: int = 0) -> dict[str, Any]:
    """Trials, curves, decisions and a back-test frame of a synthetic ``n``-trial job (see the module doc)."""
    trials = trials_to_arrow(list(generate_pages(n, seed=seed, n_iterations=steps)))
    ts = generate_trials(n, seed=seed, n_iterations=steps)  # the same trials generate_pages drew
    if ts.trial_ids != trials["trial_id"].to_pylist():
        raise AssertionError("curves and trials were drawn differently")
    length = ts.n_planned.copy()
    keep = np.arange(steps)[None, :] < length[:, None]
    rows, cols = np.nonzero(keep)
    ids = np.asarray(ts.trial_ids, dtype=object)
    curves = pa.table({
        "trial_id": pa.array(ids[rows], pa.string()),
        "trial_index": pa.array(ts.trial_index[rows], pa.int64()),
        "training_iteration": pa.array(cols + 1, pa.int64()),
        "time_total_s": ts.cum_time[rows, cols],
        "acc": ts.acc[rows, cols],
        "loss": ts.loss[rows, cols],
        "done": pa.array(cols + 1 == length[rows]),
    }).replace_schema_metadata({"hpo_analytics.table": "curves"})

    rng = np.random.default_rng(seed)
    run_idx = rng.choice(n, size=min(running, n), replace=False)
    cut = length.copy()
    cut[run_idx] = np.minimum(length[run_idx], rng.integers(1, steps + 1, len(run_idx)))
    snap = np.arange(steps)[None, :] < cut[:, None]
    s_rows, s_cols = np.nonzero(snap)
    snapshot = pa.table({"trial_id": pa.array(ids[s_rows], pa.string()),
                         "training_iteration": pa.array(s_cols + 1, pa.int64()),
                         "acc": ts.acc[s_rows, s_cols]})
    rule = MedianStoppingRule(grace_period=5, metric="acc", mode="max")
    decisions = rule.decide(snapshot, now_running=ids[run_idx].tolist())

    first = set(ids[:backtest_trials].tolist())
    mask = pa.array([t in first for t in curves["trial_id"].to_pylist()])
    bt = backtest(curves.filter(mask), {"median": MedianStoppingRule(grace_period=5),
                                        "median, grace 10": MedianStoppingRule(grace_period=10)},
                  metric="acc", mode="max")
    return {"trials": trials, "curves": curves, "decisions": decisions, "backtest": bt}


def run(job: dict[str, Any], out: Path) -> float:
    start = time.perf_counter()
    build_report(job["trials"], curves=job["curves"], decisions=job["decisions"], backtest=job["backtest"],
                 out=out, metric="acc")
    return time.perf_counter() - start


def breakdown(job: dict[str, Any], out: Path) -> tuple[float, dict[str, float]]:
    """Total seconds of one build and the seconds of each plot in it."""
    parts: dict[str, float] = {}
    original: Callable[..., str] = _figures.draw

    def timed(plot: Any, *args: Any, title: str, **kwargs: Any) -> str:
        start = time.perf_counter()
        try:
            return original(plot, *args, title=title, **kwargs)
        finally:
            parts[title] = parts.get(title, 0.0) + time.perf_counter() - start

    _figures.draw = timed  # type: ignore[assignment]
    try:
        total = run(job, out)
    finally:
        _figures.draw = original  # type: ignore[assignment]
    return total, parts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--baseline-trials", type=int, default=1_000)
    parser.add_argument("--running", type=int, default=2_000, help="running trials in the decision snapshot")
    parser.add_argument("--backtest-trials", type=int, default=10_000_000)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    sizes = {"large": args.trials, "baseline": args.baseline_trials}
    jobs = {k: make_job(n, steps=args.steps, running=min(args.running, n // 5 or 1),
                        backtest_trials=min(args.backtest_trials, n)) for k, n in sizes.items()}
    print(f"data: {args.trials:,} trials ({jobs['large']['curves'].num_rows:,} curve rows, "
          f"{int(jobs['large']['decisions']['stop'].sum()):,} stop decisions) and {args.baseline_trials:,} trials, "
          f"made in {time.perf_counter() - t0:.1f} s")

    times: dict[str, list[float]] = {k: [] for k in sizes}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.html"
        run(jobs["baseline"], out)  # warm-up: imports matplotlib and fonts once, not timed
        for rep in range(args.reps):
            order = list(sizes) if rep % 2 == 0 else list(reversed(sizes))
            for key in order:
                times[key].append(run(jobs[key], out))
                print(f"  rep {rep + 1}: {sizes[key]:>7,} trials  {times[key][-1]:6.2f} s", flush=True)
        total, parts = breakdown(jobs["large"], out)
        size_mb = out.stat().st_size / 1e6

    med = {k: statistics.median(v) for k, v in times.items()}
    print()
    print(f"build_report, {args.trials:,} trials x {args.steps} steps: median {med['large']:.2f} s "
          f"over {args.reps} reps ({size_mb:.1f} MB of HTML)")
    print(f"build_report, {args.baseline_trials:,} trials (baseline): median {med['baseline']:.2f} s")
    print(f"ratio: {args.trials / args.baseline_trials:.0f}x the trials take {med['large'] / med['baseline']:.2f}x "
          "the time")
    print(f"\nwhere the time goes (one more run at {args.trials:,} trials, {total:.2f} s):")
    for title, sec in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"  {title:<50} {sec:6.2f} s")
    print(f"  {'tables, summary, importance, writing':<50} {total - sum(parts.values()):6.2f} s")
    ok = med["large"] < TARGET_S
    print(f"\ntarget < {TARGET_S:.0f} s at {args.trials:,} trials: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
