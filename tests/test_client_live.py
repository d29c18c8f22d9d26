"""The client against the simulator over real loopback HTTP.

Covers both ``offset`` meanings, inserted trials, every fault the simulator
injects, each error type it can produce, both auth modes, secret redaction
and ``from_env``.  Retry waits go through a recording ``sleep``: no test
waits for a backoff.
"""

from __future__ import annotations

import logging
import traceback
from typing import Any

import httpx
import pyarrow.compute as pc
import pytest

from _fakes import Clock
from hpo_analytics.client import ModelArtsClient, RetryPolicy
from hpo_analytics.errors import (
    AuthenticationError,
    BadRequestError,
    NotFoundError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from hpo_analytics.simulator import Faults, Simulator


def client_for(sim: Simulator, *, auth: str = "token", clock: Clock | None = None, **kw: Any) -> ModelArtsClient:
    clock = clock or Clock()
    kw.setdefault("retry", RetryPolicy(sleep=clock.sleep, clock=clock, random=lambda: 0.5))
    creds: dict[str, Any] = {"token": sim.token} if auth == "token" else {"ak": sim.ak, "sk": sim.sk}
    return ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, **creds, **kw)


def listed_ids(sim: Simulator, job_id: str | None = None) -> list[str]:
    job = sim.job(job_id)
    return [job.trials.trial_ids[i] for i in job.order]


def trial_requests(sim: Simulator) -> list[Any]:
    return [r for r in sim.requests if r.path.endswith("/autosearch-trials")]


# ----------------------------------------------------------------------------- paging and auth


@pytest.mark.parametrize(
    "simulator",
    [
        {"offset_mode": "records", "auth": "token", "n_trials": 237},
        {"offset_mode": "pages", "auth": "token", "n_trials": 237},
        {"offset_mode": "records", "auth": "aksk", "n_trials": 237},
        {"offset_mode": "pages", "auth": "aksk", "n_trials": 237},
    ],
    indirect=True,
    ids=["records-token", "pages-token", "records-aksk", "pages-aksk"],
)
def test_fetch_trials_every_trial_once(simulator: Simulator) -> None:
    with client_for(simulator, auth=simulator.auth) as client:
        table = client.fetch_trials(simulator.job_ids[0], page_size=50)
    ids = table.column("trial_id").to_pylist()
    assert sorted(ids) == sorted(listed_ids(simulator)) and len(ids) == 237
    meta = table.schema.metadata
    assert meta[b"hpo_analytics.metric"] == b"acc" and meta[b"hpo_analytics.mode"] == b"max"
    # 5 pages, plus the probe under the records meaning
    assert len(trial_requests(simulator)) == (6 if simulator.offset_mode == "records" else 5)
    assert all(r.status == 200 for r in simulator.requests)


@pytest.mark.parametrize("simulator", [{"offset_mode": "records"}, {"offset_mode": "pages"}], indirect=True)
@pytest.mark.parametrize("page_size", [1, 7, 120, 1000])
def test_page_sizes(simulator: Simulator, page_size: int) -> None:
    with client_for(simulator) as client:
        pages = list(client.iter_trial_pages(simulator.job_ids[0], page_size=page_size))
    ids = [row[4] for page in pages for row in page["items"]["data"]]
    assert sorted(ids) == sorted(listed_ids(simulator))


@pytest.mark.parametrize("simulator", [{"offset_mode": "records"}, {"offset_mode": "pages"}], indirect=True)
@pytest.mark.parametrize("position", ["end", "start"])
def test_trials_inserted_between_pages(simulator: Simulator, position: str) -> None:
    original = set(listed_ids(simulator))
    simulator.faults = Faults(insert_trials_per_page=3, insert_position=position)
    with client_for(simulator) as client:
        pages = list(client.iter_trial_pages(simulator.job_ids[0], page_size=20))
    ids = [row[4] for page in pages for row in page["items"]["data"]]
    assert len(ids) == len(set(ids))  # each at most once
    assert original <= set(ids)  # none of the trials there from the start is lost
    assert len(ids) > len(original)  # the inserted ones are picked up too
    assert len(trial_requests(simulator)) < 60  # and it stops, though trials keep coming


@pytest.mark.parametrize("simulator", [{"offset_mode": "records"}, {"offset_mode": "pages"}], indirect=True)
def test_trials_inserted_once_are_all_found(simulator: Simulator) -> None:
    simulator.faults = Faults(insert_trials_per_page=5, insert_position="start")
    with client_for(simulator) as client:
        it = client.iter_trial_pages(simulator.job_ids[0], page_size=30)
        pages = [next(it)]
        simulator.faults = Faults()  # one insertion, after the first page
        pages += list(it)
    ids = [row[4] for page in pages for row in page["items"]["data"]]
    assert sorted(ids) == sorted(listed_ids(simulator))


