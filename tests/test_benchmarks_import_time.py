"""Smoke test of benchmarks/import_time.py: its pieces, and a one-repetition run on stand-in baselines (no timings)."""

from __future__ import annotations

import pytest

from _bench import benchmark_module


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("import_time") as module:
        yield module


def test_environment_turns_bytecode_caches_on_alike(bench, monkeypatch) -> None:
    monkeypatch.setenv("PYTHONDONTWRITEBYTECODE", "1")
    env = bench.environment("/tmp/cache", "/somewhere/sdk")
    assert "PYTHONDONTWRITEBYTECODE" not in env and env["PYTHONPYCACHEPREFIX"] == "/tmp/cache"
    assert env["PYTHONPATH"].split(":")[:2] == ["/somewhere/sdk", str(bench.ROOT)]
    assert bench.environment("/tmp/cache")["PYTHONPATH"].split(":")[0] == str(bench.ROOT)


def test_one_run_and_the_probes(bench, tmp_path) -> None:
    by_role = {c.role: c for c in bench.candidates("")}
    assert set(by_role) == {"bare", "ours", "sdk", "optuna", "help", "info"}
    seconds, wall, loads = bench.run_once(by_role["ours"], str(tmp_path))
    assert isinstance(seconds, float) and isinstance(wall, float)  # both measured; their values belong to the benchmark
    assert loads == {"pandas": False, "pyarrow": False, "numpy": False, "matplotlib": False}
    assert bench.run_once(by_role["help"], str(tmp_path))[0] is None
    assert bench.loaded_by_help(str(tmp_path)) == dict.fromkeys(bench.HEAVY, False)
    assert not bench.available(bench.Candidate("x", "import no_such_module_here", "no_such_module_here"),
                               str(tmp_path))
    biggest = bench.biggest_imports(str(tmp_path), 3)
    assert len(biggest) == 3 and "hpo_analytics" in [name for _, name in biggest]


def test_missing_baselines_are_skipped_not_fatal(bench, monkeypatch, capsys) -> None:
    C = bench.Candidate
    stand_ins = [
        C("bare", "", "", "bare"),
        C("ours", "import hpo_analytics", "hpo_analytics", "ours"),
        C("sdk stand-in", "import no_such_sdk_here", "no_such_sdk_here", "sdk"),
        C("optuna stand-in", "import json", "json", "optuna"),
        C("help", "", "hpo_analytics", "help", argv=("-m", "hpo_analytics", "--help")),
    ]
    monkeypatch.setattr(bench, "candidates", lambda sdk_path: stand_ins)
    failures = bench.main(["--reps", "1"])
    out = capsys.readouterr().out
    assert "missing: no_such_sdk_here is not importable" in out
    assert "import hpo_analytics / no_such_sdk_here: skipped" in out
    assert "import hpo_analytics / json:" in out and "target <= 1.0x" in out
    assert "bytecode caches on for every package alike" in out
    assert "hpo-analytics --help:" in out
    assert out.rstrip().endswith("(some baselines skipped)") and failures in (0, 1)
