"""from_optuna: any Optuna study as trials and curves tables; ModelArts → Optuna → tables loses nothing both keep."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pyarrow as pa
import pytest

import hpo_analytics as ha
from hpo_analytics._space import METADATA_ALGORITHM, METADATA_SPACE, AlgorithmConfig, SearchSpace
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.simulator import Simulator
from hpo_analytics.stopping import MedianStoppingRule, backtest

optuna.logging.set_verbosity(optuna.logging.WARNING)

KEPT = ["trial_id", "trial_index", "status", "training_iteration", "time_total_s", "acc", "loss"]


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    storage = f"sqlite:///{tmp_path_factory.mktemp('round-trip') / 'study.db'}"
    with Simulator(seed=4, n_trials=16, n_iterations=6, elapsed=260, error_rate=0.25, max_concurrent=4) as sim:
        job_id = sim.job_ids[0]
        with ha.ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
            details = client.get_training_job(job_id)
            trials = client.fetch_trials(job_id)
            curves = client.fetch_curves(job_id)
    space, algorithm = SearchSpace.from_details(details), AlgorithmConfig.from_details(details)
    assert space is not None and algorithm is not None
    meta = {**trials.schema.metadata, METADATA_SPACE: space.to_json().encode(),
            METADATA_ALGORITHM: algorithm.to_json().encode(), b"hpo_analytics.job_id": job_id.encode()}
    trials = trials.replace_schema_metadata(meta)
    ha.to_optuna(trials, curves, storage=storage, study_name="rt")
    back_trials, back_curves = ha.from_optuna(storage)  # the storage's only study
    yield {"trials": trials, "curves": curves, "back_trials": back_trials, "back_curves": back_curves,
           "storage": storage}


def _rows(table: pa.Table, columns: list[str]) -> list[tuple[Any, ...]]:
    def norm(v: Any) -> Any:
        return "NaN" if isinstance(v, float) and math.isnan(v) else v

    return [tuple(norm(r.get(c)) for c in columns) for r in table.select(columns).to_pylist()]


def test_trials_come_back_as_they_went(round_trip: dict[str, Any]) -> None:
    trials, back = round_trip["trials"], round_trip["back_trials"]
    assert set(trials.column("status").to_pylist()) == {"TERMINATED", "ERROR", "RUNNING", "PENDING"}
    params = [c for c in trials.column_names if c.startswith("param/")]
    assert [c for c in back.column_names if c.startswith("param/")] == params
    for column in [*KEPT, *params]:
        assert back.schema.field(column).type == trials.schema.field(column).type, column
    assert _rows(back, [*KEPT, *params]) == _rows(trials, [*KEPT, *params])


def test_curves_come_back_as_they_went(round_trip: dict[str, Any]) -> None:
    columns = ["trial_id", "trial_index", "training_iteration", "acc"]
    assert sorted(_rows(round_trip["back_curves"], columns), key=str) == \
        sorted(_rows(round_trip["curves"], columns), key=str)


def test_metadata_comes_back(round_trip: dict[str, Any]) -> None:
    meta = round_trip["trials"].schema.metadata
    for table, kind in ((round_trip["back_trials"], b"trials"), (round_trip["back_curves"], b"curves")):
        back = table.schema.metadata
        for key in (b"hpo_analytics.metric", b"hpo_analytics.mode", b"hpo_analytics.metrics", METADATA_SPACE,
                    METADATA_ALGORITHM, b"hpo_analytics.job_id"):
            assert back[key] == meta[key], key
        assert back[b"hpo_analytics.table"] == kind


def test_ranking_and_backtest_agree_on_the_import(round_trip: dict[str, Any]) -> None:
    # (reports on an imported study: tests/test_optuna_cli.py, through `report sqlite:///…`)
    columns = ["trial_id", "rank", "is_best"]
    assert ha.rank_trials(round_trip["back_trials"])[columns].equals(ha.rank_trials(round_trip["trials"])[columns])
    rules = {"median": MedianStoppingRule(grace_period=2)}
    assert backtest(round_trip["back_curves"], rules).equals(backtest(round_trip["curves"], rules))


def test_a_study_made_by_optuna_reads_as_a_job() -> None:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 1e-3, 1.0, log=True)
        layers = trial.suggest_int("layers", 1, 4)
        act = trial.suggest_categorical("act", ["relu", "tanh"])
        trial.set_user_attr("note", f"run {trial.number}")
        for step in range(1, 6):
            value = (x - 0.1) ** 2 + layers / step
            trial.report(value, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        if act == "tanh" and trial.number % 3 == 0:
            raise RuntimeError("boom")
        return value

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.RandomSampler(seed=1),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1))
    study.optimize(objective, n_trials=20, catch=(RuntimeError,))
    trials, curves = ha.from_optuna(study)
    assert trials.num_rows == 20 and trials.column("trial_id").to_pylist() == [str(i) for i in range(20)]
    assert trials.schema.metadata[b"hpo_analytics.metric"] == b"value"
    assert trials.schema.metadata[b"hpo_analytics.mode"] == b"min"
    assert trials.schema.field("param/layers").type == pa.int64()
    assert trials.schema.field("param/act").type == pa.string()
    status = dict(zip(trials.column("trial_id").to_pylist(), trials.column("status").to_pylist()))
    for t in study.trials:
        want = {"COMPLETE": "TERMINATED", "PRUNED": "TERMINATED", "FAIL": "ERROR"}[t.state.name]
        assert status[str(t.number)] == want
    assert trials.column("user_attr/note").to_pylist() == [f"run {i}" for i in range(20)]
    assert curves.num_rows == sum(len(t.intermediate_values) for t in study.trials)
    space = SearchSpace.from_metadata(trials.schema.metadata)
    assert space is not None and space.get("x").log is True and space.get("act").values == ("relu", "tanh")
    best = ha.rank_trials(trials).iloc[0]
    assert best["trial_id"] == str(study.best_trial.number) and best["value"] == study.best_value


def test_a_multi_objective_study_has_a_column_per_objective() -> None:
    study = optuna.create_study(directions=["maximize", "minimize"])
    with pytest.warns(optuna.exceptions.ExperimentalWarning):
        study.set_metric_names(["acc", "latency"])
    for i in range(4):
        study.add_trial(optuna.trial.create_trial(params={"a": i}, values=[i / 10, 5 - i],
                                                  distributions={"a": optuna.distributions.IntDistribution(0, 9)}))
    trials, _ = ha.from_optuna(study)
    assert trials.column("acc").to_pylist() == [0.0, 0.1, 0.2, 0.3]
    assert trials.column("latency").to_pylist() == [5.0, 4.0, 3.0, 2.0]
    assert json.loads(trials.schema.metadata[b"hpo_analytics.metrics"]) == [
        {"name": "acc", "mode": "max"}, {"name": "latency", "mode": "min"}]


def test_a_storage_with_several_studies_needs_a_name(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    for name in ("a", "b"):
        optuna.create_study(storage=storage, study_name=name)
    with pytest.raises(ConfigurationError, match="holds 2 studies \\('a', 'b'\\)"):
        ha.from_optuna(storage)
    with pytest.raises(ConfigurationError, match="no study 'c'"):
        ha.from_optuna(storage, study_name="c")
    trials, curves = ha.from_optuna(storage, study_name="b")
    assert trials.num_rows == 0 and "trial_id" in trials.column_names and curves.num_rows == 0
