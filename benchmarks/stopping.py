"""Benchmark: stop decisions for 10,000 trials x 100 steps, per rule, and a watch cycle's own overhead.

The scenario is a snapshot in the middle of a large search: ``--trials``
trials with up to ``--steps`` reports each (synthetic curves, some diverging
to NaN); ``--running`` of them are still running (ragged: each stopped
reporting at a random step), the rest finished. For each rule it times
``rule.decide(long_table, ...)`` end to end (pivoting the long table
included) and prints the median over ``--reps`` runs; target < 1 s per rule,
< 2 s for the forecast rule (issue #18), whose time is also printed as a
ratio against the significance rule's, measured in the same run.

If Optuna is importable, the same question is put to
``optuna.pruners.MedianPruner`` trial by trial (one ``prune`` call per running
trial, the finished trials stored in an in-memory study), its decisions are
checked against ``MedianStoppingRule(semantics="optuna")`` and the ratio of
the two times is printed (``--optuna-sample`` running trials are asked, and
the time scaled to all of them, when asking all would take too long).

Then a watch cycle's own overhead (no network: a client stub answers from
memory) for ``--trials`` trials, half running, each gaining one report per
cycle, with ``--watch-steps`` reports already in the SQLite history; target
< 2 s.

Last, the back-test: ``backtest`` of a finished search of ``--trials`` trials
x ``--backtest-steps`` steps (concurrency 4) under the median rule and the
significance rule, end to end, median over ``--backtest-reps`` runs; target
< 10 s for the median rule. The replay as it was before (a fresh copy of the
started trials' rows at every step, with today's rules) grows with the square
of the trials, so it is timed against today's replay on the first
``--backtest-old-trials`` trials only, and both must stop the same trials.

Usage::

    python benchmarks/stopping.py [--trials 10000] [--steps 100] [--running 2000] [--reps 5]
                                  [--backtest-steps 50] [--backtest-reps 3] [--backtest-old-trials 1000]

(``--backtest-steps`` and ``--backtest-reps`` default to ``--steps``/``--reps`` when those are smaller.)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from hpo_analytics.simulator.synthetic import generate_trials
from hpo_analytics.stopping import (
    CurveMatrix,
    ForecastRule,
    Ledger,
    MedianStoppingRule,
    PatienceRule,
    PercentileRule,
    Rule,
    Safety,
    SignificanceRule,
    SuccessiveHalvingRule,
    ThresholdRule,
)
from hpo_analytics.stopping._backtest import _order, backtest, replay
from hpo_analytics.stopping._watch import Watcher


def make_snapshot(n: int, m: int, running: int, seed: int = 0) -> tuple[pd.DataFrame, list[str], np.ndarray]:
    """Long table (``trial_id``, ``training_iteration``, ``acc``, ``done``), running ids, the dense matrix."""
    ts = generate_trials(n, seed=seed, n_iterations=m, error_rate=0.0)
    rng = np.random.default_rng(seed)
    lengths = np.full(n, m)
    run_idx = rng.choice(n, size=min(running, n), replace=False)
    lengths[run_idx] = rng.integers(1, m + 1, len(run_idx))
    keep = np.arange(m)[None, :] < lengths[:, None]
    rows, cols = np.nonzero(keep)
    ids = np.asarray(ts.trial_ids, dtype=object)
    done = np.ones(n, dtype=bool)
    done[run_idx] = False
    frame = pd.DataFrame({
        "trial_id": ids[rows],
        "training_iteration": cols + 1,
        "acc": ts.acc[rows, cols],
        "done": done[rows],
    })
    dense = np.where(keep, ts.acc, np.nan)
    return frame, ids[run_idx].tolist(), dense


def rules() -> dict[str, Rule]:
    kw: dict[str, Any] = {"metric": "acc", "mode": "max"}
    return {
        "median (optuna)": MedianStoppingRule(grace_period=5, **kw),
        "median (ray)": MedianStoppingRule(grace_period=5, semantics="ray", **kw),
        "percentile 25": PercentileRule(25, grace_period=5, **kw),
        "asha": SuccessiveHalvingRule(**kw),
        "threshold": ThresholdRule(0.5, grace_period=5, **kw),
        "patience": PatienceRule(patience=10, **kw),
        "significance": SignificanceRule(grace_period=5, **kw),
        "forecast": ForecastRule(grace_period=5, **kw),
    }


#: Per-rule decision-time targets (seconds); every other rule's is 1 s.
TARGETS = {"forecast": 2.0}


def _median_time(fn: Callable[[], Any], reps: int) -> tuple[float, Any]:
    times, out = [], None
    for _ in range(reps):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def bench_optuna(frame: pd.DataFrame, running: list[str], ours: pd.DataFrame, sample: int) -> tuple[float, int, int]:
    """Seconds for MedianPruner to answer for every running trial (scaled from ``sample``), checked, asked."""
    import optuna
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=5, interval_steps=1)
    study = optuna.create_study(direction="maximize", pruner=pruner)
    groups = {t: dict(zip(g["training_iteration"].tolist(), g["acc"].tolist()))
              for t, g in frame.groupby("trial_id", sort=False)}
    run = set(running)
    study.add_trials([create_trial(value=0.0, intermediate_values=iv, params={}, distributions={})
                      for t, iv in groups.items() if t not in run])
    asked = running[:sample]
    frozen = [create_trial(state=TrialState.RUNNING, intermediate_values=groups[t], params={}, distributions={})
              for t in asked]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        t0 = time.perf_counter()
        answers = [pruner.prune(study, f) for f in frozen]
        elapsed = time.perf_counter() - t0
    expected = ours.set_index("trial_id").loc[asked, "stop"].tolist()
    agree = sum(a == b for a, b in zip(answers, expected))
    return elapsed * len(running) / max(len(asked), 1), agree, len(asked)


class _StubClient:
    """Answers the watch loop from memory: every running trial gains one report per listing."""

    def __init__(self, ids: np.ndarray, acc: np.ndarray, start: int, running: np.ndarray) -> None:
        self.ids, self.acc, self.step, self.running = ids, acc, start, running

    def fetch_trials(self, job_id: str) -> pd.DataFrame:
        self.step += 1
        k = np.where(self.running, self.step, self.step - 1)
        return pd.DataFrame({
            "trial_id": self.ids,
            "status": np.where(self.running, "RUNNING", "TERMINATED"),
            "training_iteration": k,
            "acc": self.acc[np.arange(len(self.ids)), k - 1],
        })

    def fetch_curves(self, job_id: str, ids: Any) -> pd.DataFrame:  # pragma: no cover - not reached
        raise AssertionError("the listing is enough when one report is added per cycle")

    def early_stop(self, job_id: str, trial_id: str) -> Any:  # dry run: never called
        raise AssertionError("dry run")


def bench_watch(n: int, steps: int, reps: int) -> float:
    ts = generate_trials(n, seed=1, n_iterations=steps + reps + 2, error_rate=0.0)
    ids = np.asarray(ts.trial_ids, dtype=object)
    running = np.arange(n) % 2 == 0
    with tempfile.TemporaryDirectory() as state:
        with Ledger(state) as ledger:
            rows = ((ids[i], s + 1, float(ts.acc[i, s])) for i in range(n) for s in range(steps))
            ledger.append_history("job", rows)
        client = _StubClient(ids, ts.acc, steps, running)
        w = Watcher(client, "job", MedianStoppingRule(grace_period=5, metric="acc", mode="max"), state_dir=state,
                    safety=Safety())
        times = []
        for _ in range(reps):
            t = time.perf_counter()
            w.cycle()
            times.append(time.perf_counter() - t)
        w.close()
    return statistics.median(times)


def make_search(n: int, m: int, seed: int = 0) -> pd.DataFrame:
    """A finished search: long table (``trial_id``, ``trial_index``, ``training_iteration``, ``acc``),
    every trial ``m`` steps (some diverge to NaN)."""
    ts = generate_trials(n, seed=seed, n_iterations=m, error_rate=0.0)
    rows, cols = np.divmod(np.arange(n * m), m)
    return pd.DataFrame({
        "trial_id": np.asarray(ts.trial_ids, dtype=object)[rows],
        "trial_index": rows,
        "training_iteration": cols + 1,
        "acc": ts.acc[rows, cols],
    })


def backtest_rules() -> dict[str, Rule]:
    kw: dict[str, Any] = {"metric": "acc", "mode": "max"}
    return {"median (optuna)": MedianStoppingRule(grace_period=5, **kw),
            "significance": SignificanceRule(grace_period=5, **kw)}


def replay_before(cm: CurveMatrix, rule: Rule, *, mode: str, order: np.ndarray, concurrency: int) -> np.ndarray:
    """The back-test replay as it was before: at every step of every wave, a fresh copy of every started
    trial's row, cut to the columns it has reached (O(n^2 m^2 / concurrency) cells copied)."""
    n, m = cm.values.shape
    full_len = cm.last + 1
    visible = np.zeros(n, dtype=np.int64)
    stop_col = np.full(n, -1, dtype=np.int64)
    finished = np.zeros(n, dtype=bool)
    for start in range(0, n, concurrency):
        wave = order[start:start + concurrency]
        for col in range(m):
            running = wave[(stop_col[wave] < 0) & (col < full_len[wave])]
            if not len(running):
                break
            visible[running] = col + 1
            asked = running[cm.reported[running, col]]
            if not len(asked):
                continue
            rows = np.flatnonzero(visible > 0)
            cut = np.arange(m)[None, :] < visible[rows][:, None]
            view = CurveMatrix(cm.trial_ids[rows], cm.steps, np.where(cut, cm.values[rows], np.nan),
                               cm.reported[rows] & cut)
            d = rule.decide_matrix(view, np.searchsorted(rows, asked), finished[rows], mode)
            stop_col[rows[d.rows[np.asarray(d.stop, dtype=bool)]]] = col
        finished[wave[stop_col[wave] < 0]] = True
    return stop_col


