"""A local ModelArts-compatible HTTP server for autosearch jobs.

``Simulator`` serves, on a loopback port, the endpoints ``hpo_analytics``
uses, over simulated jobs from :mod:`hpo_analytics.synthetic`::

    with Simulator(seed=0, n_trials=200, auth="any") as sim:
        httpx.get(f"{sim.url}/v2/{sim.project_id}/training-jobs/{sim.job_ids[0]}"
                  "/autosearch-trials", headers={"X-Auth-Token": sim.token})
        sim.advance(600)                 # ten simulated minutes pass
        sim.faults = Faults(rate_limit_next=2)

Endpoints (``{p}`` = ``sim.project_id``, ``{j}`` = a job id)
    * ``GET  /v2/{p}/training-jobs/{j}/autosearch-trials?limit=&offset=``
    * ``GET  /v2/{p}/training-jobs/{j}/autosearch-trials/{trial_id}``
    * ``POST /v2/{p}/training-jobs/{j}/autosearch-trial-earlystop/{trial_id}``
    * ``GET  /v2/{p}/search-algorithms`` (the documented 3-algorithm catalogue)
    * ``GET  /v2/{p}/training-jobs/{j}`` (job details, ``kind: autosearch_job``)
    * ``POST /v2/{p}/training-job-searches`` (``JobSearches`` body)
    * ``GET  /v2/{p}/training-jobs/{j}/autosearch-parameter-analysis``

Behavioural choices (where the documentation is silent, this is a guess,
chosen to be plausible and to exercise the client):

* **Paging of autosearch-trials.** ``offset_mode="records"``: ``offset`` is a
  record offset; ``"pages"``: it is a page index (rows ``offset*limit`` onward).
  Either way the response echoes ``offset`` and ``limit`` as sent, ``count``
  is the number of rows on the page, ``total`` the number of trials now, and a
  page past the end is empty. ``limit`` defaults to 50 and must be 1..
  ``max_page_size`` (1000); ``offset`` defaults to 0 and must be >= 0; other
  values answer 400 ``ModelArts.2764``. With ``page_size_cap`` set, a larger
  ``limit`` is silently cut to the cap (also for the page-index arithmetic);
  the response echoes the requested ``limit`` unless ``echo_capped_limit``.
  Trials are listed in creation order;
  the leading ``""`` column is the row's position in the whole listing.
* **Trial progress.** Simulated time only moves with :meth:`Simulator.advance`
  (or ``time_per_request``); it never follows the wall clock. Trials start in
  creation order, at most ``max_concurrent`` at once, report one iteration
  every ~20 simulated seconds, and end ``TERMINATED`` (``done "True"``) or,
  for about ``error_rate`` of them, ``ERROR`` (``done "False"``). Pending
  trials are listed with empty metric cells. ``elapsed=None`` (the default)
  starts the server with every trial finished.
* **Per-trial history.** One row per reported iteration; ``done`` is
  ``"True"`` only on the last row of a ``TERMINATED`` trial. A trial with no
  report yet answers 200 with ``"data": []``.
* **Early stop.** 200 ``{"earlystop_trial": id}`` for a ``RUNNING`` trial (it
  keeps its reported iterations, stops at once and ends ``TERMINATED``) and
  for a ``PENDING`` one (it never starts and ends ``TERMINATED`` with no
  reports). A trial that has already finished - ``TERMINATED``, ``ERROR``, or
  stopped before - answers **409 ``ModelArts.2796``** (NotAllowedToTerminate,
  the closest documented code); early stop is therefore *not* idempotent.
  An unknown trial answers **404 ``ModelArts.2762``** (a code chosen here, the
  documents name none); an unknown job answers **400 ``ModelArts.2775``**
  (TrainingJobNotFound) on every job endpoint.
* **Job search.** ``offset`` is a page number, ``limit`` 1..50 (default 10),
  else 400 ``ModelArts.2788``. Filter keys ``name`` (``like``: substring,
  ``in``, ``not``), ``phase`` and ``kind`` (``in``/``not``, case-insensitive),
  ``create_time`` (``between`` two epoch-ms strings, an empty bound is open),
  ``algorithm_name`` and ``user_id`` (accepted; every job matches an empty
  value). A filter whose values are all empty strings is ignored (the
  documented example sends such filters). Another key answers 400
  ``ModelArts.2807``, another operator 400 ``ModelArts.2808``. Sorted by
  ``create_time`` (or ``name``), ``desc`` unless ``order`` is ``asc``.
* **Parameter analysis.** ``{"header": ["parameters", "the mean/std of
  importance"], "data": [[name, "mean/std"], ...]}``, computed from the
  ground truth over finished trials (see
  :meth:`hpo_analytics.synthetic.SimulatedJob.parameter_analysis`).
* **Auth.** ``auth="token"``: ``X-Auth-Token`` must equal ``sim.token``;
  ``"aksk"``: an ``SDK-HMAC-SHA256`` ``Authorization`` header signed with
  ``sim.ak``/``sim.sk`` over the headers it names (``x-sdk-date`` must be one);
  ``"any"``: either. Failures answer 401 ``APIG.0301``. The ``X-Sdk-Date``
  clock skew is only checked when ``max_clock_skew`` is set (then 401
  ``APIG.0303``), and keys are never locked out.
  A ``project_id`` in the path other than ``sim.project_id`` answers 404
  ``ModelArts.2786``. Unknown paths or methods answer 404 ``APIG.0101``.
* **Every response** carries ``X-Request-Id`` (error bodies repeat it as
  ``request_id``), ``Content-Type: application/json`` (``text/html`` for the
  non-JSON fault) and ``Content-Length`` (HTTP/1.1 keep-alive).
* **Job phase** is ``Running`` while any trial is pending or running, then
  ``Completed``; ``duration`` is the simulated time in milliseconds.
* **Request bodies** of the bodiless endpoints (early stop) are ignored; a
  ``Retry-After`` given as a fraction (``Faults(retry_after=0.2)``) is sent as
  ``"0.2"`` (not valid HTTP, but it keeps tests fast; use whole seconds to be
  strict).
* **Faults** (:class:`Faults`, replaceable at run time via ``sim.faults``) are
  applied before routing and auth, in this order: latency (a real sleep in the
  handler thread), dropped connection, 429, 5xx, other error, non-JSON body;
  then the request is served and an emptied page, a truncated body or
  inserted trials apply. ``*_next`` counters count
  down per affected request. ``path_contains`` limits all faults to matching
  paths. Each request is logged in ``sim.requests`` with the status sent
  (``None`` when the connection was dropped) and the fault applied.
"""

