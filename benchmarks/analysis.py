"""Benchmark: ``param_importance`` (default method and bootstrap) and ``rank_trials``.

Data: seeded synthetic trials (:func:`hpo_analytics.simulator.synthetic.generate_trials`,
whose objective is known), as the pandas frame ``trials_to_pandas`` makes:

* 2,000 trials x 4 parameters (``learning_rate`` log, ``optimizer``
  categorical, ``dropout``, ``weight_decay`` inert);
* 100,000 trials x 10 parameters (the 6 synthetic ones plus 4 inert extras:
  ``momentum``, ``eps`` log, ``scheduler`` categorical, ``warmup_steps`` int);
* 1,000,000 trials x 6 parameters for ``rank_trials`` (pandas input; the Arrow input, which
  includes the Arrow -> pandas conversion, is shown for information).

With Optuna installed, its default importance evaluator
(``optuna.importance.get_param_importances``; PED-ANOVA since Optuna 4.x,
a point estimate without uncertainty) runs on the same 2,000 trials (added
to an in-memory study with their distributions), interleaved with ours, and
the ratio is printed. For a like-for-like view ours also runs with
``n_bootstrap=1`` (a point estimate from 4 trees). ``--optuna-fanova`` adds
Optuna's ``FanovaImportanceEvaluator`` (needs scikit-learn; about two minutes
per run here, so one repetition).

Repetitions are interleaved (the order rotates every repetition); medians
are printed. Targets:

* param_importance, 2,000 x 4      < 2 s
* param_importance, 100,000 x 10   < 30 s
* rank_trials, 1,000,000           < 1 s

Usage::

    python benchmarks/analysis.py [--reps N] [--optuna-reps N] [--no-optuna] [--optuna-fanova] [--quick]

``--quick`` runs 1 repetition and skips Optuna.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from hpo_analytics.analysis import param_importance, rank_trials
from hpo_analytics.simulator.synthetic import GROUND_TRUTH, generate_trials

SMALL_PARAMS = ("learning_rate", "optimizer", "dropout", "weight_decay")


def make_trials(n: int, *, seed: int = 0, params: tuple[str, ...] | None = None, extra: bool = False,
                ids: bool = True) -> pd.DataFrame:
    """``n`` finished synthetic trials as a pandas frame (``reward_attr`` = last ``acc``)."""
    ts = generate_trials(n, seed=seed)
    rng = np.random.default_rng([seed, 7])
    data: dict[str, Any] = {
        "trial_id": [f"{i:08x}" for i in range(n)] if ids else np.arange(n).astype(str),
        "trial_index": ts.trial_index,
        "status": np.where(ts.will_error, "ERROR", "TERMINATED"),
        "time_total_s": ts.cum_time[:, -1],
        "reward_attr": ts.acc[:, -1],
    }
    for name in params or tuple(ts.params):
        values = ts.params[name]
        data[f"param/{name}"] = values.astype(str) if values.dtype == object and name == "optimizer" else \
            values.astype(np.int64) if values.dtype == object else values
    if extra:
        data["param/momentum"] = rng.uniform(0.8, 0.99, n)
        data["param/eps"] = np.exp(rng.uniform(np.log(1e-9), np.log(1e-6), n))
        data["param/scheduler"] = np.array(["cosine", "step", "none"])[rng.integers(0, 3, n)]
        data["param/warmup_steps"] = rng.integers(0, 1000, n)
    return pd.DataFrame(data)


def optuna_importance(frame: pd.DataFrame, *, fanova: bool = False) -> Callable[[], dict[str, float]]:
    """A callable running Optuna's default (or fANOVA) importance evaluator on ``frame``'s trials."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    dists = {
        "learning_rate": optuna.distributions.FloatDistribution(1e-5, 1e-1, log=True),
        "optimizer": optuna.distributions.CategoricalDistribution(["adam", "sgd", "rmsprop"]),
        "dropout": optuna.distributions.FloatDistribution(0.0, 0.6),
        "weight_decay": optuna.distributions.FloatDistribution(1e-6, 1e-2, log=True),
    }
    study = optuna.create_study(direction="maximize")
    finite = frame[np.isfinite(frame["reward_attr"])]
    columns = {name: finite[f"param/{name}"].tolist() for name in dists}
    study.add_trials([
        optuna.trial.create_trial(params={name: columns[name][i] for name in dists}, distributions=dists,
                                  value=float(v))
        for i, v in enumerate(finite["reward_attr"].tolist())
    ])
    if fanova:
        import sklearn  # noqa: F401 - Optuna's fANOVA needs it; fail here, not mid-benchmark

        return lambda: optuna.importance.get_param_importances(
            study, evaluator=optuna.importance.FanovaImportanceEvaluator(seed=0))
    return lambda: optuna.importance.get_param_importances(study)


