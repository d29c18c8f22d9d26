"""plot_stop_decisions: the replayed reference and stops by hand, given decision tables, drawing lightly."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

import hpo_analytics as ha
from _plots import given_axes, own_figure
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_stop_decisions
from hpo_analytics.plots.decisions import _stop_decisions_data
from hpo_analytics.stopping import (
    MedianStoppingRule,
    PatienceRule,
    SuccessiveHalvingRule,
    backtest,
)

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
nan = np.nan


def long(trials: dict[str, list[float]]) -> pd.DataFrame:
    rows = [(t, i, s + 1, v) for i, (t, vs) in enumerate(trials.items()) for s, v in enumerate(vs)]
    return pd.DataFrame(rows, columns=["trial_id", "trial_index", "training_iteration", "acc"])


# Sequential (concurrency=1), median rule with min_samples=1, trials in this order:
# a has nothing to compare with; c is compared with a (5); b with median(a, c) = 6 at step 1 -> stopped;
# e ties the median 6 at every step -> continues. So the reference at step 1 was 5 (for c), then 6.
CURVES = long({"a": [5, 5, 5], "c": [7, 7, 7], "b": [4, 6, 6], "e": [6, 6, 6]})
RULE = MedianStoppingRule(min_samples=1, grace_period=0, metric="acc", mode="max")  # decide from step 1


def test_replayed_reference_and_stops_by_hand() -> None:
    d = _stop_decisions_data(CURVES, RULE, concurrency=1)
    assert d.trial_ids.tolist() == ["a", "c", "b", "e"]
    assert d.stop_col.tolist() == [-1, -1, 0, -1]
    assert d.reference_kind == "line" and d.reference_label == "median of the finished trials"
    assert d.reference["step"].tolist() == [1, 2, 3]
    np.testing.assert_array_equal(d.reference["latest"], [6, 6, 6])
    np.testing.assert_array_equal(d.reference["low"], [5, 5, 5])
    np.testing.assert_array_equal(d.reference["high"], [6, 6, 6])
    stops = d.stops
    assert stops["trial_id"].tolist() == ["b"] and stops["step"].tolist() == [1]
    assert stops[["value", "reference", "final", "y"]].iloc[0].tolist() == [4.0, 6.0, 6.0, 4.0]
    assert d.explained == ("b",)
    assert d.explain_text[0].startswith("b stopped at step 1: best 4 by step 1 is worse than the median 6")
    assert d.rule == RULE.describe() and (d.metric, d.mode) == ("acc", "max")
    np.testing.assert_array_equal(d.points[2], [[1, 4], [2, 6], [3, 6]])


def test_highlighted_trial_that_was_not_stopped_shows_the_rules_last_word() -> None:
    d = _stop_decisions_data(CURVES, RULE, concurrency=1, highlight=["e", "b"])
    assert d.explained == ("e", "b")
    assert d.explain_text[0].startswith("e not stopped: best 6 by step 3 is not worse than the median 6")
    with pytest.raises(ConfigurationError, match="no curves for trial"):
        _stop_decisions_data(CURVES, RULE, highlight=["zz"])


def test_explain_picks_the_stops_that_would_have_ended_best() -> None:
    curves = long({"a": [5, 5, 5], "c": [7, 7, 7], "b": [4, 6, 6], "f": [3, 9, 9], "g": [2, 2, 2]})
    d = _stop_decisions_data(curves, RULE, concurrency=1, explain=2)
    assert set(d.stops["trial_id"]) == {"b", "f", "g"}
    assert d.explained == ("f", "b")  # f would have ended at 9, b at 6, g at 2
    assert _stop_decisions_data(curves, RULE, concurrency=1, explain=0).explained == ()


def test_stops_agree_with_backtest() -> None:
    curves = ha.read_curves(DATA / "histories")
    rule = MedianStoppingRule(grace_period=3, metric="acc", mode="max")
    d = _stop_decisions_data(curves, rule)
    expected = backtest(curves, {"m": rule}, metric="acc", mode="max").attrs["stop_step"]["m"]
    got = dict(zip(d.stops["trial_id"], d.stops["step"].tolist()))
    assert got == {t: s for t, s in expected.items() if s is not None} and got
    assert (d.stop_col >= 0).sum() == len(got)


def test_precomputed_decisions() -> None:
    decisions = pd.DataFrame({
        "trial_id": ["b", "e", "c"], "stop": [True, False, True], "rule": ["median(x=1)"] * 3,
        "step": pd.array([2, 3, None], dtype="Int64"), "value": [4.0, 6.0, 1.0], "reference": [5.5, 5.0, 9.0],
        "reason": ["b is worse", "e is fine", "no step"]})
    d = _stop_decisions_data(CURVES, decisions=decisions, metric="acc")
    assert d.stops["trial_id"].tolist() == ["b"] and d.stops["step"].tolist() == [2]  # a stop needs a step
    assert d.stop_col.tolist() == [-1, -1, 1, -1]
    assert d.reference["step"].tolist() == [2, 3]
    np.testing.assert_array_equal(d.reference["latest"], [5.5, 5.0])
    assert d.rule == "median(x=1)" and d.reference_label == "median of the finished trials"
    assert d.explain_text == ("b stopped at step 2: b is worse",)


def test_rung_and_own_references() -> None:
    curves = ha.read_curves(DATA / "histories")
    asha = SuccessiveHalvingRule(metric="acc", mode="max")
    d = _stop_decisions_data(curves, asha)
    assert d.reference_kind == "points"
    assert set(d.reference["step"]) <= set(asha.rungs(10).tolist()) and len(d.reference)
    d = _stop_decisions_data(curves, PatienceRule(patience=2, metric="acc", mode="max"))
    assert d.reference_kind == "own" and len(d.reference) == 0 and len(d.stops)


def test_drawing_labels_legend_and_png() -> None:
    with own_figure(plot_stop_decisions, CURVES, RULE, concurrency=1) as ax:
        collections = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert len(collections) == 3  # curves before the stops, after them, the value-to-reference joins
        assert ax.get_xlabel() == "training_iteration" and ax.get_ylabel() == "acc (higher is better)"
        assert ax.get_title().startswith("Stop decisions: median(")
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels[:5] == ["curves (4 trials)", "after the stop (would not have run)",
                              "median of the finished trials (as the search ended)", "its range during the search",
                              "stopped (1; x = the value compared)"]
        assert labels[5].replace("\n", " ").startswith("b stopped at step 1: best 4")


def test_given_ax_empty_note_and_errors() -> None:
    with given_axes() as (_, ax):
        assert plot_stop_decisions(CURVES, RULE, ax=ax) is ax
    with own_figure(plot_stop_decisions, CURVES.iloc[:0], RULE) as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"]
    with pytest.raises(ConfigurationError, match="exactly one"):
        plot_stop_decisions(CURVES)
    decisions = RULE.decide(CURVES)
    with pytest.raises(ConfigurationError, match="exactly one"):
        plot_stop_decisions(CURVES, RULE, decisions=decisions)
    with pytest.raises(ConfigurationError, match="looks like a decision table"):
        plot_stop_decisions(decisions)
    with pytest.raises(ConfigurationError, match="no 'reason' column"):
        plot_stop_decisions(CURVES, decisions=decisions.drop(columns=["reason"]), metric="acc")
    with pytest.raises(ConfigurationError, match="explain"):
        plot_stop_decisions(CURVES, RULE, explain=-1)


def test_synthetic_job_end_to_end() -> None:
    curves = ha.read_curves(DATA / "histories")
    rule = MedianStoppingRule(grace_period=3, metric="acc", mode="max")
    with own_figure(plot_stop_decisions, curves, rule, highlight=["438c6e2d"]) as ax:
        labels = [t.get_text().replace("\n", " ") for t in ax.get_legend().get_texts()]
        assert any(label.startswith("438c6e2d stopped at step 3") for label in labels)
