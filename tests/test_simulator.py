"""The simulator over real loopback HTTP (plain httpx, not the library's client)."""

from __future__ import annotations

import concurrent.futures
import json
import pathlib
import threading
import time
from collections.abc import Iterator

import httpx
import pytest

from hpo_analytics.errors import ConfigurationError, StateError
from hpo_analytics.signing import AkSkAuth
from hpo_analytics.simulator import Faults, Simulator
from hpo_analytics.simulator.synthetic import ALL_TRIALS_HEADER, PER_TRIAL_HEADER

DATA = pathlib.Path(__file__).resolve().parent.parent / "data"


def _base(sim: Simulator) -> str:
    return f"{sim.url}/v2/{sim.project_id}"


@pytest.fixture
def http(simulator: Simulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=_base(simulator), headers={"X-Auth-Token": simulator.token}, timeout=10) as client:
        yield client


def _trials_path(sim: Simulator, job: int = 0) -> str:
    return f"/training-jobs/{sim.job_ids[job]}/autosearch-trials"


def _all_ids(client: httpx.Client, path: str, *, limit: int, mode: str) -> list[str]:
    ids: list[str] = []
    page = 0
    while True:
        offset = page * limit if mode == "records" else page
        body = client.get(path, params={"limit": limit, "offset": offset}).json()
        assert body["offset"] == offset and body["limit"] == limit
        rows = body["items"]["data"]
        if not rows:
            return ids
        ids += [r[4] for r in rows]
        page += 1


# ----------------------------------------------------------------- endpoints
def test_trials_page_shape(simulator: Simulator, http: httpx.Client) -> None:
    r = http.get(_trials_path(simulator), params={"limit": 50, "offset": 0})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    assert len(r.headers["x-request-id"]) == 32
    body = r.json()
    assert set(body) == {"total", "count", "limit", "offset", "group_by", "items"}
    assert (body["total"], body["count"], body["limit"], body["offset"], body["group_by"]) == (120, 50, 50, 0, "")
    assert body["items"]["header"] == list(ALL_TRIALS_HEADER)
    row = body["items"]["data"][0]
    assert row[0] == "0" and isinstance(row[3], dict) and row[7] == ""
    assert row[3]["trial_index"] == 0 and "param/learning_rate" in row[3]


def test_default_limit_is_50(simulator: Simulator, http: httpx.Client) -> None:
    body = http.get(_trials_path(simulator)).json()
    assert (body["limit"], body["offset"], body["count"]) == (50, 0, 50)


@pytest.mark.parametrize("simulator", [{"offset_mode": "records"}, {"offset_mode": "pages"}], indirect=True)
def test_both_offset_modes_list_every_trial_once(simulator: Simulator, http: httpx.Client) -> None:
    ids = _all_ids(http, _trials_path(simulator), limit=50, mode=simulator.offset_mode)
    assert len(ids) == len(set(ids)) == 120
    # the other reading of offset gives overlapping (records) or sparse (pages) results
    other = "pages" if simulator.offset_mode == "records" else "records"
    body = http.get(_trials_path(simulator), params={"limit": 50, "offset": 1}).json()
    first = body["items"]["data"][0][0]
    assert first == ("1" if simulator.offset_mode == "records" else "50"), other


@pytest.mark.parametrize("simulator", [{"offset_mode": "pages"}], indirect=True)
def test_pages_mode_past_the_end_is_empty(simulator: Simulator, http: httpx.Client) -> None:
    body = http.get(_trials_path(simulator), params={"limit": 50, "offset": 3}).json()
    assert body["count"] == 0 and body["items"]["data"] == [] and body["total"] == 120


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"offset": "-1"}, {"limit": "1001"}])
def test_bad_paging_parameters(simulator: Simulator, http: httpx.Client, params: dict[str, str]) -> None:
    r = http.get(_trials_path(simulator), params=params)
    assert r.status_code == 400
    assert r.json()["error_code"] == "ModelArts.2764"
    assert r.json()["request_id"] == r.headers["x-request-id"]


