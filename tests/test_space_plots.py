"""Plots, marginals and importance take their scales from the declared search space, checked on the axes.

A small table is built by hand with a declared space in its metadata:
``batch_size`` discrete ``16..256`` (drawn as ordered categories, every
declared value a tick, never a tick at 136), ``lr`` continuous over four
decades but sampled uniformly (log because declared so wide, though the
values alone would read linear), ``dropout`` continuous ``[0, 0.6]`` (the
bounds are the axis limits), ``optimizer`` discrete in declared order. The
same table without the space falls back to the inference from the values.
Values outside the space are flagged with a ``SpaceWarning`` and not drawn.
"""

from __future__ import annotations

import json
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402
import pytest  # noqa: E402

from hpo_analytics import plots  # noqa: E402
from hpo_analytics._frames import as_frame, encode_param, param_scale  # noqa: E402
from hpo_analytics._space import METADATA_SPACE, SearchSpace  # noqa: E402
from hpo_analytics.analysis import marginals, param_importance  # noqa: E402
from hpo_analytics.errors import SpaceWarning  # noqa: E402

SEARCH_PARAMS = [
    {"name": "batch_size", "param_type": "discrete", "lower_bound": "", "upper_bound": "",
     "discrete_points_num": "5", "discrete_values": ["256", "16", "64", "32", "128"]},  # numeric order wins
    {"name": "lr", "param_type": "continuous", "lower_bound": "0.0001", "upper_bound": "1"},
    {"name": "dropout", "param_type": "continuous", "lower_bound": "0.0", "upper_bound": "0.6"},
    {"name": "optimizer", "param_type": "discrete", "discrete_values": ["sgd", "adam", "rmsprop"]},
]
SPACE = SearchSpace.from_details({"algorithm": {"policies": {"auto_search": {"search_params": SEARCH_PARAMS}}}})
BATCHES = ["16", "32", "64", "128", "256"]


def _table(n: int = 60, *, space: bool = True, seed: int = 0, **overrides: list) -> pa.Table:
    rng = np.random.default_rng(seed)
    columns = {
        "trial_id": [f"t{i:03d}" for i in range(n)],
        "trial_index": list(range(n)),
        "status": ["TERMINATED"] * n,
        # 256 never tried: its tick is there all the same
        "param/batch_size": [int(v) for v in rng.choice([16, 32, 64, 128], n)],
        "param/lr": rng.uniform(0.001, 0.8, n).tolist(),  # uniform: the values alone read linear
        "param/dropout": rng.uniform(0.1, 0.3, n).tolist(),  # the middle of [0, 0.6] only
        "param/optimizer": [str(v) for v in rng.choice(["adam", "sgd", "rmsprop"], n)],
    }
    columns.update(overrides)
    acc = 0.5 + 0.3 * np.asarray(columns["param/dropout"], dtype=float) + rng.normal(0, 0.02, n)
    columns["acc"] = acc.tolist()
    meta = {b"hpo_analytics.metric": b"acc", b"hpo_analytics.mode": b"max", b"hpo_analytics.table": b"trials"}
    if space:
        meta[METADATA_SPACE] = SPACE.to_json().encode()
    return pa.table(columns).replace_schema_metadata(meta)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _panels(fig) -> dict[str, object]:
    return {ax.get_xlabel(): ax for ax in fig.axes if ax.get_xlabel()}


def _ticks(ax, axis: str = "x") -> list[str]:
    labels = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [t.get_text() for t in labels]


def test_the_scale_decision_declared_and_inferred() -> None:
    declared, inferred = as_frame(_table()), as_frame(_table(space=False))
    bs = param_scale(declared, "param/batch_size")
    assert bs.categorical and bs.declared and bs.levels == (16, 32, 64, 128, 256) and bs.labels == tuple(BATCHES)
    assert param_scale(inferred, "param/batch_size").kind == "linear"  # today's inference: a number
    lr = param_scale(declared, "param/lr")
    assert lr.log and lr.limits == (0.0001, 1.0)
    assert param_scale(inferred, "param/lr").kind == "linear" and param_scale(inferred, "param/lr").limits is None
    assert param_scale(declared, "param/dropout").kind == "linear"
    assert param_scale(declared, "param/optimizer").labels == ("sgd", "adam", "rmsprop")  # the declared order
    assert param_scale(inferred, "param/optimizer").labels == ("adam", "rmsprop", "sgd")  # sorted
    # declared log=False wins over two decades; a declared log range that reaches zero cannot be log
    flat = SearchSpace.from_json(json.dumps([{"name": "lr", "kind": "continuous", "low": 1e-4, "high": 1.0,
                                              "log": False}, {"name": "dropout", "kind": "continuous",
                                                              "low": 0.0, "high": 0.6, "log": True}]))
    assert param_scale(declared, "param/lr", space=flat).kind == "linear"
    assert param_scale(declared, "param/dropout", space=flat).kind == "linear"
    # encoding over the declared bounds: dropout sampled in [0.1, 0.3] of [0, 0.6] stays in the middle third
    enc = encode_param(declared["param/dropout"], scale=param_scale(declared, "param/dropout"))
    assert 0.16 < enc.values.min() and enc.values.max() < 0.51


