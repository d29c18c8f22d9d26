"""The small statistics under the analysis layer, by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from hpo_analytics.analysis.stats import bootstrap_mean_ci, rank_sum_test, rankdata, spearman
from hpo_analytics.errors import ConfigurationError


def test_rankdata_averages_ties() -> None:
    assert rankdata(np.array([10.0, 20.0, 10.0, 5.0])).tolist() == [2.5, 4.0, 2.5, 1.0]
    assert rankdata(np.array([])).tolist() == []


def test_spearman_by_hand() -> None:
    # d = [0, -1, 1, 0]: rho = 1 - 6 * 2 / (4 * 15) = 0.8
    assert spearman(np.array([1, 2, 3, 4]), np.array([1, 3, 2, 4])) == pytest.approx(0.8)
    assert spearman(np.array([1, 2, 3]), np.array([3, 2, 1])) == pytest.approx(-1.0)
    assert math.isnan(spearman(np.array([1, 1, 1]), np.array([1, 2, 3])))
    assert math.isnan(spearman(np.array([1.0]), np.array([2.0])))
    with pytest.raises(ConfigurationError):
        spearman(np.array([1, 2]), np.array([1]))


def test_bootstrap_mean_ci() -> None:
    assert bootstrap_mean_ci(np.array([2.0, 2.0, 2.0])) == (2.0, 2.0)
    assert bootstrap_mean_ci(np.array([3.0, math.nan])) == (3.0, 3.0)
    low, high = bootstrap_mean_ci(np.array([math.nan]))
    assert math.isnan(low) and math.isnan(high)
    low, high = bootstrap_mean_ci(np.arange(100.0), n_bootstrap=500)
    assert low < 49.5 < high and high - low < 25


def test_rank_sum_exact_small_case() -> None:
    # best [3, 4] vs other [1, 2]: U = 4 of 4 pairs; of the C(4, 2) = 6 splits only one reaches it.
    p, effect = rank_sum_test(np.array([3.0, 4.0]), np.array([1.0, 2.0]))
    assert p == pytest.approx(1 / 6)
    assert effect == 1.0
    # [2, 4] vs [1, 3]: U = 3; splits with rank sum >= 6: {3,4}, {2,4} -> 2/6.
    p, effect = rank_sum_test(np.array([2.0, 4.0]), np.array([1.0, 3.0]))
    assert p == pytest.approx(2 / 6)
    assert effect == 0.75


def test_rank_sum_ties_nan_and_empty() -> None:
    p, effect = rank_sum_test(np.array([1.0, 1.0]), np.array([1.0, 1.0, math.nan]))
    assert p == 1.0 and effect == 0.5
    p, effect = rank_sum_test(np.array([]), np.array([1.0]))
    assert math.isnan(p) and math.isnan(effect)


def test_rank_sum_monte_carlo_when_many_splits() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(1.0, 1.0, 30), rng.normal(0.0, 1.0, 30)
    p, effect = rank_sum_test(a, b, n_permutations=2000)
    assert p < 0.01 and effect > 0.7
    p_null, _ = rank_sum_test(b, a, n_permutations=2000)
    assert p_null > 0.9
