"""Smoke test of benchmarks/watch.py (--quick): the simulator process, the fleet's cycle, the fetch, the report."""

from __future__ import annotations

import pytest

from _bench import benchmark_module


def test_watch_benchmark_quick(capsys: pytest.CaptureFixture[str]) -> None:
    with benchmark_module("watch") as bench:
        assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "3 jobs x 100 trials" in out and "first cycle" in out
    assert "watch cycle / fetch listings wall = " in out and "target <= 1.5x" in out
    assert "simulator busy" in out and "watch cycle / fetch columns wall = " in out
