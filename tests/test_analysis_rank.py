"""rank_trials, best_trials, best_so_far: hand-worked cases and ranking invariants (hypothesis)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import hpo_analytics as ha
from hpo_analytics.analysis import best_so_far, best_trials, rank_trials
from hpo_analytics.errors import ConfigurationError

DATA = Path(__file__).resolve().parent.parent / "data"
NAN = math.nan


def trials(scores: list[float], *, ids: list[str] | None = None, index: list[int] | None = None,
           status: list[str] | None = None) -> pd.DataFrame:
    n = len(scores)
    return pd.DataFrame({
        "trial_id": ids or [f"t{i}" for i in range(n)],
        "trial_index": index if index is not None else list(range(n)),
        "status": status or ["TERMINATED"] * n,
        "reward_attr": scores,
        "param/x": np.arange(n, dtype=float),
    })


def curves() -> pd.DataFrame:
    # t0: 0.5, 0.9, 0.6 (best 0.9, last 0.6); t1: 0.7, 0.8 (best 0.8, last 0.8); t2: 0.2, NaN, 0.3
    rows = [("t0", 0, 1, 0.5), ("t0", 0, 2, 0.9), ("t0", 0, 3, 0.6),
            ("t1", 1, 1, 0.7), ("t1", 1, 2, 0.8),
            ("t2", 2, 1, 0.2), ("t2", 2, 2, NAN), ("t2", 2, 3, 0.3)]
    return pd.DataFrame(rows, columns=["trial_id", "trial_index", "training_iteration", "reward_attr"])


# --------------------------------------------------------------------------- rank_trials by hand


def test_ties_share_rank_and_all_are_best() -> None:
    ranked = rank_trials(trials([0.5, 0.9, 0.9, 0.1, 0.5]))
    assert ranked["trial_id"].tolist() == ["t1", "t2", "t0", "t4", "t3"]
    assert ranked["rank"].tolist() == [1, 1, 3, 3, 5]
    assert ranked["is_best"].tolist() == [True, True, False, False, False]
    assert ranked["score"].tolist() == [0.9, 0.9, 0.5, 0.5, 0.1]
    assert ranked.columns[:3].tolist() == ["rank", "is_best", "score"]
    assert ranked.attrs["hpo_analytics.analysis"] == {"metric": "reward_attr", "mode": "max", "scope": "last"}


def test_min_mode_and_nan_last() -> None:
    ranked = rank_trials(trials([0.3, NAN, 0.1, 0.2, NAN]), mode="min")
    assert ranked["trial_id"].tolist() == ["t2", "t3", "t0", "t1", "t4"]
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 4]
    assert ranked["is_best"].tolist() == [True, False, False, False, False]


def test_infinite_scores_rank_above_nan() -> None:
    ranked = rank_trials(trials([NAN, -math.inf, 1.0]))
    assert ranked["trial_id"].tolist() == ["t2", "t1", "t0"]
    assert ranked["rank"].tolist() == [1, 2, 3]


def test_all_nan_is_refused_rather_than_ranking_every_trial_first() -> None:
    for function in (rank_trials, best_trials):
        with pytest.raises(ConfigurationError, match=r"'reward_attr' \(float64\) has no finite value in its 2 row"):
            function(trials([NAN, NAN]))
    assert best_trials(trials([])).empty


def test_tie_break_is_trial_index_then_trial_id_whatever_the_input_order() -> None:
    frame = trials([0.5, 0.5, 0.5, 0.7], ids=["b", "a", "c", "d"], index=[3, 1, 1, 0])
    ranked = rank_trials(frame)  # 0.7 first; then index 1 ("a", "c": "a" < "c") before index 3 ("b")
    assert ranked["trial_id"].tolist() == ["d", "a", "c", "b"]
    assert ranked["rank"].tolist() == [1, 2, 2, 2]
    shuffled = rank_trials(frame.iloc[[2, 0, 3, 1]])
    assert shuffled["trial_id"].tolist() == ["d", "a", "c", "b"]


def test_statuses_filter() -> None:
    frame = trials([0.9, 0.5, 0.7], status=["ERROR", "TERMINATED", "TERMINATED"])
    ranked = rank_trials(frame, statuses={"TERMINATED"})
    assert ranked["trial_id"].tolist() == ["t2", "t1"]


def test_scope_best_and_mean_last_k_use_curves() -> None:
    last = curves().drop_duplicates("trial_id", keep="last")
    by_best = rank_trials(last, scope="best", curves=curves())
    assert by_best["trial_id"].tolist() == ["t0", "t1", "t2"]
    assert by_best["score"].tolist() == [0.9, 0.8, 0.3]
    by_mean = rank_trials(curves(), scope="mean_last_k", k=2)  # the curve table serves as curves
    assert by_mean["trial_id"].tolist() == ["t0", "t1", "t2"]  # (0.9 + 0.6) / 2 == (0.7 + 0.8) / 2: a tie
    assert by_mean["score"].tolist() == [0.75, 0.75, 0.3]
    assert by_mean["rank"].tolist() == [1, 1, 3]
    by_last = rank_trials(curves())  # latest row per trial
    assert by_last["score"].tolist() == [0.8, 0.6, 0.3]
    by_best_min = rank_trials(curves(), scope="best", mode="min")
    assert by_best_min["score"].tolist() == [0.2, 0.5, 0.7]


def test_scope_without_curves_is_a_clear_error() -> None:
    with pytest.raises(ConfigurationError, match="needs the learning curves"):
        rank_trials(trials([0.1]), scope="best")
    with pytest.raises(ConfigurationError, match="scope"):
        rank_trials(trials([0.1]), scope="median")


def test_metric_defaults_and_errors() -> None:
    table = ha.read_trials(DATA / "seed_trials.json")
    assert rank_trials(table).attrs["hpo_analytics.analysis"]["metric"] == "reward_attr"
    tagged = table.replace_schema_metadata({**table.schema.metadata, b"hpo_analytics.metric": b"loss",
                                            b"hpo_analytics.mode": b"min"})
    ranked = rank_trials(tagged)
    assert ranked.attrs["hpo_analytics.analysis"]["metric"] == "loss"
    assert ranked["score"].tolist() == sorted(ranked["score"].tolist())
    with pytest.raises(ConfigurationError, match="no metric column 'accuracy'; available: .*acc"):
        rank_trials(table, metric="accuracy")


def test_arrow_and_pandas_agree() -> None:
    frame = trials([0.5, 0.9, 0.9, 0.1])
    table = pa.Table.from_pandas(frame, preserve_index=False)
    assert rank_trials(table)["trial_id"].tolist() == rank_trials(frame)["trial_id"].tolist()


def test_best_trials_returns_the_tie_set() -> None:
    best = best_trials(trials([0.9, 0.2, 0.9]))
    assert best["trial_id"].tolist() == ["t0", "t2"]


# --------------------------------------------------------------------------- best_so_far by hand


def test_best_so_far_history() -> None:
    history = best_so_far(trials([0.5, NAN, 0.4, 0.7, 0.7, 0.9], index=[0, 1, 2, 3, 4, 5]))
    assert history["score"].tolist()[2:] == [0.4, 0.7, 0.7, 0.9]
    assert history["best_so_far"].tolist() == [0.5, 0.5, 0.5, 0.7, 0.7, 0.9]
    assert history["is_new_best"].tolist() == [True, False, False, True, False, True]
    assert history["best_trial_id"].tolist() == ["t0", "t0", "t0", "t3", "t3", "t5"]


def test_best_so_far_min_mode_leading_nan_and_order() -> None:
    frame = trials([NAN, 3.0, 1.0, 2.0], index=[0, 1, 2, 3])
    frame["time_total_s"] = [1.0, 4.0, 3.0, 2.0]
    history = best_so_far(frame, mode="min", order="time_total_s")
    assert history["trial_id"].tolist() == ["t0", "t3", "t2", "t1"]
    assert np.isnan(history["best_so_far"].iloc[0])
    assert history["best_so_far"].tolist()[1:] == [2.0, 1.0, 1.0]
    assert pd.isna(history["best_trial_id"].iloc[0])
    assert history["best_trial_id"].tolist()[1:] == ["t3", "t2", "t2"]
    with pytest.raises(ConfigurationError, match="no column"):
        best_so_far(frame, order="start_time")


# --------------------------------------------------------------------------- invariants

scores_st = st.lists(
    st.one_of(st.sampled_from([0.0, 0.5, 1.0, NAN]), st.floats(-10, 10, allow_nan=False)),
    min_size=1, max_size=30,
).filter(lambda scores: not all(math.isnan(s) for s in scores))  # all NaN is refused (tested above)


@settings(max_examples=60, deadline=None)
@given(scores=scores_st, mode=st.sampled_from(["max", "min"]), worse_by=st.floats(0.001, 5))
def test_adding_a_worse_trial_never_changes_the_best(scores: list[float], mode: str, worse_by: float) -> None:
    before = best_trials(trials(scores), mode=mode)["trial_id"].tolist()
    finite = [s for s in scores if not math.isnan(s)]
    worst = (min(finite) - worse_by if mode == "max" else max(finite) + worse_by) if finite else 0.0
    for extra in (worst, NAN):
        frame = trials(scores + [extra])
        after = best_trials(frame, mode=mode)["trial_id"].tolist()
        if finite or math.isnan(extra):
            assert after == before


@settings(max_examples=60, deadline=None)
@given(scores=scores_st)
def test_reversing_mode_reverses_the_order_up_to_ties(scores: list[float]) -> None:
    frame = trials(scores)
    up = rank_trials(frame, mode="max").set_index("trial_id")["rank"]
    down = rank_trials(frame, mode="min").set_index("trial_id")["rank"]
    ids = [f"t{i}" for i, s in enumerate(scores) if not math.isnan(s)]
    for a in ids:
        for b in ids:
            assert (up[a] < up[b]) == (down[a] > down[b])
            assert (up[a] == up[b]) == (down[a] == down[b])
    n_finite = len(ids)
    for i, s in enumerate(scores):
        if math.isnan(s):
            assert up[f"t{i}"] == down[f"t{i}"] == n_finite + 1


@settings(max_examples=40, deadline=None)
@given(scores=scores_st, seed=st.integers(0, 1000))
def test_order_does_not_depend_on_input_order(scores: list[float], seed: int) -> None:
    frame = trials(scores)
    permuted = frame.iloc[np.random.default_rng(seed).permutation(len(frame))]
    assert rank_trials(permuted)["trial_id"].tolist() == rank_trials(frame)["trial_id"].tolist()
    best = rank_trials(frame)
    finite = [s for s in scores if not math.isnan(s)]
    marked = set(best.loc[best["is_best"], "trial_id"])
    assert marked == ({f"t{i}" for i, s in enumerate(scores) if finite and s == max(finite)})
