"""The simulator's lifecycle and state: :class:`Simulator` owns the jobs, the request log and the server thread.

Requests are answered by ``_http``, which reads the state kept here under
``Simulator._lock`` and logs each request through ``Simulator._log``.
"""

from __future__ import annotations

import random
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ..errors import ConfigurationError, StateError
from ._faults import Faults
from ._http import HTTPServer
from .synthetic import SimulatedJob

__all__ = ["RequestRecord", "Simulator"]

_FLEET_SPACES = ("default", "gbdt", "conditional")
_FLEET_METRICS = ("acc", "loss", "rmse")
_FLEET_ALGORITHMS = ("bayes_opt_search", "tpe_search", "anneal_search")


@dataclass(frozen=True)
class RequestRecord:
    """One request as the simulator saw it: ``status`` is ``None`` when the connection was dropped.

    ``time`` is the simulator's ``clock`` (``time.monotonic`` by default) when the request was logged.
    """

    method: str
    path: str
    query: dict[str, str]
    status: int | None
    fault: str | None = None
    request_id: str | None = None
    time: float = 0.0


class Simulator:
    """A ModelArts-compatible server on loopback; see :mod:`hpo_analytics.simulator`.

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
    ``page_size_cap`` and ``echo_capped_limit`` (a silent cap on ``limit``),
    ``clock`` (what stamps :attr:`RequestRecord.time`; ``time.monotonic``)
    and ``sleep`` (what waits out ``Faults.latency``; ``time.sleep``). Bad
    options raise :class:`~hpo_analytics.errors.ConfigurationError`.

    ``mixed=True`` makes a fleet: every job gets ``n_trials`` trials, the
    search spaces cycle through ``default``, ``gbdt`` and ``conditional``,
    the metrics through ``acc`` (max), ``loss`` and ``rmse`` (min) in another
    rhythm, the algorithms through the catalogue's, and every fourth job
    (the second, sixth, ...) is still running (``running_elapsed``
    simulated seconds in; the others are finished, or at ``elapsed`` when
    given).

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
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], object] | None = None,
        mixed: bool = False,
        running_elapsed: float = 120.0,
    ) -> None:
        if offset_mode not in ("records", "pages"):
            raise ConfigurationError("offset_mode must be 'records' or 'pages'")
        if auth not in ("token", "aksk", "any"):
            raise ConfigurationError("auth must be 'token', 'aksk' or 'any'")
        if n_jobs < 1:
            raise ConfigurationError("n_jobs must be >= 1")
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
            raise ConfigurationError(f"port must be an integer from 0 to 65535, not {port!r}")
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
        self._clock = clock if clock is not None else time.monotonic
        self._sleep = sleep if sleep is not None else time.sleep
        self._lock = threading.RLock()
        self._requests: list[RequestRecord] = []
        self._jobs: dict[str, SimulatedJob] = {}
        self._expired_tokens: set[str] = set()
        self._server: HTTPServer | None = None
        self._thread: threading.Thread | None = None
        for k in range(n_jobs):
            if not mixed:
                self.add_job(n_trials=n_trials if k == 0 else n_trials // 4 + 1, elapsed=elapsed)
                continue
            self.add_job(
                n_trials=n_trials,
                elapsed=running_elapsed if k % 4 == 1 else elapsed,
                space=_FLEET_SPACES[k % 3],
                metric=_FLEET_METRICS[(k + k // 3) % 3],
                algorithm=_FLEET_ALGORITHMS[(k // 2) % 3],
            )

    # -------------------------------------------------------------- lifecycle
    def start(self) -> Simulator:
        """Start serving in a background thread (idempotent); returns ``self``."""
        if self._server is None:
            self._server = HTTPServer((self._host, self._port), self)
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
            raise StateError("the simulator is not running; use it as a context manager or call start()")
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
        space: str = "default",
        metric: str = "acc",
        algorithm: str = "bayes_opt_search",
    ) -> str:
        """Create another job; returns its id. ``elapsed=None`` finishes every trial.

        ``space`` is its search space (``default``, ``gbdt`` or
        ``conditional``; see :data:`hpo_analytics.simulator.synthetic.SPACES`),
        ``metric`` what it searches on (``acc``, ``loss`` or ``rmse``), which
        sets the metrics its details declare (default: ``acc`` max, then
        ``loss`` min; see :data:`hpo_analytics.simulator.synthetic.METRICS`)
        and the rendered columns; ``algorithm`` the ``algo_configs`` entry.
        ``reward_attrs`` replaces the declared metrics; the entries are
        served as given, malformed ones included.
        """
        if elapsed is not None and not elapsed >= 0:
            raise ConfigurationError(f"elapsed must be None or a number of seconds >= 0, not {elapsed!r}")
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
                space=space,
                metric=metric,
                algorithm=algorithm,
            )
            if elapsed is None:
                job.run_to_completion()
            else:
                job.advance(elapsed)
            self._jobs[job_id] = job
            return job_id

    def end_job(self, job_id: str, phase: str = "Terminated") -> None:
        """End a job now with ``phase`` (``Terminated``, ``Failed``, ``Abnormal`` or ``Completed``).

        Its trials keep the status they had, as on the service (see :meth:`SimulatedJob.end`).
        """
        with self._lock:
            self._jobs[job_id].end(phase)

    def remove_job(self, job_id: str) -> None:
        """Delete a job: from now on it is not found (400 ``ModelArts.2775``) and not listed."""
        with self._lock:
            del self._jobs[job_id]

    def expire_token(self) -> str:
        """Expire the IAM token (requests with it get 401 ``token expires``); returns the new valid token."""
        with self._lock:
            self._expired_tokens.add(self.token)
            self.token = "MIIsim-" + secrets.token_urlsafe(24)
            return self.token

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
    def _log(self, method: str, path: str, query: list[tuple[str, str]], status: int | None,
             fault: str | None, request_id: str) -> None:
        with self._lock:
            self._requests.append(
                RequestRecord(method, path, dict(query), status, fault, request_id, self._clock())
            )
            if self.time_per_request > 0:
                for job in self._jobs.values():
                    job.advance(self.time_per_request)
