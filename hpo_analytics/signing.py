"""AK/SK request signing (``SDK-HMAC-SHA256``), as Huawei Cloud's API gateway checks it.

This is a clean-room implementation of the scheme described in
``modelarts_api.md`` §5 and reproduces every known-answer vector of §6 byte for
byte (see ``tests/test_signing.py``).  In short::

    CanonicalRequest = METHOD \\n CanonicalURI \\n CanonicalQuery \\n
                       CanonicalHeaders \\n SignedHeaders \\n hex(sha256(body))
    StringToSign     = "SDK-HMAC-SHA256" \\n X-Sdk-Date \\n hex(sha256(CanonicalRequest))
    Signature        = hex(HMAC-SHA256(key=SK, msg=StringToSign))
    Authorization: SDK-HMAC-SHA256 Access=<AK>, SignedHeaders=<h1;h2>, Signature=<hex>

Both sides use these functions: the client signs with :func:`sign_request`
(or :class:`AkSkAuth`), the simulator verifies by parsing the header with
:func:`parse_authorization` and recomputing :func:`compute_signature` over
**only the headers named in SignedHeaders** (as the real gateway does), then
comparing with :func:`hmac.compare_digest`.

Secrets (the SK and the security token) never appear in a repr or an
exception message raised here.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote

import httpx

from .errors import NotPicklableError, SigningError

if TYPE_CHECKING:  # pragma: no cover
    from collections.abc import Generator

__all__ = [
    "ALGORITHM",
    "AkSkAuth",
    "EMPTY_BODY_SHA256",
    "SDK_DATE_FORMAT",
    "authorization_header",
    "canonical_query_string",
    "canonical_request",
    "canonical_uri",
    "compute_signature",
    "format_sdk_date",
    "parse_authorization",
    "parse_sdk_date",
    "sign_request",
    "string_to_sign",
]

ALGORITHM = "SDK-HMAC-SHA256"
"""The scheme name written at the start of the ``Authorization`` header."""

SDK_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
"""``strftime`` format of the ``X-Sdk-Date`` header (UTC), e.g. ``20240102T030405Z``."""

EMPTY_BODY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
"""Hex SHA-256 of the empty body."""

_UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
_CONTENT_SHA256 = "x-sdk-content-sha256"

# Headers that proxies or the HTTP stack may add, drop or rewrite; the client
# does not sign them (the verifier only checks what SignedHeaders names).
_UNSIGNED_BY_CLIENT = frozenset(
    {
        "authorization",
        "connection",
        "content-length",
        "keep-alive",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    }
)

_AUTH_RE = re.compile(r"^\s*SDK-HMAC-SHA256\s+(?P<params>\S.*?)\s*$")
_HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^`|~0-9A-Za-z-]+$")


def _encode(text: str) -> str:
    """RFC 3986 percent-encoding: only ``A-Z a-z 0-9 - _ . ~`` stay literal."""
    return quote(text, safe="")


def _render(value: object) -> str:
    """The text of one query value: booleans as ``true``/``false``, others via ``str``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def _sort_key_fallback(pair: tuple[str, object]) -> tuple[str, str]:
    return (pair[0], _render(pair[1]))


def canonical_query_string(query: Sequence[tuple[str, object]]) -> str:
    """The canonical query string of ``(key, value)`` pairs (§5 step 7).

    Pairs are sorted in Python tuple order of their raw values (so ``9`` sorts
    before ``10`` for one key), each written ``enc(key)=enc(value)``:
    booleans become ``true``/``false``, a list or tuple value becomes one
    ``key=v`` per element with the elements sorted, and a ``None`` value is
    left out.  The client also sends exactly this string as the URL query, so
    what is signed is what goes on the wire.  An empty query gives ``""``.
    """
    pairs = [(str(key), value) for key, value in query if value is not None]
    try:
        pairs.sort()
    except TypeError:  # mixed, unorderable values under one key
        pairs.sort(key=_sort_key_fallback)
    parts: list[str] = []
    for key, value in pairs:
        enc_key = _encode(key)
        if isinstance(value, (list, tuple)):
            items = [item for item in value if item is not None]
            try:
                items.sort()
            except TypeError:
                items.sort(key=_render)
            parts.extend(f"{enc_key}={_encode(_render(item))}" for item in items)
        else:
            parts.append(f"{enc_key}={_encode(_render(value))}")
    return "&".join(parts)


def canonical_uri(path: str) -> str:
    """The canonical URI of a resource path as sent (§5 step 6).

    The path is percent-decoded, split on ``/`` (so an encoded ``%2F`` becomes a
    separator, as in the SDK), each segment re-encoded per RFC 3986, and a
    trailing ``/`` appended when missing.
    """
    decoded = unquote(path, encoding="utf-8", errors="strict")
    text = "/".join(_encode(segment) for segment in decoded.split("/"))
    if not text.endswith("/"):
        text += "/"
    return text


