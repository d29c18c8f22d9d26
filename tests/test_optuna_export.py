"""to_optuna: a simulated ModelArts job (over loopback HTTP) exported to an Optuna study and read back with Optuna.

One running job is exported, its clock advanced and exported again, then
once more with nothing new; every trial's parameters, value, intermediate
values, state and user attributes are compared with the tables, and Optuna's
own plots run on the study.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
import pyarrow as pa
import pytest

import hpo_analytics as ha
from hpo_analytics._space import METADATA_ALGORITHM, METADATA_SPACE, AlgorithmConfig, SearchSpace
from hpo_analytics.errors import ConfigurationError, SpaceWarning
from hpo_analytics.interop import ExportSummary, to_optuna
from hpo_analytics.simulator import Simulator
from hpo_analytics.stopping import Ledger

optuna.logging.set_verbosity(optuna.logging.WARNING)
State = optuna.trial.TrialState


def with_job(table: pa.Table, details: dict[str, Any], job_id: str) -> pa.Table:
    """The table with the job's declared space, algorithm, id and name in its metadata."""
    space = SearchSpace.from_details(details)
    algorithm = AlgorithmConfig.from_details(details)
    assert space is not None and algorithm is not None
    meta = {METADATA_SPACE: space.to_json().encode(), METADATA_ALGORITHM: algorithm.to_json().encode(),
            b"hpo_analytics.job_id": job_id.encode(),
            b"hpo_analytics.job_name": details["metadata"]["name"].encode()}
    return table.replace_schema_metadata({**meta, **(table.schema.metadata or {})})


class Exported:
    """The job's tables at each export, the summaries and the study."""

    def __init__(self, root: Path) -> None:
        self.storage = f"sqlite:///{root / 'study.db'}"
        self.state_dir = root / "watch"
        self.tables: list[tuple[pa.Table, pa.Table]] = []
        self.summaries: list[ExportSummary] = []
        self.snapshots: list[list[optuna.trial.FrozenTrial]] = []  # the study's trials after each export

    def study(self) -> optuna.Study:
        return optuna.load_study(study_name="sim-job", storage=self.storage)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Exported]:
    out = Exported(tmp_path_factory.mktemp("optuna-export"))
    with Simulator(seed=2, n_trials=16, n_iterations=6, elapsed=260, error_rate=0.25, max_concurrent=4) as sim:
        job_id = sim.job_ids[0]
        with ha.ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
            details = client.get_training_job(job_id)
            listed = client.fetch_trials(job_id).to_pandas()
            running = listed[listed["status"] == "RUNNING"]["trial_id"].tolist()
            finished = listed[(listed["status"] == "TERMINATED") & listed["acc"].notna()]["trial_id"].tolist()
            out.early_stopped = running[0]
            assert client.early_stop(job_id, out.early_stopped).outcome == "stopped"
            out.ledger_stopped = finished[0]  # the watch stopped it (say) at its last step
            with Ledger(out.state_dir) as ledger:
                ledger.record(job_id, "stopped", time=1.0, trial_id=out.ledger_stopped, rule="median")
                ledger.record(job_id, "dry_run", time=1.0, trial_id=finished[1], rule="median")  # not a stop

            def export() -> None:
                trials = with_job(client.fetch_trials(job_id), details, job_id)
                curves = client.fetch_curves(job_id)
                out.tables.append((trials, curves))
                out.summaries.append(to_optuna(trials, curves, storage=out.storage, study_name="sim-job",
                                               state_dir=out.state_dir))
                out.snapshots.append(out.study().get_trials())

            export()
            sim.advance(200)
            export()
            export()
        out.job_id = job_id
        yield out