def test_progressing_job_and_early_stop() -> None:
    with Simulator(seed=3, n_trials=40, elapsed=300.0, max_concurrent=4) as sim, client_for(sim) as client:
        job_id = sim.job_ids[0]
        before = client.fetch_trials(job_id)
        statuses = set(before.column("status").to_pylist())
        assert "PENDING" in statuses and "RUNNING" in statuses
        running = before.filter(pc.equal(before["status"], "RUNNING"))["trial_id"][0].as_py()
        result = client.early_stop(job_id, running)
        assert result.outcome == "stopped"
        again = client.early_stop(job_id, running)  # 409 from the service: the trial has finished
        assert again.outcome == "already_finished"
        assert [r.status for r in sim.requests if r.method == "POST"] == [200, 409]
        after = client.fetch_trials(job_id)
        row = after.filter(pc.equal(after["trial_id"], running))
        assert row["status"].to_pylist() == ["TERMINATED"]
        sim.advance(100_000)
        assert set(client.fetch_trials(job_id).column("status").to_pylist()) <= {"TERMINATED", "ERROR"}


def test_early_stop_of_errored_trial() -> None:
    with Simulator(seed=1, n_trials=60, error_rate=0.3) as sim, client_for(sim) as client:
        table = client.fetch_trials(sim.job_ids[0])
        errored = table.filter(pc.equal(table["status"], "ERROR"))["trial_id"][0].as_py()
        result = client.early_stop(sim.job_ids[0], errored)
    assert (result.outcome, result.status) == ("already_finished", "ERROR")


# ----------------------------------------------------------------------------- faults


@pytest.mark.parametrize("code", ["ModelArts.2799", "APIG.0308"])
def test_rate_limit_with_retry_after(simulator: Simulator, code: str) -> None:
    simulator.faults = Faults(rate_limit_next=3, rate_limit_code=code, retry_after=2.0)
    clock = Clock()
    with client_for(simulator, clock=clock, max_concurrency=1) as client:
        table = client.fetch_trials(simulator.job_ids[0])
    assert table.num_rows == 120
    assert clock.sleeps.count(2.0) == 3  # Retry-After (2 s) beat the backoff each time
    assert sum(1 for r in simulator.requests if r.status == 429) == 3


def test_rate_limit_gives_up_with_typed_error(simulator: Simulator) -> None:
    simulator.faults = Faults(rate_limit_next=10, retry_after=None)
    clock = Clock()
    with client_for(simulator, clock=clock, retry=RetryPolicy(max_attempts=3, sleep=clock.sleep, clock=clock)) as client:
        with pytest.raises(RateLimitedError) as info:
            client.search_algorithms()
    assert info.value.status_code == 429 and info.value.error_code == "ModelArts.2799"
    assert info.value.request_id  # from X-Request-Id
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_burst(simulator: Simulator, status: int) -> None:
    simulator.faults = Faults(server_error_next=4, server_error_status=status)
    clock = Clock()
    with client_for(simulator, clock=clock) as client:
        table = client.fetch_trials(simulator.job_ids[0])
    assert table.num_rows == 120
    assert sum(1 for r in simulator.requests if r.status == status) == 4
    assert len(clock.sleeps) == 4


def test_server_errors_exhaust_attempts(simulator: Simulator) -> None:
    simulator.faults = Faults(server_error_next=50, server_error_status=502)
    clock = Clock()
    with client_for(simulator, clock=clock) as client:
        with pytest.raises(ServerError) as info:
            client.get_training_job(simulator.job_ids[0])
    assert info.value.status_code == 502 and info.value.request_id
    assert len(simulator.requests) == 5  # the default max_attempts


def test_latency(simulator: Simulator) -> None:
    simulator.faults = Faults(latency=0.02)
    with client_for(simulator, max_concurrency=4) as client:
        assert client.fetch_trials(simulator.job_ids[0]).num_rows == 120


def test_read_timeout_is_retried_then_raised(simulator: Simulator) -> None:
    simulator.faults = Faults(latency=0.5)
    clock = Clock()
    policy = RetryPolicy(max_attempts=2, sleep=clock.sleep, clock=clock)
    with client_for(simulator, clock=clock, retry=policy, timeout=0.1) as client:
        with pytest.raises(RequestTimeoutError):
            client.search_algorithms()
    assert len(clock.sleeps) == 1


