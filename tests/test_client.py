"""Narrow unit tests of the client over httpx.MockTransport: options, retries, errors, paging, early stop.

No test sleeps: the retry policy gets a recording ``sleep`` and a fake ``clock``.
"""

from __future__ import annotations

import json
import re
import logging
import threading
import traceback
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from _fakes import Clock
from hpo_analytics.client import EarlyStopResult, ModelArtsClient, RetryPolicy, endpoint_for_region, parse_retry_after
from hpo_analytics.client._paging import FetchedPage, iter_pages
from hpo_analytics.errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConfigurationError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
)

P = "0123456789abcdef0123456789abcdef"
J = "e346206c-6fde-4c33-9dcd-55be17858ceb"
TOKEN = "MIItoken-SECRET-value-1234567890"
SK = "sk-SECRET-abcdefghijklmnopqrstuvwxyz"
STS = "sts-SECRET-security-token-0987654321"
SECRETS = (TOKEN, SK, STS)
HEADER = ["", "trial_id", "status", "done", "training_iteration", "config", "acc"]


def policy(clock: Clock, **kw: Any) -> RetryPolicy:
    return RetryPolicy(sleep=clock.sleep, clock=clock, random=lambda: 0.5, **kw)


def trial_row(i: int, *, status: str = "TERMINATED") -> list[Any]:
    return [str(i), f"t{i:05d}", status, "True" if status == "TERMINATED" else "False", "3",
            {"lr": 0.1 * (i % 7), "trial_index": i, "param/lr": 0.1 * (i % 7)}, str(0.5 + i / 1e5)]


