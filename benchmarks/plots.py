"""Benchmark: plots at scale, each rendered to PNG, against a naive one-``ax.plot``-per-trial version.

Cases (every timing covers the whole call *and* ``savefig`` of a PNG into a
``BytesIO``, then the figure is closed):

* **parallel coordinates** of ``--par-trials`` (100,000) synthetic trials x 6
  parameters: ``plot_parallel_coordinates`` (density raster above 2,000
  trials, the best 100 as lines) against a naive loop drawing one
  ``ax.plot`` line per trial coloured by the metric (same normalised data,
  computed inside the timing too). The naive loop takes ~100 s at 100,000
  trials, so it runs ``--naive-reps`` times (default 1; 0 skips it), and is
  also timed on ``--naive-sample`` trials and scaled linearly to the full
  size, printed as an *estimate*. The ratio uses the measured naive time
  when there is one, else the estimate (and says so).
* **learning curves** of ``--curve-trials`` x ``--steps`` (10,000 x 100):
  ``plot_learning_curves`` as called by default (above 2,000 curves the mass
  is a density raster of its segments) against one ``ax.plot`` per trial
  (no legend: a legend would only make the naive version slower), which runs
  ``--naive-curve-reps`` times (default 3; 0 skips it). The same call forced
  to draw the mass as one ``LineCollection`` (``density=False``) is timed
  too and printed for information (no target).
* **every function in** ``hpo_analytics.plots.__all__`` at ``--small``
  (2,000) trials, called as the table :data:`CALLS` says (a function not in
  it gets ``(trials, metric="acc", mode="max")``); curves for it are
  ``--small`` x ``--small-steps`` (12, the synthetic generator's default).

Repetitions are interleaved (the order rotates each repetition); medians are
printed. Targets: parallel coordinates and learning curves each < 10 s and at
least 10x faster than the naive version; every plot < 2 s at 2,000 trials.
The exit status is 1 when a target fails. ``--quick`` runs tiny sizes once
(a smoke run: no verdicts).

Usage::

    python benchmarks/plots.py [--reps 3] [--naive-reps 1] [--naive-curve-reps 3] [--naive-sample 5000]
                               [--par-trials 100000] [--curve-trials 10000] [--steps 100] [--small 2000]
                               [--small-steps 12] [--plots NAMES] [--quick]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from hpo_analytics import plots
from hpo_analytics.plots.parallel import _parallel_coordinates_data
from hpo_analytics.simulator.synthetic import generate_trials
from hpo_analytics.stopping import (
    CurveMatrix,
    MedianStoppingRule,
    SignificanceRule,
    SuccessiveHalvingRule,
    backtest,
)

METRIC = {"metric": "acc", "mode": "max"}


def make_job(n: int, steps: int, *, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``n`` synthetic trials: the trial table (latest row per trial) and the long curve table.

    Trials that error report fewer steps (possibly none) and end ``ERROR``;
    ``acc`` diverges to NaN for some large learning rates, as in the
    bundled job.
    """
    ts = generate_trials(n, seed=seed, n_iterations=steps)
    ids = np.asarray(ts.trial_ids, dtype=object)
    lengths = np.asarray(ts.n_planned)
    status = np.where(ts.will_error, "ERROR", "TERMINATED")
    params: dict[str, Any] = {}
    for name, values in ts.params.items():
        if values.dtype == object:
            values = values.astype(str) if name == "optimizer" else values.astype(np.int64)
        params[f"param/{name}"] = values
    rows, cols = np.nonzero(np.arange(steps)[None, :] < lengths[:, None])
    curves = pd.DataFrame({
        "trial_id": ids[rows], "trial_index": ts.trial_index[rows], "status": status[rows],
        "done": ~ts.will_error[rows], "training_iteration": cols + 1, "time_total_s": ts.cum_time[rows, cols],
        "acc": ts.acc[rows, cols], "loss": ts.loss[rows, cols],
        **{k: v[rows] for k, v in params.items()},
    })
    last = np.maximum(lengths - 1, 0)
    has = lengths > 0
    pick = np.arange(n)
    acc = np.where(has, ts.acc[pick, last], np.nan)
    trials = pd.DataFrame({
        "trial_id": ids, "trial_index": ts.trial_index, "status": status, "done": ~ts.will_error,
        "training_iteration": lengths, "time_total_s": np.where(has, ts.cum_time[pick, last], np.nan),
        "acc": acc, "loss": np.where(has, ts.loss[pick, last], np.nan), "reward_attr": acc, **params,
    })
    return trials, curves


def render(draw: Callable[[], Any]) -> int:
    """Call ``draw`` (a plot returning an Axes or a Figure), save a PNG to memory, close; the PNG's size."""
    out = draw()
    fig = out.figure if hasattr(out, "figure") and not hasattr(out, "savefig") else out
    while not hasattr(fig, "savefig"):  # an Axes on a SubFigure
        fig = fig.figure
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.tell()


