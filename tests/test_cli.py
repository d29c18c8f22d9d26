"""The command line, run as a subprocess the way users run it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hpo_analytics", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_version_and_help() -> None:
    out = run("--version")
    assert out.returncode == 0 and "hpo-analytics" in out.stdout
    out = run("normalize", "--help")
    assert out.returncode == 0 and "example" in out.stdout


def test_normalize_writes_parquet_and_summary(tmp_path: Path) -> None:
    target = tmp_path / "t.parquet"
    out = run("normalize", "data/seed_trials.json", "-o", str(target))
    assert out.returncode == 0, out.stderr
    assert "Read 8 trials" in out.stdout
    assert "best reward_attr (max): 0.25 (trial ae5503c0)" in out.stdout
    assert "status: TERMINATED 8" in out.stdout
    table = pq.read_table(target)
    assert table.num_rows == 8 and "param/learning_rate" in table.column_names
    again = run("normalize", str(target))  # Parquet input
    assert again.returncode == 0 and "Read 8 trials" in again.stdout


def test_bad_input_is_one_line_and_nonzero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"items": {"header": ["a", "a"], "data": []}}')
    out = run("normalize", str(bad))
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0 and "duplicate header" in out.stderr
    missing = run("normalize", str(tmp_path / "nope.json"))
    assert missing.returncode == 1 and "no such file" in missing.stderr


def test_strict_mode_fails_on_bad_cell(tmp_path: Path) -> None:
    page = tmp_path / "p.json"
    page.write_text('{"header": ["trial_id", "pid"], "data": [["a", "x1"]]}')
    assert run("normalize", str(page)).returncode == 0
    strict = run("normalize", str(page), "--strict")
    assert strict.returncode == 1 and "'pid'" in strict.stderr
