"""``hpo_analytics.sync`` and the dataset it writes (issue #16), against the simulator over loopback HTTP.

Requests are counted in the simulator's log, by path; fleets stay small (the
big sizes live in ``benchmarks/fleet.py``).
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

import hpo_analytics as ha
from hpo_analytics.cli import main
from hpo_analytics.dataset import JOBS_SCHEMA, LocalFileSystem, load_manifest, unify
from hpo_analytics.errors import ConfigurationError, DatasetLockedError, SchemaWarning, StateError
from hpo_analytics.simulator import Faults, Simulator
from _service_env import use_sim_env

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------- helpers


def client_for(sim: Simulator) -> ha.ModelArtsClient:
    return ha.ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token)


@pytest.fixture
def fleet() -> Iterator[Simulator]:
    """Eight jobs of 12 trials: three search spaces, three metrics, two still running (jobs 1 and 5)."""
    with Simulator(seed=3, n_jobs=8, n_trials=12, mixed=True, n_iterations=6) as sim:
        yield sim


def same_table(a: pa.Table, b: pa.Table) -> bool:
    """Equal schemas (with metadata) and values; NaN equals NaN."""
    if not a.schema.equals(b.schema, check_metadata=True) or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a[name].to_pylist(), b[name].to_pylist()
        for u, v in zip(x, y):
            if u != v and not (isinstance(u, float) and isinstance(v, float) and math.isnan(u) and math.isnan(v)):
                return False
    return True


def by_path(sim: Simulator) -> Counter[str]:
    """Requests logged per endpoint kind and job: ``("search",)``, ``("trials", job)``, ``("trial", job)``, ..."""
    out: Counter[str] = Counter()
    for r in sim.requests:
        parts = r.path.split("/")
        if parts[-1] == "training-job-searches":
            out["search"] += 1
        elif "autosearch-trials" in parts:
            i = parts.index("autosearch-trials")
            out[("trial" if len(parts) > i + 1 else "trials") + ":" + parts[i - 1]] += 1
        elif "training-jobs" in parts:
            out["job:" + parts[parts.index("training-jobs") + 1]] += 1
        else:
            out["other"] += 1
    return out


def assert_reads_back(client: ha.ModelArtsClient, out: Path, job_ids: list[str]) -> None:
    for job in job_ids:
        assert same_table(ha.read_trials(out, job_id=job), client.fetch_trials(job)), job
        assert same_table(ha.read_curves(out, job_id=job), client.fetch_curves(job)), job


def assert_engines_read(out: Path, n_trials: int | None = None) -> None:
    """pyarrow.dataset and DuckDB read every file of both kinds; every file alone is readable too."""
    for kind in ("trials", "curves"):
        files = sorted((out / kind).glob("job_id=*/*.parquet"))
        if not files and n_trials is None:  # a sync killed before its first commit wrote none
            continue
        for f in files:
            pq.read_table(f)
        table = ds.dataset(out / kind, format="parquet", partitioning="hive").to_table()
        rows = duckdb.sql(
            f"SELECT count(*) FROM read_parquet('{out}/{kind}/*/*.parquet', hive_partitioning=true, "
            "hive_types={'job_id': 'VARCHAR'})"
        ).fetchall()
        assert rows[0][0] == table.num_rows
        if kind == "trials" and n_trials is not None:
            assert table.num_rows == n_trials


# ---------------------------------------------------------------------- the simulator's fleet


def test_a_mixed_fleet_has_differing_spaces_metrics_and_phases(fleet: Simulator) -> None:
    jobs = [fleet.job(j) for j in fleet.job_ids]
    assert [j.trials.space for j in jobs[:3]] == ["default", "gbdt", "conditional"]
    assert {j.metric for j in jobs} == {"acc", "loss", "rmse"}
    assert {j.phase for j in jobs} == {"Running", "Completed"}
    assert [j.phase for j in jobs].count("Running") == 2
    with client_for(fleet) as client:
        for job in jobs:
            trials = client.fetch_trials(job.job_id)
            meta = trials.schema.metadata
            assert meta[b"hpo_analytics.metric"].decode() == job.metric == job.reward_attrs[0]["name"]
            assert meta[b"hpo_analytics.mode"].decode() == ("max" if job.metric == "acc" else "min")
            assert ("rmse" in trials.column_names) == (job.metric == "rmse")
            assert ("acc" in trials.column_names) == (job.metric != "rmse")
            params = {c for c in trials.column_names if c.startswith("param/")}
            if job.trials.space == "gbdt":
                assert {"param/num_leaves", "param/min_child_samples", "param/subsample"} <= params
                assert trials.schema.field("param/num_leaves").type == pa.int64()
                assert trials.schema.field("param/subsample").type == pa.float64()
            if job.trials.space == "conditional":
                rows = trials.select(["param/optimizer", "param/momentum"]).to_pylist()
                assert all((r["param/momentum"] is not None) == (r["param/optimizer"] == "sgd") for r in rows)
            details = client.get_training_job(job.job_id)
            declared = [p["name"] for p in details["algorithm"]["policies"]["auto_search"]["search_params"]]
            assert {f"param/{n}" for n in declared} == params


def test_the_job_search_pages_hundreds_of_jobs_by_page_number() -> None:
    with Simulator(seed=1, n_jobs=230, n_trials=1, mixed=True) as sim, client_for(sim) as client:
        jobs = client.search_training_jobs(page_size=50)
        assert sorted(j["metadata"]["id"] for j in jobs) == sorted(sim.job_ids)
        pages = [r for r in sim.requests if r.path.endswith("training-job-searches")]
        assert len(pages) == 5  # 230 jobs in pages of 50: offsets 0..4 are page numbers
        running = client.search_training_jobs(filters=[{"key": "phase", "operator": "in", "value": ["Running"]}])
        assert len(running) == sum(1 for j in sim.jobs.values() if j.phase == "Running") > 50
        tpe = client.search_training_jobs(
            filters=[{"key": "algorithm_name", "operator": "in", "value": ["tpe_search"]}])
        assert tpe and all(j["algorithm"]["policies"]["auto_search"]["algo_configs"][0]["name"] == "tpe_search"
                           for j in tpe)
        with pytest.raises(ha.BadRequestError):
            client.search_training_jobs(page_size=50, filters=[{"key": "nope", "operator": "in", "value": ["x"]}])


def test_given_details_spare_the_details_request_and_requests_are_counted(fleet: Simulator) -> None:
    job = fleet.job_ids[0]
    with client_for(fleet) as client:
        details = client.get_training_job(job)
        fleet.clear_requests()
        before = client.requests_sent
        trials = client.fetch_trials(job, details=details)
        curves = client.fetch_curves(job, trials["trial_id"].to_pylist()[:3], details=details)
        assert by_path(fleet) == Counter({f"trials:{job}": 1, f"trial:{job}": 3})
        assert client.requests_sent - before == 4
        assert trials.schema.metadata[b"hpo_analytics.metric"] == b"acc"
        assert curves.schema.metadata[b"hpo_analytics.metric"] == b"acc"


# ---------------------------------------------------------------------- first sync


def test_a_first_sync_writes_the_layout_every_engine_reads(fleet: Simulator, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    seen: list[tuple[int, int]] = []
    with client_for(fleet) as client:
        summary = ha.sync(client, out, all_jobs=True, progress=lambda done, total: seen.append((done, total)))
        assert sorted(summary.fetched) == sorted(fleet.job_ids) and not summary.failed
        assert seen[-1] == (8, 8) and len(seen) == 8
        assert summary.requests == len(fleet.requests)
        assert (out / "_manifest.json").is_file() and (out / "jobs" / "jobs.parquet").is_file()
        for job in fleet.job_ids:
            for kind in ("trials", "curves"):
                f = out / kind / f"job_id={job}" / f"{kind}.parquet"
                assert "job_id" not in pq.read_schema(f).names
        # one schema for every file of a kind (metadata aside)
        for kind in ("trials", "curves"):
            schemas = {pq.read_schema(f).remove_metadata() for f in (out / kind).glob("*/*.parquet")}
            assert len(schemas) == 1
        assert_engines_read(out, n_trials=8 * 12)
        assert_reads_back(client, out, fleet.job_ids)
        # the whole dataset without job_id=: every job's rows, with job_id
        everything = ha.read_trials(out)
        assert everything.column_names[0] == "job_id" and everything.num_rows == 8 * 12
        assert set(everything["job_id"].to_pylist()) == set(fleet.job_ids)
    jobs = pq.read_table(out / "jobs" / "jobs.parquet")
    assert jobs.schema.remove_metadata().equals(JOBS_SCHEMA)
    rows = {r["job_id"]: r for r in jobs.to_pylist()}
    for job_id, job in fleet.jobs.items():
        row = rows[job_id]
        assert row["phase"] == job.phase and row["reward_metric"] == job.metric
        assert row["n_trials"] == 12
        assert row["n_completed"] + row["n_failed"] + row["n_running"] + row["n_pending"] == 12
        assert row["algorithm"] == job.algorithm
        assert [p["name"] for p in row["search_params"]] == list(job.trials.params)
        trials = ha.read_trials(out, job_id=job_id)
        values = [v for v in trials[job.metric].to_pylist() if v is not None and not math.isnan(v)]
        assert row["best_value"] == (max(values) if job.metric == "acc" else min(values))
        assert json.loads(row["reward_attrs"])[0]["name"] == job.metric
    # DuckDB answers a cross-job question from the files alone
    best = duckdb.sql(
        f"SELECT job_id, count(*) AS n FROM read_parquet('{out}/trials/*/*.parquet', hive_partitioning=true, "
        "hive_types={'job_id': 'VARCHAR'}) GROUP BY job_id"
    ).fetchall()
    assert dict(best) == {j: 12 for j in fleet.job_ids}


def test_sync_selects_by_id_or_filter_and_reports_failures(fleet: Simulator, tmp_path: Path) -> None:
    with client_for(fleet) as client:
        a, b = fleet.job_ids[:2]
        summary = ha.sync(client, tmp_path / "ids", job_ids=[a, "no-such-job"], curves=False)
        assert summary.fetched == [a] and summary.failed == ["no-such-job"]
        assert "2775" in (summary.jobs[0].reason or "") or "2775" in (summary.jobs[-1].reason or "")
        assert not (tmp_path / "ids" / "curves").exists()
        running = ha.sync(client, tmp_path / "running",
                          filters=[{"key": "phase", "operator": "in", "value": ["Running"]}])
        assert sorted(running.fetched) == sorted(j for j in fleet.job_ids if fleet.job(j).phase == "Running")
        with pytest.raises(ConfigurationError):
            ha.sync(client, tmp_path / "x")
        with pytest.raises(ConfigurationError):
            ha.sync(client, tmp_path / "x", job_ids=[a], all_jobs=True)
        with pytest.raises(ConfigurationError):
            ha.read_trials(tmp_path / "ids", job_id=b)


# ---------------------------------------------------------------------- incremental


def test_a_resync_reads_only_what_changed(fleet: Simulator, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    running = [j for j in fleet.job_ids if fleet.job(j).phase == "Running"]
    finished = [j for j in fleet.job_ids if j not in running]
    with client_for(fleet) as client:
        ha.sync(client, out, all_jobs=True)

        # nothing changed: the search, and one listing per running job
        fleet.clear_requests()
        again = ha.sync(client, out, all_jobs=True)
        assert sorted(again.unchanged) == sorted(fleet.job_ids) and again.rows_written == 0
        assert by_path(fleet) == Counter({"search": 1, **{f"trials:{j}": 1 for j in running}})

        # trials added to one running job, time passes, the other running job ends
        grow, end = running
        before = load_manifest(LocalFileSystem(), str(out))["jobs"][grow]["trials"]
        fleet.insert_trials(grow, 3)
        fleet.job(grow).advance(90)
        fleet.end_job(end, "Terminated")
        fleet.clear_requests()
        third = ha.sync(client, out, all_jobs=True)
        assert sorted(third.fetched) == sorted(running) and sorted(third.unchanged) == sorted(finished)
        seen = by_path(fleet)
        assert not any(k.endswith(tuple(finished)) for k in seen)  # finished jobs: not one request
        after = load_manifest(LocalFileSystem(), str(out))["jobs"][grow]["trials"]
        changed = [t for t, k in after.items() if k[0] > 0 and before.get(t) != k]
        assert changed and seen[f"trial:{grow}"] == len(changed) < len(after)
        assert seen[f"trials:{grow}"] == 1
        assert_reads_back(client, out, fleet.job_ids)
        assert_engines_read(out, n_trials=8 * 12 + 3)

        # the ended job was read once more at its final phase; from now on it costs nothing
        fleet.clear_requests()
        fourth = ha.sync(client, out, all_jobs=True)
        assert by_path(fleet) == Counter({"search": 1, f"trials:{grow}": 1})
        assert {j.job_id: j.phase for j in fourth.jobs}[end] == "Terminated"
        jobs = {r["job_id"]: r for r in pq.read_table(out / "jobs" / "jobs.parquet").to_pylist()}
        assert jobs[end]["phase"] == "Terminated"


def test_a_job_with_no_reports_yet_reads_back_as_its_empty_fetch_then_grows(tmp_path: Path) -> None:
    with Simulator(seed=2, n_jobs=1, n_trials=5, elapsed=0, n_iterations=4) as sim, client_for(sim) as client:
        job = sim.job_ids[0]
        first = ha.sync(client, tmp_path / "ds", all_jobs=True)
        assert first.jobs[0].histories == 1  # one empty history gives the curves' columns
        assert_reads_back(client, tmp_path / "ds", [job])
        assert ha.read_curves(tmp_path / "ds", job_id=job).num_rows == 0
        sim.advance(100)
        second = ha.sync(client, tmp_path / "ds", all_jobs=True)
        assert second.jobs[0].curves > 0
        assert_reads_back(client, tmp_path / "ds", [job])
        assert_engines_read(tmp_path / "ds", n_trials=5)


# ---------------------------------------------------------------------- schemas


def _conflicting_fleet(sim: Simulator) -> tuple[str, str, str]:
    """Three default-space jobs: batch_size int / float / int, dropout float / float / text."""
    a, b, c = (sim.add_job(n_trials=6, seed=s) for s in (11, 12, 13))
    sim.job(b).trials.params["batch_size"] = sim.job(b).trials.params["batch_size"].astype(float) + 0.5
    sim.job(c).trials.params["dropout"] = np.array(["low", "high"] * 3, dtype=object)
    return a, b, c


def test_schemas_are_unified_by_name_with_the_type_rule(tmp_path: Path) -> None:
    with Simulator(seed=5, n_jobs=3, n_trials=6, mixed=True, n_iterations=4) as sim, client_for(sim) as client:
        a, b, c = _conflicting_fleet(sim)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            summary = ha.sync(client, tmp_path / "ds", all_jobs=True)
        assert not summary.failed
        messages = [str(w.message) for w in caught if issubclass(w.category, SchemaWarning)]
        assert any("param/dropout" in m and c in m and a in m for m in messages), messages
        assert not any("param/batch_size" in m for m in messages)
        schema = pq.read_schema(tmp_path / "ds" / "trials" / f"job_id={a}" / "trials.parquet")
        assert schema.field("param/batch_size").type == pa.float64()  # int and float: float
        assert schema.field("param/dropout").type == pa.string()       # float and text: text
        assert "param/num_leaves" in schema.names and "rmse" in schema.names  # other spaces and metrics
        dropout = pq.read_table(tmp_path / "ds" / "trials" / f"job_id={a}" / "trials.parquet")["param/dropout"]
        assert all(isinstance(float(json.loads(v)), float) for v in dropout.to_pylist())
        assert_engines_read(tmp_path / "ds")
        assert_reads_back(client, tmp_path / "ds", sim.job_ids)  # each job's own types come back
        assert ha.read_trials(tmp_path / "ds", job_id=a).schema.field("param/batch_size").type == pa.int64()


def test_a_later_sync_that_widens_the_schema_rewrites_the_earlier_files(tmp_path: Path) -> None:
    with Simulator(seed=6, n_jobs=1, n_trials=5, n_iterations=3) as sim, client_for(sim) as client:
        first = sim.job_ids[0]
        ha.sync(client, tmp_path / "ds", all_jobs=True)
        sim.add_job(n_trials=5, space="gbdt", metric="rmse")
        summary = ha.sync(client, tmp_path / "ds", all_jobs=True)
        assert summary.files_rewritten == 2 and summary.unchanged == [first]
        names = pq.read_schema(tmp_path / "ds" / "trials" / f"job_id={first}" / "trials.parquet").names
        assert "param/num_leaves" in names and "rmse" in names
        assert_engines_read(tmp_path / "ds", n_trials=10)
        assert_reads_back(client, tmp_path / "ds", sim.job_ids)
        # a job whose learning_rate is text: the column becomes text in every file, with a warning
        late = sim.add_job(n_trials=5, seed=99)
        sim.job(late).trials.params["learning_rate"] = np.array(["1e-3", "small"] * 2 + ["big"], dtype=object)
        with pytest.warns(SchemaWarning, match=rf"'param/learning_rate'.*double in earlier syncs; string in {late}"):
            third = ha.sync(client, tmp_path / "ds", all_jobs=True)
        assert third.files_rewritten == 4 and third.fetched == [late]
        schema = pq.read_schema(tmp_path / "ds" / "trials" / f"job_id={first}" / "trials.parquet")
        assert schema.field("param/learning_rate").type == pa.string()
        assert_engines_read(tmp_path / "ds", n_trials=15)
        assert_reads_back(client, tmp_path / "ds", sim.job_ids)


def test_unify_and_its_warning_name_the_column_and_the_jobs() -> None:
    s1 = pa.schema([("x", pa.int64()), ("y", pa.null()), ("z", pa.bool_())])
    s2 = pa.schema([("x", pa.float64()), ("y", pa.string()), ("z", pa.int64()), ("w", pa.list_(pa.float64()))])
    with pytest.warns(SchemaWarning, match=r"'z'.*bool in job-1.*int64 in job-2"):
        schema = unify([("job-1", s1), ("job-2", s2)])
    assert schema == pa.schema([("x", pa.float64()), ("y", pa.string()), ("z", pa.string()),
                                ("w", pa.list_(pa.float64()))])


# ---------------------------------------------------------------------- safety


def test_a_second_sync_fails_at_once_naming_the_holder(fleet: Simulator, tmp_path: Path) -> None:
    out = tmp_path / "ds"
    out.mkdir()
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from hpo_analytics.dataset import LocalFileSystem
            with LocalFileSystem().lock({str(out / '.lock')!r}):
                print("locked", flush=True)
                sys.stdin.readline()
        """)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with client_for(fleet) as client:
            fleet.clear_requests()
            with pytest.raises(DatasetLockedError, match=rf"process {holder.pid} is syncing") as info:
                ha.sync(client, out, all_jobs=True)
            assert isinstance(info.value, StateError) and info.value.pid == holder.pid
            assert fleet.requests == []  # it failed before asking the service anything
    finally:
        holder.communicate("\n", timeout=30)  # lets it go, and closes the pipes
    with client_for(fleet) as client:  # the lock went with its holder
        assert not ha.sync(client, out, all_jobs=True).failed


