"""The CLI records every metric a job declares: from a job directory's ``job.json``, and in what ``fetch`` writes.

Run in this process (``cli.main``), like the variants in test_cli_commands.py;
the report's plots are switched off, since only its text is checked here.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import hpo_analytics as ha
from hpo_analytics.cli._common import read_curves_input, read_trials_input, resolve_input
from hpo_analytics.normalize import METADATA_METRIC, METADATA_METRICS, METADATA_MODE
from hpo_analytics.report import _registry
from hpo_analytics.simulator import Simulator
from test_cli_commands import run_here

ROOT = Path(__file__).resolve().parent.parent
JOB_DIR = ROOT / "data" / "synthetic_job"
ACC_LOSS = [{"name": "acc", "mode": "max"}, {"name": "loss", "mode": "min"}]
RANKING = "Ranked by acc (higher is better). The job also declares: loss (lower is better)."


def metrics_of(table) -> list | None:  # type: ignore[no-untyped-def]
    meta = table.schema.metadata or {}
    return json.loads(meta[METADATA_METRICS]) if METADATA_METRICS in meta else None


def cli(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str,
        env: dict[str, str] | None = None) -> tuple[int, str, str]:
    done = run_here(monkeypatch, capsys, *args, env=env)
    return done.returncode, done.stdout, done.stderr


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=5, n_trials=12, n_iterations=3, auth="token") as s:
        yield s


def test_the_bundled_job_declares_acc_then_loss() -> None:
    job = resolve_input(JOB_DIR)
    for table in (read_trials_input(job), read_curves_input(job)):
        assert metrics_of(table) == ACC_LOSS
        assert table.schema.metadata[METADATA_METRIC] == b"acc" and table.schema.metadata[METADATA_MODE] == b"max"


def test_job_json_with_malformed_entries_warns_once(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    job_dir = tmp_path / "job"
    job_dir.mkdir()
    (job_dir / "trials").symlink_to(JOB_DIR / "trials")
    (job_dir / "histories").symlink_to(JOB_DIR / "histories")
    details = json.loads((JOB_DIR / "job.json").read_text())
    details["algorithm"]["policies"]["auto_search"]["reward_attrs"] = [
        {"name": "acc", "mode": "Max"}, {"regex": "(?<=f1=)[0-9.]+"}, {"name": "loss", "mode": "smaller"}]
    (job_dir / "job.json").write_text(json.dumps(details))
    job = resolve_input(job_dir)
    with caplog.at_level(logging.WARNING, logger="hpo_analytics.client"):
        trials, curves = read_trials_input(job), read_curves_input(job)
    for table in (trials, curves):
        assert metrics_of(table) == [{"name": "acc", "mode": "max"}, {"name": "loss", "mode": None}]
        assert table.schema.metadata[METADATA_METRIC] == b"acc" and table.schema.metadata[METADATA_MODE] == b"max"
    warned = [r.getMessage() for r in caplog.records if r.name == "hpo_analytics.client"]
    assert len(warned) == 1 and "reward_attrs[1] has no metric name" in warned[0]
    assert str(job_dir / "job.json") in warned[0]


def test_a_tables_own_metadata_wins_over_job_json(tmp_path: Path) -> None:
    job_dir = tmp_path / "fetched"
    job_dir.mkdir()
    table = ha.read_trials(ROOT / "data" / "seed_trials.json")
    own = [{"name": "loss", "mode": "min"}]
    ha.write_parquet(table.replace_schema_metadata({**table.schema.metadata,
                                                    METADATA_METRICS: json.dumps(own).encode()}),
                     job_dir / "trials.parquet")
    (job_dir / "job.json").write_text((JOB_DIR / "job.json").read_text())
    read = read_trials_input(job_dir)
    assert metrics_of(read) == own  # what the file records is kept
    assert read.schema.metadata[METADATA_METRIC] == b"acc"  # what it lacks comes from job.json
    ha.write_parquet(table, job_dir / "trials.parquet")  # a file that records no metrics
    assert metrics_of(read_trials_input(job_dir)) == ACC_LOSS


def test_fetch_keeps_every_metric_in_the_parquet_and_report_names_them(
        sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    env = {"HPO_ANALYTICS_ENDPOINT": sim.url, "HUAWEICLOUD_SDK_PROJECT_ID": sim.project_id,
           "HPO_ANALYTICS_TOKEN": sim.token}
    target = tmp_path / "job" / "trials.parquet"
    code, out, err = cli(monkeypatch, capsys, "fetch", sim.job_ids[0], "-o", str(target), "--curves", "--json",
                         env=env)
    assert code == 0, err
    result = json.loads(out)
    assert result["metric"] == "acc" and result["mode"] == "max" and result["metrics"] == ACC_LOSS
    assert metrics_of(pq.read_table(target)) == ACC_LOSS
    assert metrics_of(pq.read_table(tmp_path / "job" / "curves.parquet")) == ACC_LOSS
    monkeypatch.setattr(_registry, "PLOTS", ())
    code, out, err = cli(monkeypatch, capsys, "report", str(tmp_path / "job"), "-o", str(tmp_path / "r.html"))
    assert code == 0, err
    assert f'<p class="sub ranking">{RANKING}</p>' in (tmp_path / "r.html").read_text()


def test_report_of_the_bundled_job_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(_registry, "PLOTS", ())
    code, out, err = cli(monkeypatch, capsys, "report", str(JOB_DIR), str(JOB_DIR / "trials"), "-o",
                         str(tmp_path / "site"))
    assert code == 0, err
    page = (tmp_path / "site" / "autosearch-resnet-example.html").read_text()
    assert f'<p class="sub ranking">{RANKING}</p>' in page
    plain = (tmp_path / "site" / "trials.html").read_text()  # bare pages: no job.json, nothing declared
    assert '<p class="sub ranking">Ranked by reward_attr (higher is better).</p>' in plain
    index = (tmp_path / "site" / "index.html").read_text()
    assert "<th>other metrics</th>" in index and "<td>loss (min)</td>" in index
