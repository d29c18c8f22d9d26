"""plot_learning_curves: curve points, top-k and stop placement by hand; drawing lightly; global state."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection

import hpo_analytics as ha
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_learning_curves
from hpo_analytics.plots.curves import _learning_curves_data, _mass_alpha, stop_steps
from hpo_analytics.stopping import MedianStoppingRule, backtest

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
nan = np.nan


def long(rows: list[tuple[str, int, float]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["trial_id", "training_iteration", "acc"])
    order = {t: i for i, t in enumerate(dict.fromkeys(frame["trial_id"]))}
    return frame.assign(trial_index=frame["trial_id"].map(order))


# a: three steps; b: skipped step 2 (the line joins 1 and 3); c: a NaN at step 2 (a gap), ends at 3;
# d: two steps only
HAND = long([("a", 1, 0.1), ("a", 2, 0.2), ("a", 3, 0.3),
             ("b", 1, 0.5), ("b", 3, 0.9),
             ("c", 1, 0.4), ("c", 2, nan), ("c", 3, 0.6),
             ("d", 1, 0.2), ("d", 2, 0.25)])


def test_points_top_k_and_mass_by_hand() -> None:
    d = _learning_curves_data(HAND, metric="acc", mode="max", top_k=2)
    assert d.top_ids.tolist() == ["b", "c"]  # latest values 0.9, 0.6, 0.3, 0.25
    np.testing.assert_array_equal(d.top_scores, [0.9, 0.6])
    np.testing.assert_array_equal(d.top[0], [[1, 0.5], [1, 0.5], [3, 0.9]])  # the skipped step repeats step 1
    np.testing.assert_array_equal(d.top[1], [[1, 0.4], [2, nan], [3, 0.6]])  # a reported NaN stays a gap
    assert d.mass_ids.tolist() == ["a", "d"]
    np.testing.assert_array_equal(d.mass[0], [[1, 0.1], [2, 0.2], [3, 0.3]])
    np.testing.assert_array_equal(d.mass[1], [[1, 0.2], [2, 0.25], [nan, nan]])  # nothing after the last
    assert d.n_curves == 4 and len(d.stop_ids) == 0 and d.stops_unplaced == 0


def test_min_mode_and_no_top() -> None:
    d = _learning_curves_data(HAND, metric="acc", mode="min", top_k=1)
    assert d.top_ids.tolist() == ["d"]
    d = _learning_curves_data(HAND, metric="acc", top_k=0)
    assert len(d.top_ids) == 0 and d.mass.shape == (4, 3, 2)


def test_stops_from_a_mapping_and_from_a_decision_table() -> None:
    # c stopped at 2, where it reported NaN: the marker sits on its latest finite value (step 1's 0.4)
    mapping = {"a": 2, "b": None, "c": 2, "zz": 1}
    d = _learning_curves_data(HAND, metric="acc", top_k=0, stopped=mapping)
    assert d.stop_ids.tolist() == ["a", "c"]
    np.testing.assert_array_equal(d.stop_x, [2, 2])
    np.testing.assert_array_equal(d.stop_y, [0.2, 0.4])
    assert d.stops_unplaced == 1  # zz has no curve
    decisions = pd.DataFrame({"trial_id": ["a", "b", "a", "d"], "stop": [True, False, True, True],
                              "step": pd.array([3, 1, 2, None], dtype="Int64"),
                              "value": 0.0, "reference": 0.0, "reason": ""})
    assert stop_steps(decisions) == {"a": 2}  # earliest stop; a stop without a step is ignored
    assert stop_steps({"x": np.nan, "y": 4}) == {"y": 4}
    with pytest.raises(ConfigurationError, match="no 'step' column"):
        stop_steps(decisions.drop(columns=["step"]))
    with pytest.raises(ConfigurationError, match="decision table .* or a mapping"):
        stop_steps([("a", 1)])


def test_stops_from_backtest_attrs() -> None:
    curves = long([(t, s, v) for t, vs in {"a": [5, 5, 5], "b": [4, 6, 6], "c": [6, 6, 6]}.items()
                   for s, v in enumerate(vs, start=1)])
    bt = backtest(curves, {"m": MedianStoppingRule(min_samples=1)}, metric="acc", mode="max", concurrency=1)
    d = _learning_curves_data(curves, metric="acc", top_k=1, stopped=bt.attrs["stop_step"]["m"])
    assert d.stop_ids.tolist() == ["b"] and d.stop_x.tolist() == [1.0] and d.stop_y.tolist() == [4.0]


def test_alpha_falls_with_the_number_of_curves() -> None:
    assert _mass_alpha(10) == pytest.approx(0.7)
    assert _mass_alpha(100) == pytest.approx(0.25)
    assert _mass_alpha(10_000) == pytest.approx(0.005)


def test_drawing_one_collection_legend_of_top_k_only() -> None:
    before = dict(plt.rcParams)
    ax = plot_learning_curves(HAND, metric="acc", top_k=2, stopped={"a": 2})
    try:
        collections = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert len(collections) == 1 and len(collections[0].get_segments()) == 2
        assert collections[0].get_rasterized()
        assert len(ax.lines) == 2
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["other trials (2)", "b (acc=0.9)", "c (acc=0.6)", "stopped (1)"]
        assert ax.get_xlabel() == "training_iteration" and ax.get_ylabel() == "acc (higher is better)"
        assert ax.get_title() == "Learning curves (4 trials; top 2 by acc)"
        assert ax.get_ylim()[0] <= 0.1 and ax.get_ylim()[1] >= 0.9
        ax.figure.savefig(io.BytesIO(), format="png")
        assert dict(plt.rcParams) == before
    finally:
        plt.close(ax.figure)


def test_given_ax_no_new_figure_and_empty_note() -> None:
    fig, ax = plt.subplots()
    try:
        count = len(plt.get_fignums())
        assert plot_learning_curves(HAND, metric="acc", ax=ax) is ax
        assert len(plt.get_fignums()) == count
    finally:
        plt.close(fig)
    ax = plot_learning_curves(HAND.iloc[:0], metric="acc")
    try:
        assert [t.get_text() for t in ax.texts] == ["no trials"]
    finally:
        plt.close(ax.figure)


def test_bad_input_raises() -> None:
    with pytest.raises(ConfigurationError, match="top_k"):
        plot_learning_curves(HAND, metric="acc", top_k=-1)
    with pytest.raises(ConfigurationError, match="training_iteration"):
        plot_learning_curves(HAND.drop(columns=["training_iteration"]), metric="acc")
    with pytest.raises(ConfigurationError, match="no metric column"):
        plot_learning_curves(HAND, metric="loss")


def test_synthetic_job_end_to_end() -> None:
    curves = ha.read_curves(DATA / "histories")
    d = _learning_curves_data(curves, metric="acc", top_k=5)
    ranked = ha.rank_trials(curves, metric="acc")
    assert d.top_ids.tolist() == ranked["trial_id"].head(5).tolist()
    assert d.n_curves == ranked.shape[0]
    ax = plot_learning_curves(curves, metric="acc")
    try:
        assert len(ax.get_legend().get_texts()) == 6
        ax.figure.savefig(io.BytesIO(), format="png")
    finally:
        plt.close(ax.figure)