class FakeService:
    """The trials endpoints, in-process: both offset meanings, a page-size cap, inserted trials."""

    def __init__(self, n: int, *, mode: str = "records", cap: int = 1000) -> None:
        self.rows = [trial_row(i) for i in range(n)]
        self.mode = mode
        self.cap = cap
        self.requests: list[httpx.Request] = []
        self.lock = threading.Lock()
        self.insert_per_page = 0
        self.insert_at = "end"
        self.empty_once: set[int] = set()
        self.in_flight = 0
        self.max_in_flight = 0
        self.on_request: Callable[[httpx.Request], httpx.Response | None] | None = None
        self.job: dict[str, Any] = {
            "kind": "autosearch_job",
            "algorithm": {"policies": {"auto_search": {"reward_attrs": [{"name": "acc", "mode": "MAX", "regex": ""}]}}},
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.requests.append(request)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self.on_request is not None:
                response = self.on_request(request)
                if response is not None:
                    return response
            return self.route(request)
        finally:
            with self.lock:
                self.in_flight -= 1

    def route(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/autosearch-trials"):
            return self.trials(request)
        if path == f"/v2/{P}/training-jobs/{J}":
            return httpx.Response(200, json=self.job)
        if "/autosearch-trials/" in path:
            trial_id = path.rsplit("/", 1)[1]
            rows = [r for r in self.rows if r[1] == trial_id]
            header = [h for h in HEADER if h not in ("", "status")]
            data = [[c for h, c in zip(HEADER, r) if h not in ("", "status")] for r in rows]
            return httpx.Response(200, json={"header": header, "data": data})
        return httpx.Response(404, json={"error_code": "APIG.0101", "error_msg": "no such API"})

    def trials(self, request: httpx.Request) -> httpx.Response:
        limit = int(request.url.params.get("limit", "50"))
        offset = int(request.url.params.get("offset", "0"))
        with self.lock:
            size = min(limit, self.cap)
            start = offset if self.mode == "records" else offset * size
            data = [] if offset in self.empty_once else self.rows[start:start + size]
            self.empty_once.discard(offset)
            total = len(self.rows)
            for _ in range(self.insert_per_page):
                i = len(self.rows)
                if self.insert_at == "end":
                    self.rows.append(trial_row(i, status="PENDING"))
                else:
                    self.rows.insert(0, trial_row(i, status="PENDING"))
        body = {"total": total, "count": len(data), "limit": limit, "offset": offset, "group_by": "",
                "items": {"header": HEADER, "data": data}}
        return httpx.Response(200, json=body)

    def trial_requests(self) -> list[httpx.Request]:
        return [r for r in self.requests if r.url.path.endswith("/autosearch-trials")]


def make_client(handler: Callable[[httpx.Request], httpx.Response], *, clock: Clock | None = None,
                auth: str = "token", **kw: Any) -> ModelArtsClient:
    clock = clock or Clock()
    creds: dict[str, Any] = {"token": TOKEN} if auth == "token" else {"ak": "AKEXAMPLE", "sk": SK, "security_token": STS}
    kw.setdefault("retry", policy(clock))
    return ModelArtsClient(endpoint="https://modelarts.example.com", project_id=P,
                           transport=httpx.MockTransport(handler), **creds, **kw)


def ids_of(pages: list[dict[str, Any]]) -> list[str]:
    out = []
    for page in pages:
        header = page["items"]["header"]
        out.extend(row[header.index("trial_id")] for row in page["items"]["data"])
    return out


# ----------------------------------------------------------------------------- construction


def test_endpoint_from_region() -> None:
    assert endpoint_for_region("cn-north-4") == "https://modelarts.cn-north-4.myhuaweicloud.com"
    assert endpoint_for_region("ap-southeast-1") == "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
    assert endpoint_for_region("ap-southeast-3") == "https://modelarts.ap-southeast-3.myhuaweicloud.com"
    with pytest.raises(ConfigurationError):
        endpoint_for_region("cn north")
    client = ModelArtsClient(region="ap-southeast-1", project_id=P, token=TOKEN)
    assert client.endpoint == "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
    client.close()


@pytest.mark.parametrize(
    ("endpoint", "ok"),
    [
        ("http://127.0.0.1:8080", True),
        ("http://127.5.0.1", True),
        ("http://localhost:9", True),
        ("http://[::1]:9", True),
        ("http://modelarts.example.com", False),
        ("http://10.0.0.1:80", False),
        ("https://modelarts.example.com/", True),
        ("ftp://x", False),
        ("https://user:pw@host", False),
    ],
)
def test_plain_http_refused_unless_loopback(endpoint: str, ok: bool) -> None:
    if ok:
        ModelArtsClient(endpoint=endpoint, project_id=P, token=TOKEN).close()
    else:
        with pytest.raises(ConfigurationError):
            ModelArtsClient(endpoint=endpoint, project_id=P, token=TOKEN)


def test_plain_http_opt_in() -> None:
    client = ModelArtsClient(endpoint="http://modelarts.example.com", project_id=P, token=TOKEN,
                             allow_insecure_http=True)
    assert client.endpoint == "http://modelarts.example.com"
    client.close()


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"token": TOKEN, "ak": "A", "sk": SK}, "not both"),
        ({"ak": "A"}, "without sk"),
        ({"sk": SK}, "without ak"),
        ({}, "no credentials"),
        ({"token": TOKEN, "security_token": STS}, "security_token"),
        ({"token": TOKEN, "max_concurrency": 0}, "max_concurrency"),
        ({"token": TOKEN, "retry": 3}, "RetryPolicy"),
    ],
)
def test_bad_options(kw: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        ModelArtsClient(endpoint="https://x.example.com", project_id=P, **kw)
    for secret in SECRETS:
        assert secret not in str(info.value)


def test_needs_endpoint_or_region_and_project() -> None:
    with pytest.raises(ConfigurationError, match="endpoint= or region="):
        ModelArtsClient(project_id=P, token=TOKEN)
    with pytest.raises(ConfigurationError, match="project_id"):
        ModelArtsClient(region="cn-north-4", project_id="", token=TOKEN)


def _env(**kw: str) -> dict[str, str]:
    base = {"HUAWEICLOUD_SDK_PROJECT_ID": P, "HPO_ANALYTICS_REGION": "cn-north-4",
            "HUAWEICLOUD_SDK_AK": "AKEXAMPLE", "HUAWEICLOUD_SDK_SK": SK}
    base.update(kw)
    return {k: v for k, v in base.items() if v != "<unset>"}


def test_from_env_aksk_region() -> None:
    with ModelArtsClient.from_env(environ=_env(HUAWEICLOUD_SDK_SECURITY_TOKEN=STS)) as client:
        assert client.endpoint == "https://modelarts.cn-north-4.myhuaweicloud.com"
        assert client.project_id == P
        assert "aksk" in repr(client)


def test_from_env_token_endpoint_and_options() -> None:
    env = _env(HUAWEICLOUD_SDK_AK="<unset>", HUAWEICLOUD_SDK_SK="<unset>", HPO_ANALYTICS_TOKEN=TOKEN,
               HPO_ANALYTICS_REGION="<unset>", HPO_ANALYTICS_ENDPOINT="http://127.0.0.1:1234")
    with ModelArtsClient.from_env(environ=env, max_concurrency=3) as client:
        assert client.endpoint == "http://127.0.0.1:1234"
        assert client.max_concurrency == 3
        assert "token" in repr(client)


def test_from_env_sdk_region_endpoint_override() -> None:
    env = _env(HUAWEICLOUD_SDK_REGION_MODELARTS_CN_NORTH_4="https://a.example.com,https://b.example.com")
    with ModelArtsClient.from_env(environ=env) as client:
        assert client.endpoint == "https://a.example.com"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"HUAWEICLOUD_SDK_PROJECT_ID": "<unset>"}, "HUAWEICLOUD_SDK_PROJECT_ID"),
        ({"HUAWEICLOUD_SDK_PROJECT_ID": "  "}, "HUAWEICLOUD_SDK_PROJECT_ID"),
        ({"HPO_ANALYTICS_REGION": "<unset>"}, "HPO_ANALYTICS_REGION"),
        ({"HUAWEICLOUD_SDK_SK": "<unset>"}, "HUAWEICLOUD_SDK_SK"),
        ({"HUAWEICLOUD_SDK_AK": "<unset>"}, "HUAWEICLOUD_SDK_AK"),
        ({"HUAWEICLOUD_SDK_AK": "<unset>", "HUAWEICLOUD_SDK_SK": "<unset>"}, "HPO_ANALYTICS_TOKEN"),
        ({"HPO_ANALYTICS_TOKEN": TOKEN}, "not both"),
    ],
)
def test_from_env_missing_setting_names_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigurationError, match=variable) as info:
        ModelArtsClient.from_env(environ=_env(**env))
    for secret in SECRETS:
        assert secret not in str(info.value)


