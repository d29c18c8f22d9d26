"""Translation of HTTP responses and httpx exceptions into the error tree, in one place."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from .. import _jsonutil
from ..errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    TransportError,
)
from ._retry import parse_retry_after

__all__ = [
    "Redactor",
    "error_from_response",
    "error_from_transport",
    "format_error",
    "request_certainly_not_sent",
    "throttling_code",
]

_GATEWAY_RE = re.compile(r"^APIGW?\.(\d+)$", re.IGNORECASE)
_MAX_SNIPPET = 200


class Redactor:
    """Replaces every known secret in a text by ``***``."""

    __slots__ = ("_secrets",)

    def __init__(self, secrets: Iterable[str | None]) -> None:
        # Longest first, so a secret containing another is removed whole.
        self._secrets = tuple(sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True))

    def add(self, secret: str | None) -> None:
        """Also redact ``secret`` from now on (a token read again after the first expired)."""
        if secret and len(secret) >= 4 and secret not in self._secrets:
            self._secrets = tuple(sorted({*self._secrets, secret}, key=len, reverse=True))

    def __call__(self, text: str | None) -> str | None:
        if text is None:
            return None
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, "***")
        return text

    def __repr__(self) -> str:
        return f"Redactor({len(self._secrets)} secrets)"


def _gateway_suffix(code: str | None) -> str | None:
    if not code:
        return None
    match = _GATEWAY_RE.match(code.strip())
    return match.group(1) if match else None


def throttling_code(code: str | None) -> bool:
    """Whether ``code`` means throttling: ``ModelArts.2799`` or ``APIG.0308``/``APIGW.0308``."""
    if not code:
        return False
    return code.strip() == "ModelArts.2799" or _gateway_suffix(code) == "0308"


def _find_error_fields(body: Any, depth: int = 0) -> tuple[str | None, str | None, str | None]:
    """``(error_code, error_msg, request_id)`` from any of the body shapes the SDK reads."""
    if not isinstance(body, Mapping) or depth > 3:
        return None, None, None
    code = msg = None
    for code_key, msg_key in (("error_code", "error_msg"), ("errorCode", "errorMsg"), ("code", "message")):
        if code_key in body or msg_key in body:
            c, m = body.get(code_key), body.get(msg_key)
            code = str(c) if c is not None else None
            msg = str(m) if m is not None else None
            break
    request_id = body.get("request_id")
    request_id = str(request_id) if request_id is not None else None
    if code is None and msg is None:
        for value in body.values():  # nested, e.g. {"error": {"code": ..., "message": ...}}
            if isinstance(value, Mapping):
                c, m, r = _find_error_fields(value, depth + 1)
                if c is not None or m is not None:
                    return c, m, request_id or r
    return code, msg, request_id


def _snippet(content: bytes, redact: Redactor) -> str:
    text = content[:_MAX_SNIPPET].decode("utf-8", "replace")
    if len(content) > _MAX_SNIPPET:
        text += "..."
    return redact(text) or ""


def error_from_response(
    response: httpx.Response, *, method: str, url: str, redact: Redactor
) -> APIError:
    """The typed :class:`~hpo_analytics.errors.APIError` for an error response.

    ``error_code``/``error_msg`` come from the body when it has them (else the
    status as text and the body text); ``request_id`` from ``X-Request-Id``
    (else the body).  Class by code first — ``ModelArts.2775`` is
    :class:`NotFoundError` although sent as 400, throttling codes are
    :class:`RateLimitedError`, gateway codes match on their numeric suffix
    (``APIG.0301`` = ``APIGW.0301``) — then by status.  Known secrets are
    removed from the message (the gateway echoes signed headers on a bad
    signature).
    """
    status = response.status_code
    content = response.content
    code = msg = body_request_id = None
    try:
        body = _jsonutil.loads(content) if content else None
    except _jsonutil.JSONDecodeError:
        body = None
    if body is not None:
        code, msg, body_request_id = _find_error_fields(body)
    if code is None:
        code = str(status)
    if msg is None and content:
        msg = _snippet(content, redact) if body is None else None
    request_id = response.headers.get("x-request-id") or body_request_id
    kwargs: dict[str, Any] = {
        "status_code": status,
        "error_code": redact(code),
        "error_msg": redact(msg),
        "request_id": request_id,
        "method": method,
        "url": redact(url),
    }
    suffix = _gateway_suffix(code)
    if code == "ModelArts.2775":
        return NotFoundError(**kwargs)
    retry_after = parse_retry_after(response.headers.get("retry-after"), date_header=response.headers.get("date"))
    if status == 429 or throttling_code(code):
        return RateLimitedError(retry_after=retry_after, **kwargs)
    if status == 401 or suffix in ("0301", "0303"):
        return AuthenticationError(**kwargs)
    if status == 403:
        return PermissionDeniedError(**kwargs)
    if status == 404:
        return NotFoundError(**kwargs)
    if status == 409:
        return ConflictError(**kwargs)
    if 400 <= status < 500:
        return BadRequestError(**kwargs)
    if status >= 500:
        return ServerError(retry_after=retry_after, **kwargs)
    return APIError(**kwargs)  # 1xx/3xx: not followed, not expected


def error_from_transport(exc: httpx.TransportError, *, method: str, url: str, redact: Redactor) -> TransportError:
    """The :class:`TransportError` (or :class:`RequestTimeoutError`) for an httpx transport failure."""
    kind = type(exc).__name__
    detail = redact(str(exc)) or kind
    message = f"{kind}: {detail} [{method} {redact(url)}]"
    if isinstance(exc, httpx.TimeoutException):
        return RequestTimeoutError(message)
    return TransportError(message)


def format_error(message: str, *, method: str, url: str, content: bytes, redact: Redactor) -> ResponseFormatError:
    """A :class:`ResponseFormatError` quoting the start of the body (secrets removed)."""
    return ResponseFormatError(
        f"{message} [{method} {redact(url)}] ({len(content)} bytes: {_snippet(content, redact)!r})"
    )


def request_certainly_not_sent(exc: BaseException) -> bool:
    """Whether a transport error means the request never reached the service.

    True for connection failures and pool timeouts (no connection, so no
    request bytes left this process).  Write errors, read errors, read
    timeouts and protocol errors may happen after the service got the request.
    """
    return isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout))
