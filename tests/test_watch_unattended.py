"""``hpo-analytics watch`` as an operator runs it: a subprocess against the simulator, judged by its exit status.

Each test starts the CLI in its own process (as cron or systemd would) and
changes the simulated service under it: the job ends, stop requests fail, the
job does not exist, the token expires.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from hpo_analytics.simulator import Faults, Simulator
from hpo_analytics.stopping import Ledger

ROOT = Path(__file__).resolve().parents[1]

EXIT_OK, EXIT_USAGE, EXIT_STOPS_FAILED, EXIT_AUTH, EXIT_NOT_FOUND = 0, 2, 3, 4, 5


def _env(sim: Simulator, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HPO_ANALYTICS_", "HUAWEICLOUD_SDK_"))}
    env.update(HPO_ANALYTICS_ENDPOINT=sim.url, HUAWEICLOUD_SDK_PROJECT_ID=sim.project_id, PYTHONPATH=str(ROOT))
    if "HPO_ANALYTICS_TOKEN_FILE" not in extra:
        env["HPO_ANALYTICS_TOKEN"] = sim.token
    env.update(extra)
    return env


def _cmd(job: str, state: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hpo_analytics", "watch", job, "--metric", "acc", "--mode", "max",
            "--state-dir", str(state), "--json", *extra]


def _lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.strip().splitlines() if line.startswith("{")]


def _follow(proc: subprocess.Popen) -> Iterator[dict]:
    """The JSON lines of a running watch, as they come."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("{"):
            yield json.loads(line)


def test_a_job_that_ends_ends_the_watch_with_status_0(tmp_path: Path) -> None:
    # The simulated clock stands still: only the job's end (terminated, two trials still PENDING) can end the watch.
    events = tmp_path / "events.jsonl"
    append = f"import sys; open({str(events)!r}, 'a').write(sys.stdin.read() + '\\n')"
    notify = ("--notify-command", f"{sys.executable} -c \"{append}\"")
    with Simulator(seed=2, n_trials=10, max_concurrent=2, elapsed=30.0, auth="token") as sim:
        job = sim.job_ids[0]
        proc = subprocess.Popen(_cmd(job, tmp_path / "state", "--poll", "0.05", *notify), env=_env(sim),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines = _follow(proc)
            first = next(lines)
            assert first["cycle"] == 1
            sim.end_job(job)  # Terminated, as the service does, with trials left PENDING and RUNNING
            rest = list(lines)
        finally:
            proc.kill() if proc.poll() is None else None
            proc.wait(timeout=30)
            err = proc.stderr.read() if proc.stderr else ""
            proc.stdout.close()
            proc.stderr.close()
        statuses = sim.job(job).snapshot()[1].tolist()
    assert proc.returncode == EXIT_OK, err
    assert statuses.count("PENDING") >= 2
    end = rest[-1]
    assert end["event"] == "end" and end["ended"] == "job Terminated"
    ended_lines = [x for x in rest if x.get("action") == "job_ended"]
    assert len(ended_lines) == 1 and "still listed unfinished" in ended_lines[0]["reason"]
    with Ledger(tmp_path / "state" / job) as ledger:
        recorded = ledger.events(job)
    cycles = recorded[recorded["kind"] == "cycle"]["cycle"].tolist()
    ended_at = int(recorded[recorded["kind"] == "job_ended"]["cycle"].iloc[0])
    assert ended_at - first["cycle"] <= 2 and cycles[-1] == ended_at  # over within two cycles, none after
    told = [json.loads(line) for line in events.read_text().splitlines() if line.strip()]
    assert [e["event"] for e in told] == ["job_ended"] and told[0]["phase"] == "Terminated"


def test_stops_that_fail_every_time_give_status_3_and_are_never_resent(tmp_path: Path) -> None:
    faults = Faults(server_error_next=10**6, server_error_status=500, path_contains="autosearch-trial-earlystop")
    with Simulator(seed=5, n_trials=12, n_iterations=6, max_concurrent=6, elapsed=40.0, auth="token",
                   faults=faults) as sim:
        job = sim.job_ids[0]
        args = ("--rule", "threshold", "--threshold", "0.99", "--grace-period", "1", "--execute", "--once",
                "--min-running", "0", "--max-stop-fraction", "1", "--max-stops-per-cycle", "2", "--max-attempts", "2")
        run = subprocess.run(_cmd(job, tmp_path, *args), env=_env(sim), capture_output=True, text=True,
                             timeout=120)
        posts = [r for r in sim.requests if r.method == "POST"]
        again = subprocess.run(_cmd(job, tmp_path, *args), env=_env(sim), capture_output=True, text=True,
                               timeout=120)
        posts_after = [r for r in sim.requests if r.method == "POST"]
    assert run.returncode == EXIT_STOPS_FAILED, run.stderr
    end = _lines(run.stdout)[-1]
    assert len(end["failed"]) == 2 and end["cycles"] == 1
    # each stop was sent at most --max-attempts times, the trial read again between (a 500 may hide a stop)
    stop_posts = [r.path for r in posts]
    assert {r.status for r in posts} == {500} and len(stop_posts) == 4 and len(set(stop_posts)) == 2
    # a second run sends nothing for those trials; its own summary reports only its own failures
    again_end = _lines(again.stdout)[-1]
    assert not set(again_end["failed"]) & set(end["failed"])
    resent = {r.path for r in posts_after[len(posts):]} & {r.path for r in posts}
    assert not resent


def test_a_job_that_does_not_exist_gives_status_5_and_leaves_no_state(tmp_path: Path) -> None:
    with Simulator(n_trials=3, auth="token") as sim:
        run = subprocess.run(_cmd("no-such-job", tmp_path / "state", "--once"), env=_env(sim),
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == EXIT_NOT_FOUND, run.stderr
    assert "ModelArts.2775" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not run.stdout.strip()  # no banner, no summary
    assert not (tmp_path / "state").exists()


def test_bad_credentials_give_status_4(tmp_path: Path) -> None:
    with Simulator(n_trials=3, auth="token") as sim:
        run = subprocess.run(_cmd(sim.job_ids[0], tmp_path, "--once"), env=_env(sim, HPO_ANALYTICS_TOKEN="MIIwrong"),
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == EXIT_AUTH, run.stderr
    assert "MIIwrong" not in run.stderr + run.stdout


def test_bad_arguments_give_status_2_before_anything(tmp_path: Path) -> None:
    with Simulator(n_trials=3, auth="token") as sim:
        run = subprocess.run(_cmd(sim.job_ids[0], tmp_path, "--poll", "-5"), env=_env(sim), capture_output=True,
                             text=True, timeout=60)
        assert not sim.requests
    assert run.returncode == EXIT_USAGE and "--poll" in run.stderr and not run.stdout
    assert not any(tmp_path.iterdir())


def test_once_runs_exactly_one_cycle_and_each_summary_covers_its_own_run(tmp_path: Path) -> None:
    with Simulator(seed=7, n_trials=16, n_iterations=8, max_concurrent=8, elapsed=30.0, auth="token") as sim:
        job = sim.job_ids[0]
        args = ("--rule", "threshold", "--threshold", "0.99", "--grace-period", "1", "--execute", "--once",
                "--min-running", "0", "--max-stop-fraction", "1", "--max-stops-per-cycle", "2")
        first = subprocess.run(_cmd(job, tmp_path, *args), env=_env(sim), capture_output=True, text=True, timeout=60)
        sim.advance(10.0)
        second = subprocess.run(_cmd(job, tmp_path, *args), env=_env(sim), capture_output=True, text=True,
                                timeout=60)
    assert first.returncode == EXIT_OK and second.returncode == EXIT_OK, first.stderr + second.stderr
    a, b = _lines(first.stdout)[-1], _lines(second.stdout)[-1]
    assert a["cycles"] == 1 and b["cycles"] == 1 and a["ended"] == b["ended"] == "max_cycles"
    assert len(a["stopped"]) == 2 and len(b["stopped"]) == 2 and not set(a["stopped"]) & set(b["stopped"])
    with Ledger(tmp_path / job) as ledger:
        assert len(ledger.events(job, "cycle")) == 2  # the ledger keeps both runs
        assert set(ledger.stop_states(job)) == set(a["stopped"]) | set(b["stopped"])


@pytest.mark.parametrize("renewed", [True, False])
def test_an_expired_token_is_read_again_from_its_file(tmp_path: Path, renewed: bool) -> None:
    token_file = tmp_path / "token"
    with Simulator(seed=1, n_trials=8, max_concurrent=4, elapsed=20.0, auth="token") as sim:
        token_file.write_text(sim.token)
        job = sim.job_ids[0]
        env = _env(sim, HPO_ANALYTICS_TOKEN_FILE=str(token_file))
        proc = subprocess.Popen(_cmd(job, tmp_path / "state", "--poll", "0.05", "--max-cycles", "4"), env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            lines = _follow(proc)
            next(lines)
            new = sim.expire_token()
            if renewed:
                token_file.write_text(new + "\n")
            rest = list(lines)
        finally:
            proc.kill() if proc.poll() is None else None
            proc.wait(timeout=30)
            err = proc.stderr.read() if proc.stderr else ""
            proc.stdout.close()
            proc.stderr.close()
    if renewed:
        assert proc.returncode == EXIT_OK, err
        assert rest[-1]["ended"] == "max_cycles" and rest[-1]["cycles"] == 4
    else:
        assert proc.returncode == EXIT_AUTH, err
        assert "token expires" in err and new not in err


def test_stop_and_terminate_claims_reach_the_disk_before_their_request(tmp_path: Path) -> None:
    # a claim is the row that keeps a request from being sent twice: its transaction runs with
    # synchronous=FULL (the WAL is fsynced at commit); other writes are committed with NORMAL
    with Ledger(tmp_path) as ledger:
        statements: list[str] = []
        ledger._db.set_trace_callback(statements.append)
        assert ledger.claim_stop("job", "t1", 1.0) and not ledger.claim_stop("job", "t1", 2.0)
        assert ledger.claim_terminate("job", 3.0)
        ledger.record("job", "cycle", time=4.0, cycle=1, reason="x")
        ledger._db.set_trace_callback(None)
        assert ledger._db.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL again
    claims = [i for i, s in enumerate(statements) if s.startswith("INSERT OR IGNORE")]
    assert len(claims) == 3
    for i in claims:
        before = [s for s in statements[:i] if s.startswith("PRAGMA synchronous")][-1]
        after = next(s for s in statements[i:] if s.startswith("PRAGMA synchronous"))
        commit = next(j for j in range(i, len(statements)) if statements[j] == "COMMIT")
        assert before == "PRAGMA synchronous=FULL" and after == "PRAGMA synchronous=NORMAL"
        assert commit < statements.index(after, i)
    plain = statements.index(next(s for s in statements if s.startswith("INSERT INTO events")))
    assert [s for s in statements[:plain] if s.startswith("PRAGMA")][-1] == "PRAGMA synchronous=NORMAL"
