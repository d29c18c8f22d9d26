"""plot_learning_curves: points, top-k, stops and the density raster by hand; drawing lightly; global state."""

from __future__ import annotations

import itertools
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection
from matplotlib.colors import to_rgb

import hpo_analytics as ha
from _plots import given_axes, own_figure
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_learning_curves
from hpo_analytics.plots._common import MASS_COLOR
from hpo_analytics.plots._raster import DENSE_COLOR, LONE_ALPHA, density_rgba, grid_values, segment_density
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
    bt = backtest(curves, {"m": MedianStoppingRule(min_samples=1, grace_period=0)}, metric="acc", mode="max",
                  concurrency=1)
    d = _learning_curves_data(curves, metric="acc", top_k=1, stopped=bt.attrs["stop_step"]["m"])
    assert d.stop_ids.tolist() == ["b"] and d.stop_x.tolist() == [1.0] and d.stop_y.tolist() == [4.0]


def test_alpha_falls_with_the_number_of_curves() -> None:
    assert _mass_alpha(10) == pytest.approx(0.7)
    assert _mass_alpha(100) == pytest.approx(0.25)
    assert _mass_alpha(10_000) == pytest.approx(0.005)


def test_drawing_one_collection_legend_of_top_k_only() -> None:
    with own_figure(plot_learning_curves, HAND, metric="acc", top_k=2, stopped={"a": 2}) as ax:
        collections = [c for c in ax.collections if isinstance(c, LineCollection)]
        assert len(collections) == 1 and len(collections[0].get_segments()) == 2
        assert collections[0].get_rasterized()
        assert len(ax.lines) == 2
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels == ["other trials (2)", "b (acc=0.9)", "c (acc=0.6)", "stopped (1)"]
        assert ax.get_xlabel() == "training_iteration" and ax.get_ylabel() == "acc (higher is better)"
        assert ax.get_title() == "Learning curves (4 trials; top 2 by acc)"
        assert ax.get_ylim()[0] <= 0.1 and ax.get_ylim()[1] >= 0.9


def test_given_ax_no_new_figure_and_empty_note() -> None:
    with given_axes() as (_, ax):
        assert plot_learning_curves(HAND, metric="acc", ax=ax) is ax
    with own_figure(plot_learning_curves, HAND.iloc[:0], metric="acc") as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"]


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
    with own_figure(plot_learning_curves, curves, metric="acc") as ax:
        assert len(ax.get_legend().get_texts()) == 6


# ---------------------------------------------------------------------------------------------- the density raster

X5 = np.arange(5.0)  # steps 0..4


def density(y, *, shape, x=X5, extent=(0.0, 4.0, 0.0, 1.0), **kw):
    return segment_density(x, np.asarray(y, dtype=float), extent=extent, shape=shape, **kw)


def test_density_flat_line_fills_one_row() -> None:
    count = density([[0.3] * 5], shape=(4, 8))  # rows of height 0.25: 0.3 is in row 1
    expected = np.zeros((4, 8), dtype=int)
    expected[1] = 1  # every column once, also those where two segments meet (x = 1, 2, 3 are edges)
    np.testing.assert_array_equal(count, expected)
    assert count.dtype == np.int64
    # the extent is closed at both ends: the data's minimum is in the bottom row, its maximum in the top one
    np.testing.assert_array_equal(density([[0.0] * 5, [1.0] * 5], shape=(2, 3)), [[1, 1, 1], [1, 1, 1]])
    # a curve starting or ending exactly on a column edge does not reach into the column beyond it
    count = segment_density(np.array([1.0, 2.0]), np.array([[0.3, 0.3]]), extent=(0, 3, 0, 1), shape=(1, 3))
    np.testing.assert_array_equal(count, [[0, 1, 0]])


def test_density_two_crossing_lines_by_hand() -> None:
    # A rises 0.1 -> 0.8 over x 0..4 (0.275, 0.45, 0.625 at the column edges), B falls the other way;
    # they cross at (2, 0.45), in row 1 of columns 1 and 2
    up = np.linspace(0.1, 0.8, 5)
    count = density([up, up[::-1]], shape=(4, 4))
    np.testing.assert_array_equal(count, [[1, 0, 0, 1],   # row 0 (bottom): y in [0, 0.25)
                                          [1, 2, 2, 1],
                                          [1, 1, 1, 1],
                                          [1, 0, 0, 1]])  # row 3 (top): y in [0.75, 1]


def test_density_nan_gap_leaves_a_hole_and_lone_points_are_not_drawn() -> None:
    count = density([[0.3, 0.3, nan, 0.3, 0.3]], shape=(4, 8))
    np.testing.assert_array_equal(count[1], [1, 1, 0, 0, 0, 0, 1, 1])  # no segment touches x in (1, 3)
    assert count.sum() == 4
    # a finite point with no finite neighbour draws nothing (as in matplotlib); inf breaks a line like NaN
    np.testing.assert_array_equal(density([[0.3, nan, 0.6, np.inf, 0.9]], shape=(4, 8)), np.zeros((4, 8)))


