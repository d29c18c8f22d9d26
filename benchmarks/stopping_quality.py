"""Benchmark: how well each stop rule saves compute on REAL learning curves, search by search.

The corpus (``data/curves_corpus.parquet``, made by
``scripts/make_curves_corpus.py``) holds several searches of real training
runs (scikit-learn estimators trained epoch by epoch; validation accuracy,
higher is better). Each search is replayed as the watch loop would see it:

* trials start in ``trial_index`` order, ``--concurrency`` of them running
  at once; a slot freed by a trial that finished or was stopped takes the
  next trial at the next tick;
* every tick, each running trial reports one more epoch; then the rule is
  asked about the running trials (a trial that has just reported its last
  epoch has finished: it is not asked), comparing with the trials that
  finished without being stopped (as the watch loop does);
* a stopped trial runs no more epochs.

Rules: every built-in rule at its defaults (``median``, ``percentile``,
``asha``, ``patience``, ``significance``, ``forecast``; ``threshold`` has no
default threshold and is left out), and, when Optuna is installed, Optuna's
``MedianPruner()`` and ``SuccessiveHalvingPruner()`` at their defaults, fed
the same reports through ``trial.report``/``trial.should_prune``.

Printed per search and overall, per rule: ``saved`` (share of the search's
epochs not run; overall: of all epochs), ``best kept`` (a trial reaching the
search's eventual best score -- best accuracy over its whole curve --
survived; ties count, as small validation sets tie), ``regret`` (eventual
best score minus the best surviving trial's; overall: the mean), and
``top10 stopped`` (share of the top 10% of trials by score that were
stopped; overall: pooled). Then the forecast rule's targets: at least 60%
saved overall with the best kept in every search, and strictly fewer top-10%
trials stopped than the median rule at equal or greater savings. For that
last target the median rule is also run at other settings (``grace_period``
0 to 15 steps, ``min_samples`` 3, 5, 10): among the settings that save at
least as much as the forecast rule, the one that stops the fewest top-10%
trials is the comparison (``median matched``); if none saves as much, the
target fails.

Usage::

    python benchmarks/stopping_quality.py [--corpus PATH] [--concurrency 4] [--search NAME ...]
                                          [--max-trials N] [--no-optuna] [--no-sweep] [--json]

``--quick`` is ``--search digits-mlp --max-trials 40 --no-optuna`` (a smoke run).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from hpo_analytics.stopping import (
    CurveMatrix,
    ForecastRule,
    MedianStoppingRule,
    PatienceRule,
    PercentileRule,
    Rule,
    SignificanceRule,
    SuccessiveHalvingRule,
)

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "data" / "curves_corpus.parquet"
TOP_FRACTION = 0.1


def load_corpus(path: Path, searches: list[str] | None = None,
                max_trials: int | None = None) -> dict[str, np.ndarray]:
    """``{search: trials x epochs}`` accuracy matrices, rows in ``trial_index`` order (NaN: no report)."""
    import pyarrow.parquet as pq

    frame = pq.read_table(path).to_pandas()
    frame["search"] = frame["search"].astype(str)
    out: dict[str, np.ndarray] = {}
    for name in dict.fromkeys(frame["search"]):
        if searches and name not in searches:
            continue
        part = frame[frame["search"] == name]
        n, m = int(part["trial_index"].max()) + 1, int(part["training_iteration"].max())
        dense = np.full((n, m), np.nan)
        dense[part["trial_index"].to_numpy(), part["training_iteration"].to_numpy() - 1] = \
            part["acc"].to_numpy(dtype=float)
        out[name] = dense[:max_trials] if max_trials else dense
    missing = set(searches or []) - set(out)
    if missing:
        raise SystemExit(f"no search named {', '.join(sorted(missing))} in {path}")
    return out


def builtin_rules() -> dict[str, Rule]:
    """Every built-in rule at its defaults (``threshold`` has none)."""
    kw: dict[str, Any] = {"metric": "acc", "mode": "max"}
    return {
        "median": MedianStoppingRule(**kw),
        "percentile": PercentileRule(**kw),
        "asha": SuccessiveHalvingRule(**kw),
        "patience": PatienceRule(**kw),
        "significance": SignificanceRule(**kw),
        "forecast": ForecastRule(**kw),
    }


def simulate(values: np.ndarray, decider_factory: Callable[[np.ndarray], Any], *,
             concurrency: int) -> np.ndarray:
    """Replay one search as the watch loop sees it; the column each trial was stopped at (-1: never).

    ``decider_factory(values)`` returns a decider (:class:`RuleDecider`, :class:`OptunaDecider`): told
    when a trial starts, what the running trials reported this tick, asked which of them to stop (given
    how many trials started and which finished unstopped), told when one finishes or is stopped.
    """
    n, m = values.shape
    lengths = np.full(n, m)  # every corpus trial reports every epoch (NaN after an overflow is a report)
    stop_col = np.full(n, -1, dtype=np.int64)
    pos = np.zeros(n, dtype=np.int64)  # next column each trial will report
    finished = np.zeros(n, dtype=bool)
    decider = decider_factory(values)
    running: list[int] = []
    nxt = 0
    while running or nxt < n:
        while len(running) < concurrency and nxt < n:
            running.append(nxt)
            decider.start(nxt)
            nxt += 1
        run = np.asarray(running, dtype=np.int64)
        cols = pos[run].copy()
        pos[run] += 1
        decider.report(run, cols)
        ended = pos[run] >= lengths[run]
        asked = run[~ended]
        stops = decider.decide(nxt, asked, finished) if len(asked) else np.zeros(0, dtype=np.int64)
        stop_col[stops] = pos[stops] - 1
        for r in run[ended]:
            finished[r] = True
            decider.finish(int(r))
        for r in stops:
            decider.prune(int(r))
        gone = set(run[ended].tolist()) | set(np.asarray(stops).tolist())
        running = [r for r in running if r not in gone]
    return stop_col


class RuleDecider:
    """Asks one of our rules, on the view the watch loop would have (started trials, what they reported)."""

    def __init__(self, rule: Rule, values: np.ndarray) -> None:
        n, m = values.shape
        self.rule, self.values = rule, values
        self.seen = np.full((n, m), np.nan)
        self.rep = np.zeros((n, m), dtype=bool)
        self.ids = np.array([str(i) for i in range(n)], dtype=object)
        self.steps = np.arange(1, m + 1)

    def start(self, row: int) -> None:
        pass

    def report(self, rows: np.ndarray, cols: np.ndarray) -> None:
        self.seen[rows, cols] = self.values[rows, cols]
        self.rep[rows, cols] = True

    def decide(self, started: int, asked: np.ndarray, finished: np.ndarray) -> np.ndarray:
        view = CurveMatrix(self.ids[:started], self.steps, self.seen[:started], self.rep[:started])
        d = self.rule.decide_matrix(view, asked, finished[:started], "max")
        return np.asarray(d.rows)[np.asarray(d.stop, dtype=bool)]

    def finish(self, row: int) -> None:
        pass

    def prune(self, row: int) -> None:
        pass


class OptunaDecider:
    """Asks an Optuna pruner through a real study, trial by trial (ask, report, should_prune, tell)."""

    def __init__(self, make_pruner: Callable[[], Any], values: np.ndarray) -> None:
        import optuna

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        self.optuna = optuna
        self.values = values
        self.study = optuna.create_study(direction="maximize", pruner=make_pruner(),
                                         sampler=optuna.samplers.RandomSampler(seed=0))
        self.trials: dict[int, Any] = {}

    def start(self, row: int) -> None:
        self.trials[row] = self.study.ask()

    def report(self, rows: np.ndarray, cols: np.ndarray) -> None:
        for r, c in zip(rows.tolist(), cols.tolist()):
            self.trials[r].report(float(self.values[r, c]), c + 1)

    def decide(self, started: int, asked: np.ndarray, finished: np.ndarray) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.asarray([r for r in asked.tolist() if self.trials[r].should_prune()], dtype=np.int64)

    def finish(self, row: int) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            score = float(np.nanmax(self.values[row])) if np.isfinite(self.values[row]).any() else float("nan")
            if np.isfinite(score):
                self.study.tell(self.trials.pop(row), score)
            else:
                self.study.tell(self.trials.pop(row), state=self.optuna.trial.TrialState.FAIL)

    def prune(self, row: int) -> None:
        self.study.tell(self.trials.pop(row), state=self.optuna.trial.TrialState.PRUNED)


def all_deciders(with_optuna: bool) -> dict[str, Callable[[np.ndarray], Any]]:
    out: dict[str, Callable[[np.ndarray], Any]] = {
        name: (lambda v, r=rule: RuleDecider(r, v)) for name, rule in builtin_rules().items()}
    if with_optuna:
        try:
            import optuna
        except ImportError:
            print("optuna is not installed: its pruners are left out (pip install optuna)")
        else:
            out["optuna median"] = lambda v: OptunaDecider(optuna.pruners.MedianPruner, v)
            out["optuna halving"] = lambda v: OptunaDecider(optuna.pruners.SuccessiveHalvingPruner, v)
    return out


def score(values: np.ndarray, stop_col: np.ndarray) -> dict[str, Any]:
    """``saved``, ``best_kept``, ``regret``, ``top_stopped`` (and counts for pooling) of one replay."""
    n, m = values.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        best = np.nanmax(values, axis=1)
    best = np.where(np.isnan(best), -np.inf, best)
    stopped = stop_col >= 0
    ran = np.where(stopped, stop_col + 1, m)
    k = max(1, round(TOP_FRACTION * n))
    top = np.argsort(-best, kind="stable")[:k]
    eventual = float(best.max())
    surviving = best[~stopped]
    kept_best = float(surviving.max()) if len(surviving) else -np.inf
    return {"epochs": int(n * m), "ran": int(ran.sum()), "saved": 1.0 - ran.sum() / (n * m),
            "best_kept": bool(kept_best >= eventual), "regret": eventual - kept_best,
            "top": k, "top_stopped_n": int(stopped[top].sum()), "top_stopped": float(stopped[top].mean()),
            "stopped": int(stopped.sum()), "trials": n}


def run(corpus: dict[str, np.ndarray], deciders: dict[str, Callable[[np.ndarray], Any]], *,
        concurrency: int) -> dict[str, Any]:
    """Every search under every decider: ``{"searches": {search: {rule: score}}, "overall": {rule: ...}}``."""
    per: dict[str, dict[str, Any]] = {}
    for name, values in corpus.items():
        per[name] = {}
        for label, factory in deciders.items():
            t0 = time.perf_counter()
            stop_col = simulate(values, factory, concurrency=concurrency)
            per[name][label] = score(values, stop_col) | {"seconds": time.perf_counter() - t0}
    overall: dict[str, Any] = {}
    for label in deciders:
        rows = [per[s][label] for s in per]
        epochs, ran = sum(r["epochs"] for r in rows), sum(r["ran"] for r in rows)
        overall[label] = {
            "saved": 1.0 - ran / epochs if epochs else 0.0,
            "best_kept_searches": sum(r["best_kept"] for r in rows), "searches": len(rows),
            "regret": float(np.mean([r["regret"] for r in rows])) if rows else 0.0,
            "top_stopped_n": sum(r["top_stopped_n"] for r in rows), "top": sum(r["top"] for r in rows),
            "top_stopped": sum(r["top_stopped_n"] for r in rows) / max(1, sum(r["top"] for r in rows)),
        }
    return {"searches": per, "overall": overall}


#: The median rule's settings tried for the matched comparison.
MEDIAN_SWEEP = [{"grace_period": g, "min_samples": k} for k in (3, 5, 10) for g in (0, 1, 2, 3, 4, 5, 6, 8, 10, 12, 15)]


def median_sweep(corpus: dict[str, np.ndarray], *, concurrency: int) -> list[dict[str, Any]]:
    """The median rule at every :data:`MEDIAN_SWEEP` setting: its overall scores, with the setting."""
    out = []
    for kw in MEDIAN_SWEEP:
        rule = MedianStoppingRule(metric="acc", mode="max", **kw)
        res = run(corpus, {"median": lambda v, r=rule: RuleDecider(r, v)}, concurrency=concurrency)
        out.append(res["overall"]["median"] | {"setting": kw,
                                                "per_search": {n: r["median"] for n, r in res["searches"].items()}})
    return out


def matched_median(sweep: list[dict[str, Any]], saved: float) -> dict[str, Any] | None:
    """Among the median settings saving at least ``saved``, the one stopping the fewest top-10% trials
    (then: the most saving); ``None`` if none saves as much."""
    ok = [r for r in sweep if r["saved"] >= saved]
    return min(ok, key=lambda r: (r["top_stopped_n"], -r["saved"])) if ok else None


def targets(result: dict[str, Any]) -> dict[str, bool]:
    """The forecast rule's targets (see the module docstring)."""
    ov = result["overall"]
    f = ov.get("forecast")
    if f is None:
        return {}
    med = result.get("median_matched")
    return {
        "saved >= 60%": f["saved"] >= 0.60,
        "best kept in every search": f["best_kept_searches"] == f["searches"],
        "fewer top-10% stopped than median at >= savings": (med is not None
                                                            and f["top_stopped_n"] < med["top_stopped_n"]),
    }