def test_per_trial_history(simulator: Simulator, http: httpx.Client) -> None:
    job = simulator.job()
    completed, status = job.snapshot()
    tid = job.trials.trial_ids[0]
    r = http.get(f"{_trials_path(simulator)}/{tid}")
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"header", "data"}
    assert body["header"] == list(PER_TRIAL_HEADER)
    assert len(body["data"]) == completed[0]
    assert [row[8] for row in body["data"]] == [str(k) for k in range(1, completed[0] + 1)]


def test_unknown_trial_and_job(simulator: Simulator, http: httpx.Client) -> None:
    r = http.get(f"{_trials_path(simulator)}/deadbeef0")
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.2762"
    r = http.post(f"/training-jobs/{simulator.job_ids[0]}/autosearch-trial-earlystop/deadbeef0")
    assert r.status_code == 404
    for path in (
        "/training-jobs/nope/autosearch-trials",
        "/training-jobs/nope/autosearch-trials/abc",
        "/training-jobs/nope",
        "/training-jobs/nope/autosearch-parameter-analysis",
    ):
        r = http.get(path)
        assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.2775", path
    r = http.post("/training-jobs/nope/autosearch-trial-earlystop/abc")
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.2775"


def test_unknown_route_and_wrong_project(simulator: Simulator, http: httpx.Client) -> None:
    r = http.get("/training-jobs")
    assert r.status_code == 404 and r.json()["error_code"] == "APIG.0101"
    r = http.delete(_trials_path(simulator))
    assert r.status_code == 404
    r = httpx.get(f"{simulator.url}/v2/{'0' * 32}/search-algorithms", headers={"X-Auth-Token": simulator.token})
    assert r.status_code == 404 and r.json()["error_code"] == "ModelArts.2786"


def test_search_algorithms_is_the_documented_catalogue(http: httpx.Client) -> None:
    r = http.get("/search-algorithms")
    assert r.status_code == 200
    assert r.json() == json.loads((DATA / "seed_search_algorithms.json").read_text())


def test_job_details(simulator: Simulator, http: httpx.Client) -> None:
    body = http.get(f"/training-jobs/{simulator.job_ids[0]}").json()
    assert body["kind"] == "autosearch_job"
    assert body["metadata"]["id"] == simulator.job_ids[0]
    assert body["status"]["phase"] == "Completed"
    auto = body["algorithm"]["policies"]["auto_search"]
    assert auto["reward_attrs"][0]["name"] == "acc" and auto["reward_attrs"][0]["mode"] == "max"
    names = {p["name"] for p in auto["search_params"]}
    assert {"learning_rate", "batch_size", "optimizer", "seed_offset"} <= names
    assert all(isinstance(p["lower_bound"], str) for p in auto["search_params"])


def test_parameter_analysis(simulator: Simulator, http: httpx.Client) -> None:
    body = http.get(f"/training-jobs/{simulator.job_ids[0]}/autosearch-parameter-analysis").json()
    assert body["header"] == ["parameters", "the mean/std of importance"]
    shares = {name: float(v.split("/")[0]) for name, v in body["data"]}
    assert shares["weight_decay"] == shares["seed_offset"] == 0.0
    assert shares["learning_rate"] == max(shares.values())


# ---------------------------------------------------------------- job search
@pytest.fixture
def many_jobs() -> Iterator[Simulator]:
    with Simulator(seed=2, n_trials=8, n_jobs=5, elapsed=0.0) as sim:
        sim.add_job(n_trials=3, name="finished-one")
        yield sim


def _search(sim: Simulator, body: object) -> httpx.Response:
    return httpx.post(f"{_base(sim)}/training-job-searches", json=body, headers={"X-Auth-Token": sim.token})


def test_job_search_paging_and_order(many_jobs: Simulator) -> None:
    seen = []
    for page in range(3):
        body = _search(many_jobs, {"offset": page, "limit": 2}).json()
        assert (body["total"], body["limit"], body["offset"]) == (6, 2, page)
        seen += [item["metadata"]["id"] for item in body["items"]]
    assert sorted(seen) == sorted(many_jobs.job_ids)
    assert seen[0] == many_jobs.job_ids[-1]  # newest first by default
    body = _search(many_jobs, {"order": "asc", "limit": 50}).json()
    assert [i["metadata"]["id"] for i in body["items"]] == many_jobs.job_ids
    assert body["items"][0]["kind"] == "autosearch_job"


