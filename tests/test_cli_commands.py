"""The subcommands added with issue #7, run as subprocesses the way users run them.

Service commands talk to a :class:`Simulator` running in this test process;
the subprocess finds it through the environment, as ``from_env`` reads it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hpo_analytics import read_trials
from hpo_analytics.analysis import rank_trials
from hpo_analytics.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent
JOB_DIR = ROOT / "data" / "synthetic_job"


def _clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HPO_ANALYTICS_", "HUAWEICLOUD_SDK_"))}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def run(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hpo_analytics", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, env=env if env is not None else _clean_env(), check=False)


def run_here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Like :func:`run`, but in this process (cheaper; for variants of a command already run as a subprocess)."""
    from hpo_analytics.cli import main

    for key in list(os.environ):
        if key.startswith(("HPO_ANALYTICS_", "HUAWEICLOUD_SDK_")):
            monkeypatch.delenv(key)
    for key, value in (env or {}).items():
        monkeypatch.setenv(key, value)
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), code, captured.out, captured.err)


def assert_one_line_error(out: subprocess.CompletedProcess[str], command: str, *needles: str) -> str:
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    line = out.stderr.strip()
    assert line.count("\n") == 0, out.stderr
    assert line.startswith(f"hpo-analytics {command}: error: ")
    for needle in needles:
        assert needle in line, line
    return line


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=2, n_trials=30, n_jobs=2, auth="token") as s:
        yield s


def sim_env(sim: Simulator, **override: str) -> dict[str, str]:
    settings = {"HPO_ANALYTICS_ENDPOINT": sim.url, "HUAWEICLOUD_SDK_PROJECT_ID": sim.project_id,
                "HPO_ANALYTICS_TOKEN": sim.token}
    return _clean_env(**{**settings, **override})


# ---------------------------------------------------------------------- service commands


def test_fetch_writes_trials_and_curves_without_a_progress_bar_off_a_tty(sim: Simulator, tmp_path: Path) -> None:
    job = sim.job_ids[0]
    target = tmp_path / "job" / "trials.parquet"
    out = run("fetch", job, "-o", str(target), "--curves", "--json", env=sim_env(sim))
    assert out.returncode == 0, out.stderr
    assert out.stderr == ""  # stderr is a pipe here: no progress bar
    result = json.loads(out.stdout)
    assert result["trials"] == 30 and result["metric"] == "acc" and result["mode"] == "max"
    assert result["curves_output"] == str(tmp_path / "job" / "curves.parquet")
    trials = pq.read_table(target)
    assert trials.num_rows == 30 and set(trials["trial_id"].to_pylist()) == set(sim.job(job).trials.trial_ids)
    assert trials.schema.metadata[b"hpo_analytics.metric"] == b"acc"
    curves = pq.read_table(tmp_path / "job" / "curves.parquet")
    completed, _ = sim.job(job).snapshot()
    assert curves.num_rows == int(completed.sum()) == result["curve_rows"]