def test_slice_axes_use_the_declared_space() -> None:
    fig = plots.plot_slice(_table())
    p = _panels(fig)
    assert _ticks(p["batch_size"]) == BATCHES  # no tick at 136
    assert p["batch_size"].get_xlim() == (-0.5, 4.5)
    assert p["lr"].get_xscale() == "log" and p["lr"].get_xlim() == pytest.approx((1e-4, 1.0))
    assert p["dropout"].get_xscale() == "linear" and p["dropout"].get_xlim() == pytest.approx((0.0, 0.6))
    assert _ticks(p["optimizer"]) == ["sgd", "adam", "rmsprop"]


def test_slice_falls_back_to_inference_without_a_space() -> None:
    p = _panels(plots.plot_slice(_table(space=False)))
    assert p["lr"].get_xscale() == "linear" and p["batch_size"].get_xscale() == "linear"
    assert _ticks(p["batch_size"]) != BATCHES  # matplotlib's numeric ticks
    low, high = p["dropout"].get_xlim()
    assert low > 0.05 and high < 0.35  # the data's range, not the bounds
    assert _ticks(p["optimizer"]) == ["adam", "rmsprop", "sgd"]


def test_marginals_use_the_declared_values_bounds_and_scale() -> None:
    table = _table()
    bs = marginals(table, "batch_size", n_bootstrap=10)
    assert bs["value"].tolist() == [16, 32, 64, 128, 256] and bs["count"].tolist()[-1] == 0
    info = bs.attrs["hpo_analytics.analysis"]
    assert info["categorical"] and info["declared"] and info["labels"] == tuple(BATCHES)
    lr = marginals(table, "lr", n_bootstrap=10)
    assert lr.attrs["hpo_analytics.analysis"]["log"]
    assert lr["low"].iloc[0] == pytest.approx(1e-4) and lr["high"].iloc[-1] == pytest.approx(1.0)
    drop = marginals(table, "dropout", n_bootstrap=10)
    assert drop["low"].iloc[0] == 0.0 and drop["high"].iloc[-1] == pytest.approx(0.6)
    assert drop["count"].iloc[0] == 0 and drop["count"].iloc[-1] == 0  # the unexplored ends show as gaps
    undeclared = marginals(_table(space=False), "lr", n_bootstrap=10)
    assert not undeclared.attrs["hpo_analytics.analysis"]["log"]

    fig = plots.plot_marginals(table, n_bootstrap=10)
    p = _panels(fig)
    assert _ticks(p["batch_size"]) == BATCHES
    assert p["lr"].get_xscale() == "log" and p["lr"].get_xlim() == pytest.approx((1e-4, 1.0))
    assert p["dropout"].get_xlim() == pytest.approx((0.0, 0.6))
    assert _ticks(p["optimizer"]) == ["sgd", "adam", "rmsprop"]


def test_contour_axes_use_the_declared_space() -> None:
    ax = plots.plot_contour(_table(), x="lr", y="dropout")
    assert ax.get_xscale() == "log" and ax.get_xlim() == pytest.approx((1e-4, 1.0))
    assert ax.get_yscale() == "linear" and ax.get_ylim() == pytest.approx((0.0, 0.6))
    ax = plots.plot_contour(_table(), x="batch_size", y="optimizer")
    assert _ticks(ax) == BATCHES and _ticks(ax, "y") == ["sgd", "adam", "rmsprop"]
    plain = plots.plot_contour(_table(space=False), x="lr", y="dropout")
    assert plain.get_xscale() == "linear" and plain.get_ylim()[0] > 0.05


def test_parallel_coordinates_use_the_declared_space() -> None:
    from hpo_analytics.plots.parallel import _parallel_coordinates_data

    data = _parallel_coordinates_data(_table())
    axes = {a.label: a for a in data.axes}
    assert axes["batch_size"].kind == "categorical" and axes["batch_size"].tick_labels == tuple(BATCHES)
    assert axes["lr"].kind == "log" and axes["lr"].tick_labels == ("1e-4", "1e-3", "1e-2", "1e-1", "1e0")
    assert axes["dropout"].tick_labels == ("0", "0.3", "0.6")
    assert axes["optimizer"].tick_labels == ("sgd", "adam", "rmsprop")
    plain = {a.label: a for a in _parallel_coordinates_data(_table(space=False)).axes}
    assert plain["lr"].kind == "linear" and plain["batch_size"].kind == "linear"
    ax = plots.plot_parallel_coordinates(_table())
    assert "lr\n(log)" in _ticks(ax)


