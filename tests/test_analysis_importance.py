"""param_importance: hand cases per method, the fANOVA tree decomposition, and correctness over seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import hpo_analytics as ha
from hpo_analytics.analysis import param_importance
from hpo_analytics.analysis._common import encode_param, is_log_scale
from hpo_analytics.analysis.importance import IMPORTANCE_COLUMNS, _fit_tree, _tree_main_effects
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.synthetic import GROUND_TRUTH, generate_pages


def frame(y: list[float], **params: list) -> pd.DataFrame:
    data = {"trial_id": [f"t{i}" for i in range(len(y))], "trial_index": range(len(y)), "reward_attr": y}
    data.update({f"param/{k}": v for k, v in params.items()})
    return pd.DataFrame(data)


def test_spearman_by_hand() -> None:
    # rho(a, y) = 0.8, rho(b, y) = 0.4 (see test_analysis_stats): rho^2 = 0.64, 0.16 -> 0.8, 0.2.
    f = frame([1, 3, 2, 4], a=[1, 2, 3, 4], b=[1, 2, 4, 3], c=[7, 7, 7, 7])
    out = param_importance(f, method="spearman", n_bootstrap=20)
    assert list(out.columns) == list(IMPORTANCE_COLUMNS)
    assert out["param"].tolist() == ["a", "b", "c"]
    assert out["importance"].tolist() == pytest.approx([0.8, 0.2, 0.0])
    assert out["rank"].tolist() == [1, 2, 3]
    assert out["kind"].tolist() == ["numeric", "numeric", "constant"]
    assert (out["ci_low"] <= out["importance"]).all() and (out["importance"] <= out["ci_high"]).all()
    assert out.loc[2, ["ci_low", "ci_high"]].tolist() == [0.0, 0.0]


def test_binned_by_hand() -> None:
    # p: groups a -> [1, 3], b -> [3, 5]: SST 8, SSB 4, MSW 2, epsilon^2 = (4 - 2) / 8 = 0.25 > 0.
    # q: c -> [1, 5], d -> [3, 3]: SSB 0 -> 0. Normalised: p = 1, q = 0.
    f = frame([1, 3, 3, 5], p=["a", "a", "b", "b"], q=["c", "d", "d", "c"])
    out = param_importance(f, method="binned", n_bootstrap=10)
    assert out.set_index("param")["importance"].to_dict() == {"p": 1.0, "q": 0.0}
    assert out["kind"].tolist() == ["categorical", "categorical"]


def test_constant_parameters_and_constant_metric_give_zeros() -> None:
    f = frame([0.5, 0.5, 0.5], a=[1.0, 2.0, 3.0], b=["x", "x", "x"])
    for method in ("fanova", "binned", "spearman"):
        out = param_importance(f, method=method, n_bootstrap=2)
        assert out["importance"].tolist() == [0.0, 0.0]
        assert out.set_index("param")["kind"].to_dict() == {"a": "numeric", "b": "constant"}


def test_errors() -> None:
    f = frame([1.0, 2.0], a=[1, 2])
    with pytest.raises(ConfigurationError, match="method"):
        param_importance(f, method="shap")
    with pytest.raises(ConfigurationError, match="n_bootstrap"):
        param_importance(f, n_bootstrap=0)
    with pytest.raises(ConfigurationError, match="no parameter 'z'; available: a"):
        param_importance(f, params=["z"])
    with pytest.raises(ConfigurationError, match="no metric column"):
        param_importance(f, metric="acc")


def test_tree_main_effects_by_hand() -> None:
    # One split on x0 at 0.5: leaves 0 and 1 -> all variance is x0's.
    low = np.array([[0.0, 0.0], [0.5, 0.0]])
    high = np.array([[0.5, 1.0], [1.0, 1.0]])
    assert _tree_main_effects(low, high, np.array([0.0, 1.0])).tolist() == pytest.approx([1.0, 0.0])
    # Additive 2x2 grid, value = a_i + b_j with a = (0, 2), b = (0, 1): total variance 1.25,
    # x0's marginal (0.5, 2.5) has variance 1, x1's (1, 2) has 0.25 -> shares 0.8 and 0.2.
    low = np.array([[0, 0], [0, 0.5], [0.5, 0], [0.5, 0.5]])
    high = low + 0.5
    values = np.array([0.0, 1.0, 2.0, 3.0])
    assert _tree_main_effects(low, high, values).tolist() == pytest.approx([0.8, 0.2])
    # A pure interaction (xor) has no main effect.
    assert _tree_main_effects(low, high, np.array([0.0, 1.0, 1.0, 0.0])).tolist() == pytest.approx([0.0, 0.0])


def test_fit_tree_partitions_the_unit_box() -> None:
    rng = np.random.default_rng(0)
    x = rng.random((300, 3))
    y = np.where(x[:, 0] > 0.5, 1.0, 0.0)
    low, high, values = _fit_tree(x, y, rng, min_leaf=5, max_depth=20)
    assert np.prod(high - low, axis=1).sum() == pytest.approx(1.0)
    shares = _tree_main_effects(low, high, values)
    assert shares[0] > 0.9  # the step is cut between sample points, not exactly at 0.5


def test_fanova_finds_a_deterministic_effect() -> None:
    rng = np.random.default_rng(3)
    n = 400
    lr = np.exp(rng.uniform(np.log(1e-5), np.log(1e-1), n))
    noise = rng.uniform(0, 1, n)
    opt = rng.choice(["adam", "sgd"], n)
    y = -(np.log10(lr) + 3) ** 2 + np.where(opt == "adam", 1.0, 0.0)
    out = param_importance(frame(list(y), lr=lr, noise=noise, opt=opt), n_bootstrap=4).set_index("param")
    assert out.loc["lr", "kind"] == "log" and out.loc["opt", "kind"] == "categorical"
    assert out.loc["lr", "importance"] > out.loc["opt", "importance"] > 5 * out.loc["noise", "importance"]
    assert out["importance"].sum() == pytest.approx(1.0)
    assert out.loc["lr", "rank_stability"] == 1.0


def test_log_scale_detection() -> None:
    rng = np.random.default_rng(0)
    assert is_log_scale(np.exp(rng.uniform(np.log(1e-5), np.log(1e-1), 200)))
    assert not is_log_scale(rng.uniform(0.001, 0.6, 200))  # spans 600x but is uniform
    assert not is_log_scale(np.array([16.0, 32.0, 64.0, 128.0, 256.0]))
    assert not is_log_scale(np.array([-1.0, 100.0]))
    enc = encode_param(pd.Series([1e-4, 1e-3, 1e-2, 1e-2]))
    assert enc.log and enc.values.tolist() == pytest.approx([0.0, 0.5, 1.0, 1.0])
    cat = encode_param(pd.Series(["b", "a", None]))
    assert cat.categorical and cat.values.tolist() == pytest.approx([0.5, 1 / 6, 5 / 6])


def test_seeded_results_are_reproducible() -> None:
    table = ha.read_trials("data/synthetic_job/trials")
    a = param_importance(table, n_bootstrap=2, seed=5)
    b = param_importance(table, n_bootstrap=2, seed=5)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize(("method", "n_trials", "n_bootstrap", "min_rate"), [
    ("fanova", 400, 3, 0.8),
    ("binned", 1500, 20, 0.8),
])
def test_importance_ranks_true_parameters_above_inert_ones_over_seeds(
    method: str, n_trials: int, n_bootstrap: int, min_rate: float,
) -> None:
    """On generated jobs (objective known), every influential parameter must score above every
    inert one in most seeds. Observed with these settings: fanova 9/10 seeds (400 trials), binned
    10/10 (1,500 trials; ~7/10 at 800, its weak spot being batch_size's 2 % share). Spearman is
    not held to it: it misses the non-monotone dropout effect (3/10 at 1,500)."""
    seeds = range(10)
    hits = 0
    for seed in seeds:
        table = ha.trials_to_arrow(generate_pages(n_trials, seed=1000 + seed, page_size=n_trials))
        out = param_importance(table, method=method, n_bootstrap=n_bootstrap, statuses={"TERMINATED"}, seed=seed)
        imp = out.set_index("param")["importance"]
        hits += min(imp[p] for p in GROUND_TRUTH.important) > max(imp[p] for p in GROUND_TRUTH.inert)
        # The top parameter is the truly dominant one in every seed.
        assert out["param"].iloc[0] == GROUND_TRUTH.important[0]
    assert hits / len(seeds) >= min_rate
