"""Known-answer vectors of modelarts_api.md §6, plus properties of the signer."""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpo_analytics import signing
from hpo_analytics.signing import (
    AkSkAuth,
    canonical_query_string,
    canonical_request,
    canonical_uri,
    compute_signature,
    parse_authorization,
    sign_request,
    string_to_sign,
)

AK = "HPOTESTAKEXAMPLE0001"
SK = "hpoTestSecretKeyExample0000000000000000001"
P = "0123456789abcdef0123456789abcdef"
J = "e346206c-6fde-4c33-9dcd-55be17858ceb"
HOST = "modelarts.cn-north-4.myhuaweicloud.com"
DATE = "20240102T030405Z"
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
V3_BODY = b'{"offset": 0, "limit": 1, "filters": [{"key": "name", "operator": "like", "value": ["trainjob"]}]}'


def _base_headers(content_type: str = "application/json") -> dict[str, str]:
    return {"Content-Type": content_type, "X-Project-Id": P, "X-Sdk-Date": DATE}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# (id, method, host, path, query, headers, body, sha256(CR), signature)
SIGNER_VECTORS = [
    (
        "V1",
        "GET",
        HOST,
        f"/v2/{P}/training-jobs/{J}/autosearch-trials",
        [("limit", 50), ("offset", 0)],
        _base_headers(),
        b"",
        "b97440610a5a371683c110ca96d390f6871f72cb28ebd4cb998102a221cf0f6f",
        "5306547c18d9a5ef603c4195a3b90c406dbee6bfa5f543cd3f0eb3fa5d57c40f",
    ),
    (
        "V2",
        "POST",
        HOST,
        f"/v2/{P}/training-jobs/{J}/autosearch-trial-earlystop/50093e6c",
        [],
        _base_headers(),
        b"",
        "507d084e8e6f421229fe1514eedba0da663b1a9bae64c1941f3e60bef45ed8f8",
        "15c6a37303b16fe700c8946244444c0029536a6384df09697450672fc3c322a7",
    ),
    (
        "V3",
        "POST",
        HOST,
        f"/v2/{P}/training-job-searches",
        [],
        _base_headers("application/json;charset=UTF-8"),
        V3_BODY,
        "2de68936ed60d3ef0d764259632abae69ece75bbf382e8d00fd386ae63800cfe",
        "5366ff663a5cfd8c55639ea72febb26328399918ab34828c6e87c2f4ed408dbd",
    ),
    (
        "V4",
        "GET",
        HOST,
        f"/v2/{P}/search-algorithms",
        [],
        _base_headers(),
        b"",
        "f8b60cf5cd8a98b72c733b67163b0aa07db5a5cc00a0d91117f026d0d3859098",
        "315c9185f56f24572d5d500f0291e84030e96a0257cc5c1ed6951903c2c4f5f3",
    ),
    (
        "V5",
        "GET",
        HOST,
        f"/v2/{P}/algorithms",
        [("searches", "name:a b/c*~"), ("offset", 0), ("limit", 10), ("flag", True), ("tags", ["z", "a"])],
        {**_base_headers(), "X-Custom_Under": "skipped"},
        b"",
        "10fcc41c047767f5c075fbcebac2c8eb4f383157c36c8ec6dbb932d0210e2aba",
        "1d0ca9b3ff9a4bd0bc424fc3591820d2bd7897ff82263d1ffda88c3cfb45159e",
    ),
    (
        "V6",
        "GET",
        HOST + ":443",
        f"/v2/{P}/training-jobs/{J}/autosearch-trials/a%20b%2Fc",
        [("name", "学习率 lr"), ("limit", 10)],
        _base_headers(),
        b"",
        "31958191b8aff3810d911edd1a2defc9ffc0ff4227f0d08c4c5d22c0a9766458",
        "687a097d9462f0f93b84669e13aed9219cb869d2887398709274ab91e3721dd4",
    ),
]

V1_CANONICAL = (
    f"GET\n/v2/{P}/training-jobs/{J}/autosearch-trials/\nlimit=50&offset=0\n"
    f"content-type:application/json\nhost:{HOST}\nx-project-id:{P}\nx-sdk-date:{DATE}\n\n"
    f"content-type;host;x-project-id;x-sdk-date\n{EMPTY}"
)


@pytest.mark.parametrize("vector", SIGNER_VECTORS, ids=[v[0] for v in SIGNER_VECTORS])
def test_signer_vectors(vector: tuple) -> None:
    _id, method, host, path, query, headers, body, cr_hash, signature = vector
    text, signed = canonical_request(method=method, host=host, path=path, query=query, headers=headers, body=body)
    assert _sha(text) == cr_hash
    assert signed == "content-type;host;x-project-id;x-sdk-date"
    assert compute_signature(
        method=method, host=host, path=path, query=query, headers=headers, body=body, sk=SK
    ) == ("content-type;host;x-project-id;x-sdk-date", signature)


