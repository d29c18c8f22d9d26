"""The simulator's auth check: an IAM token, or an AK/SK signature verified with :mod:`hpo_analytics.signing`.

Failures raise ``_APIError`` 401 ``APIG.0301`` (``APIG.0303`` for a stale
``X-Sdk-Date`` when a clock skew limit is set); no message names a secret.
"""

from __future__ import annotations

import hmac
from collections.abc import Collection, Mapping
from datetime import datetime, timezone
from typing import Literal

from .. import signing
from ._wire import _APIError, split_query

__all__ = ["check_auth"]

_DENIED = "Incorrect IAM authentication information"
_BAD_SIGNATURE = f"{_DENIED}: verify aksk signature fail"


def check_auth(
    *,
    mode: Literal["token", "aksk", "any"],
    token: str,
    ak: str,
    sk: str,
    max_clock_skew: float | None,
    method: str,
    path: str,
    raw_query: str,
    headers: Mapping[str, str],
    body: bytes,
    expired: Collection[str] = (),
) -> None:
    """Accept the request, or raise ``_APIError`` 401.

    ``mode`` ``"token"``: ``X-Auth-Token`` must equal ``token``; ``"aksk"``:
    an ``SDK-HMAC-SHA256`` ``Authorization`` header signed with ``ak``/``sk``;
    ``"any"``: either (a signature, when sent, is checked first). A token in
    ``expired`` was valid once: it is refused as expired.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    sent_token = lowered.get("x-auth-token")
    authorization = lowered.get("authorization")
    if mode in ("aksk", "any") and authorization:
        _check_signature(
            ak=ak, sk=sk, max_clock_skew=max_clock_skew, method=method, path=path, raw_query=raw_query,
            lowered=lowered, body=body, authorization=authorization,
        )
        return
    if mode in ("token", "any") and sent_token is not None:
        if not hmac.compare_digest(sent_token.encode(), token.encode()):
            if sent_token in expired:
                raise _APIError(401, "APIG.0301", f"{_DENIED}: token expires")
            raise _APIError(401, "APIG.0301", f"{_DENIED}: decrypt token fail")
        return
    if mode == "aksk":
        raise _APIError(401, "APIG.0301", f"{_DENIED}: Authorization not found")
    raise _APIError(401, "APIG.0301", f"{_DENIED}: x-auth-token not found")


def _check_signature(
    *,
    ak: str,
    sk: str,
    max_clock_skew: float | None,
    method: str,
    path: str,
    raw_query: str,
    lowered: dict[str, str],
    body: bytes,
    authorization: str,
) -> None:
    try:
        access_key, signed_headers, signature = signing.parse_authorization(authorization)
    except ValueError:
        raise _APIError(401, "APIG.0301", _BAD_SIGNATURE) from None
    names = signed_headers.split(";")
    if access_key != ak or "x-sdk-date" not in names or any(n not in lowered for n in names):
        raise _APIError(401, "APIG.0301", _BAD_SIGNATURE)
    if max_clock_skew is not None:
        try:
            signed_at = signing.parse_sdk_date(lowered["x-sdk-date"])
        except ValueError:
            raise _APIError(401, "APIG.0301", _BAD_SIGNATURE) from None
        skew = abs((datetime.now(timezone.utc) - signed_at).total_seconds())
        if skew > max_clock_skew:
            raise _APIError(401, "APIG.0303", "App authentication information: signature expired")
    _, expected = signing.compute_signature(
        method=method,
        host=lowered.get("host", ""),
        path=path,
        query=split_query(raw_query),
        headers={n: lowered[n] for n in names},
        body=body,
        sk=sk,
    )
    if not hmac.compare_digest(expected, signature.lower()):
        raise _APIError(401, "APIG.0301", _BAD_SIGNATURE)