def test_from_env_reads_os_environ(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in _env().items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("HPO_ANALYTICS_ENDPOINT", raising=False)
    monkeypatch.delenv("HPO_ANALYTICS_TOKEN", raising=False)
    with ModelArtsClient.from_env() as client:
        assert client.project_id == P


class CountingTransport(httpx.MockTransport):
    def __init__(self, handler: Callable[[httpx.Request], httpx.Response]) -> None:
        super().__init__(handler)
        self.closed = 0

    def close(self) -> None:
        self.closed += 1


def test_context_manager_closes_only_what_it_created() -> None:
    transport = CountingTransport(FakeService(3))
    with ModelArtsClient(endpoint="https://x.example.com", project_id=P, token=TOKEN, transport=transport) as client:
        assert len(list(client.iter_trial_pages(J))) == 1
    assert transport.closed == 0
    with pytest.raises(Exception, match="closed"):
        client.get_training_job(J)
    client.close()  # idempotent


def test_logger_has_no_handlers() -> None:
    log = logging.getLogger("hpo_analytics.client")
    assert log.handlers == []


# ----------------------------------------------------------------------------- retry policy


def test_retry_policy_backoff_and_retry_after() -> None:
    clock = Clock()
    p = RetryPolicy(initial_backoff=1.0, multiplier=2.0, max_backoff=5.0, jitter=0.5, max_attempts=6,
                    sleep=clock.sleep, clock=clock, random=lambda: 1.0)
    assert [p.backoff(n) for n in range(1, 6)] == [0.5, 1.0, 2.0, 2.5, 2.5]
    full = RetryPolicy(initial_backoff=1.0, jitter=0.5, random=lambda: 0.0)
    assert full.backoff(3) == 4.0
    assert p.delay(1, retry_after=7.0, started=0.0) == 7.0
    assert p.delay(1, retry_after=0.1, started=0.0) == 0.5
    assert p.delay(6, retry_after=None, started=0.0) is None  # attempts used up
    assert p.delay(1, retry_after=61.0, started=0.0) is None  # longer than max_retry_after


def test_retry_policy_deadline() -> None:
    clock = Clock()
    p = RetryPolicy(deadline=10.0, initial_backoff=4.0, jitter=0.0, sleep=clock.sleep, clock=clock)
    assert p.delay(1, retry_after=None, started=0.0) == 4.0
    clock.now = 7.0
    assert p.delay(2, retry_after=None, started=0.0) is None


@pytest.mark.parametrize(
    "kw", [{"max_attempts": 0}, {"jitter": 1.5}, {"multiplier": 0.5}, {"initial_backoff": -1}, {"deadline": -1}]
)
def test_retry_policy_validates(kw: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        RetryPolicy(**kw)


def test_retry_policy_is_a_frozen_value() -> None:
    p = RetryPolicy()
    with pytest.raises(AttributeError):
        p.max_attempts = 3  # type: ignore[misc]
    assert RetryPolicy() == RetryPolicy(sleep=lambda s: None)
    assert RetryPolicy.never().max_attempts == 1


def test_parse_retry_after() -> None:
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("-4") == 0.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", date_header="Wed, 21 Oct 2015 07:28:00 GMT") == 30.0


# ----------------------------------------------------------------------------- retries over the transport


def scripted(responses: list[Any], then: Callable[[httpx.Request], httpx.Response]) -> Callable:
    """A handler answering with ``responses`` in turn (exceptions are raised), then ``then``."""
    queue = list(responses)

    def handler(request: httpx.Request) -> httpx.Response:
        if queue:
            item = queue.pop(0)
            if isinstance(item, Exception):
                raise item
            return item
        return then(request)

    return handler


def ok_job(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"kind": "autosearch_job"})


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_get_retried_on_retryable_status(status: int) -> None:
    clock = Clock()
    service = FakeService(0)
    service.on_request = scripted([httpx.Response(status, json={"error_code": "X", "error_msg": "busy"})] * 2,
                                  lambda r: None)
    with make_client(service, clock=clock) as client:
        assert client.get_training_job(J)["kind"] == "autosearch_job"
    assert len(service.requests) == 3
    assert clock.sleeps == [0.375, 0.75]  # 0.5 * 2**n * (1 - jitter 0.5 * random() 0.5)


def test_retry_after_is_honoured() -> None:
    clock = Clock()
    handler = scripted([httpx.Response(429, headers={"Retry-After": "7"},
                                       json={"error_code": "APIG.0308", "error_msg": "throttled"})], ok_job)
    with make_client(handler, clock=clock) as client:
        client.get_training_job(J)
    assert clock.sleeps == [7.0]


def test_retry_after_on_503_is_honoured() -> None:
    clock = Clock()
    handler = scripted([httpx.Response(503, headers={"Retry-After": "4"}, json={"error_code": "E"})], ok_job)
    with make_client(handler, clock=clock) as client:
        client.get_training_job(J)
    assert clock.sleeps == [4.0]


def test_redirect_is_an_error_not_followed() -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(302, headers={"Location": "https://elsewhere.example.com/"})

    with make_client(handler) as client:
        with pytest.raises(APIError) as info:
            client.get_training_job(J)
    assert info.value.status_code == 302 and len(calls) == 1


def test_gives_up_after_max_attempts_with_typed_error() -> None:
    clock = Clock()
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(503, headers={"X-Request-Id": "req-9"},
                              json={"error_code": "ModelArts.0001", "error_msg": "down"})

    with make_client(handler, clock=clock, retry=policy(clock, max_attempts=3)) as client:
        with pytest.raises(ServerError) as info:
            client.get_training_job(J)
    assert len(calls) == 3 and len(clock.sleeps) == 2
    err = info.value
    assert (err.status_code, err.error_code, err.error_msg, err.request_id) == (503, "ModelArts.0001", "down", "req-9")


@pytest.mark.parametrize(
    ("status", "body", "cls"),
    [
        (401, {"error_code": "APIG.0301", "error_msg": "verify aksk signature fail"}, AuthenticationError),
        (401, {"error_code": "APIGW.0301", "error_msg": "token expires"}, AuthenticationError),
        (403, {"error_code": "ModelArts.2784", "error_msg": "InvalidToken"}, PermissionDeniedError),
        (404, {"error_code": "ModelArts.2786", "error_msg": "project mismatch"}, NotFoundError),
        (400, {"error_code": "ModelArts.2775", "error_msg": "TrainingJobNotFound"}, NotFoundError),
        (400, {"error_code": "ModelArts.2764", "error_msg": "QueryParamsError"}, BadRequestError),
        (409, {"error_code": "ModelArts.2796", "error_msg": "NotAllowedToTerminate"}, ConflictError),
    ],
)
def test_non_retryable_errors_are_typed_and_sent_once(status: int, body: dict, cls: type) -> None:
    calls = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, json=body, headers={"X-Request-Id": "rid-1"})

    clock = Clock()
    with make_client(handler, clock=clock) as client:
        with pytest.raises(cls) as info:
            client.get_training_job(J)
    assert len(calls) == 1 and clock.sleeps == []
    assert info.value.status_code == status
    assert info.value.error_code == body["error_code"]
    assert info.value.error_msg == body["error_msg"]
    assert info.value.request_id == "rid-1"
    assert body["error_code"] in str(info.value)


