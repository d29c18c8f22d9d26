"""plot_param_importance: bars from a table or a param_importance frame, drawing lightly, no global state touched."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import hpo_analytics as ha
from _plots import given_axes, own_figure
from hpo_analytics.analysis import param_importance
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_param_importance
from hpo_analytics.plots.importance import _importance_data

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"


def importance_frame() -> pd.DataFrame:
    # Deliberately out of order, as a frame edited by hand might be.
    out = pd.DataFrame({
        "param": ["b", "a", "const", "c"],
        "importance": [0.25, 0.6, 0.0, 0.15],
        "ci_low": [0.1, 0.5, 0.0, 0.05],
        "ci_high": [0.4, 0.7, 0.0, 0.3],
        "rank": [2, 1, 4, 3],
        "rank_stability": [0.8, 1.0, 1.0, 0.8],
        "kind": ["numeric", "log", "constant", "categorical"],
    })
    out.attrs["hpo_analytics.analysis"] = {"metric": "acc", "mode": "max", "method": "binned", "n_trials": 40,
                                           "n_bootstrap": 200, "confidence": 0.9}
    return out


def trials() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    a, b, c = rng.random(50), rng.random(50), rng.random(50)
    return pd.DataFrame({"trial_id": [f"t{i}" for i in range(50)], "trial_index": range(50),
                         "acc": 4 * a + b, "param/a": a, "param/b": b, "param/c": c})


def test_data_from_a_frame_is_sorted_and_cut() -> None:
    d = _importance_data(importance_frame())
    assert d.params == ("a", "b", "c", "const")
    np.testing.assert_array_equal(d.importance, [0.6, 0.25, 0.15, 0.0])
    np.testing.assert_array_equal(d.ci_low, [0.5, 0.1, 0.05, 0.0])
    np.testing.assert_array_equal(d.ci_high, [0.7, 0.4, 0.3, 0.0])
    assert d.constant.tolist() == [False, False, False, True]
    assert (d.method, d.metric, d.n_trials, d.confidence) == ("binned", "acc", 40, 0.9)
    top = _importance_data(importance_frame(), top=2)
    assert top.params == ("a", "b")


def test_data_from_a_table_is_param_importance() -> None:
    d = _importance_data(trials(), metric="acc", method="spearman", n_bootstrap=20, seed=3)
    expected = param_importance(trials(), metric="acc", method="spearman", n_bootstrap=20, seed=3)
    assert d.params == tuple(expected["param"])
    np.testing.assert_array_equal(d.importance, expected["importance"])
    np.testing.assert_array_equal(d.ci_low, expected["ci_low"])
    np.testing.assert_array_equal(d.ci_high, expected["ci_high"])
    assert d.params[0] == "a" and d.method == "spearman" and d.n_trials == 50
    only = _importance_data(trials(), metric="acc", method="binned", params=["b", "c"])
    assert set(only.params) == {"b", "c"}


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="method, seed only apply"):
        _importance_data(importance_frame(), method="fanova", seed=1)
    with pytest.raises(ConfigurationError, match="no parameter columns"):
        _importance_data(trials().drop(columns=["param/a", "param/b", "param/c"]), metric="acc")
    with pytest.raises(ConfigurationError, match="method must be .auto. or one of"):
        _importance_data(trials(), metric="acc", method="shap")
    with pytest.raises(ConfigurationError, match="top"):
        _importance_data(importance_frame(), top=0)


def test_drawing_bars_intervals_and_png() -> None:
    with own_figure(plot_param_importance, importance_frame()) as ax:
        assert ax.get_title() == "Parameter importance (binned, for acc, 40 trials)"
        assert ax.get_xlabel() == "importance (share of explained variation)"
        heights = {t.get_text(): t.get_position()[1] for t in ax.get_yticklabels()}
        assert heights == {"a": 3, "b": 2, "c": 1, "const": 0}  # most important on top
        widths = [p.get_width() for p in ax.patches]
        assert widths == [0.6, 0.25, 0.15, 0.0]
        assert ax.patches[3].get_facecolor() != ax.patches[0].get_facecolor()  # the constant one is grey
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["90% interval"]
        assert [t.get_text() for t in ax.texts] == ["0.60", "0.25", "0.15", "0.00"]


def test_given_ax_is_used_and_no_figure_is_made() -> None:
    with given_axes() as (_, ax):
        assert plot_param_importance(trials(), metric="acc", method="binned", ax=ax) is ax
        assert "binned" in ax.get_title()


def test_empty_frame_draws_a_note() -> None:
    empty = importance_frame().iloc[:0]
    with own_figure(plot_param_importance, empty) as ax:
        assert [t.get_text() for t in ax.texts] == ["no parameters"] and not ax.patches


def test_not_estimable_importance_draws_its_reason_instead_of_zero_bars() -> None:
    few = trials().iloc[:8]  # fanova needs 20 scored trials
    with pytest.warns(ha.InsufficientDataWarning, match="needs at least 20"):
        frame = param_importance(few, metric="acc", method="fanova")
    assert frame["importance"].isna().all()
    for source, options in ((frame, {}), (few, {"metric": "acc", "method": "fanova"})):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ha.InsufficientDataWarning)
            with own_figure(plot_param_importance, source, **options) as ax:
                (note,) = [t.get_text() for t in ax.texts]
                assert note.startswith("importance not estimable: 8 scored trial(s)")
                assert "needs at least 20" in note.replace("\n", " ")
                assert not ax.patches


def test_a_single_nan_bar_reads_n_a() -> None:
    frame = importance_frame()
    frame.loc[frame["param"] == "c", ["importance", "ci_low", "ci_high"]] = np.nan
    with own_figure(plot_param_importance, frame) as ax:
        assert "n/a" in [t.get_text() for t in ax.texts]
        assert len(ax.patches) == 4


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    with own_figure(plot_param_importance, table, metric="acc", method="binned", png_dpi=50) as ax:
        top = max(ax.get_yticklabels(), key=lambda t: t.get_position()[1])
        assert top.get_text() == "learning_rate"  # the generator's strongest effect, on top
        assert len(ax.patches) == 6