def test_density_steep_segments_stay_solid_and_peaks_count_once() -> None:
    # one column, a peak inside it: the curve touches every row once (not twice near the peak)
    count = segment_density(np.array([0.0, 1.0, 2.0]), np.array([[0.05, 0.95, 0.05]]), extent=(0, 2, 0, 1),
                            shape=(4, 1))
    np.testing.assert_array_equal(count, [[1], [1], [1], [1]])
    # a jump from 0.05 to 0.95 within one of four columns fills that column from row 0 to row 3
    count = segment_density(np.array([0.0, 1.0, 4.0]), np.array([[0.05, 0.95, 0.95]]), extent=(0, 4, 0, 1),
                            shape=(4, 4))
    np.testing.assert_array_equal(count, [[1, 0, 0, 0], [1, 0, 0, 0], [1, 0, 0, 0], [1, 1, 1, 1]])


def test_density_matches_densely_sampled_lines() -> None:
    # random curves (gaps at the ends and inside), steps and extents (also narrower than the data):
    # the grid equals the cells that points sampled densely along every drawn segment fall in
    rng = np.random.default_rng(7)
    for _ in range(40):
        m, n = int(rng.integers(2, 8)), int(rng.integers(1, 4))
        x = np.sort(rng.uniform(0, 10, m))
        y = rng.uniform(0, 1, (n, m))
        y[rng.random((n, m)) < 0.15] = nan
        rows, cols = int(rng.integers(1, 9)), int(rng.integers(1, 12))
        x0, x1 = x[0] + rng.uniform(-1, 1), x[-1] + rng.uniform(-1, 1)
        y0, y1 = rng.uniform(-0.2, 0.4), rng.uniform(0.6, 1.2)
        if x1 <= x0:
            continue
        want = np.zeros((rows, cols), dtype=int)
        for curve in y:
            cells = set()
            for j in range(m - 1):
                if np.isfinite(curve[j]) and np.isfinite(curve[j + 1]):
                    t = np.linspace(0, 1, 4001)
                    c = np.floor((x[j] + t * (x[j + 1] - x[j]) - x0) / (x1 - x0) * cols).astype(int)
                    r = np.floor((curve[j] + t * (curve[j + 1] - curve[j]) - y0) / (y1 - y0) * rows).astype(int)
                    ok = (c >= 0) & (c < cols) & (r >= 0) & (r < rows)
                    cells |= set(zip(r[ok].tolist(), c[ok].tolist()))
            # a gap narrower than one column is filled in that column (documented): compare elsewhere
            for r, c in cells:
                want[r, c] += 1
        got = segment_density(x, y, extent=(x0, x1, y0, y1), shape=(rows, cols))
        gap_cols = set()
        for curve in y:
            finite = np.flatnonzero(np.isfinite(curve))
            for a, b in itertools.pairwise(finite):
                if b > a + 1:  # a gap between x[a] and x[b]
                    lo, hi = np.floor((x[[a, b]] - x0) / (x1 - x0) * cols).astype(int)
                    if lo == hi:
                        gap_cols.add(int(lo))
        keep = [c for c in range(cols) if c not in gap_cols]
        np.testing.assert_array_equal(got[:, keep], want[:, keep])


def test_density_chunks_bounds_and_errors() -> None:
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 1, (50, 5))
    y[rng.random(y.shape) < 0.2] = nan
    one = density(y, shape=(30, 40))
    np.testing.assert_array_equal(one, density(y, shape=(30, 40), chunk=7))
    # a curve entirely outside the extent adds nothing; one through it only its visible part
    np.testing.assert_array_equal(density([[2.0] * 5, [-1.0] * 5], shape=(2, 2)), np.zeros((2, 2)))
    np.testing.assert_array_equal(density([[-1.0, 2.0, 2.0, 2.0, 2.0]], shape=(2, 4)), [[1, 0, 0, 0], [1, 0, 0, 0]])
    assert density(np.zeros((0, 5)), shape=(2, 2)).sum() == 0
    with pytest.raises(ConfigurationError, match="y must be"):
        density([[0.1, 0.2]], shape=(2, 2))
    with pytest.raises(ConfigurationError, match="grid needs"):
        density([[0.1] * 5], shape=(0, 2))
    with pytest.raises(ConfigurationError, match="grid needs"):
        density([[0.1] * 5], shape=(2, 2), extent=(1.0, 1.0, 0.0, 1.0))
    with pytest.raises(ConfigurationError, match="increasing"):
        density([[0.1] * 5], shape=(2, 2), x=np.array([0.0, 2.0, 1.0, 3.0, 4.0]))


