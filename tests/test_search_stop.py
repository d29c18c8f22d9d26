"""Search-level stops: each criterion ends the whole job exactly when it should, safely (dry run, kill switch,
never twice across restarts, failures counted); and end to end with the CLI against the simulator."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from _fakes import Clock, HeldRequests
from hpo_analytics.cli._watch import exit_status
from hpo_analytics.client import ModelArtsClient, RetryPolicy, TerminateResult
from hpo_analytics.errors import ConfigurationError, ConflictError
from hpo_analytics.simulator import Faults, Simulator
from hpo_analytics.stopping import Ledger, Safety, SearchStop, ThresholdRule, watch
from hpo_analytics.stopping._watch import Watcher
from _service_env import clear_service_env, sim_env

ROOT = Path(__file__).resolve().parents[1]
JOB = "job-1"
NEVER = ThresholdRule(-1e9, grace_period=0, metric="acc", mode="max")  # never stops a trial: only the search


class _Killed(BaseException):
    """The process dying between the terminate intent and its answer."""


class JobClient:
    """A job whose trials (status, curve, run time), phase and start the test sets; records terminate requests."""

    def __init__(self, trials: dict[str, tuple[str, list[float], float]], *, phase: str = "Running",
                 start_ms: int = 0, create_ms: int = 0, outcome: Any = None) -> None:
        self.trials = trials
        self.phase = phase
        self.start_ms = start_ms
        self.create_ms = create_ms
        self.terminates: list[str] = []
        self.outcome = outcome

    def job_phase(self, job_id: str) -> str:
        return self.phase

    def get_training_job(self, job_id: str) -> dict[str, Any]:
        return {"metadata": {"id": job_id, "create_time": self.create_ms},
                "status": {"phase": self.phase, "start_time": self.start_ms}}

    def fetch_trials(self, job_id: str, *, details: dict[str, Any] | None = None) -> pd.DataFrame:
        rows = [(t, st, st == "TERMINATED", len(v) or None, v[-1] if v else None, secs)
                for t, (st, v, secs) in self.trials.items()]
        return pd.DataFrame(rows, columns=["trial_id", "status", "done", "training_iteration", "acc",
                                           "time_total_s"])

    def fetch_curves(self, job_id: str, ids, *, details: dict[str, Any] | None = None) -> pd.DataFrame:
        rows = [(t, i + 1, x) for t in ids for i, x in enumerate(self.trials[t][1])]
        return pd.DataFrame(rows, columns=["trial_id", "training_iteration", "acc"])

    def early_stop(self, job_id: str, trial_id: str):  # pragma: no cover - NEVER stops a trial
        raise AssertionError("no trial stop expected")

    def terminate_job(self, job_id: str) -> TerminateResult:
        self.terminates.append(job_id)
        if self.outcome is not None:
            return self.outcome()
        self.phase = "Terminating"
        return TerminateResult(job_id, "terminating", "Terminating")

    def finish(self, trial: str, *values: float) -> None:
        st, v, secs = self.trials[trial]
        self.trials[trial] = ("TERMINATED", v + list(values), secs)

    def report(self, trial: str, *values: float, secs: float = 0.0) -> None:
        st, v, old = self.trials[trial]
        self.trials[trial] = (st, v + list(values), old + secs)


def _watcher(client: JobClient, state: Path, policy: SearchStop, *, execute: bool = True, mode: str = "max",
             clock: Any = None, notes: list | None = None, lines: list | None = None) -> Watcher:
    rule = ThresholdRule(-1e9 if mode == "max" else 1e9, grace_period=0, metric="acc", mode=mode)
    return Watcher(client, JOB, rule, state_dir=state, execute=execute, search_stop=policy,
                   safety=Safety(min_running=0), clock=clock or Clock(),
                   notify=None if notes is None else notes.append, emit=None if lines is None else lines.append)


def _kinds(state: Path, *kinds: str) -> list[str]:
    with Ledger(state) as ledger:
        events = ledger.events(JOB)
    return [k for k in events["kind"] if not kinds or k in kinds]


def _running(**values: float) -> dict[str, tuple[str, list[float], float]]:
    return {t: ("RUNNING", [v], 10.0) for t, v in values.items()}


# ---------------------------------------------------------------------- the criteria


def test_search_stop_checks_its_criteria_and_describes_itself() -> None:
    with pytest.raises(ConfigurationError, match="at least one criterion"):
        SearchStop()
    for bad in ({"max_trials": 0}, {"no_improvement": 0}, {"max_wall_time_s": 0}, {"max_trial_time_s": -1.0},
                {"target": float("nan")}, {"max_trials": 2.5}, {"target": "high"}):
        with pytest.raises(ConfigurationError, match=next(iter(bad))):
            SearchStop(**bad)
    stop = SearchStop(target=0.9, max_trials=50)
    assert stop.describe() == "search stop(target=0.9, max_trials=50)"
    assert stop.params() == {"target": 0.9, "max_trials": 50}
    with pytest.raises(ConfigurationError, match="terminate_job"):
        Watcher(object(), JOB, NEVER, state_dir=Path("unused"), execute=True, search_stop=stop)


@pytest.mark.parametrize("mode,below,reached", [("max", 0.85, 0.9), ("min", 0.35, 0.3)])
def test_target_reached_terminates_once_and_the_watch_then_ends(tmp_path: Path, mode: str, below: float,
                                                                   reached: float) -> None:
    client = JobClient(_running(a=0.5, b=below))
    notes: list[dict] = []
    w = _watcher(client, tmp_path, SearchStop(target=0.9 if mode == "max" else 0.3), mode=mode, notes=notes)
    w.cycle()
    assert client.terminates == []  # 0.85 < 0.9 (max) / 0.35 > 0.3 (min): not yet
    client.report("b", reached)
    w.cycle()
    assert client.terminates == [JOB]
    report = w.cycle()  # Terminating: the lifecycle ends the watch; nothing is sent again
    w.close()
    assert report.job_ended == "job Terminating" and client.terminates == [JOB]
    assert _kinds(tmp_path, "terminate_intent", "job_terminated", "job_ended") == [
        "terminate_intent", "job_terminated", "job_ended"]
    assert [n["event"] for n in notes] == ["job_terminated", "job_ended"]
    assert "target reached" in notes[0]["reason"] and "(trial b)" in notes[0]["reason"]
    with Ledger(tmp_path) as ledger:
        assert ledger.terminate_state(JOB) == "terminating"
        intent = ledger.events(JOB, "terminate_intent").iloc[0]
    assert json.loads(intent["params"]) == {"target": 0.9 if mode == "max" else 0.3}
    assert intent["value"] == pytest.approx(reached) and "/actions" in intent["request"]


def test_budgets_finished_trials_and_summed_run_time(tmp_path: Path) -> None:
    client = JobClient(_running(a=0.1, b=0.2, c=0.3, d=0.4))
    w = _watcher(client, tmp_path / "trials", SearchStop(max_trials=2))
    client.finish("a")
    w.cycle()
    assert client.terminates == []  # one finished of two
    client.finish("b")
    w.cycle()
    w.close()
    assert client.terminates == [JOB]
    # summed time_total_s over every trial, running ones included: 4 x 10 s, then 45 s
    client = JobClient(_running(a=0.1, b=0.2, c=0.3, d=0.4))
    w = _watcher(client, tmp_path / "time", SearchStop(max_trial_time_s=45.0))
    w.cycle()
    assert client.terminates == []
    client.report("c", 0.35, secs=4.0)
    w.cycle()
    assert client.terminates == []  # 44 s
    client.report("d", 0.45, secs=1.0)
    w.cycle()
    w.close()
    assert client.terminates == [JOB]
    with Ledger(tmp_path / "time") as ledger:
        reason = ledger.events(JOB, "job_terminated")["reason"].iloc[0]
    assert "45 s of trial run time" in reason and "max_trial_time_s 45" in reason


def test_wall_time_counts_from_the_job_start_by_the_injected_clock(tmp_path: Path) -> None:
    clock = Clock()
    clock.now = 1_000.0
    client = JobClient(_running(a=0.1, b=0.2), start_ms=0, create_ms=900_000)  # not started: its creation
    w = _watcher(client, tmp_path, SearchStop(max_wall_time_s=3600.0), clock=clock)
    w.cycle()
    client.start_ms = 950_000  # started 50 s after its creation
    clock.now = 950.0 + 3599.0
    w.cycle()
    assert client.terminates == []  # 3,599 s since the start (3,649 since the creation)
    clock.now += 1.0
    w.cycle()
    w.close()
    assert client.terminates == [JOB]


def test_no_improvement_counts_trials_in_the_order_they_finished_across_a_restart(tmp_path: Path) -> None:
    client = JobClient(_running(a=0.1, b=0.1, c=0.1, d=0.1, e=0.1))
    policy = SearchStop(no_improvement=2)
    w = _watcher(client, tmp_path, policy)
    for trial, value in (("a", 0.5), ("b", 0.7), ("c", 0.6)):
        client.finish(trial, value)
        w.cycle()
    w.close()
    assert client.terminates == []  # only c did not beat b
    # a new run: the order comes back from the ledger
    client.finish("d", 0.65)
    w = _watcher(client, tmp_path, policy)
    w.cycle()
    w.close()
    assert client.terminates == [JOB]
    with Ledger(tmp_path) as ledger:
        seen = ledger.events(JOB, "trial_finished")
        reason = ledger.events(JOB, "job_terminated")["reason"].iloc[0]
    assert seen["trial_id"].tolist() == ["a", "b", "c", "d"]
    assert "best finished acc 0.7 (trial b) was not beaten by the last 2 trials" in reason


def test_no_improvement_takes_trials_first_seen_together_worst_first(tmp_path: Path) -> None:
    # Already finished when the watch starts: the order is unknown, so the best counts as the latest.
    trials = {"a": ("TERMINATED", [0.9], 1.0), "b": ("TERMINATED", [0.1], 1.0), "c": ("TERMINATED", [0.2], 1.0),
              "d": ("RUNNING", [0.3], 1.0)}
    client = JobClient(trials)
    w = _watcher(client, tmp_path, SearchStop(no_improvement=2))
    w.cycle()
    assert client.terminates == []  # in listing order (a, b, c) it would have fired at once
    client.finish("d", 0.3)
    w.cycle()
    assert client.terminates == []  # one trial since a
    client.trials["e"] = ("TERMINATED", [0.4], 1.0)
    w.cycle()
    w.close()
    assert client.terminates == [JOB]
    with Ledger(tmp_path) as ledger:
        seen = ledger.events(JOB, "trial_finished")
    assert seen["trial_id"].tolist() == ["b", "c", "a", "d", "e"]
    assert "order within a cycle unknown" in seen["reason"].iloc[0]


# ---------------------------------------------------------------------- safety


def test_dry_run_records_and_sends_nothing(tmp_path: Path) -> None:
    client = JobClient(_running(a=0.95, b=0.2))
    notes: list[dict] = []
    lines: list[dict] = []
    w = _watcher(client, tmp_path, SearchStop(target=0.9), execute=False, notes=notes, lines=lines)
    w.cycle()
    w.cycle()
    w.close()
    assert client.terminates == [] and client.phase == "Running"
    assert _kinds(tmp_path, "would_terminate", "terminate_intent") == ["would_terminate", "would_terminate"]
    assert [x["action"] for x in lines if x["trial_id"] is None] == ["would_terminate", "would_terminate"]
    assert [n["event"] for n in notes] == ["would_terminate"]  # once a run, not every cycle
    with Ledger(tmp_path) as ledger:
        assert ledger.terminate_state(JOB) is None


def test_kill_switch_holds_the_terminate(tmp_path: Path) -> None:
    client = JobClient(_running(a=0.95, b=0.2))
    w = _watcher(client, tmp_path, SearchStop(target=0.9))
    (tmp_path / "PAUSE").touch()
    w.cycle()
    assert client.terminates == []
    (tmp_path / "PAUSE").unlink()
    w.cycle()
    w.close()
    assert client.terminates == [JOB]
    with Ledger(tmp_path) as ledger:
        held = ledger.events(JOB, "terminate_held")
    assert len(held) == 1 and "kill switch PAUSE is present" in held["reason"].iloc[0]


@pytest.mark.parametrize("phase_after,state,failed", [("Running", "unresolved", [JOB]),
                                                      ("Terminated", "already_ended", [])])
def test_an_interrupted_intent_is_resolved_from_the_phase_and_never_sent_again(
        tmp_path: Path, phase_after: str, state: str, failed: list[str]) -> None:
    client = JobClient(_running(a=0.95, b=0.2))

    def die() -> TerminateResult:
        raise _Killed

    client.outcome = die
    w = _watcher(client, tmp_path, SearchStop(target=0.9))
    with pytest.raises(_Killed):
        w.cycle()
    w.close()
    with Ledger(tmp_path) as ledger:
        assert ledger.terminate_state(JOB) == "intent"
    client.phase = phase_after
    client.outcome = None
    notes: list[dict] = []
    result = watch(client, JOB, NEVER, state_dir=tmp_path, execute=True, search_stop=SearchStop(target=0.9),
                   safety=Safety(min_running=0), max_cycles=3, sleep=lambda s: None, notify=notes.append)
    assert client.terminates == [JOB]  # the one request of the killed run, never another
    assert result.failed == failed and exit_status(result) == (3 if failed else 0)
    with Ledger(tmp_path) as ledger:
        assert ledger.terminate_state(JOB) == state
        assert len(ledger.events(JOB, f"terminate_{state}")) == 1
    if failed:
        assert result.ended == "max_cycles" and len(_kinds(tmp_path, "terminate_held")) == 3
        assert [n["event"] for n in notes] == ["terminate_failed"]
    else:
        assert result.ended == "job Terminated"


def test_a_failed_terminate_counts_as_failed_and_is_not_retried(tmp_path: Path) -> None:
    def refuse() -> TerminateResult:
        raise ConflictError("HTTP 409 ModelArts.2796: try again later", status_code=409, error_code="ModelArts.2796")

    client = JobClient(_running(a=0.95, b=0.2), outcome=refuse)
    notes: list[dict] = []
    result = watch(client, JOB, NEVER, state_dir=tmp_path, execute=True, search_stop=SearchStop(target=0.9),
                   safety=Safety(min_running=0), max_cycles=3, sleep=lambda s: None, notify=notes.append)
    assert client.terminates == [JOB]
    assert result.failed == [JOB] and exit_status(result) == 3
    assert [n["event"] for n in notes] == ["terminate_failed"] and "ModelArts.2796" in notes[0]["error"]
    with Ledger(tmp_path) as ledger:
        assert ledger.terminate_state(JOB) == "failed"
        assert ledger.events(JOB, "terminate_failed")["error"].str.contains("ModelArts.2796").all()
        held = ledger.events(JOB, "terminate_held")["reason"]
    assert len(held) == 2 and held.str.contains(r"already made for this job \(failed\); never twice").all()


def test_a_job_already_ending_is_recorded_as_such(tmp_path: Path) -> None:
    client = JobClient(_running(a=0.95, b=0.2),
                       outcome=lambda: TerminateResult(JOB, "already_ended", "Completed"))
    result = watch(client, JOB, NEVER, state_dir=tmp_path, execute=True, search_stop=SearchStop(target=0.9),
                   safety=Safety(min_running=0), max_cycles=2, sleep=lambda s: None)
    assert client.terminates == [JOB] and not result.failed
    with Ledger(tmp_path) as ledger:
        assert ledger.terminate_state(JOB) == "already_ended"
        assert "already Completed" in ledger.events(JOB, "terminate_already_ended")["reason"].iloc[0]


# ---------------------------------------------------------------------- the CLI


def test_cli_search_stop_flags_are_checked_and_named(tmp_path: Path, monkeypatch, capsys) -> None:
    from hpo_analytics.cli import main

    clear_service_env(monkeypatch)
    for flag, value, name in (("--no-improvement", "0", "no_improvement"), ("--max-trials", "0", "max_trials"),
                              ("--max-wall-time", "-5", "max_wall_time_s"),
                              ("--max-trial-time", "0", "max_trial_time_s"), ("--stop-search-at", "inf", "target")):
        assert main(["watch", "job", "--state-dir", str(tmp_path), flag, value]) == 2
        out = capsys.readouterr()
        assert out.err.startswith("hpo-analytics watch: error: " + flag) and name not in out.err and not out.out
    assert not any(tmp_path.iterdir())
    with pytest.raises(SystemExit):
        main(["watch", "--help"])
    assert "TERMINATES THE WHOLE JOB" in capsys.readouterr().out



def test_cli_target_reached_terminates_the_job_once_and_exits_0(tmp_path: Path) -> None:
    # The simulated clock stands still: only the terminate can end the job, and with it the watch.
    with Simulator(seed=4, n_trials=12, n_iterations=8, max_concurrent=4, elapsed=40.0, auth="token") as sim:
        job = sim.job_ids[0]
        with ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token,
                             retry=RetryPolicy(sleep=lambda s: None)) as client:
            best = float(pd.to_numeric(client.fetch_trials(job).to_pandas()["acc"]).max())
        sim.clear_requests()
        cmd = [sys.executable, "-m", "hpo_analytics", "watch", job, "--metric", "acc", "--mode", "max",
               "--state-dir", str(tmp_path), "--json", "--poll", "0.05", "--execute", "--rule", "threshold",
               "--threshold", "-1000", "--stop-search-at", f"{best - 1e-6!r}"]
        run = subprocess.run(cmd, env=sim_env(sim), capture_output=True, text=True, timeout=120)
        terminates = [r for r in sim.requests if r.method == "POST" and r.path.endswith("/actions")]
        phase = sim.job(job).phase
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
    assert [x["action"] for x in lines if x.get("action") in ("job_terminated", "terminate_intent")] == [
        "job_terminated"]
    assert lines[-1]["event"] == "end" and lines[-1]["ended"] in ("job Terminating", "job Terminated")
    assert len(terminates) == 1 and terminates[0].status == 202 and phase == "Terminated"
    with Ledger(tmp_path / job) as ledger:
        assert ledger.terminate_state(job) == "terminating"


def _cli(job: str, state: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hpo_analytics", "watch", job, "--metric", "acc", "--mode", "max",
            "--state-dir", str(state), "--json", "--rule", "threshold", "--threshold", "-1000", *extra]


def test_cli_dry_run_says_it_would_terminate_and_sends_nothing(tmp_path: Path) -> None:
    # four trials finished (the clock stands still): the budget of three is spent
    with Simulator(seed=4, n_trials=12, n_iterations=8, max_concurrent=4, elapsed=200.0, auth="token") as sim:
        job = sim.job_ids[0]
        run = subprocess.run(_cli(job, tmp_path, "--max-cycles", "2", "--poll", "0", "--max-trials", "3"),
                             env=sim_env(sim), capture_output=True, text=True, timeout=120)
        posts = [r for r in sim.requests if r.method == "POST"]
        phase = sim.job(job).phase
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
    would = [x for x in lines if x.get("action") == "would_terminate"]
    assert len(would) == 2 and "4 trials finished >= max_trials 3" in would[0]["reason"]
    assert not posts and phase == "Running"


def _HeldTerminate() -> HeldRequests:
    """Every terminate request held at the simulator's door (see tests/_fakes.py)."""
    return HeldRequests("/actions")