@pytest.mark.parametrize("code", ["APIG.0308", "APIGW.0308", "ModelArts.2799"])
def test_throttling_codes_are_rate_limited_whatever_the_status(code: str) -> None:
    clock = Clock()
    handler = scripted([httpx.Response(400, json={"error_code": code, "error_msg": "slow down"})], ok_job)
    with make_client(handler, clock=clock) as client:
        client.get_training_job(J)
    assert len(clock.sleeps) == 1
    with make_client(lambda r: httpx.Response(429, json={"error_code": code}), retry=RetryPolicy.never()) as client:
        with pytest.raises(RateLimitedError) as info:
            client.get_training_job(J)
    assert info.value.error_code == code


@pytest.mark.parametrize(
    ("body", "code", "msg", "rid"),
    [
        ({"errorCode": "ModelArts.1", "errorMsg": "camel"}, "ModelArts.1", "camel", None),
        ({"code": "C.2", "message": "plain"}, "C.2", "plain", None),
        ({"error": {"code": "C.3", "message": "nested"}}, "C.3", "nested", None),
        ({"error_code": "APIG.0101", "error_msg": "m", "request_id": "body-rid"}, "APIG.0101", "m", "body-rid"),
    ],
)
def test_error_body_shapes(body: dict, code: str, msg: str, rid: str | None) -> None:
    with make_client(lambda r: httpx.Response(400, json=body), retry=RetryPolicy.never()) as client:
        with pytest.raises(BadRequestError) as info:
            client.get_training_job(J)
    assert (info.value.error_code, info.value.error_msg, info.value.request_id) == (code, msg, rid)


def test_non_json_error_body() -> None:
    html = b"<html><body>502 Bad Gateway</body></html>"
    with make_client(lambda r: httpx.Response(502, content=html), retry=RetryPolicy.never()) as client:
        with pytest.raises(ServerError) as info:
            client.get_training_job(J)
    assert info.value.error_code == "502"
    assert "Bad Gateway" in (info.value.error_msg or "")


@pytest.mark.parametrize("content", [b'{"kind": "autosearch_jo', b"<html>oops</html>", b""])
def test_non_json_or_truncated_success_body(content: bytes) -> None:
    with make_client(lambda r: httpx.Response(200, content=content), retry=RetryPolicy.never()) as client:
        with pytest.raises(ResponseFormatError, match="not valid JSON|empty body"):
            client.get_training_job(J)


