"""export-optuna, and report/backtest with an Optuna storage or a Ray Tune directory as INPUT (subprocesses),
and export-optuna --follow on a running simulated job (in process, its clock moved instead of sleeping)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

import hpo_analytics as ha
from hpo_analytics.simulator import Simulator
from _service_env import use_sim_env

ROOT = Path(__file__).resolve().parent.parent
RAY = ROOT / "tests" / "data" / "ray_experiment"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HPO_ANALYTICS_", "HUAWEICLOUD_SDK_"))}
    return subprocess.run([sys.executable, "-m", "hpo_analytics", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=env, check=False)


@pytest.fixture(scope="module")
def job_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A job directory as `fetch --curves` writes it, with the job's details beside it."""
    root = tmp_path_factory.mktemp("job")
    with Simulator(seed=5, n_trials=12, n_iterations=5, error_rate=0.2) as sim:
        job_id = sim.job_ids[0]
        with ha.ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
            ha.write_parquet(client.fetch_trials(job_id), root / "trials.parquet")
            ha.write_parquet(client.fetch_curves(job_id), root / "curves.parquet")
            (root / "job.json").write_text(json.dumps(client.get_training_job(job_id)), encoding="utf-8")
    return root


def here(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """A command in this process (cheaper than a subprocess, for the variants): status, stdout, stderr."""
    from hpo_analytics.cli import main

    for key in list(os.environ):
        if key.startswith(("HPO_ANALYTICS_", "HUAWEICLOUD_SDK_")):
            monkeypatch.delenv(key)
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_export_then_report_and_backtest_from_the_storage(job_dir: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'study.db'}"
    out = run("export-optuna", str(job_dir), "--storage", storage, "--json")
    assert out.returncode == 0, out.stderr
    first = json.loads(out.stdout)
    assert first["study"] == "autosearch-sim-00" and first["added"] == 12 and first["trials"] == 12
    study = optuna.load_study(study_name="autosearch-sim-00", storage=storage)
    assert study.user_attrs["search_space"][0]["name"] == "learning_rate"  # from job.json
    assert study.trials[0].distributions["learning_rate"].log
    code, stdout, _ = here(monkeypatch, capsys, "export-optuna", str(job_dir), "--storage", storage, "--json")
    again = json.loads(stdout)
    assert code == 0 and (again["added"], again["steps_added"], again["unchanged"]) == (0, 0, 12)

    report = tmp_path / "report.html"
    out = run("report", storage, "-o", str(report), "--json")  # the storage's only study
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["curves"] is True and "learning_rate" in report.read_text(encoding="utf-8")

    code, from_storage, _ = here(monkeypatch, capsys, "backtest", storage, "--study", "autosearch-sim-00",
                                 "--rule", "median", "--json")
    _, from_files, _ = here(monkeypatch, capsys, "backtest", str(job_dir), "--rule", "median", "--json")
    assert code == 0 and json.loads(from_storage) == json.loads(from_files)

    code, _, err = here(monkeypatch, capsys, "backtest", storage, "--study", "nope", "--rule", "median")
    assert code == 1 and err == "hpo-analytics backtest: error: the Optuna storage has no study 'nope'\n"

    # rank and importance read the same study as the job's own files
    for command in (("rank", "--top", "5", "--json"), ("rank", "--scope", "best", "--json"), ("importance", "--json")):
        code, from_storage, err = here(monkeypatch, capsys, command[0], storage, "--study", "autosearch-sim-00",
                                       *command[1:])
        _, from_files, _ = here(monkeypatch, capsys, command[0], str(job_dir), *command[1:])
        assert code == 0, err
        assert json.loads(from_storage) == json.loads(from_files), command


def test_report_and_backtest_read_a_ray_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    out = run("backtest", str(RAY), "--metric", "mean_accuracy", "--mode", "max", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["rules"][0]["trials"] == 4  # the pending trial has no curve
    report = tmp_path / "ray.html"
    code, _, err = here(monkeypatch, capsys, "report", str(RAY), "--metric", "mean_accuracy", "--mode", "max",
                        "-o", str(report))
    assert code == 0, err
    assert "2f1a3_00001" in report.read_text(encoding="utf-8")


def test_refusals_are_one_line(tmp_path: Path, job_dir: Path, monkeypatch: pytest.MonkeyPatch,
                               capsys: pytest.CaptureFixture[str]) -> None:
    storage = f"sqlite:///{tmp_path / 'theirs.db'}"
    optuna.create_study(storage=storage, study_name="theirs")
    code, _, err = here(monkeypatch, capsys, "export-optuna", str(job_dir), "--storage", storage, "--study", "theirs")
    assert code == 1 and err.count("\n") == 1 and "not written by hpo_analytics" in err
    code, _, err = here(monkeypatch, capsys, "export-optuna", str(job_dir), "--storage", storage, "--interval", "5")
    assert code == 1 and "--interval applies to --follow" in err
    code, _, err = here(monkeypatch, capsys, "backtest", str(job_dir), "--study", "theirs")
    assert code == 1 and "--study applies to an Optuna storage INPUT" in err
    assert optuna.load_study(study_name="theirs", storage=storage).trials == []


def test_follow_exports_a_running_job_until_it_ends(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    import hpo_analytics.cli._optuna as command
    from hpo_analytics.cli import main

    storage = f"sqlite:///{tmp_path / 'live.db'}"
    with Simulator(seed=6, n_trials=10, n_iterations=4, elapsed=60, max_concurrent=3, error_rate=0.0) as sim:
        job_id = sim.job_ids[0]
        waits: list[float] = []

        def sleep(seconds: float) -> None:  # simulated time passes instead of wall-clock time
            waits.append(seconds)
            sim.advance(120)

        monkeypatch.setattr(command, "_sleep", sleep)
        use_sim_env(monkeypatch, sim)
        capsys.readouterr()
        code = main(["export-optuna", job_id, "--follow", "--interval", "30", "--storage", storage, "--json"])
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
        assert code == 0 and sim.job(job_id).phase == "Completed"
    assert len(lines) >= 3 and waits == [30.0] * (len(lines) - 1)  # one export per cycle, the last after the end
    assert lines[0]["added"] == 10 and lines[0]["states"]["WAITING"] > 0 and lines[0]["states"]["RUNNING"] > 0
    assert all(line["added"] == 0 for line in lines[1:])
    # each trial finished later (all 10), a waiting one may first have been seen running
    assert 10 <= sum(line["updated"] for line in lines) <= 10 + lines[0]["states"]["WAITING"]
    assert set(lines[-1]["states"]) <= {"COMPLETE", "FAIL"}
    study = optuna.load_study(study_name="autosearch-sim-00", storage=storage)
    assert len(study.trials) == 10 and all(t.state.is_finished() and len(t.intermediate_values) == 4
                                           for t in study.trials)


def test_follow_stops_when_the_job_was_terminated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import hpo_analytics.cli._optuna as command
    from hpo_analytics.cli import main

    storage = f"sqlite:///{tmp_path / 'ended.db'}"
    with Simulator(seed=7, n_trials=8, n_iterations=6, elapsed=60, max_concurrent=2, error_rate=0.0) as sim:
        job_id = sim.job_ids[0]
        monkeypatch.setattr(command, "_sleep", lambda seconds: sim.end_job(job_id, "Terminated"))
        for key in list(os.environ):
            if key.startswith(("HPO_ANALYTICS_", "HUAWEICLOUD_SDK_")):
                monkeypatch.delenv(key)
        for key, value in {"HPO_ANALYTICS_ENDPOINT": sim.url, "HUAWEICLOUD_SDK_PROJECT_ID": sim.project_id,
                           "HPO_ANALYTICS_TOKEN": sim.token}.items():
            monkeypatch.setenv(key, value)
        capsys.readouterr()
        code = main(["export-optuna", job_id, "--follow", "--storage", storage, "--json"])
        lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    # the second cycle saw the job ended and stopped, although the service still lists unfinished trials
    assert code == 0 and len(lines) == 2 and lines[1]["states"].get("RUNNING", 0) > 0