_KILLED_SYNC = """
import os, sys
import hpo_analytics as ha
from hpo_analytics.dataset import _sync
_sync.BATCH_JOBS = 2  # several commits, so the kill can land between and inside them
client = ha.ModelArtsClient(endpoint=os.environ["SIM_URL"], project_id=os.environ["SIM_PROJECT"],
                            token=os.environ["SIM_TOKEN"], max_concurrency=2)
ha.sync(client, sys.argv[1], all_jobs=True)
print("finished", flush=True)
"""


def test_two_syncs_at_once_the_second_stops_and_the_first_finishes(tmp_path: Path) -> None:
    out = tmp_path / "ds"
    with Simulator(seed=8, n_jobs=4, n_trials=8, mixed=True, n_iterations=3, faults=Faults(latency=0.01)) as sim:
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SIM_URL": sim.url, "SIM_PROJECT": sim.project_id,
               "SIM_TOKEN": sim.token}
        first = subprocess.Popen([sys.executable, "-c", _KILLED_SYNC, str(out)], env=env,
                                 stdout=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 60
            while len(sim.requests) < 5 and time.monotonic() < deadline:
                time.sleep(0.002)
            with client_for(sim) as client:
                with pytest.raises(DatasetLockedError, match=rf"process {first.pid} is syncing into"):
                    ha.sync(client, out, all_jobs=True)
            assert first.poll() is None  # the first is still going, untouched
            assert first.communicate(timeout=60)[0].strip() == "finished"
        finally:
            first.kill()
            first.wait(timeout=30)
        sim.faults = Faults()
        with client_for(sim) as client:
            again = ha.sync(client, out, all_jobs=True)
            assert sorted(again.unchanged) == sorted(sim.job_ids)  # the first sync got everything
            assert_reads_back(client, out, sim.job_ids)


@pytest.mark.parametrize("kill_after", [10, 35, 60])  # of the 73 requests the whole sync makes
def test_a_sync_killed_mid_way_leaves_a_readable_dataset_the_next_sync_completes(
    tmp_path: Path, kill_after: int
) -> None:
    out = tmp_path / "ds"
    # 10 ms per request, so the kill lands where it is meant to
    with Simulator(seed=7, n_jobs=6, n_trials=10, mixed=True, n_iterations=4, faults=Faults(latency=0.01)) as sim:
        sim.add_job(n_trials=10, space="gbdt", metric="rmse")
        env = {**os.environ, "PYTHONPATH": str(ROOT), "SIM_URL": sim.url, "SIM_PROJECT": sim.project_id,
               "SIM_TOKEN": sim.token}
        proc = subprocess.Popen([sys.executable, "-c", _KILLED_SYNC, str(out)], env=env,
                                stdout=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while len(sim.requests) < kill_after and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.002)
            assert proc.poll() is None, "the sync ended before it could be killed"
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait(timeout=30)
        sim.faults = Faults()
        if kill_after > 30:
            assert (out / "_manifest.json").is_file()  # killed after some batches committed
        if out.exists():
            assert_engines_read(out)  # whatever was committed reads as one dataset
        with client_for(sim) as client:
            summary = ha.sync(client, out, all_jobs=True)
            assert not summary.failed
            assert not [p for p in out.rglob("*") if ".tmp-" in p.name]
            assert_engines_read(out, n_trials=7 * 10)
            trials = ha.read_trials(out)
            assert trials.num_rows == len(set(zip(trials["job_id"].to_pylist(), trials["trial_id"].to_pylist())))
            curves = ha.read_curves(out)
            keys = list(zip(curves["job_id"].to_pylist(), curves["trial_id"].to_pylist(),
                            curves["training_iteration"].to_pylist()))
            assert len(keys) == len(set(keys))
            assert_reads_back(client, out, sim.job_ids)


def test_a_committed_batch_is_completed_by_the_next_sync(fleet: Simulator, tmp_path: Path) -> None:
    """Killed after the manifest committed a batch, before its renames: the next sync renames, fetches nothing."""
    out = tmp_path / "ds"
    with client_for(fleet) as client:
        ha.sync(client, out, all_jobs=True)
        finished = [j for j in fleet.job_ids if fleet.job(j).phase != "Running"][0]
        path = out / "trials" / f"job_id={finished}" / "trials.parquet"
        manifest = json.loads((out / "_manifest.json").read_text())
        staged = path.with_name(".trials.parquet.tmp-dead")
        path.rename(staged)
        manifest["pending"] = [[str(staged), str(path)]]
        (out / "_manifest.json").write_text(json.dumps(manifest))
        leftover = path.with_name(".trials.parquet.tmp-beef")  # a batch that never committed
        leftover.write_bytes(b"partial")
        fleet.clear_requests()
        ha.sync(client, out, all_jobs=True)
        assert path.is_file() and not staged.exists() and not leftover.exists()
        assert f"trials:{finished}" not in by_path(fleet)
        assert_reads_back(client, out, [finished])


# ---------------------------------------------------------------------- the filesystem seam


def test_every_write_goes_through_the_filesystem_seam(fleet: Simulator, tmp_path: Path) -> None:
    class Recording(LocalFileSystem):
        def __init__(self) -> None:
            self.calls: Counter[str] = Counter()

        def open(self, path: str, mode: str = "rb"):  # type: ignore[no-untyped-def]
            self.calls["open " + mode] += 1
            return super().open(path, mode)

        def replace(self, src: str, dst: str) -> None:
            self.calls["replace"] += 1
            super().replace(src, dst)

    fs = Recording()
    with client_for(fleet) as client:
        ha.sync(client, tmp_path / "ds", all_jobs=True, filesystem=fs)
    files = list((tmp_path / "ds").rglob("*.parquet"))
    assert fs.calls["replace"] == len(files) + 2  # every data file, and the manifest twice (commit, done)
    assert fs.calls["open wb"] == fs.calls["replace"]


# ---------------------------------------------------------------------- CLI


def test_the_sync_command(fleet: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                          capsys: pytest.CaptureFixture[str]) -> None:
    use_sim_env(monkeypatch, fleet)
    out = tmp_path / "ds"
    assert main(["sync", "--to", str(out), "--all", "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["fetched"] == 8 and first["failed"] == 0 and first["rows_written"] > 0
    assert main(["sync", "--to", str(out), "--filter", "phase:in:Completed"]) == 0
    text = capsys.readouterr().out
    assert "6 unchanged" in text and "0 failed" in text
    assert main(["sync", "--to", str(out), fleet.job_ids[0], "nope", "--no-curves"]) == 1
    assert "failed nope" in capsys.readouterr().out
    assert main(["sync", "--to", str(out), "--filter", "phase:equals:x"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "KEY:OP:VALUE" in err
    assert main(["sync", "--to", str(out)]) == 1
    assert "say what to sync" in capsys.readouterr().err
