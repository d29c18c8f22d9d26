"""The watch loop: end to end against the simulator under faults, safety limits, ledger, idempotency, CLI."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from hpo_analytics.client import EarlyStopResult, ModelArtsClient, RetryPolicy
from hpo_analytics.errors import ConfigurationError, ConflictError
from hpo_analytics.simulator import Faults, Simulator
from hpo_analytics.stopping import Ledger, Safety, SignificanceRule, ThresholdRule, watch
from hpo_analytics.stopping._watch import Watcher

from _fakes import HeldRequests
from _service_env import clear_service_env, sim_env

ROOT = Path(__file__).resolve().parents[1]


def _client(sim: Simulator) -> ModelArtsClient:
    return ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token,
                           retry=RetryPolicy(sleep=lambda s: None))


def _stop_posts(sim: Simulator) -> Counter:
    return Counter(r.path.rsplit("/", 1)[1] for r in sim.requests
                   if r.method == "POST" and "autosearch-trial-earlystop" in r.path)


# ---------------------------------------------------------------------- end to end


def test_watch_stops_hopeless_trials_and_keeps_winners_under_faults(tmp_path: Path) -> None:
    lines: list[dict] = []
    with Simulator(seed=3, n_trials=30, n_iterations=12, max_concurrent=8, elapsed=0, auth="token") as sim:
        job = sim.job_ids[0]
        sim.faults = Faults(rate_limit_next=3, server_error_next=3, drop_next=2, retry_after=0.01)
        with _client(sim) as client:
            result = watch(client, job, SignificanceRule(grace_period=2, min_samples=3), metric="acc", mode="max",
                           state_dir=tmp_path, execute=True, interval_s=20, sleep=sim.advance, emit=lines.append)
        faults = Counter(r.fault for r in sim.requests if r.fault)
        truth = sim.job(job).trials
        completed, status = sim.job(job).snapshot()
        posts = _stop_posts(sim)
    # the job's phase is read first each cycle: when its last trial finishes, the job is Completed
    assert result.ended == "job Completed" and not result.failed
    assert faults["rate_limit"] >= 3 and faults["server_error"] >= 3 and faults["drop"] >= 2, faults
    ids = np.array(truth.trial_ids)
    asym = pd.Series(truth.asymptote, index=ids)
    stopped = set(result.stopped)
    assert len(stopped) >= 4
    assert not stopped & set(asym.nlargest(5).index)  # the winners ran to the end
    assert asym[list(stopped)].max() < asym.quantile(0.75) and asym[list(stopped)].mean() < asym.median()
    assert set(posts) == stopped and max(posts.values()) == 1  # one request per stopped trial
    # every report the service shows is in the history store; one line per decision was printed
    with Ledger(tmp_path) as ledger:
        hist = ledger.history(job)
        decisions = ledger.events(job, "decision")
    counts = hist.groupby("trial_id").size()
    for tid, n in zip(ids, completed):
        assert counts.get(tid, 0) == n
    assert len(decisions) == sum(1 for x in lines if x["action"] in ("continue", "stopped", "held", "would_stop"))
    assert {x["action"] for x in lines} >= {"continue", "stopped"}


def test_dry_run_sends_no_stop_request(tmp_path: Path) -> None:
    lines: list[dict] = []
    with Simulator(seed=3, n_trials=12, n_iterations=8, max_concurrent=6, elapsed=0, auth="token") as sim:
        with _client(sim) as client:
            result = watch(client, sim.job_ids[0], ThresholdRule(0.99, grace_period=1), metric="acc", mode="max",
                           state_dir=tmp_path, interval_s=30, sleep=sim.advance, emit=lines.append)
        assert not _stop_posts(sim)
    assert result.would_stop and not result.stopped
    assert any(x["action"] == "would_stop" for x in lines)


def test_kill_switch_pauses_acting(tmp_path: Path) -> None:
    (tmp_path / "PAUSE").touch()
    with Simulator(seed=3, n_trials=12, n_iterations=8, max_concurrent=6, elapsed=0, auth="token") as sim:
        with _client(sim) as client:
            result = watch(client, sim.job_ids[0], ThresholdRule(0.99, grace_period=1), metric="acc", mode="max",
                           state_dir=tmp_path, execute=True, interval_s=30, sleep=sim.advance, max_cycles=4)
        assert not _stop_posts(sim)
    assert not result.stopped
    with Ledger(tmp_path) as ledger:
        held = ledger.events(kind="held")
    reasons = set(held["reason"])
    assert reasons == {"kill switch PAUSE is present", "among the current best 1"}


# ---------------------------------------------------------------------- safety, with a scripted client


class ScriptedClient:
    """Trials whose status and curves the test sets; records stop requests."""

    def __init__(self, trials: dict[str, tuple[str, list[float]]], outcome=None) -> None:
        self.trials = trials
        self.calls: list[str] = []
        self.outcome = outcome or (lambda tid: EarlyStopResult(tid, "stopped"))

    def fetch_trials(self, job_id: str) -> pd.DataFrame:
        rows = [(t, st, st in ("TERMINATED", "ERROR"), len(v) or None, v[-1] if v else None)
                for t, (st, v) in self.trials.items()]
        return pd.DataFrame(rows, columns=["trial_id", "status", "done", "training_iteration", "acc"])

    def fetch_curves(self, job_id: str, ids) -> pd.DataFrame:
        rows = [(t, i + 1, x) for t in ids for i, x in enumerate(self.trials[t][1])]
        return pd.DataFrame(rows, columns=["trial_id", "training_iteration", "acc"])

    def early_stop(self, job_id: str, trial_id: str):
        self.calls.append(trial_id)
        st, v = self.trials[trial_id]
        self.trials[trial_id] = ("TERMINATED", v)
        return self.outcome(trial_id)


def _running(values: dict[str, float], finished: dict[str, float] | None = None):
    trials = {t: ("RUNNING", [v, v]) for t, v in values.items()}
    trials.update({t: ("TERMINATED", [v, v]) for t, v in (finished or {}).items()})
    return trials


STOP_ALL = ThresholdRule(100.0, grace_period=0, metric="acc", mode="max")  # says stop to every running trial


def test_never_stops_the_best_or_a_non_running_trial(tmp_path: Path) -> None:
    client = ScriptedClient(_running({"a": 0.9, "b": 0.5, "c": 0.4, "d": 0.3}, finished={"z": 0.1}))
    w = Watcher(client, "job", STOP_ALL, state_dir=tmp_path, execute=True,
                safety=Safety(protect_top=1, max_stops_per_cycle=10, max_stop_fraction=1.0, min_running=0))
    report = w.cycle()
    w.close()
    assert sorted(client.calls) == ["b", "c", "d"]  # a is the best; z is not running (never a candidate)
    assert report.actions["a"].startswith("held: among the current best 1")
    assert "z" not in set(report.decisions["trial_id"])


def test_limits_per_cycle_fraction_and_min_running(tmp_path: Path) -> None:
    values = {f"t{i}": 0.1 * i for i in range(1, 9)}
    client = ScriptedClient(_running(values))
    safety = Safety(protect_top=0, max_stops_per_cycle=2, max_stop_fraction=0.5, min_running=3)
    w = Watcher(client, "job", STOP_ALL, state_dir=tmp_path / "a", execute=True, safety=safety)
    first = w.cycle()
    assert client.calls == ["t1", "t2"]  # most hopeless first, two per cycle
    assert sum(a.startswith("held: limit of 2 stops per cycle") for a in first.actions.values()) == 6
    w.cycle()
    assert len(client.calls) == 4  # 4 of 8 = the 0.5 fraction: no more, ever
    third = w.cycle()
    assert len(client.calls) == 4 and any("limit of 0.5 of all 8" in a for a in third.actions.values())
    w.close()
    # keep at least M running: 4 running, min_running 3 -> one stop only
    client2 = ScriptedClient(_running({f"u{i}": 0.1 * i for i in range(1, 5)}))
    w2 = Watcher(client2, "job", STOP_ALL, state_dir=tmp_path / "b", execute=True,
                 safety=Safety(protect_top=0, max_stops_per_cycle=10, max_stop_fraction=1.0, min_running=3))
    report = w2.cycle()
    w2.close()
    assert client2.calls == ["u1"]
    assert sum("keeping at least 3 trials running" in a for a in report.actions.values()) == 3


def test_already_finished_is_recorded_and_never_retried(tmp_path: Path) -> None:
    client = ScriptedClient(_running({"a": 0.9, "b": 0.1, "c": 0.2}),
                            outcome=lambda tid: EarlyStopResult(tid, "already_finished", "TERMINATED"))
    safety = Safety(protect_top=1, max_stops_per_cycle=1, max_stop_fraction=1.0, min_running=0)
    w = Watcher(client, "job", STOP_ALL, state_dir=tmp_path, execute=True, safety=safety)
    w.cycle()
    client.trials["b"] = ("RUNNING", [0.1, 0.1, 0.1])  # the listing still shows it running
    w.cycle()
    w.close()
    assert client.calls == ["b", "c"]
    with Ledger(tmp_path) as ledger:
        assert ledger.stop_states("job") == {"b": "already_stopped", "c": "already_stopped"}
        held = ledger.events(kind="held")
    assert "a stop request was already made for this trial (already_stopped); never twice" in set(held["reason"])


def test_failed_stop_is_recorded_and_not_retried(tmp_path: Path) -> None:
    def refuse(tid: str):
        raise ConflictError("HTTP 409 ModelArts.2878: try again later", status_code=409, error_code="ModelArts.2878")

    client = ScriptedClient(_running({"a": 0.9, "b": 0.1, "c": 0.5}), outcome=refuse)
    safety = Safety(protect_top=1, max_stops_per_cycle=1, max_stop_fraction=1.0, min_running=0)
    w = Watcher(client, "job", STOP_ALL, state_dir=tmp_path, execute=True, safety=safety)
    w.cycle()
    client.trials["b"] = ("RUNNING", [0.1, 0.1])
    w.cycle()
    w.close()
    assert client.calls == ["b", "c"]  # b failed once and was not tried again
    with Ledger(tmp_path) as ledger:
        failed = ledger.events(kind="failed")
    assert failed["error"].str.contains("ModelArts.2878").all() and set(failed["trial_id"]) == {"b", "c"}


def test_ledger_is_append_only_and_history_survives_restart(tmp_path: Path) -> None:
    client = ScriptedClient(_running({"a": 0.9, "b": 0.1}))
    w = Watcher(client, "job", STOP_ALL, state_dir=tmp_path)
    w.cycle()
    w.close()
    with Ledger(tmp_path) as ledger:
        assert len(ledger.history("job")) == 4
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            ledger._db.execute("DELETE FROM events")
        assert ledger._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    client.trials["a"] = ("RUNNING", [0.9, 0.9, 0.95])
    w = Watcher(client, "job", STOP_ALL, state_dir=tmp_path)
    assert w.cycle().new_reports == 1 and w.cycle_no == 2
    w.close()


def test_ledger_refuses_unknown_event_fields(tmp_path: Path) -> None:
    with Ledger(tmp_path) as ledger:
        with pytest.raises(ConfigurationError, match=r"unknown ledger fields: \['colour'\]"):
            ledger.record("job", "cycle", time=1.0, cycle=1, colour="red")
        assert not len(ledger.events("job"))


class ArrowClient(ScriptedClient):
    """The listing as the real client returns it: a typed Arrow table (``acc`` of the given type)."""

    def __init__(self, trials, acc_type) -> None:
        super().__init__(trials)
        self.acc_type = acc_type

    def fetch_trials(self, job_id: str) -> pa.Table:
        frame = super().fetch_trials(job_id)
        return pa.table({
            "trial_id": pa.array(frame["trial_id"].tolist()),
            "status": pa.array(frame["status"].tolist()),
            "training_iteration": pa.array(frame["training_iteration"].tolist(), pa.int64()),
            "acc": pa.array(frame["acc"].tolist(), self.acc_type),
        })


@pytest.mark.parametrize("client,type_name", [
    (lambda: ScriptedClient({"a": ("RUNNING", ["0.9", "0.8"]), "b": ("RUNNING", ["bad", "0.1"])}), "str"),
    (lambda: ArrowClient({"a": ("RUNNING", [True, True]), "b": ("RUNNING", [False, False])}, pa.bool_()), "bool"),
    (lambda: ArrowClient({"a": ("RUNNING", [[0.5, 0.1]]), "b": ("RUNNING", [[0.2]])}, pa.list_(pa.float64())),
     "list<item: double>"),
], ids=["text", "bool", "list"])
def test_a_metric_that_is_not_numeric_ends_the_watch_at_the_first_cycle(tmp_path: Path, client,
                                                                      type_name: str) -> None:
    scripted = client()
    with pytest.raises(ConfigurationError) as info:
        watch(scripted, "job", STOP_ALL, state_dir=tmp_path, execute=True, interval_s=0, sleep=lambda s: None,
              max_cycles=3)
    assert "metric column 'acc'" in str(info.value) and type_name in str(info.value)
    assert not scripted.calls
    with Ledger(tmp_path) as ledger:
        errors = ledger.events("job", "error")
        assert ledger.last_cycle("job") == 1 and ledger.events("job", "decision").empty
    assert len(errors) == 1 and "ConfigurationError: metric column 'acc'" in errors["error"].iloc[0]


def test_no_finite_value_yet_decides_nothing_and_says_why(tmp_path: Path, caplog) -> None:
    # cycle 1: the job has just started, every cell is empty; cycle 2: only NaN reported so far;
    # cycle 3: numbers -> the rule is asked
    trials = {"a": ("RUNNING", []), "b": ("RUNNING", []), "c": ("RUNNING", [])}
    for client in (ScriptedClient(trials), ArrowClient(trials, pa.float64())):
        state = tmp_path / type(client).__name__
        lines: list[dict] = []
        w = Watcher(client, "job", STOP_ALL, state_dir=state, safety=Safety(protect_top=0, min_running=0),
                    emit=lines.append)
        with caplog.at_level("INFO", logger="hpo_analytics.stopping"):
            first = w.cycle()
        client.trials = {t: ("RUNNING", [float("nan")]) for t in trials}
        second = w.cycle()
        client.trials = {t: ("RUNNING", [float("nan"), v]) for t, v in zip(trials, (0.9, 0.5, 0.1))}
        third = w.cycle()
        w.close()
        for report in (first, second):
            assert report.decisions.empty and report.skipped == "no finite value of 'acc' yet; nothing decided"
        assert not third.skipped and len(third.decisions) == 3 and third.decisions["stop"].all()
        with Ledger(state) as ledger:
            cycles = ledger.events("job", "cycle")["reason"].tolist()
        assert ["no finite value of 'acc' yet" in r for r in cycles] == [True, True, False]
        assert "no finite value of 'acc' yet; nothing decided" in caplog.text
        skipped = [x for x in lines if x["action"] == "skipped"]
        assert [x["cycle"] for x in skipped] == [1, 2] and all(x["trial_id"] is None for x in skipped)


def test_auto_grace_period_grows_with_the_longest_finished_curve(tmp_path: Path) -> None:
    rule = ThresholdRule(0.5, metric="acc", mode="max")  # grace period auto (the default)
    client = ScriptedClient({"z": ("TERMINATED", [0.9] * 4), "a": ("RUNNING", [0.1, 0.1]),
                             "b": ("RUNNING", [0.9, 0.9])})
    w = Watcher(client, "job", rule, state_dir=tmp_path, safety=Safety(protect_top=0, min_running=0))
    first = w.cycle().decisions.set_index("trial_id")
    # z finished after 4 steps -> grace ceil(0.5 * 4) = 2: a (step 2, best 0.1) is judged and stopped
    assert first.loc["a", "stop"] and "step 2 = ceil(0.5 x 4)" in first.loc["a", "reason"]
    # y finishes after 10 steps -> grace 5: a at step 3 is within it again
    client.trials.update({"y": ("TERMINATED", [0.9] * 10), "a": ("RUNNING", [0.1] * 3)})
    second = w.cycle().decisions.set_index("trial_id")
    w.close()
    assert not second.loc["a", "stop"]
    assert "step 3 is within the grace period (5 steps)" in second.loc["a", "reason"]
    assert "step 5 = ceil(0.5 x 10)" in second.loc["a", "reason"]


# ---------------------------------------------------------------------- subprocesses: kill -9, SIGTERM, CLI



def _watch_cmd(job: str, state: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hpo_analytics", "watch", job, "--metric", "acc", "--mode", "max",
            "--state-dir", str(state), *extra]


def _HeldStops() -> HeldRequests:
    """Every stop request held at the simulator's door (see tests/_fakes.py)."""
    return HeldRequests("autosearch-trial-earlystop")


