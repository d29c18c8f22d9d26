"""The whole error tree of hpo_analytics, in one place.

::

    HpoAnalyticsError
    ├── ConfigurationError (ValueError)      bad options, missing settings/variables
    ├── MatrixError (ValueError)             malformed header/data structure
    │   └── CellParseError                   one cell that cannot be parsed (errors="raise")
    ├── SigningError (ValueError)            AK/SK signing input or Authorization header malformed
    ├── NotPicklableError (TypeError)        an object holding credentials was asked to be pickled
    ├── StateError (RuntimeError)            a call the object's state does not allow (simulator not started)
    │   └── DatasetLockedError               another sync holds the dataset's lock (names its pid)
    ├── TrialNotFoundError (KeyError)        the simulator's job model has no such trial
    ├── TrialFinishedError                   the simulator's job model cannot stop a finished trial
    ├── NotificationError                    a watch notification (webhook, command) was not delivered
    ├── TransportError                       the request never got a usable answer
    │   └── RequestTimeoutError              connect/read timeout
    ├── ResponseFormatError                  an answer came, but not the JSON the endpoint promises
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
    SchemaWarning (UserWarning)              a dataset column whose type differs between jobs, stored as text
    SpaceWarning (UserWarning)               a declared search space unreadable in part, or a value outside it

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
    "DatasetLockedError",
    "HpoAnalyticsError",
    "InsufficientDataWarning",
    "MatrixError",
    "NotFoundError",
    "NotPicklableError",
    "NotificationError",
    "ParseWarning",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "SchemaWarning",
    "SpaceWarning",
    "ServerError",
    "SigningError",
    "StateError",
    "TransportError",
    "TrialFinishedError",
    "TrialNotFoundError",
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


class SigningError(HpoAnalyticsError, ValueError):
    """AK/SK signing cannot go on: a missing ``X-Sdk-Date``, empty keys, or a malformed ``Authorization``."""


class NotPicklableError(HpoAnalyticsError, TypeError):
    """An object that holds credentials (a client, an auth) refuses to be pickled, so no secret is written out."""


class StateError(HpoAnalyticsError, RuntimeError):
    """A call that the object's current state does not allow, e.g. the address of a simulator not started."""


class DatasetLockedError(StateError):
    """Another process is syncing into the dataset directory; ``pid`` is its process id when known."""

    def __init__(self, message: str, *, pid: int | None = None) -> None:
        super().__init__(message)
        self.pid = pid


class SpaceWarning(UserWarning):
    """A job's declared search space is unreadable in part, or a trial's value lies outside it.

    The message names the parameter (and the trial, for a value outside its
    bounds or discrete values); such a value is flagged, never dropped.
    """


class SchemaWarning(UserWarning):
    """A dataset column has types between jobs that no number type covers: it is stored as text.

    The message names the column and which jobs had which type.
    """


class TrialNotFoundError(HpoAnalyticsError, KeyError):
    """The local simulator's job model has no trial with this id (the simulator answers 404)."""


class TrialFinishedError(HpoAnalyticsError):
    """The local simulator's job model cannot stop a trial that already finished (the simulator answers 409).

    ``status`` names how it finished.
    """

    def __init__(self, trial_id: str, status: str) -> None:
        self.trial_id = trial_id
        self.status = status
        super().__init__(f"trial {trial_id} has already finished (status {status})")


class NotificationError(HpoAnalyticsError):
    """A watch notification (webhook POST or command) was not delivered; the watch records it and goes on."""


class TransportError(HpoAnalyticsError):
    """No usable HTTP answer: the connection failed or timed out."""


class RequestTimeoutError(TransportError):
    """The service did not answer in time."""


class ResponseFormatError(HpoAnalyticsError):
    """The service answered, but the body was not the JSON the endpoint promises (non-JSON, truncated, wrong shape).

    Not a :class:`TransportError`: the request reached the service and got an
    answer, so retrying a read does not help and a stop request did arrive.
    """


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
