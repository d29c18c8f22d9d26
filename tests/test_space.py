"""The declared search space and algorithm of a job (issue #17): parsed from details, carried as JSON metadata."""

from __future__ import annotations

import pytest

from hpo_analytics._space import METADATA_ALGORITHM, METADATA_SPACE, AlgorithmConfig, SearchParam, SearchSpace
from hpo_analytics.errors import SpaceWarning


def _details(params: list, configs: list | None = None) -> dict:
    return {"algorithm": {"policies": {"auto_search": {"search_params": params, "algo_configs": configs or []}}}}


LR = {"name": "lr", "param_type": "continuous", "lower_bound": "0.0001", "upper_bound": "0.1",
      "discrete_points_num": "", "discrete_values": []}
BS = {"name": "batch_size", "param_type": "discrete", "lower_bound": "", "upper_bound": "",
      "discrete_points_num": "5", "discrete_values": ["16", "32", "64", "128", "256"]}
LAYERS = {"name": "layers", "param_type": "Continuous", "lower_bound": "1", "upper_bound": "4"}


def test_the_declared_parameters_are_read_with_their_bounds_values_and_integrality() -> None:
    space = SearchSpace.from_details(_details([LR, BS, LAYERS]))
    assert space is not None and [p.name for p in space] == ["lr", "batch_size", "layers"]
    lr, bs, layers = space.params
    assert (lr.kind, lr.low, lr.high, lr.integer, lr.values, lr.is_discrete) == \
        ("continuous", 0.0001, 0.1, False, None, False)
    assert bs.is_discrete and bs.values == ("16", "32", "64", "128", "256") and bs.points == 5
    assert bs.numeric_values() == (16.0, 32.0, 64.0, 128.0, 256.0)
    assert layers.kind == "continuous" and layers.integer and (layers.low, layers.high) == (1.0, 4.0)
    assert space.get("param/lr") is lr and "batch_size" in space and "momentum" not in space


def test_text_that_is_not_a_number_is_named_never_evaluated() -> None:
    bad = {"name": "x", "param_type": "continuous", "lower_bound": "__import__('os').getcwd()", "upper_bound": "inf"}
    flipped = {"name": "y", "param_type": "continuous", "lower_bound": "5", "upper_bound": "1"}
    x, y = SearchSpace.from_details(_details([bad, flipped])).params
    assert x.low is None and x.high is None and len(x.problems) == 2 and "__import__" in x.problems[0]
    assert y.low is None and y.high is None and "above" in y.problems[0]


def test_entries_without_a_name_are_skipped_with_a_warning_and_no_space_is_none() -> None:
    with pytest.warns(SpaceWarning) as caught:
        space = SearchSpace.from_details(_details([LR, {"param_type": "discrete"}, "junk"]))
    assert ["entry 1 has no name" in str(w.message) for w in caught] == [True, False]
    assert "entry 2 has no name" in str(caught[1].message)
    assert [p.name for p in space] == ["lr"]
    assert SearchSpace.from_details({}) is None and SearchSpace.from_details(_details([])) is None
    assert SearchSpace.from_details(None) is None and AlgorithmConfig.from_details({"algorithm": []}) is None


def test_json_and_metadata_round_trips() -> None:
    space = SearchSpace.from_details(_details([LR, BS, LAYERS]))
    assert SearchSpace.from_json(space.to_json()) == space
    assert SearchSpace.from_metadata({METADATA_SPACE: space.to_json().encode()}) == space
    assert SearchSpace.from_metadata({}) is None and SearchSpace.from_metadata(None) is None
    frame = space.to_frame()
    assert frame["name"].tolist() == ["lr", "batch_size", "layers"] and frame.loc[1, "values"][0] == "16"
    algo = AlgorithmConfig.from_details(_details([LR], [{"name": "bayes_opt_search", "params": [
        {"key": "kind", "value": "ucb", "type": "String"}, {"key": "kappa", "value": 2.5, "type": "Float"}]}]))
    assert algo == AlgorithmConfig("bayes_opt_search", {"kind": "ucb", "kappa": "2.5"})
    assert AlgorithmConfig.from_metadata({METADATA_ALGORITHM: algo.to_json().encode()}) == algo
    assert SearchParam.from_dict(space.params[0].to_dict()) == space.params[0]
