"""The back-test replay against a slow, obviously-correct reference, for every rule.

The reference replays a search exactly as ``hpo_analytics.stopping.backtest``'s
module doc tells it, without any shortcut: before each question it cuts every
trial of the whole matrix to the columns it had reached (nothing for trials
not started yet) and hands the rule that matrix, the wave's trials that
reported at the step, and the trials that finished unstopped. The package's
replay must make the very same decisions (stops, values, references, reasons,
in the same order) on ragged curves, NaN reports, missing steps, random start
orders and several concurrencies.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from hpo_analytics.simulator.synthetic import generate_trials
from hpo_analytics.stopping import (
    ForecastRule,
    MedianStoppingRule,
    PatienceRule,
    PercentileRule,
    Rule,
    SignificanceRule,
    SuccessiveHalvingRule,
    ThresholdRule,
    replay_log,
)
from hpo_analytics.stopping._base import CurveMatrix, Decisions
from hpo_analytics.stopping._backtest import _replay, replay

RULES: list[Rule] = [
    MedianStoppingRule(min_samples=1, grace_period=0),
    MedianStoppingRule(grace_period=3, min_samples=3, interval=2),
    MedianStoppingRule(semantics="ray", min_samples=2, grace_period=0),
    MedianStoppingRule(semantics="ray", grace_period=3, min_samples=1),
    PercentileRule(25.0, min_samples=2, grace_period=0),
    PercentileRule(75.0, semantics="ray", interval=2, min_samples=1, grace_period=0),
    SuccessiveHalvingRule(),
    SuccessiveHalvingRule(min_resource=2, reduction_factor=2, min_samples=1),
    ThresholdRule(0.6, grace_period=2),
    ThresholdRule(0.5, use_best=False, interval=2, grace_period=0),
    PatienceRule(patience=2, grace_period=0),
    PatienceRule(patience=3, min_delta=0.01, grace_period=2, interval=2),
    SignificanceRule(alpha=0.2, min_samples=3, grace_period=2),
    SignificanceRule(alpha=0.5, window=1, percentile=25.0, min_effect=0.01, min_samples=2, grace_period=0),
    # the auto grace period (the default), read from the trials finished so far (memoised in the replay)
    MedianStoppingRule(min_samples=1),
    MedianStoppingRule(semantics="ray", min_samples=1),
    PercentileRule(40.0, min_samples=1, interval=2),
    ThresholdRule(0.7),
    PatienceRule(patience=1),
    SignificanceRule(alpha=0.5, min_samples=2),
    ForecastRule(threshold=0.3, min_samples=3, window=2, grace_period=0),
    ForecastRule(top=1, threshold=0.2, min_samples=4, interval=2),
]
IDS = [repr(r) for r in RULES]


def reference_replay(cm: CurveMatrix, rule: Rule, *, mode: str, order: np.ndarray,
                     concurrency: int) -> tuple[np.ndarray, list[Decisions]]:
    """Stop column per trial (-1: never) and every decision, the slow way.

    A trial that never reports is never seen (the package's documented choice:
    it is neither asked about nor counted among the finished trials).
    """
    n, m = cm.values.shape
    reached = np.zeros(n, dtype=np.int64)  # columns each trial has run so far
    stop_col = np.full(n, -1, dtype=np.int64)
    finished = np.zeros(n, dtype=bool)
    decisions: list[Decisions] = []
    for first in range(0, n, concurrency):
        wave = [int(t) for t in order[first:first + concurrency]]
        for col in range(m):
            running = [t for t in wave if stop_col[t] < 0 and cm.reported[t, col:].any()]
            if not running:
                break
            for t in running:
                reached[t] = col + 1
            asked = [t for t in running if cm.reported[t, col]]
            if not asked:
                continue
            d = rule.decide_matrix(cm.truncated(reached), np.array(asked), finished.copy(), mode)
            decisions.append(d)
            for t, stop in zip(d.rows.tolist(), np.asarray(d.stop, dtype=bool).tolist()):
                if stop:
                    stop_col[t] = col
        for t in wave:
            if stop_col[t] < 0 and cm.reported[t].any():
                finished[t] = True
    return stop_col, decisions


def ragged(seed: int, n: int = 34, m: int = 9, *, stale: bool = False) -> CurveMatrix:
    """Curves of different lengths (some none), NaN reports, a diverged tail or two, missing steps,
    steps that are not 1..m. ``stale``: unreported cells keep a number (a rule must see them as given)."""
    rng = np.random.default_rng(seed)
    values = generate_trials(n, seed=seed, n_iterations=m, error_rate=0.0).acc + rng.normal(0.0, 0.03, (n, m))
    lengths = rng.integers(0, m + 1, n)
    lengths[:3] = m  # a few complete curves whatever the draw
    reported = np.arange(m)[None, :] < lengths[:, None]
    reported &= rng.random((n, m)) > 0.12  # missing steps
    values[rng.random((n, m)) < 0.06] = np.nan  # NaN reports
    for row in rng.choice(n, 2, replace=False):  # diverged from some step on
        values[row, rng.integers(1, m):] = np.nan
    values[rng.random((n, m)) < 0.05] = 0.5  # ties
    steps = np.cumsum(rng.integers(1, 3, m))
    if not stale:
        values = np.where(reported, values, np.nan)
    return CurveMatrix.from_arrays(values, steps=steps, reported=reported)


def assert_same_decisions(got: list[Decisions], expected: list[Decisions], what: str) -> None:
    assert len(got) == len(expected), what
    for a, b in zip(got, expected):
        np.testing.assert_array_equal(a.rows, b.rows, err_msg=what)
        np.testing.assert_array_equal(np.asarray(a.stop, dtype=bool), np.asarray(b.stop, dtype=bool), err_msg=what)
        np.testing.assert_array_equal(a.step, b.step, err_msg=what)
        np.testing.assert_array_equal(a.value, b.value, err_msg=what)
        np.testing.assert_array_equal(a.reference, b.reference, err_msg=what)
        assert list(a.reason) == list(b.reason), what


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_replay_decides_as_the_reference(rule: Rule) -> None:
    asked = stopped = 0
    for seed, concurrency, mode, stale in [(11, 1, "max", False), (12, 3, "min", False), (13, 5, "max", True),
                                           (14, 40, "max", False)]:
        cm = ragged(seed, stale=stale)
        order = np.random.default_rng(seed).permutation(len(cm.trial_ids))
        expected, reference = reference_replay(cm, rule, mode=mode, order=order, concurrency=concurrency)
        what = f"{rule!r} seed={seed} concurrency={concurrency} mode={mode}"
        np.testing.assert_array_equal(replay(cm, rule, mode=mode, order=order, concurrency=concurrency), expected,
                                      err_msg=what)
        log: list[Decisions] = []
        _replay(cm, rule, mode=mode, order=order, concurrency=concurrency, log=log)
        assert_same_decisions(log, reference, what)
        asked += sum(len(d.rows) for d in reference)
        stopped += int((expected >= 0).sum())
    # the cases are not vacuous: the rule was asked often and stopped some trials
    assert asked > 100 and stopped > 0


def long_table(seed: int, n: int = 30, m: int = 8) -> pd.DataFrame:
    """A ragged long table with shuffled ``trial_index`` (start order unlike row order)."""
    cm = ragged(seed, n, m)
    rows, cols = np.nonzero(cm.reported)
    index = np.random.default_rng(seed).permutation(n)
    return pd.DataFrame({
        "trial_id": np.array([f"t{i:02d}" for i in range(n)], dtype=object)[rows],
        "trial_index": index[rows],
        "training_iteration": cm.steps[cols],
        "acc": cm.values[rows, cols],
    })


def reference_log(curves: pd.DataFrame, rule: Rule, *, mode: str, concurrency: int) -> pd.DataFrame:
    """What ``replay_log`` must return, from the reference replay."""
    cm = CurveMatrix.from_frame(curves, "acc")
    first = curves.drop_duplicates("trial_id").set_index("trial_id")["trial_index"]
    order = np.argsort(first.loc[cm.trial_ids.astype(str)].to_numpy(), kind="stable")
    _, decisions = reference_replay(cm, rule, mode=mode, order=order, concurrency=concurrency)
    rows = [(str(cm.trial_ids[r]), int(s), bool(x), float(v), float(ref), reason)
            for d in decisions
            for r, s, x, v, ref, reason in zip(d.rows, d.step, d.stop, d.value, d.reference, d.reason)]
    frame = pd.DataFrame(rows, columns=["trial_id", "step", "stop", "value", "reference", "reason"])
    return frame.astype({"trial_id": "string", "step": np.int64, "stop": bool, "value": float,
                         "reference": float, "reason": "string"})


@pytest.mark.parametrize("rule", RULES, ids=IDS)
def test_replay_log_frame_equals_the_reference(rule: Rule) -> None:
    curves = long_table(22)
    for concurrency, mode in [(2, "max"), (6, "min")]:
        got = replay_log(curves, rule, metric="acc", mode=mode, concurrency=concurrency)
        expected = reference_log(curves, rule, mode=mode, concurrency=concurrency)
        assert len(expected) >= 20 and expected["stop"].any()
        pd.testing.assert_frame_equal(got, expected, check_exact=True)


def test_every_rule_class_is_covered() -> None:
    def concrete(cls: type) -> set[type]:
        out = set()
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("hpo_analytics.stopping"):
                out.add(sub)
            out |= concrete(sub)
        return out

    assert concrete(Rule) <= {type(r) for r in RULES}


def test_independent_rules_really_ignore_other_trials() -> None:
    """The rules that say so are asked about all trials at once; their decisions must not read other rows."""
    cm = ragged(31)
    lone = np.flatnonzero(cm.reported.any(axis=1))[:5]
    for rule in RULES:
        if not rule.independent:
            continue
        whole = rule.decide_matrix(cm, lone, np.ones(len(cm.trial_ids), dtype=bool), "max")
        for i, row in enumerate(lone):
            one = CurveMatrix(cm.trial_ids[[row]], cm.steps, cm.values[[row]], cm.reported[[row]])
            alone = rule.decide_matrix(one, np.array([0]), np.zeros(1, dtype=bool), "max")
            assert (alone.stop[0], alone.reason[0]) == (whole.stop[i], whole.reason[i]), repr(rule)
    assert any(r.independent for r in RULES) and not all(r.independent for r in RULES)


def test_replay_checks_its_arguments() -> None:
    from hpo_analytics.errors import ConfigurationError

    cm = ragged(41, n=6, m=4)
    with pytest.raises(ConfigurationError, match="permutation"):
        replay(cm, ThresholdRule(0.5), mode="max", order=np.array([0, 1, 2, 3, 4, 4]))
    with pytest.raises(ConfigurationError, match="concurrency"):
        replay(cm, ThresholdRule(0.5), mode="max", concurrency=0)
    with pytest.raises(ConfigurationError, match="mode"):
        replay(cm, ThresholdRule(0.5), mode="best")


def test_column_statistics_are_numpys_numbers() -> None:
    """The rules' column percentiles and medians (one sort for all columns) give numpy's numbers exactly:
    ties, NaN, all-NaN columns, a single value, wide magnitudes; infinite and huge cells go to numpy."""
    from hpo_analytics.stopping._base import column_medians, column_percentiles

    def same(a: np.ndarray, b: np.ndarray) -> bool:
        # bit for bit, but -0.0 == 0.0: numpy's pick between tied zeros depends on the cells' order too
        a, b = np.asarray(a, dtype=float) + 0.0, np.asarray(b, dtype=float) + 0.0
        return np.array_equal(np.isnan(a), np.isnan(b)) and \
            np.array_equal(np.nan_to_num(a).view(np.int64), np.nan_to_num(b).view(np.int64))

    rng = np.random.default_rng(7)
    checked = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # numpy's all-NaN slice warnings
        for i in range(400):
            k, m = int(rng.integers(1, 14 if i % 20 else 700)), int(rng.integers(1, 5))
            block = [rng.normal(size=(k, m)), rng.integers(0, 4, (k, m)) * 0.1,
                     rng.normal(size=(k, m)) * 10.0 ** rng.integers(-300, 309, (k, m))][i % 3]
            block[rng.random((k, m)) < rng.random()] = np.nan
            if i % 37 == 0:
                block[0, 0] = -np.inf
            for q in (0.0, 12.5, 50.0, 66.7, 75.0, 100.0, float(rng.random() * 100)):
                assert same(column_percentiles(block, q), np.nanpercentile(block, q, axis=0)), (block, q)
            assert same(column_medians(block), np.nanmedian(block, axis=0)), block
            checked += 1
    assert checked == 400
    assert np.isnan(column_percentiles(np.zeros((0, 3)), 50.0)).all()
    assert np.isnan(column_medians(np.zeros((0, 2)))).all()