def test_cli_kill_9_between_intent_and_answer_then_restart_sends_no_second_terminate(tmp_path: Path) -> None:
    with Simulator(seed=4, n_trials=12, n_iterations=8, max_concurrent=4, elapsed=200.0, auth="token") as sim:
        job = sim.job_ids[0]
        held = _HeldTerminate()
        sim.faults = held
        proc = subprocess.Popen(_cli(job, tmp_path, "--poll", "0", "--execute", "--max-trials", "3"), env=sim_env(sim),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for _ in range(1200):  # a bound, not a timing assertion: the terminate comes at the first cycle
                if held.arrived.wait(0.1) or proc.poll() is not None:
                    break
        finally:
            proc.kill()  # SIGKILL while the terminate is in flight
            proc.communicate(timeout=10)  # waits, and closes the pipes
            sim.faults = Faults()
            held.release.set()  # the service carries out the terminate the killed watch sent
            for handler in held.handlers:
                handler.join(timeout=10)
        assert held.arrived.is_set() and proc.returncode == -signal.SIGKILL
        with Ledger(tmp_path / job) as ledger:
            assert ledger.terminate_state(job) == "intent"
        rerun = subprocess.run(_cli(job, tmp_path, "--poll", "0", "--execute", "--max-trials", "3"), env=sim_env(sim),
                               capture_output=True, text=True, timeout=120)
        terminates = [r for r in sim.requests if r.method == "POST" and r.path.endswith("/actions")]
    assert rerun.returncode == 0, rerun.stderr
    assert len(terminates) == 1
    lines = [json.loads(x) for x in rerun.stdout.splitlines() if x.startswith("{")]
    assert [x["action"] for x in lines if str(x.get("action", "")).startswith("terminate")] == [
        "terminate_already_ended"]
    assert lines[-1]["ended"] == "job Terminated" and not lines[-1]["failed"]
    with Ledger(tmp_path / job) as ledger:
        assert ledger.terminate_state(job) == "already_ended"


def test_cli_several_jobs_each_judged_by_their_own_search_stop(tmp_path: Path) -> None:
    # with the clock standing still, the job at elapsed 200 has four trials finished (budget 3 spent), the one
    # at elapsed 5 none: only the first is terminated, each ledger says so for its own job
    with Simulator(seed=4, n_trials=12, n_iterations=8, max_concurrent=4, elapsed=200.0, auth="token") as sim:
        spent = sim.job_ids[0]
        fresh = sim.add_job(n_trials=12, n_iterations=8, max_concurrent=4, elapsed=5.0)
        cmd = [sys.executable, "-m", "hpo_analytics", "watch", spent, fresh, "--metric", "acc", "--mode", "max",
               "--state-dir", str(tmp_path), "--json", "--rule", "threshold", "--threshold", "-1000",
               "--max-cycles", "2", "--poll", "0", "--execute", "--max-trials", "3"]
        run = subprocess.run(cmd, env=sim_env(sim), capture_output=True, text=True, timeout=120)
        terminates = [r.path for r in sim.requests if r.method == "POST" and r.path.endswith("/actions")]
        phases = {j: sim.job(j).phase for j in (spent, fresh)}
    assert run.returncode == 0, run.stderr
    lines = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
    assert [x["job_id"] for x in lines if x.get("action") == "job_terminated"] == [spent]
    assert len(terminates) == 1 and f"/{spent}/" in terminates[0]
    assert phases[fresh] == "Running" and phases[spent] in ("Terminating", "Terminated")
    for job, state in ((spent, "terminating"), (fresh, None)):
        with Ledger(tmp_path / job) as ledger:
            assert ledger.terminate_state(job) == state
