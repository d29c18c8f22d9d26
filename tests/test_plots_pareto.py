"""plot_pareto_front: the front and its staircase by hand, objectives, drawing lightly, no global state touched."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import hpo_analytics as ha
from _plots import given_axes, own_figure
from hpo_analytics.analysis import pareto_front
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_pareto_front
from hpo_analytics.plots.pareto import _pareto_data

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
nan = np.nan


def trials() -> pd.DataFrame:
    # t2 is dominated by t1, t6 by t3 (same time, lower acc); t0 and t4 are equal; t5 has no acc.
    return pd.DataFrame({
        "trial_id": [f"t{i}" for i in range(7)],
        "trial_index": range(7),
        "acc": [0.9, 0.8, 0.7, 0.6, 0.9, nan, 0.5],
        "time_total_s": [100.0, 50.0, 60.0, 20.0, 100.0, 10.0, 20.0],
        "loss": [0.1, 0.2, 0.1, 0.4, 0.3, 0.0, 0.5],
    })


def test_two_objectives_by_hand() -> None:
    d = _pareto_data(trials(), metric="acc", mode="max")
    assert d.objectives == (("acc", "max"), ("time_total_s", "min"))
    assert d.trial_ids.tolist() == ["t0", "t4", "t1", "t3", "t2", "t6"]  # pareto_front's order, t5 left out
    assert d.is_pareto.tolist() == [True, True, True, True, False, False]
    np.testing.assert_array_equal(d.values[:, 1], [100, 100, 50, 20, 60, 20])
    assert d.n_missing == 1
    # Front from worst to best acc, with the corner (x_i, y_{i+1}) between neighbours.
    np.testing.assert_array_equal(d.staircase, [[0.6, 20], [0.6, 50], [0.8, 50], [0.8, 100], [0.9, 100],
                                                [0.9, 100], [0.9, 100]])
    same = pareto_front(trials(), {"acc": "max", "time_total_s": "min"})
    assert same["trial_id"].tolist()[:4] == d.trial_ids.tolist()[:4]


def test_both_maximised_staircase() -> None:
    table = pd.DataFrame({"trial_id": ["p", "q", "r", "s"], "a": [1.0, 2.0, 3.0, 1.0], "b": [3.0, 2.0, 1.0, 1.0]})
    d = _pareto_data(table, metrics={"a": "max", "b": "max"})
    assert d.is_pareto.tolist() == [True, True, True, False]
    np.testing.assert_array_equal(d.staircase, [[1, 3], [1, 2], [2, 2], [2, 1], [3, 1]])


def test_objective_forms() -> None:
    listed = _pareto_data(trials(), metrics=["acc", "loss"], directions=["max", "min"])
    mapped = _pareto_data(trials(), metrics={"acc": "max", "loss": "min"})
    assert listed.objectives == mapped.objectives == (("acc", "max"), ("loss", "min"))
    assert listed.trial_ids.tolist() == mapped.trial_ids.tolist()
    both_min = _pareto_data(trials(), metrics=["time_total_s", "loss"], directions="min")
    assert both_min.objectives == (("time_total_s", "min"), ("loss", "min"))
    three = _pareto_data(trials(), metrics={"acc": "max", "time_total_s": "min", "loss": "min"})
    assert three.staircase is None and three.values.shape == (6, 3)


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="directions= is needed"):
        _pareto_data(trials(), metrics=["acc", "loss"])
    with pytest.raises(ConfigurationError, match="2 metrics but 3 directions"):
        _pareto_data(trials(), metrics=["acc", "loss"], directions=["max", "min", "min"])
    with pytest.raises(ConfigurationError, match="leave directions= unset"):
        _pareto_data(trials(), metrics={"acc": "max", "loss": "min"}, directions=["max", "min"])
    with pytest.raises(ConfigurationError, match="two or more objectives"):
        _pareto_data(trials(), metrics={"acc": "max"})
    with pytest.raises(ConfigurationError, match="not the string"):
        _pareto_data(trials(), metrics="acc", directions="max")
    with pytest.raises(ConfigurationError, match="either metrics="):
        _pareto_data(trials(), metrics={"acc": "max", "loss": "min"}, metric="acc")
    with pytest.raises(ConfigurationError, match="direction must be 'max' or 'min'"):
        _pareto_data(trials(), metrics={"acc": "up", "loss": "min"})
    with pytest.raises(ConfigurationError, match="no metric column 'f1'"):
        _pareto_data(trials(), metrics={"f1": "max", "loss": "min"})


def test_drawing_front_staircase_legend_and_png() -> None:
    with own_figure(plot_pareto_front, trials(), metric="acc", mode="max") as ax:
        assert ax.get_title() == "Pareto front: acc vs time_total_s"
        assert ax.get_xlabel() == "acc (max)" and ax.get_ylabel() == "time_total_s (min)"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["dominated (2)", "Pareto front (4)"]
        (line,) = ax.lines
        np.testing.assert_array_equal(line.get_xdata(), [0.6, 0.6, 0.8, 0.8, 0.9, 0.9, 0.9])
        dominated, front = ax.collections
        np.testing.assert_array_equal(dominated.get_offsets(), [[0.7, 60], [0.5, 20]])
        assert len(front.get_offsets()) == 4


def test_more_objectives_give_one_panel_per_pair() -> None:
    with own_figure(plot_pareto_front, trials(), metrics={"acc": "max", "time_total_s": "min", "loss": "min"}) as fig:
        assert [(a.get_xlabel(), a.get_ylabel()) for a in fig.axes] == [
            ("acc (max)", "time_total_s (min)"), ("acc (max)", "loss (min)"), ("time_total_s (min)", "loss (min)")]
        assert not any(a.lines for a in fig.axes)  # no staircase beyond two objectives
        assert fig.axes[0].get_legend() is not None and fig.axes[1].get_legend() is None


def test_given_ax_is_used_and_no_figure_is_made() -> None:
    with given_axes() as (_, ax):
        assert plot_pareto_front(trials(), metrics={"acc": "max", "loss": "min"}, ax=ax) is ax


def test_nothing_to_draw_gives_a_note_and_an_objective_without_values_raises() -> None:
    with own_figure(plot_pareto_front, trials().iloc[:0], metric="acc") as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"] and not ax.collections
    with pytest.raises(ConfigurationError, match="'acc' .* has no finite value"):
        plot_pareto_front(trials().assign(acc=nan), metric="acc")


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    d = _pareto_data(table, metric="acc", mode="max")
    front = pareto_front(table, {"acc": "max", "time_total_s": "min"})
    assert int(d.is_pareto.sum()) == int(front["is_pareto"].sum()) > 1
    # Along the staircase acc never falls and time never falls: a trade-off, as it should be.
    assert (np.diff(d.staircase[:, 0]) >= 0).all() and (np.diff(d.staircase[:, 1]) >= 0).all()
    with own_figure(plot_pareto_front, table, metric="acc", mode="max", png_dpi=50):
        pass  # one figure, saved as PNG, global state untouched
