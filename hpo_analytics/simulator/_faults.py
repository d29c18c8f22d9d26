"""Fault injection: what the simulator does wrong on purpose, and the error answers it gives instead of serving.

:class:`Faults` (public, replaceable at run time as ``sim.faults``) says
which faults to apply; :func:`take` counts a ``*_next`` fault down when it
fires, and :func:`error_answer` picks the error an affected request gets
before it is routed. The handler in ``_http`` applies the rest (latency,
dropped connections, emptied pages, truncated bodies, inserted trials) where
they happen.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Literal

from ._wire import Response

__all__ = ["Faults", "error_answer", "take"]


@dataclass
class Faults:
    """Faults to inject; assign a new one to ``sim.faults`` at any time.

    * ``latency``: seconds every affected request sleeps before it is answered (a real
      ``time.sleep`` in the handler thread, unless the simulator was given another ``sleep``).
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



def take(faults: Faults, name: str, lock: threading.RLock) -> bool:
    """Whether the ``*_next`` fault ``name`` fires for this request; counts it down (under ``lock``) when it does."""
    with lock:
        left = getattr(faults, name)
        if left > 0:
            setattr(faults, name, left - 1)
            return True
        return False


def error_answer(faults: Faults, lock: threading.RLock) -> tuple[Response, str] | None:
    """The answer an affected request gets instead of being served, and the fault's name; ``None`` when none fires.

    Tried in this order, the first that fires wins (later counters are left
    alone): 429, 5xx, another error status, a non-JSON body.
    """
    if take(faults, "rate_limit_next", lock):
        headers = {}
        if faults.retry_after is not None:
            ra = faults.retry_after
            headers["Retry-After"] = str(int(ra)) if float(ra).is_integer() else str(ra)
        if faults.rate_limit_code == "APIG.0308":
            msg = "The throttling threshold has been reached: policy user over ratelimit,limit:200,time:1 second"
        else:
            msg = "Services too many requests, try again later."
        return Response(429, {"error_code": faults.rate_limit_code, "error_msg": msg}, headers), "rate_limit"
    if take(faults, "server_error_next", lock):
        status = faults.server_error_status
        body = {"error_code": "ModelArts.0010", "error_msg": f"Simulated server error ({status})."}
        return Response(status, body), "server_error"
    if take(faults, "error_next", lock):
        body = {"error_code": faults.error_code, "error_msg": f"Simulated error {faults.error_code}."}
        return Response(faults.error_status, body), "error"
    if take(faults, "non_json_next", lock):
        raw = b"<html><head><title>Bad Gateway</title></head><body>upstream error</body></html>"
        return Response(faults.non_json_status, {}, {"Content-Type": "text/html"}, raw), "non_json"
    return None