def _time(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--optuna-reps", type=int, default=3)
    parser.add_argument("--no-optuna", action="store_true")
    parser.add_argument("--optuna-fanova", action="store_true", help="also time Optuna's fANOVA (slow)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    reps = 1 if args.quick else args.reps

    small = make_trials(2_000, params=SMALL_PARAMS)
    large = make_trials(100_000, extra=True)
    million = make_trials(1_000_000)
    million_arrow = pa.Table.from_pandas(million, preserve_index=False)
    cases: dict[str, Callable[[], Any]] = {
        "importance 2k x 4": lambda: param_importance(small),
        "importance 100k x 10": lambda: param_importance(large),
        "importance 2k x 4, 1 resample (info)": lambda: param_importance(small, n_bootstrap=1),
        "rank_trials 1M (pandas)": lambda: rank_trials(million),
        "rank_trials 1M (arrow, info)": lambda: rank_trials(million_arrow),
    }
    optuna_reps = 0
    if not (args.no_optuna or args.quick):
        try:
            cases["optuna importance 2k x 4"] = optuna_importance(small)
            optuna_reps = args.optuna_reps
        except ImportError:
            print("optuna is not installed: no comparison")
        if args.optuna_fanova and optuna_reps:
            try:
                cases["optuna fanova 2k x 4 (info)"] = optuna_importance(small, fanova=True)
            except ImportError:
                print("scikit-learn is not installed: no Optuna fANOVA")

    times: dict[str, list[float]] = {name: [] for name in cases}
    results: dict[str, Any] = {}
    names = list(cases)
    for rep in range(reps):
        for name in names[rep % len(names):] + names[: rep % len(names)]:
            if name.startswith("optuna") and rep >= optuna_reps:
                continue
            if name.startswith("optuna fanova") and rep >= 1:
                continue
            elapsed, results[name] = _time(cases[name])
            times[name].append(elapsed)
            print(f"  rep {rep + 1}: {name:38s} {elapsed:8.3f} s", flush=True)

    med = {name: statistics.median(v) for name, v in times.items() if v}
    print()
    print(f"{'case':38s} {'median s':>9s} {'reps':>5s}")
    for name, value in med.items():
        print(f"{name:38s} {value:9.3f} {len(times[name]):5d}")
    print()
    targets = [("importance 2k x 4", 2.0), ("importance 100k x 10", 30.0), ("rank_trials 1M (pandas)", 1.0)]
    for name, limit in targets:
        verdict = "PASS" if med[name] < limit else "FAIL"
        print(f"target {name:28s} {med[name]:8.3f} s < {limit:5.1f} s  {verdict}")
    if "optuna importance 2k x 4" in med:
        ratio = med["optuna importance 2k x 4"] / med["importance 2k x 4"]
        print(f"optuna default evaluator / ours with default bootstrap (2k x 4): {ratio:.2f}x")
        ratio1 = med["optuna importance 2k x 4"] / med["importance 2k x 4, 1 resample (info)"]
        print(f"optuna default evaluator / ours with 1 resample (2k x 4): {ratio1:.2f}x")
        if "optuna fanova 2k x 4 (info)" in med:
            ratio_f = med["optuna fanova 2k x 4 (info)"] / med["importance 2k x 4"]
            print(f"optuna fanova evaluator / ours with default bootstrap (2k x 4): {ratio_f:.0f}x")
            fanova = {k: round(v, 3) for k, v in results["optuna fanova 2k x 4 (info)"].items()}
            print(f"  optuna fanova: {fanova}")
        ours = results["importance 2k x 4"].set_index("param")["importance"].round(3).to_dict()
        theirs = {k: round(v, 3) for k, v in results["optuna importance 2k x 4"].items()}
        print(f"  ours:   {ours}")
        print(f"  optuna default: {theirs}")
    big = results["importance 100k x 10"]
    important = set(GROUND_TRUTH.important)
    worst_important = big[big["param"].isin(important)]["importance"].min()
    best_inert = big[~big["param"].isin(important)]["importance"].max()
    print(f"100k x 10: every important parameter above every inert one: {worst_important > best_inert}")
    print(big.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
