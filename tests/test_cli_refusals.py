"""Issue #12 at the command line: an unscorable metric is one line on stderr; importance says when it cannot answer."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from test_cli_commands import assert_one_line_error, run, run_here

SEED = Path(__file__).resolve().parent.parent / "data" / "seed_trials.json"


def test_rank_by_a_text_column_is_one_line_naming_it_and_its_type() -> None:
    out = run("rank", str(SEED), "--metric", "status")  # as users run it: a subprocess
    line = assert_one_line_error(out, "rank", "'status'", "string", "not numeric")
    assert out.stdout == ""
    assert "numeric columns:" in line and "acc" in line


@pytest.mark.parametrize(("command", "extra"), [("rank", ()), ("importance", ()), ("report", ("-o", "REPORT"))])
# "str"/"bool": the report reads its input as pandas first, whose dtypes are "str"/"boolean".
@pytest.mark.parametrize(("metric", "words"), [("status", ("of type str", "not numeric")),
                                               ("done", ("of type bool", "not numeric"))])
def test_every_analysis_command_refuses_in_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path,
    command: str, extra: tuple[str, ...], metric: str, words: tuple[str, ...],
) -> None:
    args = [a.replace("REPORT", str(tmp_path / "report.html")) for a in extra]
    out = run_here(monkeypatch, capsys, command, str(SEED), "--metric", metric, *args)
    assert_one_line_error(out, command, f"'{metric}'", *words)
    assert not (tmp_path / "report.html").exists()


def test_importance_of_too_few_trials_warns_in_one_line_and_prints_no_numbers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    out = run_here(monkeypatch, capsys, "importance", str(SEED), "--metric", "acc", "--method", "fanova")
    assert out.returncode == 0
    (warning,) = out.stderr.strip().splitlines()
    assert warning.startswith("hpo-analytics importance: warning: ")
    assert "8 scored trial(s)" in warning and "needs at least 20" in warning
    rows = {line.split()[1]: line.split()[2:6] for line in out.stdout.splitlines()[2:]}
    assert rows == {"batch_size": ["-"] * 4, "learning_rate": ["-"] * 4}  # not 0, not an interval

    out = run_here(monkeypatch, capsys, "importance", str(SEED), "--metric", "acc", "--method", "fanova", "--json")
    doc = json.loads(out.stdout)
    assert doc["min_trials"] == 20 and "needs at least 20" in doc["warning"]
    assert {p["param"]: [p["importance"], p["ci_low"], p["ci_high"], p["rank"], p["rank_stability"]]
            for p in doc["params"]} == {"batch_size": [None] * 5, "learning_rate": [None] * 5}
    assert out.stderr.count("\n") == 1


def test_importance_by_default_falls_back_to_spearman_and_says_so(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    out = run_here(monkeypatch, capsys, "importance", str(SEED), "--metric", "acc", "--json")
    assert out.returncode == 0
    (warning,) = out.stderr.strip().splitlines()
    assert "too few for fanova" in warning
    doc = json.loads(out.stdout)
    assert doc["method"] == "spearman" and "too few for fanova" in doc["fallback"] and doc["warning"] is None
    lr = next(p for p in doc["params"] if p["param"] == "learning_rate")
    assert lr["importance"] > 0.5 and lr["ci_high"] > lr["ci_low"]


def test_importance_help_does_not_promise_a_sum_of_one_it_cannot_keep() -> None:
    out: subprocess.CompletedProcess[str] = run("importance", "--help")
    text = " ".join(out.stdout.split())
    assert out.returncode == 0
    assert "sum to 1 (all 0 when no parameter explains any" in text
    assert "fanova 20, binned 10, spearman 5" in text and "not estimable" in text
