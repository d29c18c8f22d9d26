"""plot_status: status counts by hand (trials, curves, final statuses, per-row statuses), drawing lightly."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

import hpo_analytics as ha
from _plots import given_axes, own_figure, save_png
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_status
from hpo_analytics.plots._common import identity_colors
from hpo_analytics.plots.status import STATUS_COLORS, _status_data

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"


def curves() -> pd.DataFrame:
    # a reports at 1, 2, 3 and finishes; b reports at 1, 2 and is still running; c reports once, at 2, done.
    return pd.DataFrame({
        "trial_id": ["a", "a", "a", "b", "b", "c"],
        "training_iteration": [1, 2, 3, 1, 2, 2],
        "time_total_s": [10.0, 20.0, 30.0, 15.0, 30.0, 5.0],
        "done": [False, False, True, False, False, True],
        "acc": [0.1, 0.2, 0.3, 0.1, 0.2, 0.4],
    })


def trials_of_curves() -> pd.DataFrame:
    # d never reported; e has a status this package does not know.
    return pd.DataFrame({"trial_id": ["a", "b", "c", "d", "e"],
                         "status": ["TERMINATED", "ERROR", "TERMINATED", "PENDING", "CANCELLED"]})


def test_trials_table_counts_statuses() -> None:
    table = pd.DataFrame({"trial_id": [f"t{i}" for i in range(6)],
                          "status": ["TERMINATED", "ERROR", "TERMINATED", None, "WEIRD", "PENDING"]})
    d = _status_data(table)
    assert d.statuses == ("PENDING", "TERMINATED", "ERROR", "UNKNOWN", "WEIRD")
    np.testing.assert_array_equal(d.counts, [1, 2, 1, 1, 1])
    assert d.x is None and d.n_trials == 6
    assert d.colors[:3] == (STATUS_COLORS["PENDING"], STATUS_COLORS["TERMINATED"], STATUS_COLORS["ERROR"])
    assert d.colors[3:] == tuple(identity_colors(5)[3:])


def test_curves_alone_use_done() -> None:
    d = _status_data(curves())
    assert d.x_label == "training_iteration" and d.n_trials == 3
    np.testing.assert_array_equal(d.x, [1, 2, 3])
    assert d.statuses == ("PENDING", "RUNNING", "TERMINATED")
    np.testing.assert_array_equal(d.counts, [[1, 0, 0], [2, 2, 1], [0, 1, 2]])


def test_final_status_from_trials_and_trials_that_never_reported() -> None:
    d = _status_data(curves(), trials=trials_of_curves())
    assert d.statuses == ("PENDING", "RUNNING", "TERMINATED", "ERROR", "CANCELLED")
    np.testing.assert_array_equal(d.counts, [
        [2, 1, 1],  # c until it reports at 2; d throughout
        [2, 1, 0],
        [0, 1, 2],
        [0, 1, 1],  # b ends at its last report, 2
        [1, 1, 1],  # e never reported: its final status throughout
    ])
    assert d.n_trials == 5 and d.counts.sum(axis=0).tolist() == [5, 5, 5]


def test_per_report_statuses_and_a_time_axis() -> None:
    table = pd.DataFrame({
        "trial_id": ["a", "a", "a", "a", "b", "b"],
        "timestamp": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0],
        "status": ["RUNNING", "PAUSED", "RUNNING", "TERMINATED", "RUNNING", "RUNNING"],
    })
    d = _status_data(table)  # a timestamp column is the default axis
    assert d.x_label == "timestamp" and d.statuses == ("RUNNING", "PAUSED", "TERMINATED")  # PENDING never shows
    np.testing.assert_array_equal(d.counts, [[2, 1, 2, 1], [0, 1, 0, 0], [0, 0, 0, 1]])
    by_time = _status_data(curves(), x="time_total_s")
    np.testing.assert_array_equal(by_time.x, [5, 10, 15, 20, 30])
    np.testing.assert_array_equal(by_time.counts, [[2, 1, 0, 0, 0], [0, 1, 2, 2, 1], [1, 1, 1, 1, 2]])


def test_many_x_values_are_sampled_on_an_even_grid() -> None:
    table = pd.DataFrame({"trial_id": ["a"] * 10, "training_iteration": range(10), "done": [False] * 9 + [True]})
    d = _status_data(table, max_points=4)
    np.testing.assert_array_equal(d.x, [0, 3, 6, 9])
    assert d.statuses == ("RUNNING", "TERMINATED")
    np.testing.assert_array_equal(d.counts, [[1, 1, 1, 0], [0, 0, 0, 1]])


def test_errors() -> None:
    table = trials_of_curves()
    with pytest.raises(ConfigurationError, match="trials= goes with a curve table"):
        _status_data(table, trials=table)
    with pytest.raises(ConfigurationError, match="needs a curve table"):
        _status_data(table, x="training_iteration")
    with pytest.raises(ConfigurationError, match="no 'status' column"):
        _status_data(table.drop(columns=["status"]))
    with pytest.raises(ConfigurationError, match="no 'wall' column"):
        _status_data(curves(), x="wall")
    with pytest.raises(ConfigurationError, match="numeric"):
        _status_data(curves().assign(when=["x"] * 6), x="when")
    with pytest.raises(ConfigurationError, match="trials= has no 'status'"):
        _status_data(curves(), trials=table.drop(columns=["status"]))
    with pytest.raises(ConfigurationError, match="kind must be"):
        plot_status(curves(), kind="pie")
    with pytest.raises(ConfigurationError, match="max_points"):
        _status_data(curves(), max_points=1)


def test_drawing_bars_for_trials() -> None:
    with own_figure(plot_status, trials_of_curves()) as ax:
        assert ax.get_title() == "Trials by status (5 trials)" and ax.get_ylabel() == "trials"
        assert [t.get_text() for t in ax.get_xticklabels()] == ["PENDING", "TERMINATED", "ERROR", "CANCELLED"]
        assert [p.get_height() for p in ax.patches] == [1, 2, 1, 1]
        assert to_rgb(ax.patches[2].get_facecolor()) == to_rgb(STATUS_COLORS["ERROR"])
        assert [t.get_text() for t in ax.texts] == ["1", "2", "1", "1"]  # the counts on the bars


def test_drawing_stacked_area_and_bars_on_a_given_ax() -> None:
    with given_axes(1, 2) as (fig, (left, right)):
        assert plot_status(curves(), trials=trials_of_curves(), ax=left) is left
        assert plot_status(curves(), trials=trials_of_curves(), kind="bars", ax=right) is right
        assert left.get_title() == "Trials by status over training_iteration (5 trials)"
        assert len(left.collections) == 5  # one band per status
        legend = [t.get_text() for t in left.get_legend().get_texts()]
        assert legend == ["CANCELLED (1)", "ERROR (1)", "TERMINATED (2)", "RUNNING (0)", "PENDING (1)"]
        assert len(right.patches) == 5 * 3  # a bar per status and iteration
        save_png(fig)


def test_empty_table_draws_a_note() -> None:
    empty = pd.DataFrame({"trial_id": pd.Series([], dtype=object), "status": pd.Series([], dtype=object)})
    with own_figure(plot_status, empty) as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"] and not ax.patches


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    history = ha.read_curves(DATA / "histories")
    d = _status_data(history, trials=table)
    final = dict(zip(d.statuses, d.counts[:, -1].tolist()))
    expected = ha.trials_to_pandas(table)["status"].value_counts().to_dict()
    assert final == expected  # at the last iteration every trial is in its final status
    assert (d.counts.sum(axis=0) == table.num_rows).all()
    with own_figure(plot_status, history, trials=table, png_dpi=50):
        pass  # one figure, saved as PNG, global state untouched