def test_truncated_body_retried_then_succeeds() -> None:
    clock = Clock()
    handler = scripted([httpx.Response(200, content=b'{"kind": "auto')], ok_job)
    with make_client(handler, clock=clock) as client:
        assert client.get_training_job(J)["kind"] == "autosearch_job"
    assert len(clock.sleeps) == 1
    handler = scripted([httpx.Response(200, content=b'{"kind": "auto')], ok_job)
    with make_client(handler, clock=clock, retry=policy(clock, retry_malformed=False)) as client:
        with pytest.raises(ResponseFormatError):
            client.get_training_job(J)


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ConnectError("refused"), TransportError),
        (httpx.ReadTimeout("slow"), RequestTimeoutError),
        (httpx.ConnectTimeout("slow"), RequestTimeoutError),
        (httpx.RemoteProtocolError("peer closed connection without sending complete message body"), TransportError),
        (httpx.ReadError("reset"), TransportError),
    ],
)
def test_transport_errors_retried_and_translated(exc: Exception, cls: type) -> None:
    clock = Clock()
    with make_client(scripted([exc], ok_job), clock=clock) as client:
        client.get_training_job(J)
    assert len(clock.sleeps) == 1

    def always(request: httpx.Request) -> httpx.Response:
        raise exc

    with make_client(always, clock=clock, retry=policy(clock, max_attempts=2)) as client:
        with pytest.raises(cls) as info:
            client.get_training_job(J)
    assert isinstance(info.value.__cause__, httpx.TransportError)


# ----------------------------------------------------------------------------- secrets


@pytest.mark.parametrize("auth", ["token", "aksk"])
def test_secrets_never_in_repr_errors_logs_or_tracebacks(auth: str, caplog: pytest.LogCaptureFixture) -> None:
    echo = f"canonicalRequest:GET|/v2/|x-security-token:{STS}|x-auth-token:{TOKEN}|sk={SK}"
    clock = Clock()
    handler = scripted([httpx.Response(503, json={"error_code": "E", "error_msg": echo}),
                        httpx.ConnectError(f"failed {TOKEN}")],
                       lambda r: httpx.Response(401, json={"error_code": "APIG.0301", "error_msg": echo}))
    caplog.set_level(logging.DEBUG)
    client = make_client(handler, clock=clock, auth=auth)
    texts = [repr(client), str(client), repr(vars(client))]
    with pytest.raises(AuthenticationError) as info:
        client.get_training_job(J)
    texts += [str(info.value), repr(info.value), info.value.error_msg or "",
              "".join(traceback.format_exception(info.type, info.value, info.tb))]
    texts += [record.getMessage() for record in caplog.records]
    texts.append(caplog.text)
    client.close()
    joined = "\n".join(texts)
    assert "***" in info.value.error_msg
    assert "retrying" in caplog.text  # the retries were logged ...
    own = (TOKEN,) if auth == "token" else (SK, STS)
    for secret in own:
        assert secret not in joined  # ... without a secret the client holds


def test_auth_headers_on_the_wire() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    with make_client(handler) as client:
        client.search_algorithms()
    with make_client(handler, auth="aksk") as client:
        client.search_algorithms()
    token_req, aksk_req = seen
    assert token_req.headers["X-Auth-Token"] == TOKEN and "authorization" not in token_req.headers
    assert token_req.headers["X-Project-Id"] == P
    assert aksk_req.headers["Authorization"].startswith("SDK-HMAC-SHA256 Access=AKEXAMPLE, SignedHeaders=")
    assert "x-security-token" in aksk_req.headers["Authorization"]
    assert aksk_req.headers["X-Security-Token"] == STS
    assert "x-auth-token" not in aksk_req.headers


def test_client_cannot_be_pickled() -> None:
    import pickle

    with make_client(FakeService(0)) as client:
        with pytest.raises(TypeError):
            pickle.dumps(client)


# ----------------------------------------------------------------------------- paging


