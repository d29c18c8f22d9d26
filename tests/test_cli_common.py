"""The CLI's shared pieces, in process: help texts, usage errors, input resolution, JSON, secrets, the demo."""

from __future__ import annotations

import argparse
import json
import math
import socket
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpo_analytics.cli import COMMANDS, build_parser, main
from hpo_analytics.cli._common import (
    jsonable,
    one_line,
    read_curves_input,
    read_trials_input,
    resolve_input,
    text_table,
)
from hpo_analytics.cli._service import curves_path_for, job_summary
from hpo_analytics.errors import ConfigurationError

ROOT = Path(__file__).resolve().parent.parent
JOB_DIR = ROOT / "data" / "synthetic_job"

ALL = {"algorithms", "backtest", "cost", "demo", "effects", "export-optuna", "fetch", "importance", "jobs",
       "leaderboard", "ledger", "normalize", "query", "rank", "report", "simulate", "sync", "watch"}


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_subcommand_has_help_with_an_example() -> None:
    subs = _subparsers(build_parser())
    assert set(subs) == ALL and len(COMMANDS) == len(ALL)
    for name, parser in subs.items():
        text = parser.format_help()
        assert f"examples:\n  hpo-analytics {name}" in text, name
        assert parser.description, name


def test_commands_that_print_results_take_json() -> None:
    for name, parser in _subparsers(build_parser()).items():
        flags = {s for a in parser._actions for s in a.option_strings}
        assert ("--json" in flags) == (name != "simulate"), name


