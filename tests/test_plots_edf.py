"""plot_edf: EDF series by hand, several jobs, drawing lightly, no global state touched."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgb

import hpo_analytics as ha
from _plots import given_axes, own_figure
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.plots import plot_edf
from hpo_analytics.plots._common import identity_colors
from hpo_analytics.plots.edf import _edf_data

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
nan = np.nan


def trials(acc: list[float], status: list[str] | None = None) -> pd.DataFrame:
    n = len(acc)
    return pd.DataFrame({"trial_id": [f"t{i}" for i in range(n)], "trial_index": range(n), "acc": acc,
                         "status": status or ["TERMINATED"] * n})


def test_one_table_by_hand() -> None:
    d = _edf_data(trials([0.3, 0.1, nan, 0.3, 0.2]), metric="acc")
    assert (d.metric, d.mode) == ("acc", "max")
    (s,) = d.series
    assert (s.name, s.n_missing) == ("trials", 1)
    np.testing.assert_array_equal(s.values, [0.1, 0.2, 0.3, 0.3])
    np.testing.assert_array_equal(s.fraction, [0.25, 0.5, 0.75, 1.0])


def test_several_tables_keep_their_order_and_statuses_filter() -> None:
    jobs = {"new": trials([2.0, 4.0]), "old": trials([1.0, 3.0, 5.0], status=["ERROR", "TERMINATED", "ERROR"])}
    d = _edf_data(jobs, metric="acc", mode="min", statuses={"TERMINATED"})
    assert [s.name for s in d.series] == ["new", "old"] and d.mode == "min"
    np.testing.assert_array_equal(d.series[0].values, [2.0, 4.0])
    np.testing.assert_array_equal(d.series[1].values, [3.0])  # the ERROR trials are left out
    np.testing.assert_array_equal(d.series[1].fraction, [1.0])


def test_errors() -> None:
    with pytest.raises(ConfigurationError, match="mapping is empty"):
        _edf_data({})
    with pytest.raises(ConfigurationError, match="strings"):
        _edf_data({1: trials([1.0])}, metric="acc")
    a = trials([1.0])
    a.attrs["hpo_analytics"] = {"metric": "acc", "mode": "max"}
    b = trials([1.0]).assign(loss=[0.5])
    b.attrs["hpo_analytics"] = {"metric": "loss", "mode": "min"}
    with pytest.raises(ConfigurationError, match="disagree.*a: acc \\(max\\), b: loss \\(min\\)"):
        _edf_data({"a": a, "b": b})
    assert _edf_data({"a": a, "b": b}, metric="acc", mode="max").metric == "acc"
    with pytest.raises(ConfigurationError, match="no metric column 'f1'"):
        _edf_data(a, metric="f1")


def test_drawing_steps_legend_colours_and_png() -> None:
    jobs = {"a": trials([0.2, 0.1]), "b": trials([0.4]), "c": trials([])}
    with own_figure(plot_edf, jobs, metric="acc") as ax:
        assert ax.get_title() == "Empirical distribution of acc"
        assert ax.get_xlabel() == "acc (higher is better)" and ax.get_ylabel() == "share of trials with a value ≤ x"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a (n=2)", "b (n=1)", "c (n=0)"]
        first = ax.lines[0]
        np.testing.assert_array_equal(first.get_xdata(), [0.1, 0.1, 0.2])  # starts at 0 before the smallest
        np.testing.assert_array_equal(first.get_ydata(), [0.0, 0.5, 1.0])
        assert first.get_drawstyle() == "steps-post"
        assert [to_rgb(line.get_color()) for line in ax.lines] == [tuple(c) for c in identity_colors(3)]


def test_one_table_has_no_legend_and_min_mode_says_lower_is_better() -> None:
    with given_axes() as (_, ax):
        assert plot_edf(trials([1.0, 2.0]), metric="acc", mode="min", ax=ax) is ax
        assert ax.get_legend() is None and ax.get_title() == "Empirical distribution of acc (2 trials)"
        assert ax.get_xlabel() == "acc (lower is better)"


def test_nothing_to_draw_gives_a_note_and_no_finite_value_raises() -> None:
    with own_figure(plot_edf, trials([]), metric="acc") as ax:
        assert [t.get_text() for t in ax.texts] == ["no trials"] and not ax.lines
    with pytest.raises(ConfigurationError, match="'acc' .* has no finite value in its 2 row"):
        plot_edf({"a": trials([0.2]), "b": trials([nan, nan])}, metric="acc")


def test_synthetic_job_end_to_end() -> None:
    table = ha.read_trials(DATA / "trials")
    frame = ha.trials_to_pandas(table)
    jobs = {"all": table, "adam": frame[frame["param/optimizer"] == "adam"]}
    d = _edf_data(jobs, metric="acc")
    scored = frame["acc"].dropna()
    assert len(d.series[0].values) == len(scored) and d.series[0].n_missing == len(frame) - len(scored)
    assert d.series[0].values[-1] == scored.max() and d.series[0].fraction[-1] == 1.0
    with own_figure(plot_edf, jobs, metric="acc", png_dpi=50) as ax:
        assert len(ax.lines) == 2
