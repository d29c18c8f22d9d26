"""Issue #12: an analysis asked about a metric it cannot score refuses, naming the column and its type.

A text, boolean or list column, or a numeric one without a single finite
value, used to score every trial NaN, and every trial then shared rank 1.
Each public analysis function must now raise ConfigurationError instead,
while a table with no rows still gives an empty answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import hpo_analytics as ha
from hpo_analytics.analysis import (
    best_so_far,
    best_trials,
    compare_top,
    marginals,
    param_importance,
    pareto_front,
    rank_trials,
    summarize,
)
from hpo_analytics.errors import ConfigurationError

SEED = Path(__file__).resolve().parent.parent / "data" / "seed_trials.json"

#: Columns no trial can be scored by: string, bool, list<double>, and float64 all "nan" (nanm) or all null (blank).
BAD = ("status", "flag", "vec", "nanm", "blank")


def seed_with_bad_columns() -> pa.Table:
    """The seed document's 8 trials plus a vector tensor, an all-"nan", an all-empty and a boolean column."""
    doc = json.loads(SEED.read_text(encoding="utf-8"))
    doc["items"]["header"] += ["vec", "nanm", "blank", "flag"]
    for i, row in enumerate(doc["items"]["data"]):
        row += ["tensor([0.1, 0.2])", "nan", "", "True" if i % 2 else "False"]
    return ha.trials_to_arrow(doc)


TABLE = seed_with_bad_columns()


def type_name(table: Any, column: str) -> str:
    """How the input itself spells the column's type (Arrow type, or the pandas dtype)."""
    return str(table[column].type) if isinstance(table, pa.Table) else str(table[column].dtype)


FUNCTIONS: dict[str, Callable[[Any, str], Any]] = {
    "rank_trials": lambda t, m: rank_trials(t, metric=m),
    "best_trials": lambda t, m: best_trials(t, metric=m),
    "best_so_far": lambda t, m: best_so_far(t, metric=m),
    "param_importance": lambda t, m: param_importance(t, metric=m, n_bootstrap=2),
    "marginals": lambda t, m: marginals(t, "learning_rate", metric=m, n_bootstrap=2),
    "compare_top": lambda t, m: compare_top(t, metric=m, n_bootstrap=10, n_permutations=10),
    "pareto_front (first objective)": lambda t, m: pareto_front(t, {m: "max", "loss": "min"}),
    "pareto_front (second objective)": lambda t, m: pareto_front(t, {"acc": "max", m: "min"}),
    "summarize": lambda t, m: summarize(t, metric=m),
}


@pytest.mark.parametrize("as_pandas", [False, True], ids=["arrow", "pandas"])
@pytest.mark.parametrize("column", BAD)
@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_an_unscorable_metric_is_refused_naming_column_and_type(name: str, column: str, as_pandas: bool) -> None:
    table = ha.trials_to_pandas(TABLE) if as_pandas else TABLE
    with pytest.raises(ConfigurationError) as info:
        FUNCTIONS[name](table, column)
    message = str(info.value)
    assert f"metric column {column!r}" in message
    assert type_name(table, column) in message
    assert ("no finite value" in message) == (column in ("nanm", "blank"))


@pytest.mark.parametrize("name", list(FUNCTIONS))
def test_a_table_without_rows_still_answers(name: str) -> None:
    empty = TABLE.slice(0, 0)
    if name == "param_importance":
        # Every parameter is listed, estimated as nothing: NaN, not a zero-width 0 ("constant" over no value).
        with pytest.warns(ha.InsufficientDataWarning, match="0 scored trial"):
            out = FUNCTIONS[name](empty, "acc")
        assert out["param"].tolist() == ["batch_size", "learning_rate"]
        assert out["importance"].isna().all() and out["rank_stability"].isna().all()
        return
    out = FUNCTIONS[name](empty, "acc")
    if isinstance(out, dict):
        assert out["n_trials"] == 0 and out["best_trial_ids"] == []
    else:
        assert len(out) == 0


def test_a_status_filter_that_keeps_only_unscored_trials_is_refused() -> None:
    frame = ha.trials_to_pandas(TABLE)
    frame.loc[frame["trial_index"] < 2, "status"] = "RUNNING"
    frame.loc[frame["trial_index"] < 2, "acc"] = np.nan
    assert len(rank_trials(frame, metric="acc", statuses={"TERMINATED"})) == 6
    for function in (rank_trials, summarize, best_so_far):
        with pytest.raises(ConfigurationError, match=r"'acc' \(float64\) has no finite value in its 2 row.*statuses="):
            function(frame, metric="acc", statuses={"RUNNING"})
    with pytest.raises(ConfigurationError, match=r"'acc' \(float64\) has no finite value.*statuses="):
        pareto_front(frame, {"loss": "min", "acc": "max"}, statuses={"RUNNING"})


def curves(values: list[float], ids: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"trial_id": ids, "trial_index": [int(i[1:]) for i in ids],
                         "training_iteration": list(range(1, len(values) + 1)), "acc": values})


def test_curve_scores_without_a_finite_value_are_refused() -> None:
    trials = pd.DataFrame({"trial_id": ["t0", "t1"], "trial_index": [0, 1], "acc": [0.5, 0.7]})
    # The curves hold numbers, but none for these trials: scope="best" would score both NaN.
    elsewhere = curves([0.1, 0.2], ["t7", "t7"])
    with pytest.raises(ConfigurationError, match=r"'acc' \(float64\) has no finite value.*scope='best'"):
        rank_trials(trials, metric="acc", scope="best", curves=elsewhere)
    text = curves([0.1, 0.2], ["t0", "t1"]).assign(acc=["0.1", "0.2"])
    with pytest.raises(ConfigurationError, match=r"metric column 'acc' is of type"):
        rank_trials(trials, metric="acc", scope="mean_last_k", curves=text)
    with pytest.raises(ConfigurationError, match=r"metric column 'acc' is of type"):
        compare_top(trials, metric="acc", curves=text)
    # A trial table whose own cells are empty, scored from its curves, is fine.
    ranked = rank_trials(trials.assign(acc=np.nan), metric="acc", scope="best",
                         curves=curves([0.1, 0.3], ["t0", "t1"]))
    assert ranked["trial_id"].tolist() == ["t1", "t0"] and ranked["rank"].tolist() == [1, 2]


def test_a_curve_table_whose_every_value_is_nan_is_refused() -> None:
    with pytest.raises(ConfigurationError, match=r"'acc' \(float64\) has no finite value in its 3 row"):
        rank_trials(curves([np.nan, np.nan, np.nan], ["t0", "t0", "t1"]), metric="acc")
