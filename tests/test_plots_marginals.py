"""plot_marginals: panels from analysis.marginals, drawing lightly, no global state touched."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import hpo_analytics as ha
from _plots import given_axes, own_figure
from hpo_analytics.analysis import marginals
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_marginals
from hpo_analytics.plots.marginals import _marginals_data

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
nan = np.nan


def trials() -> pd.DataFrame:
    return pd.DataFrame({
        "trial_id": [f"t{i}" for i in range(7)],
        "trial_index": range(7),
        "acc": [1.0, 3.0, 5.0, 7.0, 9.0, 2.0, nan],
        "param/x": [0.0, 0.5, 1.5, 3.5, 4.0, nan, 1.0],
        "param/opt": ["b", "a", "a", "b", None, "b", "a"],
        "param/lr": [1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 2e-5, 3e-3],
    })


def test_panels_are_the_marginals() -> None:
    d = _marginals_data(trials(), metric="acc", bins=4, n_bootstrap=50, seed=2)
    assert (d.metric, d.mode, d.confidence) == ("acc", "max", 0.95)
    x, opt, lr = d.panels
    expected = marginals(trials(), "x", metric="acc", bins=4, n_bootstrap=50, seed=2)
    np.testing.assert_array_equal(x.x, [0.5, 1.5, 2.5, 3.5])
    np.testing.assert_array_equal(x.count, [2, 1, 0, 2])  # the empty bin is kept
    np.testing.assert_array_equal(x.mean, expected["mean"])
    np.testing.assert_array_equal(x.ci_low, expected["ci_low"])
    np.testing.assert_array_equal(x.ci_high, expected["ci_high"])
    assert (x.log, x.categorical) == (False, False)
    np.testing.assert_array_equal(x.points_x, [0.0, 0.5, 1.5, 3.5, 4.0, nan])  # t6 has no score
    np.testing.assert_array_equal(x.points_y, [1.0, 3.0, 5.0, 7.0, 9.0, 2.0])
    assert opt.categorical and opt.levels == ("a", "b")
    np.testing.assert_array_equal(opt.x, [0, 1])
    np.testing.assert_array_equal(opt.mean, [4.0, 10 / 3])
    np.testing.assert_array_equal(opt.points_x, [1, 0, 0, 1, nan, 1])  # t4's missing category is not a level
    assert lr.log and not lr.categorical


def test_options_and_errors() -> None:
    d = _marginals_data(trials(), metric="acc", params=["opt"], statuses=None, n_bootstrap=10)
    assert [p.param for p in d.panels] == ["opt"]
    with pytest.raises(ConfigurationError, match="no parameter columns"):
        _marginals_data(trials()[["trial_id", "acc"]], metric="acc")
    with pytest.raises(ConfigurationError, match="no parameter 'nope'"):
        _marginals_data(trials(), metric="acc", params=["nope"])
    with pytest.raises(ConfigurationError, match="bins"):
        _marginals_data(trials(), metric="acc", bins=0)
    with pytest.raises(ConfigurationError, match="ncols"):
        plot_marginals(trials(), metric="acc", ncols=0)


def test_drawing_panels_band_best_and_png() -> None:
    with own_figure(plot_marginals, trials(), metric="acc", bins=4, n_bootstrap=20) as fig:
        x_ax, opt_ax, lr_ax = fig.axes
        assert [a.get_xlabel() for a in fig.axes] == ["x", "opt", "lr"]
        assert x_ax.get_ylabel() == "acc" and lr_ax.get_xscale() == "log"
        assert [t.get_text() for t in opt_ax.get_xticklabels()] == ["a", "b"]
        assert [t.get_text() for t in x_ax.get_legend().get_texts()] == [
            "95% interval of the mean", "mean", "best group"]
        mean_line, star = x_ax.lines
        np.testing.assert_array_equal(mean_line.get_xdata(), [0.5, 1.5, 2.5, 3.5])
        assert (star.get_xdata()[0], star.get_ydata()[0]) == (3.5, 8.0)  # the highest mean
        assert fig._suptitle.get_text() == "Marginals: mean acc (max) by parameter"


def test_min_mode_marks_the_lowest_mean_and_points_can_be_left_out() -> None:
    with own_figure(plot_marginals, trials(), metric="acc", mode="min", params=["x"], bins=4, n_bootstrap=10,
                    points=False) as fig:
        (ax,) = fig.axes
        star = ax.lines[-1]
        assert (star.get_xdata()[0], star.get_ydata()[0]) == (0.5, 2.0)
        assert len(ax.collections) == 1  # the band only, no trial points


def test_given_axes_are_used_and_no_figure_is_made() -> None:
    with given_axes(1, 2) as (fig, axes):
        assert plot_marginals(trials(), metric="acc", params=["x", "opt"], n_bootstrap=10, ax=axes) is fig
        assert [a.get_xlabel() for a in axes] == ["x", "opt"]


def test_no_trial_draws_a_note_and_no_scored_trial_raises() -> None:
    with own_figure(plot_marginals, trials().iloc[:0], metric="acc", params=["x", "opt"],
                    n_bootstrap=10) as fig:
        assert all([t.get_text() for t in a.texts] == ["no trials"] for a in fig.axes)
    with pytest.raises(ConfigurationError, match="'acc' .* has no finite value"):
        plot_marginals(trials().assign(acc=nan), metric="acc", params=["x", "opt"], n_bootstrap=10)


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    d = _marginals_data(table, metric="acc", n_bootstrap=20)
    panel = {p.param: p for p in d.panels}
    assert panel["learning_rate"].log and panel["optimizer"].levels == ("adam", "rmsprop", "sgd")
    means = dict(zip(panel["optimizer"].levels, panel["optimizer"].mean))
    assert means["adam"] > means["rmsprop"] > means["sgd"]  # the generator's optimizer effects
    with own_figure(plot_marginals, table, metric="acc", n_bootstrap=20, png_dpi=50) as fig:
        assert len(fig.axes) == 6
