"""Every metric a job declares (its ``reward_attrs``) is recorded in the tables the client fetches.

Over real loopback HTTP against the simulator: the first declared metric
stays the default (``hpo_analytics.metric``/``mode``), all of them go under
``hpo_analytics.metrics``, malformed entries are skipped or recorded without
a mode, and the record survives Parquet and pandas.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import hpo_analytics as ha
from hpo_analytics.client import ModelArtsClient
from hpo_analytics.normalize import METADATA_METRIC, METADATA_METRICS, METADATA_MODE
from hpo_analytics.simulator import Simulator

ACC_LOSS = [{"name": "acc", "mode": "max"}, {"name": "loss", "mode": "min"}]


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=3, n_trials=15, n_iterations=4, auth="token") as s:
        yield s


def client_for(sim: Simulator) -> ModelArtsClient:
    return ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token)


def metrics_of(meta: dict[bytes, bytes] | None) -> Any:
    return json.loads(meta[METADATA_METRICS]) if meta and METADATA_METRICS in meta else None


def test_the_simulated_job_declares_acc_then_loss(sim: Simulator) -> None:
    body = httpx.get(f"{sim.url}/v2/{sim.project_id}/training-jobs/{sim.job_ids[0]}",
                     headers={"X-Auth-Token": sim.token}).json()
    attrs = body["algorithm"]["policies"]["auto_search"]["reward_attrs"]
    assert [(a["name"], a["mode"]) for a in attrs] == [("acc", "max"), ("loss", "min")]
    assert all(a["regex"] for a in attrs)


def test_fetch_records_every_declared_metric_and_keeps_the_first_as_default(sim: Simulator, tmp_path: Path) -> None:
    job = sim.job_ids[0]
    with client_for(sim) as client:
        trials = client.fetch_trials(job)
        curves = client.fetch_curves(job)
    for table in (trials, curves):
        meta = table.schema.metadata
        assert meta[METADATA_METRIC] == b"acc" and meta[METADATA_MODE] == b"max"  # the default: the first
        assert metrics_of(meta) == ACC_LOSS
    # Parquet round trip, then pandas: the record survives both
    back = ha.read_trials(ha.write_parquet(trials, tmp_path / "trials.parquet"))
    assert metrics_of(back.schema.metadata) == ACC_LOSS and back.schema.metadata[METADATA_METRIC] == b"acc"
    curves_back = ha.read_curves(ha.write_parquet(curves, tmp_path / "curves.parquet"))
    assert metrics_of(curves_back.schema.metadata) == ACC_LOSS
    attrs = ha.trials_to_pandas(back).attrs["hpo_analytics"]
    assert json.loads(attrs["metrics"]) == ACC_LOSS and attrs["metric"] == "acc" and attrs["mode"] == "max"
    # the analysis still ranks by the default metric
    assert ha.rank_trials(back).attrs["hpo_analytics.analysis"]["metric"] == "acc"


@pytest.mark.parametrize(
    ("reward_attrs", "metric", "mode", "metrics", "warnings"),
    [
        pytest.param(
            [{"name": "f1", "mode": "MAX", "regex": ""}, {"mode": "min", "regex": "x"}, "loss",
             {"name": "loss", "mode": "down"}, {"name": 3, "mode": "min"}, {"name": "", "mode": "max"},
             {"name": "f1", "mode": "min"}],
            b"f1", b"max", [{"name": "f1", "mode": "max"}, {"name": "loss", "mode": None}],
            ["reward_attrs[1] has no metric name", "reward_attrs[2] has no metric name",
             "reward_attrs[4] has no metric name", "reward_attrs[5] has no metric name",
             "reward_attrs[6] declares 'f1' again"],
            id="nameless-entries-skipped-bad-mode-null-duplicate-skipped",
        ),
        pytest.param(
            [{"name": "loss", "regex": ""}, {"name": "acc", "mode": "max"}],
            b"loss", None, [{"name": "loss", "mode": None}, {"name": "acc", "mode": "max"}], [],
            id="first-without-mode-leaves-the-default-mode-unset",
        ),
        pytest.param(
            [{"mode": "min"}, {"name": "acc", "mode": "max"}],
            None, b"min", [{"name": "acc", "mode": "max"}],
            ["reward_attrs[0] has no metric name", "no default metric recorded"],
            id="first-without-name-no-default-metric",
        ),
        pytest.param([], None, None, None, [], id="none-declared"),
    ],
)
def test_malformed_reward_attrs(sim: Simulator, caplog: pytest.LogCaptureFixture, reward_attrs: list[Any],
                                metric: bytes | None, mode: bytes | None, metrics: Any, warnings: list[str]) -> None:
    job = sim.add_job(n_trials=4, reward_attrs=reward_attrs)
    with caplog.at_level(logging.WARNING, logger="hpo_analytics.client"), client_for(sim) as client:
        trials = client.fetch_trials(job)
    meta = trials.schema.metadata
    assert meta.get(METADATA_METRIC) == metric and meta.get(METADATA_MODE) == mode
    assert metrics_of(meta) == metrics
    assert meta[b"hpo_analytics.table"] == b"trials"  # the normalizer's own keys are kept
    logged = [r.getMessage() for r in caplog.records if r.name == "hpo_analytics.client"]
    assert len(logged) == len(warnings)
    for needle, message in zip(warnings, logged):
        assert needle in message and f"details of job {job}" in message