def print_table(result: dict[str, Any], concurrency: int) -> None:
    header = f"  {'rule':<16} {'saved':>6} {'best kept':>9} {'regret':>8} {'top10 stopped':>14} {'stopped':>8}"
    for name, rules in result["searches"].items():
        any_rule = next(iter(rules.values()))
        print(f"{name}: {any_rule['trials']} trials x {any_rule['epochs'] // any_rule['trials']} epochs, "
              f"concurrency {concurrency}")
        print(header)
        for label, r in rules.items():
            print(f"  {label:<16} {r['saved']:6.1%} {'yes' if r['best_kept'] else 'NO':>9} {r['regret']:8.4f} "
                  f"{r['top_stopped']:8.0%} ({r['top_stopped_n']}/{r['top']}) {r['stopped']:8d}")
    print(f"overall ({len(result['searches'])} searches):")
    print(f"  {'rule':<16} {'saved':>6} {'best kept':>9} {'regret':>8} {'top10 stopped':>14}")
    for label, r in result["overall"].items():
        print(f"  {label:<16} {r['saved']:6.1%} {r['best_kept_searches']:>5}/{r['searches']:<3} {r['regret']:8.4f} "
              f"{r['top_stopped']:8.0%} ({r['top_stopped_n']}/{r['top']})")
    med = result.get("median_matched")
    if "median_sweep" in result:
        print("median rule at other settings (grace_period, min_samples): saved, best kept, top10 stopped")
        print("  " + "; ".join(f"g={r['setting']['grace_period']},k={r['setting']['min_samples']}: {r['saved']:.1%} "
                               f"{r['best_kept_searches']}/{r['searches']} {r['top_stopped_n']}/{r['top']}"
                               for r in result["median_sweep"]))
        if med is None:
            print("  median matched: no setting saves as much as the forecast rule")
        else:
            print(f"  median matched (saves >= forecast, fewest top-10% stopped): {med['setting']}: "
                  f"{med['saved']:.1%} saved, best kept {med['best_kept_searches']}/{med['searches']}, "
                  f"top10 stopped {med['top_stopped_n']}/{med['top']}")
            for name, r in med["per_search"].items():
                f = result["searches"][name].get("forecast")
                print(f"    {name:<14} median matched {r['saved']:6.1%} {'yes' if r['best_kept'] else 'NO':>3} "
                      f"{r['regret']:.4f} {r['top_stopped_n']}/{r['top']}"
                      + (f"   forecast {f['saved']:6.1%} {'yes' if f['best_kept'] else 'NO':>3} {f['regret']:.4f} "
                         f"{f['top_stopped_n']}/{f['top']}" if f else ""))
    for what, ok in targets(result).items():
        print(f"  forecast target: {what}: {'PASS' if ok else 'FAIL'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--concurrency", type=int, default=4, help="trials running at once (4)")
    parser.add_argument("--search", action="append", default=None, help="only this search (repeatable)")
    parser.add_argument("--max-trials", type=int, default=None, help="only each search's first N trials")
    parser.add_argument("--no-optuna", action="store_true", help="leave Optuna's pruners out")
    parser.add_argument("--quick", action="store_true", help="a smoke run: one search, 40 trials, no Optuna")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-sweep", action="store_true",
                        help="leave out the median rule's sweep (and so the matched comparison)")
    args = parser.parse_args(argv)
    if args.quick:
        args.search = args.search or ["digits-mlp"]
        args.max_trials = args.max_trials or 40
        args.no_optuna = True
        args.no_sweep = True
    corpus = load_corpus(args.corpus, args.search, args.max_trials)
    result = run(corpus, all_deciders(not args.no_optuna), concurrency=args.concurrency)
    if not args.no_sweep:
        result["median_sweep"] = median_sweep(corpus, concurrency=args.concurrency)
        result["median_matched"] = matched_median(result["median_sweep"], result["overall"]["forecast"]["saved"])
    if args.json:
        print(json.dumps(result | {"targets": targets(result)}, indent=1, default=float))
    else:
        print_table(result, args.concurrency)
    return 0


if __name__ == "__main__":
    sys.exit(main())
