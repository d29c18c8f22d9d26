"""plot_backtest: one point per rule from the back-test frame, by hand; drawing lightly; global state."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import hpo_analytics as ha
from _plots import given_axes, own_figure
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_backtest
from hpo_analytics.plots._common import identity_colors
from hpo_analytics.plots.backtest import _backtest_data
from hpo_analytics.stopping import MedianStoppingRule, ThresholdRule, backtest

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"

HAND = pd.DataFrame({"rule": ["median", "threshold", "none survive"], "trials": 10, "stopped": [4, 2, 10],
                     "saved": [0.4, 0.1, 0.9], "best_stopped": [True, False, True], "top_stopped": 0.0,
                     "regret": [0.02, 0.0, np.nan]})


def test_data_by_hand_from_pandas_and_arrow() -> None:
    for table in (HAND, pa.Table.from_pandas(HAND)):
        d = _backtest_data(table)
        assert d.rule == ("median", "threshold", "none survive")
        np.testing.assert_array_equal(d.saved, [0.4, 0.1, 0.9])
        np.testing.assert_array_equal(d.regret, [0.02, 0.0, np.nan])
        assert d.best_stopped.tolist() == [True, False, True]
        assert d.undefined == ("none survive",)
    d = _backtest_data(HAND.drop(columns=["best_stopped"]))
    assert d.best_stopped.tolist() == [False, False, False]


def test_drawing_points_labels_colours_and_png() -> None:
    with own_figure(plot_backtest, HAND) as ax:
        assert len(ax.collections) == 3
        offsets = [tuple(np.asarray(c.get_offsets())[0]) for c in ax.collections]
        top = ax.get_ylim()[1]
        assert offsets[0] == (0.4, 0.02) and offsets[1] == (0.1, 0.0)
        assert offsets[2][0] == 0.9 and offsets[2][1] == pytest.approx(0.02 * 1.15) and offsets[2][1] < top
        colors = identity_colors(3)
        np.testing.assert_allclose(ax.collections[1].get_facecolors()[0][:3], colors[1])
        assert len(ax.collections[2].get_facecolors()) == 0  # hollow: no regret
        assert [t.get_text() for t in ax.texts] == ["median", "threshold", "none survive"]
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["median", "threshold", "none survive (no trial survives)", "stops the eventual best"]
        assert ax.get_xlabel().startswith("compute saved") and ax.get_ylabel().startswith("regret")


def test_given_ax_empty_note_and_errors() -> None:
    with given_axes() as (_, ax):
        assert plot_backtest(HAND, ax=ax) is ax
    with own_figure(plot_backtest, HAND.iloc[:0]) as ax:
        assert [t.get_text() for t in ax.texts] == ["no rules"]
    with pytest.raises(ConfigurationError, match="no 'regret' column"):
        plot_backtest(HAND.drop(columns=["regret"]))
    with pytest.raises(ConfigurationError, match="pyarrow.Table or pandas.DataFrame"):
        plot_backtest([("median", 0.1, 0.0)])


def test_synthetic_job_end_to_end() -> None:
    curves = ha.read_curves(DATA / "histories")
    rules = {"median": MedianStoppingRule(grace_period=3), "threshold 0.95": ThresholdRule(0.95, grace_period=1)}
    table = backtest(curves, rules, metric="acc", mode="max")
    d = _backtest_data(table)
    assert d.rule == tuple(rules)
    np.testing.assert_array_equal(d.saved, table["saved"].to_numpy())
    assert d.undefined == ("threshold 0.95",)  # nothing reaches 0.95 by step 1
    with own_figure(plot_backtest, table) as ax:
        assert len(ax.collections) == 2