def _lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in headers.items():
        out[str(name).lower()] = str(value)
    return out


def canonical_request(
    *,
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, object]],
    headers: Mapping[str, str],
    body: bytes,
) -> tuple[str, str]:
    """The canonical request text and the ``SignedHeaders`` list (§5 steps 2-9).

    ``headers`` must already contain ``X-Sdk-Date``; a missing ``Host`` is
    taken from ``host`` (the URL authority, with ``:port`` if the URL has one).
    Every header whose name has no underscore is signed.  Returns
    ``(canonical_request_text, signed_headers)``.
    """
    lowered = _lower_headers(headers)
    if "x-sdk-date" not in lowered:
        raise SigningError("headers must contain X-Sdk-Date before signing")
    if "host" not in lowered:
        lowered["host"] = host
    signed = sorted(name for name in lowered if "_" not in name)
    canonical_headers = "".join(f"{name}:{lowered[name].strip()}\n" for name in signed)
    signed_headers = ";".join(signed)
    if _CONTENT_SHA256 in lowered:
        payload_hash = lowered[_CONTENT_SHA256].strip()
    else:
        payload_hash = hashlib.sha256(body or b"").hexdigest()
    text = "\n".join(
        [
            method.upper(),
            canonical_uri(path),
            canonical_query_string(query),
            canonical_headers,
            signed_headers,
            payload_hash,
        ]
    )
    return text, signed_headers


