"""How the client authenticates: an IAM token header, or AK/SK signing (:class:`~hpo_analytics.signing.AkSkAuth`).

:func:`make_auth` checks the credentials the constructor was given and
returns the :class:`httpx.Auth` that adds them to every request.  Neither auth
shows a secret in its repr, and neither can be pickled.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Literal

import httpx

from ..errors import ConfigurationError, NotPicklableError
from ..signing import AkSkAuth

__all__ = ["AuthMode", "TokenAuth", "make_auth"]

AuthMode = Literal["token", "aksk"]


class TokenAuth(httpx.Auth):
    """Adds ``X-Auth-Token``; the repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["X-Auth-Token"] = self._token
        yield request

    def __repr__(self) -> str:
        return "TokenAuth(token=***)"

    def __reduce__(self) -> Any:
        raise NotPicklableError("token auth holds a secret and cannot be pickled")


def make_auth(
    *, token: str | None, ak: str | None, sk: str | None, security_token: str | None
) -> tuple[httpx.Auth, AuthMode]:
    """The auth for either an IAM ``token`` or an ``ak``/``sk`` pair (with ``security_token``), and its mode.

    Raises :class:`~hpo_analytics.errors.ConfigurationError` when both kinds,
    half a pair, or none are given; the message never quotes a credential.
    """
    if token is not None and (ak is not None or sk is not None):
        raise ConfigurationError("give either token= or ak=/sk=, not both")
    if token is not None:
        if not isinstance(token, str) or not token:
            raise ConfigurationError("token must be a non-empty string")
        if security_token is not None:
            raise ConfigurationError("security_token goes with ak=/sk=, not with token=")
        return TokenAuth(token), "token"
    if ak is not None or sk is not None:
        if not ak or not isinstance(ak, str):
            raise ConfigurationError("sk= was given without ak=")
        if not sk or not isinstance(sk, str):
            raise ConfigurationError("ak= was given without sk=")
        return AkSkAuth(ak=ak, sk=sk, security_token=security_token or None), "aksk"
    raise ConfigurationError("no credentials: give token= or ak= and sk=")