from __future__ import annotations

import hmac
import json
import logging
import random
import re
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import unquote, urlsplit

from .errors import ConfigurationError
from .synthetic import SimulatedJob, TrialFinishedError, TrialNotFoundError

__all__ = ["SEARCH_ALGORITHMS", "Faults", "RequestRecord", "Simulator"]

logger = logging.getLogger("hpo_analytics.simulator")

try:  # pragma: no cover - whichever is installed
    import orjson

    def _dumps(value: Any) -> bytes:
        return orjson.dumps(value)
except ImportError:  # pragma: no cover
    def _dumps(value: Any) -> bytes:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


SEARCH_ALGORITHMS: dict[str, Any] = {
    "search_algo_count": 3,
    "search_algo_list": [
        {
            "name": "bayes_opt_search",
            "params": [
                {"key": "kind", "value": "ucb", "type": "String"},
                {"key": "kappa", "value": "2.5", "type": "Float"},
                {"key": "xi", "value": "0.0", "type": "Float"},
                {"key": "num_samples", "value": "20", "type": "Integer"},
                {"key": "seed", "value": "1", "type": "Integer"},
            ],
            "description": "Hyperparameter search using Gaussian process.",
        },
        {
            "name": "tpe_search",
            "params": [
                {"key": "gamma", "value": "0.25", "type": "Float"},
                {"key": "n_initial_points", "value": "20", "type": "Integer"},
                {"key": "num_samples", "value": "20", "type": "Integer"},
                {"key": "seed", "value": "1", "type": "Integer"},
            ],
            "description": "Hyperparameter search using the tree-structured Parzen estimator algorithm.",
        },
        {
            "name": "anneal_search",
            "params": [
                {"key": "avg_best_idx", "value": "2.0", "type": "Float"},
                {"key": "shrink_coef", "value": "0.1", "type": "Float"},
                {"key": "num_samples", "value": "20", "type": "Integer"},
                {"key": "seed", "value": "1", "type": "Integer"},
            ],
            "description": "Hyperparameter search using simulated annealing algorithm.",
        },
    ],
}
"""The search-algorithm catalogue, as in the documentation's example."""

