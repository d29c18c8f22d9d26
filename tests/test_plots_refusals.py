"""Issue #12: every plot that draws a metric refuses one it cannot score, before making a figure.

A text, boolean or list column, or a numeric one without a finite value,
used to draw as an empty "no trial has a score" plot (or as nothing at all);
now the plot raises ConfigurationError naming the column and its type. An
empty table still draws its "no trials" note. (plot_status and
plot_backtest draw no metric.)
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import hpo_analytics as ha
from _plots import own_figure
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import (
    plot_contour,
    plot_edf,
    plot_learning_curves,
    plot_marginals,
    plot_optimization_history,
    plot_parallel_coordinates,
    plot_param_importance,
    plot_pareto_front,
    plot_slice,
    plot_stop_decisions,
)
from hpo_analytics.plots.curves import _learning_curves_data
from test_analysis_refusals import BAD, TABLE, type_name

TRIAL_PLOTS: dict[str, Callable[[Any, str], Any]] = {
    "plot_optimization_history": lambda t, m: plot_optimization_history(t, metric=m),
    "plot_parallel_coordinates": lambda t, m: plot_parallel_coordinates(t, metric=m),
    "plot_slice": lambda t, m: plot_slice(t, metric=m),
    "plot_contour": lambda t, m: plot_contour(t, metric=m),
    "plot_param_importance": lambda t, m: plot_param_importance(t, metric=m, n_bootstrap=2),
    "plot_marginals": lambda t, m: plot_marginals(t, metric=m, n_bootstrap=2),
    "plot_edf": lambda t, m: plot_edf(t, metric=m),
    "plot_edf (several jobs)": lambda t, m: plot_edf({"a": t, "b": t}, metric=m),
    "plot_pareto_front (metric)": lambda t, m: plot_pareto_front(t, metric=m),
    "plot_pareto_front (metrics)": lambda t, m: plot_pareto_front(t, metrics={"loss": "min", m: "max"}),
}


def curve_table() -> pa.Table:
    """Two trials of three reports with a numeric ``acc`` and one column of each unscorable kind."""
    n = 6
    return pa.table({
        "trial_id": ["t0"] * 3 + ["t1"] * 3,
        "trial_index": pa.array([0] * 3 + [1] * 3, pa.int64()),
        "training_iteration": pa.array([1, 2, 3] * 2, pa.int64()),
        "acc": [0.1, 0.2, 0.3, 0.2, 0.4, 0.5],
        "status": ["RUNNING"] * n,
        "flag": [True, False] * 3,
        "vec": pa.array([[0.1, 0.2]] * n, pa.list_(pa.float64())),
        "nanm": [float("nan")] * n,
        "blank": pa.array([None] * n, pa.float64()),
    })


CURVES = curve_table()
NO_DECISIONS = pd.DataFrame({"trial_id": pd.Series([], dtype=object), "stop": pd.Series([], dtype=bool),
                             "step": pd.Series([], dtype=float), "value": pd.Series([], dtype=float),
                             "reference": pd.Series([], dtype=float), "reason": pd.Series([], dtype=object)})

CURVE_PLOTS: dict[str, Callable[[Any, str], Any]] = {
    "plot_learning_curves": lambda c, m: plot_learning_curves(c, metric=m),
    "plot_stop_decisions": lambda c, m: plot_stop_decisions(c, decisions=NO_DECISIONS, metric=m),
}


def assert_refused(plot: Callable[[Any, str], Any], table: Any, column: str) -> None:
    figures = len(plt.get_fignums())
    with pytest.raises(ConfigurationError) as info:
        plot(table, column)
    message = str(info.value)
    assert f"metric column {column!r}" in message and type_name(table, column) in message
    numeric = pa.types.is_floating(table[column].type) if isinstance(table, pa.Table) \
        else pd.api.types.is_float_dtype(table[column].dtype)
    assert ("no finite value" in message) == numeric
    assert len(plt.get_fignums()) == figures, "a refused plot should not leave a figure behind"


@pytest.mark.parametrize("as_pandas", [False, True], ids=["arrow", "pandas"])
@pytest.mark.parametrize("column", BAD)
@pytest.mark.parametrize("name", list(TRIAL_PLOTS))
def test_trial_plots_refuse_an_unscorable_metric(name: str, column: str, as_pandas: bool) -> None:
    assert_refused(TRIAL_PLOTS[name], ha.trials_to_pandas(TABLE) if as_pandas else TABLE, column)


@pytest.mark.parametrize("as_pandas", [False, True], ids=["arrow", "pandas"])
@pytest.mark.parametrize("column", BAD)
@pytest.mark.parametrize("name", list(CURVE_PLOTS))
def test_curve_plots_refuse_an_unscorable_metric(name: str, column: str, as_pandas: bool) -> None:
    assert_refused(CURVE_PLOTS[name], ha.curves_to_pandas(CURVES) if as_pandas else CURVES, column)


@pytest.mark.parametrize("name", [n for n in TRIAL_PLOTS if n != "plot_param_importance"])
def test_an_empty_table_still_draws_its_note(name: str) -> None:
    empty = TABLE.slice(0, 0)
    with own_figure(TRIAL_PLOTS[name], empty, "acc") as drawn:
        axes = drawn.axes if hasattr(drawn, "axes") and isinstance(drawn.axes, list) else [drawn]
        notes = [t.get_text() for a in axes for t in a.texts]
        assert "no trials" in notes


@pytest.mark.parametrize("name", list(CURVE_PLOTS))
def test_an_empty_curve_table_still_draws_its_note(name: str) -> None:
    with own_figure(CURVE_PLOTS[name], CURVES.slice(0, 0), "acc") as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"]


def test_curves_that_end_on_nan_still_draw_without_a_top_trial() -> None:
    # Every trial diverged at its last report: no trial has a latest score to rank, but the curves have
    # numbers, so they are drawn (with no top trials) rather than refused.
    diverged = ha.curves_to_pandas(CURVES).assign(acc=[0.1, 0.2, np.nan, 0.2, 0.4, np.nan])
    data = _learning_curves_data(diverged, metric="acc", top_k=2)
    assert data.n_curves == 2 and len(data.top_ids) == 0
    assert_refused(CURVE_PLOTS["plot_learning_curves"], diverged.assign(acc=np.nan), "acc")