def expected_state(row: dict[str, Any], exported: Exported) -> State:
    status = row["status"]
    if status == "ERROR":
        return State.FAIL
    if status == "PENDING":
        return State.WAITING
    if status == "RUNNING":
        return State.RUNNING
    assert status == "TERMINATED"
    if row["trial_id"] in (exported.early_stopped, exported.ledger_stopped):
        return State.PRUNED
    return State.COMPLETE if row["acc"] is not None and math.isfinite(row["acc"]) else State.FAIL


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_study(exported: Exported, index: int) -> None:
    """Every trial of the table at export ``index`` is in the study as it should be."""
    trials, curves = exported.tables[index]
    snapshot = exported.snapshots[index]
    by_id = {t.user_attrs["trial_id"]: t for t in snapshot}
    rows = trials.to_pylist()
    assert len(snapshot) == len(rows) == len(by_id)  # one Optuna trial per trial_id, none twice
    points: dict[str, dict[int, float]] = {}
    for p in curves.to_pylist():
        points.setdefault(p["trial_id"], {})[p["training_iteration"]] = math.nan if p["acc"] is None else p["acc"]
    for row in rows:
        t = by_id[row["trial_id"]]
        want = expected_state(row, exported)
        assert t.state == want, (row["trial_id"], row["status"], t.state)
        assert t.user_attrs["trial_index"] == row["trial_index"]
        assert t.user_attrs["status"] == row["status"]
        assert t.params == {k.removeprefix("param/"): v for k, v in row.items()
                            if k.startswith("param/") and v is not None}
        if want == State.COMPLETE or (want == State.PRUNED and row["acc"] is not None):
            assert t.value == row["acc"]
        else:
            assert t.value is None
        got = t.intermediate_values
        assert set(got) == set(points.get(row["trial_id"], {}))
        assert all(_same(got[s], v) for s, v in points.get(row["trial_id"], {}).items())


def test_every_trial_is_exported_with_params_values_steps_and_state(exported: Exported) -> None:
    first = exported.summaries[0]
    assert first.added == 16 and first.updated == 0 and first.unchanged == 0
    assert first.steps_added == exported.tables[0][1].num_rows
    check_study(exported, 0)
    states = {t.state for t in exported.snapshots[0]}
    assert states == {State.COMPLETE, State.FAIL, State.PRUNED, State.RUNNING, State.WAITING}


def test_the_study_records_the_job(exported: Exported) -> None:
    study = exported.study()
    assert study.direction == optuna.study.StudyDirection.MAXIMIZE
    attrs = study.user_attrs
    assert attrs["job_id"] == exported.job_id and attrs["job_name"] == "autosearch-sim-00"
    assert attrs["metric"] == "acc" and attrs["mode"] == "max"
    assert attrs["metrics"] == [{"name": "acc", "mode": "max"}, {"name": "loss", "mode": "min"}]
    assert attrs["algorithm"]["name"] == "bayes_opt_search"
    assert [p["name"] for p in attrs["search_space"]][:3] == ["learning_rate", "batch_size", "optimizer"]
    assert attrs["hpo_analytics"]["format"] == 1


def test_distributions_come_from_the_declared_space(exported: Exported) -> None:
    dists = next(t for t in exported.study().trials if len(t.distributions) == 6).distributions
    FD, ID, CD = (optuna.distributions.FloatDistribution, optuna.distributions.IntDistribution,
                  optuna.distributions.CategoricalDistribution)
    assert dists["learning_rate"] == FD(1e-5, 0.1, log=True)       # four decades: log
    assert dists["weight_decay"] == FD(1e-6, 0.01, log=True)
    assert dists["dropout"] == FD(0.0, 0.6)                         # starts at 0: linear
    assert dists["batch_size"] == CD((16, 32, 64, 128, 256))        # declared values, as numbers
    assert dists["optimizer"] == CD(("adam", "sgd", "rmsprop"))
    assert dists["seed_offset"] == ID(0, 99)                        # integer bounds, integer values


def test_reexport_adds_only_new_trials_steps_and_state_changes(exported: Exported) -> None:
    (t1, c1), (t2, c2), _ = exported.tables
    second, third = exported.summaries[1], exported.summaries[2]
    before = {r["trial_id"]: r for r in t1.to_pylist()}
    after = t2.to_pylist()
    new = [r for r in after if r["trial_id"] not in before]
    changed = [r for r in after if r["trial_id"] in before and r["status"] != before[r["trial_id"]]["status"]]
    assert second.added == len(new)
    assert second.updated == len(changed) > 0
    assert second.steps_added == c2.num_rows - c1.num_rows > 0  # finished trials' curves do not grow
    assert second.conflicts == ()
    check_study(exported, 1)
    assert (third.added, third.updated, third.steps_added, third.unchanged) == (0, 0, 0, t2.num_rows)


