"""Metric defaults shared by analysis, stopping and plots."""

from __future__ import annotations

from pathlib import Path

import pytest

import hpo_analytics as ha
from hpo_analytics._frames import as_frame, resolve_metric
from hpo_analytics.errors import ConfigurationError

DATA = Path(__file__).resolve().parent.parent / "data"


def test_defaults_metadata_then_reward_attr() -> None:
    table = ha.read_trials(DATA / "seed_trials.json")
    assert resolve_metric(table) == ("reward_attr", "max")
    tagged = table.replace_schema_metadata({**table.schema.metadata, b"hpo_analytics.metric": b"loss",
                                            b"hpo_analytics.mode": b"min"})
    assert resolve_metric(tagged) == ("loss", "min")
    assert resolve_metric(as_frame(tagged)) == ("loss", "min")  # frames keep it in attrs
    assert resolve_metric(tagged, "acc", "max") == ("acc", "max")


def test_unknown_metric_lists_available_columns() -> None:
    table = ha.read_trials(DATA / "seed_trials.json")
    with pytest.raises(ConfigurationError, match="no metric column 'accuracy'; available: .*acc"):
        resolve_metric(table, "accuracy")
    with pytest.raises(ConfigurationError, match="mode"):
        resolve_metric(table, "acc", "maximize")
    with pytest.raises(ConfigurationError):
        as_frame([1, 2])