@pytest.mark.parametrize("mode", ["records", "pages"])
@pytest.mark.parametrize(("n", "page_size"), [(0, 50), (1, 50), (50, 50), (51, 50), (523, 50), (37, 1), (100, 7)])
def test_every_trial_exactly_once_under_both_offset_meanings(mode: str, n: int, page_size: int) -> None:
    service = FakeService(n, mode=mode)
    with make_client(service) as client:
        pages = list(client.iter_trial_pages(J, page_size=page_size))
    ids = ids_of(pages)
    assert sorted(ids) == [f"t{i:05d}" for i in range(n)]
    assert len(pages) >= 1 and pages[0]["items"]["header"] == HEADER
    expected_pages = max(1, -(-n // page_size))
    # one page each, plus at most the probe
    assert expected_pages <= len(service.trial_requests()) <= expected_pages + 1


@pytest.mark.parametrize("mode", ["records", "pages"])
def test_page_size_capped_by_service(mode: str) -> None:
    service = FakeService(230, mode=mode, cap=20)
    with make_client(service) as client:
        ids = ids_of(list(client.iter_trial_pages(J, page_size=50)))
    assert sorted(ids) == [f"t{i:05d}" for i in range(230)]


@pytest.mark.parametrize("mode", ["records", "pages"])
@pytest.mark.parametrize("where", ["end", "start"])
def test_inserted_trials_while_paging(mode: str, where: str) -> None:
    service = FakeService(300, mode=mode)
    service.insert_per_page = 2
    service.insert_at = where
    with make_client(service) as client:
        pages = list(client.iter_trial_pages(J, page_size=50))
        service.insert_per_page = 0
    ids = ids_of(pages)
    assert len(ids) == len(set(ids))  # exactly once
    assert set(f"t{i:05d}" for i in range(300)) <= set(ids)  # none of the original lost
    # every trial that existed when the last page was planned is there
    assert len(ids) >= pages[-1]["total"] - 2 or len(ids) >= 300


@pytest.mark.parametrize("mode", ["records", "pages"])
def test_early_empty_page_is_read_again_without_looping(mode: str) -> None:
    service = FakeService(200, mode=mode)
    service.empty_once = {100 if mode == "records" else 2}
    with make_client(service) as client:
        ids = ids_of(list(client.iter_trial_pages(J, page_size=50)))
    assert sorted(ids) == [f"t{i:05d}" for i in range(200)]
    assert len(service.trial_requests()) <= 7


@pytest.mark.parametrize("mode", ["records", "pages"])
def test_total_larger_than_what_exists_terminates(mode: str) -> None:
    service = FakeService(120, mode=mode)

    def lie(request: httpx.Request) -> httpx.Response | None:
        if request.url.path.endswith("/autosearch-trials"):
            response = service.trials(request)
            body = json.loads(response.content)
            body["total"] = 500
            return httpx.Response(200, json=body)
        return None

    service.on_request = lie
    with make_client(service) as client:
        ids = ids_of(list(client.iter_trial_pages(J, page_size=50)))
    assert sorted(ids) == [f"t{i:05d}" for i in range(120)]
    assert len(service.trial_requests()) < 60


def test_first_page_empty_then_full() -> None:
    service = FakeService(80)
    service.empty_once = {0}
    with make_client(service) as client:
        ids = ids_of(list(client.iter_trial_pages(J, page_size=50)))
    assert sorted(ids) == [f"t{i:05d}" for i in range(80)]


def test_concurrency_is_bounded() -> None:
    """The pages after page 0 and the probe wait in the transport until ``bound`` requests are in
    flight (or every one of them has arrived), so the bound is reached whatever the thread timing;
    and they come from at most ``bound`` threads, each sending one at a time, so it is never passed."""
    bound = 3
    service = FakeService(1000)
    original = service.route
    planned = 1000 // 20 - 1  # records offsets 20, 40, ..., 980: every page but page 0
    arrived = 0
    gate = threading.Condition()
    stuck: list[int] = []
    senders: set[threading.Thread] = set()

    def held(request: httpx.Request) -> httpx.Response:
        nonlocal arrived
        offset = int(request.url.params["offset"])
        if offset > 1:  # page 0 and the probe (offset 1) are read one at a time
            with gate:
                senders.add(threading.current_thread())
                arrived += 1
                gate.notify_all()
                # service.in_flight counts this request and every other one inside the transport
                released = stuck or gate.wait_for(lambda: service.in_flight >= bound or arrived == planned, timeout=10)
                if not released:
                    stuck.append(offset)  # fewer than the bound came: fails below, without waiting again
        return original(request)

    service.route = held  # type: ignore[method-assign]
    with make_client(service, max_concurrency=bound) as client:
        ids = ids_of(list(client.iter_trial_pages(J, page_size=20)))
    assert len(ids) == 1000 and stuck == []
    assert len(service.trial_requests()) == planned + 2
    assert service.max_in_flight == bound
    assert len(senders) <= bound


def test_pager_unknown_meaning_falls_back() -> None:
    """The probe comes back empty and the echo says nothing: both meanings are tried."""
    rows = list(range(130))
    calls: list[int] = []

    def fetch(offset: int) -> FetchedPage:
        calls.append(offset)
        chunk = [] if offset == 1 else rows[offset:offset + 50]  # records meaning, probe lost
        return FetchedPage(offset, 130, chunk, chunk, offset, 50, lambda pos, c=chunk: [c[i] for i in pos])

    got = [x for page in iter_pages(fetch, page_size=50, executor=None) for x in page]
    assert sorted(got) == rows


def test_progress_callback_and_bar(capsys: pytest.CaptureFixture[str]) -> None:
    service = FakeService(260)
    seen: list[tuple[int, int]] = []
    with make_client(service) as client:
        list(client.iter_trial_pages(J, progress=lambda done, total: seen.append((done, total))))
        client.fetch_trials(J, progress=True)
    assert seen[-1] == (260, 260)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)
    err = capsys.readouterr().err
    assert "260/260 trials" in err and err.endswith("\n")


def test_progress_rejects_other_values() -> None:
    with make_client(FakeService(3)) as client:
        with pytest.raises(ConfigurationError, match="progress must be"):
            list(client.iter_trial_pages(J, progress="yes"))  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- tables


def test_fetch_trials_records_reward_metadata() -> None:
    service = FakeService(75)
    with make_client(service) as client:
        table = client.fetch_trials(J)
    assert table.num_rows == 75
    assert table.schema.metadata[b"hpo_analytics.metric"] == b"acc"
    assert table.schema.metadata[b"hpo_analytics.mode"] == b"max"
    assert table.schema.metadata[b"hpo_analytics.table"] == b"trials"  # the normalizer's keys are kept


@pytest.mark.parametrize("status", [403, 404])
def test_fetch_trials_without_details(status: int, caplog: pytest.LogCaptureFixture) -> None:
    service = FakeService(10)

    def deny(request: httpx.Request) -> httpx.Response | None:
        if request.url.path == f"/v2/{P}/training-jobs/{J}":
            return httpx.Response(status, json={"error_code": "X", "error_msg": "no"})
        return None

    service.on_request = deny
    with make_client(service) as client:
        table = client.fetch_trials(J)
    assert table.num_rows == 10
    assert b"hpo_analytics.metric" not in (table.schema.metadata or {})
    assert "no reward metadata" in caplog.text


def test_fetch_trials_details_without_reward_attrs() -> None:
    service = FakeService(5)
    service.job = {"kind": "autosearch_job", "algorithm": {"policies": {}}}
    with make_client(service) as client:
        assert b"hpo_analytics.metric" not in (client.fetch_trials(J).schema.metadata or {})


def test_fetch_curves_concurrently() -> None:
    service = FakeService(30)
    with make_client(service) as client:
        table = client.fetch_curves(J, ["t00001", "t00002", "t00001"])
        everything = client.fetch_curves(J)
    assert table.column("trial_id").to_pylist() == ["t00001", "t00002"]
    assert everything.num_rows == 30
    assert table.schema.metadata[b"hpo_analytics.metric"] == b"acc"


# ----------------------------------------------------------------------------- early stop


def stop_path(trial: str = "t00003") -> str:
    return f"/v2/{P}/training-jobs/{J}/autosearch-trial-earlystop/{trial}"


def early_stop_service(script: list[Any], *, finished: bool) -> FakeService:
    """``script`` answers the POSTs in turn; the trial reads as finished or running."""
    service = FakeService(5)
    service.rows[3] = trial_row(3, status="TERMINATED" if finished else "RUNNING")
    queue = list(script)

    def answer(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST":
            item = queue.pop(0) if queue else httpx.Response(200, json={"earlystop_trial": "t00003"})
            if isinstance(item, Exception):
                raise item
            return item
        return None

    service.on_request = answer
    return service


def posts(service: FakeService) -> int:
    return sum(1 for r in service.requests if r.method == "POST")


def test_early_stop_success() -> None:
    service = early_stop_service([], finished=False)
    with make_client(service) as client:
        assert client.early_stop(J, "t00003") == EarlyStopResult("t00003", "stopped", None)
    assert posts(service) == 1
    request = next(r for r in service.requests if r.method == "POST")
    assert request.url.path == stop_path() and request.content == b""


@pytest.mark.parametrize("exc", [httpx.ConnectError("refused"), httpx.ConnectTimeout("slow")])
def test_early_stop_retried_when_request_certainly_not_sent(exc: Exception) -> None:
    clock = Clock()
    service = early_stop_service([exc], finished=False)
    with make_client(service, clock=clock) as client:
        assert client.early_stop(J, "t00003").outcome == "stopped"
    assert posts(service) == 2 and len(clock.sleeps) == 1
    assert all(r.method == "POST" for r in service.requests)  # no re-read was needed


def test_early_stop_rate_limited_is_retried() -> None:
    clock = Clock()
    service = early_stop_service([httpx.Response(429, headers={"Retry-After": "2"},
                                                 json={"error_code": "APIG.0308"})], finished=False)
    with make_client(service, clock=clock) as client:
        assert client.early_stop(J, "t00003").outcome == "stopped"
    assert posts(service) == 2 and clock.sleeps == [2.0]


@pytest.mark.parametrize(
    "failure",
    [httpx.ReadTimeout("lost"), httpx.RemoteProtocolError("dropped"), httpx.Response(503, json={}),
     httpx.Response(200, content=b'{"earlystop_tr')],
)
def test_early_stop_lost_answer_and_trial_finished_is_not_resent(failure: Any) -> None:
    service = early_stop_service([failure], finished=True)
    with make_client(service) as client:
        result = client.early_stop(J, "t00003")
    assert result.outcome == "already_finished"
    assert posts(service) == 1
    assert any(r.method == "GET" for r in service.requests)  # the trial was re-read


@pytest.mark.parametrize("failure", [httpx.ReadTimeout("lost"), httpx.Response(502, json={})])
def test_early_stop_lost_answer_and_trial_running_is_resent(failure: Any) -> None:
    clock = Clock()
    service = early_stop_service([failure], finished=False)
    with make_client(service, clock=clock) as client:
        assert client.early_stop(J, "t00003").outcome == "stopped"
    assert posts(service) == 2


def test_early_stop_conflict_on_finished_trial_is_already_finished() -> None:
    service = early_stop_service(
        [httpx.Response(409, json={"error_code": "ModelArts.2796", "error_msg": "NotAllowedToTerminate"})],
        finished=True,
    )
    with make_client(service) as client:
        result = client.early_stop(J, "t00003")
    # the per-trial rows say done "True" but carry no status column
    assert result == EarlyStopResult("t00003", "already_finished", None)
    assert posts(service) == 1


def test_early_stop_conflict_on_running_trial_raises() -> None:
    service = early_stop_service([httpx.Response(409, json={"error_code": "ModelArts.2878"})], finished=False)
    with make_client(service) as client:
        with pytest.raises(ConflictError):
            client.early_stop(J, "t00003")
    assert posts(service) == 1


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [(401, "APIG.0301", AuthenticationError), (403, "ModelArts.2785", PermissionDeniedError),
     (400, "ModelArts.2775", NotFoundError)],
)
def test_early_stop_auth_and_not_found_raise_at_once(status: int, code: str, cls: type) -> None:
    service = early_stop_service([httpx.Response(status, json={"error_code": code})], finished=True)
    with make_client(service) as client:
        with pytest.raises(cls):
            client.early_stop(J, "t00003")
    assert len(service.requests) == 1


def test_early_stop_error_status_read_from_listing() -> None:
    """Per-trial rows carry no status: an ERROR trial is found finished through the listing."""
    service = early_stop_service([httpx.Response(409, json={"error_code": "ModelArts.2796"})], finished=False)
    service.rows[3] = trial_row(3, status="ERROR")
    with make_client(service) as client:
        result = client.early_stop(J, "t00003")
    assert result == EarlyStopResult("t00003", "already_finished", "ERROR")


def test_path_arguments_are_encoded() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"kind": "x"})

    with make_client(handler) as client:
        client.get_training_job("a b/c")
        with pytest.raises(ConfigurationError):
            client.get_training_job("")
    assert seen[0].url.raw_path.endswith(b"/training-jobs/a%20b%2Fc")


