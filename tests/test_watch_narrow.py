"""The watch reads only the listing's and histories' columns it uses: the same decisions as reading them whole.

A cycle after the first asks the client for ``columns`` (the metric, the
status, the iteration, the run time, and ``trial_index`` for the row order);
each column is parsed on its own, so what the watch sees is what it saw in
the whole table.  Proved here on the normalizer (every subset of columns,
cells that do not parse included) and end to end (two watches of one
simulated job, one through a client that cannot narrow).
"""

from __future__ import annotations

import itertools
import json
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import hpo_analytics as ha
from hpo_analytics.client import ModelArtsClient, RetryPolicy
from hpo_analytics.errors import APIError, ConfigurationError, ParseWarning
from hpo_analytics.simulator import Simulator
from hpo_analytics.stopping import Ledger, MedianStoppingRule, SignificanceRule, ThresholdRule
from hpo_analytics._frames import as_frame
from hpo_analytics._validation import floats
from hpo_analytics.stopping._base import CurveMatrix, member
from hpo_analytics.stopping._watch import Watcher, _Curves, _Decision, _Decisions, _isin, _news, _news_loop, _numbers, _texts

HEADER = ["", "done", "config", "trial_id", "training_iteration", "time_total_s", "reward_attr", "status", "acc",
          "loss"]


def _row(i: int, iteration: int, *, acc: str = "", bad: bool = False) -> list[Any]:
    cells = {"": "0", "done": "False", "config": {"lr": 0.1 * i, "trial_index": 9 - i % 10, "param/lr": 0.1 * i},
             "trial_id": f"t{i % 10}", "training_iteration": str(iteration), "time_total_s": f"{iteration * 1.5}",
             "reward_attr": "x" if bad else f"0.{i}{iteration}", "status": "RUNNING",
             "acc": acc or f"tensor({i / 7:.4f}, device='cuda:0')", "loss": "nan" if i % 3 else "None"}
    return [cells[name] for name in HEADER]


