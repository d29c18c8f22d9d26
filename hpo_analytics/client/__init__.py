"""The ModelArts client: auth, paging, retries and typed errors.

* :class:`ModelArtsClient` — the client (``_client.py``);
* :class:`RetryPolicy` — the retry decisions, a frozen value (``_retry.py``);
* paging under either ``offset`` meaning (``_paging.py``);
* translation of responses and httpx errors into :mod:`hpo_analytics.errors`
  (``_errors.py``), and progress reporting (``_progress.py``).

Everything logs to the ``hpo_analytics.client`` logger, which has no handlers.
"""

from __future__ import annotations

from ._client import EarlyStopResult, ModelArtsClient, endpoint_for_region
from ._retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after

__all__ = [
    "EarlyStopResult",
    "ModelArtsClient",
    "RETRYABLE_STATUSES",
    "RetryPolicy",
    "endpoint_for_region",
    "parse_retry_after",
]
