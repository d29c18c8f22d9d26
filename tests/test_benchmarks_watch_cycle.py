"""Smoke test of benchmarks/watch_cycle.py (--quick): the simulator subprocess, both paths, the report."""

from __future__ import annotations

import pytest

from _bench import benchmark_module


def test_watch_cycle_benchmark_quick(capsys: pytest.CaptureFixture[str]) -> None:
    with benchmark_module("watch_cycle") as bench:
        assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "first watch cycle over 400 trials" in out and "histories fetched" in out
    assert "watch first cycle" in out and "plain httpx" in out and "simulator busy" in out
    assert "the cycle's wall: fetch_trials" in out and "fetch_curves" in out
    assert "watch first cycle / plain wall" in out and "watch first cycle / plain CPU per request" in out
