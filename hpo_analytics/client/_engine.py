"""The request engine: every call the client makes goes through :meth:`Engine.call`.

One attempt is: build the request (:meth:`Engine.build`), send it once with
the auth (:meth:`Engine.send_once`; an error status or a transport failure
becomes the typed error of :mod:`._errors`), decode the JSON body
(:meth:`Engine.decode`).  A failed attempt is then judged:

* by default, a request marked idempotent is retried when
  :meth:`Engine.retryable` says so — a transport failure always, a body that
  is not JSON only when :attr:`RetryPolicy.retry_malformed
  <hpo_analytics.client.RetryPolicy.retry_malformed>`, throttling always, and
  any other status only when it is in ``retry_statuses``; a request that is
  not idempotent is never retried;
* a caller with its own rule passes ``on_failure``, a
  :data:`FailureHook` that returns :data:`RETRY`, :data:`RAISE` or
  :class:`Return` (give up sending and return a value instead).  The early
  stop uses it (see :mod:`._early_stop`).

A retry waits as the :class:`~hpo_analytics.client.RetryPolicy` says
(backoff, ``Retry-After``, attempts, deadline) through its injectable
``sleep``; when the policy gives up, the last error is raised.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any, Union

import httpx

from .. import _jsonutil
from .._version import __version__
from ..errors import (
    APIError,
    AuthenticationError,
    HpoAnalyticsError,
    NotPicklableError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseFormatError,
    TransportError,
)
from ..signing import canonical_query_string
from ._errors import Redactor, error_from_response, error_from_transport, format_error
from ._retry import RetryPolicy

__all__ = ["Engine", "FailureHook", "RAISE", "RETRY", "Return", "Verdict"]

logger = logging.getLogger("hpo_analytics.client")

_JSON = "application/json"
_JSON_BODY = "application/json;charset=UTF-8"


class Verdict(Enum):
    """What to do after a failed attempt, short of returning a value."""

    RETRY = "retry"  # wait as the policy says and send again; raise when it gives up
    RAISE = "raise"  # raise the error now


RETRY = Verdict.RETRY
RAISE = Verdict.RAISE


@dataclass(frozen=True)
class Return:
    """Stop sending and make :meth:`Engine.call` return ``value`` instead of a body."""

    value: Any


#: ``on_failure(error) -> RETRY | RAISE | Return(value)``, called for each failed attempt.
FailureHook = Callable[[HpoAnalyticsError], Union[Verdict, Return]]


def _never(exc: HpoAnalyticsError) -> Verdict:
    return RAISE


class _BorrowedTransport(httpx.BaseTransport):
    """Wraps a caller's transport so closing our httpx.Client leaves it open."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:  # the caller owns it
        pass


