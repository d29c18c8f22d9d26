"""param_importance: hand cases per method, the fANOVA tree decomposition, and correctness over seeds."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hpo_analytics as ha
from hpo_analytics._frames import encode_param, is_log_scale
from hpo_analytics.analysis import param_importance
from hpo_analytics.analysis.importance import (
    IMPORTANCE_COLUMNS,
    MIN_TRIALS,
    _fit_tree,
    _tree_main_effects,
    min_trials,
)
from hpo_analytics.analysis.stats import spearman
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.simulator.synthetic import GROUND_TRUTH, generate_pages


def frame(y: list[float], **params: list) -> pd.DataFrame:
    data = {"trial_id": [f"t{i}" for i in range(len(y))], "trial_index": range(len(y)), "reward_attr": y}
    data.update({f"param/{k}": v for k, v in params.items()})
    return pd.DataFrame(data)


def test_spearman_by_hand() -> None:
    # Five trials (spearman's minimum), no ties: rho = 1 - 6 * sum(d^2) / (n (n^2 - 1)) = 1 - sum(d^2) / 20.
    # a: d = (0, 0, 0, 1, -1) -> rho 0.9, rho^2 0.81; b: d = (2, -1, -1, 1, -1) -> rho 0.6, rho^2 0.36.
    # Normalised: 0.81 / 1.17 = 9/13 and 0.36 / 1.17 = 4/13.
    f = frame([1, 2, 3, 4, 5], a=[1, 2, 3, 5, 4], b=[3, 1, 2, 5, 4], c=[7, 7, 7, 7, 7])
    out = param_importance(f, method="spearman", n_bootstrap=20)
    assert list(out.columns) == list(IMPORTANCE_COLUMNS)
    assert out["param"].tolist() == ["a", "b", "c"]
    assert out["importance"].tolist() == pytest.approx([9 / 13, 4 / 13, 0.0])
    assert out["rank"].tolist() == [1, 2, 3]
    assert out["kind"].tolist() == ["numeric", "numeric", "constant"]
    assert (out["ci_low"] <= out["importance"]).all() and (out["importance"] <= out["ci_high"]).all()
    assert out.loc[2, ["ci_low", "ci_high"]].tolist() == [0.0, 0.0]


def test_binned_by_hand() -> None:
    # Ten trials (binned's minimum). p: a -> [1, 3, 1, 3, 2] (mean 2), b -> [3, 5, 3, 5, 4] (mean 4):
    # SST 18, SSB 10, MSW 8 / 8 = 1, epsilon^2 = (10 - 1) / 18 = 0.5 > 0.
    # q: c -> [1, 3, 3, 5, 3], d -> [1, 3, 2, 5, 4], both mean 3: SSB 0 -> 0. Normalised: p = 1, q = 0.
    y = [1, 3, 1, 3, 2, 3, 5, 3, 5, 4]
    f = frame(y, p=["a"] * 5 + ["b"] * 5, q=["c", "c", "d", "d", "d", "c", "c", "c", "d", "d"])
    out = param_importance(f, method="binned", n_bootstrap=10)
    assert out.set_index("param")["importance"].to_dict() == {"p": 1.0, "q": 0.0}
    assert out["kind"].tolist() == ["categorical", "categorical"]


def test_constant_parameters_score_zero_and_a_constant_metric_is_undefined() -> None:
    f = frame([0.5] * 20, a=[float(i) for i in range(20)], b=["x"] * 20)
    for method in ("fanova", "binned", "spearman"):
        with pytest.warns(ha.InsufficientDataWarning, match=r"'reward_attr' is 0\.5 in every one of the 20"):
            out = param_importance(f, method=method, n_bootstrap=2).set_index("param")
        assert np.isnan(out.loc["a", ["importance", "ci_low", "ci_high", "rank_stability"]].to_numpy(float)).all()
        assert out.loc["a", "rank"] is pd.NA
        assert out.loc["b", ["importance", "ci_low", "ci_high"]].tolist() == [0.0, 0.0, 0.0]
        assert out["kind"].to_dict() == {"a": "numeric", "b": "constant"}


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


# --------------------------------------------------------------------------- too little data (issue #12)

SEED = Path(__file__).resolve().parent.parent / "data" / "seed_trials.json"


def test_seed_document_default_says_learning_rate_matters_with_a_wide_interval() -> None:
    table = ha.read_trials(SEED)  # 8 trials; learning_rate is strongly rank-correlated with acc
    y = table["acc"].to_numpy()
    assert abs(spearman(table["param/learning_rate"].to_numpy(), y)) > 0.5
    # The default ("auto") falls back from fanova to the method that needs fewest trials, and says so.
    with pytest.warns(ha.InsufficientDataWarning, match=r"8 scored trial\(s\).*too few for fanova.*Spearman"):
        out = param_importance(table, metric="acc").set_index("param")
    row = out.loc["learning_rate"]
    assert row["importance"] > 0.5 and row["rank"] == 1
    assert row["ci_high"] - row["ci_low"] > 0.25 and row["rank_stability"] < 1  # wide: only 8 trials
    assert out["importance"].sum() == pytest.approx(1.0)
    info = out.attrs["hpo_analytics.analysis"]
    assert (info["method"], info["requested_method"], info["n_trials"]) == ("spearman", "auto", 8)
    assert "too few for fanova" in info["fallback"] and info["warning"] is None
    # The same from method="spearman" asked for by name, without a warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ha.InsufficientDataWarning)
        rho = param_importance(table, metric="acc", method="spearman").set_index("param")
    assert rho["importance"].to_dict() == out["importance"].to_dict()


def test_seed_document_under_fanova_by_name_is_not_estimable_rather_than_all_zero() -> None:
    table = ha.read_trials(SEED)
    with pytest.warns(ha.InsufficientDataWarning, match=r"8 scored trial\(s\).*'fanova' needs at least 20"):
        out = param_importance(table, metric="acc", method="fanova").set_index("param")
    row = out.loc["learning_rate"]
    assert np.isnan(row[["importance", "ci_low", "ci_high", "rank_stability"]].to_numpy(float)).all()
    assert row["rank"] is pd.NA and row["kind"] == "numeric"
    info = out.attrs["hpo_analytics.analysis"]
    assert info["n_trials"] == 8 and info["min_trials"] == 20 and "needs at least 20" in info["warning"]


@pytest.mark.parametrize(("n", "method"), [(4, "fanova"), (5, "spearman"), (19, "spearman"), (20, "fanova")])
def test_auto_uses_fanova_from_its_minimum_and_spearman_below(n: int, method: str) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ha.InsufficientDataWarning)
        out = param_importance(effect(n), n_bootstrap=8)
    info = out.attrs["hpo_analytics.analysis"]
    assert info["method"] == method
    assert bool(caught) == (n < 20)  # spearman instead of fanova is said; so is "not estimable" at 4
    assert out["importance"].isna().all() == (n < 5)


def effect(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` trials whose metric follows parameter ``a`` closely; ``b`` is inert."""
    rng = np.random.default_rng(seed)
    a, b = rng.permutation(np.linspace(0, 1, n)), rng.permutation(np.linspace(0, 1, n))
    return frame(list(a + 0.05 * rng.standard_normal(n)), a=list(a), b=list(b))


