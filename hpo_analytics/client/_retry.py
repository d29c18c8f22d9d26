"""The retry policy: a frozen value that decides whether and how long to wait.

Deciding is kept apart from acting: :class:`RetryPolicy` answers "how long
before the next attempt, if any?"; the request engine (``_engine.py``)
decides whether a failure is worth retrying at all, sleeps (through the
policy's injectable ``sleep``) and tries again.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from ..errors import ConfigurationError

__all__ = ["RETRYABLE_STATUSES", "RetryPolicy", "parse_retry_after"]

#: HTTP statuses a GET is retried on.
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, date_header: str | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date).

    An HTTP date is measured against the response's ``Date`` header when given
    (so no local clock is read), else the current time.  Returns ``None`` when
    absent or unparsable; never negative.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):  # NaN/inf
            return None
        return max(0.0, seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:  # pragma: no cover - older Pythons returned None
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    reference = None
    if date_header:
        try:
            reference = parsedate_to_datetime(date_header)
        except (TypeError, ValueError, IndexError):
            reference = None
        if reference is not None and reference.tzinfo is None:
            reference = reference.replace(tzinfo=timezone.utc)
    if reference is None:
        reference = datetime.now(timezone.utc)
    return max(0.0, (when - reference).total_seconds())


@dataclass(frozen=True)
class RetryPolicy:
    """How the client retries idempotent requests.

    Attempt ``n`` (1-based) that failed retryably waits
    ``uniform(1 - jitter, 1) * min(max_backoff, initial_backoff * multiplier ** (n - 1))``
    seconds, or the server's ``Retry-After`` when that is longer.  A
    ``Retry-After`` above ``max_retry_after`` is not waited for: the error is
    raised at once.  No retry starts after ``deadline`` seconds (by ``clock``)
    from the first attempt; ``None`` means no deadline.

    Retried: the statuses in ``retry_statuses`` (429, 500, 502, 503, 504),
    throttling codes (``ModelArts.2799``, ``APIG(W).0308``), transport errors
    (connect/read timeouts, resets, dropped connections), and — when
    ``retry_malformed`` — a 2xx body that is not complete JSON.  Never retried:
    401, 403 and other 4xx.  POST early stop has its own, stricter rule
    (``_early_stop.py``), applied by the same request engine.

    ``sleep``, ``clock`` and ``random`` are injectable so tests never wait.
    """

    max_attempts: int = 5
    initial_backoff: float = 0.5
    multiplier: float = 2.0
    max_backoff: float = 20.0
    jitter: float = 0.5
    max_retry_after: float = 60.0
    deadline: float | None = 300.0
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES
    retry_malformed: bool = True
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int) or self.max_attempts < 1:
            raise ConfigurationError(f"max_attempts must be an int >= 1, not {self.max_attempts!r}")
        for name in ("initial_backoff", "max_backoff", "max_retry_after"):
            value = getattr(self, name)
            if not value >= 0:
                raise ConfigurationError(f"{name} must be >= 0, not {value!r}")
        if not self.multiplier >= 1:
            raise ConfigurationError(f"multiplier must be >= 1, not {self.multiplier!r}")
        if not 0 <= self.jitter <= 1:
            raise ConfigurationError(f"jitter must be in [0, 1], not {self.jitter!r}")
        if self.deadline is not None and not self.deadline >= 0:
            raise ConfigurationError(f"deadline must be >= 0 or None, not {self.deadline!r}")
        object.__setattr__(self, "retry_statuses", frozenset(self.retry_statuses))

    @classmethod
    def never(cls) -> RetryPolicy:
        """A policy that makes exactly one attempt."""
        return cls(max_attempts=1)

    def backoff(self, attempt: int) -> float:
        """The jittered wait after failed attempt ``attempt`` (1-based), without ``Retry-After``."""
        base = min(self.max_backoff, self.initial_backoff * self.multiplier ** (attempt - 1))
        return base * (1.0 - self.jitter * self.random())

    def delay(self, attempt: int, *, retry_after: float | None, started: float) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up now.

        ``started`` is the ``clock()`` reading at the first attempt.
        """
        if attempt >= self.max_attempts:
            return None
        wait = self.backoff(attempt)
        if retry_after is not None:
            if retry_after > self.max_retry_after:
                return None
            wait = max(wait, retry_after)
        if self.deadline is not None and self.clock() + wait - started > self.deadline:
            return None
        return wait
