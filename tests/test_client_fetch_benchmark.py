"""Smoke test of benchmarks/fetch.py (--quick): the simulator subprocess, both paths, the report."""

from __future__ import annotations

import pytest

from _bench import benchmark_module


def test_fetch_benchmark_quick(capsys: pytest.CaptureFixture[str]) -> None:
    with benchmark_module("fetch") as bench:
        assert bench.main(["--quick"]) == 0
    out = capsys.readouterr().out
    assert "fetch_trials served in pages of 1000" in out
    assert "fetch_trials / plain wall" in out and "fetch_trials / plain CPU per request" in out
    assert "simulator busy" in out
    assert "fetch_curves / plain CPU per request" in out and "fetch_curves 1 in flight / 8 in flight" in out