def test_kill_9_mid_cycle_then_restart_no_double_stop_no_lost_history(tmp_path: Path) -> None:
    state = tmp_path / "state"
    args = ("--rule", "threshold", "--threshold", "0.99", "--grace-period", "2", "--poll", "0", "--execute",
            "--json", "--protect-top", "1", "--max-stops-per-cycle", "3", "--max-stop-fraction", "1",
            "--min-running", "0")
    with Simulator(seed=5, n_trials=10, n_iterations=6, max_concurrent=4, elapsed=0, auth="token",
                   time_per_request=5.0) as sim:
        job = sim.job_ids[0]
        held = _HeldStops()
        sim.faults = held
        proc = subprocess.Popen(_watch_cmd(job, state, *args), env=sim_env(sim), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        try:
            # the first stop request is held in flight: kill the watch then (or see it end without one)
            while not held.arrived.wait(0.1) and proc.poll() is None:
                pass
        finally:
            proc.kill()  # SIGKILL
            proc.communicate(timeout=10)  # waits, and closes the pipes
            sim.faults = Faults()
            held.release.set()  # the service answers the stop the killed watch sent, as a real one would
            for handler in held.handlers:
                handler.join(timeout=10)
        assert proc.returncode == -signal.SIGKILL
        rerun = subprocess.run(_watch_cmd(job, state, *args), env=sim_env(sim), capture_output=True, text=True,
                               timeout=60)
        assert rerun.returncode == 0, rerun.stderr
        posts = _stop_posts(sim)
        completed, status = sim.job(job).snapshot()
        ids = sim.job(job).trials.trial_ids
    assert posts and max(posts.values()) == 1, posts  # never two stop requests for one trial
    end = json.loads(rerun.stdout.strip().splitlines()[-1])
    # simulated time moves with each request: the phase read may come before or after the last trial ends
    assert end["event"] == "end" and end["ended"] in ("job Completed", "all trials done")
    with Ledger(state / job) as ledger:  # one directory per job under --state-dir
        states = ledger.stop_states(job)
        hist = ledger.history(job).groupby("trial_id").size()
        resolved = ledger.events(job)
    assert set(states) == set(posts) | {t for t, s in states.items() if s == "unresolved"}
    interrupted = resolved[resolved["reason"].fillna("").str.contains("interrupted")]
    assert len(interrupted) >= 1 and set(interrupted["kind"]) <= {"already_stopped", "unresolved"}
    for tid, n in zip(ids, completed):  # every report the service shows is in the history, none twice
        assert hist.get(tid, 0) == n


def test_cli_watch_sigterm_finishes_cycle_and_exits_cleanly(tmp_path: Path) -> None:
    # The simulated clock never moves here (no advance, no time per request): the job cannot end on its own.
    with Simulator(seed=1, n_trials=8, n_iterations=6, max_concurrent=4, elapsed=60, auth="token") as sim:
        proc = subprocess.Popen(_watch_cmd(sim.job_ids[0], tmp_path, "--poll", "0.05", "--min-samples", "1"),
                                env=sim_env(sim), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        seen: list[str] = []
        try:
            # the CLI flushes every line: read until the second cycle has started printing its decisions
            while not (seen and seen[-1].startswith("cycle 2 ")):
                line = proc.stdout.readline()
                if not line:
                    break
                seen.append(line)
        finally:
            proc.send_signal(signal.SIGTERM)
        rest = proc.stdout.read()  # not communicate(): it would skip what readline has buffered
        err = proc.stderr.read()
        proc.wait(timeout=20)
        proc.stdout.close()
        proc.stderr.close()
    assert proc.returncode == 0, err
    lines = ("".join(seen) + rest).strip().splitlines()
    assert lines[0].startswith(f"watching job {sim.job_ids[0]} with median(") and "dry run" in lines[0]
    assert any(" trial " in x and ": continue - " in x for x in lines)
    assert "watch ended (signal)" in lines[-1]
    with Ledger(tmp_path / sim.job_ids[0]) as ledger:
        assert ledger.events(kind="exit")["reason"].tolist() == ["signal"]


def test_cli_watch_configuration_errors_are_one_line(tmp_path: Path, monkeypatch, capsys) -> None:
    from hpo_analytics.cli import main

    clear_service_env(monkeypatch)
    # bad arguments: exit status 2, one line naming the CLI's own flags, nothing printed or written first
    assert main(["watch", "job", "--state-dir", str(tmp_path), "--rule", "threshold"]) == 2
    out = capsys.readouterr()
    assert out.err.strip() == "hpo-analytics watch: error: --rule threshold needs --threshold" and not out.out
    assert main(["watch", "job", "--state-dir", str(tmp_path), "--max-stop-fraction", "2"]) == 2
    err = capsys.readouterr().err
    assert "--max-stop-fraction" in err and "max_stop_fraction" not in err.replace("--max-stop-fraction", "")
    assert main(["watch", "job", "--state-dir", str(tmp_path), "--poll", "-1"]) == 2
    err = capsys.readouterr().err
    assert "--poll" in err and "interval_s" not in err
    assert main(["watch", "job", "--state-dir", str(tmp_path), "--once", "--max-cycles", "3"]) == 2
    assert "--once" in capsys.readouterr().err
    assert main(["watch", "job", "--state-dir", str(tmp_path), "--endpoint", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "HUAWEICLOUD_SDK_PROJECT_ID" in err[0]
    assert not any(tmp_path.iterdir())
