"""Telling people what the watch loop did: a webhook POST or a command, delivered off the loop's thread.

A :class:`Notifier` is what :func:`~hpo_analytics.stopping.watch` takes as
``notify``: calling it with an event (a JSON-able dict, see
:data:`~hpo_analytics.stopping.NOTIFY_EVENTS`) only queues it. One worker
thread hands each event to every sink in turn — :class:`WebhookSink` (an HTTP
POST of the event as JSON, with a timeout and a bounded number of attempts)
and :class:`CommandSink` (a command run without a shell, the event as JSON on
its stdin). So a slow or broken receiver never blocks a cycle, never delays or
repeats a stop: a delivery that fails is kept, as a
:class:`~hpo_analytics.errors.NotificationError`, for the watch to record in
its ledger (:meth:`Notifier.failures`).

Dry-run events (``would_stop``, ``would_terminate``) are dropped unless the
notifier was built with ``dry_run=True``. Events carry ids, rule names,
numbers and error messages the client has already cleared of secrets; a
webhook URL is shown (in reprs and errors) without its path and query, which
often hold a secret of their own.
"""

from __future__ import annotations

import json
import logging
import queue
import shlex
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

from ..errors import ConfigurationError, NotificationError

__all__ = ["CommandSink", "DRY_RUN_EVENTS", "Notifier", "WebhookSink"]

logger = logging.getLogger("hpo_analytics.stopping")

#: Events that only say what a dry run would have done: sent only when asked for.
DRY_RUN_EVENTS = frozenset({"would_stop", "would_terminate"})

_Sink = Callable[[dict[str, Any]], None]


def _public_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


class WebhookSink:
    """POSTs each event as JSON to ``url``; a 2xx answer is delivery.

    Up to ``attempts`` tries, each with ``timeout`` seconds, ``backoff``
    seconds apart (doubling; ``sleep`` is injectable), for connection
    failures, timeouts, 429 and 5xx; any other answer fails at once.
    ``transport`` replaces httpx's network transport (tests).
    """

    def __init__(self, url: str, *, timeout: float = 5.0, attempts: int = 3, backoff: float = 0.5,
                 sleep: Callable[[float], None] = time.sleep, transport: Any = None) -> None:
        parts = urlsplit(url) if isinstance(url, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigurationError("the webhook must be an http:// or https:// URL")
        if not timeout > 0 or attempts < 1 or backoff < 0:
            raise ConfigurationError("the webhook needs timeout > 0, attempts >= 1 and backoff >= 0")
        self._url = url
        self._timeout = float(timeout)
        self._attempts = int(attempts)
        self._backoff = float(backoff)
        self._sleep = sleep
        self._transport = transport

    def __repr__(self) -> str:
        return f"WebhookSink({_public_url(self._url)}/…)"

    def __call__(self, event: dict[str, Any]) -> None:
        import httpx

        body = json.dumps(event, sort_keys=True, allow_nan=False).encode("utf-8")
        headers = {"Content-Type": "application/json", "User-Agent": "hpo-analytics-watch"}
        where = _public_url(self._url)
        problem = ""
        with httpx.Client(timeout=self._timeout, transport=self._transport, follow_redirects=False) as http:
            for attempt in range(1, self._attempts + 1):
                try:
                    answer = http.post(self._url, content=body, headers=headers)
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}"
                else:
                    if 200 <= answer.status_code < 300:
                        return
                    problem = f"HTTP {answer.status_code}"
                    if answer.status_code != 429 and answer.status_code < 500:
                        break
                if attempt < self._attempts:
                    self._sleep(self._backoff * 2 ** (attempt - 1))
        raise NotificationError(f"webhook {where} did not take the {event.get('event')} event: {problem} "
                                f"(after {attempt} attempt{'s' if attempt > 1 else ''})")


class CommandSink:
    """Runs ``command`` (split like a shell would, but run without one) with the event as JSON on stdin.

    Exit status 0 is delivery; another status, a command that cannot be
    started, or one still running after ``timeout`` seconds is a failure.
    """

    def __init__(self, command: str | Sequence[str], *, timeout: float = 10.0) -> None:
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        if not argv:
            raise ConfigurationError("the notify command is empty")
        if not timeout > 0:
            raise ConfigurationError("the notify command needs timeout > 0")
        self._argv = argv
        self._timeout = float(timeout)

    def __repr__(self) -> str:
        return f"CommandSink({self._argv[0]!r})"

    def __call__(self, event: dict[str, Any]) -> None:
        body = json.dumps(event, sort_keys=True, allow_nan=False)
        name = self._argv[0]
        try:
            done = subprocess.run(self._argv, input=body, text=True, capture_output=True, timeout=self._timeout,
                                  check=False)
        except subprocess.TimeoutExpired:
            raise NotificationError(f"notify command {name!r} ran longer than {self._timeout:g} s") from None
        except OSError as exc:
            raise NotificationError(f"notify command {name!r} could not start: {exc.strerror or exc}") from None
        if done.returncode != 0:
            tail = (done.stderr or "").strip().splitlines()[-1:] or [""]
            raise NotificationError(f"notify command {name!r} exited with status {done.returncode}"
                                    + (f": {tail[0][:200]}" if tail[0] else ""))


class Notifier:
    """Queues events for ``sinks`` and delivers them on one worker thread (see the module docstring).

    ``dry_run=True`` also sends :data:`DRY_RUN_EVENTS`. Use it as a context
    manager, or call :meth:`close`, which waits (up to ``timeout`` seconds)
    for what is queued.
    """

    def __init__(self, sinks: Sequence[_Sink], *, dry_run: bool = False) -> None:
        self._sinks = list(sinks)
        self._dry_run = bool(dry_run)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._failed: list[tuple[dict[str, Any], NotificationError]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._closed = False

    def __repr__(self) -> str:
        return f"Notifier({self._sinks!r}, dry_run={self._dry_run})"

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __call__(self, event: dict[str, Any]) -> None:
        """Queue ``event`` (a dry-run event only with ``dry_run``); returns at once."""
        if not self._sinks or self._closed or (event.get("event") in DRY_RUN_EVENTS and not self._dry_run):
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._work, name="hpo-analytics-notify", daemon=True)
                self._thread.start()
        self._queue.put(dict(event))

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every queued event was tried (at most ``timeout`` seconds); whether they all were."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.01)
        return True

    def failures(self, job_id: str | None = None) -> list[tuple[dict[str, Any], NotificationError]]:
        """Take the failed deliveries (of one job's events, with ``job_id``): each event and its error."""
        with self._lock:
            taken = [f for f in self._failed if job_id is None or f[0].get("job_id") == job_id]
            self._failed = [f for f in self._failed if f not in taken]
        return taken

    def close(self, timeout: float = 30.0) -> None:
        """Deliver what is queued (waiting at most ``timeout`` seconds), then stop the worker."""
        if self._closed:
            return
        self.flush(timeout)
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=1.0)

    def _work(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                for sink in self._sinks:
                    try:
                        sink(event)
                    except NotificationError as exc:
                        self._fail(event, exc)
                    except Exception as exc:  # a sink's bug must not kill the worker and silence the rest
                        self._fail(event, NotificationError(f"{sink!r} failed: {type(exc).__name__}: {exc}"))
            finally:
                self._queue.task_done()

    def _fail(self, event: dict[str, Any], exc: NotificationError) -> None:
        logger.warning("notification %s of job %s not delivered: %s", event.get("event"), event.get("job_id"), exc)
        with self._lock:
            self._failed.append((event, exc))
