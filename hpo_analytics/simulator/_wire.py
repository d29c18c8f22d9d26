"""What the simulator's modules share about answers: the response value, the error that becomes one, JSON, parsing.

An endpoint, the auth check or the job search raises :class:`_APIError` to
answer with a ModelArts error body; the handler in ``_http`` turns it (or a
:class:`Response`) into bytes with :func:`dumps`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from ..errors import HpoAnalyticsError

__all__ = ["Response", "dumps", "parse_int", "split_query"]

try:  # pragma: no cover - whichever is installed
    import orjson

    def dumps(value: Any) -> bytes:
        """``value`` as compact UTF-8 JSON."""
        return orjson.dumps(value)
except ImportError:  # pragma: no cover
    def dumps(value: Any) -> bytes:
        """``value`` as compact UTF-8 JSON."""
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass
class Response:
    """An answer to send: ``body`` as JSON, or ``raw`` bytes as they are (the non-JSON fault)."""

    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class _APIError(HpoAnalyticsError):
    """Raised inside the simulator to answer ``status`` with the error body ``{error_code: code, error_msg: msg}``.

    Never leaves the simulator: the request handler catches it.
    """

    def __init__(self, status: int, code: str, msg: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(msg)
        self.status = status
        self.code = code
        self.msg = msg
        self.headers = headers or {}


def split_query(raw: str) -> list[tuple[str, str]]:
    """Query pairs as sent (``+`` is literal, as the signer treats it)."""
    pairs = []
    for chunk in raw.split("&"):
        if chunk:
            key, _, value = chunk.partition("=")
            pairs.append((unquote(key), unquote(value)))
    return pairs


def parse_int(value: str | None, default: int, *, name: str, low: int, high: int | None, code: str) -> int:
    """An integer request parameter (``default`` when absent or empty); 400 ``code`` when not an integer in bounds."""
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
