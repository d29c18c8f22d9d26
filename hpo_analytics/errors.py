"""The whole error tree of hpo_analytics, in one place.

::

    HpoAnalyticsError
    ├── ConfigurationError (ValueError)      bad options, missing settings/variables
    ├── MatrixError (ValueError)             malformed header/data structure
    │   └── CellParseError                   one cell that cannot be parsed (errors="raise")
    ├── TransportError                       the request never got a usable answer
    │   ├── RequestTimeoutError              connect/read timeout
    │   └── ResponseFormatError              non-JSON or truncated body
    └── APIError                             the service answered with an error status
        ├── AuthenticationError              401 (APIG.0301, ModelArts.0201...)
        ├── PermissionDeniedError            403
        ├── NotFoundError                    404, and ModelArts.2775 sent as 400
        ├── RateLimitedError                 429, ModelArts.2799, APIG.0308
        ├── ConflictError                    409 (ModelArts.2796, ModelArts.2878)
        ├── BadRequestError                  other 4xx
        └── ServerError                      5xx

    ParseWarning (UserWarning)               cells that became null under errors="coerce"
    InsufficientDataWarning (UserWarning)    an answer that too little data cannot support (NaN, not a guess)

Every API error carries ``status_code``, ``error_code``, ``error_msg`` and
``request_id``.  Parse errors carry ``page``, ``row``, ``column`` and ``value``
(the raw text, shortened).  No error message ever contains a credential.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "CellParseError",
    "ConfigurationError",
    "ConflictError",
    "HpoAnalyticsError",
    "InsufficientDataWarning",
    "MatrixError",
    "NotFoundError",
    "ParseWarning",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "ServerError",
    "TransportError",
]

_MAX_VALUE_CHARS = 120


def _short(value: Any) -> str:
    """A bounded repr of a raw value for error messages."""
    text = repr(value)
    if len(text) > _MAX_VALUE_CHARS:
        text = text[: _MAX_VALUE_CHARS - 3] + "..."
    return text


class HpoAnalyticsError(Exception):
    """Base class of every error raised on purpose by hpo_analytics."""


class ConfigurationError(HpoAnalyticsError, ValueError):
    """An option, argument or environment variable is missing or invalid."""


class MatrixError(HpoAnalyticsError, ValueError):
    """The ``header``/``data`` matrix (or the page around it) is malformed.

    Attributes name where: ``page`` (0-based index of the page in the input),
    ``row`` (0-based row within that page), ``column`` (header name) and
    ``value`` (the offending raw value), and ``source`` (the file the page came
    from, when read from files). Any of them may be ``None`` when it does not
    apply.
    """

    def __init__(
        self,
        message: str,
        *,
        page: int | None = None,
        row: int | None = None,
        column: str | None = None,
        value: Any = None,
        source: str | None = None,
    ) -> None:
        self.page = page
        self.source = source
        self.row = row
        self.column = column
        self.value = value
        where = []
        if source is not None:
            where.append(f"file {source}")
        if page is not None:
            where.append(f"page {page}")
        if row is not None:
            where.append(f"row {row}")
        if column is not None:
            where.append(f"column {column!r}")
        if value is not None:
            where.append(f"value {_short(value)}")
        full = f"{message} ({', '.join(where)})" if where else message
        super().__init__(full)
        self.reason = message


class CellParseError(MatrixError):
    """A cell of a typed column could not be parsed (raised with ``errors="raise"``)."""


class ParseWarning(UserWarning):
    """Some cells could not be parsed and became null (``errors="coerce"``).

    The message names the column, how many cells, and the first raw value
    with its page and row.
    """


class InsufficientDataWarning(UserWarning):
    """An answer was asked of too little data to support it.

    The answer comes back as NaN (never a confident-looking number) and the
    message says what was missing, e.g. ``param_importance`` on fewer scored
    trials than its method needs.
    """


class TransportError(HpoAnalyticsError):
    """No usable HTTP answer: connection failure, timeout, or unreadable body."""


class RequestTimeoutError(TransportError):
    """The service did not answer in time."""


class ResponseFormatError(TransportError):
    """The body was not the JSON the endpoint promises (non-JSON or truncated)."""


class APIError(HpoAnalyticsError):
    """The service answered with an HTTP error status.

    ``status_code`` is the HTTP status; ``error_code`` and ``error_msg`` come
    from the body (``error_code``/``errorCode``/``code``), else the status as
    text; ``request_id`` is the ``X-Request-Id`` response header.
    """

    def __init__(
        self,
        message: str | None = None,
        *,
        status_code: int,
        error_code: str | None = None,
        error_msg: str | None = None,
        request_id: str | None = None,
        method: str | None = None,
        url: str | None = None,
    ) -> None:
        self.status_code = status_code
        self.error_code = error_code
        self.error_msg = error_msg
        self.request_id = request_id
        self.method = method
        self.url = url
        if message is None:
            parts = [f"HTTP {status_code}"]
            if error_code:
                parts.append(error_code)
            text = " ".join(parts)
            if error_msg:
                text += f": {error_msg}"
            if method and url:
                text += f" [{method} {url}]"
            if request_id:
                text += f" (request id {request_id})"
            message = text
        super().__init__(message)


class AuthenticationError(APIError):
    """401: the token or AK/SK signature was rejected. Never retried."""


class PermissionDeniedError(APIError):
    """403: authenticated, but not allowed. Never retried."""


class NotFoundError(APIError):
    """404, or ModelArts.2775 (training job not found), which the service sends as 400."""


class RateLimitedError(APIError):
    """429 / ModelArts.2799 / APIG.0308: throttled; ``retry_after`` is in seconds when sent."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ConflictError(APIError):
    """409: the job or trial is in a state that does not allow the action."""


class BadRequestError(APIError):
    """Another 4xx: the request was invalid."""


class ServerError(APIError):
    """5xx: the service failed; ``retry_after`` is in seconds when a ``Retry-After`` header was sent (503)."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)
