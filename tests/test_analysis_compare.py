"""compare_top: repeats, curve tails, and honesty without replication."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from hpo_analytics.analysis import compare_top
from hpo_analytics.analysis.compare import COMPARE_COLUMNS, CURVE_NOTE, NO_REPLICATION


def frame(y: list[float], **params: list) -> pd.DataFrame:
    data = {"trial_id": [f"t{i}" for i in range(len(y))], "trial_index": range(len(y)), "reward_attr": y}
    data.update({f"param/{k}": v for k, v in params.items()})
    return pd.DataFrame(data)


def test_repeats_are_tested() -> None:
    # config a: 3, 4 (mean 3.5); b: 1, 2 (mean 1.5); c: 0 (single).
    f = frame([3.0, 1.0, 4.0, 2.0, 0.0], lr=["a", "b", "a", "b", "c"])
    out = compare_top(f, k=3)
    assert list(out.columns) == list(COMPARE_COLUMNS)
    first = out.iloc[0]
    assert first["best_config"] == "lr='a'" and first["other_config"] == "lr='b'"
    assert (first["n_best"], first["n_other"]) == (2, 2)
    assert first["difference"] == 2.0
    assert first["p_value"] == pytest.approx(1 / 6)  # exact: 1 of C(4, 2) splits
    assert first["effect_size"] == 1.0
    assert first["method"] == "rank_sum:repeats"
    assert first["diff_ci_low"] <= 2.0 <= first["diff_ci_high"]
    assert first["best_trials"] == ["t0", "t2"]
    second = out.iloc[1]  # c has one trial and there are no curves: no test
    assert second["other_rank"] == 3 and second["method"] == "none" and second["note"] == NO_REPLICATION
    assert math.isnan(second["p_value"]) and math.isnan(second["effect_size"])


def test_min_mode_orients_the_test() -> None:
    f = frame([3.0, 1.0, 4.0, 2.0], lr=["a", "b", "a", "b"])
    first = compare_top(f, mode="min").iloc[0]
    assert first["best_config"] == "lr='b'" and first["difference"] == -2.0
    assert first["p_value"] == pytest.approx(1 / 6) and first["effect_size"] == 1.0


def test_no_replication_says_so() -> None:
    out = compare_top(frame([0.9, 0.8], x=[1.0, 2.0]))
    assert out["method"].tolist() == ["none"] and out["note"].tolist() == [NO_REPLICATION]
    assert compare_top(frame([0.9], x=[1.0])).empty


def test_curve_tails_when_no_repeats() -> None:
    rows = [("t0", 0, s, v) for s, v in enumerate([0.5, 0.8, 0.9, 0.91, 0.92], 1)]
    rows += [("t1", 1, s, v) for s, v in enumerate([0.4, 0.7, 0.6, 0.62, 0.61], 1)]
    curves = pd.DataFrame(rows, columns=["trial_id", "trial_index", "training_iteration", "reward_attr"])
    curves["param/x"] = [1.0] * 5 + [2.0] * 5
    first = compare_top(curves, last_k=3).iloc[0]
    assert first["method"] == "rank_sum:curve_tail" and first["note"] == CURVE_NOTE
    assert (first["n_best"], first["n_other"]) == (3, 3)
    assert first["mean_best"] == pytest.approx(0.91) and first["mean_other"] == pytest.approx(0.61)
    assert first["p_value"] == pytest.approx(1 / 20)  # exact: 1 of C(6, 3) splits
    assert first["effect_size"] == 1.0