# ---------------------------------------------------------------------------------------------- naive versions


def naive_parallel(trials: pd.DataFrame) -> Any:
    """One ``ax.plot`` per trial over the same normalised axes, coloured by the metric."""
    data = _parallel_coordinates_data(trials, **METRIC)
    fig = plt.figure(figsize=(11.6, 5.0))
    ax = fig.add_subplot()
    cmap = matplotlib.colormaps["viridis"]
    low, high = float(data.score.min()), float(data.score.max())
    x = np.arange(data.values.shape[1])
    for row, score in zip(data.values, data.score):
        ax.plot(x, row, color=cmap((score - low) / (high - low)), linewidth=0.7, alpha=0.3)
    ax.set_xticks(x, [a.label for a in data.axes])
    return fig


def naive_curves(curves: pd.DataFrame) -> Any:
    """One ``ax.plot`` per trial's curve."""
    cm = CurveMatrix.from_frame(curves, "acc")
    fig = plt.figure(figsize=(7.0, 4.5))
    ax = fig.add_subplot()
    for values, reported in zip(cm.values, cm.reported):
        ax.plot(cm.steps[reported], values[reported], color="#9aa0a6", linewidth=0.6, alpha=0.05)
    return fig


def mass_drawing(ax: Any) -> str:
    """How a ``plot_learning_curves`` Axes drew the mass ("density raster" or "LineCollection"); closes it."""
    from matplotlib.collections import LineCollection

    how = "density raster" if ax.images else \
        "LineCollection" if any(isinstance(c, LineCollection) for c in ax.collections) else "no mass"
    plt.close(ax.figure)
    return how


# ---------------------------------------------------------------------------------------------- how to call each


@dataclass(frozen=True)
class Inputs:
    """What the 2,000-trial calls draw from."""

    trials: pd.DataFrame
    curves: pd.DataFrame
    backtest: pd.DataFrame


#: How each plot is called at 2,000 trials: name -> (description, call).
CALLS: dict[str, tuple[str, Callable[[Inputs], Any]]] = {
    "plot_backtest": ("backtest table of 3 rules", lambda d: plots.plot_backtest(d.backtest)),
    "plot_learning_curves": ("curves", lambda d: plots.plot_learning_curves(d.curves, **METRIC)),
    "plot_stop_decisions": ("curves, MedianStoppingRule(grace_period=3) replayed",
                            lambda d: plots.plot_stop_decisions(d.curves, MedianStoppingRule(grace_period=3),
                                                                **METRIC)),
    "plot_status": ("curves, trials=trials", lambda d: plots.plot_status(d.curves, trials=d.trials)),
}


def default_call(name: str) -> tuple[str, Callable[[Inputs], Any]]:
    """``fn(trials, metric="acc", mode="max")``, passing only the options the function takes."""
    import inspect

    fn = getattr(plots, name)
    accepted = inspect.signature(fn).parameters
    options = {k: v for k, v in METRIC.items() if k in accepted}
    return "trials", lambda d: fn(d.trials, **options)


# ---------------------------------------------------------------------------------------------- running


