"""HTTP handling of the simulator: the threaded server, the request handler and the routes of the ModelArts endpoints.

One request goes: read it, apply the faults that come before routing
(latency, dropped connection, error answers), route, check auth and the
project id, answer from the simulated jobs, apply the faults that come after
(emptied page, truncated body, inserted trials), log it, write it.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import unquote, urlsplit

from ..errors import TrialFinishedError, TrialNotFoundError
from ._auth import check_auth
from ._catalogue import search_algorithms
from ._faults import error_answer, take
from ._search import search_jobs
from ._wire import Response, _APIError, dumps, parse_int, split_query

if TYPE_CHECKING:
    from ._server import Simulator
    from .synthetic import SimulatedJob

__all__ = ["TRIAL_NOT_FOUND", "HTTPServer", "route_name"]

logger = logging.getLogger("hpo_analytics.simulator")

TRIAL_NOT_FOUND = "ModelArts.2762"
"""Error code the simulator answers (404) for an unknown trial id; chosen here, not documented."""

_ID = r"([^/]+)"
_TRIALS = re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/autosearch-trials$")
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", _TRIALS, "trials"),
    ("GET", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/autosearch-trials/{_ID}$"), "trial"),
    ("POST", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/autosearch-trial-earlystop/{_ID}$"), "earlystop"),
    ("GET", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/autosearch-parameter-analysis$"), "analysis"),
    ("GET", re.compile(rf"^/v2/{_ID}/search-algorithms$"), "algorithms"),
    ("POST", re.compile(rf"^/v2/{_ID}/training-job-searches$"), "search"),
    ("GET", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}$"), "job"),
    ("POST", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/actions$"), "action"),
]


def route_name(method: str, path: str) -> str | None:
    """The endpoint ``method path`` reaches (``"trials"``, ``"job"``...), ``None`` for an unknown route."""
    for m, pattern, name in _ROUTES:
        if m == method and pattern.match(path):
            return name
    return None


class HTTPServer(ThreadingHTTPServer):
    """The simulator's server: one daemon thread per connection, every open socket tracked so close() can cut it."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], sim: Simulator) -> None:
        self.sim = sim
        self.open_sockets: set[socket.socket] = set()
        self.sockets_lock = threading.Lock()
        super().__init__(address, _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, addr = super().get_request()
        with self.sockets_lock:
            self.open_sockets.add(sock)
        return sock, addr

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that went away (or a connection closed by close()) is normal here.
        logger.debug("connection from %s ended with an error", client_address, exc_info=True)

    def shutdown_request(self, request: Any) -> None:
        with self.sockets_lock:
            self.open_sockets.discard(request)
        super().shutdown_request(request)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hpo-analytics-simulator"
    sys_version = ""
    timeout = 30
    server: HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body are written separately; without TCP_NODELAY the
        # second write waits for the client's delayed ACK (~40 ms per request).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        logger.debug("%s - " + format, self.address_string(), *args)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._handle()

    def do_POST(self) -> None:  # noqa: N802
        self._handle()

    def do_PUT(self) -> None:  # noqa: N802
        self._handle()

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle()

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle()

    def _handle(self) -> None:
        sim = self.server.sim
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        parts = urlsplit(self.path)
        path, raw_query = parts.path, parts.query
        query = split_query(raw_query)
        request_id = uuid.uuid4().hex
        faults = sim.faults
        affected = faults.applies_to(path)

        if affected and faults.latency > 0:
            sim._sleep(faults.latency)
        if affected and take(faults, "drop_next", sim._lock):
            sim._log(self.command, path, query, None, "drop", request_id)
            self.close_connection = True
            return
        response: Response | None = None
        fault_name: str | None = None
        answer = error_answer(faults, sim._lock) if affected else None
        if answer is not None:
            response, fault_name = answer
        else:
            try:
                response = _dispatch(sim, self.command, path, query, raw_query, dict(self.headers.items()), body)
            except _APIError as exc:
                response = Response(exc.status, {"error_code": exc.code, "error_msg": exc.msg}, exc.headers)
            except Exception as exc:  # pragma: no cover - a simulator bug, reported not hidden
                logger.exception("simulator failure")
                response = Response(
                    500, {"error_code": "ModelArts.0001", "error_msg": f"simulator failure: {type(exc).__name__}"}
                )
        route = route_name(self.command, path)
        if (
            response.status == 200 and response.raw is None and route == "trials" and affected
            and take(faults, "empty_page_next", sim._lock)
        ):
            response.body["items"]["data"] = []
            response.body["count"] = 0
            fault_name = "empty_page"
        if response.status >= 400 and response.raw is None:
            response.body.setdefault("request_id", request_id)
        payload = response.raw if response.raw is not None else dumps(response.body)
        truncate = (
            response.status == 200 and response.raw is None and affected
            and take(faults, "truncate_next", sim._lock)
        )
        if truncate:
            fault_name = "truncate"
        if (
            response.status == 200
            and affected
            and faults.insert_trials_per_page > 0
            and route == "trials"
        ):
            _insert_after_page(sim, path, faults.insert_trials_per_page, faults.insert_position)
            fault_name = fault_name or "insert_trials"
        sim._log(self.command, path, query, response.status, fault_name, request_id)

        announced = len(payload)
        if truncate:
            payload = payload[: len(payload) // 2]
            if faults.truncate_mode == "body":
                announced = len(payload)
        self.send_response(response.status)
        if "Content-Type" not in response.headers:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(announced))
        self.send_header("X-Request-Id", request_id)
        for name, value in response.headers.items():
            self.send_header(name, value)
        if truncate and faults.truncate_mode == "connection":
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        try:
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # pragma: no cover - client went away
            self.close_connection = True


def _insert_after_page(sim: Simulator, path: str, n: int, position: Literal["end", "start"]) -> None:
    match = _TRIALS.match(path)
    if match is None:  # pragma: no cover
        return
    with sim._lock:
        job = sim._jobs.get(unquote(match.group(2)))
        if job is not None:
            job.insert_trials(n, position=position)


def _job_or_400(sim: Simulator, job_id: str) -> SimulatedJob:
    job = sim._jobs.get(job_id)
    if job is None:
        raise _APIError(400, "ModelArts.2775", f"Training job {job_id} not found.")
    return job


def _job_action(job: SimulatedJob, body: bytes) -> Response:
    """``POST .../training-jobs/{id}/actions``: only ``terminate`` (202, phase ``Terminating``)."""
    try:
        req = json.loads(body.decode("utf-8")) if body.strip() else None
    except (UnicodeDecodeError, ValueError):
        req = None
    if not isinstance(req, dict) or not isinstance(req.get("action_type"), str):
        raise _APIError(400, "ModelArts.2788", "Invalid request body: action_type is required.")
    if req["action_type"] != "terminate":
        raise _APIError(400, "ModelArts.2812", f"Unsupported action type: {req['action_type']}.")
    if job.phase not in ("Creating", "Pending", "Running"):
        raise _APIError(409, "ModelArts.2796", f"Training job {job.job_id} cannot be terminated: it is {job.phase}.")
    job.end("Terminated")
    answer = job.details()
    answer["status"]["phase"] = answer["status"]["secondary_phase"] = "Terminating"
    return Response(202, answer)


def _dispatch(sim: Simulator, method: str, path: str, query: list[tuple[str, str]], raw_query: str,
              headers: dict[str, str], body: bytes) -> Response:
    for m, pattern, name in _ROUTES:
        match = pattern.match(path)
        if match and m == method:
            break
    else:
        raise _APIError(404, "APIG.0101", "The API does not exist or has not been published in the environment.")
    check_auth(
        mode=sim.auth, token=sim.token, ak=sim.ak, sk=sim.sk, max_clock_skew=sim.max_clock_skew,
        method=method, path=path, raw_query=raw_query, headers=headers, body=body, expired=sim._expired_tokens,
    )
    groups = [unquote(g) for g in match.groups()]
    if groups[0] != sim.project_id:
        raise _APIError(404, "ModelArts.2786", "The project ID in the URL does not match the token's project.")
    q = dict(query)
    with sim._lock:
        if name == "algorithms":
            return Response(200, search_algorithms())
        if name == "search":
            return Response(200, search_jobs(sim._jobs.values(), body))
        job = _job_or_400(sim, groups[1])
        if name == "trials":
            limit = parse_int(q.get("limit"), 50, name="limit", low=1, high=sim.max_page_size, code="ModelArts.2764")
            offset = parse_int(q.get("offset"), 0, name="offset", low=0, high=None, code="ModelArts.2764")
            applied = min(limit, sim.page_size_cap) if sim.page_size_cap else limit
            page = job.trials_response(offset=offset, limit=applied, offset_mode=sim.offset_mode)
            if not sim.echo_capped_limit:
                page["limit"] = limit
            return Response(200, page)
        if name == "job":
            return Response(200, job.details())
        if name == "action":
            return _job_action(job, body)
        if name == "analysis":
            return Response(200, job.parameter_analysis())
        trial_id = groups[2]
        try:
            if name == "trial":
                return Response(200, job.history_response(trial_id))
            job.early_stop(trial_id)
            return Response(200, {"earlystop_trial": trial_id})
        except TrialNotFoundError:
            raise _APIError(404, TRIAL_NOT_FOUND, f"Trial {trial_id} not found in training job {job.job_id}.") from None
        except TrialFinishedError as exc:
            raise _APIError(
                409, "ModelArts.2796",
                f"Trial {trial_id} cannot be stopped: it has already finished (status {exc.status}).",
            ) from None