def test_job_search_filters(many_jobs: Simulator) -> None:
    body = _search(many_jobs, {"filters": [{"key": "name", "operator": "like", "value": ["finished"]}]}).json()
    assert [i["metadata"]["name"] for i in body["items"]] == ["finished-one"]
    body = _search(many_jobs, {"limit": 50, "filters": [{"key": "phase", "operator": "in", "value": ["Running"]}]}).json()
    assert body["total"] == 5
    body = _search(many_jobs, {"filters": [{"key": "phase", "operator": "not", "value": ["running"]}]}).json()
    assert body["total"] == 1
    # the documented example sends empty filters: they do not filter
    seed_filters = [
        {"key": "name", "operator": "like", "value": ["autosearch"]},
        {"key": "create_time", "operator": "between", "value": ["", ""]},
        {"key": "phase", "operator": "in", "value": [""]},
        {"key": "algorithm_name", "operator": "like", "value": [""]},
        {"key": "kind", "operator": "in", "value": []},
        {"key": "user_id", "operator": "in", "value": [""]},
    ]
    assert _search(many_jobs, {"offset": 0, "limit": 1, "filters": seed_filters}).json()["total"] == 5
    created = many_jobs.job(many_jobs.job_ids[2]).create_time_ms
    body = _search(many_jobs, {"filters": [{"key": "create_time", "operator": "between", "value": [str(created), ""]}]}).json()
    assert body["total"] == 4


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"limit": 51}, "ModelArts.2788"),
        ({"limit": 0}, "ModelArts.2788"),
        ({"offset": -1}, "ModelArts.2788"),
        ({"filters": [{"key": "colour", "operator": "in", "value": ["x"]}]}, "ModelArts.2807"),
        ({"filters": [{"key": "phase", "operator": "like", "value": ["x"]}]}, "ModelArts.2808"),
    ],
)
def test_job_search_errors(many_jobs: Simulator, body: object, code: str) -> None:
    r = _search(many_jobs, body)
    assert r.status_code == 400 and r.json()["error_code"] == code


def test_job_search_rejects_non_json(many_jobs: Simulator) -> None:
    r = httpx.post(f"{_base(many_jobs)}/training-job-searches", content=b"{nope", headers={"X-Auth-Token": many_jobs.token})
    assert r.status_code == 400 and r.json()["error_code"] == "ModelArts.2788"


