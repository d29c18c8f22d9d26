"""replay_log: every decision of a back-test replay, consistent with backtest's stop steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from hpo_analytics.errors import ConfigurationError
from hpo_analytics.simulator.synthetic import generate_trials
from hpo_analytics.stopping import (
    MedianStoppingRule,
    SuccessiveHalvingRule,
    ThresholdRule,
    backtest,
    replay_log,
)


def long(trials: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(t, i, s + 1, v) for i, (t, vs) in enumerate(trials.items()) for s, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["trial_id", "trial_index", "training_iteration", "acc"])


def test_sequential_median_by_hand() -> None:
    # a runs first with nothing to compare with; b is compared with a (5) and stopped at step 1 (4 < 5);
    # c (6 >= 5) continues at every step.
    log = replay_log(long({"a": [5, 5, 5], "b": [4, 6, 6], "c": [6, 6, 6]}),
                     MedianStoppingRule(min_samples=1, grace_period=0), metric="acc", mode="max", concurrency=1)
    assert log.columns.tolist() == ["trial_id", "step", "stop", "value", "reference", "reason"]
    assert log["trial_id"].tolist() == ["a", "a", "a", "b", "c", "c", "c"]
    assert log["step"].tolist() == [1, 2, 3, 1, 1, 2, 3]
    assert log["stop"].tolist() == [False, False, False, True, False, False, False]
    np.testing.assert_array_equal(log["value"].to_numpy(), [5, 5, 5, 4, 6, 6, 6])
    np.testing.assert_array_equal(log["reference"].to_numpy(), [np.nan] * 3 + [5.0] * 4)
    assert "worse than the median 5" in log["reason"].iloc[3]
    assert "only 0 finished trials" in log["reason"].iloc[0]


def test_auto_grace_period_is_read_from_the_trials_finished_so_far() -> None:
    # Sequential. a (4 steps) finishes first: while it runs nothing has finished, so nothing is decided.
    # b then runs with a finished: the longest finished curve ends at step 4 -> grace period 2, and b is
    # stopped at step 2 (4 < a's 5). Had the replay read the whole search (b and c run 10 steps: grace 5),
    # b would only be asked from step 5 on, where no finished trial has a number: never stopped.
    curves = long({"a": [5] * 4, "b": [4] * 10, "c": [6] * 10})
    log = replay_log(curves, MedianStoppingRule(min_samples=1), metric="acc", mode="max", concurrency=1)
    by = {t: g for t, g in log.groupby("trial_id")}
    assert by["a"]["reason"].str.startswith("no finished trial yet to set the auto grace period").all()
    assert by["b"]["step"].tolist() == [1, 2] and by["b"]["stop"].tolist() == [False, True]
    assert "step 2 = ceil(0.5 x 4)" in by["b"]["reason"].iloc[1]
    assert not by["c"]["stop"].any()
    stop_step = backtest(curves, {"m": MedianStoppingRule(min_samples=1)}, metric="acc", mode="max",
                         concurrency=1).attrs["stop_step"]["m"]
    assert stop_step == {"a": None, "b": 2, "c": None}


def test_stops_match_backtest_on_generated_curves() -> None:
    ts = generate_trials(40, seed=3, n_iterations=9, error_rate=0.0)
    rows, cols = np.nonzero(np.ones(ts.acc.shape, dtype=bool))
    curves = pd.DataFrame({"trial_id": np.asarray(ts.trial_ids, dtype=object)[rows], "trial_index": rows,
                           "training_iteration": cols + 1, "acc": ts.acc[rows, cols]})
    for rule in (MedianStoppingRule(grace_period=2, min_samples=3), SuccessiveHalvingRule()):
        log = replay_log(curves, rule, metric="acc", mode="max", concurrency=3)
        expected = backtest(curves, {"r": rule}, metric="acc", mode="max", concurrency=3).attrs["stop_step"]["r"]
        stops = dict(zip(log.loc[log["stop"], "trial_id"], log.loc[log["stop"], "step"].tolist()))
        assert stops == {t: s for t, s in expected.items() if s is not None}
        assert len(stops) > 0
        # a stopped trial is never asked again
        last = log.groupby("trial_id", sort=False).tail(1)
        assert log.loc[log["stop"]].index.isin(last.index).all()


def test_metric_and_mode_default_to_the_rule_and_errors() -> None:
    curves = long({"a": [1, 1], "b": [5, 5]}).rename(columns={"acc": "loss"})
    log = replay_log(curves, ThresholdRule(2.0, metric="loss", mode="min"), concurrency=1)
    assert log.loc[log["stop"], "trial_id"].tolist() == ["b"]
    with pytest.raises(ConfigurationError, match="not a Rule"):
        replay_log(curves, "median")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="concurrency"):
        replay_log(curves, ThresholdRule(2.0, metric="loss"), concurrency=0)
