"""The forecast rule (issue #18): argument checks, one test per documented case, and its calibration on
the real-curve corpus (``data/curves_corpus.parquet``)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from hpo_analytics.errors import ConfigurationError
from hpo_analytics.stopping import DECISION_COLUMNS, ForecastRule, backtest
from hpo_analytics.stopping._forecast import _LEVELS, _bandwidth, _grid_step, _mixture_quantiles

NAN = float("nan")
CORPUS = Path(__file__).resolve().parent.parent / "data" / "curves_corpus.parquet"
STEPS = 30


def family(n: int, *, seed: int = 0, steps: int = STEPS) -> dict[str, np.ndarray]:
    """``n`` saturating curves with asymptotes spread over [0.5, 0.95] and a little noise."""
    rng = np.random.default_rng(seed)
    t = np.arange(1, steps + 1)
    out = {}
    for i in range(n):
        top, rate = rng.uniform(0.5, 0.95), rng.uniform(0.15, 0.4)
        out[f"r{i:02d}"] = top * (1 - np.exp(-rate * t)) + rng.normal(0, 0.005, steps)
    return out


def frame(trials: dict[str, list | np.ndarray], done: set[str] | None = None,
          steps: dict[str, list[int]] | None = None) -> pd.DataFrame:
    """Long table; a trial is ``done`` when named in ``done`` (default: every ``r..`` reference)."""
    rows = []
    for tid, values in trials.items():
        st = (steps or {}).get(tid, list(range(1, len(values) + 1)))
        finished = tid.startswith("r") if done is None else tid in done
        rows += [(tid, s, float(v), finished) for s, v in zip(st, values) if v is not None]
    return pd.DataFrame(rows, columns=["trial_id", "training_iteration", "acc", "done"])


def rule(**kw) -> ForecastRule:
    kw.setdefault("metric", "acc")
    kw.setdefault("mode", "max")
    return ForecastRule(**kw)


def one(decisions: pd.DataFrame, trial: str) -> pd.Series:
    return decisions.set_index("trial_id").loc[trial]


def hopeless(steps: int = 15) -> np.ndarray:
    """A curve that flattened at 0.3 (every reference ends above 0.45)."""
    return 0.3 * (1 - np.exp(-0.5 * np.arange(1, steps + 1)))


# ---------------------------------------------------------------------- construction


@pytest.mark.parametrize("kw", [
    {"threshold": 0.0}, {"threshold": 1.0}, {"threshold": NAN}, {"top": 0}, {"top": 0.0}, {"top": 1.0},
    {"top": True}, {"top": "best"}, {"max_t": 0}, {"window": 0}, {"grace_period": -1}, {"grace_period": "soon"},
    {"min_samples": 2}, {"min_samples": 1.5}, {"interval": 0}, {"mode": "up"},
])
def test_bad_arguments_are_configuration_errors(kw) -> None:
    with pytest.raises(ConfigurationError):
        ForecastRule(**kw)


def test_defaults_and_description() -> None:
    r = ForecastRule()
    assert r.describe() == ("forecast(threshold=0.05, top=0.1, max_t=auto, window=2, grace_period=auto, "
                            "min_samples=5, interval=1)")
    assert ForecastRule(grace_period="auto").grace_period is None and ForecastRule(grace_period=4).grace_period == 4


# ---------------------------------------------------------------------- deciding


def test_stops_a_hopeless_trial_and_says_why() -> None:
    trials = {**family(30), "c": hopeless()}
    d = rule().decide(frame(trials))
    assert list(d.columns) == list(DECISION_COLUMNS) and list(d["trial_id"]) == ["c"]
    row = one(d, "c")
    assert bool(row["stop"]) and row["step"] == 15
    assert row["value"] < 0.35 < row["reference"]  # the forecast, and the value to beat
    # the value to beat is the 90th percentile of the other trials' scores (linearly interpolated)
    scores = [max(v) for t, v in trials.items() if t != "c"]
    assert row["reference"] == pytest.approx(np.quantile(scores, 0.9), abs=1e-12)
    assert sorted(scores)[-4] < row["reference"] < sorted(scores)[-3]  # between the 4th and 3rd best of 30
    # "forecast 0.3 [0.29, 0.31] at step 30 vs top 10% (90th percentile of 30) 0.91: P(beat) = 0% < 5.0% (...)"
    assert row["reason"].startswith("forecast 0.")
    assert "at step 30 vs top 10% (90th percentile of 30) 0.9" in row["reason"] and "P(beat) = " in row["reason"]
    assert "< 5.0%" in row["reason"] and "from 30 finished trials at step 15" in row["reason"]
    assert "auto grace period: step 4 = 2 x window 2, the prefix this rule needs to see a curve bend" in row["reason"]


def test_a_trial_that_can_still_win_continues() -> None:
    refs = family(30)
    leader = max(refs, key=lambda k: refs[k].max())
    climbing = refs[leader][:8] - 0.01  # the course of the eventual best, a little behind it
    assert climbing.max() < sorted(v.max() for v in refs.values())[-3]  # not yet at the value to beat
    row = one(rule().decide(frame({**refs, "c": climbing})), "c")
    assert not row["stop"] and ">= 5.0%" in row["reason"] and row["value"] > row["reference"]


def test_too_few_finished_trials_means_no_stop() -> None:
    trials = {**family(4), "c": hopeless()}
    row = one(rule().decide(frame(trials)), "c")
    assert not row["stop"]
    assert row["reason"].startswith("too few finished trials to forecast from at step 15: 4 ran to step 30")
    assert "5 needed" in row["reason"]
    # the k-th best needs k other trials
    row = one(rule(top=8, min_samples=3).decide(frame({**family(5), "c": hopeless()})), "c")
    assert not row["stop"] and "too few finished trials: 5 other trials with a score, 8 needed" in row["reason"]


def test_too_short_a_prefix_means_no_stop() -> None:
    trials = {**family(30), "c": hopeless(3)}  # window 2: two windows need 4 steps
    row = one(rule(grace_period=0).decide(frame(trials)), "c")
    assert not row["stop"] and row["reason"].startswith("too short a prefix to forecast step 30: step 3")
    # the auto grace period is those two windows, and says so
    row = one(rule().decide(frame(trials)), "c")
    assert not row["stop"] and row["reason"] == (
        "step 3 is within the grace period (4 steps); auto grace period: "
        "step 4 = 2 x window 2, the prefix this rule needs to see a curve bend")
    assert bool(one(rule().decide(frame({**family(30), "c": hopeless(4)})), "c")["stop"])
    row = one(rule(window=3, grace_period=0).decide(frame({**family(30), "c": hopeless(5)})), "c")
    assert not row["stop"] and row["reason"].startswith("too short a prefix to forecast step 30: step 5")
    row = one(rule(window=3).decide(frame({**family(30), "c": hopeless(5)})), "c")
    assert not row["stop"] and row["reason"].startswith("step 5 is within the grace period (6 steps)")
    assert bool(one(rule(window=3).decide(frame({**family(30), "c": hopeless(6)})), "c")["stop"])


def test_a_curve_unlike_the_references_is_not_stopped() -> None:
    refs = family(30)
    # far below every reference and still shooting up: nothing like it finished, so no extrapolation
    odd = np.r_[np.zeros(12), [0.0, 0.0, 0.4]] - 0.5
    row = one(rule().decide(frame({**refs, "c": odd})), "c")
    assert not row["stop"]
    assert "unlike the 30 finished ones (it rose " in row["reason"] and "P(beat)" in row["reason"]


def test_grace_period_is_validated_and_respected() -> None:
    trials = {**family(30), "c": hopeless()}
    row = one(rule(grace_period=20).decide(frame(trials)), "c")
    assert not row["stop"] and row["reason"] == "step 15 is within the grace period (20 steps)"
    assert bool(one(rule(grace_period=15).decide(frame(trials)), "c")["stop"])


def test_auto_grace_with_no_finished_trial_decides_nothing() -> None:
    row = one(rule().decide(frame({"c": hopeless()}, done=set())), "c")
    assert not row["stop"] and "no finished trial yet" in row["reason"]


def test_min_samples_counts_the_references_used() -> None:
    trials = {**family(12), "c": hopeless()}
    assert bool(one(rule(min_samples=12).decide(frame(trials)), "c")["stop"])
    row = one(rule(min_samples=13).decide(frame(trials)), "c")
    assert not row["stop"] and "12 ran to step 30 with a usable prefix, 13 needed" in row["reason"]


def test_nan_reports() -> None:
    refs = family(30)
    refs["r00"] = refs["r00"].copy()
    refs["r00"][[3, 10, 20]] = NAN  # a reference with NaN reports still counts (NaN left out of its means)
    trials = {**refs, "all_nan": [NAN] * 15, "tail_nan": list(hopeless(12)) + [NAN] * 3,
              "some_nan": list(hopeless(13)) + [NAN, 0.3]}
    d = rule().decide(frame(trials)).set_index("trial_id")
    assert d.loc["all_nan", "stop"] and d.loc["all_nan", "reason"].startswith("every report up to step 15 is NaN")
    assert d.loc["tail_nan", "stop"]
    assert d.loc["tail_nan", "reason"].startswith("every report in the last 2 steps up to step 15 is NaN")
    assert d.loc["some_nan", "stop"] and "from 30 finished trials" in d.loc["some_nan", "reason"]
    # a reference whose score is NaN is no reference
    nan_refs = {f"r{i:02d}": [NAN] * STEPS for i in range(30)}
    row = one(rule().decide(frame({**nan_refs, **family(4, seed=3), "c": hopeless()})), "c")
    assert not row["stop"] and "too few finished trials" in row["reason"]


def test_ragged_steps() -> None:
    refs = family(30)
    evens = list(range(2, 31, 2))
    trials = {**refs, "c": hopeless(30)[1::2][:8]}  # reports at steps 2, 4, ..., 16
    row = one(rule().decide(frame(trials, steps={"c": evens[:8]})), "c")
    assert bool(row["stop"]) and row["step"] == 16 and "at step 30 vs" in row["reason"]
    # references that reported only every other step still count at a column they have both means for
    odd_refs = {k: v[::2] for k, v in refs.items()}
    odd_steps = {k: list(range(1, 31, 2)) for k in refs}
    d = rule().decide(frame({**odd_refs, "c": hopeless()}, steps=odd_steps))
    assert bool(one(d, "c")["stop"]) and "from 30 finished trials at step 15" in one(d, "c")["reason"]


def test_now_running_chooses_the_candidates() -> None:
    trials = {**family(30), "c": hopeless(), "d": hopeless()}
    d = rule().decide(frame(trials, done=set(family(30))), now_running=["c"])
    assert list(d["trial_id"]) == ["c"] and bool(d["stop"].iloc[0])


def test_a_trial_above_the_value_to_beat_continues_and_a_tie_is_forecast() -> None:
    refs = family(30)
    top = max(np.max(v) for v in refs.values())
    row = one(rule(top=1).decide(frame({**refs, "c": np.full(15, top + 0.01)})), "c")
    assert not row["stop"] and "already beats the best" in row["reason"] and "P(beat) = 100%" in row["reason"]
    # a tie does not beat: "better" is strictly better, so a trial level with the best is forecast
    row = one(rule(top=1).decide(frame({**refs, "c": np.full(15, top)})), "c")
    assert "already beats" not in row["reason"] and "forecast " in row["reason"]
    assert "P(beat) = 100%" not in row["reason"]


def test_on_a_grid_better_means_at_least_one_step_of_it() -> None:
    """Accuracies over 100 validation samples: the references' numbers are multiples of 0.01, so a trial
    at the best so far must still gain a step; one a step above it already beats it."""
    refs = {k: np.round(v, 2) for k, v in family(30).items()}
    top = max(np.max(v) for v in refs.values())
    assert _grid_step(np.vstack(list(refs.values()))) == pytest.approx(0.01, abs=1e-9)
    flat = one(rule(top=1).decide(frame({**refs, "c": np.full(15, top)})), "c")
    assert "already beats" not in flat["reason"] and "P(beat) = 100%" not in flat["reason"]
    above = one(rule(top=1).decide(frame({**refs, "c": np.full(15, top + 0.01)})), "c")
    assert "already beats" in above["reason"]
    assert _grid_step(np.array([[0.5, 0.5, np.nan, 0.7]])) == pytest.approx(0.2)
    assert _grid_step(np.array([[0.5, np.nan]])) == 0.0


def test_a_noisy_curve_near_the_value_is_not_stopped_on_its_own_noise() -> None:
    """Two curves at the same level below every reference's score: the smooth one is stopped, the one whose
    reports scatter widely may still beat the value on one lucky report, and its reason says so."""
    refs = family(30)
    third = sorted(np.max(v) for v in refs.values())[-3]  # the top tenth of 30 scores
    rng = np.random.default_rng(5)
    level = np.full(15, third - 0.03)
    trials = {**refs, "smooth": level + rng.normal(0, 0.002, 15), "noisy": level + rng.normal(0, 0.03, 15)}
    trials["noisy"] = np.minimum(trials["noisy"], third - 0.005)  # no report has beaten it yet
    d = rule().decide(frame(trials)).set_index("trial_id")
    assert bool(d.loc["smooth", "stop"])
    assert not d.loc["noisy", "stop"] and "from its own noise" in d.loc["noisy", "reason"]


def test_minimise_mirrors_maximise() -> None:
    trials = {**family(30), "c": hopeless(), "e": family(1, seed=9)["r00"][:15]}
    up = rule().decide(frame(trials)).set_index("trial_id")
    loss = {k: 1.0 - np.asarray(v) for k, v in trials.items()}
    down = rule(mode="min").decide(frame(loss)).set_index("trial_id")
    assert list(up["stop"]) == list(down["stop"])
    np.testing.assert_allclose(down["value"], 1.0 - up["value"], atol=1e-9)
    np.testing.assert_allclose(down["reference"], 1.0 - up["reference"], atol=1e-9)
    # the interval in the reason is in the metric's units, low before high
    lo, hi = (float(x) for x in down.loc["c", "reason"].split("[")[1].split("]")[0].split(", "))
    assert lo <= down.loc["c", "value"] <= hi


def test_a_trial_at_the_horizon_below_the_value_is_certain() -> None:
    refs = family(30)
    row = one(rule(max_t=15).decide(frame({**refs, "c": hopeless()})), "c")
    assert bool(row["stop"]) and "is at the horizon 15" in row["reason"] and "P(beat) = 0%" in row["reason"]
    # one that ties the value there has nothing left to save: it continues (a stop would only make it no
    # reference), without a probability
    value = np.quantile([np.max(v[:15]) for v in refs.values()], 0.9)
    tie = one(rule(max_t=15).decide(frame({**refs, "c": np.full(15, value)})), "c")
    assert not tie["stop"] and "ties the top 10%" in tie["reason"] and "nothing is left to save" in tie["reason"]


def test_a_forecast_does_not_depend_on_the_rows_order() -> None:
    """The same trials listed in another order get bit-for-bit the same decisions (the fit's sums are taken
    over the references in one order, by trial id, whatever order a caller's table has)."""
    rng = np.random.default_rng(5)
    trials = {**family(40, seed=5), **{f"c{i}": family(1, seed=100 + i)["r00"][:int(rng.integers(6, 25))]
                                       for i in range(12)}}
    table = frame(trials)
    want = rule().decide(table).set_index("trial_id").sort_index()
    assert want["reason"].str.startswith("forecast").sum() >= 6  # most candidates forecast, not short-cut
    for seed in range(3):
        got = rule().decide(table.sample(frac=1.0, random_state=seed)).set_index("trial_id").sort_index()
        pd.testing.assert_frame_equal(got, want, check_exact=True)


@pytest.mark.parametrize("n", [3, 5, 12, 200])
def test_interval_bounds_are_the_forecast_distributions_quantiles(n: int) -> None:
    """The bounds stated are the quantiles of the mixture of Gaussian kernels P(beat) is computed from
    (cut at zero), to a small fraction of a kernel's width, however few the references: against the
    mixture's exact CDF inverted by bisection."""
    from hpo_analytics.stopping._significance import normal_cdf

    rng = np.random.default_rng(n)
    draws = np.sort(rng.normal(0.05, 0.02, size=(4, n)), axis=1)
    draws[0] -= 0.06  # much of the first row's mass is below zero: its low quantiles are a zero gain
    bw = _bandwidth(draws) * np.array([1.0, 1.0, 2.0, 0.5])  # the rule's kernel width, and wider and narrower
    got = _mixture_quantiles(draws, bw)
    for i in range(len(draws)):
        for j, level in enumerate(_LEVELS):
            lo, hi = -1.0, 1.0
            for _ in range(60):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if normal_cdf((mid - draws[i]) / bw[i]).mean() < level else (lo, mid)
            assert got[j, i] == pytest.approx(max(hi, 0.0), abs=0.1 * bw[i]), (i, level)


# ---------------------------------------------------------------------- calibration on real curves


def corpus_searches() -> dict[str, pd.DataFrame]:
    table = pd.read_parquet(CORPUS)
    table["search"] = table["search"].astype(str)
    return {name: part.drop(columns=["search", "params"]) for name, part in table.groupby("search", sort=False)}


def test_backtest_reports_calibration_only_for_the_forecast_rule() -> None:
    from hpo_analytics.stopping import MedianStoppingRule

    searches = corpus_searches()
    curves = next(iter(searches.values()))
    out = backtest(curves, {"f": ForecastRule(), "m": MedianStoppingRule()}, metric="acc", mode="max")
    assert set(out.attrs["calibration"]) == {"f"}
    c = out.attrs["calibration"]["f"]
    from hpo_analytics.stopping._backtest import CALIBRATION_KEYS

    assert set(c) == set(CALIBRATION_KEYS) == {
        "threshold", "below", "below_beat", "below_beat_rate", "below_mean_p", "binomial_p", "calibrated",
        "forecasts", "forecast_trials", "coverage", "trial_coverage", "trial_coverage_se"}
    assert c["below"] > 0 and c["forecasts"] > c["forecast_trials"] > 0 and set(c["coverage"]) == {0.8, 0.95}


def corpus_calibration() -> dict:
    """The forecast rule's calibration, replayed as the back-test replays them, pooled over the corpus's
    searches: the stops' counts summed; per-trial coverages averaged over every search's trials, with
    their standard errors combined (the searches are independent)."""
    below = beat = trials = 0
    mean = {0.8: 0.0, 0.95: 0.0}
    var = {0.8: 0.0, 0.95: 0.0}
    for curves in corpus_searches().values():
        c = backtest(curves, {"forecast": ForecastRule()}, metric="acc", mode="max").attrs["calibration"]["forecast"]
        below += c["below"]
        beat += c["below_beat"]
        trials += c["forecast_trials"]
        for level in mean:
            mean[level] += c["trial_coverage"][level] * c["forecast_trials"]
            var[level] += (c["trial_coverage_se"][level] * c["forecast_trials"]) ** 2
    return {"below": below, "beat": beat, "trials": trials,
            "coverage": {k: v / trials for k, v in mean.items()},
            "se": {k: math.sqrt(v) / trials for k, v in var.items()}}


@pytest.fixture(scope="module")
def calibrated() -> dict:
    return corpus_calibration()


def test_stops_and_80_percent_intervals_are_calibrated_on_real_curves(calibrated: dict) -> None:
    """Trials given P(beat) < 5% go on to beat the value at a rate consistent with <= 5% (exact one-sided
    binomial test at the 5% level, what ``calibrated`` reports); the 80% intervals hold the actual score
    of about 80% of each trial's forecasts, within three standard errors. A trial is forecast at every
    step it is asked, so the units are the trials (over 300): each trial's share of forecasts covered,
    averaged, with the standard error of that mean (about 0.02)."""
    from hpo_analytics.stopping._backtest import _binomial_tail

    assert calibrated["below"] > 100 and calibrated["trials"] > 250
    assert _binomial_tail(calibrated["beat"], calibrated["below"], 0.05) >= 0.05, calibrated
    share, se = calibrated["coverage"][0.8], calibrated["se"][0.8]
    assert abs(share - 0.8) <= 3 * se, calibrated
    # the 95% intervals are wider, and (see the next test) not yet wide enough: a guard against worse
    assert calibrated["coverage"][0.95] >= max(0.9, share + 0.05), calibrated


@pytest.mark.xfail(strict=True, reason="known shortfall (issue #18's report): the 95% intervals hold about 91% "
                   "of the trials' final scores on the corpus, worst on digits-sgd (noisy curves stopped early), "
                   "and the finished trials that teach the forecast are the survivors of early stopping")
def test_95_percent_intervals_are_calibrated_on_real_curves(calibrated: dict) -> None:
    share, se = calibrated["coverage"][0.95], calibrated["se"][0.95]
    assert abs(share - 0.95) <= 3 * se, calibrated


# ---------------------------------------------------------------------- the CLI


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    from hpo_analytics.cli import main

    capsys.readouterr()
    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_backtest_with_the_forecast_rule_prints_its_calibration(capsys: pytest.CaptureFixture[str]) -> None:
    job = str(Path(__file__).resolve().parent.parent / "data" / "synthetic_job")
    code, out, _ = cli(capsys, "backtest", job, "--rule", "forecast", "--rule", "median", "--metric", "acc",
                       "--mode", "max")
    assert code == 0
    assert "forecast: forecast(threshold=0.05, top=0.1, max_t=auto, window=2, grace_period=auto" in out
    assert "forecast calibration: " in out and "forecast reliability: 80% interval held " in out
    assert "median calibration" not in out
    code, out, _ = cli(capsys, "backtest", job, "--rule", "forecast", "--p-beat", "0.01", "--top", "3",
                       "--max-t", "10", "--min-samples", "20", "--window", "3", "--json")
    assert code == 0
    parsed = json_loads(out)
    assert "threshold=0.01, top=3, max_t=10, window=3, grace_period=auto, min_samples=20" in \
        parsed["rules"][0]["description"]
    c = parsed["calibration"]["forecast"]
    assert c["threshold"] == 0.01 and set(c["coverage"]) == set(c["trial_coverage"]) == {"0.8", "0.95"}


@pytest.mark.parametrize("bad", ["0", "1.0", "-2", "best"])
def test_cli_refuses_a_bad_top(capsys: pytest.CaptureFixture[str], bad: str) -> None:
    with pytest.raises(SystemExit) as exc:
        cli(capsys, "backtest", "x", "--rule", "forecast", "--top", bad)
    assert exc.value.code == 2


def test_cli_builds_each_rule_with_its_own_min_samples_by_default() -> None:
    from hpo_analytics.cli import build_parser
    from hpo_analytics.cli._rules import build_rule

    args = build_parser().parse_args(["backtest", "x"])
    assert build_rule("forecast", args).min_samples == 5 and build_rule("median", args).min_samples == 5
    assert build_rule("significance", args).min_samples == 5
    args = build_parser().parse_args(["backtest", "x", "--min-samples", "7"])
    assert build_rule("forecast", args).min_samples == 7 and build_rule("median", args).min_samples == 7


def json_loads(text: str) -> dict:
    import json

    return json.loads(text)


def test_a_metric_that_is_not_numeric_is_refused() -> None:
    text = frame({**family(12), "c": hopeless()}).astype({"acc": str})
    with pytest.raises(ConfigurationError):
        rule().decide(text)
