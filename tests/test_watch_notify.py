"""Notifications of the watch (webhook, command) and the ``ledger`` command (issue #15)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from hpo_analytics.errors import ConfigurationError, NotificationError
from hpo_analytics.simulator import Faults, Simulator
from hpo_analytics.client import ModelArtsClient
from hpo_analytics.stopping import (
    CommandSink,
    Ledger,
    Notifier,
    Safety,
    ThresholdRule,
    WebhookSink,
    read_ledger,
    watch_jobs,
)

from _service_env import sim_env

ROOT = Path(__file__).resolve().parents[1]
SECRET_PATH = "/hooks/T000/B000/s3cr3t-path"


# ---------------------------------------------------------------------- a loopback webhook receiver


@contextmanager
def receiver(statuses: list[int] | None = None) -> Iterator[tuple[str, list[dict]]]:
    """An HTTP server on loopback that records each JSON body; answers ``statuses`` in turn (then 204)."""
    got: list[dict] = []
    answers = list(statuses or [])

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = answers.pop(0) if answers else 204
            if status < 300:
                got.append(json.loads(body))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}{SECRET_PATH}", got
    finally:
        server.shutdown()
        server.server_close()


# ---------------------------------------------------------------------- sinks and the notifier


def test_webhook_retries_5xx_then_delivers_and_never_shows_its_path() -> None:
    seen: list[httpx.Request] = []
    answers = [503, 500, 200]

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(answers.pop(0))

    sleeps: list[float] = []
    sink = WebhookSink(f"https://hooks.example.com{SECRET_PATH}?token=abc", transport=httpx.MockTransport(handler),
                       sleep=sleeps.append)
    sink({"event": "trial_stopped", "job_id": "j", "trial_id": "t1"})
    assert len(seen) == 3 and sleeps == [0.5, 1.0]
    assert json.loads(seen[-1].content) == {"event": "trial_stopped", "job_id": "j", "trial_id": "t1"}
    assert "s3cr3t" not in repr(sink) and "abc" not in repr(sink)


def test_webhook_refusal_fails_at_once_with_a_typed_error() -> None:
    calls = []
    sink = WebhookSink(f"https://hooks.example.com{SECRET_PATH}",
                       transport=httpx.MockTransport(lambda r: calls.append(r) or httpx.Response(404)),
                       sleep=lambda s: None)
    with pytest.raises(NotificationError, match="HTTP 404") as info:
        sink({"event": "job_ended", "job_id": "j"})
    assert len(calls) == 1 and "s3cr3t" not in str(info.value)
    with pytest.raises(ConfigurationError):
        WebhookSink("ftp://example.com/x")


def test_command_gets_the_event_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "event.json"
    script = f"import sys, pathlib; pathlib.Path({str(out)!r}).write_text(sys.stdin.read())"
    CommandSink([sys.executable, "-c", script])({"event": "stop_failed", "job_id": "j", "trial_id": "t"})
    assert json.loads(out.read_text())["trial_id"] == "t"
    with pytest.raises(NotificationError, match="status 3"):
        CommandSink([sys.executable, "-c", "import sys; sys.exit(3)"])({"event": "x"})
    with pytest.raises(NotificationError, match="could not start"):
        CommandSink("/no/such/notify-program --flag")({"event": "x"})


def test_notifier_queues_filters_dry_run_and_reports_failures_per_job() -> None:
    got: list[dict] = []
    release = threading.Event()

    def slow(event: dict) -> None:
        release.wait(10)
        if event.get("trial_id") == "bad":
            raise NotificationError("receiver down")
        got.append(event)

    notifier = Notifier([slow])
    notifier({"event": "trial_stopped", "job_id": "a", "trial_id": "t"})  # returns at once: the sink is blocked
    notifier({"event": "would_stop", "job_id": "a", "trial_id": "u"})  # dry-run events are opt-in: dropped
    notifier({"event": "stop_failed", "job_id": "b", "trial_id": "bad"})
    assert got == []
    release.set()
    notifier.close()
    assert [e["trial_id"] for e in got] == ["t"]
    assert notifier.failures("a") == []
    (event, error), = notifier.failures("b")
    assert event["trial_id"] == "bad" and "receiver down" in str(error)
    with Notifier([got.append], dry_run=True) as opted:
        opted({"event": "would_stop", "job_id": "a", "trial_id": "u"})
    assert got[-1]["event"] == "would_stop"


# ---------------------------------------------------------------------- end to end, CLI as a subprocess



STOP_ARGS = ("--metric", "acc", "--mode", "max", "--rule", "threshold", "--threshold", "0.99", "--grace-period", "1",
             "--execute", "--once", "--min-running", "0", "--max-stop-fraction", "1", "--max-stops-per-cycle", "2",
             "--max-attempts", "2", "--json")


def test_failed_stops_reach_the_webhook_and_set_status_3(tmp_path: Path) -> None:
    faults = Faults(server_error_next=10**6, server_error_status=500, path_contains="autosearch-trial-earlystop")
    with receiver() as (url, got), Simulator(seed=5, n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0,
                                             auth="token", faults=faults) as sim:
        job = sim.job_ids[0]
        run = subprocess.run([sys.executable, "-m", "hpo_analytics", "watch", job, "--state-dir", str(tmp_path),
                              "--notify-webhook", url, *STOP_ARGS], env=sim_env(sim), capture_output=True, text=True,
                             timeout=120)
    assert run.returncode == 3, run.stderr
    failed = [e for e in got if e["event"] == "stop_failed"]
    end = json.loads(run.stdout.strip().splitlines()[-1])
    assert sorted(e["trial_id"] for e in failed) == sorted(end["failed"]) and len(failed) == 2
    for event in failed:
        assert event["job_id"] == job and "ServerError" in event["error"] and event["rule"].startswith("threshold")
        assert sim.token not in json.dumps(event)


def test_a_dead_webhook_is_recorded_and_changes_nothing_else(tmp_path: Path) -> None:
    with receiver(statuses=[500] * 100) as (url, got), \
            Simulator(seed=5, n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0, auth="token") as sim:
        job = sim.job_ids[0]
        run = subprocess.run([sys.executable, "-m", "hpo_analytics", "watch", job, "--state-dir", str(tmp_path),
                              "--notify-webhook", url, *STOP_ARGS], env=sim_env(sim), capture_output=True, text=True,
                             timeout=120)
        posts = [r.path for r in sim.requests if r.method == "POST"]
    assert run.returncode == 0, run.stderr
    assert got == [] and len(posts) == 2 and len(set(posts)) == 2  # each trial stopped once, whatever the webhook did
    events = read_ledger(tmp_path / job)
    undelivered = events[events["kind"] == "notify_failed"]
    assert sorted(undelivered["reason"]) == ["trial_stopped", "trial_stopped"]
    assert all("HTTP 500" in e and "s3cr3t" not in e for e in undelivered["error"])


# ---------------------------------------------------------------------- the ledger command


def test_ledger_command_reads_beside_a_writer(tmp_path: Path) -> None:
    with Simulator(seed=5, n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0, auth="token") as sim:
        job = sim.job_ids[0]
        run = subprocess.run([sys.executable, "-m", "hpo_analytics", "watch", job, "--state-dir", str(tmp_path),
                              *STOP_ARGS], env=sim_env(sim), capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    stopped = json.loads(run.stdout.strip().splitlines()[-1])["stopped"]
    # a watch holding a write transaction open: the reader neither waits nor fails (WAL, read-only)
    writer = sqlite3.connect(tmp_path / job / "watch.sqlite", isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("INSERT INTO events (time, job_id, kind) VALUES (0, 'x', 'uncommitted')")
    try:
        cmd = [sys.executable, "-m", "hpo_analytics", "ledger", job, "--state-dir", str(tmp_path)]
        as_json = subprocess.run([*cmd, "--json"], env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True,
                                 text=True, timeout=60)
        text = subprocess.run(cmd, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
                              timeout=60)
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert as_json.returncode == 0 and text.returncode == 0, as_json.stderr + text.stderr
    rows = json.loads(as_json.stdout)
    kinds = [r["kind"] for r in rows]
    assert "uncommitted" not in kinds and "cycle" not in kinds  # committed actions only, no per-cycle noise
    assert sorted(r["trial_id"] for r in rows if r["kind"] == "stopped") == sorted(stopped)
    assert {r["kind"] for r in rows} >= {"intent", "stopped", "decision", "exit"}
    assert all(r["reason"].startswith("stop:") for r in rows if r["kind"] == "decision")
    intent = next(r for r in rows if r["kind"] == "intent")
    assert intent["rule"].startswith("threshold") and intent["value"] is not None and intent["request"]
    assert text.stdout.splitlines()[0].split()[:4] == ["time", "(UTC)", "job", "cycle"]
    with Ledger(tmp_path / job) as ledger:
        assert len(read_ledger(tmp_path)) == len(ledger.events())  # the root reads every job's directory
    missing = subprocess.run([sys.executable, "-m", "hpo_analytics", "ledger", "--state-dir", str(tmp_path / "none")],
                             env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=60)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1


def test_a_loop_that_ends_on_an_error_says_so_and_records_undelivered_events(tmp_path: Path) -> None:
    from hpo_analytics.errors import AuthenticationError
    from hpo_analytics.stopping import MedianStoppingRule, watch

    class Expired:
        def job_phase(self, job_id: str) -> str:
            return "Running"

        def fetch_trials(self, job_id: str) -> None:
            raise AuthenticationError("HTTP 401 APIG.0301: token expires", status_code=401, error_code="APIG.0301")

    got: list[dict] = []

    def sink(event: dict) -> None:
        got.append(event)
        raise NotificationError("pager down")

    notifier = Notifier([sink])
    with pytest.raises(AuthenticationError):
        watch(Expired(), "job-1", MedianStoppingRule(), state_dir=tmp_path, notify=notifier, sleep=lambda s: None)
    notifier.close()
    assert [e["event"] for e in got] == ["watch_error"] and "token expires" in got[0]["error"]
    events = read_ledger(tmp_path)
    assert events["kind"].tolist() == ["error", "notify_failed"]
    assert events["reason"].iloc[-1] == "watch_error" and "pager down" in events["error"].iloc[-1]



def test_two_jobs_in_one_watch_each_record_their_own_undelivered_events(tmp_path: Path) -> None:
    # one notifier for the fleet; it cannot deliver job a's events and delivers job b's
    got: list[dict] = []

    def sink(event: dict) -> None:
        if event["job_id"] == a:
            raise NotificationError("receiver refused")
        got.append(event)

    with Simulator(seed=5, n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0, auth="token") as sim, \
            ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client, \
            Notifier([sink]) as notifier:
        a = sim.job_ids[0]
        b = sim.add_job(n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0)
        safety = Safety(min_running=0, max_stop_fraction=1.0, max_stops_per_cycle=2)
        result = watch_jobs(client, lambda: ThresholdRule(threshold=0.99, grace_period=1), state_root=tmp_path,
                            job_ids=[a, b], max_cycles=1, interval_s=0,
                            watcher_options={"execute": True, "notify": notifier, "safety": safety,
                                             "metric": "acc", "mode": "max"})
    assert result.ended == "max_cycles" and not result.failed
    assert len(result.jobs[a].stopped) == 2 and len(result.jobs[b].stopped) == 2
    assert sorted(e["trial_id"] for e in got if e["event"] == "trial_stopped") == result.jobs[b].stopped
    assert {e["job_id"] for e in got} == {b}
    failed_a = read_ledger(tmp_path / a).query("kind == 'notify_failed'")
    assert sorted(failed_a["trial_id"]) == result.jobs[a].stopped
    assert all("receiver refused" in e for e in failed_a["error"])
    assert read_ledger(tmp_path / b).query("kind == 'notify_failed'").empty


def test_the_cli_sends_every_job_s_events_to_one_webhook(tmp_path: Path) -> None:
    with receiver() as (url, got), Simulator(seed=5, n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0,
                                             auth="token") as sim:
        a = sim.job_ids[0]
        b = sim.add_job(n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0)
        run = subprocess.run([sys.executable, "-m", "hpo_analytics", "watch", a, b, "--state-dir", str(tmp_path),
                              "--notify-webhook", url, *STOP_ARGS], env=sim_env(sim), capture_output=True, text=True,
                             timeout=120)
    assert run.returncode == 0, run.stderr
    ends = [json.loads(x) for x in run.stdout.splitlines() if x.startswith("{")]
    stopped = {e["job_id"]: sorted(e["stopped"]) for e in ends if e.get("event") == "end"}
    assert set(stopped) == {a, b} and all(len(v) == 2 for v in stopped.values())
    for job in (a, b):
        assert sorted(e["trial_id"] for e in got if e["job_id"] == job and e["event"] == "trial_stopped") \
            == stopped[job]
