"""plot_optimization_history: the computed history by hand, drawing lightly, no global state touched."""

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
from hpo_analytics.plots import plot_optimization_history
from hpo_analytics.plots.history import _optimization_history_data

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"


def trials(scores: list[float], *, index: list[int] | None = None) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame({
        "trial_id": [f"t{i}" for i in range(n)],
        "trial_index": index if index is not None else list(range(n)),
        "acc": scores,
        "time_total_s": [10.0 * (n - i) for i in range(n)],
    })


def test_data_by_hand_with_ties_and_nan() -> None:
    # trial_index order differs from row order; t2 has no score; t1 and t4 tie for best
    frame = trials([0.5, 0.9, np.nan, 0.7, 0.9], index=[0, 3, 1, 2, 4])
    d = _optimization_history_data(frame, metric="acc", mode="max")
    assert d.trial_id.tolist() == ["t0", "t2", "t3", "t1", "t4"]
    np.testing.assert_array_equal(d.x, [0, 1, 2, 3, 4])
    np.testing.assert_array_equal(d.score, [0.5, np.nan, 0.7, 0.9, 0.9])
    np.testing.assert_array_equal(d.best_so_far, [0.5, 0.5, 0.7, 0.9, 0.9])
    assert d.is_best.tolist() == [False, False, False, True, True]
    assert d.n_unscored == 1 and d.xlabel == "trial_index" and (d.metric, d.mode) == ("acc", "max")


def test_data_min_mode_other_order_and_row_order_fallback() -> None:
    frame = trials([3.0, 1.0, 2.0])
    d = _optimization_history_data(frame, metric="acc", mode="min", order="time_total_s")
    assert d.trial_id.tolist() == ["t2", "t1", "t0"]  # time_total_s is 10, 20, 30 for t2, t1, t0
    np.testing.assert_array_equal(d.x, [10.0, 20.0, 30.0])
    np.testing.assert_array_equal(d.best_so_far, [2.0, 1.0, 1.0])
    assert d.is_best.tolist() == [False, True, False]
    no_index = frame.drop(columns=["trial_index"])
    d = _optimization_history_data(no_index, metric="acc", mode="max")
    assert d.xlabel == "trial (row order)" and d.x.tolist() == [0.0, 1.0, 2.0]
    assert "trial_index" not in no_index.columns  # the caller's frame is left alone


def test_drawing_labels_legend_and_png() -> None:
    with own_figure(plot_optimization_history, trials([0.5, 0.9, np.nan, 0.7, 0.9]), metric="acc") as ax:
        assert ax.get_title() == "Optimization history"
        assert ax.get_xlabel() == "trial_index" and ax.get_ylabel() == "acc (higher is better)"
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["trial score (1 without one not shown)", "best so far", "best trials (2 tied)"]
        assert len(ax.collections) == 2 and len(ax.lines) == 1
        star = ax.collections[1].get_offsets()
        np.testing.assert_array_equal(np.asarray(star), [[1, 0.9], [4, 0.9]])


def test_given_ax_is_used_and_no_figure_is_made() -> None:
    with given_axes() as (_, ax):
        assert plot_optimization_history(trials([1.0, 2.0]), metric="acc", ax=ax) is ax


def test_empty_and_unscored_draw_a_note_bad_input_raises() -> None:
    with own_figure(plot_optimization_history, trials([]), metric="acc") as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"]
    with pytest.raises(ConfigurationError, match="'acc' .* has no finite value in its 1 row"):
        plot_optimization_history(trials([np.nan]), metric="acc")
    with pytest.raises(ConfigurationError, match="no metric column 'nope'"):
        plot_optimization_history(trials([1.0]), metric="nope")
    with pytest.raises(ConfigurationError, match="numeric column"):
        plot_optimization_history(trials([1.0]).assign(s="x"), metric="acc", order="s")
    with pytest.raises(ConfigurationError, match="ax must be"):
        plot_optimization_history(trials([1.0]), metric="acc", ax="left")


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    d = _optimization_history_data(table, metric="acc")
    frame = ha.trials_to_pandas(table)
    assert len(d.score) == len(frame) == 300
    best_ids = set(ha.best_trials(table, metric="acc")["trial_id"])
    assert set(d.trial_id[d.is_best]) == best_ids
    assert np.nanmax(d.score) == d.best_so_far[-1]
    with own_figure(plot_optimization_history, table, metric="acc"):
        pass  # one figure, saved as PNG, global state untouched
