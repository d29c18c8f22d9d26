"""Smoke test of benchmarks/report.py at a tiny size (so the script doesn't rot)."""

from __future__ import annotations

import re

import pytest

from _bench import benchmark_module
from hpo_analytics.report import _registry


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("report") as module:
        yield module


def test_job_curves_match_trials_and_decisions_stop_some(bench) -> None:
    job = bench.make_job(80, steps=12, running=20, backtest_trials=30)
    trials, curves = job["trials"], job["curves"]
    assert trials.num_rows == 80
    assert set(curves["trial_id"].to_pylist()) <= set(trials["trial_id"].to_pylist())
    assert curves.num_rows > 12 * 60  # most trials report every step; failed ones fewer
    assert len(job["decisions"]) == 20 and job["decisions"]["stop"].any()
    assert job["backtest"]["trials"].max() <= 30


def test_tiny_run_prints_medians_ratio_and_breakdown(bench, capsys, monkeypatch) -> None:
    monkeypatch.setattr(_registry, "PLOTS", tuple(p for p in _registry.PLOTS if p.name == "plot_optimization_history"))
    code = bench.main(["--trials", "60", "--baseline-trials", "30", "--steps", "6", "--running", "10",
                       "--backtest-trials", "20", "--reps", "1"])
    out = capsys.readouterr().out
    assert "ratio: 2x the trials take" in out
    assert "Optimization history" in out
    # The measured figure and the verdict on it are printed; whether it passes depends on the machine.
    assert re.search(r"^build_report, 60 trials x 6 steps: median \d+\.\d\d s over 1 reps", out, re.M), out
    verdict = re.search(r"^target < 30 s at 60 trials: (PASS|FAIL)$", out, re.M)
    assert verdict, out
    assert code == (0 if verdict.group(1) == "PASS" else 1), out