TRIAL_NOT_FOUND = "ModelArts.2762"
"""Error code the simulator answers (404) for an unknown trial id; chosen here, not documented."""


@dataclass
class Faults:
    """Faults to inject; assign a new one to ``sim.faults`` at any time.

    * ``latency``: seconds every affected request sleeps (really) before it is answered.
    * ``drop_next``: the next N affected requests get their connection closed without a response.
    * ``rate_limit_next``: the next N get 429 with ``rate_limit_code``
      (``ModelArts.2799`` or ``APIG.0308``) and ``Retry-After: retry_after``
      (no header when ``None``).
    * ``server_error_next``: the next N get ``server_error_status`` (500/502/503/504).
    * ``error_next``: the next N get ``error_status`` with ``error_code`` (any
      error the service might send, e.g. 403 ``ModelArts.2784``).
    * ``non_json_next``: the next N get ``non_json_status`` with an HTML body
      (``Content-Type: text/html``), as a gateway error page would be.
    * ``empty_page_next``: the next N autosearch-trials pages come back with no
      rows (``count`` 0) although ``total`` is unchanged.
    * ``truncate_next``: the next N successful bodies are cut in half;
      ``truncate_mode="body"`` sends a matching ``Content-Length`` (valid HTTP,
      invalid JSON), ``"connection"`` announces the full length and closes early.
    * ``insert_trials_per_page``: after each autosearch-trials page served, that
      job gains this many new pending trials, listed at ``insert_position``.
    * ``path_contains``: when set, only requests whose path contains it are affected.

    The ``*_next`` counters are decremented by the simulator as faults fire.
    """

    latency: float = 0.0
    drop_next: int = 0
    rate_limit_next: int = 0
    rate_limit_code: Literal["ModelArts.2799", "APIG.0308"] = "ModelArts.2799"
    retry_after: float | None = 1.0
    server_error_next: int = 0
    server_error_status: int = 503
    error_next: int = 0
    error_status: int = 403
    error_code: str = "ModelArts.2784"
    non_json_next: int = 0
    non_json_status: int = 200
    empty_page_next: int = 0
    truncate_next: int = 0
    truncate_mode: Literal["body", "connection"] = "body"
    insert_trials_per_page: int = 0
    insert_position: Literal["end", "start"] = "end"
    path_contains: str | None = None

    def applies_to(self, path: str) -> bool:
        """Whether a request to ``path`` is affected."""
        return self.path_contains is None or self.path_contains in path


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it: ``status`` is ``None`` when the connection was dropped."""

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    fault: str | None = None
    request_id: str | None = None
    time: float = 0.0


@dataclass
class _Response:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class _APIError(Exception):
    def __init__(self, status: int, code: str, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


_ID = r"([^/]+)"
_ROUTES: list[tuple[str, re.Pattern[str], str]] = [
    ("GET", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/autosearch-trials$"), "trials"),
    ("GET", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/autosearch-trials/{_ID}$"), "trial"),
    ("POST", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/autosearch-trial-earlystop/{_ID}$"), "earlystop"),
    ("GET", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}/autosearch-parameter-analysis$"), "analysis"),
    ("GET", re.compile(rf"^/v2/{_ID}/search-algorithms$"), "algorithms"),
    ("POST", re.compile(rf"^/v2/{_ID}/training-job-searches$"), "search"),
    ("GET", re.compile(rf"^/v2/{_ID}/training-jobs/{_ID}$"), "job"),
]


def _split_query(raw: str) -> list[tuple[str, str]]:
    """Query pairs as sent (``+`` is literal, as the signer treats it)."""
    pairs = []
    for chunk in raw.split("&"):
        if chunk:
            key, _, value = chunk.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


class _Server(ThreadingHTTPServer):
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
    server: _Server

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
        query = _split_query(raw_query)
        request_id = uuid.uuid4().hex
        faults = sim.faults
        affected = faults.applies_to(path)

        if affected and faults.latency > 0:
            time.sleep(faults.latency)
        fault = sim._take_fault(faults, "drop_next") if affected else False
        if fault:
            sim._log(self.command, path, query, None, "drop", request_id)
            self.close_connection = True
            return
        response: _Response | None = None
        fault_name: str | None = None
        if affected and sim._take_fault(faults, "rate_limit_next"):
            headers = {}
            if faults.retry_after is not None:
                ra = faults.retry_after
                headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
            if faults.rate_limit_code == "APIG.0308":
                msg = "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second"
            else:
                msg = "Services too many requests, try again later."
            response = _Response(429, {"error_code": faults.rate_limit_code, "error_msg": msg}, headers)
            fault_name = "rate_limit"
        elif affected and sim._take_fault(faults, "server_error_next"):
            status = faults.server_error_status
            response = _Response(status, {"error_code": "ModelArts.0010", "error_msg": f"Simulated server error ({status})."})
            fault_name = "server_error"
        elif affected and sim._take_fault(faults, "error_next"):
            response = _Response(faults.error_status, {"error_code": faults.error_code,
                                                       "error_msg": f"Simulated error {faults.error_code}."})
            fault_name = "error"
        elif affected and sim._take_fault(faults, "non_json_next"):
            raw = b"<html><head><title>Bad Gateway</title></head><body>upstream error</body></html>"
            response = _Response(faults.non_json_status, {}, {"Content-Type": "text/html"}, raw)
            fault_name = "non_json"
        if response is None:
            try:
                response = sim._dispatch(self.command, path, query, raw_query, dict(self.headers.items()), body)
            except _APIError as exc:
                response = _Response(exc.status, {"error_code": exc.code, "error_msg": exc.msg}, exc.headers)
            except Exception as exc:  # pragma: no cover - a simulator bug, reported not hidden
                logger.exception("simulator failure")
                response = _Response(
                    500, {"error_code": "ModelArts.0001", "error_msg": f"simulator failure: {type(exc).__name__}"}
                )
        route = sim._route_name(self.command, path)
        if (
            response.status == 200 and response.raw is None and route == "trials" and affected
            and sim._take_fault(faults, "empty_page_next")
        ):
            response.body["items"]["data"] = []
            response.body["count"] = 0
            fault_name = "empty_page"
        if response.status >= 400 and response.raw is None:
            response.body.setdefault("request_id", request_id)
        payload = response.raw if response.raw is not None else _dumps(response.body)
        truncate = (
            response.status == 200 and response.raw is None and affected
            and sim._take_fault(faults, "truncate_next")
        )
        if truncate:
            fault_name = "truncate"
        if (
            response.status == 200
            and affected
            and faults.insert_trials_per_page > 0
            and route == "trials"
        ):
            sim._insert_after_page(path, faults.insert_trials_per_page, faults.insert_position)
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


def _parse_int(value: str | None, default: int, *, name: str, low: int, high: int | None, code: str) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        raise _APIError(400, code, f"Invalid {name}: {value!r} is not an integer.") from None
    if number < low or (high is not None and number > high):
        bounds = f">= {low}" if high is None else f"between {low} and {high}"
        raise _APIError(400, code, f"Invalid {name}: {number} must be {bounds}.")
    return number


class Simulator:
    """A ModelArts-compatible server on loopback; see the module docstring.

    Options (keyword-only): ``seed`` (everything is reproducible from it but
    the credentials), ``n_trials`` for the first job and ``n_jobs`` jobs in all
    (the others get ``n_trials // 4 + 1`` trials), ``n_iterations`` per
    trial, ``max_concurrent`` running trials per job, ``error_rate``,
    ``elapsed`` (simulated seconds already past at start; ``None`` = every trial
    finished), ``offset_mode`` (``"records"`` or ``"pages"``), ``auth``
    (``"token"``, ``"aksk"`` or ``"any"``), ``faults``, ``host``/``port``
    (port 0 = any free port), ``project_id``/``token``/``ak``/``sk`` (random
    when not given), ``max_page_size``, ``time_per_request`` (simulated
    seconds added after each request, for polling loops),
    ``max_clock_skew`` (seconds; ``None`` = ``X-Sdk-Date`` is not checked),
    ``page_size_cap`` and ``echo_capped_limit`` (a silent cap on ``limit``).

    Use it as a context manager (``start()``/``close()`` otherwise). The
    secrets ``token`` and ``sk`` never appear in its repr.
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        n_trials: int = 100,
        n_jobs: int = 1,
        n_iterations: int = 12,
        max_concurrent: int = 4,
        error_rate: float = 0.05,
        elapsed: float | None = None,
        offset_mode: Literal["records", "pages"] = "records",
        auth: Literal["token", "aksk", "any"] = "any",
        faults: Faults | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        project_id: str | None = None,
        token: str | None = None,
        ak: str | None = None,
        sk: str | None = None,
        max_page_size: int = 1000,
        time_per_request: float = 0.0,
        max_clock_skew: float | None = None,
        page_size_cap: int | None = None,
        echo_capped_limit: bool = False,
    ) -> None:
        if offset_mode not in ("records", "pages"):
            raise ConfigurationError("offset_mode must be 'records' or 'pages'")
        if auth not in ("token", "aksk", "any"):
            raise ConfigurationError("auth must be 'token', 'aksk' or 'any'")
        if n_jobs < 1:
            raise ConfigurationError("n_jobs must be >= 1")
        self.seed = seed
        self.offset_mode = offset_mode
        self.auth = auth
        self.faults = faults if faults is not None else Faults()
        self.max_page_size = max_page_size
        self.time_per_request = time_per_request
        self.max_clock_skew = max_clock_skew
        self.page_size_cap = page_size_cap
        self.echo_capped_limit = echo_capped_limit
        self._rng = random.Random(seed)
        self.project_id = project_id or f"{self._rng.getrandbits(128):032x}"
        self.token = token or "MIIsim-" + secrets.token_urlsafe(24)
        self.ak = ak or "SIM" + secrets.token_hex(8).upper()
        self.sk = sk or secrets.token_urlsafe(30)
        self._host = host
        self._port = port
        self._n_iterations = n_iterations
        self._max_concurrent = max_concurrent
        self._error_rate = error_rate
        self._lock = threading.RLock()
        self._requests: list[RequestRecord] = []
        self._jobs: dict[str, SimulatedJob] = {}
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        for k in range(n_jobs):
            self.add_job(n_trials=n_trials if k == 0 else n_trials // 4 + 1, elapsed=elapsed)

    # -------------------------------------------------------------- lifecycle
    def start(self) -> Simulator:
        """Start serving in a background thread (idempotent); returns ``self``."""
        if self._server is None:
            self._server = _Server((self._host, self._port), self)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                name="hpo-analytics-simulator", daemon=True,
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and close every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        with server.sockets_lock:
            sockets = list(server.open_sockets)
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        url = self.url if self._server is not None else "not started"
        return (
            f"Simulator(url={url!r}, project_id={self.project_id!r}, jobs={len(self._jobs)}, "
            f"offset_mode={self.offset_mode!r}, auth={self.auth!r})"
        )

    @property
    def url(self) -> str:
        """``http://HOST:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("the simulator is not running; use it as a context manager or call start()")
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        """The port the server listens on."""
        return int(self.url.rsplit(":", 1)[1])

    # ------------------------------------------------------------------ state
    @property
    def job_ids(self) -> list[str]:
        """Ids of the simulated jobs, in creation order."""
        with self._lock:
            return list(self._jobs)

    @property
    def jobs(self) -> dict[str, SimulatedJob]:
        """The simulated jobs by id (live objects; hold no reference across requests)."""
        with self._lock:
            return dict(self._jobs)

    def job(self, job_id: str | None = None) -> SimulatedJob:
        """One job (the first when ``job_id`` is ``None``)."""
        with self._lock:
            return self._jobs[job_id] if job_id is not None else next(iter(self._jobs.values()))

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Forget the logged requests."""
        with self._lock:
            self._requests.clear()

    def add_job(
        self,
        *,
        n_trials: int,
        seed: int | None = None,
        name: str | None = None,
        n_iterations: int | None = None,
        max_concurrent: int | None = None,
        elapsed: float | None = None,
        reward_attrs: Sequence[Any] | None = None,
    ) -> str:
        """Create another job; returns its id. ``elapsed=None`` finishes every trial.

        ``reward_attrs`` replaces the metrics its details declare (default:
        ``acc`` max, then ``loss`` min; see :data:`hpo_analytics.synthetic.REWARD_ATTRS`);
        the entries are served as given, malformed ones included.
        """
        with self._lock:
            k = len(self._jobs)
            job_seed = self.seed * 1000 + k if seed is None else seed
            job_id = str(uuid.UUID(int=self._rng.getrandbits(128), version=4))
            job = SimulatedJob.create(
                job_id=job_id,
                name=name or f"autosearch-sim-{k:02d}",
                n_trials=n_trials,
                seed=job_seed,
                n_iterations=n_iterations or self._n_iterations,
                max_concurrent=max_concurrent or self._max_concurrent,
                error_rate=self._error_rate,
                create_time_ms=1_700_000_000_000 + k * 3_600_000,
                reward_attrs=reward_attrs,
            )
            if elapsed is None:
                job.run_to_completion()
            else:
                job.advance(elapsed)
            self._jobs[job_id] = job
            return job_id

    def insert_trials(self, job_id: str, n: int, *, position: Literal["end", "start"] = "end") -> list[str]:
        """Add ``n`` pending trials to a job; returns their ids."""
        with self._lock:
            return self._jobs[job_id].insert_trials(n, position=position)

    def advance(self, seconds: float) -> None:
        """Advance every job's simulated clock by ``seconds``."""
        with self._lock:
            for job in self._jobs.values():
                job.advance(seconds)

    def run_to_completion(self) -> None:
        """Advance every job until all its trials have finished."""
        with self._lock:
            for job in self._jobs.values():
                job.run_to_completion()

    # ------------------------------------------------------------- internals
    def _take_fault(self, faults: Faults, name: str) -> bool:
        with self._lock:
            left = getattr(faults, name)
            if left > 0:
                setattr(faults, name, left - 1)
                return True
            return False

    def _log(self, method: str, path: str, query: list[tuple[str, str]], status: int | None,
             fault: str | None, request_id: str) -> None:
        with self._lock:
            self._requests.append(
                RequestRecord(method, path, dict(query), status, fault, request_id, time.monotonic())
            )
            if self.time_per_request > 0:
                for job in self._jobs.values():
                    job.advance(self.time_per_request)

    @staticmethod
    def _route_name(method: str, path: str) -> str | None:
        for m, pattern, name in _ROUTES:
            if m == method and pattern.match(path):
                return name
        return None

    def _insert_after_page(self, path: str, n: int, position: Literal["end", "start"]) -> None:
        match = _ROUTES[0][1].match(path)
        if match is None:  # pragma: no cover
            return
        with self._lock:
            job = self._jobs.get(unquote(match.group(2)))
            if job is not None:
                job.insert_trials(n, position=position)

    def _check_auth(self, method: str, path: str, raw_query: str, headers: dict[str, str], body: bytes) -> None:
        lowered = {k.lower(): v for k, v in headers.items()}
        token = lowered.get("x-auth-token")
        authorization = lowered.get("authorization")
        if self.auth in ("aksk", "any") and authorization:
            self._check_signature(method, path, raw_query, lowered, body, authorization)
            return
        if self.auth in ("token", "any") and token is not None:
            if not hmac.compare_digest(token.encode(), self.token.encode()):
                raise _APIError(401, "APIG.0301", "Incorrect IAM authentication information: decrypt token fail")
            return
        if self.auth == "aksk":
            raise _APIError(401, "APIG.0301", "Incorrect IAM authentication information: Authorization not found")
        raise _APIError(401, "APIG.0301", "Incorrect IAM authentication information: x-auth-token not found")

    def _check_signature(self, method: str, path: str, raw_query: str, lowered: dict[str, str],
                         body: bytes, authorization: str) -> None:
        from . import signing

        fail = "Incorrect IAM authentication information: verify aksk signature fail"
        try:
            access_key, signed_headers, signature = signing.parse_authorization(authorization)
        except ValueError:
            raise _APIError(401, "APIG.0301", fail) from None
        names = signed_headers.split(";")
        if access_key != self.ak or "x-sdk-date" not in names or any(n not in lowered for n in names):
            raise _APIError(401, "APIG.0301", fail)
        if self.max_clock_skew is not None:
            try:
                signed_at = signing.parse_sdk_date(lowered["x-sdk-date"])
            except ValueError:
                raise _APIError(401, "APIG.0301", fail) from None
            skew = abs((datetime.now(timezone.utc) - signed_at).total_seconds())
            if skew > self.max_clock_skew:
                raise _APIError(401, "APIG.0303", "App authentication information: signature expired")
        _, expected = signing.compute_signature(
            method=method,
            host=lowered.get("host", ""),
            path=path,
            query=_split_query(raw_query),
            headers={n: lowered[n] for n in names},
            body=body,
            sk=self.sk,
        )
        if not hmac.compare_digest(expected, signature.lower()):
            raise _APIError(401, "APIG.0301", fail)

    def _job_or_400(self, job_id: str) -> SimulatedJob:
        job = self._jobs.get(job_id)
        if job is None:
            raise _APIError(400, "ModelArts.2775", f"Training job {job_id} not found.")
        return job

    def _dispatch(self, method: str, path: str, query: list[tuple[str, str]], raw_query: str,
                  headers: dict[str, str], body: bytes) -> _Response:
        for m, pattern, name in _ROUTES:
            match = pattern.match(path)
            if match and m == method:
                break
        else:
            raise _APIError(404, "APIG.0101", "The API does not exist or has not been published in the environment.")
        self._check_auth(method, path, raw_query, headers, body)
        groups = [unquote(g) for g in match.groups()]
        if groups[0] != self.project_id:
            raise _APIError(404, "ModelArts.2786", "The project ID in the URL does not match the token's project.")
        q = dict(query)
        with self._lock:
            if name == "algorithms":
                return _Response(200, json.loads(json.dumps(SEARCH_ALGORITHMS)))
            if name == "search":
                return _Response(200, self._search(body))
            job = self._job_or_400(groups[1])
            if name == "trials":
                limit = _parse_int(q.get("limit"), 50, name="limit", low=1, high=self.max_page_size, code="ModelArts.2764")
                offset = _parse_int(q.get("offset"), 0, name="offset", low=0, high=None, code="ModelArts.2764")
                applied = min(limit, self.page_size_cap) if self.page_size_cap else limit
                body = job.trials_response(offset=offset, limit=applied, offset_mode=self.offset_mode)
                if not self.echo_capped_limit:
                    body["limit"] = limit
                return _Response(200, body)
            if name == "job":
                return _Response(200, job.details())
            if name == "analysis":
                return _Response(200, job.parameter_analysis())
            trial_id = groups[2]
            try:
                if name == "trial":
                    return _Response(200, job.history_response(trial_id))
                job.early_stop(trial_id)
                return _Response(200, {"earlystop_trial": trial_id})
            except TrialNotFoundError:
                raise _APIError(404, TRIAL_NOT_FOUND, f"Trial {trial_id} not found in training job {job.job_id}.") from None
            except TrialFinishedError as exc:
                raise _APIError(
                    409, "ModelArts.2796",
                    f"Trial {trial_id} cannot be stopped: it has already finished (status {exc.status}).",
                ) from None

    def _search(self, body: bytes) -> dict[str, Any]:
        try:
            req = json.loads(body.decode("utf-8")) if body.strip() else {}
        except (UnicodeDecodeError, ValueError):
            raise _APIError(400, "ModelArts.2788", "Invalid request body: not JSON.") from None
        if not isinstance(req, dict):
            raise _APIError(400, "ModelArts.2788", "Invalid request body: not a JSON object.")
        limit = _parse_int(_text(req.get("limit")), 10, name="limit", low=1, high=50, code="ModelArts.2788")
        offset = _parse_int(_text(req.get("offset")), 0, name="offset", low=0, high=None, code="ModelArts.2788")
        sort_by = req.get("sort_by") or "create_time"
        order = req.get("order") or "desc"
        if sort_by not in ("create_time", "name") or order not in ("asc", "desc"):
            raise _APIError(400, "ModelArts.2788", "Invalid sort_by or order.")
        jobs = list(self._jobs.values())
        for flt in req.get("filters") or []:
            jobs = [j for j in jobs if _matches(j, flt)] if _active(flt) else jobs
        key = (lambda j: j.create_time_ms) if sort_by == "create_time" else (lambda j: j.name)
        jobs.sort(key=key, reverse=order == "desc")
        page = jobs[offset * limit: (offset + 1) * limit]
        return {
            "total": len(jobs),
            "count": len(page),
            "limit": limit,
            "offset": offset,
            "sort_by": sort_by,
            "order": order,
            "group_by": req.get("group_by") or "",
            "workspace_id": req.get("workspace_id") or "0",
            "ai_project": "default-ai-project",
            "items": [j.details() for j in page],
        }


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_FILTER_OPERATORS = {
    "name": ("like", "in", "not"),
    "phase": ("in", "not"),
    "kind": ("in", "not"),
    "create_time": ("between",),
    "algorithm_name": ("like", "in", "not"),
    "user_id": ("in", "not"),
}


def _active(flt: Any) -> bool:
    if not isinstance(flt, dict):
        raise _APIError(400, "ModelArts.2788", "Invalid filter: not an object.")
    key, op = flt.get("key"), flt.get("operator")
    if key not in _FILTER_OPERATORS:
        raise _APIError(400, "ModelArts.2807", f"Unsupported condition key: {key!r}.")
    if op not in _FILTER_OPERATORS[key]:
        raise _APIError(400, "ModelArts.2808", f"Unsupported condition operator {op!r} for key {key!r}.")
    values = flt.get("value") or []
    if not isinstance(values, list):
        raise _APIError(400, "ModelArts.2809", "Unsupported condition value: not a list.")
    return any(str(v) != "" for v in values)


def _matches(job: SimulatedJob, flt: dict[str, Any]) -> bool:
    key, op = flt["key"], flt["operator"]
    values = [str(v) for v in flt.get("value") or []]
    if key == "create_time":
        lo, hi = (values + ["", ""])[:2]
        try:
            return (lo == "" or job.create_time_ms >= int(lo)) and (hi == "" or job.create_time_ms <= int(hi))
        except ValueError:
            raise _APIError(400, "ModelArts.2809", "Unsupported condition value for create_time.") from None
    actual = {
        "name": job.name,
        "phase": job.phase,
        "kind": "autosearch_job",
        "algorithm_name": "",
        "user_id": job.user_name,
    }[key]
    wanted = [v for v in values if v != ""]
    if key in ("phase", "kind"):
        actual, wanted = actual.lower(), [v.lower() for v in wanted]
    if op == "like":
        return any(v in actual for v in wanted)
    if op == "in":
        return actual in wanted
    return actual not in wanted