def test_normalize_json_summarizes(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["normalize", str(ROOT / "data" / "seed_trials.json"), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["rows"] == 8 and result["status_counts"] == {"TERMINATED": 8} and result["output"] is None
    assert result["metric"] == "reward_attr" and result["best"] == 0.25 and result["best_trial_ids"] == ["ae5503c0"]
    assert "learning_rate" in result["params"] and result["columns"]["done"] == "bool"


def test_usage_errors_are_one_line_with_status_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["rank", "x.json", "--mode", "sideways"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "invalid choice: 'sideways'" in err and "hpo-analytics rank --help" in err
    with pytest.raises(SystemExit) as info:
        main(["report", "x.json"])  # -o is required
    assert info.value.code == 2 and "-o/--output" in capsys.readouterr().err


def test_unexpected_errors_are_one_line_unless_verbose(monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import hpo_analytics.cli._analysis as analysis

    def broken(args: argparse.Namespace) -> int:
        raise KeyError("boom")

    monkeypatch.setattr(analysis, "run_rank", broken)
    assert main(["rank", "whatever"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unexpected KeyError" in err and "--verbose" in err
    with pytest.raises(KeyError):
        main(["-v", "rank", "whatever"])


def test_error_lines_mask_secrets_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HPO_ANALYTICS_TOKEN", "MIIsecret-token-value")
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", "sk-secret-value")
    assert one_line("bad token MIIsecret-token-value\nand sk-secret-value") == "bad token *** and ***"


def test_jsonable_turns_nan_numpy_and_pandas_values_into_json() -> None:
    value = {"a": math.nan, "b": np.float32(0.5), "c": np.int64(3), "d": [pd.NA, np.inf], "e": np.array([1, 2]),
             "f": Path("x/y"), "g": np.bool_(True)}
    out = jsonable(value)
    assert out == {"a": None, "b": 0.5, "c": 3, "d": [None, None], "e": [1, 2], "f": "x/y", "g": True}
    json.dumps(out, allow_nan=False)


def test_text_table_aligns_numbers_right_and_shows_missing() -> None:
    lines = text_table([["a", 1.5, None], ["bbb", 10, "x"]], ["name", "value", "note"]).splitlines()
    assert lines == ["name  value  note", "a       1.5  -", "bbb      10  x"]


def test_resolve_input_knows_job_directories(tmp_path: Path) -> None:
    job = resolve_input(JOB_DIR)
    assert job.name == "autosearch-resnet-example"  # from job.json
    assert job.trials == JOB_DIR / "trials" and job.curves == JOB_DIR / "histories"
    assert read_trials_input(job).schema.metadata[b"hpo_analytics.metric"] == b"acc"
    plain = resolve_input(JOB_DIR / "trials")
    assert plain.curves is None and plain.name == "trials"
    fetched = tmp_path / "job-7"
    fetched.mkdir()
    (fetched / "trials.parquet").write_bytes(b"")
    assert resolve_input(fetched).curves is None and resolve_input(fetched).name == "job-7"
    assert resolve_input(fetched / "trials.parquet").name == "job-7"  # a generic file name takes its folder's
    with pytest.raises(ConfigurationError, match="not a readable Parquet file"):
        read_trials_input(fetched)
    with pytest.raises(ConfigurationError, match="no such file"):
        resolve_input(tmp_path / "missing")
    assert read_curves_input(JOB_DIR).num_rows > read_trials_input(JOB_DIR).num_rows


def test_curves_path_for_fetch() -> None:
    assert curves_path_for(Path("out/trials.parquet")) == Path("out/curves.parquet")
    assert curves_path_for(Path("out/job1_trials.parquet")) == Path("out/job1_curves.parquet")
    assert curves_path_for(Path("out/job1.parquet")) == Path("out/job1_curves.parquet")


def test_job_summary_tolerates_missing_fields() -> None:
    full = json.loads((JOB_DIR / "job.json").read_text())
    s = job_summary(full)
    assert s["name"] == "autosearch-resnet-example" and s["metric"] == "acc" and s["mode"] == "max"
    assert s["created_utc"] == "2024-01-02 03:04"
    assert job_summary({"kind": "job"}) == {"id": None, "name": None, "kind": "job", "phase": None,
                                             "create_time": None, "created_utc": None, "duration_ms": None,
                                             "metric": None, "mode": None}


def test_demo_leaves_nothing_running_and_hands_everything_to_the_report(tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_analytics import report
    from hpo_analytics.demo import run_demo
    from hpo_analytics.stopping import decisions_from_ledger

    calls: list[dict] = []

    def fake_report(trials, **options):  # type: ignore[no-untyped-def]  # rendering is report.py's to test
        calls.append({"trials": trials, **options})
        Path(options["out"]).write_text("report")
        return Path(options["out"])

    monkeypatch.setattr(report, "build_report", fake_report)
    threads = set(threading.enumerate())
    lines: list[str] = []
    result = run_demo(out_dir=tmp_path, n_trials=24, cycles=2, log=lines.append)
    assert set(threading.enumerate()) <= threads  # the simulator's and the client's threads are gone
    host, port = result.endpoint.removeprefix("http://").rsplit(":", 1)
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=1).close()
    assert result.cycles == 2 and sum(line.startswith("  cycle ") for line in lines) == 2
    (call,) = calls
    assert call["out"] == tmp_path / "report.html" and result.report == tmp_path / "report.html"
    assert call["trials"].num_rows == 24 and call["curves"].num_rows == result.n_curve_points
    assert set(call["backtest"]["rule"]) == {"median", "significance"}
    decisions = decisions_from_ledger(result.state_dir, result.job_id)
    assert decisions["trial_id"].is_unique  # one row per trial (one rule)
    assert call["decisions"]["trial_id"].tolist() == decisions["trial_id"].tolist()
    assert set(result.would_stop) <= set(decisions.loc[decisions["stop"], "trial_id"])
    again = run_demo(out_dir=tmp_path, n_trials=24, cycles=2)  # an earlier demo's ledger is replaced
    assert again.cycles == 2 and again.would_stop == result.would_stop


def test_decisions_from_ledger_needs_a_ledger(tmp_path: Path) -> None:
    from hpo_analytics.stopping import decisions_from_ledger

    with pytest.raises(ConfigurationError, match="no watch ledger"):
        decisions_from_ledger(tmp_path)
    assert not (tmp_path / "watch.sqlite").exists()  # looking did not create one