def test_v1_canonical_request_text_and_string_to_sign() -> None:
    text, _ = canonical_request(
        method="GET",
        host=HOST,
        path=f"/v2/{P}/training-jobs/{J}/autosearch-trials",
        query=[("offset", 0), ("limit", 50)],
        headers=_base_headers(),
        body=b"",
    )
    assert text == V1_CANONICAL
    assert string_to_sign(DATE, text) == (
        "SDK-HMAC-SHA256\n20240102T030405Z\nb97440610a5a371683c110ca96d390f6871f72cb28ebd4cb998102a221cf0f6f"
    )


def test_v2_canonical_uri_and_empty_query_line() -> None:
    text, _ = canonical_request(
        method="POST",
        host=HOST,
        path=f"/v2/{P}/training-jobs/{J}/autosearch-trial-earlystop/50093e6c",
        query=[],
        headers=_base_headers(),
        body=b"",
    )
    lines = text.split("\n")
    assert lines[1] == f"/v2/{P}/training-jobs/{J}/autosearch-trial-earlystop/50093e6c/"
    assert lines[2] == ""
    assert lines[-1] == EMPTY


def test_v3_body_hash() -> None:
    assert hashlib.sha256(V3_BODY).hexdigest() == "d3d97dbc13f9ad6fb7f27dec3963bc4719c337ec313d9f68ab9784d971850143"
    text, _ = canonical_request(
        method="POST", host=HOST, path=f"/v2/{P}/training-job-searches", query=[],
        headers=_base_headers("application/json;charset=UTF-8"), body=V3_BODY,
    )
    assert text.endswith("\nd3d97dbc13f9ad6fb7f27dec3963bc4719c337ec313d9f68ab9784d971850143")
    assert "content-type:application/json;charset=UTF-8\n" in text


def test_v5_query_encoding_and_underscore_header() -> None:
    query = [("searches", "name:a b/c*~"), ("offset", 0), ("limit", 10), ("flag", True), ("tags", ["z", "a"])]
    assert canonical_query_string(query) == "flag=true&limit=10&offset=0&searches=name%3Aa%20b%2Fc%2A~&tags=a&tags=z"
    text, signed = canonical_request(
        method="GET", host=HOST, path=f"/v2/{P}/algorithms", query=query,
        headers={**_base_headers(), "X-Custom_Under": "skipped"}, body=b"",
    )
    assert "custom_under" not in text
    assert "x-custom_under" not in signed


def test_v6_canonical_uri_query_and_host_with_port() -> None:
    assert canonical_uri(f"/v2/{P}/training-jobs/{J}/autosearch-trials/a%20b%2Fc") == (
        f"/v2/{P}/training-jobs/{J}/autosearch-trials/a%20b/c/"
    )
    assert canonical_query_string([("name", "学习率 lr"), ("limit", 10)]) == (
        "limit=10&name=%E5%AD%A6%E4%B9%A0%E7%8E%87%20lr"
    )
    text, _ = canonical_request(
        method="GET", host=HOST + ":443", path=f"/v2/{P}/x", query=[], headers=_base_headers(), body=b"",
    )
    assert f"\nhost:{HOST}:443\n" in text


# §6.2: the SDK's full pipeline, User-Agent signed, Host given as a header.
PIPELINE_HEADERS = {
    "Content-Type": "application/json",
    "X-Sdk-Date": DATE,
    "User-Agent": "huaweicloud-usdk-python/3.0; hpo-kat",
    "X-Project-Id": P,
    "Host": HOST,
}
PIPELINE_VECTORS = [
    ("P1", "GET", f"/v2/{P}/training-jobs/{J}/autosearch-trials", [("limit", 50), ("offset", 100)],
     PIPELINE_HEADERS, b"", "de861a5fa5abba57e8e68116c4ccf494688bac513f75d991c0c9c627de24d52e"),
    ("P2", "POST", f"/v2/{P}/training-jobs/{J}/autosearch-trial-earlystop/50093e6c", [],
     PIPELINE_HEADERS, b"", "990ffb3e339491f4de923268702e40a85c7026d2e684c5ab2d754f59e6c1e8d1"),
    ("P3", "GET", f"/v2/{P}/search-algorithms", [],
     PIPELINE_HEADERS, b"", "794f313ab67cefc132e23412c2015de6c2ea8a59bd5119255e5a79a026eddb3d"),
    ("P4", "POST", f"/v2/{P}/training-job-searches", [],
     {**PIPELINE_HEADERS, "Content-Type": "application/json;charset=utf-8"}, V3_BODY,
     "c63ebf319c233cdd306b62e2e6098047ad53e28d525c3c55cd377a2eba8c5854"),
]


