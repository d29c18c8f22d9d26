"""Smoke test of benchmarks/stopping.py at a small size (so the script doesn't rot)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "stopping.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("hpo_bench_stopping", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_snapshot_is_ragged_and_running_trials_are_not_done(bench) -> None:
    frame, running, dense = bench.make_snapshot(50, 8, 10, seed=1)
    assert len(running) == 10 and dense.shape == (50, 8)
    sizes = frame.groupby("trial_id").size()
    assert (sizes[sorted(set(frame["trial_id"]) - set(running))] == 8).all()
    assert not frame[frame["trial_id"].isin(running)]["done"].any()


def test_small_run_prints_every_rule_and_the_watch_cycle(bench, capsys) -> None:
    code = bench.main(["--trials", "300", "--steps", "10", "--running", "60", "--reps", "1", "--no-optuna",
                       "--watch-steps", "5"])
    out = capsys.readouterr().out
    assert code == 0, out
    for name in bench.rules():
        assert name in out
    assert "watch cycle overhead" in out
