"""Many jobs in one watch process (``JOB_ID...``, ``--all-running``): the CLI as a subprocess against the simulator.

The simulated clock moves only when a test says so (or with
``time_per_request``); tests wait on what the simulator saw (its request
log) or on the watch's JSON lines, never on the wall clock.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from hpo_analytics.client import ModelArtsClient
from hpo_analytics.errors import ConfigurationError
from hpo_analytics.simulator import Faults, Simulator
from hpo_analytics.stopping import Fleet, Ledger, MedianStoppingRule, job_state_dir, watch_jobs

from _fakes import HeldRequests
from _service_env import sim_env

ROOT = Path(__file__).resolve().parents[1]

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_STOPS_FAILED, EXIT_AUTH, EXIT_NOT_FOUND = 0, 1, 2, 3, 4, 5

STOP_HARD = ("--rule", "threshold", "--threshold", "0.99", "--grace-period", "1", "--min-running", "0",
             "--max-stop-fraction", "1", "--max-stops-per-cycle", "2")



def _cmd(state: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "hpo_analytics", "watch", *args, "--state-dir", str(state), "--json"]


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.strip().splitlines() if line.startswith("{")]


def _ends(lines: list[dict]) -> dict[str, dict]:
    return {x["job_id"]: x for x in lines if x.get("event") == "end"}


def _listed(sim: Simulator, job: str) -> int:
    """How many times the watch has read ``job``'s trials listing."""
    return sum(1 for r in sim.requests if r.method == "GET" and r.path.endswith(f"/{job}/autosearch-trials"))


def _wait_for(proc: subprocess.Popen, condition: Callable[[], bool], *, give_up_after: float = 60.0) -> None:
    """Until ``condition`` holds (checked against the simulator's log), or the watch has exited.

    ``give_up_after`` only keeps a broken watch from hanging the suite; the
    test's assertions then say what did not happen.
    """
    deadline = time.monotonic() + give_up_after
    while not condition() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)


def _posts(sim: Simulator) -> Counter:
    """POSTs per path, but the job search (a read sent as a POST)."""
    return Counter(r.path for r in sim.requests if r.method == "POST" and "training-job-searches" not in r.path)


