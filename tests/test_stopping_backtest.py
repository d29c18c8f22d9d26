"""Back-test: hand cases, and the significance rule against the median rule on noisy simulated curves."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpo_analytics.errors import ConfigurationError
from hpo_analytics.simulator.synthetic import generate_trials
from hpo_analytics.stopping import (
    BACKTEST_COLUMNS,
    MedianStoppingRule,
    SignificanceRule,
    ThresholdRule,
    backtest,
)


def long(trials: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(t, i, s + 1, v) for i, (t, vs) in enumerate(trials.items()) for s, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["trial_id", "trial_index", "training_iteration", "acc"])


def test_backtest_hand_case_saved_and_regret() -> None:
    # c is below 0.5 from step 1 (grace 1): stopped after its first step -> 2 of 9 iterations saved
    out = backtest(long({"a": [1, 2, 3], "b": [2, 3, 4], "c": [0, 0, 0]}), ThresholdRule(0.5, grace_period=1),
                   metric="acc", mode="max", concurrency=1)
    assert tuple(out.columns) == BACKTEST_COLUMNS
    row = out.iloc[0]
    assert row["stopped"] == 1 and row["saved"] == pytest.approx(2 / 9)
    assert not row["best_stopped"] and row["regret"] == 0.0
    assert out.attrs["stop_step"][row["rule"]] == {"a": None, "b": None, "c": 1}


def test_backtest_hand_case_best_stopped() -> None:
    # b starts slowly and would have been the best (10): the threshold rule stops it at step 1
    out = backtest(long({"a": [1, 2, 3], "b": [0, 0, 10]}), ThresholdRule(0.5, grace_period=1),
                   metric="acc", mode="max", concurrency=1)
    row = out.iloc[0]
    assert row["best_stopped"] and row["regret"] == 7.0 and row["saved"] == pytest.approx(2 / 6)
    assert row["top_stopped"] == 1.0  # top 10% of 2 trials = the best one


def test_backtest_sequential_replay_uses_only_finished_trials() -> None:
    # median, optuna semantics, sequential: a finishes first; b is compared with a at each step.
    curves = long({"a": [5, 5, 5], "b": [4, 6, 6], "c": [6, 6, 6]})
    out = backtest(curves, MedianStoppingRule(min_samples=1, grace_period=0), metric="acc", mode="max",
                   concurrency=1)
    # b: 4 < 5 at step 1; a had nothing to compare with; c: 6 >= 5
    assert out.attrs["stop_step"][out.iloc[0]["rule"]] == {"a": None, "b": 1, "c": None}
    # several rules at once, labelled; duplicates get a suffix
    many = backtest(curves, [MedianStoppingRule(min_samples=1, grace_period=0),
                             MedianStoppingRule(min_samples=1, grace_period=0)], metric="acc", mode="max")
    assert len(many) == 2 and many["rule"].iloc[1].endswith("#2")


def test_backtest_min_mode_and_errors() -> None:
    out = backtest(long({"a": [1, 1], "b": [5, 5]}), {"thr": ThresholdRule(2.0)}, metric="acc", mode="min",
                   concurrency=1)
    assert out.iloc[0]["rule"] == "thr" and out.iloc[0]["stopped"] == 1 and not out.iloc[0]["best_stopped"]
    with pytest.raises(ConfigurationError):
        backtest(long({"a": [1]}), "median", metric="acc")
    with pytest.raises(ConfigurationError):
        backtest(long({"a": [1]}), ThresholdRule(1.0), metric="acc", concurrency=0)


def noisy_curves(seed: int, n: int = 150, m: int = 10, noise: float = 0.03) -> pd.DataFrame:
    """Synthetic curves with extra per-step noise (sd 0.03, about 4x the simulator's)."""
    ts = generate_trials(n, seed=seed, n_iterations=m, error_rate=0.0)
    rng = np.random.default_rng(seed + 100)
    acc = ts.acc + rng.normal(0.0, noise, ts.acc.shape)
    return pd.DataFrame({
        "trial_id": np.repeat(ts.trial_ids, m),
        "trial_index": np.repeat(np.arange(n), m),
        "training_iteration": np.tile(np.arange(1, m + 1), n),
        "acc": acc.ravel(),
    })


def test_significance_stops_fewer_winners_than_median_at_comparable_savings() -> None:
    rules = {"median": MedianStoppingRule(grace_period=2, min_samples=5),
             "significance": SignificanceRule(grace_period=2, min_samples=5, alpha=0.01)}
    results = pd.concat([backtest(noisy_curves(seed), rules, metric="acc", mode="max") for seed in range(4)])
    by = results.groupby("rule")[["saved", "top_stopped"]].mean()
    med, sig = by.loc["median"], by.loc["significance"]
    # the median rule prunes a large share of the eventual top 10% on noise...
    assert med["top_stopped"] >= 0.3
    # ...the significance rule far fewer, while saving a comparable share of the work
    assert sig["top_stopped"] <= 0.4 * med["top_stopped"]
    assert sig["saved"] >= 0.6 * med["saved"]
    regret = results.groupby("rule")["regret"].apply(list)
    assert all(s <= m + 1e-12 for s, m in zip(regret["significance"], regret["median"]))