def string_to_sign(sdk_date: str, canonical_request_text: str) -> str:
    """``SDK-HMAC-SHA256 \\n <X-Sdk-Date> \\n hex(sha256(canonical request))`` (§5 step 10)."""
    digest = hashlib.sha256(canonical_request_text.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{sdk_date}\n{digest}"


def _hmac_hex(sk: str, message: str) -> str:
    return hmac.new(sk.encode("utf-8"), message.encode("utf-8"), hashlib.sha256).hexdigest()


def compute_signature(
    *,
    method: str,
    host: str,
    path: str,
    query: Sequence[tuple[str, object]],
    headers: Mapping[str, str],
    body: bytes,
    sk: str,
) -> tuple[str, str]:
    """Sign one request; returns ``(signed_headers, signature_hex)``.

    ``path`` is the resource path as sent (percent-encoded, without the
    query); ``query`` the ``(key, value)`` pairs; ``headers`` every header to
    sign, already including ``X-Sdk-Date`` (and ``Host``; when absent, ``host``
    is used).  A verifier passes only the headers that the request's
    ``SignedHeaders`` names.
    """
    lowered = _lower_headers(headers)
    sdk_date = lowered.get("x-sdk-date")
    if sdk_date is None:
        raise SigningError("headers must contain X-Sdk-Date before signing")
    text, signed_headers = canonical_request(
        method=method, host=host, path=path, query=query, headers=headers, body=body
    )
    return signed_headers, _hmac_hex(sk, string_to_sign(sdk_date.strip(), text))


def authorization_header(access_key: str, signed_headers: str, signature: str) -> str:
    """The ``Authorization`` header value (§5 step 12)."""
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={signed_headers}, Signature={signature}"


def parse_authorization(value: str) -> tuple[str, str, str]:
    """Split an ``SDK-HMAC-SHA256`` ``Authorization`` value into ``(access_key, signed_headers, signature)``.

    Raises :class:`~hpo_analytics.errors.SigningError` (a :class:`ValueError`)
    when the scheme is not ``SDK-HMAC-SHA256``, a part is missing, repeated
    or empty, the signed-header list is not lowercase names joined by ``;``,
    or the signature is not 64 hex digits.  The message never quotes the
    signature.
    """
    if not isinstance(value, str):
        raise SigningError("Authorization value must be a string")
    match = _AUTH_RE.match(value)
    if match is None:
        raise SigningError(f"Authorization scheme is not {ALGORITHM}")
    parts: dict[str, str] = {}
    for raw in match.group("params").split(","):
        item = raw.strip()
        name, sep, val = item.partition("=")
        name = name.strip()
        val = val.strip()
        if not sep or not name or not val:
            raise SigningError("malformed Authorization parameter")
        if name in parts:
            raise SigningError(f"repeated Authorization parameter {name!r}")
        if name not in ("Access", "SignedHeaders", "Signature"):
            raise SigningError(f"unknown Authorization parameter {name!r}")
        parts[name] = val
    missing = [name for name in ("Access", "SignedHeaders", "Signature") if name not in parts]
    if missing:
        raise SigningError(f"Authorization lacks {', '.join(missing)}")
    signed = parts["SignedHeaders"]
    names = signed.split(";")
    if any(not n or n != n.lower() or not _HEADER_NAME_RE.match(n) for n in names):
        raise SigningError("malformed SignedHeaders list")
    if not _HEX64_RE.match(parts["Signature"]):
        raise SigningError("Signature is not 64 hex digits")
    return parts["Access"], signed, parts["Signature"]


def format_sdk_date(moment: datetime) -> str:
    """``moment`` as an ``X-Sdk-Date`` value; naive datetimes are taken as UTC."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc)
    return moment.strftime(SDK_DATE_FORMAT)


def parse_sdk_date(value: str) -> datetime:
    """Parse an ``X-Sdk-Date`` value into an aware UTC datetime.

    Raises :class:`~hpo_analytics.errors.SigningError` (a :class:`ValueError`) if malformed.
    """
    try:
        moment = datetime.strptime(value.strip(), SDK_DATE_FORMAT)
    except ValueError as exc:
        raise SigningError(f"X-Sdk-Date {value!r} is not in the form YYYYMMDDTHHMMSSZ") from exc
    return moment.replace(tzinfo=timezone.utc)


def _split_query(raw_query: bytes) -> list[tuple[str, str]]:
    """Decode a sent URL query into ``(key, value)`` pairs (``+`` is literal, as sent)."""
    pairs: list[tuple[str, str]] = []
    if not raw_query:
        return pairs
    for chunk in raw_query.decode("ascii").split("&"):
        if not chunk:
            continue
        key, _, value = chunk.partition("=")
        pairs.append((unquote(key), unquote(value)))
    return pairs


def sign_request(
    request: httpx.Request,
    *,
    ak: str,
    sk: str,
    security_token: str | None = None,
    now: datetime | None = None,
) -> None:
    """Sign an :class:`httpx.Request` in place with AK/SK.

    Adds ``X-Sdk-Date`` (from ``now``, default the current UTC time) unless the
    request already has one, ``X-Security-Token`` when ``security_token`` is
    given (it is signed, as the SDK does), and the ``Authorization`` header.
    Every header except hop-by-hop ones, ``Content-Length`` and names with an
    underscore is signed.  The query is signed as decoded from the URL, so a
    request whose URL query was built with :func:`canonical_query_string` is
    signed over exactly what is sent.  The request body must already be read
    (true for every request built with ``content=`` or ``json=``).
    """
    if "x-sdk-date" not in request.headers:
        moment = now if now is not None else datetime.now(timezone.utc)
        request.headers["X-Sdk-Date"] = format_sdk_date(moment)
    if security_token is not None:
        request.headers["X-Security-Token"] = security_token
    headers = {
        name: value
        for name, value in request.headers.items()
        if name.lower() not in _UNSIGNED_BY_CLIENT
    }
    url = request.url
    host = url.netloc.decode("ascii")
    raw_path = url.raw_path.split(b"?", 1)[0].decode("ascii")
    signed_headers, signature = compute_signature(
        method=request.method,
        host=host,
        path=raw_path,
        query=_split_query(url.query),
        headers=headers,
        body=request.content,
        sk=sk,
    )
    request.headers["Authorization"] = authorization_header(ak, signed_headers, signature)


def _mask(text: str) -> str:
    if len(text) <= 4:
        return "***"
    return text[:4] + "***"


class AkSkAuth(httpx.Auth):
    """An :class:`httpx.Auth` that signs every request with :func:`sign_request`.

    ``clock`` (default: the current UTC time) gives the ``X-Sdk-Date`` of each
    attempt.  The repr shows only the first characters of the AK and never the
    SK or security token.
    """

    def __init__(
        self,
        *,
        ak: str,
        sk: str,
        security_token: str | None = None,
        clock: Any = None,
    ) -> None:
        if not ak or not sk:
            raise SigningError("AkSkAuth needs a non-empty ak and sk")
        self._ak = ak
        self._sk = sk
        self._security_token = security_token
        self._clock = clock

    @property
    def access_key(self) -> str:
        """The access key id (not a secret on its own, but shown masked in reprs)."""
        return self._ak

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Sign ``request`` and send it once."""
        now = self._clock() if self._clock is not None else None
        sign_request(request, ak=self._ak, sk=self._sk, security_token=self._security_token, now=now)
        yield request

    def __repr__(self) -> str:
        token = ", security_token=***" if self._security_token is not None else ""
        return f"AkSkAuth(ak={_mask(self._ak)!r}, sk=***{token})"

    __str__ = __repr__

    def __reduce__(self) -> Any:  # never pickle secrets by accident
        raise NotPicklableError("AkSkAuth holds secrets and cannot be pickled")
