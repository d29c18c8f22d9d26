"""plot_slice: the computed panels by hand, drawing lightly, no global state touched."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import hpo_analytics as ha
from _plots import given_axes, own_figure
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_slice
from hpo_analytics.plots._raster import RASTERIZE_FROM
from hpo_analytics.plots.slice import JITTER, _slice_data, colored_points

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"


def trials() -> pd.DataFrame:
    # Row order differs from trial_index order; t2 has no score; t1 and t4 tie for best.
    return pd.DataFrame({
        "trial_id": ["t0", "t1", "t2", "t3", "t4"],
        "trial_index": [0, 3, 1, 2, 4],
        "acc": [0.5, 0.9, np.nan, 0.7, 0.9],
        "param/lr": [1e-5, 1e-3, 1e-2, 1e-1, 1e-4],
        "param/opt": ["b", "a", None, "a", "b"],
        "param/bs": [16, 32, 32, 64, 16],
    })


def test_data_by_hand() -> None:
    d = _slice_data(trials(), metric="acc", mode="max")
    assert (d.metric, d.mode, d.color_label) == ("acc", "max", "trial order")
    assert d.trial_ids.tolist() == ["t0", "t1", "t3", "t4"]  # t2 has no score
    np.testing.assert_array_equal(d.y, [0.5, 0.9, 0.7, 0.9])
    np.testing.assert_array_equal(d.color, [0, 3, 2, 4])  # position by trial_index among all five
    assert d.best.tolist() == [False, True, False, True]
    lr, opt, bs = d.panels
    assert (lr.param, lr.log, lr.categorical) == ("lr", True, False)
    np.testing.assert_array_equal(lr.x, [1e-5, 1e-3, 1e-1, 1e-4])
    np.testing.assert_array_equal(lr.jitter, 0.0)
    assert (opt.param, opt.categorical, opt.levels) == ("opt", True, ("a", "b"))
    np.testing.assert_array_equal(opt.x, [1, 0, 0, 1])
    assert np.all(np.abs(opt.jitter) <= JITTER) and np.ptp(opt.jitter) > 0
    assert (bs.log, bs.categorical) == (False, False)
    np.testing.assert_array_equal(bs.x, [16, 32, 64, 16])


def test_data_options() -> None:
    d = _slice_data(trials(), metric="acc", mode="min", params=["opt"], color_by="metric")
    assert [p.param for p in d.panels] == ["opt"]
    assert d.best.tolist() == [True, False, False, False]  # 0.5 is best when smaller is better
    np.testing.assert_array_equal(d.color, d.y)
    assert d.color_label == "acc"
    same = _slice_data(trials(), metric="acc", params=["opt"], seed=0).panels[0].jitter
    other = _slice_data(trials(), metric="acc", params=["opt"], seed=1).panels[0].jitter
    np.testing.assert_array_equal(d.panels[0].jitter, same)  # the seed fixes the jitter
    assert not np.array_equal(same, other)


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="no parameter columns"):
        _slice_data(trials().drop(columns=["param/lr", "param/opt", "param/bs"]), metric="acc")
    with pytest.raises(ConfigurationError, match="no parameter 'nope'"):
        _slice_data(trials(), metric="acc", params=["nope"])
    with pytest.raises(ConfigurationError, match="color_by"):
        _slice_data(trials(), metric="acc", color_by="rainbow")
    with pytest.raises(ConfigurationError, match="no metric column 'f1'"):
        _slice_data(trials(), metric="f1")
    with pytest.raises(ConfigurationError, match="ncols"):
        plot_slice(trials(), metric="acc", ncols=0)


def test_drawing_labels_legend_and_png() -> None:
    with own_figure(plot_slice, trials(), metric="acc") as fig:
        panels, colorbar = fig.axes[:3], fig.axes[3]
        assert len(fig.axes) == 4
        assert [a.get_xlabel() for a in panels] == ["lr", "opt", "bs"]
        assert panels[0].get_ylabel() == "acc" and colorbar.get_ylabel() == "trial order"
        assert panels[0].get_xscale() == "log" and panels[2].get_xscale() == "linear"
        assert [t.get_text() for t in panels[1].get_xticklabels()] == ["a", "b"]
        assert [t.get_text() for t in panels[0].get_legend().get_texts()] == ["best"]
        points, best = panels[2].collections
        np.testing.assert_array_equal(points.get_offsets()[:, 1], [0.5, 0.9, 0.7, 0.9])
        np.testing.assert_array_equal(best.get_offsets(), [[32, 0.9], [16, 0.9]])
        assert fig._suptitle.get_text() == "Slice: acc (max) by parameter"


def test_given_axes_are_used_and_no_figure_is_made() -> None:
    with given_axes(1, 3) as (fig, axes):
        assert plot_slice(trials(), metric="acc", ax=axes) is fig
        assert [a.get_xlabel() for a in axes] == ["lr", "opt", "bs"]
        with pytest.raises(ConfigurationError, match="3 panels but 2 Axes"):
            plot_slice(trials(), metric="acc", ax=axes[:2])


def test_one_axes_is_split_into_the_panels() -> None:
    with given_axes() as (fig, ax):
        assert plot_slice(trials(), metric="acc", ax=ax) is fig and ax not in fig.axes
        assert sorted(a.get_xlabel() for a in fig.axes if a.get_xlabel()) == ["bs", "lr", "opt"]


def test_no_trial_draws_a_note_and_no_scored_trial_raises() -> None:
    with own_figure(plot_slice, trials().iloc[:0], metric="acc") as fig:
        assert all(a.texts[0].get_text() == "no trials" for a in fig.axes)
    with pytest.raises(ConfigurationError, match="'acc' .* has no finite value"):
        plot_slice(trials().assign(acc=np.nan), metric="acc")
        assert not any(a.collections for a in fig.axes)


def test_many_points_are_grouped_by_colour_level() -> None:
    rng = np.random.default_rng(0)
    n = RASTERIZE_FROM + 100
    with given_axes() as (_, ax):
        x, y, c = rng.random(n), rng.random(n), rng.random(n)
        mappable = colored_points(ax, x, y, c, vmin=0.0, vmax=1.0, size=4.0)
        assert not ax.collections and 1 < len(ax.lines) <= 64
        assert sum(len(line.get_xdata()) for line in ax.lines) == n  # every point drawn once
        assert all(line.get_rasterized() for line in ax.lines)
        assert mappable.norm.vmin == 0.0 and mappable.norm.vmax == 1.0
        # Each line holds points of one colour level, drawn in the level's colour.
        darkest = ax.lines[0]
        assert np.max(c[np.isin(x, darkest.get_xdata())]) < 1 / 64 + 1e-12


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    d = _slice_data(table, metric="acc")
    assert [p.param for p in d.panels] == ["learning_rate", "batch_size", "optimizer", "dropout", "weight_decay",
                                           "seed_offset"]
    assert [p.log for p in d.panels] == [True, False, False, False, True, False]
    assert d.panels[2].levels == ("adam", "rmsprop", "sgd")
    frame = ha.trials_to_pandas(table)
    assert len(d.y) == int(frame["acc"].notna().sum())
    assert d.trial_ids[d.best].tolist() == ha.best_trials(table, metric="acc")["trial_id"].tolist()
    with own_figure(plot_slice, table, metric="acc", png_dpi=50) as fig:
        assert len(fig.axes) == 7
