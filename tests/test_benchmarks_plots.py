"""Smoke test of benchmarks/plots.py: a quick run as a subprocess, and its pieces in process (so the script doesn't rot)."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from _bench import BENCHMARKS, benchmark_module
from hpo_analytics import plots

SCRIPT = BENCHMARKS / "plots.py"


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("plots") as module:
        yield module


def test_quick_run_as_a_subprocess() -> None:
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--plots", "plot_backtest,plot_optimization_history"],
        capture_output=True, text=True, timeout=120, cwd=SCRIPT.parents[1], check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert "parallel coordinates 2,100" in out and "estimate" in out and "linear from 100 trials" in out
    # the default call draws 2,100 curves as a raster; the forced LineCollection is timed for information
    assert "learning curves 2,100 x 10 " in out and "(density raster)" in out
    assert "learning curves 2,100 x 10, LineCollection" in out and "density=False, for information" in out
    assert "no ratio" in out  # the naive curves are skipped in a quick run
    assert "plot_backtest(backtest table of 3 rules)" in out and "plot_optimization_history(trials)" in out
    assert "no verdicts" in out and "PASS" not in out and "FAIL" not in out


def test_unknown_plot_name_is_refused(bench, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        bench.main(["--quick", "--plots", "plot_nothing"])
    assert exit_info.value.code == 2 and "plot_nothing" in capsys.readouterr().err


def test_inputs_naive_versions_and_a_call_for_every_plot(bench) -> None:
    trials, curves = bench.make_job(30, 4, seed=1)
    assert len(trials) == 30 and trials["trial_id"].is_unique
    sizes = curves.groupby("trial_id").size()
    planned = trials.set_index("trial_id")["training_iteration"]
    assert sizes.max() == 4 and (sizes == planned[sizes.index]).all()  # trials report their planned steps
    assert trials["param/batch_size"].dtype.kind == "i" and pd.api.types.is_string_dtype(trials["param/optimizer"])
    assert bench.render(lambda: bench.naive_parallel(trials)) > 0
    assert bench.render(lambda: bench.naive_curves(curves)) > 0
    assert bench.mass_drawing(plots.plot_learning_curves(curves, metric="acc", density=True)) == "density raster"
    assert bench.mass_drawing(plots.plot_learning_curves(curves, metric="acc", density=False)) == "LineCollection"
    for name in plots.__all__:
        description, call = bench.CALLS.get(name) or bench.default_call(name)
        assert description and callable(call)