def test_jobs_and_algorithms_list_what_the_service_has(sim: Simulator, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    env = sim_env(sim)
    out = run("jobs", "--json", env=env)
    assert out.returncode == 0, out.stderr
    jobs = json.loads(out.stdout)
    assert {j["id"] for j in jobs} == set(sim.job_ids)
    assert all(j["kind"] == "autosearch_job" and j["metric"] == "acc" for j in jobs)
    assert [j["create_time"] for j in jobs] == sorted((j["create_time"] for j in jobs), reverse=True)
    text = run_here(monkeypatch, capsys, "jobs", "--name", "sim-01", env=env)
    assert text.returncode == 0 and "autosearch-sim-01" in text.stdout and "autosearch-sim-00" not in text.stdout
    assert text.stdout.strip().endswith("1 job")
    algos = run("algorithms", "--json", env=env)
    assert algos.returncode == 0, algos.stderr
    catalogue = {a["name"]: {p["key"]: p["value"] for p in a["params"]} for a in json.loads(algos.stdout)}
    assert catalogue["bayes_opt_search"]["kappa"] == 2.5  # typed by the declared type, not text
    assert catalogue["bayes_opt_search"]["num_samples"] == 20 and catalogue["bayes_opt_search"]["kind"] == "ucb"


def test_service_errors_are_one_line_without_secrets(sim: Simulator, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    wrong = "wrong-token-" + "x" * 20
    denied = run("jobs", env=sim_env(sim, HPO_ANALYTICS_TOKEN=wrong))
    line = assert_one_line_error(denied, "jobs", "401", "APIG.0301")
    assert wrong not in line and sim.token not in line and denied.stdout == ""
    # in process (a variant): the option overrides the environment's project id
    missing = run_here(monkeypatch, capsys, "algorithms", "--project-id", "0" * 32, env=sim_env(sim))
    assert_one_line_error(missing, "algorithms", "404", "ModelArts.2786")
    no_env = run_here(monkeypatch, capsys, "fetch", "some-job")
    assert_one_line_error(no_env, "fetch", "HUAWEICLOUD_SDK_PROJECT_ID")


def test_fetch_draws_a_progress_bar_on_a_terminal(sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import io

    from hpo_analytics.cli import main

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    for key, value in sim_env(sim).items():
        monkeypatch.setenv(key, value)
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert main(["fetch", sim.job_ids[1], "--page-size", "3"]) == 0
    bar = terminal.getvalue()
    n = sim.job(sim.job_ids[1]).total
    assert f"] {n}/{n} trials" in bar and bar.endswith("\n")
    assert f"Fetched {n} trials" in capsys.readouterr().out


# ---------------------------------------------------------------------- analysis commands


def test_rank_json_matches_the_library_and_text_marks_the_best(monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = run("rank", str(JOB_DIR), "--top", "3", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    # job.json in the job directory names the metric: acc, max
    expected = rank_trials(read_trials(JOB_DIR / "trials"), metric="acc", mode="max")
    assert result["metric"] == "acc" and result["mode"] == "max" and result["n_trials"] == len(expected)
    assert [t["trial_id"] for t in result["trials"]] == expected["trial_id"].head(3).tolist()
    assert result["trials"][0]["is_best"] and result["trials"][0]["rank"] == 1
    assert set(result["trials"][0]["params"]) >= {"learning_rate", "optimizer"}
    text = run_here(monkeypatch, capsys, "rank", str(JOB_DIR / "trials"), "--metric", "loss", "--mode", "min",
                    "--top", "2")
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    best = rank_trials(read_trials(JOB_DIR / "trials"), metric="loss", mode="min")["trial_id"].iloc[0]
    assert "ranked by loss (min" in lines[0] and lines[2].startswith("*1") and best in lines[2]
    assert "more (--top 0 shows all)" in lines[-1]


def test_importance_finds_the_influential_parameter() -> None:
    out = run("importance", str(JOB_DIR), "--method", "binned", "--bootstrap", "20", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    params = result["params"]
    assert result["method"] == "binned" and result["n_bootstrap"] == 20
    assert params[0]["param"] == "learning_rate"  # the ground truth's largest effect
    assert abs(sum(p["importance"] for p in params) - 1.0) < 1e-9
    assert all(p["ci_low"] <= p["importance"] <= p["ci_high"] for p in params)


def test_backtest_replays_rules_on_curves(tmp_path: Path) -> None:
    out = run("backtest", str(JOB_DIR), "--rule", "median", "--rule", "significance", "--grace-period", "3",
              "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["rule"]: r for r in json.loads(out.stdout)["rules"]}
    assert set(rows) == {"median", "significance"}
    assert rows["median"]["trials"] == len(list((JOB_DIR / "histories").glob("*.json")))  # one file per trial
    for r in rows.values():
        assert 0.0 < r["saved"] < 1.0 and "grace_period=3" in r["description"]
    # Significance control stops fewer trials than the median rule on the same curves.
    assert rows["significance"]["stopped"] < rows["median"]["stopped"]


def test_backtest_refuses_a_metric_that_is_not_numeric(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import pyarrow as pa

    from hpo_analytics import read_curves

    curves = read_curves(JOB_DIR / "histories")
    pq.write_table(curves.append_column("status", pa.array(["TERMINATED"] * curves.num_rows)),
                   tmp_path / "curves.parquet")
    assert_one_line_error(run("backtest", str(tmp_path / "curves.parquet"), "--metric", "status"), "backtest",
                          "metric column 'status' is of type string, not numeric")
    assert_one_line_error(run_here(monkeypatch, capsys, "backtest", str(JOB_DIR), "--metric", "param/optimizer"),
                          "backtest", "'param/optimizer'", "string")
    assert_one_line_error(run_here(monkeypatch, capsys, "backtest", str(JOB_DIR), "--metric", "done"),
                          "backtest", "'done'", "bool")


@pytest.mark.parametrize("command", ["watch", "backtest"])
def test_watch_and_backtest_default_to_the_librarys_grace_period(command: str) -> None:
    from hpo_analytics.cli import build_parser
    from hpo_analytics.cli._rules import build_rule
    from hpo_analytics.stopping import (
        MedianStoppingRule,
        PatienceRule,
        PercentileRule,
        SignificanceRule,
        ThresholdRule,
    )

    args = build_parser().parse_args([command, "JOB" if command == "watch" else "in", "--threshold", "0.5"])
    assert args.grace_period is None
    library = {"median": MedianStoppingRule(), "percentile": PercentileRule(), "threshold": ThresholdRule(0.5),
               "patience": PatienceRule(), "significance": SignificanceRule()}
    for name, rule in library.items():
        built = build_rule(name, args)
        assert built.grace_period is None and built.describe() == rule.describe()
        assert "grace_period=auto" in built.describe()
    for given, expected in (["auto", None], ["0", 0], ["7", 7]):
        args = build_parser().parse_args([command, "x", "--grace-period", given])
        assert build_rule("median", args).grace_period == expected


def test_backtest_by_default_keeps_the_eventual_best_of_the_bundled_job() -> None:
    # the README's command, with no --grace-period: the auto grace period keeps the eventual best trial
    out = run("backtest", str(JOB_DIR / "histories"), "--rule", "median", "--rule", "significance", "--metric",
              "acc", "--mode", "max", "--json")
    assert out.returncode == 0, out.stderr
    rows = {r["rule"]: r for r in json.loads(out.stdout)["rules"]}
    for r in rows.values():
        assert r["best_stopped"] is False and r["regret"] == 0.0 and r["saved"] > 0.25, r
        assert "grace_period=auto" in r["description"]


# ---------------------------------------------------------------------- report and demo


def test_report_single_input_writes_one_html_file(tmp_path: Path) -> None:
    target = tmp_path / "r" / "report.html"
    out = run("report", "data/seed_trials.json", "-o", str(target), "--title", "Seed <job>")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"Wrote report: {target}"
    html = target.read_text()
    assert html.lstrip().lower().startswith("<!doctype html") and "Seed &lt;job&gt;" in html
    assert "ae5503c0" in html  # the best trial of the seed example


class _Recorder:
    """Stands in for the report builders: records what the CLI passes and writes a placeholder."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    def build_report(self, trials, **options):  # type: ignore[no-untyped-def]
        self.calls.append(("build_report", {"trials": trials, **options}))
        Path(options["out"]).write_text("report")
        return Path(options["out"])

    def build_reports(self, jobs, **options):  # type: ignore[no-untyped-def]
        self.calls.append(("build_reports", {"jobs": dict(jobs), **options}))
        Path(options["out_dir"]).mkdir(parents=True, exist_ok=True)
        return Path(options["out_dir"]) / "index.html"


def test_report_passes_curves_decisions_and_job_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    from hpo_analytics import report
    from hpo_analytics.stopping import Ledger

    recorder = _Recorder()
    monkeypatch.setattr(report, "build_report", recorder.build_report)
    monkeypatch.setattr(report, "build_reports", recorder.build_reports)
    state = tmp_path / "state"
    with Ledger(state) as ledger:
        ledger.record("job", "decision", time=1.0, cycle=1, trial_id="t1", rule="median", step=3, value=0.1,
                      reference=0.5, reason="stop: below the median")
    out = run_here(monkeypatch, capsys, "report", str(JOB_DIR), "--decisions", str(state), "--metric", "loss",
                   "--mode", "min", "-o", str(tmp_path / "one.html"))
    assert out.returncode == 0, out.stderr
    (name, call), = recorder.calls
    assert name == "build_report" and call["out"] == tmp_path / "one.html"
    assert call["trials"].num_rows == 300 and call["curves"].num_rows == 2524  # the job directory's curves
    assert call["metric"] == "loss" and call["mode"] == "min"
    assert call["decisions"][["trial_id", "stop", "step"]].values.tolist() == [["t1", True, 3]]

    seed = tmp_path / "alpha"
    seed.mkdir()
    (seed / "trials.json").write_text((ROOT / "data" / "seed_trials.json").read_text())
    out = run_here(monkeypatch, capsys, "report", str(seed / "trials.json"), str(JOB_DIR), str(JOB_DIR / "trials"),
                   "-o", str(tmp_path / "many"), "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"report": str(tmp_path / "many" / "index.html"), "jobs": 3,
                                      "directory": str(tmp_path / "many")}
    name, call = recorder.calls[-1]
    assert name == "build_reports" and call["out_dir"] == tmp_path / "many"
    jobs = call["jobs"]
    assert list(jobs) == ["alpha", "autosearch-resnet-example", "trials"]  # folder, job.json name, stem
    assert set(jobs["autosearch-resnet-example"]) == {"trials", "curves"} and set(jobs["alpha"]) == {"trials"}
    bad = run_here(monkeypatch, capsys, "report", str(seed / "trials.json"), str(JOB_DIR), "--curves", str(JOB_DIR),
                   "-o", str(tmp_path / "x"))
    assert bad.returncode == 1 and "--curves applies to a single INPUT" in bad.stderr


def test_demo_runs_everything_and_leaves_the_files(tmp_path: Path) -> None:
    out = run("demo", "--json", cwd=tmp_path)  # the README's command: writes ./hpo-demo
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    demo = tmp_path / "hpo-demo"
    assert result["report"] == "hpo-demo/report.html"
    html = (demo / "report.html").read_text()
    for section in ("Top trials", "Learning curves", "Early-stop decisions", "Back-test of stop rules"):
        assert section in html, section
    assert result["cycles"] == 4 and result["would_stop"]  # the dry-run watch found hopeless trials
    trials = pq.read_table(demo / "trials.parquet")
    assert trials.num_rows == result["n_trials"] == 48
    assert set(trials["status"].to_pylist()) <= {"TERMINATED", "ERROR"}  # the search ran to the end
    assert pq.read_table(demo / "curves.parquet").num_rows == result["n_curve_points"] > 48
    assert (demo / "watch" / "watch.sqlite").exists() and (demo / "backtest.csv").exists()
    decisions = (demo / "decisions.csv").read_text().splitlines()
    assert decisions[0].startswith("trial_id,stop,rule,step,value,reference,reason")
    assert all(t in "\n".join(decisions) for t in result["would_stop"])
    assert isinstance(result["seconds"], float) and result["seconds"] > 0  # reported; timing is benchmarks' job


# ---------------------------------------------------------------------- bad input


def test_bad_input_is_one_line_and_nonzero(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert_one_line_error(run("rank", str(tmp_path / "nope.parquet")), "rank", "no such file")
    bad = tmp_path / "bad.json"
    bad.write_text('{"total": 1, "items": {"header": ["trial_id"], "data": [["a"]')  # truncated
    assert_one_line_error(run_here(monkeypatch, capsys, "importance", str(bad)), "importance", "bad.json")
    (tmp_path / "bad.parquet").write_text("not parquet")
    assert_one_line_error(run_here(monkeypatch, capsys, "backtest", str(tmp_path / "bad.parquet")), "backtest",
                          "not a readable Parquet file")