@pytest.mark.parametrize("vector", PIPELINE_VECTORS, ids=[v[0] for v in PIPELINE_VECTORS])
def test_pipeline_vectors(vector: tuple) -> None:
    _id, method, path, query, headers, body, signature = vector
    signed, sig = compute_signature(
        method=method, host="ignored.example", path=path, query=query, headers=headers, body=body, sk=SK
    )
    assert signed == "content-type;host;user-agent;x-project-id;x-sdk-date"
    assert sig == signature


@pytest.mark.parametrize("vector", PIPELINE_VECTORS, ids=[v[0] for v in PIPELINE_VECTORS])
def test_sign_request_on_httpx_request_reproduces_pipeline_vectors(vector: tuple) -> None:
    _id, method, path, query, headers, body, signature = vector
    qs = canonical_query_string(query)
    url = f"https://{HOST}{path}" + (f"?{qs}" if qs else "")
    request = httpx.Request(method, url, headers={k: v for k, v in headers.items() if k != "Host"}, content=body)
    sign_request(request, ak=AK, sk=SK)
    assert request.url.query.decode() == qs  # the query sent is the canonical one
    assert request.headers["Authorization"] == (
        f"SDK-HMAC-SHA256 Access={AK}, SignedHeaders=content-type;host;user-agent;x-project-id;x-sdk-date, "
        f"Signature={signature}"
    )