def test_optuna_plots_run_on_the_study(exported: Exported) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from io import BytesIO

    # optuna.visualization.matplotlib: the same three plots without plotly
    from optuna.visualization import matplotlib as ovm

    study = exported.study()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        history = ovm.plot_optimization_history(study)
        intermediate = ovm.plot_intermediate_values(study)
        importance = ovm.plot_param_importances(
            study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())  # the default needs scikit-learn
    assert len(history.collections[0].get_offsets()) == sum(t.state == State.COMPLETE for t in study.trials)
    assert len(intermediate.get_lines()) == sum(bool(t.intermediate_values) for t in study.trials
                                                if t.state in (State.COMPLETE, State.PRUNED, State.RUNNING))
    assert {tick.get_text() for tick in importance.get_yticklabels()} <= {
        "learning_rate", "batch_size", "optimizer", "dropout", "weight_decay", "seed_offset"}
    for ax in (history, intermediate, importance):
        ax.figure.savefig(BytesIO(), format="png")


def test_optuna_visualization_plotly_figures_run_on_the_study(exported: Exported) -> None:
    """``optuna.visualization`` itself (plotly, what optuna-dashboard users know) draws the exported study."""
    from optuna import visualization as ov

    study = exported.study()
    history = ov.plot_optimization_history(study)
    intermediate = ov.plot_intermediate_values(study)
    importance = ov.plot_param_importances(study, evaluator=optuna.importance.PedAnovaImportanceEvaluator())
    completed = [t for t in study.trials if t.state == State.COMPLETE]
    assert len(history.data[0].x) == len(completed)
    assert sorted(history.data[0].y) == sorted(t.value for t in completed)
    with_steps = [t for t in study.trials if t.intermediate_values
                  and t.state in (State.COMPLETE, State.PRUNED, State.RUNNING)]
    assert len(intermediate.data) == len(with_steps)
    assert set(importance.data[0].y) <= set(study.trials[0].distributions) | {
        "learning_rate", "batch_size", "optimizer", "dropout", "weight_decay", "seed_offset"}
    for figure in (history, intermediate, importance):
        assert figure.to_json()  # a complete figure, serialisable as optuna-dashboard's front end needs


# ---------------------------------------------------------------------- refusals, spaces, the extra


def _small(status: list[str] | None = None, **params: list[Any]) -> pa.Table:
    n = len(next(iter(params.values())))
    status = status or ["TERMINATED"] * n
    columns = {"trial_id": [f"t{i}" for i in range(n)], "trial_index": list(range(n)), "status": status,
               "training_iteration": [3] * n, "acc": [0.5 + i / 100 for i in range(n)],
               **{f"param/{k}": v for k, v in params.items()}}
    return pa.table(columns).replace_schema_metadata({b"hpo_analytics.metric": b"acc", b"hpo_analytics.mode": b"max"})


def _declared(table: pa.Table, *entries: dict[str, Any]) -> pa.Table:
    space = SearchSpace.from_details({"algorithm": {"policies": {"auto_search": {"search_params": list(entries)}}}})
    assert space is not None
    return table.replace_schema_metadata({**table.schema.metadata, METADATA_SPACE: space.to_json().encode()})


