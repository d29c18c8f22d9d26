"""plot_contour: grids, cell means and kernel interpolation by hand, drawing lightly, no global state touched."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import QuadMesh
from matplotlib.contour import ContourSet

import hpo_analytics as ha
from _plots import given_axes, own_figure, save_png
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_contour
from hpo_analytics.plots.contour import MAX_POINTS, _contour_data

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
nan = np.nan


def frame(acc: list[float], **params: list) -> pd.DataFrame:
    data = {"trial_id": [f"t{i}" for i in range(len(acc))], "trial_index": range(len(acc)), "acc": acc}
    data.update({f"param/{k}": v for k, v in params.items()})
    return pd.DataFrame(data)


def values_and_category() -> pd.DataFrame:
    # t4's category is missing (own level <NA>), t5's number is missing, t6 has no score.
    return frame([1.0, 3.0, 5.0, 4.0, 6.0, 7.0, nan],
                 x=[1, 1, 2, 3, 3, nan, 2], c=["a", "a", "b", "a", None, "b", "b"])


def test_one_cell_per_value_and_per_level() -> None:
    d = _contour_data(values_and_category(), x="x", y="c", metric="acc")
    assert (d.x.param, d.x.categorical, d.x.log) == ("x", False, False)
    np.testing.assert_array_equal(d.x.centers, [1, 2, 3])
    np.testing.assert_array_equal(d.x.edges, [0.5, 1.5, 2.5, 3.5])
    assert d.y.categorical and d.y.levels == ("a", "b", "<NA>")
    np.testing.assert_array_equal(d.y.centers, [0, 1, 2])
    np.testing.assert_array_equal(d.y.edges, [-0.5, 0.5, 1.5, 2.5])
    np.testing.assert_array_equal(d.count, [[2, 0, 1], [0, 1, 0], [0, 0, 1]])  # rows: a, b, <NA>
    np.testing.assert_array_equal(d.z, [[2.0, nan, 4.0], [nan, 5.0, nan], [nan, nan, 6.0]])
    np.testing.assert_array_equal(d.x.points, [1, 1, 2, 3, 3, nan])
    np.testing.assert_array_equal(d.y.points, [0, 0, 1, 0, 2, 1])
    np.testing.assert_array_equal(d.score, [1, 3, 5, 4, 6, 7])
    assert d.best.tolist() == [False] * 5 + [True]  # drawn as a point even though it has no cell
    d_min = _contour_data(values_and_category(), x="x", y="c", metric="acc", mode="min")
    assert d_min.best.tolist() == [True] + [False] * 5


def linear_and_log() -> pd.DataFrame:
    return frame([1.0, 2.0, 3.0, 4.0], u=[0.0, 1.0, 3.0, 4.0], lr=[1e-4, 1e-1, 1e-3, 1.0])


def test_equal_width_bins_linear_and_log() -> None:
    d = _contour_data(linear_and_log(), x="u", y="lr", metric="acc", bins=2)
    np.testing.assert_array_equal(d.x.edges, [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(d.x.centers, [1.0, 3.0])
    np.testing.assert_array_equal(d.x.cell, [0, 0, 1, 1])  # the maximum falls in the last bin
    assert d.y.log and not d.x.log
    np.testing.assert_allclose(d.y.edges, [1e-4, 1e-2, 1.0])
    np.testing.assert_allclose(d.y.centers, [1e-3, 1e-1])
    np.testing.assert_array_equal(d.y.cell, [0, 1, 0, 1])
    np.testing.assert_array_equal(d.z, [[1.0, 3.0], [2.0, 4.0]])


def test_interpolate_by_hand() -> None:
    d = _contour_data(linear_and_log(), x="u", y="lr", metric="acc", bins=2, method="interpolate",
                      bandwidth=1.0)
    e = math.exp(-0.5)  # weight between the two cells of an axis (normalised distance 1, bandwidth 1)
    sums = np.array([[1.0, 3.0], [2.0, 4.0]])
    k = np.array([[1.0, e], [e, 1.0]])
    expected = (k @ sums @ k.T) / (1 + e) ** 2  # every cell holds one trial
    np.testing.assert_allclose(d.z, expected)
    assert d.z[0, 0] == pytest.approx((1 + 5 * e + 4 * e * e) / (1 + e) ** 2)


def test_interpolate_blanks_cells_far_from_trials() -> None:
    table = frame([1.0, 2.0, 3.0, 10.0], u=[0.0, 0.05, 0.1, 1.0], c=["a"] * 4)
    binned = _contour_data(table, x="u", y="c", metric="acc", bins=3)
    np.testing.assert_array_equal(binned.count, [[3, 0, 1]])
    np.testing.assert_array_equal(binned.z, [[2.0, nan, 10.0]])
    smooth = _contour_data(table, x="u", y="c", metric="acc", bins=3, method="interpolate", bandwidth=0.1)
    assert math.isnan(smooth.z[0, 1])  # nearest trials are 5 bandwidths away
    np.testing.assert_allclose(smooth.z[0, [0, 2]], [2.0, 10.0], rtol=1e-9)


def importance_table() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    a, b, c = rng.random(60), rng.random(60), rng.random(60)
    return frame(list(10 * a + 3 * b), c=list(c), a=list(a), b=list(b))


def test_default_pair_is_the_two_most_important() -> None:
    d = _contour_data(importance_table(), metric="acc")
    assert (d.x.param, d.y.param) == ("a", "b")
    d = _contour_data(importance_table(), metric="acc", x="b")
    assert (d.x.param, d.y.param) == ("b", "a")
    d = _contour_data(importance_table(), metric="acc", y="a")
    assert (d.x.param, d.y.param) == ("b", "a")
    flat = importance_table().assign(acc=1.0)  # nothing is important: the first two columns
    d = _contour_data(flat, metric="acc")
    assert (d.x.param, d.y.param) == ("c", "a")


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="needs two parameters; the table has 1"):
        _contour_data(frame([1.0, 2.0], u=[1.0, 2.0]), metric="acc")
    with pytest.raises(ConfigurationError, match="two different parameters"):
        _contour_data(linear_and_log(), x="u", y="param/u", metric="acc")
    with pytest.raises(ConfigurationError, match="method must be"):
        _contour_data(linear_and_log(), metric="acc", method="kriging")
    with pytest.raises(ConfigurationError, match="bandwidth"):
        _contour_data(linear_and_log(), metric="acc", bandwidth=0.0)
    with pytest.raises(ConfigurationError, match="no parameter 'w'"):
        _contour_data(linear_and_log(), x="w", y="u", metric="acc")
    with pytest.raises(ConfigurationError, match="bins"):
        _contour_data(linear_and_log(), x="u", y="lr", metric="acc", bins=0)
    with pytest.raises(ConfigurationError, match="levels"):
        plot_contour(linear_and_log(), x="u", y="lr", metric="acc", levels=1)


def test_drawing_contours_labels_and_png() -> None:
    with own_figure(plot_contour, linear_and_log(), x="u", y="lr", metric="acc", bins=2) as ax:
        assert ax.get_xlabel() == "u" and ax.get_ylabel() == "lr" and ax.get_yscale() == "log"
        assert ax.get_title() == "acc (max) over u and lr, binned"
        assert any(isinstance(c, ContourSet) for c in ax.collections)
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["trials", "best"]
        assert len(ax.figure.axes) == 2 and ax.figure.axes[1].get_ylabel() == "acc"  # the colorbar
        star = next(c for c in ax.collections if c.get_label() == "best")
        np.testing.assert_array_equal(star.get_offsets(), [[4.0, 1.0]])


def test_categories_draw_cells_on_a_given_ax() -> None:
    with given_axes() as (fig, ax):
        assert plot_contour(values_and_category(), x="x", y="c", metric="acc", ax=ax) is ax
        assert any(isinstance(c, QuadMesh) for c in ax.collections)
        assert not any(isinstance(c, ContourSet) for c in ax.collections)
        assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "<NA>"]
        save_png(fig)


def test_no_trial_draws_a_note_and_no_scored_trial_raises() -> None:
    with own_figure(plot_contour, linear_and_log().iloc[:0], x="u", y="lr", metric="acc") as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"]
    with pytest.raises(ConfigurationError, match="'acc' .* has no finite value"):
        plot_contour(linear_and_log().assign(acc=nan), x="u", y="lr", metric="acc")
        assert not ax.collections


def test_many_trials_draw_a_sample_of_points() -> None:
    rng = np.random.default_rng(0)
    n = MAX_POINTS + 500
    table = frame(list(rng.random(n)), u=list(rng.random(n)), v=list(rng.random(n)))
    with own_figure(plot_contour, table, x="u", y="v", metric="acc", points=True) as ax:
        dots = next(c for c in ax.collections if c.get_label().startswith("trials"))
        assert len(dots.get_offsets()) == MAX_POINTS
        assert dots.get_label() == f"trials ({MAX_POINTS:,} of {n:,})"


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    d = _contour_data(table, metric="acc")
    # The generator's two strongest effects (see hpo_analytics.simulator.synthetic).
    assert {d.x.param, d.y.param} == {"learning_rate", "optimizer"}
    assert int(d.count.sum()) == int(ha.trials_to_pandas(table)["acc"].notna().sum())
    with own_figure(plot_contour, table, x="learning_rate", y="dropout", metric="acc", method="interpolate",
                    png_dpi=50) as ax:
        assert ax.get_xscale() == "log"
