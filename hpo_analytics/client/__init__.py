"""The ModelArts client: auth, paging, retries and typed errors.

* :class:`ModelArtsClient` — the client, a facade of public methods
  (``_client.py``);
* its settings: endpoint and option checks, the environment
  (``_settings.py``), and its credentials (``_auth.py``; AK/SK signing is
  :mod:`hpo_analytics.signing`);
* the request engine every call goes through: send, decode, retry
  (``_engine.py``), deciding with :class:`RetryPolicy`, a frozen value
  (``_retry.py``), and translating responses and httpx errors into
  :mod:`hpo_analytics.errors` (``_errors.py``);
* the early stop's and the job terminate's results and their own retry rule (``_early_stop.py``);
* what each endpoint's answer must look like, and what is read from it
  (``_responses.py``: :func:`declared_metrics`, :func:`reward_metadata`);
* paging under either ``offset`` meaning (``_paging.py``), and progress
  reporting (``_progress.py``).

Everything logs to the ``hpo_analytics.client`` logger, which has no handlers.
"""

from __future__ import annotations

from ._client import ModelArtsClient
from ._early_stop import ENDED_PHASES, EarlyStopResult, TerminateResult
from ._progress import ProgressArg, StderrBar, resolve_progress
from ._responses import declared_metrics, reward_metadata
from ._retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after
from ._settings import endpoint_for_region

__all__ = [
    "ENDED_PHASES",
    "EarlyStopResult",
    "ModelArtsClient",
    "ProgressArg",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "StderrBar",
    "TerminateResult",
    "declared_metrics",
    "endpoint_for_region",
    "parse_retry_after",
    "resolve_progress",
    "reward_metadata",
]