def bench_backtest(n: int, m: int, old_n: int, reps: int) -> bool:
    """Print the back-test lines; False when a target is missed or the two replays disagree."""
    t0 = time.perf_counter()
    curves = make_search(n, m)
    print(f"back-test: {n} trials x {m} steps ({len(curves)} reports, concurrency 4), made in "
          f"{time.perf_counter() - t0:.2f} s")
    small = curves[curves["trial_index"] < old_n]
    cm = CurveMatrix.from_frame(small, "acc")
    order = _order(small, cm)
    ok = True
    for name, rule in backtest_rules().items():
        sec, out = _median_time(lambda r=rule: backtest(curves, r, metric="acc", mode="max", concurrency=4), reps)
        line = (f"  {name:<16} backtest, {n} trials: median {sec:7.2f} s   stops {int(out['stopped'].iloc[0]):5d} "
                f"saves {out['saved'].iloc[0]:.0%}")
        if name == "median (optuna)":
            ok &= sec < 10.0
            line += f"   target < 10 s: {'PASS' if sec < 10.0 else 'FAIL'}"
        print(line)
        if old_n <= 0:
            continue
        now, stops = _median_time(lambda r=rule: replay(cm, r, mode="max", order=order, concurrency=4), reps)
        before, stops_before = _median_time(
            lambda r=rule: replay_before(cm, r, mode="max", order=order, concurrency=4), reps)
        same = bool(np.array_equal(stops, stops_before))
        ok &= same
        print(f"  {'':<16} replay alone, {len(order)} trials: before {before:7.2f} s, now {now:6.2f} s, "
              f"ratio {before / now:5.1f}x   same stops: {'yes' if same else 'NO'}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--running", type=int, default=2_000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--optuna-sample", type=int, default=2_000,
                        help="running trials to ask Optuna about (time scaled to all; default 2000)")
    parser.add_argument("--no-optuna", action="store_true", help="skip the Optuna comparison")
    parser.add_argument("--watch-steps", type=int, default=50, help="reports per trial already stored (50)")
    parser.add_argument("--backtest-steps", type=int, default=None,
                        help="steps per trial of the back-test (50, or --steps when fewer)")
    parser.add_argument("--backtest-reps", type=int, default=None,
                        help="runs per back-test timing (3, or --reps when fewer)")
    parser.add_argument("--backtest-old-trials", type=int, default=1_000,
                        help="trials the replay before is timed on, against today's (1000; 0 skips)")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    frame, running, _ = make_snapshot(args.trials, args.steps, args.running)
    print(f"{args.trials} trials x {args.steps} steps ({len(frame)} reports, {len(running)} running) "
          f"made in {time.perf_counter() - t0:.2f} s")
    finished = sorted(set(frame["trial_id"]) - set(running))
    ok = True
    median_optuna = None
    times: dict[str, float] = {}
    for name, rule in rules().items():
        sec, out = _median_time(lambda r=rule: r.decide(frame, now_running=running, reference=finished), args.reps)
        target = TARGETS.get(name, 1.0)
        verdict = "PASS" if sec < target else "FAIL"
        ok &= sec < target
        times[name] = sec
        print(f"  {name:<16} median {sec * 1000:8.1f} ms   stops {int(out['stop'].sum()):5d} of {len(out)}"
              f"   target < {target:g} s: {verdict}")
        if name == "median (optuna)":
            median_optuna = (sec, out)
    print(f"  ratio forecast / significance: {times['forecast'] / times['significance']:.2f}x")
    if not args.no_optuna:
        try:
            import optuna  # noqa: F401
        except ImportError:
            print("optuna is not installed: no comparison (pip install optuna to add it)")
        else:
            assert median_optuna is not None
            t1 = time.perf_counter()
            sec_o, agree, asked = bench_optuna(frame, running, median_optuna[1], args.optuna_sample)
            print(f"  optuna MedianPruner, trial by trial: {sec_o:.2f} s for {len(running)} running trials "
                  f"({asked} asked{', scaled' if asked < len(running) else ''}; setup+run "
                  f"{time.perf_counter() - t1:.1f} s); same decision for {agree}/{asked}")
            print(f"  ratio optuna / ours (median rule): {sec_o / median_optuna[0]:.1f}x")
            ok &= agree == asked
    sec_w = bench_watch(args.trials, args.watch_steps, max(3, args.reps // 2))
    verdict = "PASS" if sec_w < 2.0 else "FAIL"
    ok &= sec_w < 2.0
    print(f"  watch cycle overhead, {args.trials} trials ({args.trials // 2} running, {args.watch_steps}+ reports "
          f"each): median {sec_w:.2f} s   target < 2 s: {verdict}")
    bt_steps = args.backtest_steps if args.backtest_steps is not None else min(50, args.steps)
    bt_reps = args.backtest_reps if args.backtest_reps is not None else min(3, args.reps)
    ok &= bench_backtest(args.trials, bt_steps, min(args.backtest_old_trials, args.trials), bt_reps)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