def test_all_running_watches_every_running_job_and_picks_up_one_added_mid_run(tmp_path: Path) -> None:
    # The simulated clock stands still: the three jobs keep running; a finished job is listed Completed.
    with Simulator(seed=3, n_trials=8, n_jobs=3, max_concurrent=3, elapsed=45.0, auth="token") as sim:
        running = sim.job_ids
        finished = sim.add_job(n_trials=4)  # elapsed None: every trial done, phase Completed
        proc = subprocess.Popen(_cmd(tmp_path, "--all-running", "--poll", "0.02", "--max-jobs-in-flight", "2"),
                                env=sim_env(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(proc, lambda: all(_listed(sim, j) >= 1 for j in running))
            late = sim.add_job(n_trials=6, elapsed=45.0, reward_attrs=[{"name": "loss", "mode": "min"}])
            _wait_for(proc, lambda: _listed(sim, late) >= 2)  # two cycles over the new job
        finally:
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=60)
        listed_finished = _listed(sim, finished)
    assert proc.returncode == EXIT_OK, err
    lines = _lines(out)
    ends = _ends(lines)
    assert set(ends) == {*running, late} and all(e["ended"] == "signal" for e in ends.values())
    total = lines[-1]
    assert total["event"] == "end_all" and total["ended"] == "signal" and total["exit_status"] == EXIT_OK
    assert set(total["jobs"]) == {*running, late}
    assert listed_finished == 0 and not (tmp_path / finished).exists()  # a finished job is not watched
    for job in (*running, late):  # each job has its own ledger, with its own cycles
        with Ledger(job_state_dir(tmp_path, job)) as ledger:
            events = ledger.events(job)
        assert len(events[events["kind"] == "cycle"]) >= 1 and events["kind"].iloc[-1] == "exit"
        assert set(events["job_id"]) == {job}
    with Ledger(tmp_path / late) as ledger:
        assert len(ledger.events(late, "cycle")) >= 2


def test_one_job_whose_stops_fail_does_not_stop_the_others(tmp_path: Path) -> None:
    with Simulator(seed=5, n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0, auth="token") as sim:
        bad = sim.job_ids[0]
        good = sim.add_job(n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0)
        sim.faults = Faults(server_error_next=10**6, server_error_status=500,
                            path_contains=f"{bad}/autosearch-trial-earlystop")
        run = subprocess.run(_cmd(tmp_path, bad, "no-such-job", good, *STOP_HARD, "--execute", "--once",
                                  "--max-attempts", "2"),
                             env=sim_env(sim), capture_output=True, text=True, timeout=120)
        posts = _posts(sim)
    assert run.returncode == EXIT_STOPS_FAILED, run.stderr  # 3 outranks 5 (a job id that does not exist)
    lines = _lines(run.stdout)
    ends = _ends(lines)
    assert set(ends) == {bad, good}
    assert len(ends[bad]["failed"]) == 2 and not ends[bad]["stopped"]
    assert len(ends[good]["stopped"]) == 2 and not ends[good]["failed"]
    assert lines[-1]["not_found"] == ["no-such-job"] and lines[-1]["exit_status"] == EXIT_STOPS_FAILED
    assert "no-such-job" in run.stderr and "ModelArts.2775" in run.stderr
    assert not (tmp_path / "no-such-job").exists()  # a job that does not exist leaves no state
    assert all(n <= 2 for n in posts.values())  # --max-attempts 2, never more
    with Ledger(tmp_path / bad) as ledger:
        assert set(ledger.stop_states(bad).values()) == {"failed"}


def test_a_job_with_a_metric_that_is_not_numeric_is_closed_out_and_the_others_go_on(tmp_path: Path) -> None:
    # no --metric/--mode: each job's own reward_attrs decide, and one names a text column
    with Simulator(seed=7, n_trials=10, n_iterations=6, max_concurrent=5, elapsed=40.0, auth="token") as sim:
        good = sim.job_ids[0]
        text = sim.add_job(n_trials=10, elapsed=40.0, reward_attrs=[{"name": "status", "mode": "max"}])
        run = subprocess.run(_cmd(tmp_path, good, text, "--max-cycles", "2", "--poll", "0"), env=sim_env(sim),
                             capture_output=True, text=True, timeout=120)
    assert run.returncode == EXIT_ERROR, run.stderr
    ends = _ends(_lines(run.stdout))
    assert ends[text]["ended"] == "error" and ends[text]["cycles"] == 1
    assert ends[good]["ended"] == "max_cycles" and ends[good]["cycles"] == 2
    assert f"job {text}" in run.stderr and "'status'" in run.stderr
    with Ledger(tmp_path / text) as ledger:
        events = ledger.events(text)
    assert "ConfigurationError" in events[events["kind"] == "error"]["error"].iloc[0]
    assert events["kind"].iloc[-1] == "exit" and events["reason"].iloc[-1].startswith("error")


def test_each_job_resolves_its_own_metric_and_mode_with_its_own_rule(tmp_path: Path) -> None:
    with Simulator(seed=2, n_trials=8, max_concurrent=4, elapsed=40.0, auth="token") as sim, \
            ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
        acc = sim.job_ids[0]
        loss = sim.add_job(n_trials=8, elapsed=40.0, reward_attrs=[{"name": "loss", "mode": "min"}])
        with Fleet(client, MedianStoppingRule, state_root=tmp_path, job_ids=[acc, loss]) as fleet:
            fleet.cycle()
            watchers = fleet.watchers
            assert (watchers[acc].metric, watchers[acc].mode) == ("acc", "max")
            assert (watchers[loss].metric, watchers[loss].mode) == ("loss", "min")
            assert watchers[acc].rule is not watchers[loss].rule
            result = fleet.finish("max_cycles")
        assert set(result.jobs) == {acc, loss} and result.cycles == 1
        forced = watch_jobs(client, MedianStoppingRule, state_root=tmp_path / "forced", job_ids=[acc, loss],
                            max_cycles=1, watcher_options={"metric": "loss", "mode": "min"})
        assert forced.ended == "max_cycles" and {r.cycles for r in forced.jobs.values()} == {1}


class _ExtraJob:
    """A client whose job search also lists a job whose id cannot name a state directory."""

    def __init__(self, client: ModelArtsClient) -> None:
        self._client = client

    def __getattr__(self, name: str):
        return getattr(self._client, name)

    def search_training_jobs(self, **kwargs):
        return [*self._client.search_training_jobs(**kwargs), {"metadata": {"id": "../elsewhere"}}]


def test_a_discovered_job_that_cannot_be_watched_is_reported_and_the_others_go_on(tmp_path: Path) -> None:
    with Simulator(seed=2, n_trials=6, max_concurrent=3, elapsed=40.0, auth="token") as sim, \
            ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
        events: list[dict] = []
        result = watch_jobs(_ExtraJob(client), MedianStoppingRule, state_root=tmp_path / "state", all_running=True,
                            max_cycles=2, interval_s=0, emit=events.append)
    assert result.ended == "max_cycles" and result.fatal is None
    assert list(result.jobs) == [sim.job_ids[0], "../elsewhere"]
    assert result.jobs[sim.job_ids[0]].cycles == 2 and result.jobs["../elsewhere"].ended == "error"
    assert "cannot name a state directory" in result.errors["../elsewhere"]
    assert [e for e in events if e["action"] == "error"][0]["job_id"] == "../elsewhere"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state"]


def test_library_options_are_checked(tmp_path: Path) -> None:
    for kwargs in ({}, {"job_ids": ["a"], "all_running": True}, {"job_ids": ["a"], "filters": [{"key": "name"}]},
                   {"job_ids": ["a"], "max_jobs_in_flight": 0}, {"job_ids": "a"},
                   {"job_ids": ["a"], "watcher_options": {"state_dir": tmp_path}}):
        with pytest.raises(ConfigurationError):
            Fleet(object(), MedianStoppingRule, state_root=tmp_path, **kwargs)
    with pytest.raises(ConfigurationError):
        job_state_dir(tmp_path, "../x")


def test_cli_job_selection_arguments_give_status_2_before_anything(tmp_path: Path) -> None:
    with Simulator(n_trials=3, auth="token") as sim:
        for args in ((), (sim.job_ids[0], "--all-running"), (sim.job_ids[0], "--filter", "name:like:x"),
                     ("--all-running", "--filter", "name-like"), ("--all-running", "--max-jobs-in-flight", "0")):
            run = subprocess.run(_cmd(tmp_path, *args), env=sim_env(sim), capture_output=True, text=True, timeout=60)
            assert run.returncode == EXIT_USAGE, (args, run.stderr)
            assert len(run.stderr.strip().splitlines()) == 1 and not run.stdout
        assert "--max-jobs-in-flight" in run.stderr
        assert "max_jobs_in_flight" not in run.stderr.replace("--max-jobs-in-flight", "")
        assert not sim.requests
    assert not any(tmp_path.iterdir())


def test_all_running_with_a_filter_and_once(tmp_path: Path) -> None:
    with Simulator(seed=4, n_trials=6, n_jobs=2, elapsed=30.0, auth="token") as sim:
        wanted = sim.add_job(n_trials=6, elapsed=30.0, name="resnet-sweep")
        run = subprocess.run(_cmd(tmp_path, "--all-running", "--filter", "name:like:resnet", "--once"),
                             env=sim_env(sim), capture_output=True, text=True, timeout=60)
    assert run.returncode == EXIT_OK, run.stderr
    lines = _lines(run.stdout)
    assert set(_ends(lines)) == {wanted} and lines[-1]["cycles"] == 1 and lines[-1]["ended"] == "max_cycles"
    assert sorted(p.name for p in tmp_path.iterdir()) == [wanted]


def test_an_expired_token_stops_every_job_with_status_4(tmp_path: Path) -> None:
    with Simulator(seed=1, n_trials=8, n_jobs=2, max_concurrent=4, elapsed=20.0, auth="token") as sim:
        jobs = sim.job_ids
        proc = subprocess.Popen(_cmd(tmp_path, *jobs, "--poll", "0.02"), env=sim_env(sim), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            _wait_for(proc, lambda: all(_listed(sim, j) >= 1 for j in jobs))
            new = sim.expire_token()
            out, err = proc.communicate(timeout=60)
        finally:
            proc.kill() if proc.poll() is None else None
    assert proc.returncode == EXIT_AUTH, err
    assert new not in out + err and sim.token not in out + err
    lines = _lines(out)
    assert lines[-1]["event"] == "end_all" and lines[-1]["ended"] == "error" and lines[-1]["exit_status"] == EXIT_AUTH


def _HeldStops() -> HeldRequests:
    """Every stop request held at the simulator's door (see tests/_fakes.py)."""
    return HeldRequests("autosearch-trial-earlystop")


def test_kill_9_mid_cycle_across_several_jobs_then_restart_stops_nothing_twice(tmp_path: Path) -> None:
    args = (*STOP_HARD[:-1], "3", "--poll", "0", "--execute", "--max-jobs-in-flight", "3")
    with Simulator(seed=5, n_trials=10, n_iterations=6, max_concurrent=4, elapsed=0, auth="token",
                   time_per_request=5.0) as sim:
        jobs = [sim.job_ids[0], *(sim.add_job(n_trials=10, elapsed=0) for _ in range(2))]
        held = _HeldStops()
        sim.faults = held
        proc = subprocess.Popen(_cmd(tmp_path, *jobs, *args), env=sim_env(sim), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            while not held.arrived.wait(0.05) and proc.poll() is None:
                pass
            # give the other jobs' cycles (in flight on other threads) the chance to send theirs too
            _wait_for(proc, lambda: len(held.handlers) >= 2, give_up_after=30.0)
        finally:
            proc.kill()  # SIGKILL, with stop requests in flight
            proc.communicate(timeout=10)  # waits, and closes the pipes
            sim.faults = Faults()
            held.release.set()  # the service answers the stops the killed watch sent
            for handler in held.handlers:
                handler.join(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        assert len({p.split("/training-jobs/")[1].split("/")[0] for p in held.paths}) >= 2  # several jobs' stops
        rerun = subprocess.run(_cmd(tmp_path, *jobs, *args), env=sim_env(sim), capture_output=True, text=True,
                               timeout=120)
        posts = _posts(sim)
    assert rerun.returncode in (EXIT_OK, EXIT_STOPS_FAILED), rerun.stderr  # 3: an interrupted stop left unresolved
    assert posts and max(posts.values()) == 1, posts  # never two stop requests for one trial, nor for a job
    assert not any(p.endswith("/actions") for p in posts)
    lines = _lines(rerun.stdout)
    assert lines[-1]["ended"] == "no job left"
    for job in jobs:
        with Ledger(tmp_path / job) as ledger:
            states = ledger.stop_states(job)
        sent = {p.rsplit("/", 1)[1] for p in posts if f"/{job}/" in p}
        assert sent <= set(states)  # every request the service saw was intended first
        # an intent whose request never reached the service (killed first) is resolved, never sent again
        assert all(states[t] in ("already_stopped", "unresolved") for t in set(states) - sent)


def test_the_exit_status_of_many_jobs_combines_theirs() -> None:
    from hpo_analytics.cli._watch import fleet_exit_status
    from hpo_analytics.errors import AuthenticationError, NotFoundError
    from hpo_analytics.stopping import FleetResult, WatchResult

    def job(name: str, ended: str = "max_cycles", failed: tuple[str, ...] = ()) -> WatchResult:
        return WatchResult(1, [], [], list(failed), [], ended, job_id=name)

    def status(*jobs: WatchResult, explicit: tuple[str, ...] = (), errors: dict | None = None,
               fatal: Exception | None = None) -> int:
        return fleet_exit_status(FleetResult(1, "max_cycles", {j.job_id: j for j in jobs}, explicit=list(explicit),
                                             errors=errors or {}, fatal=fatal))

    ok, gone, broken, failing = job("a"), job("b", "job not found"), job("c", "error"), job("d", failed=("t",))
    assert status(ok) == EXIT_OK
    assert status(ok, gone) == EXIT_OK  # a discovered job that went away is no failure
    assert status(ok, gone, explicit=("a", "b")) == EXIT_NOT_FOUND
    assert status(ok, gone, broken, explicit=("a", "b"), errors={"c": "ConfigurationError: x"}) == EXIT_ERROR
    assert status(gone, broken, failing, explicit=("b",), errors={"c": "x"}) == EXIT_STOPS_FAILED
    assert status(failing, fatal=AuthenticationError("401", status_code=401)) == EXIT_AUTH
    # a listing that said "not found" mid-run closes the job out as not found, not as an error
    assert status(gone, explicit=("b",), errors={"b": "NotFoundError: x"}) == EXIT_NOT_FOUND
    assert status(ok, fatal=NotFoundError("search", status_code=404)) == EXIT_ERROR  # the job search kept failing
