"""Early stop and job terminate: their results, and the rule deciding when the request may be sent again.

A stop is a POST that changes the trial, so it is not retried like a read
(``modelarts_api.md`` §4: never resend it on 5xx without first re-reading
the trial).  :class:`EarlyStopRule` is the engine's ``on_failure`` hook for
it; after a failed attempt:

* 401, 403 and not found: raise at once;
* throttled, or a connection that never opened (the request certainly did not
  leave): send again, as the retry policy allows;
* otherwise the trial is re-read.  Finished (``TERMINATED``/``ERROR``/...
  or ``done``) means the stop is moot, perhaps because this very call got
  through: the result is ``already_finished``.  Still running, a lost answer
  (transport failure, a body that is not JSON, 5xx) is sent again as the
  policy allows, and a refusal (409 or another 4xx) is raised.

Terminating a whole job (:class:`TerminateRule`) follows the same rule, with
the job's phase read again instead of the trial: a job that is
``Terminating`` or has ended makes the result ``already_ended``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from ..errors import (
    APIError,
    AuthenticationError,
    HpoAnalyticsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseFormatError,
    TransportError,
)
from ._engine import RAISE, RETRY, Return, Verdict
from ._errors import request_certainly_not_sent

__all__ = ["ENDED_PHASES", "EarlyStopResult", "EarlyStopRule", "TerminateResult", "TerminateRule"]

#: Job phases after which a terminate is moot (the job is ending or has ended).
ENDED_PHASES = frozenset({"Terminating", "Terminated", "Completed", "Failed", "Abnormal"})

logger = logging.getLogger("hpo_analytics.client")

_LOST = "stop of %s: answer lost (%s) but it is %s"
_REFUSED = "stop of %s refused (%s); it is already %s"


@dataclass(frozen=True)
class EarlyStopResult:
    """What :meth:`ModelArtsClient.early_stop` achieved.

    ``outcome`` is ``"stopped"`` when the service accepted the stop (HTTP
    200), or ``"already_finished"`` when the service refused or the answer was
    lost, and re-reading the trial showed it finished (``status`` is then its
    status, e.g. ``TERMINATED``) — possibly because an earlier attempt of
    this same call got through.
    """

    trial_id: str
    outcome: Literal["stopped", "already_finished"]
    status: str | None = None


class EarlyStopRule:
    """The ``on_failure`` hook of one early stop (see the module docstring).

    ``reread()`` reads the trial again and returns ``(finished, status)``.
    """

    def __init__(self, trial_id: str, reread: Callable[[], tuple[bool, str | None]]) -> None:
        self._trial_id = trial_id
        self._reread = reread

    def __call__(self, exc: HpoAnalyticsError) -> Verdict | Return:
        if isinstance(exc, (AuthenticationError, PermissionDeniedError, NotFoundError)):
            return RAISE
        if isinstance(exc, RateLimitedError):  # refused by the gateway: not processed
            return RETRY
        if isinstance(exc, TransportError):
            cause = exc.__cause__
            if cause is not None and request_certainly_not_sent(cause):
                return RETRY
            return self._after_reread(exc, _LOST, lost=True)
        if isinstance(exc, ResponseFormatError):  # the answer came but cannot be read: as good as lost
            return self._after_reread(exc, _LOST, lost=True)
        if isinstance(exc, APIError):  # a refusal, or a 5xx that may hide a stop that went through
            return self._after_reread(exc, _REFUSED, lost=exc.status_code >= 500)
        return RAISE

    def _after_reread(self, exc: HpoAnalyticsError, message: str, *, lost: bool) -> Verdict | Return:
        finished, status = self._reread()
        if finished:
            logger.info(message, self._trial_id, exc, status)
            return Return(self._settled(status))
        return RETRY if lost else RAISE

    def _settled(self, status: str | None) -> object:
        return EarlyStopResult(self._trial_id, "already_finished", status)


@dataclass(frozen=True)
class TerminateResult:
    """What :meth:`ModelArtsClient.terminate_job` achieved.

    ``outcome`` is ``"terminating"`` when the service accepted the terminate
    (``phase`` is then the phase it answered, normally ``Terminating``), or
    ``"already_ended"`` when it refused or the answer was lost and the job's
    phase (``phase``) showed it ending or ended.
    """

    job_id: str
    outcome: Literal["terminating", "already_ended"]
    phase: str | None = None


class TerminateRule(EarlyStopRule):
    """The ``on_failure`` hook of one job terminate; ``reread()`` gives ``(ended, phase)``."""

    def _settled(self, status: str | None) -> object:
        return TerminateResult(self._trial_id, "already_ended", status)