def test_dropped_connections(simulator: Simulator) -> None:
    simulator.faults = Faults(drop_next=3)
    clock = Clock()
    with client_for(simulator, clock=clock) as client:
        assert client.fetch_trials(simulator.job_ids[0]).num_rows == 120
    assert sum(1 for r in simulator.requests if r.status is None) == 3
    assert len(clock.sleeps) == 3


@pytest.mark.parametrize("mode", ["body", "connection"])
def test_truncated_bodies_are_retried(simulator: Simulator, mode: str) -> None:
    simulator.faults = Faults(truncate_next=2, truncate_mode=mode)
    clock = Clock()
    with client_for(simulator, clock=clock, max_concurrency=1) as client:
        table = client.fetch_trials(simulator.job_ids[0])
    assert table.num_rows == 120
    assert len(clock.sleeps) == 2


@pytest.mark.parametrize(("mode", "cls"), [("body", ResponseFormatError), ("connection", TransportError)])
def test_truncated_body_without_retry_says_so(simulator: Simulator, mode: str, cls: type) -> None:
    simulator.faults = Faults(truncate_next=1, truncate_mode=mode)
    with client_for(simulator, retry=RetryPolicy.never()) as client:
        with pytest.raises(cls) as info:
            client.search_algorithms()
    if mode == "body":
        assert "not valid JSON" in str(info.value)
    else:
        assert type(info.value) is TransportError  # an incomplete read, not a parse failure


def test_early_stop_dropped_before_processing_is_resent() -> None:
    with Simulator(seed=3, n_trials=20, elapsed=200.0) as sim, client_for(sim) as client:
        table = client.fetch_trials(sim.job_ids[0])
        running = table.filter(pc.equal(table["status"], "RUNNING"))["trial_id"][0].as_py()
        sim.faults = Faults(drop_next=1, path_contains="earlystop")
        result = client.early_stop(sim.job_ids[0], running)
        posts = [r.status for r in sim.requests if r.method == "POST"]
    assert result.outcome == "stopped"
    assert posts == [None, 200]  # re-read showed it still running, so the POST was sent again


def test_early_stop_truncated_answer_is_not_resent() -> None:
    with Simulator(seed=3, n_trials=20, elapsed=200.0) as sim, client_for(sim) as client:
        table = client.fetch_trials(sim.job_ids[0])
        running = table.filter(pc.equal(table["status"], "RUNNING"))["trial_id"][0].as_py()
        sim.faults = Faults(truncate_next=1, path_contains="earlystop")
        result = client.early_stop(sim.job_ids[0], running)
        posts = [r.status for r in sim.requests if r.method == "POST"]
    assert result.outcome == "already_finished" and posts == [200]


def test_early_stop_server_error_rereads_then_resends() -> None:
    with Simulator(seed=3, n_trials=20, elapsed=200.0) as sim, client_for(sim) as client:
        table = client.fetch_trials(sim.job_ids[0])
        pending = table.filter(pc.equal(table["status"], "PENDING"))["trial_id"][0].as_py()
        sim.faults = Faults(server_error_next=1, server_error_status=503, path_contains="earlystop")
        result = client.early_stop(sim.job_ids[0], pending)
        posts = [r.status for r in sim.requests if r.method == "POST"]
    assert result.outcome == "stopped" and posts == [503, 200]


# ----------------------------------------------------------------------------- errors


def test_unknown_job_is_not_found_from_400(simulator: Simulator) -> None:
    with client_for(simulator) as client:
        with pytest.raises(NotFoundError) as info:
            client.fetch_trials("00000000-0000-4000-8000-000000000000")
    err = info.value
    assert (err.status_code, err.error_code) == (400, "ModelArts.2775")
    assert err.error_msg and err.request_id
    assert len(simulator.requests) == 1  # the first trials page; no retry, no details call


def test_unknown_trial_is_not_found(simulator: Simulator) -> None:
    with client_for(simulator) as client:
        with pytest.raises(NotFoundError) as info:
            client.fetch_trial_history(simulator.job_ids[0], "ffffffff")
        with pytest.raises(NotFoundError):
            client.early_stop(simulator.job_ids[0], "ffffffff")
    assert info.value.status_code == 404


def test_wrong_project_is_not_found(simulator: Simulator) -> None:
    with ModelArtsClient(endpoint=simulator.url, project_id="f" * 32, token=simulator.token) as client:
        with pytest.raises(NotFoundError) as info:
            client.search_algorithms()
    assert info.value.error_code == "ModelArts.2786"


