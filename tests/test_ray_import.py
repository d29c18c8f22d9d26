"""read_ray_results: a Ray Tune 2.x experiment directory (tests/data/ray_experiment) as trials and curves tables.

The fixture follows Ray's documented layout: one directory per trial with
``params.json``, ``result.json`` (JSON lines, ``config`` inside) and
``progress.csv`` (flattened with ``/``, no config); trial 0 finished, trial 1
was stopped early by a scheduler (``done`` on its last row, a shorter curve),
trial 2 failed (``error.txt``), trial 3 is running and has only
``progress.csv``, trial 4 is pending (only ``params.json``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import optuna
import pyarrow as pa
import pytest

import hpo_analytics as ha
from hpo_analytics.errors import ConfigurationError, ParseWarning

RAY = Path(__file__).resolve().parent / "data" / "ray_experiment"
IDS = [f"2f1a3_{i:05d}" for i in range(5)]


def test_trials_statuses_and_flattened_params() -> None:
    trials, _ = ha.read_ray_results(RAY, metric="mean_accuracy", mode="max")
    assert trials.column("trial_id").to_pylist() == IDS
    assert trials.column("trial_index").to_pylist() == [0, 1, 2, 3, 4]
    assert trials.column("status").to_pylist() == ["TERMINATED", "TERMINATED", "ERROR", "RUNNING", "PENDING"]
    assert trials.column("training_iteration").to_pylist() == [6, 2, 1, 3, None]
    assert trials.schema.field("training_iteration").type == pa.int64()
    assert trials.column("param/lr").to_pylist() == [0.001, 0.1, 0.03, 0.0003, 0.01]
    assert trials.column("param/model/name").to_pylist() == ["cnn", "mlp", "cnn", "mlp", "cnn"]
    assert trials.column("param/optimizer/momentum").to_pylist() == [0.9, 0.5, 0.99, 0.9, 0.7]
    assert json.loads(trials.column("param/model/layers")[1].as_py()) == [64, 32]  # lists as JSON text
    assert trials.column("param/batch_size").type == pa.int64()
    assert "val/acc" in trials.column_names and "config" not in trials.column_names
    last = [json.loads(line) for line in
            next(RAY.glob("*_00000_*")).joinpath("result.json").read_text().splitlines()][-1]
    assert trials.column("mean_accuracy")[0].as_py() == last["mean_accuracy"]
    assert trials.schema.metadata[b"hpo_analytics.metric"] == b"mean_accuracy"


def test_curves_from_result_json_and_progress_csv() -> None:
    _, curves = ha.read_ray_results(RAY)
    per_trial = {}
    for row in curves.to_pylist():
        per_trial.setdefault(row["trial_id"], []).append(row["training_iteration"])
    assert per_trial == {IDS[0]: [1, 2, 3, 4, 5, 6], IDS[1]: [1, 2], IDS[2]: [1], IDS[3]: [1, 2, 3]}
    csv_rows = [r for r in curves.to_pylist() if r["trial_id"] == IDS[3]]  # read from progress.csv
    assert [r["done"] for r in csv_rows] == [False, False, False]
    assert csv_rows[-1]["mean_accuracy"] == 0.410656 and csv_rows[-1]["val/acc"] == 0.390656
    assert curves.schema.metadata[b"hpo_analytics.table"] == b"curves"


def test_ranking_backtest_and_optuna_export_work_on_ray_results(tmp_path: Path) -> None:
    trials, curves = ha.read_ray_results(RAY, metric="mean_accuracy", mode="max")
    ranked = ha.rank_trials(trials)
    assert ranked["trial_id"].tolist()[:3] == [IDS[1], IDS[2], IDS[0]]
    storage = f"sqlite:///{tmp_path / 'ray.db'}"
    summary = ha.to_optuna(trials, curves, storage=storage, study_name="ray")
    assert summary.added == 5
    study = optuna.load_study(study_name="ray", storage=storage)
    states = {t.user_attrs["trial_id"]: t.state.name for t in study.trials}
    # trial 1's curve is shorter than the longest finished one: stopped early -> PRUNED
    assert states == dict(zip(IDS, ["COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING"]))
    assert study.trials[0].params["model/name"] == "cnn"
    assert study.trials[0].distributions["lr"].log  # 0.0003 .. 0.1: inferred log


def test_a_line_cut_short_is_skipped_and_bad_paths_are_refused(tmp_path: Path) -> None:
    root = tmp_path / "exp"
    shutil.copytree(RAY, root)
    result = next(root.glob("*_00000_*")) / "result.json"
    result.write_text(result.read_text() + '{"mean_accuracy": 0.9, "training_it', encoding="utf-8")
    with pytest.warns(ParseWarning, match="last line"):
        trials, _ = ha.read_ray_results(root)
    assert trials.column("training_iteration")[0].as_py() == 6
    with pytest.raises(ConfigurationError, match="not a directory"):
        ha.read_ray_results(result)
    with pytest.raises(ConfigurationError, match="no Ray Tune trial directory"):
        ha.read_ray_results(tmp_path / "exp" / next(root.glob("*_00004_*")).name)
    with pytest.raises(ConfigurationError, match="no metric 'accuracy'"):
        ha.read_ray_results(RAY, metric="accuracy")