def _pages() -> list[dict[str, Any]]:
    rows = [_row(i, 1 + i // 10, bad=(i == 4)) for i in range(25)] + [_row(3, 2, acc="tensor([1.0, 2.0])")]
    return [{"header": HEADER, "data": rows[k:k + 7]} for k in range(0, len(rows), 7)]


def _same(narrow: pa.Table, whole: pa.Table, keys: list[str]) -> None:
    got = narrow.to_pandas().sort_values(keys, kind="stable").reset_index(drop=True)
    want = whole.select(narrow.column_names).to_pandas().sort_values(keys, kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want)


@pytest.mark.parametrize("convert", [ha.trials_to_arrow, ha.curves_to_arrow])
def test_any_columns_hold_what_the_whole_table_holds(convert: Any) -> None:
    pages = _pages()
    keys = ["trial_id", "training_iteration"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ParseWarning)
        whole = convert(pages)
        names = ["trial_index", "status", "time_total_s", "reward_attr", "acc", "loss", "done", "param/lr"]
        for k in (1, 2):
            for columns in itertools.combinations(names, k):
                narrow = convert(pages, columns=columns)
                assert set(narrow.column_names) == {*columns, *keys}
                _same(narrow, whole, keys)
                if "trial_index" in columns:  # the same rows in the same order
                    assert narrow.equals(whole.select(narrow.column_names)) or narrow.to_pandas().equals(
                        whole.select(narrow.column_names).to_pandas())


def test_columns_not_read_are_not_checked() -> None:
    pages = _pages()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = ha.trials_to_arrow(pages, columns=["status"])
    assert table.column_names == ["trial_id", "status", "training_iteration"]
    assert not [w for w in caught if issubclass(w.category, ParseWarning)]  # reward_attr "x", acc's vector
    with pytest.warns(ParseWarning, match="reward_attr"):
        ha.trials_to_arrow(pages, columns=["reward_attr"])
    with pytest.raises(ConfigurationError):
        ha.trials_to_arrow(pages, columns="status")


def _config_pages(variant: str, *, as_bytes: bool) -> list[Any]:
    """Pages whose configs vary as real jobs' do: a conditional key, duplicated trials, and ``variant``."""
    header = ["", "trial_id", "training_iteration", "status", "acc", "config"]
    rows = []
    for i in range(40):
        j = i % 35  # trials 0-4 report twice
        config: Any = {"lr": 0.01 * j, "param/lr": 0.01 * j, "trial_index": j}
        if i % 3 == 0:  # a conditional parameter
            config |= {"momentum": 0.9, "param/momentum": 0.9}
        if variant == "late_index" and i < 15:
            del config["trial_index"]  # the key first appears in a later page
        if variant == "conflict" and i == 7:
            config["lr"] = 5.0  # unlike its param/ twin: the whole table warns
        if variant == "bad_index" and i == 22:
            config["trial_index"] = 2.5
        if variant == "text_index" and i == 22:
            config["trial_index"] = "22"
        if variant == "repr" and i == 30:
            config = "{'lr': 0.3, 'param/lr': 0.3, 'trial_index': 30}"
        rows.append(["0", f"t{j}", str(1 + i // 35), "RUNNING", f"0.{i:02d}", config])
    pages = [{"header": header, "data": rows[k:k + 6]} for k in range(0, len(rows), 6)]
    return [json.dumps(page).encode() for page in pages] if as_bytes else pages


@pytest.mark.parametrize("as_bytes", [False, True], ids=["dicts", "bytes"])
@pytest.mark.parametrize("variant", ["plain", "late_index", "conflict", "bad_index", "text_index", "repr"])
def test_trial_index_alone_is_what_the_whole_table_holds(variant: str, as_bytes: bool,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Asked for ``trial_index`` and no parameter, only that key of the configs is read (the watch's listing):
    the same column, rows, order and warnings about it as the whole table; a trial_index that is not an
    integer, or a config still to parse, is read whole, which reports it."""
    from hpo_analytics.normalize import _batches

    whole_reads: list[int] = []
    for name in ("_config_batch", "_struct_config_batch"):
        real = getattr(_batches, name)
        monkeypatch.setattr(_batches, name, lambda *a, real=real, **k: (whole_reads.append(1), real(*a, **k))[1])
    pages = _config_pages(variant, as_bytes=as_bytes)
    with warnings.catch_warnings(record=True) as whole_caught:
        warnings.simplefilter("always")
        whole = ha.trials_to_arrow(pages)
    whole_reads.clear()
    for columns in (["trial_index"], ["trial_index", "acc"], ["status", "trial_index"]):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            narrow = ha.trials_to_arrow(pages, columns=columns)
        assert narrow.equals(whole.select(narrow.column_names)), (variant, columns)
        said = [str(w.message) for w in caught if issubclass(w.category, ParseWarning)]
        whole_said = [str(w.message) for w in whole_caught if issubclass(w.category, ParseWarning)]
        assert said == [w for w in whole_said if "trial_index" in w]
        if variant in ("bad_index", "text_index"):
            assert len(said) == 1
        else:
            assert said == []
        if variant == "conflict":
            assert whole_said and "lr" in whole_said[0]  # the parameters' conflict is not looked for
    assert narrow["trial_index"].null_count == whole["trial_index"].null_count
    # only the batches that need it are read whole
    if variant in ("plain", "conflict"):
        assert whole_reads == []
    if variant in ("bad_index", "text_index", "repr"):
        assert whole_reads


class _Whole:
    """A client that cannot narrow: fetch_trials/fetch_curves without ``columns``."""

    def __init__(self, client: ModelArtsClient) -> None:
        self.client = client

    def get_training_job(self, job_id: str) -> dict[str, Any]:
        return self.client.get_training_job(job_id)

    def fetch_trials(self, job_id: str, *, details: Any = None) -> pa.Table:
        return self.client.fetch_trials(job_id, details=details)

    def fetch_curves(self, job_id: str, trial_ids: Any, *, details: Any = None) -> pa.Table:
        return self.client.fetch_curves(job_id, trial_ids, details=details)

    def early_stop(self, job_id: str, trial_id: str) -> Any:  # pragma: no cover - a dry run sends none
        raise AssertionError("a dry run sends no stop request")


def test_a_narrowed_watch_decides_and_records_as_a_whole_one(tmp_path: Path) -> None:
    asked: list[Any] = []
    with Simulator(seed=5, n_trials=40, n_iterations=8, max_concurrent=10, elapsed=0, auth="token",
                   error_rate=0.1) as sim, \
            ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token,
                            retry=RetryPolicy(sleep=lambda s: None)) as client:
        job = sim.job_ids[0]
        fetch_trials = client.fetch_trials

        def recording(job_id: str, *, details: Any = None, columns: Any = None) -> pa.Table:
            asked.append(columns)
            return fetch_trials(job_id, details=details, columns=columns)

        client.fetch_trials = recording  # type: ignore[method-assign]
        narrow = Watcher(client, job, MedianStoppingRule(min_samples=3), state_dir=tmp_path / "narrow",
                         clock=lambda: 0.0)
        whole = Watcher(_Whole(client), job, MedianStoppingRule(min_samples=3), state_dir=tmp_path / "whole",
                        clock=lambda: 0.0)
        assert narrow._narrow_trials and narrow._narrow_curves and not whole._narrow_trials
        stops = 0
        for step in (0, 35, 45, 70, 25, 90, 130):
            sim.advance(step)
            a, b = narrow.cycle(), whole.cycle()
            pd.testing.assert_frame_equal(a.decisions, b.decisions)
            assert (a.actions, a.trials, a.running, a.new_reports) == (b.actions, b.trials, b.running, b.new_reports)
            stops += int(a.decisions["stop"].sum()) if len(a.decisions) else 0
        narrow.close()
        whole.close()
    mine, theirs = asked[0::2], asked[1::2]  # each step: the narrowed watch's cycle, then the whole one's
    assert mine[0] is None and all(c is not None and narrow.metric in c for c in mine[1:])
    assert theirs == [None] * len(theirs)
    assert stops > 0  # the comparison covered stop decisions too
    with Ledger(tmp_path / "narrow") as la, Ledger(tmp_path / "whole") as lb:
        pd.testing.assert_frame_equal(la.history(job), lb.history(job))
        pd.testing.assert_frame_equal(la.events(job), lb.events(job))


def test_fetch_curves_reuses_one_pool_and_closes_it(tmp_path: Path) -> None:
    with Simulator(seed=1, n_trials=12, n_iterations=4, max_concurrent=12, elapsed=200, auth="token") as sim:
        job = sim.job_ids[0]
        with ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token,
                             max_concurrency=3) as client:
            ids = client.fetch_trials(job)["trial_id"].to_pylist()
            first = client.fetch_curves(job, ids, columns=["reward_attr"])
            pools = {t.name.rsplit("_", 1)[0] for t in threading.enumerate() if "hpo-analytics-shared" in t.name}
            again = client.fetch_curves(job, ids[:5])
            shared = [t for t in threading.enumerate() if "hpo-analytics-shared" in t.name]
            assert len(pools) == 1 and 0 < len(shared) <= 3
            assert sorted(set(first["trial_id"].to_pylist())) == sorted(ids)
            _same(again.select(first.column_names), first.filter(pa.compute.is_in(first["trial_id"],
                  pa.array(ids[:5]))), ["trial_id", "training_iteration"])
        assert not [t for t in threading.enumerate() if "hpo-analytics-shared" in t.name and t.is_alive()]


# ---------------------------------------------------------------------- the cycle's other shortcuts


def _same_matrix(a: CurveMatrix, b: CurveMatrix) -> None:
    assert a.trial_ids.tolist() == b.trial_ids.tolist() and a.trial_ids.dtype == b.trial_ids.dtype
    assert a.steps.tolist() == b.steps.tolist() and a.steps.dtype == b.steps.dtype
    np.testing.assert_array_equal(a.values, b.values)  # NaN where NaN
    np.testing.assert_array_equal(a.reported, b.reported)


@pytest.mark.parametrize("seed", range(4))
def test_the_kept_curve_matrix_is_the_one_built_from_the_whole_history(seed: int) -> None:
    """New trials, steps first seen late (below the others too), NaN reports: the same matrix either way."""
    rng = np.random.default_rng(seed)
    last: dict[str, int] = {}
    recorded: list[tuple[str, int, float]] = []
    start = [(f"t{i}", k, float(k)) for i in range(3) for k in (2, 3)]
    frame = pd.DataFrame(start, columns=["trial_id", "training_iteration", "value"])
    frame["trial_id"] = frame["trial_id"].astype(object)
    curves = _Curves(frame)
    recorded += start
    last.update({t: 3 for t, _, _ in start})
    for _ in range(12):
        fresh = []
        for t in sorted({f"t{int(i)}" for i in rng.integers(0, 9, size=4)}):
            k = last.get(t, int(rng.integers(0, 3))) + int(rng.integers(1, 4))
            last[t] = k
            fresh.append((t, k, float("nan") if rng.random() < 0.2 else float(rng.normal())))
        recorded += fresh
        t_, k_, v_ = zip(*fresh)
        curves.add(t_, k_, v_)
        whole = pd.DataFrame(recorded, columns=["trial_id", "training_iteration", "value"])
        _same_matrix(curves.matrix(), CurveMatrix.from_frame(whole, "value"))


def _rows_of(dec: pd.DataFrame) -> list[_Decision]:
    """The decision table's rows read back from the frame: the reference for _Decisions.read."""
    steps, values, refs = (floats(dec[col]).tolist() for col in ("step", "value", "reference"))
    reasons = ["" if r is None or r != r else str(r) for r in dec["reason"].astype(object).tolist()]
    return [_Decision(t, s, None if k != k else int(k), None if v != v else v, None if r != r else r, why)
            for t, s, k, v, r, why in zip(dec["trial_id"].astype(str).tolist(),
                                          dec["stop"].to_numpy(dtype=bool, na_value=False).tolist(),
                                          steps, values, refs, reasons)]


def test_decision_rows_read_from_the_arrays_are_those_of_the_frame() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=(30, 10)).cumsum(axis=1)
    values[rng.random(values.shape) < 0.15] = np.nan
    values[np.arange(30)[:, None] * 0 + np.arange(10)[None, :] > (np.arange(30) % 10)[:, None]] = np.nan
    cm = CurveMatrix.from_arrays(values, trial_ids=[f"t{i}" for i in range(30)])
    cand = np.arange(0, 30, 2)
    ref = np.arange(30) % 2 == 1
    rules = [MedianStoppingRule(grace_period=0, min_samples=2), MedianStoppingRule(),
             ThresholdRule(threshold=0.0, grace_period=2), SignificanceRule(grace_period=2, min_samples=3)]
    kinds = set()
    for rule in rules:
        for mode in ("max", "min"):
            d = rule.decide_matrix(cm, cand, ref, mode)
            rows = _Decisions.read(d, cm)
            assert rows == _rows_of(d.to_frame(cm, rule.describe()))
            kinds |= {(r.stop, r.step is None, r.value is None, r.reference is None) for r in rows}
    assert len(kinds) >= 3  # stops and continues, with and without a step, a value and a reference


def test_a_watch_keeps_the_matrix_its_history_gives(tmp_path: Path) -> None:
    with Simulator(seed=2, n_trials=30, n_iterations=6, max_concurrent=8, elapsed=0, auth="token",
                   error_rate=0.1) as sim, \
            ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
        job = sim.job_ids[0]
        w = Watcher(client, job, MedianStoppingRule(min_samples=3), state_dir=tmp_path, clock=lambda: 0.0)
        for step in (30, 55, 20, 90):
            sim.advance(step)
            w.cycle()
            _same_matrix(w._curves.matrix(), CurveMatrix.from_frame(w.ledger.history(job), "value"))
        w.close()
        again = Watcher(client, job, MedianStoppingRule(min_samples=3), state_dir=tmp_path, clock=lambda: 0.0)
        sim.advance(40)
        again.cycle()
        _same_matrix(again._curves.matrix(), CurveMatrix.from_frame(again.ledger.history(job), "value"))
        again.close()


def test_columns_read_from_arrow_are_those_pandas_gives() -> None:
    table = pa.table({
        "trial_id": pa.array(["a", "b", "ß", "d"]),
        "gap": pa.array(["a", None, "c", "d"]),
        "status": pa.array(["running", "Terminated", "straße", "ERROR"]),
        "it": pa.array([1, None, 3, 2**62 + 1], pa.int64()),
        "f32": pa.array([0.5, None, float("nan"), -0.0], pa.float32()),
        "f64": pa.array([0.1, float("inf"), None, float("nan")]),
        "u8": pa.array([1, 2, None, 255], pa.uint8()),
        "flag": pa.array([True, None, False, True]),
        "text": pa.array(["1.5", "x", None, "2"]),
        "empty": pa.nulls(4),
    })
    frame = as_frame(table)
    for name in table.column_names:
        got = _texts(table, name)
        assert got.dtype == object and got.tolist() == frame[name].astype(str).to_numpy().tolist()
        np.testing.assert_array_equal(_numbers(table, name), floats(frame[name]))
        assert _numbers(table, name).flags.writeable
        assert _texts(frame, name).tolist() == got.tolist()
    assert len(_texts(table.slice(0, 0), "trial_id")) == 0 and len(_numbers(table.slice(0, 0), "it")) == 0
    ids = ["a", "b", "c", "a"]
    for among in (["a"], np.array(["c", "x"], dtype=object), {"b": "stopped"}, [], ids):
        np.testing.assert_array_equal(_isin(ids, among), member(np.array(ids, dtype=object), among))


class _Failing(_Whole):
    """A client that narrows, whose listing or details read fails once ``fail`` says so."""

    def __init__(self, client: ModelArtsClient) -> None:
        super().__init__(client)
        self.fail = ""

    def get_training_job(self, job_id: str) -> dict[str, Any]:
        if self.fail == "details":
            raise APIError("details down", status_code=500)
        return self.client.get_training_job(job_id)

    def fetch_trials(self, job_id: str, *, details: Any = None, columns: Any = None) -> pa.Table:
        if self.fail == "listing":
            raise APIError("listing down", status_code=503)
        return self.client.fetch_trials(job_id, details=details, columns=columns)


def test_the_listing_read_beside_the_details_fails_as_it_did_after_them(tmp_path: Path) -> None:
    """A job gone ends the watch (whatever the listing read beside said); either read's error is raised."""
    with Simulator(seed=4, n_trials=20, n_iterations=6, max_concurrent=6, elapsed=100, auth="token") as sim, \
            ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token,
                            retry=RetryPolicy(sleep=lambda s: None, max_attempts=1)) as client:
        job = sim.job_ids[0]
        failing = _Failing(client)
        w = Watcher(failing, job, MedianStoppingRule(), state_dir=tmp_path, clock=lambda: 0.0)
        w.cycle()
        for fail, message in (("listing", "listing down"), ("details", "details down")):
            failing.fail = fail
            with pytest.raises(APIError, match=message):
                w.cycle()
            failing.fail = ""
            assert w.cycle().trials == 20  # and the next cycle reads both again
        sim.remove_job(job)
        report = w.cycle()
        assert report.job_ended == "job not found"
        assert w._beside is not None  # the listing was read beside the details
        w.close()
        assert w._beside is None


def _plain(found: tuple[list[tuple[str, int, float]], list[str]]) -> tuple[list[tuple[str, int, str]], list[str]]:
    rows, fetch = found
    return [(t, k, repr(v)) for t, k, v in rows], fetch  # NaN compares equal to NaN, and types must match


@pytest.mark.parametrize("seed", range(6))
def test_new_reports_found_by_arrays_are_those_of_the_loop(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 200
    ids = np.array([f"t{int(i)}" for i in rng.integers(0, 150, size=n)], dtype=object)  # repeats too
    last = {f"t{i}": int(rng.integers(-1, 6)) for i in range(0, 150, 2)}
    its = rng.integers(-1, 9, size=n).astype(float)
    its[rng.random(n) < 0.2] = np.nan
    vals = rng.normal(size=n)
    vals[rng.random(n) < 0.1] = np.nan
    assert _plain(_news(ids, its, vals, last)) == _plain(_news_loop(ids, its, vals, last))
    rows, fetch = _news(ids, its, vals, last)
    assert rows and fetch  # both kinds were there to find
    odd = its.copy()
    odd[0] = 2.5 if seed % 2 else 2.0 ** 60  # not a step an array holds exactly: the loop decides
    assert _plain(_news(ids, odd, vals, last)) == _plain(_news_loop(ids, odd, vals, last))
    empty = np.array([], dtype=object)
    assert _news(empty, np.array([]), np.array([]), last) == ([], [])


def test_decisions_built_when_read_are_those_of_the_cycle_that_made_them(tmp_path: Path) -> None:
    # CycleReport.decisions is built on first read: a report read cycles later still holds its own cycle's
    # decisions (not a later matrix's), and the ledger's count of stop decisions is that frame's
    with Simulator(seed=3, n_trials=30, n_iterations=8, max_concurrent=8, elapsed=0, auth="token") as sim, \
            ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
        job = sim.job_ids[0]
        now = Watcher(client, job, MedianStoppingRule(min_samples=3), state_dir=tmp_path / "now", clock=lambda: 0.0)
        later = Watcher(client, job, MedianStoppingRule(min_samples=3), state_dir=tmp_path / "later",
                        clock=lambda: 0.0)
        read_now, kept = [], []
        for step in (0, 35, 45, 70, 25, 90):
            sim.advance(step)
            read_now.append(now.cycle().decisions)
            kept.append(later.cycle())
        now.close()
        later.close()
    assert sum(int(d["stop"].sum()) for d in read_now) > 0
    for frame, report in zip(read_now, kept):
        pd.testing.assert_frame_equal(report.decisions, frame)
        assert report.decisions is report.decisions  # built once
    with Ledger(tmp_path / "later") as ledger:
        reasons = ledger.events(job, kind="cycle")["reason"].tolist()
    assert len(reasons) == len(read_now)
    for frame, reason in zip(read_now, reasons):
        assert "nothing decided" in reason or f", {int(frame['stop'].sum())} stop decisions" in reason, reason