@pytest.mark.parametrize(("method", "options"), [
    ("fanova", {}), ("fanova", {"min_leaf": 3}), ("binned", {}), ("spearman", {}),
])
def test_threshold_boundary(method: str, options: dict[str, int]) -> None:
    need = min_trials(method, **options)
    assert need == (4 * options["min_leaf"] if options else MIN_TRIALS[method])
    with pytest.warns(ha.InsufficientDataWarning, match=rf"{need - 1} scored trial\(s\).*needs at least {need}"):
        below = param_importance(effect(need - 1), method=method, **options)
    assert below[["importance", "ci_low", "ci_high", "rank_stability"]].isna().all().all()
    assert below["rank"].isna().all()
    with warnings.catch_warnings():
        warnings.simplefilter("error", ha.InsufficientDataWarning)
        at = param_importance(effect(need), method=method, **options).set_index("param")
    assert np.isfinite(at[["importance", "ci_low", "ci_high", "rank_stability"]].to_numpy(float)).all()
    assert at["importance"].sum() == pytest.approx(1.0)
    assert at.loc["a", "importance"] > at.loc["b", "importance"] and at.loc["a", "rank"] == 1
    assert at.loc["a", "ci_high"] > at.loc["a", "ci_low"]  # an interval, not a point
    assert at.attrs["hpo_analytics.analysis"]["warning"] is None


def test_fanova_at_its_threshold_grows_trees_that_split() -> None:
    # Below 2 * min_leaf rows a tree cannot split at all; at the threshold nearly every resample's trees do.
    out = param_importance(effect(MIN_TRIALS["fanova"]), n_bootstrap=32)
    assert out.attrs["hpo_analytics.analysis"]["n_bootstrap_undefined"] <= 2
    assert (out["importance"] > 0).all()


def test_resamples_with_a_constant_metric_are_left_out_not_counted_as_zero() -> None:
    # Only the last trial differs: a resample without it has a constant metric (about a third of them do).
    f = frame([0, 0, 0, 0, 1.0], a=[1, 2, 3, 4, 5], b=[5, 3, 1, 2, 4])
    out = param_importance(f, method="spearman").set_index("param")
    undefined = out.attrs["hpo_analytics.analysis"]["n_bootstrap_undefined"]
    assert 0 < undefined < out.attrs["hpo_analytics.analysis"]["n_bootstrap"]
    # Counted as all-zero shares they would pull a's lower bound to 0; a is the better predictor throughout.
    assert out.loc["a", "ci_low"] > 0
    assert out.loc["a", "importance"] > out.loc["b", "importance"]


def test_fanova_options_that_cannot_split_are_refused() -> None:
    with pytest.raises(ConfigurationError, match="max_samples=10 is too few rows per tree"):
        param_importance(effect(40), max_samples=10)
    with pytest.raises(ConfigurationError, match="min_leaf must be an integer >= 1"):
        param_importance(effect(40), min_leaf=0)
