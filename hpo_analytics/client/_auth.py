"""How the client authenticates: an IAM token header, or AK/SK signing (:class:`~hpo_analytics.signing.AkSkAuth`).

:func:`make_auth` checks the credentials the constructor was given and
returns the :class:`httpx.Auth` that adds them to every request.  Neither auth
shows a secret in its repr, and neither can be pickled.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any, Literal

import httpx

from ..errors import ConfigurationError, NotPicklableError
from ..signing import AkSkAuth

__all__ = ["AuthMode", "TokenAuth", "make_auth"]

AuthMode = Literal["token", "aksk"]


class TokenAuth(httpx.Auth):
    """Adds ``X-Auth-Token``; the repr never shows the token.

    With ``refresh``, a 401 answer makes it ask ``refresh()`` for the token
    once (an IAM token expires after 24 hours; the caller re-reads it from
    where it came): when that gives a different token, the request is sent
    once more with it and later requests use it; otherwise the 401 stands.
    ``on_new_token`` hears of each new token (so errors can redact it).
    """

    def __init__(self, token: str, *, refresh: Callable[[], str | None] | None = None,
                 on_new_token: Callable[[str], None] | None = None) -> None:
        self._token = token
        self._refresh = refresh
        self._on_new_token = on_new_token
        self._lock = threading.Lock()

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        sent = self._token
        request.headers["X-Auth-Token"] = sent
        response = yield request
        if response.status_code != 401 or self._refresh is None:
            return
        with self._lock:
            if self._token == sent:  # no other request has renewed it meanwhile: read it again
                fresh = self._refresh()
                if fresh and fresh != sent:
                    if self._on_new_token is not None:
                        self._on_new_token(fresh)
                    self._token = fresh
            current = self._token
        if current != sent:
            request.headers["X-Auth-Token"] = current
            yield request

    def __repr__(self) -> str:
        return "TokenAuth(token=***)"

    def __reduce__(self) -> Any:
        raise NotPicklableError("token auth holds a secret and cannot be pickled")


def make_auth(
    *, token: str | None, ak: str | None, sk: str | None, security_token: str | None,
    token_refresh: Callable[[], str | None] | None = None, on_new_token: Callable[[str], None] | None = None,
) -> tuple[httpx.Auth, AuthMode]:
    """The auth for either an IAM ``token`` or an ``ak``/``sk`` pair (with ``security_token``), and its mode.

    ``token_refresh``/``on_new_token`` go to :class:`TokenAuth` (token auth only).

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
        return TokenAuth(token, refresh=token_refresh, on_new_token=on_new_token), "token"
    if token_refresh is not None:
        raise ConfigurationError("token_refresh goes with token=, not with ak=/sk=")
    if ak is not None or sk is not None:
        if not ak or not isinstance(ak, str):
            raise ConfigurationError("sk= was given without ak=")
        if not sk or not isinstance(sk, str):
            raise ConfigurationError("ak= was given without sk=")
        return AkSkAuth(ak=ak, sk=sk, security_token=security_token or None), "aksk"
    raise ConfigurationError("no credentials: give token= or ak= and sk=")