def test_grid_values_put_skipped_steps_on_the_line() -> None:
    d = _learning_curves_data(HAND, metric="acc", top_k=0)
    np.testing.assert_array_equal(d.steps, [1.0, 2.0, 3.0])
    np.testing.assert_allclose(grid_values(d.mass, d.steps),
                               [[0.1, 0.2, 0.3], [0.5, 0.7, 0.9], [0.4, nan, 0.6], [0.2, 0.25, nan]])


def test_density_colours() -> None:
    rgba = density_rgba(np.array([[0, 1, 4, 9]]))
    assert rgba[0, 0, 3] == 0.0  # nothing: transparent
    np.testing.assert_allclose(rgba[0, 1], [*to_rgb(MASS_COLOR), LONE_ALPHA])  # one curve: faint but there
    np.testing.assert_allclose(rgba[0, 3], [*to_rgb(DENSE_COLOR), 1.0])  # the densest cell: opaque
    assert LONE_ALPHA < rgba[0, 2, 3] < 1.0
    assert rgba[0, 2, 3] == pytest.approx(LONE_ALPHA + (1 - LONE_ALPHA) * np.sqrt(3 / 8))  # square-root scale


def many_curves(n: int, steps: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    ids = np.repeat([f"t{i:05d}" for i in range(n)], steps)
    acc = (rng.uniform(0.2, 0.8, (n, 1)) + np.linspace(0, 0.1, steps)[None, :]).ravel()
    return pd.DataFrame({"trial_id": ids, "training_iteration": np.tile(np.arange(1, steps + 1), n), "acc": acc})


def mass_of(ax):
    return ax.images, [c for c in ax.collections if isinstance(c, LineCollection)]


def test_above_the_threshold_the_mass_is_a_raster() -> None:
    curves = many_curves(2001)
    with own_figure(plot_learning_curves, curves, metric="acc", top_k=3, stopped={"t00000": 2}) as ax:
        images, lines = mass_of(ax)
        assert len(images) == 1 and not lines and len(ax.lines) == 3
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels[0] == "other trials (1998)" and labels[-1] == "stopped (1)" and len(labels) == 5
        image = images[0]
        assert image.origin == "lower" and image.get_interpolation() == "nearest"
        d = _learning_curves_data(curves, metric="acc", top_k=3)
        x0, x1, y0, y1 = image.get_extent()
        pts = d.mass.reshape(-1, 2)
        assert (x0, x1) == (1.0, 3.0) and (y0, y1) == (np.nanmin(pts[:, 1]), np.nanmax(pts[:, 1]))
        # one cell per screen pixel of that range; every cell some curve crosses is drawn, no other
        (px0, py0), (px1, py1) = ax.transData.transform([(x0, y0), (x1, y1)])
        data = image.get_array()
        assert data.shape[:2] == (int(np.ceil(py1 - py0 - 1e-9)), int(np.ceil(px1 - px0 - 1e-9)))
        count = segment_density(d.steps, grid_values(d.mass, d.steps), extent=(x0, x1, y0, y1),
                                shape=data.shape[:2])
        np.testing.assert_array_equal(data[..., 3] > 0, count > 0)
        limits = ax.get_xlim(), ax.get_ylim()
    # the limits are the curves' own (with the usual margins), as with the LineCollection
    with own_figure(plot_learning_curves, curves, metric="acc", top_k=3, density=False) as ax:
        images, lines = mass_of(ax)
        assert not images and len(lines) == 1
        np.testing.assert_allclose((ax.get_xlim(), ax.get_ylim()), limits)


def test_threshold_and_forcing() -> None:
    def drawn(**kw):
        with own_figure(plot_learning_curves, HAND, metric="acc", top_k=1, **kw) as ax:
            images, lines = mass_of(ax)
            return ("raster" if images else "") + ("lines" if lines else ""), len(ax.lines)

    assert drawn() == ("lines", 1)  # 4 curves: at or below the default threshold
    assert drawn(density_threshold=4) == ("lines", 1)
    assert drawn(density_threshold=3) == ("raster", 1)  # the threshold counts all curves, top ones too
    assert drawn(density=True) == ("raster", 1)
    assert drawn(density=False, density_threshold=0) == ("lines", 1)
    with pytest.raises(ConfigurationError, match="density must be"):
        plot_learning_curves(HAND, metric="acc", density="auto")
    with pytest.raises(ConfigurationError, match="density_threshold"):
        plot_learning_curves(HAND, metric="acc", density_threshold=-1)


def test_log_axes_keep_the_line_collection() -> None:
    with given_axes() as (_, ax):
        ax.set_yscale("log")
        plot_learning_curves(HAND, metric="acc", top_k=1, density_threshold=0, ax=ax)
        images, lines = mass_of(ax)
        assert not images and len(lines) == 1  # the raster is binned in linear data units
        with pytest.raises(ConfigurationError, match="linear axes.*'log'"):
            plot_learning_curves(HAND, metric="acc", density=True, ax=ax)