def test_search_training_jobs_pages_and_dedups() -> None:
    jobs = [{"metadata": {"id": f"job-{i}", "name": f"n{i}"}} for i in range(23)]
    bodies: list[dict] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        bodies.append(body)
        page = jobs[body["offset"] * body["limit"]:(body["offset"] + 1) * body["limit"]]  # page-number offsets
        return httpx.Response(200, json={"total": 23, "count": len(page), "limit": body["limit"],
                                         "offset": body["offset"], "items": page})

    flt = [{"key": "kind", "operator": "in", "value": ["autosearch_job"]}]
    with make_client(handler) as client:
        found = client.search_training_jobs(filters=flt, page_size=10, order="asc")
        with pytest.raises(ConfigurationError):
            client.search_training_jobs(page_size=51)
    assert [j["metadata"]["id"] for j in found] == [f"job-{i}" for i in range(23)]
    assert all(b["filters"] == flt and b["order"] == "asc" for b in bodies)


def test_parameter_analysis_table() -> None:
    body = {"header": ["parameters", "the mean/std of importance"],
            "data": [["lr", "0.6/0.01"], ["bs", "bad"]]}
    with make_client(lambda r: httpx.Response(200, json=body)) as client:
        table = client.parameter_analysis(J)
    assert table.column_names == ["parameter", "importance_mean", "importance_std"]
    assert table.to_pylist() == [{"parameter": "lr", "importance_mean": 0.6, "importance_std": 0.01},
                                 {"parameter": "bs", "importance_mean": None, "importance_std": None}]


