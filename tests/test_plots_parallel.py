"""plot_parallel_coordinates: normalised axes and ticks by hand, the density raster by hand, drawing lightly."""

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
from hpo_analytics.plots import plot_parallel_coordinates
from hpo_analytics.plots._raster import density_raster
from hpo_analytics.plots.parallel import AxisInfo, _parallel_coordinates_data

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
nan = np.nan

# learning_rate is log-scale (1e-4..1e-2, a quarter below 1e-3); batch_size linear; optimizer categorical.
HAND = pd.DataFrame({
    "trial_id": ["t0", "t1", "t2", "t3"],
    "param/learning_rate": [1e-4, 1e-2, 1e-3, 1e-3],
    "param/optimizer": ["adam", "sgd", "adam", "sgd"],
    "param/batch_size": [16, 32, 64, 16],
    "acc": [0.5, 0.9, 0.7, nan],
})


def test_axes_values_and_order_by_hand() -> None:
    d = _parallel_coordinates_data(HAND, metric="acc", mode="max")
    assert d.trial_ids.tolist() == ["t0", "t2", "t1"]  # worst first; t3 has no score
    np.testing.assert_allclose(d.values, [[0.0, 0.25, 0.0, 0.0],
                                          [0.5, 0.25, 1.0, 0.5],
                                          [1.0, 0.75, 1 / 3, 1.0]], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(d.score, [0.5, 0.7, 0.9])
    assert d.is_best.tolist() == [False, False, True]
    assert d.n_unscored == 1 and (d.metric, d.mode) == ("acc", "max")
    lr, opt, bs, metric = d.axes
    assert lr == AxisInfo("param/learning_rate", "learning_rate", "log", (0.0, 0.5, 1.0), ("1e-4", "1e-3", "1e-2"))
    assert opt == AxisInfo("param/optimizer", "optimizer", "categorical", (0.25, 0.75), ("adam", "sgd"))
    assert bs == AxisInfo("param/batch_size", "batch_size", "linear", (0.0, 0.5, 1.0), ("16", "40", "64"))
    assert metric == AxisInfo("acc", "acc", "metric", (0.0, 0.5, 1.0), ("0.5", "0.7", "0.9"))


def test_min_mode_params_subset_constant_and_missing_levels() -> None:
    frame = HAND.assign(**{"param/const": 3, "param/optimizer": ["adam", None, "sgd", "sgd"]})
    d = _parallel_coordinates_data(frame, params=["optimizer", "const"], metric="acc", mode="min")
    assert d.trial_ids.tolist() == ["t1", "t2", "t0"]  # worst (largest) first in min mode
    assert d.is_best.tolist() == [False, False, True]
    opt, const, _ = d.axes
    assert opt.tick_labels == ("adam", "sgd", "<NA>") and opt.kind == "categorical"
    np.testing.assert_allclose(d.values[:, 0], [5 / 6, 1 / 2, 1 / 6])
    assert const == AxisInfo("param/const", "const", "constant", (0.5,), ("3",))
    np.testing.assert_array_equal(d.values[:, 1], [0.5, 0.5, 0.5])


def test_tied_best_and_no_scores() -> None:
    d = _parallel_coordinates_data(HAND.assign(acc=[0.9, 0.9, 0.1, 0.2]), metric="acc")
    assert d.trial_ids.tolist() == ["t2", "t3", "t0", "t1"] and d.is_best.tolist() == [False, False, True, True]
    empty = _parallel_coordinates_data(HAND.iloc[:0], metric="acc")
    assert empty.values.shape == (0, 4) and empty.n_unscored == 0 and empty.axes == ()
    with pytest.raises(ConfigurationError, match="'acc' .* has no finite value in its 4 row"):
        _parallel_coordinates_data(HAND.assign(acc=nan), metric="acc")


def test_density_raster_by_hand() -> None:
    # line A rises from 0 to 1 (colour 1), line B stays at 0.5 (colour 0); 2 columns, 4 rows
    r = density_raster(np.array([[0.0, 1.0], [0.5, 0.5]]), np.array([1.0, 0.0]), columns_per_gap=2, rows=4)
    np.testing.assert_array_equal(r.count, [[1, 0], [1, 0], [2, 2], [0, 1]])
    np.testing.assert_array_equal(r.mean, [[1, nan], [1, nan], [0.5, 0.5], [nan, 1]])
    # chunks give the same raster as one pass; every column holds every line at least once
    rng = np.random.default_rng(0)
    v, c = rng.random((500, 4)), rng.random(500)
    one, many = density_raster(v, c, rows=30), density_raster(v, c, rows=30, chunk=64)
    np.testing.assert_array_equal(one.count, many.count)
    np.testing.assert_allclose(one.mean, many.mean, equal_nan=True)
    assert one.count.shape == (30, 3 * 48) and (one.count.sum(axis=0) >= 500).all()


def test_drawing_lines_colorbar_and_png() -> None:
    with own_figure(plot_parallel_coordinates, HAND, metric="acc") as ax:
        fig = ax.figure
        lines = [c for c in ax.collections if isinstance(c, LineCollection)]
        # the trials, the best trial over them, the four vertical axes
        assert [len(c.get_segments()) for c in lines] == [3, 1, 4]
        np.testing.assert_array_equal(lines[0].get_array(), [0.5, 0.7, 0.9])
        assert len(fig.axes) == 2 and fig.axes[1].get_ylabel() == "acc"  # the colorbar
        assert [t.get_text() for t in ax.get_xticklabels()] == ["learning_rate\n(log)", "optimizer", "batch_size",
                                                               "acc"]
        assert ax.get_title() == "Parallel coordinates (3 trials; 1 without a score not shown)"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["best trial"]
        assert not ax.images


def test_density_mode_draws_a_raster_and_the_top_lines() -> None:
    with own_figure(plot_parallel_coordinates, HAND, metric="acc", density_threshold=2, top_lines=1,
                    colorbar=False) as ax:
        assert len(ax.images) == 1 and len(ax.figure.axes) == 1
        lines = [c for c in ax.collections if isinstance(c, LineCollection)]
        np.testing.assert_array_equal(lines[0].get_array(), [0.9])
        assert ax.get_title() == ("Parallel coordinates (density of 2 + top 1 as lines; "
                                  "1 without a score not shown)")


def test_given_ax_empty_note_and_errors() -> None:
    with given_axes() as (_, ax):
        assert plot_parallel_coordinates(HAND, metric="acc", ax=ax, colorbar=False) is ax
    with own_figure(plot_parallel_coordinates, HAND.iloc[:0], metric="acc") as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"]
    with pytest.raises(ConfigurationError, match="no parameter columns"):
        plot_parallel_coordinates(HAND[["trial_id", "acc"]], metric="acc")
    with pytest.raises(ConfigurationError, match="no parameter 'momentum'"):
        plot_parallel_coordinates(HAND, params=["momentum"], metric="acc")
    with pytest.raises(ConfigurationError, match="top_lines"):
        plot_parallel_coordinates(HAND, metric="acc", top_lines=-1)


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    d = _parallel_coordinates_data(table, metric="acc")
    assert [a.label for a in d.axes] == ["learning_rate", "batch_size", "optimizer", "dropout", "weight_decay",
                                         "seed_offset", "acc"]
    assert [a.kind for a in d.axes][:3] == ["log", "linear", "categorical"]
    assert d.values.min() >= 0 and d.values.max() <= 1
    assert np.all(np.diff(d.score) >= 0)  # best last, drawn on top
    with own_figure(plot_parallel_coordinates, table, metric="acc"):
        pass  # one figure, saved as PNG, global state untouched
