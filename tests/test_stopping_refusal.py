"""A metric that cannot be scored is refused -- by every rule's ``decide``, ``backtest`` and ``replay_log``.

Before, a text, boolean or list column (or one with no finite value) became
NaN everywhere: every trial compared as NaN, the replay printed savings, and
nothing said the answer was meaningless.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest

from hpo_analytics.errors import ConfigurationError
from hpo_analytics.stopping import (
    MedianStoppingRule,
    PatienceRule,
    PercentileRule,
    Rule,
    SignificanceRule,
    SuccessiveHalvingRule,
    ThresholdRule,
    backtest,
    replay_log,
)

KW: dict[str, Any] = {"metric": "acc", "mode": "max"}
RULES: dict[str, Callable[[], Rule]] = {
    "median": lambda: MedianStoppingRule(min_samples=1, grace_period=0, **KW),
    "median-ray": lambda: MedianStoppingRule(semantics="ray", min_samples=1, grace_period=0, **KW),
    "percentile": lambda: PercentileRule(25.0, min_samples=1, **KW),
    "asha": lambda: SuccessiveHalvingRule(min_samples=1, **KW),
    "threshold": lambda: ThresholdRule(0.5, grace_period=0, **KW),
    "patience": lambda: PatienceRule(patience=1, **KW),
    "significance": lambda: SignificanceRule(min_samples=1, **KW),
}

IDS = ["t1", "t1", "t2", "t2", "t3", "t3"]
STEPS = [1, 2, 1, 2, 1, 2]

# (metric cells, the Arrow type, how the error names the type)
BAD: dict[str, tuple[list[Any], pa.DataType, str]] = {
    "string": (["0.5", "0.6", "0.4", "0.7", "0.5", "0.5"], pa.string(), "string"),
    "bool": ([True, False, True, True, False, True], pa.bool_(), "bool"),
    "list": ([[0.5, 0.1]] * 6, pa.list_(pa.float64()), "list<item: double>"),
    "all-nan": ([float("nan"), None, float("nan"), float("inf"), None, float("-inf")], pa.float64(),
                "has no finite value"),
}


def table(kind: str) -> pa.Table:
    cells, kind_type, _ = BAD[kind]
    return pa.table({
        "trial_id": pa.array(IDS),
        "trial_index": pa.array([0, 0, 1, 1, 2, 2]),
        "training_iteration": pa.array(STEPS, pa.int64()),
        "done": pa.array([True, True, True, True, False, False]),
        "acc": pa.array(cells, kind_type),
    })


def _refused(call: Callable[[], Any], kind: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        call()
    message = str(info.value)
    assert "'acc'" in message and BAD[kind][2] in message, message


@pytest.mark.parametrize("kind", list(BAD))
@pytest.mark.parametrize("name", list(RULES))
def test_every_rule_refuses_a_metric_it_cannot_score(name: str, kind: str) -> None:
    _refused(lambda: RULES[name]().decide(table(kind)), kind)


@pytest.mark.parametrize("kind", list(BAD))
def test_backtest_and_replay_log_refuse_a_metric_they_cannot_score(kind: str) -> None:
    rules = {name: make() for name, make in RULES.items()}
    assert {type(r) for r in rules.values()} == {MedianStoppingRule, PercentileRule, SuccessiveHalvingRule,
                                                 ThresholdRule, PatienceRule, SignificanceRule}
    _refused(lambda: backtest(table(kind), rules, metric="acc", mode="max"), kind)
    _refused(lambda: replay_log(table(kind), rules["median"], metric="acc", mode="max"), kind)
    # not refused: the same search with one finite value, and a table with no rows (nothing to be wrong about)
    good = table(kind).set_column(4, "acc", pa.array([0.5, None, float("nan"), 0.7, 0.1, 0.2]))
    assert len(backtest(good, rules, metric="acc", mode="max")) == len(rules)
    assert len(RULES["threshold"]().decide(good)) == 1
    assert backtest(good.slice(0, 0), rules, metric="acc", mode="max")["trials"].eq(0).all()


@pytest.mark.parametrize("kind", ["string", "bool", "all-nan"])
def test_pandas_frames_are_refused_too(kind: str) -> None:
    frame = table(kind).to_pandas()
    with pytest.raises(ConfigurationError, match="'acc'"):
        RULES["median"]().decide(frame)
    with pytest.raises(ConfigurationError, match="'acc'"):
        backtest(frame, MedianStoppingRule(), metric="acc", mode="max")