# ----------------------------------------------------- time and early stop
class _HourlyClock:
    """A clock that moves an hour every time it is read."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 3600.0
        return self.now


@pytest.mark.parametrize(
    "simulator", [{"elapsed": 100.0, "n_trials": 30, "max_concurrent": 3, "clock": _HourlyClock()}], indirect=True
)
def test_time_advances_only_when_told(simulator: Simulator, http: httpx.Client) -> None:
    def statuses() -> list[str]:
        return [r[9] for r in http.get(_trials_path(simulator), params={"limit": 100}).json()["items"]["data"]]

    before = statuses()
    assert before.count("RUNNING") == 3 and "PENDING" in before
    assert statuses() == before
    # an hour passed on the simulator's own clock between the two requests, none in the simulation
    first, second = simulator.requests
    assert second.time - first.time == 3600.0
    assert simulator.job().now == 100.0
    assert http.get(f"/training-jobs/{simulator.job_ids[0]}").json()["status"]["phase"] == "Running"
    simulator.advance(2_000.0)
    after = statuses()
    assert after.count("TERMINATED") + after.count("ERROR") > before.count("TERMINATED") + before.count("ERROR")
    simulator.run_to_completion()
    assert set(statuses()) <= {"TERMINATED", "ERROR"}
    assert http.get(f"/training-jobs/{simulator.job_ids[0]}").json()["status"]["phase"] == "Completed"


@pytest.mark.parametrize("simulator", [{"elapsed": 100.0, "n_trials": 30, "max_concurrent": 3}], indirect=True)
def test_early_stop_semantics(simulator: Simulator, http: httpx.Client) -> None:
    rows = http.get(_trials_path(simulator), params={"limit": 100}).json()["items"]["data"]
    running = next(r[4] for r in rows if r[9] == "RUNNING")
    pending = next(r[4] for r in rows if r[9] == "PENDING")
    stop = f"/training-jobs/{simulator.job_ids[0]}/autosearch-trial-earlystop"
    history = f"{_trials_path(simulator)}/{running}"
    n_before = len(http.get(history).json()["data"])

    r = http.post(f"{stop}/{running}")
    assert r.status_code == 200 and r.json() == {"earlystop_trial": running}
    assert r.headers["x-request-id"]
    r = http.post(f"{stop}/{pending}")
    assert r.status_code == 200 and r.json() == {"earlystop_trial": pending}

    simulator.advance(5_000.0)
    assert len(http.get(history).json()["data"]) == n_before
    rows = {r[4]: r for r in http.get(_trials_path(simulator), params={"limit": 100}).json()["items"]["data"]}
    assert rows[running][9] == "TERMINATED" and rows[running][1] == "True"
    assert rows[pending][9] == "TERMINATED" and rows[pending][5] == ""
    assert http.get(f"{_trials_path(simulator)}/{pending}").json()["data"] == []

    # stopping again, or stopping any finished trial, is a conflict
    r = http.post(f"{stop}/{running}")
    assert r.status_code == 409 and r.json()["error_code"] == "ModelArts.2796"
    assert "already finished" in r.json()["error_msg"]


def test_early_stop_of_a_finished_trial_is_409(simulator: Simulator, http: httpx.Client) -> None:
    job = simulator.job()
    _, status = job.snapshot()
    errored = [t for t, s in zip(job.trials.trial_ids, status) if s == "ERROR"]
    done = [t for t, s in zip(job.trials.trial_ids, status) if s == "TERMINATED"]
    for tid in done[:1] + errored[:1]:
        r = http.post(f"/training-jobs/{simulator.job_ids[0]}/autosearch-trial-earlystop/{tid}")
        assert r.status_code == 409 and r.json()["error_code"] == "ModelArts.2796"


@pytest.mark.parametrize("simulator", [{"elapsed": 0.0, "n_trials": 10, "time_per_request": 30.0}], indirect=True)
def test_time_per_request(simulator: Simulator, http: httpx.Client) -> None:
    for _ in range(3):
        http.get("/search-algorithms")
    assert simulator.job().now == pytest.approx(90.0)


# ---------------------------------------------------------------------- auth
def test_token_auth_rejects_wrong_or_missing_token(simulator: Simulator) -> None:
    url = f"{_base(simulator)}/search-algorithms"
    for headers in ({"X-Auth-Token": "wrong"}, {}):
        r = httpx.get(url, headers=headers)
        assert r.status_code == 401
        assert r.json()["error_code"] == "APIG.0301"
        assert simulator.token not in r.text


@pytest.mark.parametrize("simulator", [{"auth": "aksk"}], indirect=True)
def test_aksk_auth_accepts_valid_signatures(simulator: Simulator) -> None:
    auth = AkSkAuth(ak=simulator.ak, sk=simulator.sk)
    with httpx.Client(base_url=_base(simulator), auth=auth) as client:
        r = client.get(_trials_path(simulator), params={"limit": 7, "offset": 3})
        assert r.status_code == 200 and r.json()["count"] == 7
        r = client.post(
            "/training-job-searches",
            content=b'{"offset": 0, "limit": 1}',
            headers={"Content-Type": "application/json;charset=utf-8"},
        )
        assert r.status_code == 200
        tid = client.get(_trials_path(simulator)).json()["items"]["data"][0][4]
        r = client.post(f"/training-jobs/{simulator.job_ids[0]}/autosearch-trial-earlystop/{tid}")
        assert r.status_code == 409  # signed fine; the trial has finished


@pytest.mark.parametrize("simulator", [{"auth": "aksk"}], indirect=True)
def test_aksk_auth_rejects_bad_signatures(simulator: Simulator) -> None:
    url = f"{_base(simulator)}/search-algorithms"
    for auth in (AkSkAuth(ak=simulator.ak, sk="not-the-sk"), AkSkAuth(ak="OTHERAK", sk=simulator.sk)):
        r = httpx.get(url, auth=auth)
        assert r.status_code == 401 and r.json()["error_code"] == "APIG.0301"
        assert simulator.sk not in r.text
    # a token is not enough in aksk mode
    r = httpx.get(url, headers={"X-Auth-Token": simulator.token})
    assert r.status_code == 401
    # tampering with the signed query after signing
    request = httpx.Request("GET", f"{_base(simulator)}/training-jobs/{simulator.job_ids[0]}/autosearch-trials?limit=5")
    AkSkAuth(ak=simulator.ak, sk=simulator.sk).sync_auth_flow(request).__next__()
    tampered = httpx.Request("GET", str(request.url).replace("limit=5", "limit=6"), headers=request.headers)
    with httpx.Client() as client:
        assert client.send(tampered).status_code == 401
    r = httpx.get(url, headers={"Authorization": "SDK-HMAC-SHA256 garbage"})
    assert r.status_code == 401


@pytest.mark.parametrize("simulator", [{"auth": "token"}], indirect=True)
def test_token_mode_ignores_signatures(simulator: Simulator) -> None:
    r = httpx.get(f"{_base(simulator)}/search-algorithms", auth=AkSkAuth(ak=simulator.ak, sk=simulator.sk))
    assert r.status_code == 401


def test_any_mode_accepts_both(simulator: Simulator) -> None:
    url = f"{_base(simulator)}/search-algorithms"
    assert httpx.get(url, headers={"X-Auth-Token": simulator.token}).status_code == 200
    assert httpx.get(url, auth=AkSkAuth(ak=simulator.ak, sk=simulator.sk)).status_code == 200


@pytest.mark.parametrize("simulator", [{"auth": "aksk", "max_clock_skew": 900.0}], indirect=True)
def test_clock_skew_is_checked_when_asked(simulator: Simulator) -> None:
    from datetime import datetime, timedelta, timezone

    url = f"{_base(simulator)}/search-algorithms"
    fresh = AkSkAuth(ak=simulator.ak, sk=simulator.sk)
    stale = AkSkAuth(ak=simulator.ak, sk=simulator.sk, clock=lambda: datetime.now(timezone.utc) - timedelta(hours=1))
    assert httpx.get(url, auth=fresh).status_code == 200
    r = httpx.get(url, auth=stale)
    assert r.status_code == 401 and r.json()["error_code"] == "APIG.0303"


def test_repr_hides_secrets(simulator: Simulator) -> None:
    text = repr(simulator)
    assert simulator.url in text and simulator.project_id in text
    assert simulator.token not in text and simulator.sk not in text
    assert str(simulator) == text


# -------------------------------------------------------------------- faults
@pytest.mark.parametrize("code", ["ModelArts.2799", "APIG.0308"])
def test_rate_limit_with_retry_after(simulator: Simulator, http: httpx.Client, code: str) -> None:
    simulator.faults = Faults(rate_limit_next=2, rate_limit_code=code, retry_after=3)  # type: ignore[arg-type]
    for _ in range(2):
        r = http.get("/search-algorithms")
        assert r.status_code == 429
        assert r.headers["retry-after"] == "3"
        assert r.json()["error_code"] == code
    assert http.get("/search-algorithms").status_code == 200
    assert [rec.fault for rec in simulator.requests] == ["rate_limit", "rate_limit", None]
    assert simulator.faults.rate_limit_next == 0


def test_rate_limit_without_retry_after(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(rate_limit_next=1, retry_after=None)
    r = http.get("/search-algorithms")
    assert r.status_code == 429 and "retry-after" not in r.headers


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_error_burst(simulator: Simulator, http: httpx.Client, status: int) -> None:
    simulator.faults = Faults(server_error_next=3, server_error_status=status)
    codes = [http.get("/search-algorithms").status_code for _ in range(4)]
    assert codes == [status, status, status, 200]
    assert [r.status for r in simulator.requests] == codes


def test_latency_is_slept_before_the_answer() -> None:
    slept: list[float] = []
    asleep, wake = threading.Event(), threading.Event()

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        asleep.set()
        wake.wait(10)

    with Simulator(n_trials=10, faults=Faults(latency=0.2), sleep=sleep) as sim:
        url = f"{_base(sim)}/search-algorithms"
        headers = {"X-Auth-Token": sim.token}
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            pending = pool.submit(httpx.get, url, headers=headers, timeout=10)
            assert asleep.wait(10)
            # the handler is inside the sleep: nothing answered, nothing logged yet
            assert not pending.done() and sim.requests == []
            wake.set()
            assert pending.result().status_code == 200
        assert slept == [0.2]
        sim.faults = Faults()
        assert httpx.get(url, headers=headers).status_code == 200
        assert slept == [0.2]  # no latency, no sleep


def test_latency_is_real_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    with Simulator(n_trials=10, faults=Faults(latency=0.2)) as sim:
        assert httpx.get(f"{_base(sim)}/search-algorithms", headers={"X-Auth-Token": sim.token}).status_code == 200
    assert slept == [0.2]


def test_dropped_connection(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(drop_next=1)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/search-algorithms")
    assert http.get("/search-algorithms").status_code == 200
    first, second = simulator.requests
    assert (first.status, first.fault) == (None, "drop")
    assert second.status == 200


def test_truncated_body(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(truncate_next=1)
    r = http.get(_trials_path(simulator))
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(r.content)
    assert simulator.requests[-1].fault == "truncate"
    assert http.get(_trials_path(simulator)).json()["count"] == 50


def test_truncated_connection(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(truncate_next=1, truncate_mode="connection")
    with pytest.raises(httpx.RemoteProtocolError):
        http.get(_trials_path(simulator))
    assert http.get(_trials_path(simulator)).status_code == 200


def test_errors_are_not_truncated(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(truncate_next=1)
    assert http.get("/training-jobs/nope").json()["error_code"] == "ModelArts.2775"
    assert simulator.faults.truncate_next == 1


def test_trials_inserted_between_pages(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(insert_trials_per_page=2)
    totals = [http.get(_trials_path(simulator), params={"offset": o}).json()["total"] for o in (0, 50, 100)]
    assert totals == [120, 122, 124]
    assert simulator.job().total == 126
    new = simulator.job().trials.trial_ids[-1]
    rows = http.get(_trials_path(simulator), params={"offset": 120}).json()["items"]["data"]
    assert rows[-1][4] == new and rows[-1][9] in ("PENDING", "RUNNING")


def test_trials_inserted_at_the_start_shift_pages(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(insert_trials_per_page=1, insert_position="start")
    first = http.get(_trials_path(simulator), params={"limit": 10, "offset": 0}).json()["items"]["data"]
    second = http.get(_trials_path(simulator), params={"limit": 10, "offset": 10}).json()["items"]["data"]
    assert first[-1][4] == second[0][4]  # the last trial of page 1 is repeated


def test_faults_limited_to_a_path(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(server_error_next=1, path_contains="autosearch-trials")
    assert http.get("/search-algorithms").status_code == 200
    assert http.get(_trials_path(simulator)).status_code == 503
    assert http.get(_trials_path(simulator)).status_code == 200


def test_request_log(simulator: Simulator, http: httpx.Client) -> None:
    http.get(_trials_path(simulator), params={"limit": 5, "offset": 10})
    (rec,) = simulator.requests
    path = f"/v2/{simulator.project_id}{_trials_path(simulator)}"
    assert (rec.method, rec.path, rec.query, rec.status) == ("GET", path, {"limit": "5", "offset": "10"}, 200)
    simulator.clear_requests()
    assert simulator.requests == []


def test_concurrent_requests_behind_latency() -> None:
    """Latency sleeps per request thread, so concurrent requests overlap: all eight are asleep at once."""
    together = threading.Barrier(8)

    def sleep(seconds: float) -> None:
        together.wait(timeout=10)  # breaks (and the request fails) unless all eight sleep at the same time

    with Simulator(n_trials=120, faults=Faults(latency=0.2), sleep=sleep) as sim:
        url = f"{_base(sim)}{_trials_path(sim)}"
        with httpx.Client(headers={"X-Auth-Token": sim.token}) as client:
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                codes = list(pool.map(lambda o: client.get(url, params={"offset": o}).status_code, range(0, 120, 15)))
    assert codes == [200] * 8
    assert not together.broken


def test_add_job_and_insert_trials(simulator: Simulator, http: httpx.Client) -> None:
    job_id = simulator.add_job(n_trials=7, elapsed=0.0)
    assert simulator.job_ids[-1] == job_id
    body = http.get(f"/training-jobs/{job_id}/autosearch-trials").json()
    assert body["total"] == 7 and {r[9] for r in body["items"]["data"]} <= {"PENDING", "RUNNING"}
    ids = simulator.insert_trials(job_id, 3)
    body = http.get(f"/training-jobs/{job_id}/autosearch-trials").json()
    assert body["total"] == 10 and [r[4] for r in body["items"]["data"][-3:]] == ids


def test_close_is_idempotent_and_url_needs_a_running_server() -> None:
    sim = Simulator(n_trials=3)
    with pytest.raises(StateError):
        sim.url  # noqa: B018
    sim.start()
    url = sim.url
    assert httpx.get(f"{url}/v2/{sim.project_id}/search-algorithms", headers={"X-Auth-Token": sim.token}).status_code == 200
    sim.close()
    sim.close()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{url}/v2/{sim.project_id}/search-algorithms", timeout=1)


def test_other_error_status(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(error_next=1, error_status=403, error_code="ModelArts.2784")
    r = http.get("/search-algorithms")
    assert r.status_code == 403 and r.json()["error_code"] == "ModelArts.2784"
    assert r.json()["request_id"] == r.headers["x-request-id"]
    assert http.get("/search-algorithms").status_code == 200


@pytest.mark.parametrize("status", [200, 502])
def test_non_json_body(simulator: Simulator, http: httpx.Client, status: int) -> None:
    simulator.faults = Faults(non_json_next=1, non_json_status=status)
    r = http.get(_trials_path(simulator))
    assert r.status_code == status
    assert r.headers["content-type"] == "text/html" and r.headers["x-request-id"]
    assert r.text.startswith("<html>")
    assert http.get(_trials_path(simulator)).json()["count"] == 50


def test_empty_page_early(simulator: Simulator, http: httpx.Client) -> None:
    simulator.faults = Faults(empty_page_next=1)
    assert http.get("/search-algorithms").status_code == 200  # not a trials page: untouched
    body = http.get(_trials_path(simulator), params={"offset": 50}).json()
    assert body["count"] == 0 and body["items"]["data"] == [] and body["total"] == 120
    assert simulator.requests[-1].fault == "empty_page"
    assert http.get(_trials_path(simulator), params={"offset": 50}).json()["count"] == 50


@pytest.mark.parametrize(
    "simulator",
    [{"page_size_cap": 20}, {"page_size_cap": 20, "echo_capped_limit": True},
     {"page_size_cap": 20, "offset_mode": "pages"}],
    indirect=True,
)
def test_silent_page_size_cap(simulator: Simulator, http: httpx.Client) -> None:
    body = http.get(_trials_path(simulator), params={"limit": 50, "offset": 1}).json()
    assert body["count"] == 20
    assert body["limit"] == (20 if simulator.echo_capped_limit else 50)
    first = body["items"]["data"][0][0]
    assert first == ("20" if simulator.offset_mode == "pages" else "1")


@pytest.mark.parametrize(
    "options",
    [{"n_jobs": 0}, {"port": 70000}, {"port": -1}, {"elapsed": -5.0}, {"elapsed": float("nan")},
     {"n_trials": -1}, {"n_iterations": 0}, {"max_concurrent": 0}, {"offset_mode": "rows"}, {"auth": "none"}],
)
def test_bad_options_are_configuration_errors(options: dict[str, object]) -> None:
    with pytest.raises(ConfigurationError):
        Simulator(**options)  # type: ignore[arg-type]