def test_bad_request(simulator: Simulator) -> None:
    with client_for(simulator) as client:
        with pytest.raises(BadRequestError) as info:
            list(client.iter_trial_pages(simulator.job_ids[0], page_size=5000))
        with pytest.raises(BadRequestError):
            client.search_training_jobs(filters=[{"key": "colour", "operator": "in", "value": ["red"]}])
    assert info.value.error_code == "ModelArts.2764"


@pytest.mark.parametrize("simulator", [{"auth": "token"}, {"auth": "aksk"}], indirect=True)
def test_wrong_credentials_are_not_retried(simulator: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    bad_token = "MIIwrong-" + "x" * 30
    bad_sk = "wrong-secret-key-" + "y" * 20
    if simulator.auth == "token":
        client = ModelArtsClient(endpoint=simulator.url, project_id=simulator.project_id, token=bad_token)
    else:
        client = ModelArtsClient(endpoint=simulator.url, project_id=simulator.project_id,
                                 ak=simulator.ak, sk=bad_sk, security_token="sts-" + "z" * 30)
    with client:
        with pytest.raises(AuthenticationError) as info:
            client.fetch_trials(simulator.job_ids[0])
    assert info.value.status_code == 401 and info.value.error_code == "APIG.0301"
    assert len(simulator.requests) == 1  # one rejected request: no retry, no details call after it
    text = "\n".join([str(info.value), repr(info.value), repr(client), caplog.text,
                      "".join(traceback.format_exception(info.type, info.value, info.tb))])
    for secret in (bad_token, bad_sk, "sts-" + "z" * 30, simulator.token, simulator.sk):
        assert secret not in text


@pytest.mark.parametrize("simulator", [{"auth": "aksk", "max_clock_skew": 60.0}], indirect=True)
def test_aksk_signing_accepted_with_clock_check(simulator: Simulator) -> None:
    with client_for(simulator, auth="aksk") as client:
        algos = client.search_algorithms()
        jobs = client.search_training_jobs(filters=[{"key": "kind", "operator": "in", "value": ["autosearch_job"]}])
    assert algos["search_algo_count"] == 3
    assert [j["metadata"]["id"] for j in jobs] == simulator.job_ids


# ----------------------------------------------------------------------------- other endpoints


def test_search_training_jobs_pages_through_all() -> None:
    with Simulator(seed=2, n_trials=8, n_jobs=23) as sim, client_for(sim, auth="aksk") as client:
        jobs = client.search_training_jobs(page_size=5, order="asc")
        named = client.search_training_jobs(filters=[{"key": "name", "operator": "like", "value": ["sim-1"]}])
    ids = [j["metadata"]["id"] for j in jobs]
    assert sorted(ids) == sorted(sim.job_ids) and len(ids) == 23
    assert {j["metadata"]["name"] for j in named} == {f"autosearch-sim-{k}" for k in range(10, 20)}


def test_curves_history_catalogue_and_analysis(simulator: Simulator) -> None:
    from hpo_analytics import algorithms_to_pandas

    job_id = simulator.job_ids[0]
    with client_for(simulator, auth="aksk", max_concurrency=4) as client:
        trial = listed_ids(simulator)[5]
        history = client.fetch_trial_history(job_id, trial)
        curves = client.fetch_curves(job_id)
        catalogue = algorithms_to_pandas(client.search_algorithms())
        analysis = client.parameter_analysis(job_id)
    assert history.column("trial_id").unique().to_pylist() == [trial]
    assert history.num_rows == len(simulator.job().history_rows(trial))
    expected = sum(len(simulator.job().history_rows(t)) for t in listed_ids(simulator))
    assert curves.num_rows == expected
    assert curves.schema.metadata[b"hpo_analytics.metric"] == b"acc"
    assert len(catalogue) >= 3
    assert analysis.column_names == ["parameter", "importance_mean", "importance_std"]
    assert analysis.num_rows > 0 and analysis["importance_mean"].null_count == 0


def test_from_env_against_the_simulator(simulator: Simulator, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HPO_ANALYTICS_TOKEN", "HPO_ANALYTICS_REGION", "HUAWEICLOUD_SDK_SECURITY_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HUAWEICLOUD_SDK_AK", simulator.ak)
    monkeypatch.setenv("HUAWEICLOUD_SDK_SK", simulator.sk)
    monkeypatch.setenv("HUAWEICLOUD_SDK_PROJECT_ID", simulator.project_id)
    monkeypatch.setenv("HPO_ANALYTICS_ENDPOINT", simulator.url)
    with ModelArtsClient.from_env() as client:
        assert client.fetch_trials(simulator.job_ids[0]).num_rows == 120
        assert simulator.sk not in repr(client)
    monkeypatch.delenv("HUAWEICLOUD_SDK_AK")
    monkeypatch.delenv("HUAWEICLOUD_SDK_SK")
    monkeypatch.setenv("HPO_ANALYTICS_TOKEN", simulator.token)
    with ModelArtsClient.from_env() as client:
        assert client.search_algorithms()["search_algo_count"] == 3


def test_client_owned_pool_reuses_connections(simulator: Simulator) -> None:
    """A shared transport is left open when the client closes."""
    transport = httpx.HTTPTransport()
    try:
        with ModelArtsClient(endpoint=simulator.url, project_id=simulator.project_id, token=simulator.token,
                             transport=transport) as client:
            client.search_algorithms()
        with httpx.Client(transport=transport) as other:  # still usable
            response = other.get(f"{simulator.url}/v2/{simulator.project_id}/search-algorithms",
                                 headers={"X-Auth-Token": simulator.token})
        assert response.status_code == 200
    finally:
        transport.close()


# ----------------------------------------------------------------------------- later simulator faults


@pytest.mark.parametrize("simulator", [{"offset_mode": "records"}, {"offset_mode": "pages"}], indirect=True)
def test_pages_emptied_early_are_read_again(simulator: Simulator) -> None:
    simulator.faults = Faults(empty_page_next=2)  # page 0 and the next one come back empty
    with client_for(simulator, max_concurrency=1) as client:
        table = client.fetch_trials(simulator.job_ids[0], page_size=25)
    assert sorted(table.column("trial_id").to_pylist()) == sorted(listed_ids(simulator))
    assert len(trial_requests(simulator)) <= 9  # 5 pages (+probe), plus the two re-reads


@pytest.mark.parametrize("simulator", [{"offset_mode": "records"}, {"offset_mode": "pages"}], indirect=True)
def test_empty_pages_forever_terminate(simulator: Simulator, caplog: pytest.LogCaptureFixture) -> None:
    simulator.faults = Faults(empty_page_next=10_000)
    with client_for(simulator) as client:
        table = client.fetch_trials(simulator.job_ids[0])
    assert table.num_rows == 0
    assert len(trial_requests(simulator)) <= 4
    assert "stayed empty" in caplog.text


@pytest.mark.parametrize(
    "simulator",
    [
        {"offset_mode": "records", "page_size_cap": 20},
        {"offset_mode": "pages", "page_size_cap": 20},
        {"offset_mode": "records", "page_size_cap": 20, "echo_capped_limit": True},
        {"offset_mode": "pages", "page_size_cap": 20, "echo_capped_limit": True},
    ],
    indirect=True,
)
def test_silently_capped_page_size(simulator: Simulator) -> None:
    with client_for(simulator) as client:
        table = client.fetch_trials(simulator.job_ids[0], page_size=50)
    assert sorted(table.column("trial_id").to_pylist()) == sorted(listed_ids(simulator))
    assert len(trial_requests(simulator)) <= 7  # 6 pages of 20, plus the probe


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (403, "ModelArts.2784", "PermissionDeniedError"),
        (409, "ModelArts.2878", "ConflictError"),
        (401, "APIGW.0301", "AuthenticationError"),
        (400, "APIGW.0308", "RateLimitedError"),
    ],
)
def test_injected_error_statuses(simulator: Simulator, status: int, code: str, cls: str) -> None:
    import hpo_analytics.errors as errors

    simulator.faults = Faults(error_next=1, error_status=status, error_code=code)
    clock = Clock()
    with client_for(simulator, clock=clock) as client:
        if cls == "RateLimitedError":  # throttling is retried whatever the status
            assert client.search_algorithms()["search_algo_count"] == 3
            assert len(clock.sleeps) == 1
            return
        with pytest.raises(getattr(errors, cls)) as info:
            client.search_algorithms()
    assert (info.value.status_code, info.value.error_code) == (status, code)
    assert info.value.request_id and clock.sleeps == []


@pytest.mark.parametrize("status", [200, 502])
def test_html_bodies(simulator: Simulator, status: int) -> None:
    simulator.faults = Faults(non_json_next=1, non_json_status=status)
    with client_for(simulator, retry=RetryPolicy.never()) as client:
        with pytest.raises(ResponseFormatError if status == 200 else ServerError) as info:
            client.search_algorithms()
    assert "Bad Gateway" in str(info.value)
    simulator.faults = Faults(non_json_next=2, non_json_status=status)
    clock = Clock()
    with client_for(simulator, clock=clock) as client:
        assert client.search_algorithms()["search_algo_count"] == 3
    assert len(clock.sleeps) == 2