def test_api_error_is_hpo_error() -> None:
    assert issubclass(NotFoundError, APIError)


def test_front_insertions_beyond_the_limit_stop_and_warn(caplog: pytest.LogCaptureFixture) -> None:
    """Front insertions of half a page per request outrun the reads: the pager stops and says how many are missing."""
    service = FakeService(60, mode="pages", cap=4)
    service.insert_per_page = 2
    service.insert_at = "start"
    with caplog.at_level(logging.WARNING, logger="hpo_analytics.client"):
        with make_client(service) as client:
            ids = ids_of(list(client.iter_trial_pages(J, page_size=4)))
    assert len(ids) == len(set(ids))
    assert len(service.trial_requests()) <= 10 * -(-len(service.rows) // 4) + 60
    match = re.search(r"service reports (\d+) .* only (\d+) distinct ones could be read \((\d+) missing\)", caplog.text)
    assert match is not None
    total, read, missing = map(int, match.groups())
    assert read == len(ids) and missing == total - read > 0


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(0, 150),
    page_size=st.integers(1, 60),
    mode=st.sampled_from(["records", "pages"]),
    cap=st.integers(1, 80),
    empties=st.sets(st.integers(0, 12), max_size=3),
    insert=st.integers(0, 3),
    where=st.sampled_from(["end", "start"]),
    concurrency=st.integers(1, 4),
)
def test_paging_property(n: int, page_size: int, mode: str, cap: int, empties: set[int], insert: int,
                         where: str, concurrency: int) -> None:
    """Whatever the service does, every trial there from the start comes back, none twice, in bounded requests.

    Front insertions are limited to a quarter of a page per request: faster
    than that, a job can grow faster than it is read, and no client can keep up.
    """
    assume(where == "end" or 4 * insert <= min(page_size, cap))
    service = FakeService(n, mode=mode, cap=cap)
    service.empty_once = set(empties)
    service.insert_per_page = insert
    service.insert_at = where
    with make_client(service, max_concurrency=concurrency) as client:
        pages = list(client.iter_trial_pages(J, page_size=page_size))
    ids = ids_of(pages)
    assert len(ids) == len(set(ids))
    assert {f"t{i:05d}" for i in range(n)} <= set(ids)
    assert len(service.trial_requests()) <= 10 * -(-len(service.rows) // min(page_size, cap)) + 60
