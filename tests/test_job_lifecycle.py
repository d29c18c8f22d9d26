"""Job lifecycle over real loopback HTTP: phases, the terminate action, expiring tokens (issue #15)."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest

from hpo_analytics.client import ModelArtsClient, RetryPolicy, TerminateResult
from hpo_analytics.errors import APIError, AuthenticationError, ConfigurationError, NotFoundError
from hpo_analytics.simulator import Faults, Simulator


def _client(sim: Simulator, **kw: object) -> ModelArtsClient:
    return ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=kw.pop("token", sim.token),
                           retry=RetryPolicy(max_attempts=3, sleep=lambda s: None), **kw)  # type: ignore[arg-type]


def test_job_phase_follows_the_trials_and_the_terminate_action() -> None:
    with Simulator(n_trials=8, elapsed=10.0, seed=3) as sim, _client(sim) as client:
        job = sim.job_ids[0]
        assert client.job_phase(job) == "Running"
        result = client.terminate_job(job)
        assert result == TerminateResult(job, "terminating", "Terminating")
        assert client.job_phase(job) == "Terminated"
        # time no longer moves for it: its unfinished trials keep their status, as on the service
        before = sim.job(job).snapshot()[1].tolist()
        sim.advance(10_000.0)
        assert sim.job(job).snapshot()[1].tolist() == before
        assert {"PENDING", "RUNNING"} & set(before)
        # a second terminate is refused (409); re-reading the phase settles it without an error
        assert client.terminate_job(job) == TerminateResult(job, "already_ended", "Terminated")
        posts = [r for r in sim.requests if r.method == "POST"]
        assert [r.status for r in posts] == [202, 409]


def test_finished_job_is_completed_and_ended_phases_are_served() -> None:
    with Simulator(n_trials=5, n_jobs=3, seed=1) as sim, _client(sim) as client:
        done, failed, gone = sim.job_ids
        assert client.job_phase(done) == "Completed"
        sim.end_job(failed, "Failed")
        assert client.job_phase(failed) == "Failed"
        sim.remove_job(gone)
        with pytest.raises(NotFoundError):
            client.job_phase(gone)
        assert gone not in {j["metadata"]["id"] for j in client.search_training_jobs()}
        with pytest.raises(ConfigurationError):
            sim.end_job(done, "Paused")


def test_terminate_with_a_lost_answer_rereads_the_phase_before_sending_again() -> None:
    # A 502 from the gateway: the phase is read again (still Running), and only then is it sent again.
    faults = Faults(server_error_next=1, server_error_status=502, path_contains="/actions")
    with Simulator(n_trials=6, elapsed=5.0, faults=faults) as sim, _client(sim) as client:
        job = sim.job_ids[0]
        assert client.terminate_job(job).outcome == "terminating"
        assert [(r.method, r.status) for r in sim.requests] == [("POST", 502), ("GET", 200), ("POST", 202)]
        assert client.job_phase(job) == "Terminated"


def test_unknown_action_and_bad_body_are_refused() -> None:
    with Simulator(n_trials=3, elapsed=1.0) as sim:
        url = f"{sim.url}/v2/{sim.project_id}/training-jobs/{sim.job_ids[0]}/actions"
        headers = {"X-Auth-Token": sim.token}
        bad = httpx.post(url, headers=headers, json={"action_type": "pause"})
        assert (bad.status_code, bad.json()["error_code"]) == (400, "ModelArts.2812")
        empty = httpx.post(url, headers=headers, content=b"[]")
        assert (empty.status_code, empty.json()["error_code"]) == (400, "ModelArts.2788")


def test_expired_token_is_read_again_once(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    with Simulator(n_trials=4, auth="token") as sim:
        token_file.write_text(sim.token + "\n")
        env = {"HUAWEICLOUD_SDK_PROJECT_ID": sim.project_id, "HPO_ANALYTICS_ENDPOINT": sim.url,
               "HPO_ANALYTICS_TOKEN_FILE": str(token_file)}
        with ModelArtsClient.from_env(environ=env) as client:
            job = sim.job_ids[0]
            assert client.job_phase(job) == "Completed"
            new = sim.expire_token()
            token_file.write_text(new)  # what the operator's renewal job does
            assert client.job_phase(job) == "Completed"
            statuses = [r.status for r in sim.requests]
            assert statuses[-2:] == [401, 200]
            # expired again and not renewed: one re-read, then the 401 stands (no loop of 401s)
            newer = sim.expire_token()
            sim.clear_requests()
            with pytest.raises(AuthenticationError) as info:
                client.job_phase(job)
            assert [r.status for r in sim.requests] == [401]
            for secret in (new, newer):
                assert secret not in str(info.value) and secret not in repr(client)


def test_token_refresh_never_shows_the_new_token(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with Simulator(n_trials=4, auth="token") as sim:
        current = {"token": sim.token}
        with _client(sim, token=sim.token, token_refresh=lambda: current["token"]) as client:
            current["token"] = sim.expire_token()
            assert client.job_phase(sim.job_ids[0]) == "Completed"
            assert [r.status for r in sim.requests] == [401, 200]
            sim.faults = Faults(error_next=1, error_status=400, error_code="ModelArts.2788")
            with pytest.raises(APIError) as info:
                client.job_phase(sim.job_ids[0])
            for text in (str(info.value), caplog.text, repr(client)):
                assert current["token"] not in text


def test_token_file_settings_are_checked(tmp_path: Path) -> None:
    base = {"HUAWEICLOUD_SDK_PROJECT_ID": "p" * 32, "HPO_ANALYTICS_ENDPOINT": "http://127.0.0.1:9"}
    with pytest.raises(ConfigurationError, match="HPO_ANALYTICS_TOKEN_FILE"):
        ModelArtsClient.from_env(environ={**base, "HPO_ANALYTICS_TOKEN_FILE": str(tmp_path / "missing")})
    (tmp_path / "empty").write_text("  \n")
    with pytest.raises(ConfigurationError, match="empty"):
        ModelArtsClient.from_env(environ={**base, "HPO_ANALYTICS_TOKEN_FILE": str(tmp_path / "empty")})
    (tmp_path / "t").write_text("MIIsecret-file-token")
    with pytest.raises(ConfigurationError, match="not both") as info:
        ModelArtsClient.from_env(environ={**base, "HPO_ANALYTICS_TOKEN_FILE": str(tmp_path / "t"),
                                          "HPO_ANALYTICS_TOKEN": "MIIother"})
    assert "MIIsecret" not in str(info.value)
    with pytest.raises(ConfigurationError, match="token_refresh"):
        ModelArtsClient(endpoint="http://127.0.0.1:9", project_id="p" * 32, ak="AK", sk="SKSK",
                        token_refresh=lambda: "x")
