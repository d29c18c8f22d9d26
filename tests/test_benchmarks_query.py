"""Smoke test of benchmarks/query.py: the query section on a tiny generated fleet (so the script doesn't rot)."""

from __future__ import annotations

from pathlib import Path

import pytest

from _bench import benchmark_module
from hpo_analytics.query import open_dataset


@pytest.fixture(scope="module")
def bench():
    with benchmark_module("query") as module:
        yield module


def test_generated_dataset_is_in_the_layout_and_reused(bench, tmp_path: Path) -> None:
    root = bench.make_dataset(tmp_path / "fleet", n_jobs=6, n_trials=30, seed=1)
    files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*.parquet"))
    assert files[0] == "jobs/jobs.parquet" and len(files) == 7
    assert all(f.startswith("trials/job_id=job-1-") and f.endswith("/trials.parquet") for f in files[1:])
    with open_dataset(root) as con:
        assert con.execute("SELECT count(*), count(DISTINCT job_id) FROM trials").fetchone() == (180, 6)
        modes = dict(con.execute("SELECT reward_metric, count(*) FROM jobs GROUP BY 1").fetchall())
        recorded = con.execute("SELECT job_id, best_value FROM jobs ORDER BY job_id").df()
    assert modes == {"acc": 5, "loss": 1}
    mtime = (root / "jobs" / "jobs.parquet").stat().st_mtime_ns
    bench.make_dataset(root, n_jobs=6, n_trials=30, seed=1)  # complete: not written again
    assert (root / "jobs" / "jobs.parquet").stat().st_mtime_ns == mtime
    duck, panda = bench.best_duckdb(root), bench.best_pandas(root)
    assert duck.index.tolist() == panda.index.tolist() == recorded["job_id"].tolist()
    assert duck.tolist() == pytest.approx(panda.tolist())
    assert duck.tolist() == pytest.approx(recorded["best_value"].tolist())


def test_query_section_prints_medians_and_the_ratio(bench, tmp_path: Path, capsys) -> None:
    code = bench.main(["--section", "query", "--jobs", "4", "--trials", "25", "--reps", "1",
                       "--cache", str(tmp_path / "cache")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "data: 4 jobs x 25 trials = 100 trials" in out
    assert "DuckDB leaderboard (open + query): median" in out and "pandas read_parquet + groupby: median" in out
    assert "DuckDB leaderboard on an open connection: median" in out
    assert "ratio: pandas takes" in out and "same best value for all 4 jobs" in out


def test_fleet_runs_the_query_section_through_its_own_script(capsys) -> None:
    with benchmark_module("fleet") as fleet:
        assert fleet.main(["--section", "query", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "=== query (benchmarks/query.py)" in out and "same best value for all 4 jobs" in out
