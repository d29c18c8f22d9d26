"""``semantics="ray"``: decided exactly as Ray Tune's MedianStoppingRule, NaN included.

Ray (``ray.tune.schedulers.MedianStoppingRule``, ``time_attr="training_iteration"``),
on a result of trial T at time t:

* ``t < grace_period``: continue;
* the others: every other trial whose *last* result's time is ``>= t``; fewer
  than ``min_samples_required``: continue;
* each other's running mean: ``np.mean`` of its metric over its results with
  ``grace_period <= time <= t`` (``np.mean`` does not skip NaN);
* T's best: the built-in ``max`` (mode max) / ``min`` (mode min) over *all* of
  T's results in report order -- a NaN first value poisons it, a later NaN is
  skipped;
* stop iff ``compare_op(median, best) != best``.

The one change (issue #12): running means that are not finite are left out of
the median (Ray would take the median over NaN, get NaN and stop every
trial); the count for ``min_samples`` stays Ray's; with no finite running
mean left, continue. :func:`ray_decides` below transliterates that
description (it is not Ray's code) and the hypothesis test holds ``decide``
to it on ragged curves with NaN and infinities, in both modes.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hpo_analytics.errors import ConfigurationError
from hpo_analytics.stopping import MedianStoppingRule, PercentileRule
from hpo_analytics.stopping._percentile import _quantile_excluding, builtin_best, running_means

NAN, INF = float("nan"), float("inf")

Curves = dict[str, list[tuple[int, float]]]


# ---------------------------------------------------------------------- the reference


def ray_decides(curves: Curves, trial: str, *, grace_period: int, min_samples: int, mode: str
                ) -> tuple[bool, float, float]:
    """Ray's decision on ``trial``'s latest result: ``(stop, best, median)`` (median NaN when none was taken).

    ``curves`` maps every trial Ray has seen (running or finished) to its
    results in report order, ``(time, value)``.
    """
    compare_op = max if mode == "max" else min
    results = curves[trial]
    time = results[-1][0]
    best = compare_op([v for _, v in results])
    if time < grace_period:
        return False, best, NAN
    others = [o for o, rs in curves.items() if o != trial and rs and rs[-1][0] >= time]
    if len(others) < min_samples:
        return False, best, NAN
    means = []
    for o in others:
        scoped = [v for t, v in curves[o] if grace_period <= t <= time]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # np.mean([]) and inf - inf
            mean = float(np.mean(scoped))
        if math.isfinite(mean):  # issue #12: a running mean that is not finite is left out
            means.append(mean)
    if not means:
        return False, best, NAN
    median = float(np.median(means))
    return compare_op(median, best) != best, best, median


def frame_of(curves: Curves, finished: set[str]) -> pd.DataFrame:
    rows = [(tid, t, v, tid in finished) for tid, rs in curves.items() for t, v in rs]
    return pd.DataFrame(rows, columns=["trial_id", "training_iteration", "acc", "done"])


def decide(curves: Curves, running: list[str], *, mode: str = "max", grace_period: int = 0,
           min_samples: int = 1) -> pd.DataFrame:
    finished = set(curves) - set(running)
    rule = MedianStoppingRule(semantics="ray", grace_period=grace_period, min_samples=min_samples, metric="acc",
                              mode=mode)
    return rule.decide(frame_of(curves, finished), now_running=running, reference=sorted(finished)) \
        .set_index("trial_id")


def steps(*values: float, start: int = 1) -> list[tuple[int, float]]:
    return [(start + i, v) for i, v in enumerate(values)]


def same(a: float, b: float) -> bool:
    return (a != a and b != b) or a == b


# ---------------------------------------------------------------------- hand-worked NaN cases


def test_nan_first_value_poisons_the_best_and_stops_later_nan_is_skipped() -> None:
    # Others a, b, c (finished, steps 1..3; binary fractions, so every mean is exact): running means over
    # steps 1..3 are .25, .5, .75 -> median .5.
    refs = {"a": steps(0.25, 0.25, 0.25), "b": steps(0.5, 0.5, 0.5), "c": steps(0.75, 0.75, 0.75)}
    # r1 = [nan, .625, .875]: max() starts from nan and nothing compares greater -> best nan; max(.5, nan)
    # is .5, which != nan -> stop (a NaN-ignoring best, .875, would have continued).
    # r2 = [.625, nan, .875]: max() skips the later nan -> best .875 > .5 -> continue.
    out = decide(refs | {"r1": steps(NAN, 0.625, 0.875), "r2": steps(0.625, NAN, 0.875)}, ["r1", "r2"],
                 min_samples=3)
    assert out.loc["r1", "stop"] and math.isnan(out.loc["r1", "value"]) and out.loc["r1", "reference"] == 0.5
    assert "first report is NaN" in out.loc["r1", "reason"]
    assert not out.loc["r2", "stop"] and out.loc["r2", "value"] == 0.875 and out.loc["r2", "reference"] == 0.5
    # r1 and r2 are running and reached step 3 too, so each is among the other's others; each one's running
    # mean has a nan in the window (np.mean does not skip it) and is left out of the other's median.
    assert "3 other trials' running means over steps 0..3; 1 not finite, left out" in out.loc["r1", "reason"]


def test_min_mode_mirrors_the_poisoned_best() -> None:
    # mode min: min() over [nan, .625, .125] stays nan -> min(.5, nan) is .5 != nan -> stop (NaN-ignoring:
    # .125, better than the median, would continue); [.625, nan, .125]: min() skips the nan -> .125 -> continue.
    refs = {"a": steps(0.25, 0.25, 0.25), "b": steps(0.5, 0.5, 0.5), "c": steps(0.75, 0.75, 0.75)}
    out = decide(refs | {"r1": steps(NAN, 0.625, 0.125), "r2": steps(0.625, NAN, 0.125)}, ["r1", "r2"],
                 mode="min", min_samples=3)
    assert out.loc["r1", "stop"] and math.isnan(out.loc["r1", "value"]) and out.loc["r1", "reference"] == 0.5
    assert not out.loc["r2", "stop"] and out.loc["r2", "value"] == 0.125
    # and a plain min-mode stop: best .625 is worse (higher) than the median .5
    out = decide(refs | {"r": steps(0.875, 0.625, 0.75)}, ["r"], mode="min", min_samples=3)
    assert out.loc["r", "stop"] and out.loc["r", "value"] == 0.625 and out.loc["r", "reference"] == 0.5


def test_reference_with_nan_in_window_is_left_out_changing_the_median() -> None:
    # grace 2, step 3: the window is steps 2..3. Means: a mean(nan, .3) = nan (np.mean does not skip nan),
    # b .4, c .5, d .6. Left out: a -> median of [.4, .5, .6] = .5 (with a's nan-ignoring .3 it would be .45).
    refs = {"a": steps(0.1, NAN, 0.3), "b": steps(0.4, 0.4, 0.4), "c": steps(0.5, 0.5, 0.5), "d": steps(0.6, 0.6, 0.6)}
    out = decide(refs | {"r": steps(0.1, 0.2, 0.48)}, ["r"], grace_period=2, min_samples=4)
    assert out.loc["r", "reference"] == 0.5 and out.loc["r", "stop"]  # 0.48 < 0.5 (it would continue at .45)
    # a NaN *before* the window does not matter: the running mean only covers steps >= grace_period
    refs["a"] = steps(NAN, 0.3, 0.3)
    out = decide(refs | {"r": steps(0.1, 0.2, 0.48)}, ["r"], grace_period=2, min_samples=4)
    assert out.loc["r", "reference"] == 0.45 and not out.loc["r", "stop"]


def test_reference_with_an_infinity_in_window_is_left_out() -> None:
    # b's mean over [inf, .4] is inf: not finite, left out -> median of a .3, c .5 = .4 (Ray would take inf in)
    refs = {"a": steps(0.3, 0.3), "b": steps(INF, 0.4), "c": steps(0.5, 0.5)}
    out = decide(refs | {"r": steps(0.35, 0.35)}, ["r"], min_samples=3)
    assert out.loc["r", "reference"] == 0.4 and out.loc["r", "stop"]


def test_reference_with_no_report_in_window_is_left_out_but_counted_for_min_samples() -> None:
    # grace 3, step 4. c reported steps 1, 2 and 5: it reached step 4 (its last step, 5, is >= 4) but has
    # no report in 3..4: np.mean([]) is nan, left out. It still counts for min_samples (Ray's count):
    # 3 others >= min_samples 3; the median is over a (.2) and b (.6): .4.
    curves = {"a": steps(0.2, 0.2, 0.2, 0.2), "b": steps(0.6, 0.6, 0.6, 0.6),
              "c": [(1, 0.9), (2, 0.9), (5, 0.9)], "r": steps(0.1, 0.1, 0.1, 0.3)}
    out = decide(curves, ["r"], grace_period=3, min_samples=3)
    assert out.loc["r", "reference"] == 0.4 and out.loc["r", "stop"]
    assert "2 other trials' running means over steps 3..4; 1 not finite, left out" in out.loc["r", "reason"]


def test_every_other_left_out_continues() -> None:
    # both others have a NaN in the window: no finite running mean to compare with -> continue (Ray would
    # compare with a NaN median and stop); the reason says so
    curves = {"a": steps(0.5, NAN), "b": steps(NAN, 0.6), "r": steps(0.1, 0.1)}
    out = decide(curves, ["r"], min_samples=2)
    assert not out.loc["r", "stop"] and math.isnan(out.loc["r", "reference"])
    assert "none of the 2 other trials that reached step 2 has a finite running mean" in out.loc["r", "reason"]


def test_running_mean_is_numpys_to_the_last_bit() -> None:
    # Ten reports of 0.7: np.mean (pairwise summation) gives exactly 0.7, a running sum 0.7000000000000001.
    assert float(np.mean([0.7] * 10)) == 0.7 and sum([0.7] * 10) / 10 > 0.7
    refs = {k: steps(*[0.7] * 10) for k in "abc"}
    out = decide(refs | {"r": steps(*[0.7] * 10)}, ["r"], min_samples=3)
    assert out.loc["r", "reference"] == 0.7 and not out.loc["r", "stop"]  # a tie continues


def test_median_of_an_even_count_is_numpys() -> None:
    # np.median of [0.1, 0.7] is (0.1 + 0.7) / 2 = 0.39999999999999997, not 0.1 + 0.5 * (0.7 - 0.1) = 0.4:
    # a trial at exactly that value ties and continues.
    tie = (0.1 + 0.7) / 2
    assert float(np.median([0.1, 0.7])) == tie != 0.1 + 0.5 * (0.7 - 0.1)
    out = decide({"a": steps(0.1), "b": steps(0.7), "r": steps(tie)}, ["r"], min_samples=2)
    assert out.loc["r", "reference"] == tie and not out.loc["r", "stop"]


# ---------------------------------------------------------------------- the helpers, against numpy and Python


def test_builtin_best_is_pythons_max() -> None:
    rows = [[NAN, 0.5, 0.7], [0.5, NAN, 0.7], [-INF, 0.2, NAN], [NAN, NAN, NAN], [0.1, INF, 0.3], [0.4, 0.4, 0.4]]
    values = np.array(rows)
    reported = np.ones_like(values, dtype=bool)
    reported[4, 1] = False  # not reported: not part of the results at all
    got = builtin_best(values, reported)
    for i, row in enumerate(rows):
        expected = max(v for v, r in zip(row, reported[i]) if r)
        assert same(got[i], expected), (row, got[i], expected)


@pytest.mark.parametrize("pairwise", [True, False], ids=["prefix-sums", "numpy.mean"])
def test_running_means_are_numpys(pairwise: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    # Both ways of taking them: numpy's pairwise summation rebuilt from prefix sums (windows up to 128
    # reports), and numpy.mean itself (longer windows, or a numpy that adds differently).
    from hpo_analytics.stopping import _percentile

    assert _percentile._pairwise_matches_numpy()
    if not pairwise:
        monkeypatch.setattr(_percentile, "_PAIRWISE_OK", [False])
    rng = np.random.default_rng(3)
    for i in range(40):
        n, m = int(rng.integers(1, 12)), int(rng.integers(1, 300 if i % 4 == 0 else 140))
        # repeated decimals (where summation order shows in the last bit), noise, NaN, infinities, huge
        values = rng.choice([0.1, 0.7, 0.3, NAN, INF, -INF, 1e308], size=(n, m), p=[.3, .3, .3, .03, .02, .02, .03])
        values = np.where(rng.random((n, m)) < 0.3, rng.normal(size=(n, m)), values)
        reported = rng.random((n, m)) > 0.2
        first = int(rng.integers(0, m))
        cols = np.unique(rng.integers(0, m, 3))
        last = np.where(reported.any(axis=1), m - 1 - reported[:, ::-1].argmax(axis=1), -1)
        got = running_means(values, reported, first, cols, last)
        for i in range(n):
            for c, j in enumerate(cols):
                scoped = [values[i, k] for k in range(first, j + 1) if reported[i, k]]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    expected = float(np.mean(scoped)) if scoped and last[i] >= j else NAN
                assert same(got[i, c], expected), (i, j)


def test_quantile_excluding_is_numpys() -> None:
    rng = np.random.default_rng(5)
    for _ in range(300):
        k = int(rng.integers(1, 9))
        s = np.sort(np.where(rng.random(k) < 0.5, rng.choice([0.1, 0.7, 0.3, 0.25], size=k), rng.normal(size=k)))
        rank = int(rng.integers(-1, len(s))) if len(s) > 1 else -1
        rest = np.delete(s, rank) if rank >= 0 else s
        for q in (50.0, 25.0, 75.0, 0.0, 100.0, float(rng.random() * 100)):
            expected = float(np.median(rest)) if q == 50.0 else float(np.percentile(rest, q))
            assert _quantile_excluding(s, q, rank) == expected, (s, rank, q)


# ---------------------------------------------------------------------- differential: decide() against Ray


VALUES = st.one_of(st.sampled_from([0.1, 0.3, 0.5, 0.7, 0.7, NAN, INF, -INF, 0.0, -0.0]),
                   st.floats(-1.0, 1.0, allow_nan=False, width=32))


@st.composite
def searches(draw: st.DrawFn) -> tuple[Curves, list[str]]:
    n = draw(st.integers(1, 7))
    curves: Curves = {}
    running = []
    for i in range(n):
        times = sorted(draw(st.sets(st.integers(1, 8), min_size=1, max_size=6)))
        curves[f"t{i}"] = [(t, draw(VALUES)) for t in times]
        if draw(st.booleans()):
            running.append(f"t{i}")
    return curves, running


@settings(max_examples=400, deadline=None)
@given(searches(), st.integers(0, 4), st.integers(1, 4), st.sampled_from(["max", "min"]))
def test_decide_matches_ray_on_random_ragged_curves(search: tuple[Curves, list[str]], grace_period: int,
                                                    min_samples: int, mode: str) -> None:
    curves, running = search
    values = np.array([v for rs in curves.values() for _, v in rs])
    if not np.isfinite(values).any():
        with pytest.raises(ConfigurationError, match="no finite value"):
            decide(curves, running, mode=mode, grace_period=grace_period, min_samples=min_samples)
        return
    out = decide(curves, running, mode=mode, grace_period=grace_period, min_samples=min_samples)
    assert sorted(out.index) == sorted(running)
    for tid in running:
        stop, best, median = ray_decides(curves, tid, grace_period=grace_period, min_samples=min_samples, mode=mode)
        row = out.loc[tid]
        assert bool(row["stop"]) == stop, (tid, curves, row["reason"])
        assert same(float(row["value"]), best), (tid, curves)
        if not math.isnan(median):
            assert float(row["reference"]) == median, (tid, curves)


def test_percentile_rule_at_50_is_the_median_rule() -> None:
    curves = {"a": steps(0.1, NAN, 0.3), "b": steps(0.4, 0.4), "c": steps(0.5, 0.5, 0.5), "r": steps(NAN, 0.9, 0.9),
              "s": steps(0.2, 0.2, 0.2)}
    frame = frame_of(curves, {"a", "b", "c"})
    kw = {"semantics": "ray", "grace_period": 1, "min_samples": 1, "metric": "acc", "mode": "max"}
    a = MedianStoppingRule(**kw).decide(frame, now_running=["r", "s"])
    b = PercentileRule(50.0, **kw).decide(frame, now_running=["r", "s"])
    pd.testing.assert_frame_equal(a.drop(columns="rule"), b.drop(columns="rule"))
    assert a["stop"].tolist() == [True, True]  # r: poisoned best; s: 0.2 below the median 0.4
