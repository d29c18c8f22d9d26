"""benchmarks/stopping_quality.py: a quick run on the real-curve corpus, its output's structure (not timings)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
RULES = {"median", "percentile", "asha", "patience", "significance", "forecast"}


def load_benchmark():
    spec = importlib.util.spec_from_file_location("stopping_quality", ROOT / "benchmarks" / "stopping_quality.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_quick_run_prints_every_rule_per_search_and_overall(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark()
    assert bench.main(["--quick", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"searches", "overall", "targets"}
    assert list(out["searches"]) == ["digits-mlp"]
    per = out["searches"]["digits-mlp"]
    assert set(per) == RULES
    for r in per.values():
        assert r["trials"] == 40 and 0.0 <= r["saved"] < 1.0 and isinstance(r["best_kept"], bool)
        assert r["regret"] >= 0.0 and r["top"] == 4 and 0 <= r["top_stopped_n"] <= 4
    assert set(out["overall"]) == RULES
    assert set(out["targets"]) == {"saved >= 60%", "best kept in every search",
                                   "fewer top-10% stopped than median at >= savings"}


def test_text_table_has_a_line_per_rule(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load_benchmark()
    assert bench.main(["--search", "wine-mlp", "--max-trials", "30", "--no-optuna", "--no-sweep"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("wine-mlp: 30 trials x 30 epochs, concurrency 4\n")
    assert "overall (1 searches):" in text and "forecast target: saved >= 60%:" in text
    for name in RULES:
        rows = [line for line in text.splitlines() if line.strip() and "target" not in line]
        assert sum(line.split()[0] == name for line in rows) == 2  # the search's table and the overall one


def test_the_matched_median_saves_at_least_as_much_and_stops_the_fewest_top_trials() -> None:
    bench = load_benchmark()
    sweep = [{"saved": 0.70, "top_stopped_n": 9, "setting": "a"}, {"saved": 0.62, "top_stopped_n": 5, "setting": "b"},
             {"saved": 0.65, "top_stopped_n": 5, "setting": "c"}, {"saved": 0.50, "top_stopped_n": 1, "setting": "d"}]
    assert bench.matched_median(sweep, 0.60)["setting"] == "c"  # fewest top stopped, then the most saved
    assert bench.matched_median(sweep, 0.66)["setting"] == "a"
    assert bench.matched_median(sweep, 0.71) is None
    assert bench.targets({"overall": {"forecast": {"saved": 0.71, "best_kept_searches": 5, "searches": 5,
                                                    "top_stopped_n": 0}}, "median_matched": None}) == {
        "saved >= 60%": True, "best kept in every search": True,
        "fewer top-10% stopped than median at >= savings": False}


def test_optuna_pruners_are_replayed_through_a_real_study() -> None:
    pytest.importorskip("optuna")
    bench = load_benchmark()
    values = bench.load_corpus(bench.DEFAULT_CORPUS, ["wine-mlp"], 24)["wine-mlp"]
    deciders = bench.all_deciders(True)
    assert {"optuna median", "optuna halving"} <= set(deciders)
    stop_col = bench.simulate(values, deciders["optuna median"], concurrency=4)
    assert stop_col.shape == (24,) and (stop_col >= -1).all() and (stop_col < values.shape[1]).all()


def test_score_counts_what_a_replay_stopped() -> None:
    bench = load_benchmark()
    values = np.array([[0.1, 0.2, 0.3, 0.4]] * 9 + [[0.5, 0.6, 0.9, 0.95]])
    stop_col = np.array([0, 1, -1, -1, -1, -1, -1, -1, -1, 2])  # the best stopped after its third epoch
    s = bench.score(values, stop_col)
    assert s["saved"] == pytest.approx(1 - (1 + 2 + 7 * 4 + 3) / 40)
    assert not s["best_kept"] and s["regret"] == pytest.approx(0.55) and s["top_stopped_n"] == 1