def run_interleaved(cases: dict[str, Callable[[], Any]], reps: dict[str, int]) -> dict[str, list[float]]:
    """Time each case ``reps[name]`` times, rotating the order every repetition; print as it goes."""
    times: dict[str, list[float]] = {name: [] for name in cases}
    names = list(cases)
    for rep in range(max(reps.values(), default=0)):
        k = rep % len(names)
        for name in names[k:] + names[:k]:
            if rep >= reps[name]:
                continue
            start = time.perf_counter()
            render(cases[name])
            times[name].append(time.perf_counter() - start)
            print(f"  rep {rep + 1}: {name:52s} {times[name][-1]:8.2f} s", flush=True)
    return times


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3, help="repetitions of our plots (3)")
    parser.add_argument("--naive-reps", type=int, default=1, help="repetitions of the naive parallel coordinates "
                        "at full size (1; 0 skips them: the ratio then uses the scaled estimate)")
    parser.add_argument("--naive-curve-reps", type=int, default=3,
                        help="repetitions of the naive learning curves (3; 0 skips them: no ratio)")
    parser.add_argument("--naive-sample", type=int, default=5_000,
                        help="trials the naive parallel plot is also timed on, scaled to the full size (5000)")
    parser.add_argument("--par-trials", type=int, default=100_000)
    parser.add_argument("--curve-trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--small", type=int, default=2_000, help="trials for the every-plot case (2000)")
    parser.add_argument("--small-steps", type=int, default=12, help="steps per curve in that case (12)")
    parser.add_argument("--plots", default=None,
                        help="comma-separated names for the every-plot case (default: all of plots.__all__)")
    parser.add_argument("--quick", action="store_true",
                        help="tiny sizes, one repetition, naive plots only on the sample, no verdicts")
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.naive_reps, args.naive_curve_reps, args.naive_sample = 1, 0, 0, 100
        args.par_trials, args.curve_trials, args.steps, args.small, args.small_steps = 2_100, 2_100, 10, 60, 5
    names = sorted(plots.__all__) if args.plots is None else [n.strip() for n in args.plots.split(",") if n.strip()]
    unknown = [n for n in names if n not in plots.__all__]
    if unknown:
        parser.error(f"not in hpo_analytics.plots.__all__: {', '.join(unknown)}")

    t0 = time.perf_counter()
    par_trials, _ = make_job(args.par_trials, 2, seed=1)
    _, big_curves = make_job(args.curve_trials, args.steps, seed=2)
    small_trials, small_curves = make_job(args.small, args.small_steps, seed=3)
    rules = {"median": MedianStoppingRule(grace_period=3), "asha": SuccessiveHalvingRule(),
             "significance": SignificanceRule(grace_period=3)}
    inputs = Inputs(small_trials, small_curves, backtest(small_curves, rules, **METRIC))
    sample = par_trials.iloc[: min(args.naive_sample, len(par_trials))]
    print(f"inputs made in {time.perf_counter() - t0:.1f} s: parallel {args.par_trials:,} trials; curves "
          f"{args.curve_trials:,} x {args.steps}; every plot at {args.small:,} trials x {args.small_steps} steps")

    par = f"parallel coordinates {args.par_trials:,}"
    cur = f"learning curves {args.curve_trials:,} x {args.steps}"
    cur_lines = f"{cur}, LineCollection"
    cur_mass = mass_drawing(plots.plot_learning_curves(big_curves, **METRIC))  # untimed: what the default draws
    big: dict[str, Callable[[], Any]] = {
        par: lambda: plots.plot_parallel_coordinates(par_trials, **METRIC),
        f"naive {par}": lambda: naive_parallel(par_trials),
        f"naive parallel, {len(sample):,}-trial sample": lambda: naive_parallel(sample),
        cur: lambda: plots.plot_learning_curves(big_curves, **METRIC),
        cur_lines: lambda: plots.plot_learning_curves(big_curves, density=False, **METRIC),
        f"naive {cur}": lambda: naive_curves(big_curves),
    }
    reps = {name: args.reps for name in big}
    reps[f"naive {par}"] = args.naive_reps
    reps[f"naive {cur}"] = args.naive_curve_reps
    print("\nlarge plots (PNG to memory; medians of interleaved repetitions):")
    times = run_interleaved(big, reps)

    calls = {name: CALLS.get(name) or default_call(name) for name in names}
    small = {f"{name}({calls[name][0]})": (lambda c=calls[name][1]: c(inputs)) for name in names}
    print(f"\nevery plot in hpo_analytics.plots.__all__ at {args.small:,} trials:")
    small_times = run_interleaved(small, {name: args.reps for name in small})

    med = {name: statistics.median(v) for name, v in {**times, **small_times}.items() if v}
    ok = True
    verdicts = not args.quick
    print("\nsummary (median seconds)")
    for label, ours, naive in ((par, par, f"naive {par}"), (cur, cur, f"naive {cur}")):
        base, how = (med[naive], "measured") if naive in med else (None, "")
        if label == par:
            estimate = med[f"naive parallel, {len(sample):,}-trial sample"] * len(par_trials) / max(len(sample), 1)
            print(f"  naive {par}: estimate {estimate:.1f} s (linear from {len(sample):,} trials)")
            if base is None:
                base, how = estimate, "estimated"
        line = f"  {label:44s} ours {med[ours]:7.2f} s" + (f" ({cur_mass})" if label == cur else "")
        if base is not None:
            ratio = base / med[ours]
            line += f"   naive ({how}) {base:7.2f} s   ratio {ratio:6.1f}x"
            if verdicts:
                passed = med[ours] < 10.0 and ratio >= 10.0
                ok &= passed
                line += f"   target < 10 s and >= 10x: {'PASS' if passed else 'FAIL'}"
        else:
            line += f"   naive skipped ({'--naive-curve-reps' if label == cur else '--naive-reps'} 0): no ratio"
            if verdicts:
                passed = med[ours] < 10.0
                ok &= passed
                line += f"   target < 10 s: {'PASS' if passed else 'FAIL'}"
        print(line)
    line = f"  {cur_lines:44s} ours {med[cur_lines]:7.2f} s (density=False, for information"
    if f"naive {cur}" in med:
        line += f": naive is {med[f'naive {cur}'] / med[cur_lines]:.1f}x it"
    print(line + ")")
    for name in small:
        line = f"  {name:72s} {med[name]:6.2f} s"
        if verdicts:
            passed = med[name] < 2.0
            ok &= passed
            line += f"   target < 2 s: {'PASS' if passed else 'FAIL'}"
        print(line)
    if not verdicts:
        print("quick run: sizes are below the targets' sizes, so no verdicts")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