class Engine:
    """Sends requests for one client: its connection pool, auth, secrets redactor and retry policy.

    ``transport`` replaces httpx's network transport and is never closed by
    :meth:`close`; without one, httpx's proxy settings from the environment
    apply.  ``max_concurrency`` sizes the connection pool and
    :meth:`executor`.
    """

    def __init__(
        self,
        *,
        endpoint: str,
        project_id: str,
        auth: httpx.Auth,
        redact: Redactor,
        retry: RetryPolicy,
        max_concurrency: int,
        timeout: float | httpx.Timeout,
        verify: bool | str,
        transport: httpx.BaseTransport | None,
    ) -> None:
        self.endpoint = endpoint
        self.retry = retry
        self.max_concurrency = max_concurrency
        self._auth = auth
        self._redact = redact
        limits = httpx.Limits(max_connections=max_concurrency + 2, max_keepalive_connections=max_concurrency + 2)
        headers = {
            "Content-Type": _JSON,
            "X-Project-Id": project_id,
            "User-Agent": f"hpo-analytics/{__version__}",
        }
        self._http = httpx.Client(
            timeout=timeout,
            verify=verify,
            limits=limits,
            headers=headers,
            transport=_BorrowedTransport(transport) if transport is not None else None,
            follow_redirects=False,
            trust_env=transport is None,
        )
        self._closed = False
        self._n_sent = 0
        self._count_lock = threading.Lock()
        self._shared: ThreadPoolExecutor | None = None
        self._shared_lock = threading.Lock()

    @property
    def requests_sent(self) -> int:
        """How many requests this engine has sent (every attempt, retries included)."""
        return self._n_sent

    def close(self) -> None:
        """Close the connection pool (idempotent); later requests raise."""
        if not self._closed:
            self._closed = True
            with self._shared_lock:
                shared, self._shared = self._shared, None
            if shared is not None:
                shared.shutdown(wait=True, cancel_futures=True)
            self._http.close()

    def __reduce__(self) -> Any:
        raise NotPicklableError("the request engine holds credentials and cannot be pickled")

    # ------------------------------------------------------------------ one attempt

    def build(self, method: str, path: str, query: Sequence[tuple[str, object]], body: bytes | None) -> httpx.Request:
        """The request for ``path`` (from ``/v2/…``), its query in canonical order, with a JSON ``body`` or none."""
        qs = canonical_query_string(query)
        url = self.endpoint + path + (f"?{qs}" if qs else "")
        headers = {"Content-Type": _JSON_BODY} if body is not None else None
        return self._http.build_request(method, url, content=body if body is not None else b"", headers=headers)

    def send_once(self, request: httpx.Request) -> httpx.Response:
        """One attempt; raises the translated error (with its ``httpx`` cause) on failure."""
        if self._closed:
            raise HpoAnalyticsError("the client is closed")
        url = str(request.url)
        with self._count_lock:
            self._n_sent += 1
        try:
            response = self._http.send(request, auth=self._auth)
        except httpx.TransportError as exc:
            raise error_from_transport(exc, method=request.method, url=url, redact=self._redact) from exc
        if not 200 <= response.status_code < 300:
            raise error_from_response(response, method=request.method, url=url, redact=self._redact)
        return response

    def decode(self, request: httpx.Request, response: httpx.Response,
               read: Callable[[bytes], Any] | None = None) -> Any:
        """The JSON body of a success; :class:`ResponseFormatError` when it is empty or not complete JSON.

        ``read(content)`` replaces the JSON parse when given (it raises one of
        ``_jsonutil.JSONDecodeError`` for a body that is not JSON).
        """
        content = response.content
        try:
            return (read or _jsonutil.loads)(content)
        except _jsonutil.JSONDecodeError as exc:
            kind = "empty body" if not content else "body is not valid JSON (non-JSON or truncated)"
            err = format_error(kind, method=request.method, url=str(request.url), content=content, redact=self._redact)
            raise err from exc

    # ------------------------------------------------------------------ retries

    def retryable(self, exc: HpoAnalyticsError) -> bool:
        """Whether an idempotent request that failed with ``exc`` may be sent again."""
        if isinstance(exc, TransportError):  # no usable answer: sending again is the only way to get one
            return True
        if isinstance(exc, ResponseFormatError):  # an answer came, but not complete JSON
            return self.retry.retry_malformed
        if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
            return False
        if isinstance(exc, RateLimitedError):
            return True
        if isinstance(exc, APIError):
            return exc.status_code in self.retry.retry_statuses
        return False

    def wait(self, attempt: int, exc: HpoAnalyticsError, started: float, what: str) -> bool:
        """Sleep before the next attempt; False when the policy gives up."""
        retry_after = getattr(exc, "retry_after", None)
        delay = self.retry.delay(attempt, retry_after=retry_after, started=started)
        if delay is None:
            return False
        logger.info("retrying %s in %.2f s (attempt %d failed: %s)", what, delay, attempt, exc)
        self.retry.sleep(delay)
        return True

    def _read_rule(self, exc: HpoAnalyticsError) -> Verdict:
        return RETRY if self.retryable(exc) else RAISE

    def call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, object]] = (),
        json_body: Any = None,
        idempotent: bool = True,
        on_failure: FailureHook | None = None,
        read: Callable[[bytes], Any] | None = None,
    ) -> Any:
        """Send a request until it succeeds or the rule gives up; return its decoded JSON body.

        ``read`` decodes the body instead of the JSON parser (see :meth:`decode`);
        a body it finds malformed is retried as a malformed JSON body would be.

        Without ``on_failure`` an ``idempotent`` request is retried when
        :meth:`retryable` allows, any other never.  ``on_failure`` replaces
        that rule: it is called (while the error is being handled, so an
        error it raises keeps the failure as its context) with each failed
        attempt's error, and a :class:`Return` it gives is returned as is.
        """
        body = _jsonutil.dumps(json_body).encode("utf-8") if json_body is not None else None
        decide = on_failure if on_failure is not None else (self._read_rule if idempotent else _never)
        started = self.retry.clock()
        what = f"{method} {path}"
        attempt = 0
        while True:
            attempt += 1
            request = self.build(method, path, query, body)
            try:
                response = self.send_once(request)
                result = self.decode(request, response, read)
                logger.debug("%s -> %d (attempt %d)", what, response.status_code, attempt)
                return result
            except HpoAnalyticsError as exc:
                decision = decide(exc)
                if isinstance(decision, Return):
                    return decision.value
                if decision is RETRY and self.wait(attempt, exc, started, what):
                    continue
                raise

    # ------------------------------------------------------------------ concurrency

    def shared_executor(self) -> ThreadPoolExecutor | None:
        """The pool of ``max_concurrency`` threads kept for the engine's life (``None`` when that is 1).

        Started on first use and shut down by :meth:`close`: callers that
        send a few requests at a time, many times (the watch loop's per-trial
        histories), do not pay for starting threads on every call.  Its tasks
        must not wait on the pool themselves.
        """
        if self.max_concurrency <= 1:
            return None
        with self._shared_lock:
            if self._closed:  # its requests raise anyway: no threads started after close
                return None
            if self._shared is None:
                self._shared = ThreadPoolExecutor(max_workers=self.max_concurrency,
                                                  thread_name_prefix="hpo-analytics-shared")
            return self._shared

    def executor(self, n_tasks: int) -> ThreadPoolExecutor | None:
        """A pool of at most ``max_concurrency`` threads for ``n_tasks`` requests, or ``None`` when one would do."""
        workers = min(self.max_concurrency, n_tasks)
        if workers <= 1:
            return None
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hpo-analytics-client")