def test_importance_encodes_by_the_declared_space() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        declared = param_importance(_table(), method="binned", n_bootstrap=5)
        plain = param_importance(_table(space=False), method="binned", n_bootstrap=5)
    kinds = dict(zip(declared["param"], declared["kind"]))
    assert kinds == {"batch_size": "categorical", "lr": "log", "dropout": "numeric", "optimizer": "categorical"}
    assert dict(zip(plain["param"], plain["kind"]))["batch_size"] == "numeric"
    assert declared["param"].iloc[0] == "dropout" == plain["param"].iloc[0]  # the effect is found either way


def test_values_outside_the_space_are_flagged_and_not_plotted() -> None:
    n = 60
    batch = [16] * n
    batch[7] = batch[9] = 512
    dropout = list(np.linspace(0.1, 0.3, n))
    dropout[3] = 0.9
    table = _table(n, **{"param/batch_size": batch, "param/dropout": dropout})
    with pytest.warns(SpaceWarning) as caught:
        data = plots.slice._slice_data(table)
    messages = [str(w.message) for w in caught]
    assert any("'batch_size': 2 trial(s)" in m and "'t007'" in m and "512" in m for m in messages), messages
    assert any("'dropout': 1 trial(s)" in m and "'t003'" in m and "0.9" in m for m in messages), messages
    panels = {p.param: p for p in data.panels}
    assert np.isnan(panels["batch_size"].x[[7, 9]]).all() and np.isfinite(panels["batch_size"].x[:7]).all()
    assert np.isnan(panels["dropout"].x[3]) and np.isfinite(np.delete(panels["dropout"].x, 3)).all()

    with pytest.warns(SpaceWarning):
        fig = plots.plot_slice(table)
    drop = _panels(fig)["dropout"]
    drawn = np.concatenate([c.get_offsets()[:, 0] for c in drop.collections])
    assert drawn.size and np.nanmax(drawn) <= 0.6

    with pytest.warns(SpaceWarning, match="'dropout'"):
        m = marginals(table, "dropout", n_bootstrap=5)
    assert int(m["count"].sum()) == n - 1

    from hpo_analytics.plots.parallel import _parallel_coordinates_data

    with pytest.warns(SpaceWarning):
        pc = _parallel_coordinates_data(table)
    assert pc.n_outside == 3 and len(pc.trial_ids) == n - 3
    assert not {"t003", "t007", "t009"} & set(pc.trial_ids)
    with pytest.warns(SpaceWarning):
        ax = plots.plot_parallel_coordinates(table)
    assert "3 outside the declared space not shown" in ax.get_title()


def test_a_missing_value_is_not_outside_and_strings_match_declared_text() -> None:
    n = 20
    opt = ["adam", "SGD", None, "rmsprop"] * (n // 4)
    table = _table(n, **{"param/optimizer": opt})
    frame = as_frame(table)
    with pytest.warns(SpaceWarning, match=r"'optimizer': 5 trial\(s\).*'SGD'"):
        scale = param_scale(frame, "param/optimizer")
    assert scale.labels == ("sgd", "adam", "rmsprop", "<NA>")
    assert scale.codes[:4].tolist() == [1, -1, 3, 2] and int(scale.outside.sum()) == 5


def test_booleans_floats_and_numbers_as_text_match_their_declared_values() -> None:
    space = SearchSpace.from_json(json.dumps([
        {"name": "flag", "kind": "discrete", "values": ["true", "false"]},
        {"name": "rate", "kind": "discrete", "values": ["1e-2", "1e-3", "0.1"]},
        {"name": "width", "kind": "discrete", "values": ["64", "8", "16"]},
    ]))
    frame = as_frame(pa.table({"trial_id": ["a", "b", "c"], "param/flag": [True, False, True],
                               "param/rate": [0.001, 0.1, 0.01], "param/width": ["8", "64", "16"]}))
    flag = param_scale(frame, "param/flag", space=space)
    assert flag.labels == ("true", "false") and flag.codes.tolist() == [0, 1, 0] and not flag.outside.any()
    rate = param_scale(frame, "param/rate", space=space)
    assert rate.labels == ("1e-3", "1e-2", "0.1") and rate.levels == (0.001, 0.01, 0.1)  # as written, in order
    assert rate.codes.tolist() == [0, 2, 1]
    width = param_scale(frame, "param/width", space=space)
    assert width.labels == ("8", "16", "64") and width.codes.tolist() == [0, 2, 1]
