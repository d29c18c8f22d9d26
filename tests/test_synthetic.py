"""Tests of the seeded synthetic job generator and its service-exact rendering."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from hpo_analytics import curves_to_arrow, trials_to_arrow
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.simulator.synthetic import (
    ALL_TRIALS_HEADER,
    GROUND_TRUTH,
    PER_TRIAL_HEADER,
    SEARCH_SPACE,
    SimulatedJob,
    TrialFinishedError,
    TrialNotFoundError,
    effects,
    format_number,
    format_tensor,
    generate_pages,
    generate_trials,
)

TENSOR_RE = re.compile(r"^tensor\((nan|-?\d+\.\d{4}), device='cuda:0', requires_grad=True\)$")


def _job(n: int = 60, *, elapsed: float | None = None, seed: int = 3, **kw: object) -> SimulatedJob:
    job = SimulatedJob.create(job_id="job", name="job", n_trials=n, seed=seed, **kw)  # type: ignore[arg-type]
    if elapsed is None:
        job.run_to_completion()
    else:
        job.advance(elapsed)
    return job


def test_same_seed_same_trials_other_seed_other_trials() -> None:
    a, b, c = generate_trials(50, seed=1), generate_trials(50, seed=1), generate_trials(50, seed=2)
    assert a.trial_ids == b.trial_ids
    np.testing.assert_array_equal(a.acc, b.acc)
    assert a.trial_ids != c.trial_ids


def test_ten_thousand_trials_have_unique_ids_and_values_in_the_space() -> None:
    ts = generate_trials(10_000, seed=0)
    assert len(set(ts.trial_ids)) == 10_000
    assert all(re.fullmatch(r"[0-9a-f]{8}", t) for t in ts.trial_ids[:100])
    lr = ts.params["learning_rate"].astype(float)
    assert lr.min() >= 1e-5 and lr.max() <= 1e-1
    assert set(ts.params["batch_size"]) <= {16, 32, 64, 128, 256}
    assert set(ts.params["optimizer"]) == {"adam", "sgd", "rmsprop"}
    d = ts.params["dropout"].astype(float)
    assert d.min() >= 0 and d.max() <= 0.6
    assert set(np.unique(ts.params["seed_offset"])) <= set(range(100))
    assert ts.diverged.any() and ts.will_error.any()


def test_config_cell_has_raw_names_trial_index_and_param_duplicates() -> None:
    cfg = generate_trials(3, seed=0, start_index=7).config(1)
    names = [s.name for s in SEARCH_SPACE]
    assert list(cfg) == names + ["trial_index"] + [f"param/{n}" for n in names]
    assert cfg["trial_index"] == 8
    assert type(cfg["batch_size"]) is int and type(cfg["seed_offset"]) is int
    assert type(cfg["optimizer"]) is str and type(cfg["learning_rate"]) is float
    assert all(cfg[n] == cfg[f"param/{n}"] for n in names)


def test_ground_truth_inert_parameters_have_no_effect_and_ranking_holds() -> None:
    ts = generate_trials(20_000, seed=5)
    eff = effects(ts.params)
    for name in GROUND_TRUTH.inert:
        assert not eff[name].any()
    variances = [np.var(eff[name]) for name in GROUND_TRUTH.important]
    assert variances == sorted(variances, reverse=True)
    assert min(variances) > 0
    assert set(GROUND_TRUTH.important) | set(GROUND_TRUTH.inert) == {s.name for s in SEARCH_SPACE}
    # the asymptote follows the effects (up to noise and clipping), not the inert knobs
    total = sum(eff.values())
    assert np.corrcoef(total, ts.asymptote)[0, 1] > 0.95
    assert abs(np.corrcoef(np.log(ts.params["weight_decay"].astype(float)), ts.asymptote)[0, 1]) < 0.05


def test_curves_rise_towards_the_asymptote_and_loss_falls() -> None:
    ts = generate_trials(2_000, seed=1)
    ok = ~ts.diverged
    first, last = ts.acc[ok, 0], ts.acc[ok, -1]
    assert np.mean(last > first) > 0.9
    assert np.mean(ts.loss[ok, -1] < ts.loss[ok, 0]) > 0.9
    np.testing.assert_allclose(np.nanmax(ts.acc[ok], axis=1), ts.best[ok, -1])
    assert np.isnan(ts.loss[ts.diverged, -1]).all()
    assert np.isnan(ts.acc[ts.diverged, -1]).all()


def test_format_helpers() -> None:
    assert format_number(19.477163314819336) == "19.477163314819336"
    assert format_number(3) == "3"
    assert format_number(float("nan")) == "nan"
    assert format_tensor(0.0754) == "tensor(0.0754, device='cuda:0', requires_grad=True)"
    assert format_tensor(float("nan")) == "tensor(nan, device='cuda:0', requires_grad=True)"


def test_finished_rows_render_exactly_as_the_service() -> None:
    job = _job(80)
    resp = job.trials_response(offset=0, limit=80, offset_mode="records")
    assert resp["items"]["header"] == list(ALL_TRIALS_HEADER)
    assert (resp["total"], resp["count"], resp["limit"], resp["offset"], resp["group_by"]) == (80, 80, 80, 0, "")
    col = {name: k for k, name in enumerate(ALL_TRIALS_HEADER)}
    statuses = set()
    for pos, row in enumerate(resp["items"]["data"]):
        assert len(row) == len(ALL_TRIALS_HEADER)
        assert all(isinstance(c, str) for k, c in enumerate(row) if k != col["config"])
        assert isinstance(row[col["config"]], dict)
        assert row[col[""]] == str(pos)
        assert row[col["worker_index"]] == ""
        statuses.add(row[col["status"]])
        assert row[col["done"]] == ("True" if row[col["status"]] == "TERMINATED" else "False")
        if row[col["training_iteration"]]:
            assert TENSOR_RE.match(row[col["loss"]])
            assert row[col["reward_attr"]] == row[col["acc"]]
            float(row[col["best_reward"]]), float(row[col["time_total_s"]])
    assert statuses <= {"TERMINATED", "ERROR"} and "TERMINATED" in statuses


def test_pending_and_running_rows_have_empty_metric_cells() -> None:
    job = _job(40, elapsed=30.0, max_concurrent=4)
    completed, status = job.snapshot()
    assert (status == "PENDING").sum() >= 30
    assert 1 <= (status == "RUNNING").sum() <= 4
    col = {name: k for k, name in enumerate(ALL_TRIALS_HEADER)}
    for row in job.trial_rows():
        if row[col["status"]] == "PENDING":
            assert row[col["pid"]] == "" and row[col["done"]] == "False"
            for name in ("training_iteration", "time_total_s", "reward_attr", "acc", "loss", "best_reward"):
                assert row[col[name]] == ""


def test_concurrency_is_limited_and_time_advances_progress() -> None:
    job = _job(50, elapsed=0.0, max_concurrent=3)
    seen_done = []
    for _ in range(40):
        job.advance(60.0)
        completed, status = job.snapshot()
        assert (status == "RUNNING").sum() <= 3
        seen_done.append(int(np.isin(status, ["TERMINATED", "ERROR"]).sum()))
    assert seen_done == sorted(seen_done) and seen_done[-1] > seen_done[0]
    job.run_to_completion()
    _, status = job.snapshot()
    assert set(status) <= {"TERMINATED", "ERROR"}
    assert job.phase == "Completed"
    with pytest.raises(ConfigurationError):
        job.advance(-1)


def test_history_rows_one_per_iteration() -> None:
    job = _job(30)
    completed, status = job.snapshot()
    i = int(np.flatnonzero(status == "TERMINATED")[0])
    tid = job.trials.trial_ids[i]
    rows = job.history_rows(tid)
    assert len(rows) == completed[i] > 0
    col = {name: k for k, name in enumerate(PER_TRIAL_HEADER)}
    assert [r[col["training_iteration"]] for r in rows] == [str(k) for k in range(1, len(rows) + 1)]
    assert [r[col["done"]] for r in rows] == ["False"] * (len(rows) - 1) + ["True"]
    assert all(r[col["trial_id"]] == tid and r[col["reward_attr"]] == r[col["acc"]] for r in rows)
    times = [float(r[col["time_total_s"]]) for r in rows]
    assert times == sorted(times)
    err = np.flatnonzero((status == "ERROR") & (completed > 0))
    if err.size:
        assert all(r[col["done"]] == "False" for r in job.history_rows(job.trials.trial_ids[int(err[0])]))


def test_error_trials_end_in_error_with_done_false() -> None:
    job = _job(200, error_rate=0.3)
    _, status = job.snapshot()
    assert (status == "ERROR").sum() > 20
    assert set(status) == {"TERMINATED", "ERROR"}


def test_early_stop_running_pending_finished_and_unknown() -> None:
    job = _job(20, elapsed=50.0, max_concurrent=2)
    completed, status = job.snapshot()
    running = int(np.flatnonzero(status == "RUNNING")[0])
    pending = int(np.flatnonzero(status == "PENDING")[-1])
    k = int(completed[running])
    job.early_stop(job.trials.trial_ids[running])
    job.early_stop(job.trials.trial_ids[pending])
    job.advance(10_000.0)
    completed, status = job.snapshot()
    assert status[running] == "TERMINATED" and completed[running] == k
    assert status[pending] == "TERMINATED" and completed[pending] == 0
    assert job.history_rows(job.trials.trial_ids[pending]) == []
    with pytest.raises(TrialFinishedError) as info:
        job.early_stop(job.trials.trial_ids[running])
    assert info.value.status == "TERMINATED"
    with pytest.raises(TrialNotFoundError):
        job.early_stop("ffffffff0")


def test_insert_trials_end_and_start() -> None:
    job = _job(10)
    new = job.insert_trials(3)
    assert job.total == 13 and [job.trials.trial_ids[i] for i in job.order[-3:]] == new
    assert job.trials.config(12)["trial_index"] == 12
    front = job.insert_trials(2, position="start")
    assert [job.trials.trial_ids[i] for i in job.order[:2]] == front
    assert len(set(job.trials.trial_ids)) == 15
    _, status = job.snapshot()
    assert status[job.position(front[0])] in ("PENDING", "RUNNING")


def test_parameter_analysis_ranks_inert_parameters_last() -> None:
    job = _job(400)
    data = job.parameter_analysis()["data"]
    share = {name: float(text.split("/")[0]) for name, text in data}
    assert max(share, key=share.get) == "learning_rate"
    for inert in GROUND_TRUTH.inert:
        assert share[inert] == 0.0
    assert abs(sum(share.values()) - 1.0) < 1e-3
    assert _job(5, elapsed=0.0).parameter_analysis()["data"] == []


def test_rendered_pages_normalize_to_the_generated_values() -> None:
    pages = list(generate_pages(120, seed=4, page_size=50))
    assert [p["count"] for p in pages] == [50, 50, 20]
    table = trials_to_arrow(pages).to_pandas()
    assert len(table) == 120
    job = _job(120, seed=4, max_concurrent=64)
    ts = job.trials
    by_id = table.set_index("trial_id")
    for i in (0, 57, 119):
        row = by_id.loc[ts.trial_ids[i]]
        assert row["param/learning_rate"] == ts.params["learning_rate"][i]
        assert row["param/optimizer"] == ts.params["optimizer"][i]
        k = int(row["training_iteration"])
        acc = ts.acc[i, k - 1]
        assert (math.isnan(row["acc"]) and math.isnan(acc)) or row["acc"] == acc


def test_history_normalizes_to_one_row_per_iteration() -> None:
    job = _job(10)
    tid = job.trials.trial_ids[0]
    curves = curves_to_arrow(job.history_response(tid))
    assert curves.num_rows == len(job.history_rows(tid))


def test_generate_pages_streams_in_chunks_with_unique_ids() -> None:
    pages = list(generate_pages(1_000, seed=9, page_size=50, chunk_size=120))
    assert [p["offset"] for p in pages] == list(range(0, 1_000, 50))
    assert all(p["total"] == 1_000 and p["limit"] == 50 for p in pages)
    rows = [r for p in pages for r in p["items"]["data"]]
    assert [r[0] for r in rows] == [str(i) for i in range(1_000)]
    assert len({r[4] for r in rows}) == 1_000
    assert [r[3]["trial_index"] for r in rows] == list(range(1_000))
    assert {r[9] for r in rows} == {"TERMINATED", "ERROR"}
    assert trials_to_arrow(pages).num_rows == 1_000
    (empty,) = generate_pages(0)
    assert empty["total"] == 0 and empty["items"]["data"] == []


def test_bad_arguments_are_configuration_errors() -> None:
    bad = [
        lambda: generate_trials(-1),
        lambda: generate_trials(3, n_iterations=0),
        lambda: generate_trials(3, n_iterations=4).concat(generate_trials(3, n_iterations=5)),
        lambda: SimulatedJob.create(job_id="j", name="j", n_trials=-1),
        lambda: SimulatedJob.create(job_id="j", name="j", n_trials=3, max_concurrent=0),
        lambda: _job(3).advance(math.nan),
        lambda: next(generate_pages(10, page_size=0)),
        lambda: next(generate_pages(10, chunk_size=0)),
    ]
    for call in bad:
        with pytest.raises(ConfigurationError):
            call()
