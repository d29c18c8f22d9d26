"""The declared search space and algorithm from the client, in table metadata, through every round trip.

Over real loopback HTTP against the simulator: ``get_search_space`` and
``get_algorithm`` read the job's details; ``fetch_trials`` and
``fetch_curves`` record both beside the metrics; the record survives
Parquet, pandas and a synced dataset; a job directory's ``job.json`` gives
the same record to ``read_trials(dir)``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

import hpo_analytics as ha
from hpo_analytics._frames import algorithm_of, space_of
from hpo_analytics._space import METADATA_ALGORITHM, METADATA_SPACE, AlgorithmConfig, SearchSpace
from hpo_analytics.client import ModelArtsClient
from hpo_analytics.simulator import Simulator

DATA = Path(__file__).resolve().parent.parent / "data" / "synthetic_job"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(seed=5, n_trials=12, n_iterations=3, auth="token") as s:
        s.add_job(n_trials=10, space="gbdt", algorithm="random_search", name="gbdt-job")
        yield s


def client_for(sim: Simulator) -> ModelArtsClient:
    return ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token)


def test_the_client_returns_the_declared_space_and_algorithm_typed(sim: Simulator) -> None:
    default, gbdt = sim.job_ids[0], sim.job_ids[-1]
    with client_for(sim) as client:
        space = client.get_search_space(default)
        algorithm = client.get_algorithm(default)
        details = client.get_training_job(gbdt)
        sent = client.requests_sent
        gbdt_space = client.get_search_space(gbdt, details=details)
        gbdt_algorithm = client.get_algorithm(gbdt, details=details)
        assert client.requests_sent == sent  # details given: nothing read again
    assert isinstance(space, SearchSpace) and [p.name for p in space] == [
        "learning_rate", "batch_size", "optimizer", "dropout", "weight_decay", "seed_offset"]
    bs = space.get("batch_size")
    assert bs.is_discrete and bs.values == ("16", "32", "64", "128", "256")
    lr = space.get("param/learning_rate")
    assert (lr.kind, lr.low, lr.high, lr.is_discrete) == ("continuous", 1e-5, 0.1, False)
    assert algorithm is not None and algorithm.name == "bayes_opt_search" and algorithm.settings
    assert [p.name for p in gbdt_space] == ["learning_rate", "num_leaves", "min_child_samples", "subsample",
                                           "colsample_bytree"]
    assert gbdt_space.get("num_leaves").integer and (gbdt_space.get("num_leaves").low, gbdt_space.get(
        "num_leaves").high) == (8.0, 256.0)
    assert gbdt_algorithm is not None and gbdt_algorithm.name == "random_search"
    frame = space.to_frame()
    assert frame["name"].tolist()[:2] == ["learning_rate", "batch_size"]
    assert frame.loc[1, "values"] == ["16", "32", "64", "128", "256"] and frame.loc[0, "high"] == 0.1


def test_a_job_without_a_declared_space_gives_none(sim: Simulator) -> None:
    details = {"algorithm": {"policies": {"auto_search": {"reward_attrs": [{"name": "acc", "mode": "max"}]}}}}
    with client_for(sim) as client:
        assert client.get_search_space(sim.job_ids[0], details=details) is None
        assert client.get_algorithm(sim.job_ids[0], details=details) is None
        trials = client.fetch_trials(sim.job_ids[0], details=details)
    assert METADATA_SPACE not in trials.schema.metadata and METADATA_ALGORITHM not in trials.schema.metadata
    assert trials.schema.metadata[b"hpo_analytics.metric"] == b"acc"


def test_fetch_records_space_and_algorithm_and_they_survive_parquet_and_pandas(sim: Simulator,
                                                                                tmp_path: Path) -> None:
    job = sim.job_ids[0]
    with client_for(sim) as client:
        space = client.get_search_space(job)
        algorithm = client.get_algorithm(job)
        trials = client.fetch_trials(job)
        curves = client.fetch_curves(job)
    for table in (trials, curves):
        assert SearchSpace.from_metadata(table.schema.metadata) == space
        assert AlgorithmConfig.from_metadata(table.schema.metadata) == algorithm
        assert table.schema.metadata[b"hpo_analytics.metric"] == b"acc"  # beside the metric, not instead
    back = ha.read_trials(ha.write_parquet(trials, tmp_path / "trials.parquet"))
    assert SearchSpace.from_metadata(back.schema.metadata) == space
    assert AlgorithmConfig.from_metadata(back.schema.metadata) == algorithm
    frame = ha.trials_to_pandas(back)
    assert space_of(frame) == space and algorithm_of(frame) == algorithm
    assert json.loads(frame.attrs["hpo_analytics"]["search_space"])[1]["values"][0] == "16"


def test_a_synced_dataset_keeps_each_jobs_space(sim: Simulator, tmp_path: Path) -> None:
    default, gbdt = sim.job_ids[0], sim.job_ids[-1]
    with client_for(sim) as client:
        spaces = {j: client.get_search_space(j) for j in (default, gbdt)}
        ha.sync(client, tmp_path / "ds", job_ids=[default, gbdt])
    for job in (default, gbdt):
        trials = ha.read_trials(tmp_path / "ds", job_id=job)
        curves = ha.read_curves(tmp_path / "ds", job_id=job)
        assert SearchSpace.from_metadata(trials.schema.metadata) == spaces[job]
        assert SearchSpace.from_metadata(curves.schema.metadata) == spaces[job]
        assert AlgorithmConfig.from_metadata(trials.schema.metadata) is not None
    assert spaces[default] != spaces[gbdt]


def test_a_job_directory_records_its_job_json(tmp_path: Path) -> None:
    details = json.loads((DATA / "job.json").read_text(encoding="utf-8"))
    expected = SearchSpace.from_details(details)
    trials = ha.read_trials(DATA)
    curves = ha.read_curves(DATA)
    for table in (trials, curves):
        assert SearchSpace.from_metadata(table.schema.metadata) == expected
        assert AlgorithmConfig.from_metadata(table.schema.metadata) == AlgorithmConfig.from_details(details)
        assert table.schema.metadata[b"hpo_analytics.metric"] == b"acc"
    assert trials.num_rows == ha.read_trials(DATA / "trials").num_rows
    assert curves.num_rows == ha.read_curves(DATA / "histories").num_rows
    assert METADATA_SPACE not in ha.read_trials(DATA / "trials").schema.metadata  # pages alone: no details

    # The Parquet layout: the file's own record wins key by key, job.json fills in the rest.
    job = tmp_path / "job"
    job.mkdir()
    bare = ha.read_trials(DATA / "trials")
    ha.write_parquet(bare.replace_schema_metadata({**bare.schema.metadata, b"hpo_analytics.metric": b"loss"}),
                     job / "trials.parquet")
    shutil.copy(DATA / "job.json", job / "job.json")
    read = ha.read_trials(job)
    assert read.schema.metadata[b"hpo_analytics.metric"] == b"loss"
    assert SearchSpace.from_metadata(read.schema.metadata) == expected
    with pytest.raises(ha.ConfigurationError, match="no curves.parquet"):
        ha.read_curves(job)
    (job / "job.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ha.ConfigurationError, match="job-details JSON"):
        ha.read_trials(job)


def test_the_bundled_job_declares_a_realistic_space() -> None:
    space = SearchSpace.from_details(json.loads((DATA / "job.json").read_text(encoding="utf-8")))
    bs, lr, wd = space.get("batch_size"), space.get("learning_rate"), space.get("weight_decay")
    assert bs.is_discrete and bs.numeric_values() == (16.0, 32.0, 64.0, 128.0, 256.0)
    assert not lr.is_discrete and lr.high / lr.low >= 100 and wd.high / wd.low >= 100  # >= 2 decades
    assert space.get("optimizer").values == ("adam", "sgd", "rmsprop")
    assert all(not p.problems for p in space)


def test_the_simulator_serves_the_space_its_trials_are_drawn_from(sim: Simulator) -> None:
    job = sim.job_ids[-1]
    body = httpx.get(f"{sim.url}/v2/{sim.project_id}/training-jobs/{job}", headers={"X-Auth-Token": sim.token}).json()
    space = SearchSpace.from_details(body)
    with client_for(sim) as client:
        trials = client.fetch_trials(job)
    frame = ha.trials_to_pandas(trials)
    for p in space:
        values = frame[p.column].dropna().astype(float)
        assert ((values >= p.low) & (values <= p.high)).all(), p.name