def test_sign_request_v1_full_header() -> None:
    request = httpx.Request(
        "GET",
        f"https://{HOST}/v2/{P}/training-jobs/{J}/autosearch-trials?limit=50&offset=0",
        headers={"Content-Type": "application/json", "X-Project-Id": P},
    )
    sign_request(request, ak=AK, sk=SK, now=datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    assert request.headers["X-Sdk-Date"] == DATE
    assert request.headers["Authorization"] == (
        "SDK-HMAC-SHA256 Access=HPOTESTAKEXAMPLE0001, SignedHeaders=content-type;host;x-project-id;x-sdk-date, "
        "Signature=5306547c18d9a5ef603c4195a3b90c406dbee6bfa5f543cd3f0eb3fa5d57c40f"
    )


def test_doc_hmac_vector() -> None:
    sts = (
        "SDK-HMAC-SHA256\n20191115T033655Z\n"
        "b25362e603ee30f4f25e7858e8a7160fd36e803bb2dfe206278659d71a9bcd7a"
    )
    assert signing._hmac_hex("MFyfvK41ba2giqM7Uio6PznpdUKGpownRZlmVmHc", sts) == (
        "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    )
    header = "SDK-HMAC-SHA256 Access=QTWAOYTTINDUT2QVKYUC, SignedHeaders=content-type;host;x-sdk-date, " \
        "Signature=7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe"
    assert parse_authorization(header) == (
        "QTWAOYTTINDUT2QVKYUC",
        "content-type;host;x-sdk-date",
        "7be6668032f70418fcc22abc52071e57aff61b84a1d2381bb430d6870f4f6ebe",
    )


def test_security_token_is_added_and_signed() -> None:
    request = httpx.Request("GET", f"https://{HOST}/v2/{P}/search-algorithms")
    sign_request(request, ak=AK, sk=SK, security_token="tok-secret", now=datetime(2024, 1, 2, 3, 4, 5))
    assert request.headers["X-Security-Token"] == "tok-secret"
    _ak, signed, _sig = parse_authorization(request.headers["Authorization"])
    assert signed == "host;x-sdk-date;x-security-token"


def test_hop_by_hop_and_content_length_not_signed() -> None:
    request = httpx.Request(
        "POST", f"https://{HOST}/v2/{P}/training-job-searches", content=V3_BODY,
        headers={"Connection": "keep-alive", "Content-Type": "application/json;charset=UTF-8"},
    )
    assert "content-length" in request.headers
    sign_request(request, ak=AK, sk=SK, now=datetime(2024, 1, 2, 3, 4, 5))
    _ak, signed, _sig = parse_authorization(request.headers["Authorization"])
    assert signed == "content-type;host;x-sdk-date"


def test_verifier_round_trip_over_signed_headers_only() -> None:
    """What a server does: parse, keep only the named headers, recompute."""
    qs = canonical_query_string([("offset", 3), ("limit", 50), ("q", "a b+c/é")])
    request = httpx.Request("GET", f"http://127.0.0.1:8123/v2/{P}/x/autosearch-trials?{qs}",
                            headers={"Accept": "*/*", "X_Weird": "1"})
    sign_request(request, ak=AK, sk=SK)
    ak, signed, sig = parse_authorization(request.headers["Authorization"])
    assert ak == AK
    names = signed.split(";")
    headers = {n: request.headers[n] for n in names}
    path, _, raw_query = request.url.raw_path.decode().partition("?")
    query = signing._split_query(raw_query.encode())
    assert compute_signature(method="GET", host="127.0.0.1:8123", path=path, query=query,
                             headers=headers, body=b"", sk=SK) == (signed, sig)
    # a different SK or a tampered query fails
    assert compute_signature(method="GET", host="127.0.0.1:8123", path=path, query=query,
                             headers=headers, body=b"", sk=SK + "x")[1] != sig
    assert compute_signature(method="GET", host="127.0.0.1:8123", path=path, query=[*query, ("z", 1)],
                             headers=headers, body=b"", sk=SK)[1] != sig


def test_existing_sdk_date_is_kept() -> None:
    request = httpx.Request("GET", f"https://{HOST}/v2/{P}/search-algorithms", headers={"X-Sdk-Date": DATE})
    sign_request(request, ak=AK, sk=SK, now=datetime(2030, 1, 1))
    assert request.headers["X-Sdk-Date"] == DATE


def test_compute_signature_requires_date() -> None:
    with pytest.raises(ValueError, match="X-Sdk-Date"):
        compute_signature(method="GET", host=HOST, path="/", query=[], headers={}, body=b"", sk=SK)


def test_query_sorting_rules() -> None:
    # raw values sort numerically under one key; None is left out; lists expand sorted
    assert canonical_query_string([("a", 10), ("a", 9)]) == "a=9&a=10"
    assert canonical_query_string([("b", None), ("a", False)]) == "a=false"
    assert canonical_query_string([("k", ("y", "x"))]) == "k=x&k=y"
    assert canonical_query_string([]) == ""
    # unorderable mixed values under one key do not crash
    assert canonical_query_string([("a", 1), ("a", "x")]) == "a=1&a=x"


def test_canonical_uri_root_and_trailing_slash() -> None:
    assert canonical_uri("") == "/"
    assert canonical_uri("/") == "/"
    assert canonical_uri("/a/") == "/a/"
    assert canonical_uri("/a~b/c.d-e_f") == "/a~b/c.d-e_f/"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "Basic abc",
        "SDK-HMAC-SHA256",
        "SDK-HMAC-SHA256 Access=A, SignedHeaders=host",
        "SDK-HMAC-SHA256 Access=A, SignedHeaders=host, Signature=xyz",
        "SDK-HMAC-SHA256 Access=A, SignedHeaders=Host, Signature=" + "a" * 64,
        "SDK-HMAC-SHA256 Access=A, SignedHeaders=host;;x, Signature=" + "a" * 64,
        "SDK-HMAC-SHA256 Access=A, Access=B, SignedHeaders=host, Signature=" + "a" * 64,
        "SDK-HMAC-SHA256 Access=, SignedHeaders=host, Signature=" + "a" * 64,
        "SDK-HMAC-SHA256 Access=A, SignedHeaders=host, Signature=" + "a" * 64 + ", Extra=1",
    ],
)
def test_parse_authorization_rejects_malformed(value: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_authorization(value)
    assert "a" * 64 not in str(info.value)


def test_auth_repr_hides_secrets() -> None:
    auth = AkSkAuth(ak=AK, sk=SK, security_token="sts-secret-token")
    text = repr(auth) + str(auth)
    assert SK not in text and "sts-secret-token" not in text and AK not in text
    with pytest.raises(TypeError):
        import pickle

        pickle.dumps(auth)


def test_auth_flow_signs_each_request_via_transport() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={})

    auth = AkSkAuth(ak=AK, sk=SK, clock=lambda: datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone.utc))
    with httpx.Client(transport=httpx.MockTransport(handler), auth=auth) as client:
        client.get(f"https://{HOST}/v2/{P}/search-algorithms")
    assert seen[0].headers["X-Sdk-Date"] == DATE
    assert parse_authorization(seen[0].headers["Authorization"])[0] == AK


@given(st.lists(st.tuples(st.text(min_size=1, max_size=8), st.text(max_size=8)), max_size=6))
def test_query_string_round_trips_through_the_wire(pairs: list[tuple[str, str]]) -> None:
    """Decoding the sent canonical query and re-canonicalising gives the same string."""
    qs = canonical_query_string(pairs)
    assert canonical_query_string(signing._split_query(qs.encode("ascii"))) == qs
    assert all(ch.isascii() for ch in qs)
