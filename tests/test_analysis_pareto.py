"""pareto_front and summarize, by hand."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hpo_analytics as ha
from hpo_analytics.analysis import pareto_front, summarize
from hpo_analytics.analysis.pareto import _non_dominated
from hpo_analytics.errors import ConfigurationError

DATA = Path(__file__).resolve().parent.parent / "data"


def test_pareto_by_hand() -> None:
    f = pd.DataFrame({
        "trial_id": ["a", "b", "c", "d", "e", "f"],
        "trial_index": range(6),
        "acc": [0.9, 0.8, 0.7, 0.9, 0.6, math.nan],
        "time_total_s": [100.0, 50.0, 60.0, 100.0, 10.0, 1.0],
    })
    out = pareto_front(f, {"acc": "max", "time_total_s": "min"})
    # c is dominated by b (less acc, more time); a and d tie and both stay; f has NaN.
    assert out.loc[out["is_pareto"], "trial_id"].tolist() == ["a", "d", "b", "e"]
    assert out["trial_id"].tolist() == ["a", "d", "b", "e", "c", "f"]
    assert out.columns[0] == "is_pareto"
    assert out.attrs["hpo_analytics.analysis"]["objectives"] == {"acc": "max", "time_total_s": "min"}


def test_pareto_three_objectives_and_errors() -> None:
    keys = np.array([[1, 1, 1], [2, 0, 0], [1, 1, 0], [0, 0, 2]], dtype=float)
    assert _non_dominated(keys).tolist() == [True, True, False, True]
    f = pd.DataFrame({"trial_id": ["a"], "acc": [1.0], "time_total_s": [1.0]})
    with pytest.raises(ConfigurationError, match="direction"):
        pareto_front(f, {"acc": "up"})
    with pytest.raises(ConfigurationError, match="no metric column 'loss'"):
        pareto_front(f, {"loss": "min"})


def test_pareto_default_objectives() -> None:
    table = ha.read_trials(DATA / "synthetic_job" / "trials")
    out = pareto_front(table)
    assert set(out.attrs["hpo_analytics.analysis"]["objectives"]) == {"reward_attr", "time_total_s"}
    front = out[out["is_pareto"]]
    assert front["reward_attr"].iloc[0] == table.column("reward_attr").to_pandas().max()
    assert front["time_total_s"].is_monotonic_decreasing


def test_summarize_by_hand() -> None:
    f = pd.DataFrame({
        "trial_id": ["a", "b", "c", "d"],
        "trial_index": range(4),
        "status": ["TERMINATED", "TERMINATED", "ERROR", "RUNNING"],
        "reward_attr": [0.5, 0.9, math.nan, 0.9],
        "time_total_s": [10.0, 20.0, 5.0, math.nan],
        "param/lr": [0.1, 0.2, 0.3, 0.4],
        "param/opt": ["a", "b", "a", "b"],
    })
    s = summarize(f)
    assert s["metric"] == "reward_attr" and s["mode"] == "max"
    assert s["n_trials"] == 4 and s["n_scored"] == 3
    assert s["status_counts"] == {"TERMINATED": 2, "ERROR": 1, "RUNNING": 1}
    assert s["best_value"] == 0.9 and s["best_trial_ids"] == ["b", "d"]
    assert s["quantiles"] == {0.0: 0.5, 0.25: 0.7, 0.5: 0.9, 0.75: 0.9, 1.0: 0.9}
    assert s["n_params"] == 2 and s["params"] == ["lr", "opt"]
    assert s["time_total_s"] == 35.0 and s["max_time_s"] == 20.0
    empty = summarize(f.iloc[:0])
    assert empty["n_trials"] == 0 and math.isnan(empty["best_value"]) and empty["best_trial_ids"] == []