def test_a_study_not_written_by_us_is_refused_and_left_alone(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    optuna.create_study(storage=storage, study_name="mine", direction="maximize")
    with pytest.raises(ConfigurationError, match="not written by hpo_analytics"):
        to_optuna(_small(lr=[0.1, 0.2]), storage=storage, study_name="mine")
    assert optuna.load_study(study_name="mine", storage=storage).trials == []
    to_optuna(_small(lr=[0.1, 0.2]), storage=storage, study_name="ours")
    with pytest.raises(ConfigurationError, match="holds job 'job-1', not 'job-2'"):
        _export_as_other_job(storage)
    with pytest.raises(ConfigurationError, match="minimize"):
        to_optuna(_small(lr=[0.1, 0.2]), storage=storage, study_name="ours", mode="min")
    with pytest.raises(ConfigurationError, match="study_name is needed"):
        to_optuna(_small(lr=[0.1]), storage=storage)


def _export_as_other_job(storage: str) -> None:
    """Export job-1 to a study, then job-2 to the same study name."""
    table = _small(lr=[0.1, 0.2])
    meta = {**table.schema.metadata, b"hpo_analytics.job_id": b"job-1"}
    to_optuna(table.replace_schema_metadata(meta), storage=storage, study_name="job-study")
    meta[b"hpo_analytics.job_id"] = b"job-2"
    to_optuna(table.replace_schema_metadata(meta), storage=storage, study_name="job-study")


def test_values_outside_the_declared_space_are_flagged_and_widened_or_refused(tmp_path: Path) -> None:
    table = _declared(_small(lr=[0.001, 0.5, 0.01], opt=["adam", "lamb", "sgd"]),
                      {"name": "lr", "param_type": "continuous", "lower_bound": "1e-4", "upper_bound": "0.1"},
                      {"name": "opt", "param_type": "discrete", "discrete_values": ["adam", "sgd"]})
    storage = f"sqlite:///{tmp_path / 's.db'}"
    with pytest.warns(SpaceWarning) as record:
        to_optuna(table, storage=storage, study_name="w")
    messages = [str(w.message) for w in record]
    assert any("'lr'" in m and "t1" in m and "bounds" in m for m in messages)
    assert any("'opt'" in m and "t1" in m and "lamb" in m for m in messages)
    trial = optuna.load_study(study_name="w", storage=storage).trials[1]
    assert trial.params == {"lr": 0.5, "opt": "lamb"}
    assert trial.distributions["lr"] == optuna.distributions.FloatDistribution(1e-4, 0.5, log=True)
    assert trial.distributions["opt"].choices == ("adam", "sgd", "lamb")
    with pytest.raises(ConfigurationError, match="'lr'.*t1"):
        to_optuna(table, storage=storage, study_name="r", out_of_space="raise")
    assert optuna.get_all_study_names(storage) == ["w"]  # refused before anything was written
    doubled = pa.concat_tables([_small(lr=[0.1]), _small(lr=[0.2])])
    with pytest.raises(ConfigurationError, match="trial ids repeat in the table \\(t0\\)"):
        to_optuna(doubled, storage=storage, study_name="d")


def test_a_value_a_log_scale_cannot_hold_is_left_out_of_its_trial(tmp_path: Path) -> None:
    table = _declared(_small(lr=[0.001, 0.0, 0.01]),
                      {"name": "lr", "param_type": "continuous", "lower_bound": "1e-4", "upper_bound": "0.1"})
    storage = f"sqlite:///{tmp_path / 's.db'}"
    with pytest.warns(SpaceWarning, match="'lr': trial\\(s\\) t1 hold values a log scale cannot"):
        to_optuna(table, storage=storage, study_name="z")
    trials = optuna.load_study(study_name="z", storage=storage).trials
    assert [t.params for t in trials] == [{"lr": 0.001}, {}, {"lr": 0.01}]
    assert trials[0].distributions["lr"] == optuna.distributions.FloatDistribution(1e-4, 0.1, log=True)


def test_undeclared_parameters_are_inferred(tmp_path: Path) -> None:
    lrs = [1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2]
    table = _small(lr=lrs, depth=[2, 3, 4, 5, 6, 7, 8, 9], act=["relu", "gelu"] * 4, frac=[0.1 * i for i in range(8)])
    storage = f"sqlite:///{tmp_path / 's.db'}"
    to_optuna(table, storage=storage, study_name="i")
    d = optuna.load_study(study_name="i", storage=storage).trials[0].distributions
    assert d["lr"] == optuna.distributions.FloatDistribution(1e-5, 3e-2, log=True)
    assert d["depth"] == optuna.distributions.IntDistribution(2, 9)
    assert d["act"] == optuna.distributions.CategoricalDistribution(("relu", "gelu"))
    assert d["frac"] == optuna.distributions.FloatDistribution(0.0, 0.7000000000000001)


def test_without_optuna_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(ConfigurationError, match=r"pip install 'hpo-analytics\[optuna\]'"):
        to_optuna(_small(lr=[0.1]), storage="sqlite:///never.db", study_name="x")
    with pytest.raises(ConfigurationError, match=r"hpo-analytics\[optuna\]"):
        ha.from_optuna("sqlite:///never.db")
    assert not Path("never.db").exists()


def test_a_fetched_job_names_its_own_study(tmp_path: Path) -> None:
    """fetch_trials records the job's id and name, so to_optuna needs no study_name for a job from the service."""
    with Simulator(seed=3, n_trials=6, n_iterations=3) as sim, \
            ha.ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
        job = sim.job_ids[0]
        details = client.get_training_job(job)
        trials = client.fetch_trials(job)
    storage = f"sqlite:///{tmp_path / 'named.db'}"
    summary = ha.to_optuna(trials, storage=storage)
    study = optuna.load_study(study_name=details["metadata"]["name"], storage=storage)
    assert summary.added == 6 and study.user_attrs["job_id"] == job
