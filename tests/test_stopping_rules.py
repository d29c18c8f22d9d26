"""Stop rules: argument checks, hand-worked Optuna/Ray cases, and one test per documented NaN/too-few/ragged/tie case."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest

from hpo_analytics.errors import ConfigurationError
from hpo_analytics.stopping import (
    DECISION_COLUMNS,
    MedianStoppingRule,
    PatienceRule,
    PercentileRule,
    SignificanceRule,
    SuccessiveHalvingRule,
    ThresholdRule,
)
from hpo_analytics.stopping._significance import benjamini_hochberg, normal_cdf

NAN = float("nan")


def curves(trials: dict[str, list], done: tuple[str, ...] = (), steps: dict[str, list[int]] | None = None
           ) -> pd.DataFrame:
    """Long table: ``None`` = not reported, NaN = reported NaN; steps 1.. unless given per trial."""
    rows = []
    for tid, values in trials.items():
        st = (steps or {}).get(tid, list(range(1, len(values) + 1)))
        for s, v in zip(st, values):
            if v is not None:
                rows.append((tid, s, v, tid in done))
    return pd.DataFrame(rows, columns=["trial_id", "training_iteration", "acc", "done"])


def decide(rule, trials, done=(), running=None, steps=None) -> pd.DataFrame:
    frame = curves(trials, done, steps)
    return rule.decide(frame, now_running=running).set_index("trial_id")


def med(**kw):
    kw.setdefault("grace_period", 0)  # these hand-worked cases decide from the first report
    return MedianStoppingRule(metric="acc", mode="max", **kw)


# ---------------------------------------------------------------------- construction


@pytest.mark.parametrize("make", [
    lambda: MedianStoppingRule(grace_period=-1),
    lambda: MedianStoppingRule(min_samples=0),
    lambda: MedianStoppingRule(interval=0),
    lambda: MedianStoppingRule(semantics="keras"),
    lambda: MedianStoppingRule(mode="up"),
    lambda: PercentileRule(101),
    lambda: PercentileRule(float("nan")),
    lambda: SuccessiveHalvingRule(reduction_factor=1),
    lambda: SuccessiveHalvingRule(min_resource=0),
    lambda: ThresholdRule(float("inf")),
    lambda: PatienceRule(patience=0),
    lambda: PatienceRule(min_delta=-0.1),
    lambda: SignificanceRule(alpha=0.0),
    lambda: SignificanceRule(alpha=1.0),
    lambda: SignificanceRule(window=0),
    lambda: MedianStoppingRule(min_samples=True),
])
def test_arguments_are_validated_at_construction(make) -> None:
    with pytest.raises(ConfigurationError):
        make()


def test_decision_table_columns_and_reason() -> None:
    out = MedianStoppingRule(min_samples=1, grace_period=0, metric="acc").decide(
        curves({"a": [1.0, 2.0], "b": [0.5, 0.5]}, done=("a",)))
    assert tuple(out.columns) == DECISION_COLUMNS
    row = out.iloc[0]
    assert row["trial_id"] == "b" and bool(row["stop"]) and row["step"] == 2
    assert row["value"] == 0.5 and row["reference"] == 2.0
    assert "worse than the median 2" in row["reason"] and row["rule"].startswith("median(")


def test_unknown_metric_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="no metric column 'loss'"):
        MedianStoppingRule(metric="loss").decide(curves({"a": [1.0]}))


# ---------------------------------------------------------------------- hand-worked Optuna / Ray


def test_optuna_median_hand_worked() -> None:
    # Finished a, b, c at step 2: 2, 3, 4 -> median 3. r1 best 1 < 3: pruned. r2 best max(5, 1) = 5: kept.
    trials = {"a": [1, 2, 3], "b": [2, 3, 4], "c": [3, 4, 5], "r1": [1, 1], "r2": [5, 1]}
    out = decide(med(min_samples=3), trials, done=("a", "b", "c"))
    assert out.loc["r1", "stop"] and out.loc["r1", "reference"] == 3.0 and out.loc["r1", "value"] == 1.0
    assert not out.loc["r2", "stop"] and out.loc["r2", "value"] == 5.0
    # n_warmup_steps: step 2 < grace 3 -> no decision; n_startup_trials: 3 finished < 4
    assert not decide(med(min_samples=3, grace_period=3), trials, done=("a", "b", "c"))["stop"].any()
    assert "fewer than min_samples=4" in decide(med(min_samples=4), trials, done=("a", "b", "c")).loc["r1", "reason"]


def test_optuna_min_mode_hand_worked() -> None:
    # minimize: best of r = min(4, 3) = 3 > median 2 of finished -> pruned
    trials = {"a": [1, 1], "b": [2, 2], "c": [3, 3], "r": [4, 3]}
    out = decide(MedianStoppingRule(min_samples=3, grace_period=0, metric="acc", mode="min"), trials,
                 done=("a", "b", "c"))
    assert out.loc["r", "stop"] and out.loc["r", "value"] == 3.0 and out.loc["r", "reference"] == 2.0


def test_optuna_interval_steps_hand_worked() -> None:
    # n_warmup_steps=1, interval_steps=2: decision steps 1, 3, 5... r reported 1, 2 -> step 2 is not one.
    trials = {"a": [5, 5, 5], "b": [5, 5, 5], "r": [1, 1]}
    rule = med(min_samples=1, grace_period=1, interval=2)
    assert "not a decision step" in decide(rule, trials, done=("a", "b")).loc["r", "reason"]
    # with steps 1 and 3 reported (2 missing), step 3 is due
    out = decide(rule, {"a": [5, 5, 5], "b": [5, 5, 5], "r": [1, 1]}, done=("a", "b"),
                 steps={"r": [1, 3]})
    assert out.loc["r", "stop"]


def test_ray_median_hand_worked() -> None:
    # At step 3 (grace 1): running means over steps 1..3 -> a 2, b 3, c 4, d (running) mean(1, 1, 1) = 1.
    # For r: others a, b, c, d -> median of [1, 2, 3, 4] = 2.5; r's best 2 < 2.5 -> stop.
    trials = {"a": [1, 2, 3], "b": [2, 3, 4], "c": [3, 4, 5], "d": [1, 1, 1], "r": [2, 1, 0]}
    rule = MedianStoppingRule(semantics="ray", grace_period=1, min_samples=3, metric="acc", mode="max")
    out = decide(rule, trials, done=("a", "b", "c"), running=["d", "r"])
    assert out.loc["r", "stop"] and out.loc["r", "reference"] == 2.5
    # d: others a, b, c, r (mean 1) -> median of [1, 2, 3, 4] = 2.5; d's best 1 -> stop
    assert out.loc["d", "stop"] and out.loc["d", "reference"] == 2.5
    # grace period: Ray's running mean only counts steps >= grace_period
    rule2 = MedianStoppingRule(semantics="ray", grace_period=3, min_samples=3, metric="acc", mode="max")
    out2 = decide(rule2, trials, done=("a", "b", "c"), running=["d", "r"])
    assert out2.loc["r", "reference"] == 3.5  # only step 3 counts: a 3, b 4, c 5, d 1 -> median 3.5


def test_optuna_semantics_match_optuna_on_random_curves() -> None:
    import optuna  # in the test extra: this cross-check runs in CI, never skipped
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = np.random.default_rng(7)
    checked = 0
    for _ in range(60):
        n_done, n_run, m = int(rng.integers(0, 8)), int(rng.integers(1, 4)), int(rng.integers(1, 8))
        grace, interval, ms = int(rng.integers(0, 3)), int(rng.integers(1, 3)), int(rng.integers(1, 4))
        pct = float(rng.choice([25.0, 50.0, 75.0]))
        direction = str(rng.choice(["maximize", "minimize"]))
        pruner = optuna.pruners.PercentilePruner(pct, n_startup_trials=ms, n_warmup_steps=grace, interval_steps=interval)
        study = optuna.create_study(direction=direction, pruner=pruner)
        rows, running = [], {}

        def curve() -> dict[int, float]:
            k = int(rng.integers(1, m + 1))
            steps = sorted(rng.choice(np.arange(10), size=k, replace=False).tolist())
            vals = np.round(rng.normal(0, 1, k), 1)  # rounding makes ties
            vals[rng.random(k) < 0.1] = np.nan
            return dict(zip(steps, vals.tolist()))

        for i in range(n_done):
            iv = curve()
            study.add_trial(create_trial(value=0.0, intermediate_values=iv, params={}, distributions={}))
            rows += [(f"d{i}", s, v, True) for s, v in iv.items()]
        for i in range(n_run):
            running[f"r{i}"] = curve()
            rows += [(f"r{i}", s, v, False) for s, v in running[f"r{i}"].items()]
        frame = pd.DataFrame(rows, columns=["trial_id", "training_iteration", "acc", "done"])
        rule = PercentileRule(pct, grace_period=grace, interval=interval, min_samples=ms, metric="acc",
                              mode="max" if direction == "maximize" else "min")
        out = rule.decide(frame).set_index("trial_id")
        for tid, iv in running.items():
            frozen = create_trial(state=TrialState.RUNNING, intermediate_values=iv, params={}, distributions={})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # optuna's own nanpercentile of all-NaN steps
                expected = pruner.prune(study, frozen)
            assert bool(out.loc[tid, "stop"]) == expected, (tid, iv)
            checked += 1
    assert checked > 60


# ---------------------------------------------------------------------- median / percentile (optuna semantics)


def test_median_nan_reference_ignored_and_all_nan_trial_stopped() -> None:
    # reference at step 2: [2, nan, 4, 6] -> median of numbers 4 (np.median would be NaN)
    trials = {"a": [1, 2], "b": [2, NAN], "c": [3, 4], "d": [4, 6], "r": [5, 3], "dead": [NAN, NAN]}
    out = decide(med(min_samples=3), trials, done=("a", "b", "c", "d"))
    assert out.loc["r", "reference"] == 4.0 and not out.loc["r", "stop"]
    assert out.loc["dead", "stop"] and "NaN" in out.loc["dead", "reason"]


def test_median_too_few_trials_continue() -> None:
    out = decide(med(min_samples=3), {"a": [5, 5], "b": [5, 5], "r": [0, 0]}, done=("a", "b"))
    assert not out.loc["r", "stop"] and "fewer than min_samples=3" in out.loc["r", "reason"]
    # enough trials but none has a number at this step
    out = decide(med(min_samples=1), {"a": [5], "r": [0, 0]}, done=("a",))
    assert not out.loc["r", "stop"] and "no finished trial has a number at step 2" in out.loc["r", "reason"]


def test_median_ragged_only_same_step_counts() -> None:
    # b stopped reporting at step 2 (value 9): it does not count at step 3.
    trials = {"a": [1, 1, 1], "b": [9, 9], "c": [2, 2, 2], "d": [3, 3, 3], "r": [2.2, 2.2, 2.2]}
    out = decide(med(min_samples=3), trials, done=("a", "b", "c", "d"))
    assert out.loc["r", "reference"] == 2.0 and not out.loc["r", "stop"]


def test_median_tie_continues() -> None:
    out = decide(med(min_samples=3), {"a": [1], "b": [2], "c": [3], "r": [2]}, done=("a", "b", "c"))
    assert out.loc["r", "value"] == out.loc["r", "reference"] == 2.0 and not out.loc["r", "stop"]


def pct(percentile, **kw):
    kw.setdefault("grace_period", 0)
    return PercentileRule(percentile, metric="acc", mode="max", **kw)


def test_percentile_keeps_top_quarter_hand_worked() -> None:
    # finished at step 1: 1..5 -> the 75th percentile (linear) is 4: 3.5 stops, 4 (tie) continues
    trials = {str(i): [float(i)] for i in range(1, 6)} | {"r": [3.5], "s": [4.0]}
    out = decide(pct(25, min_samples=5), trials, done=tuple("12345"))
    assert out.loc["r", "stop"] and out.loc["r", "reference"] == 4.0
    assert not out.loc["s", "stop"]


def test_percentile_nan() -> None:
    trials = {"a": [1.0], "b": [NAN], "c": [3.0], "r": [2.5], "dead": [NAN]}
    out = decide(pct(50, min_samples=2), trials, done=("a", "b", "c"))
    assert out.loc["r", "reference"] == 2.0 and not out.loc["r", "stop"]
    assert out.loc["dead", "stop"]


def test_percentile_too_few() -> None:
    out = decide(pct(25, min_samples=2), {"a": [9.0], "r": [0.0]}, done=("a",))
    assert not out.loc["r", "stop"] and "fewer than min_samples" in out.loc["r", "reason"]


def test_percentile_ragged() -> None:
    # a reported step 2 only; at step 2 the references are a and c
    trials = {"a": [None, 1.0], "b": [7.0], "c": [3.0, 3.0], "r": [1.5, 1.5]}
    out = decide(pct(50, min_samples=2), trials, done=("a", "b", "c"))
    assert out.loc["r", "reference"] == 2.0 and out.loc["r", "stop"]


def test_percentile_tie() -> None:
    trials = {"a": [1.0], "b": [3.0], "r": [2.0]}
    out = decide(pct(50, min_samples=2), trials, done=("a", "b"))
    assert out.loc["r", "reference"] == 2.0 and not out.loc["r", "stop"]


# ---------------------------------------------------------------------- median (ray semantics)


def ray(**kw):
    kw.setdefault("grace_period", 0)
    return MedianStoppingRule(semantics="ray", metric="acc", mode="max", **kw)


# Ray's NaN cases (a NaN first report poisons the best, a later one is skipped, references whose running
# mean is not finite are left out): hand-worked in tests/test_stopping_ray.py, with a differential test.


def test_ray_too_few_other_trials() -> None:
    out = decide(ray(min_samples=3), {"a": [5, 5], "b": [5, 5], "r": [0, 0]}, done=("a", "b"))
    assert not out.loc["r", "stop"] and "only 2 other trials reached step 2" in out.loc["r", "reason"]


def test_ray_ragged_trials_beyond_time() -> None:
    # b's latest step is 1 < 2: not counted. c skipped step 1: its mean at step 2 is its one report.
    trials = {"a": [1, 1], "b": [9], "c": [None, 3], "r": [1.5, 1.5]}
    out = decide(ray(min_samples=2), trials, done=("a", "b", "c"), running=["r"])
    assert out.loc["r", "reference"] == 2.0 and out.loc["r", "stop"]


def test_ray_tie_continues() -> None:
    out = decide(ray(min_samples=2), {"a": [1, 1], "b": [3, 3], "r": [2, 2]}, done=("a", "b"), running=["r"])
    assert out.loc["r", "reference"] == 2.0 and not out.loc["r", "stop"]


# ---------------------------------------------------------------------- successive halving


def asha(**kw):
    return SuccessiveHalvingRule(metric="acc", mode="max", **kw)


def test_asha_hand_worked_rungs() -> None:
    # rungs 1, 2, 4 (rf 2); at rung 2 values a 1, b 2, c 3, d 4, r 2.4 -> 50th pct 2.4 (r itself): tie, promoted
    trials = {"a": [0, 1], "b": [0, 2], "c": [0, 3], "d": [0, 4], "r": [0, 2.4, 2.4]}
    out = decide(asha(reduction_factor=2), trials, done=("a", "b", "c", "d"))
    assert list(asha(reduction_factor=2).rungs(9)) == [1, 2, 4, 8]
    assert out.loc["r", "reference"] == 2.4 and not out.loc["r", "stop"]
    # r 1.5: population [1, 1.5, 2, 3, 4] -> cutoff 2; judged at rung 2 (value 1.5), not at step 3 (9)
    out = decide(asha(reduction_factor=2), trials | {"r": [0, 1.5, 9]}, done=("a", "b", "c", "d"))
    assert out.loc["r", "stop"] and out.loc["r", "value"] == 1.5 and out.loc["r", "reference"] == 2.0


def test_asha_nan_at_rung_stops_and_nan_left_out() -> None:
    trials = {"a": [1.0], "b": [NAN], "c": [3.0], "r": [NAN], "s": [2.0]}
    out = decide(asha(reduction_factor=2, min_samples=2), trials, done=("a", "b", "c"))
    assert out.loc["r", "stop"] and "NaN" in out.loc["r", "reason"]
    assert out.loc["s", "reference"] == 2.0  # population a, c, s = [1, 2, 3]; b's NaN left out


def test_asha_too_few_promotes() -> None:
    out = decide(asha(reduction_factor=3), {"a": [5.0], "r": [0.0]}, done=("a",))
    assert not out.loc["r", "stop"] and "promoted" in out.loc["r", "reason"]


def test_asha_ragged_value_at_rung_is_last_report_before_it() -> None:
    # r reported steps 1 and 3: at rung 2 its value is its step-1 report (1.0)
    trials = {"a": [2, 2], "b": [3, 3], "c": [4, 4], "r": [1.0, 9.0]}
    out = decide(asha(reduction_factor=2, min_samples=2), trials, done=("a", "b", "c"), steps={"r": [1, 3]})
    assert out.loc["r", "value"] == 1.0 and out.loc["r", "stop"]
    # below the first rung nothing is decided
    out = decide(asha(min_resource=3), {"a": [1, 1]}, running=["a"])
    assert not out.loc["a", "stop"] and "below the first rung" in out.loc["a", "reason"]


def test_asha_tie_promoted() -> None:
    trials = {"a": [1.0], "b": [2.0], "r": [2.0]}
    out = decide(asha(reduction_factor=2, min_samples=2), trials, done=("a", "b"))
    assert out.loc["r", "reference"] == 2.0 and not out.loc["r", "stop"]


# ---------------------------------------------------------------------- threshold


def thr(t=0.5, **kw):
    kw.setdefault("grace_period", 0)
    return ThresholdRule(t, metric="acc", mode="max", **kw)


def test_threshold_nan() -> None:
    out = decide(thr(), {"dead": [NAN, NAN], "late": [0.9, NAN]}, running=["dead", "late"])
    assert out.loc["dead", "stop"] and not out.loc["late", "stop"]  # best 0.9 ignores the NaN
    out = decide(thr(use_best=False), {"late": [0.9, NAN]}, running=["late"])
    assert out.loc["late", "stop"]


def test_threshold_single_trial_decides() -> None:
    out = decide(thr(), {"only": [0.1]}, running=["only"])
    assert out.loc["only", "stop"] and out.loc["only", "reference"] == 0.5


def test_threshold_ragged_own_latest_step_and_grace() -> None:
    out = decide(thr(grace_period=5), {"a": [0.1, 0.1], "b": [0.1, 0.1]}, running=["a", "b"],
                 steps={"a": [1, 2], "b": [1, 6]})
    assert not out.loc["a", "stop"] and "grace period" in out.loc["a", "reason"]
    assert out.loc["b", "stop"] and out.loc["b", "step"] == 6


def test_threshold_tie_continues() -> None:
    assert not decide(thr(0.5), {"a": [0.5]}, running=["a"]).loc["a", "stop"]


# ---------------------------------------------------------------------- patience


def pat(**kw):
    kw.setdefault("grace_period", 0)
    return PatienceRule(metric="acc", mode="max", **kw)


def test_patience_nan() -> None:
    out = decide(pat(patience=2), {"dead": [NAN, NAN, NAN], "back": [NAN, NAN, 0.3]}, running=["dead", "back"])
    assert out.loc["dead", "stop"]
    assert not out.loc["back", "stop"] and "counts as an improvement" in out.loc["back", "reason"]


def test_patience_too_few_steps() -> None:
    out = decide(pat(patience=3), {"a": [1, 1, 1]}, running=["a"])
    assert not out.loc["a", "stop"] and "fewer than 3 steps" in out.loc["a", "reason"]


def test_patience_ragged_counts_steps() -> None:
    # steps 1, 2, 6 with patience 3: the best before is over steps <= 3 (1, 2): 0.5 -> 0.55 improves by 0.05
    out = decide(pat(patience=3, min_delta=0.1), {"a": [0.4, 0.5, 0.55]}, running=["a"], steps={"a": [1, 2, 6]})
    assert out.loc["a", "reference"] == 0.5 and out.loc["a", "stop"]
    out = decide(pat(patience=3, min_delta=0.01), {"a": [0.4, 0.5, 0.55]}, running=["a"], steps={"a": [1, 2, 6]})
    assert not out.loc["a", "stop"]


def test_patience_tie_is_not_an_improvement() -> None:
    out = decide(pat(patience=2, min_delta=0.25), {"a": [0.5, 0.5, 0.75]}, running=["a"])
    assert out.loc["a", "stop"]  # improved by exactly min_delta
    out = decide(pat(patience=2), {"flat": [0.5, 0.5, 0.5]}, running=["flat"])
    assert out.loc["flat", "stop"]


# ---------------------------------------------------------------------- significance


def sig(**kw):
    kw.setdefault("min_samples", 3)
    kw.setdefault("grace_period", 0)
    return SignificanceRule(metric="acc", mode="max", **kw)


def _noisy_refs(n=20, m=6, level=0.8, noise=0.01, seed=0) -> dict[str, list]:
    rng = np.random.default_rng(seed)
    return {f"f{i}": list(level + rng.normal(0, noise, m)) for i in range(n)}


def test_significance_stops_clearly_worse_not_slightly_worse() -> None:
    refs = _noisy_refs()
    trials = refs | {"bad": [0.5] * 6, "close": [0.795] * 6}
    out = decide(sig(), trials, done=tuple(refs))
    assert out.loc["bad", "stop"] and "z=" in out.loc["bad", "reason"]
    assert not out.loc["close", "stop"]


def test_significance_nan() -> None:
    refs = _noisy_refs()
    refs["f0"][5] = NAN  # left out of the reference and the noise estimate
    trials = refs | {"dead": [0.8, 0.8, 0.8, NAN, NAN, NAN], "ok": [0.8, 0.8, 0.8, 0.8, NAN, 0.8]}
    out = decide(sig(window=3), trials, done=tuple(refs))
    assert out.loc["dead", "stop"] and "diverged" in out.loc["dead", "reason"]
    assert not out.loc["ok", "stop"] and np.isfinite(out.loc["ok", "reference"])


def test_significance_too_few_references() -> None:
    trials = {"a": [0.9, 0.9, 0.9], "b": [0.9, 0.9, 0.9], "bad": [0.1, 0.1, 0.1]}
    out = decide(sig(min_samples=3), trials, done=("a", "b"))
    assert not out.loc["bad", "stop"] and "finished trials to compare with" in out.loc["bad", "reason"]


def test_significance_ragged_only_reported_steps() -> None:
    refs = _noisy_refs(m=6)
    # 'gap' reported steps 1, 2 and 6 only: its window (steps 4..6) has one report
    out = decide(sig(window=3), refs | {"gap": [0.2, 0.2, 0.2]}, done=tuple(refs), steps={"gap": [1, 2, 6]})
    assert "over 1 reports up to step 6" in out.loc["gap", "reason"] and out.loc["gap", "stop"]


def test_significance_tie_never_stops() -> None:
    refs = {f"f{i}": [0.5 + 0.01 * (i - 10)] * 4 for i in range(21)}  # median exactly 0.5 at every step
    refs["f0"] = [0.40, 0.42, 0.38, 0.41]  # some noise for sigma
    out = decide(sig(), refs | {"tie": [0.5] * 4}, done=tuple(refs))
    assert out.loc["tie", "reference"] == 0.5 and not out.loc["tie", "stop"] and "p=0.5" in out.loc["tie", "reason"]


def test_normal_cdf_and_benjamini_hochberg() -> None:
    assert normal_cdf(np.array([-1.959964]))[0] == pytest.approx(0.025, abs=1e-6)
    assert normal_cdf(np.array([0.0]))[0] == pytest.approx(0.5, abs=1e-7)
    assert normal_cdf(np.array([3.0]))[0] == pytest.approx(0.5 * (1 + math.erf(3 / math.sqrt(2))), abs=1e-7)
    # m = 4, alpha 0.05: thresholds .0125 .025 .0375 .05; p sorted .01 .03 .035 .2 -> reject first three
    assert benjamini_hochberg(np.array([0.2, 0.035, 0.01, 0.03]), 0.05).tolist() == [False, True, True, True]
    assert benjamini_hochberg(np.array([0.02, 0.02]), 0.01).tolist() == [False, False]
    assert benjamini_hochberg(np.array([]), 0.05).tolist() == []


# ---------------------------------------------------------------------- the auto grace period (the default)


AUTO_RULES = [
    lambda: MedianStoppingRule(min_samples=1, metric="acc", mode="max"),
    lambda: MedianStoppingRule(semantics="ray", min_samples=1, metric="acc", mode="max"),
    lambda: PercentileRule(25.0, min_samples=1, metric="acc", mode="max"),
    lambda: ThresholdRule(0.5, metric="acc", mode="max"),
    lambda: PatienceRule(patience=1, metric="acc", mode="max"),
    lambda: SignificanceRule(min_samples=1, alpha=0.5, metric="acc", mode="max"),
]
AUTO_IDS = ["median", "median-ray", "percentile", "threshold", "patience", "significance"]


def _finished(n: int = 5, m: int = 10) -> dict[str, list]:
    rng = np.random.default_rng(1)
    return {f"f{i}": list(0.9 + rng.normal(0, 0.01, m)) for i in range(n)}


@pytest.mark.parametrize("make", AUTO_RULES, ids=AUTO_IDS)
def test_auto_grace_is_half_the_longest_finished_curve(make) -> None:
    rule = make()
    assert rule.grace_period is None and "grace_period=auto" in rule.describe()
    # finished curves reach step 10 -> auto grace period ceil(0.5 * 10) = 5: 'early' (at step 4) is not
    # decided, 'late' (at step 6) is; a running trial's length (20 steps) does not count.
    refs = _finished()
    trials = refs | {"early": [0.1] * 4, "late": [0.1] * 6, "long": [0.95] * 20}
    out = decide(rule, trials, done=tuple(refs), running=["early", "late", "long"])
    assert (out["rule"] == rule.describe()).all()
    note = "auto grace period: step 5 = ceil(0.5 x 10), 10 being the last step of the longest finished curve"
    assert out["reason"].str.contains(note, regex=False).all(), out["reason"].tolist()
    assert not out.loc["early", "stop"] and "step 4 is within the grace period (5 steps)" in out.loc["early", "reason"]
    assert "grace period (" not in out.loc["late", "reason"] and out.loc["late", "stop"], out.loc["late", "reason"]


@pytest.mark.parametrize("make", AUTO_RULES, ids=AUTO_IDS)
def test_auto_grace_with_no_finished_trial_decides_nothing(make) -> None:
    # nothing has finished, so there is no curve to measure the grace period by: no decision at all
    out = decide(make(), {"a": [0.1] * 6, "b": [0.9] * 6, "c": [0.5] * 6}, running=["a", "b", "c"])
    assert not out["stop"].any() and out["step"].tolist() == [6, 6, 6]
    assert out["reason"].str.startswith("no finished trial yet to set the auto grace period").all()


def test_auto_grace_reads_the_last_step_and_rounds_up() -> None:
    # finished curves of 4 and 9 reports -> L = 9 -> ceil(4.5) = 5; steps 10, 20, ... -> L = 90 -> 45
    rule = thr(0.5, grace_period=None)
    out = decide(rule, {"a": [0.9] * 4, "b": [0.9] * 9, "r": [0.1] * 4, "s": [0.1] * 5}, done=("a", "b"),
                 running=["r", "s"])
    assert not out.loc["r", "stop"] and out.loc["s", "stop"] and "step 5 = ceil(0.5 x 9)" in out.loc["s", "reason"]
    tens = {"a": list(range(10, 100, 10)), "r": [40, 50]}
    out = decide(rule, {"a": [0.9] * 9, "r": [0.1, 0.1]}, done=("a",), running=["r"], steps=tens)
    assert out.loc["r", "stop"] and out.loc["r", "step"] == 50 and "step 45 = ceil(0.5 x 90)" in out.loc["r", "reason"]


def test_grace_period_arguments() -> None:
    assert MedianStoppingRule(grace_period="auto").grace_period is None
    assert MedianStoppingRule(grace_period=0).grace_period == 0 and "grace_period=0," in MedianStoppingRule(
        grace_period=0).describe()
    for bad in ("half", -1, 1.5, True):
        with pytest.raises(ConfigurationError, match="grace_period"):
            PatienceRule(grace_period=bad)
    # the repr is a constructor call that makes the same rule
    rule = PercentileRule(30.0, semantics="ray", min_samples=2)
    assert eval(repr(rule)).describe() == rule.describe()  # noqa: S307 - our own repr
    # an auto period reads the finished trials, so a threshold/patience rule is then not "independent"
    assert not ThresholdRule(0.5).independent and ThresholdRule(0.5, grace_period=2).independent
    assert not PatienceRule().independent and PatienceRule(grace_period=0).independent
