"""``ModelArtsClient``: httpx, token or AK/SK auth, paging, retries and typed errors."""

from __future__ import annotations

import ipaddress
import json
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit

import httpx

from .. import _jsonutil
from .._table import FINISHED_STATUSES, METADATA_METRIC, METADATA_METRICS, METADATA_MODE
from .._version import __version__
from ..errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    HpoAnalyticsError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
    ResponseFormatError,
    TransportError,
)
from ..signing import AkSkAuth, canonical_query_string
from ._errors import (
    Redactor,
    error_from_response,
    error_from_transport,
    format_error,
    request_certainly_not_sent,
)
from ._paging import FetchedPage, iter_pages
from ._progress import ProgressArg, resolve_progress
from ._retry import RetryPolicy

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["EarlyStopResult", "ModelArtsClient"]

logger = logging.getLogger("hpo_analytics.client")

ENV_AK = "HUAWEICLOUD_SDK_AK"
ENV_SK = "HUAWEICLOUD_SDK_SK"
ENV_SECURITY_TOKEN = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"
ENV_REGION = "HPO_ANALYTICS_REGION"
ENV_ENDPOINT = "HPO_ANALYTICS_ENDPOINT"
ENV_TOKEN = "HPO_ANALYTICS_TOKEN"

_REGION_RE = re.compile(r"^[a-z]{2,}(?:-[a-z0-9]+)+$")
_JSON = "application/json"
_JSON_BODY = "application/json;charset=UTF-8"
_MAX_SEARCH_LIMIT = 50


def endpoint_for_region(region: str) -> str:
    """The ModelArts endpoint of a region (``ap-southeast-1``, Hong Kong, is on ``myhuaweicloud.cn``)."""
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise ConfigurationError(f"region must look like 'cn-north-4', not {region!r}")
    if region == "ap-southeast-1":
        return "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
    return f"https://modelarts.{region}.myhuaweicloud.com"


def _is_loopback(host: str) -> bool:
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _check_endpoint(endpoint: str, *, allow_insecure_http: bool) -> str:
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"endpoint must be an http(s) URL with a host, not {endpoint!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"endpoint must not have a query or fragment: {endpoint!r}")
    if parts.username or parts.password:
        raise ConfigurationError("endpoint must not carry credentials")
    if parts.scheme == "http" and not allow_insecure_http and not _is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing plain http:// to non-loopback host {parts.hostname!r}; use https:// "
            "or pass allow_insecure_http=True"
        )
    return endpoint.rstrip("/")


class _TokenAuth(httpx.Auth):
    """Adds ``X-Auth-Token``; the repr never shows the token."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["X-Auth-Token"] = self._token
        yield request

    def __repr__(self) -> str:
        return "_TokenAuth(token=***)"

    def __reduce__(self) -> Any:
        raise TypeError("token auth holds a secret and cannot be pickled")


class _BorrowedTransport(httpx.BaseTransport):
    """Wraps a caller's transport so closing our httpx.Client leaves it open."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)

    def close(self) -> None:  # the caller owns it
        pass


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


def _page_size(page_size: int, *, high: int | None = None) -> int:
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ConfigurationError(f"page_size must be a positive int, not {page_size!r}")
    if high is not None and page_size > high:
        raise ConfigurationError(f"page_size must be at most {high}, not {page_size}")
    return page_size


def _path_arg(name: str, value: str) -> str:
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}")
    return quote(value, safe="")


def _reward_attrs_list(job: Any) -> list[Any] | None:
    """``algorithm.policies.auto_search.reward_attrs`` of job details, or ``None`` when absent or not a list."""
    try:
        attrs = job["algorithm"]["policies"]["auto_search"]["reward_attrs"]
    except (KeyError, IndexError, TypeError):
        return None
    return attrs if isinstance(attrs, list) else None


def _mode_of(entry: Mapping[str, Any]) -> str | None:
    mode = entry.get("mode")
    return mode.lower() if isinstance(mode, str) and mode.lower() in ("max", "min") else None


def _reward_attr(job: Any) -> tuple[str | None, str | None]:
    """``(metric, mode)`` from ``algorithm.policies.auto_search.reward_attrs[0]``, if present."""
    attrs = _reward_attrs_list(job)
    if not attrs or not isinstance(attrs[0], Mapping):
        return None, None
    first = attrs[0]
    name = first.get("name")
    return (name if isinstance(name, str) and name else None), _mode_of(first)


def declared_metrics(job: Any, *, source: str = "job details") -> list[dict[str, str | None]]:
    """Every metric the job details declare (``reward_attrs``), in order, as ``{"name", "mode"}``.

    ``mode`` is ``"max"`` or ``"min"`` (case-insensitive in the details), or
    ``None`` when it is missing or anything else.  An entry without a
    non-empty string ``name`` (or that is not an object at all), and a second
    entry for a name already seen, is skipped with a warning on the
    ``hpo_analytics.client`` logger naming ``source``.  Details without
    ``reward_attrs`` give ``[]``.
    """
    attrs = _reward_attrs_list(job)
    out: list[dict[str, str | None]] = []
    seen: set[str] = set()
    for i, entry in enumerate(attrs or []):
        name = entry.get("name") if isinstance(entry, Mapping) else None
        if not isinstance(name, str) or not name:
            logger.warning("%s: reward_attrs[%d] has no metric name; skipped", source, i)
            continue
        if name in seen:
            logger.warning("%s: reward_attrs[%d] declares %r again; skipped", source, i, name)
            continue
        seen.add(name)
        out.append({"name": name, "mode": _mode_of(entry)})
    return out


def reward_metadata(job: Any, *, source: str = "job details") -> dict[bytes, bytes]:
    """The schema metadata a table gets from its job's details.

    ``b"hpo_analytics.metric"``/``b"hpo_analytics.mode"``: the default
    metric, ``reward_attrs[0]`` (each only when it is well formed: a name; a
    mode of ``max``/``min``).  ``b"hpo_analytics.metrics"``: every declared
    metric (see :func:`declared_metrics`) as a JSON list of ``{"name",
    "mode"}``, present only when the job declares at least one.
    """

    metric, mode = _reward_attr(job)
    metrics = declared_metrics(job, source=source)
    meta: dict[bytes, bytes] = {}
    if metric is not None:
        meta[METADATA_METRIC] = metric.encode("utf-8")
    elif metrics:
        logger.warning("%s: the first of reward_attrs has no metric name; no default metric recorded", source)
    if mode is not None:
        meta[METADATA_MODE] = mode.encode("utf-8")
    if metrics:
        meta[METADATA_METRICS] = json.dumps(metrics, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return meta


class ModelArtsClient:
    """A client for the ModelArts autosearch (hyperparameter search) API.

    Give ``endpoint`` (e.g. the simulator's ``sim.url``) or ``region`` (the
    endpoint is then ``https://modelarts.{region}.myhuaweicloud.com``, or
    ``…myhuaweicloud.cn`` for ``ap-southeast-1``), the ``project_id``, and
    either an IAM ``token`` (sent as ``X-Auth-Token``) or an ``ak``/``sk`` pair
    (``SDK-HMAC-SHA256`` signing, with ``security_token`` for temporary
    credentials).

    ``retry`` is a :class:`RetryPolicy` (default: 5 attempts, jittered
    exponential backoff honouring ``Retry-After``).  ``max_concurrency``
    bounds the parallel page and per-trial requests.  ``transport`` replaces
    httpx's network transport (tests pass ``httpx.MockTransport``); the
    client never closes a transport it was given.  Plain ``http://`` is
    refused unless the host is loopback or ``allow_insecure_http=True``.

    Use it as a context manager, or call :meth:`close`.  Secrets never appear
    in its repr, its log lines or the errors it raises.  It logs to the
    ``hpo_analytics.client`` logger and configures no handlers.
    """

    def __init__(
        self,
        *,
        endpoint: str | None = None,
        region: str | None = None,
        project_id: str,
        token: str | None = None,
        ak: str | None = None,
        sk: str | None = None,
        security_token: str | None = None,
        timeout: float | httpx.Timeout = 60.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        allow_insecure_http: bool = False,
    ) -> None:
        if endpoint is None:
            if region is None:
                raise ConfigurationError("give endpoint= or region=")
            endpoint = endpoint_for_region(region)
        elif region is not None:
            endpoint_for_region(region)  # validate it anyway
        if not isinstance(endpoint, str):
            raise ConfigurationError(f"endpoint must be a string, not {type(endpoint).__name__}")
        self._endpoint = _check_endpoint(endpoint, allow_insecure_http=allow_insecure_http)
        self._region = region
        if not isinstance(project_id, str) or not project_id or "/" in project_id:
            raise ConfigurationError("project_id must be a non-empty string without '/'")
        self._project_id = project_id
        if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
            raise ConfigurationError(f"max_concurrency must be a positive int, not {max_concurrency!r}")
        self._max_concurrency = max_concurrency
        if retry is not None and not isinstance(retry, RetryPolicy):
            raise ConfigurationError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
        self._retry = retry if retry is not None else RetryPolicy()

        auth: httpx.Auth
        if token is not None and (ak is not None or sk is not None):
            raise ConfigurationError("give either token= or ak=/sk=, not both")
        if token is not None:
            if not isinstance(token, str) or not token:
                raise ConfigurationError("token must be a non-empty string")
            if security_token is not None:
                raise ConfigurationError("security_token goes with ak=/sk=, not with token=")
            auth = _TokenAuth(token)
            self._auth_mode = "token"
        elif ak is not None or sk is not None:
            if not ak or not isinstance(ak, str):
                raise ConfigurationError("sk= was given without ak=")
            if not sk or not isinstance(sk, str):
                raise ConfigurationError("ak= was given without sk=")
            auth = AkSkAuth(ak=ak, sk=sk, security_token=security_token or None)
            self._auth_mode = "aksk"
        else:
            raise ConfigurationError("no credentials: give token= or ak= and sk=")
        self._auth = auth
        self._redact = Redactor([token, sk, security_token])

        limits = httpx.Limits(max_connections=max_concurrency + 2, max_keepalive_connections=max_concurrency + 2)
        headers = {
            "Content-Type": _JSON,
            "X-Project-Id": project_id,
            "User-Agent": f"hpo-analytics/{__version__}",
        }
        self._http = httpx.Client(
            timeout=timeout,
            verify=verify,
            limits=limits,
            headers=headers,
            transport=_BorrowedTransport(transport) if transport is not None else None,
            follow_redirects=False,
            trust_env=transport is None,
        )
        self._closed = False

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None, **options: Any) -> ModelArtsClient:
        """Build a client from environment variables (``environ`` defaults to ``os.environ``).

        Read: ``HUAWEICLOUD_SDK_PROJECT_ID`` (required); credentials as
        ``HPO_ANALYTICS_TOKEN`` (IAM token) or ``HUAWEICLOUD_SDK_AK`` +
        ``HUAWEICLOUD_SDK_SK`` (+ ``HUAWEICLOUD_SDK_SECURITY_TOKEN``); where to
        connect as ``HPO_ANALYTICS_ENDPOINT``, else ``HPO_ANALYTICS_REGION``
        (the SDK's ``HUAWEICLOUD_SDK_REGION_MODELARTS_<REGION>`` override is
        honoured too).  Empty values count as unset.  A missing setting raises
        :class:`~hpo_analytics.errors.ConfigurationError` naming the variable.
        Other keyword ``options`` go to the constructor.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name)
            return value.strip() if value and value.strip() else None

        project_id = get(ENV_PROJECT_ID)
        if project_id is None:
            raise ConfigurationError(f"environment variable {ENV_PROJECT_ID} is not set")
        endpoint = get(ENV_ENDPOINT)
        region = get(ENV_REGION)
        if endpoint is None:
            if region is None:
                raise ConfigurationError(f"set {ENV_ENDPOINT} or {ENV_REGION} (e.g. cn-north-4)")
            override = get(f"HUAWEICLOUD_SDK_REGION_MODELARTS_{region.replace('-', '_').upper()}")
            if override:
                endpoint = override.split(",")[0].strip()
        token = get(ENV_TOKEN)
        ak, sk, security_token = get(ENV_AK), get(ENV_SK), get(ENV_SECURITY_TOKEN)
        credentials: dict[str, Any]
        if ak is not None or sk is not None:
            if ak is None:
                raise ConfigurationError(f"{ENV_SK} is set but {ENV_AK} is not")
            if sk is None:
                raise ConfigurationError(f"{ENV_AK} is set but {ENV_SK} is not")
            if token is not None:
                raise ConfigurationError(f"set either {ENV_TOKEN} or {ENV_AK}/{ENV_SK}, not both")
            credentials = {"ak": ak, "sk": sk, "security_token": security_token}
        elif token is not None:
            credentials = {"token": token}
        else:
            raise ConfigurationError(f"no credentials: set {ENV_AK} and {ENV_SK}, or {ENV_TOKEN}")
        return cls(endpoint=endpoint, region=region, project_id=project_id, **credentials, **options)

    # ------------------------------------------------------------------ lifecycle

    @property
    def endpoint(self) -> str:
        """The base URL requests go to."""
        return self._endpoint

    @property
    def project_id(self) -> str:
        """The project id in every path."""
        return self._project_id

    @property
    def max_concurrency(self) -> int:
        """The most requests in flight at once."""
        return self._max_concurrency

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in use."""
        return self._retry

    def close(self) -> None:
        """Close the connection pool this client created (never a transport it was given)."""
        if not self._closed:
            self._closed = True
            self._http.close()

    def __enter__(self) -> ModelArtsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ModelArtsClient(endpoint={self._endpoint!r}, project_id={self._project_id!r}, auth={self._auth_mode!r})"

    def __reduce__(self) -> Any:
        raise TypeError("ModelArtsClient holds credentials and cannot be pickled")

    # ------------------------------------------------------------------ requests

    def _path(self, *parts: str) -> str:
        return f"/v2/{quote(self._project_id, safe='')}/" + "/".join(parts)

    def _build(self, method: str, path: str, query: Sequence[tuple[str, object]], body: bytes | None) -> httpx.Request:
        qs = canonical_query_string(query)
        url = self._endpoint + path + (f"?{qs}" if qs else "")
        headers = {"Content-Type": _JSON_BODY} if body is not None else None
        return self._http.build_request(method, url, content=body if body is not None else b"", headers=headers)

    def _send_once(self, request: httpx.Request) -> httpx.Response:
        """One attempt; raises the translated error (with its ``httpx`` cause) on failure."""
        if self._closed:
            raise HpoAnalyticsError("the client is closed")
        url = str(request.url)
        try:
            response = self._http.send(request, auth=self._auth)
        except httpx.TransportError as exc:
            raise error_from_transport(exc, method=request.method, url=url, redact=self._redact) from exc
        if not 200 <= response.status_code < 300:
            raise error_from_response(response, method=request.method, url=url, redact=self._redact)
        return response

    def _decode(self, request: httpx.Request, response: httpx.Response) -> Any:
        content = response.content
        try:
            return _jsonutil.loads(content)
        except _jsonutil.JSONDecodeError as exc:
            kind = "empty body" if not content else "body is not valid JSON (non-JSON or truncated)"
            err = format_error(kind, method=request.method, url=str(request.url), content=content, redact=self._redact)
            raise err from exc

    def _retryable(self, exc: HpoAnalyticsError) -> bool:
        policy = self._retry
        if isinstance(exc, TransportError):
            return True
        if isinstance(exc, ResponseFormatError):
            return policy.retry_malformed
        if isinstance(exc, (AuthenticationError, PermissionDeniedError)):
            return False
        if isinstance(exc, RateLimitedError):
            return True
        if isinstance(exc, APIError):
            return exc.status_code in policy.retry_statuses
        return False

    def _wait(self, attempt: int, exc: HpoAnalyticsError, started: float, what: str) -> bool:
        """Sleep before the next attempt; False when the policy gives up."""
        retry_after = getattr(exc, "retry_after", None)
        delay = self._retry.delay(attempt, retry_after=retry_after, started=started)
        if delay is None:
            return False
        logger.info("retrying %s in %.2f s (attempt %d failed: %s)", what, delay, attempt, exc)
        self._retry.sleep(delay)
        return True

    def _call(
        self,
        method: str,
        path: str,
        *,
        query: Sequence[tuple[str, object]] = (),
        json_body: Any = None,
        idempotent: bool = True,
    ) -> Any:
        """Send a request with retries (when ``idempotent``) and return its decoded JSON body."""
        body = _jsonutil.dumps(json_body).encode("utf-8") if json_body is not None else None
        started = self._retry.clock()
        what = f"{method} {path}"
        attempt = 0
        while True:
            attempt += 1
            request = self._build(method, path, query, body)
            try:
                response = self._send_once(request)
                result = self._decode(request, response)
                logger.debug("%s -> %d (attempt %d)", what, response.status_code, attempt)
                return result
            except HpoAnalyticsError as exc:
                if not (idempotent and self._retryable(exc) and self._wait(attempt, exc, started, what)):
                    raise

    def _executor(self, n_tasks: int) -> ThreadPoolExecutor | None:
        workers = min(self._max_concurrency, n_tasks)
        if workers <= 1:
            return None
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="hpo-analytics-client")

    # ------------------------------------------------------------------ trials

    def _fetch_trials_page(self, job_id: str, offset: int, limit: int) -> FetchedPage:
        path = self._path("training-jobs", _path_arg("job_id", job_id), "autosearch-trials")
        body = self._call("GET", path, query=[("limit", limit), ("offset", offset)])
        where = f"trials page at offset {offset} of job {job_id}"
        if not isinstance(body, dict):
            raise ResponseFormatError(f"{where}: expected a JSON object, got {type(body).__name__}")
        items = body.get("items")
        if items is None:
            items = {"header": [], "data": []}
        if not isinstance(items, dict):
            raise ResponseFormatError(f"{where}: 'items' is not an object")
        header, data = items.get("header") or [], items.get("data") or []
        if not isinstance(header, list) or not isinstance(data, list):
            raise ResponseFormatError(f"{where}: 'items.header'/'items.data' are not lists")
        total = body.get("total")
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ResponseFormatError(f"{where}: 'total' is not a non-negative integer ({total!r})")
        if data and "trial_id" not in header:
            raise ResponseFormatError(f"{where}: the header has no 'trial_id' column")
        column = header.index("trial_id") if "trial_id" in header else -1
        ids: list[Any] = []
        for row in data:
            if not isinstance(row, list) or len(row) != len(header):
                raise ResponseFormatError(f"{where}: a row is not a list as long as the header")
            cell = row[column]
            ids.append(cell if isinstance(cell, str) and cell else ("row", _jsonutil.dumps(row)))

        def keep(positions: list[int]) -> dict[str, Any]:
            if len(positions) == len(data):
                return body
            page = dict(body)
            page["items"] = {**items, "data": [data[i] for i in positions]}
            page["count"] = len(positions)
            return page

        echoed_offset = body.get("offset") if isinstance(body.get("offset"), int) else None
        echoed_limit = body.get("limit") if isinstance(body.get("limit"), int) else None
        return FetchedPage(offset, total, data, ids, echoed_offset, echoed_limit, keep)

    def iter_trial_pages(
        self, job_id: str, *, page_size: int = 50, progress: ProgressArg = None
    ) -> Iterator[dict[str, Any]]:
        """Yield the job's trial pages (parsed JSON dicts), every trial exactly once.

        Each page is the service's response (``total``, ``count``, ``limit``,
        ``offset``, ``items: {header, data}``) with ``items.data`` restricted
        to trials not yielded before (``count`` adjusted); the first page is
        always yielded.  Works whether the service reads ``offset`` as records
        or pages, when trials are added while paging, and when a page comes
        back empty early (see :mod:`hpo_analytics.client._paging`).  Pages
        after the first two are fetched concurrently.  ``progress`` is a
        callable ``(trials_seen, total)`` or ``True`` for a stderr bar.
        """
        size = _page_size(page_size)
        _path_arg("job_id", job_id)  # validate before any request
        on_progress, finish = resolve_progress(progress, label="trials")
        executor = self._executor(self._max_concurrency)
        try:
            yield from iter_pages(
                lambda offset: self._fetch_trials_page(job_id, offset, size),
                page_size=size,
                executor=executor,
                on_progress=on_progress,
                what=f"trials of job {job_id}",
            )
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
            finish()

    def _reward_metadata(self, job_id: str) -> dict[bytes, bytes]:
        try:
            job = self.get_training_job(job_id)
        except (NotFoundError, PermissionDeniedError) as exc:
            logger.warning("could not read details of job %s (%s); no reward metadata recorded", job_id, exc)
            return {}
        return reward_metadata(job, source=f"details of job {job_id}")

    @staticmethod
    def _with_metadata(table: pa.Table, meta: dict[bytes, bytes]) -> pa.Table:
        if not meta:
            return table
        return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})

    def fetch_trials(self, job_id: str, *, page_size: int = 50, progress: ProgressArg = None) -> pa.Table:
        """Every trial of the job as one typed Arrow table (:func:`~hpo_analytics.trials_to_arrow`).

        The job's details (``algorithm.policies.auto_search.reward_attrs``)
        are recorded in the schema metadata: the first entry's metric and
        mode, the default, under ``b"hpo_analytics.metric"`` and
        ``b"hpo_analytics.mode"``, and every declared metric under
        ``b"hpo_analytics.metrics"``, a JSON list of ``{"name", "mode"}``
        (``mode`` ``null`` when not ``max``/``min``; entries without a name
        are skipped with a warning).  If the details cannot be read (not
        found, no permission) the table is returned without them.
        """
        from ..normalize import trials_to_arrow

        details: list[Future[dict[bytes, bytes]]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hpo-analytics-details") as side:

            def pages() -> Iterator[dict[str, Any]]:
                it = self.iter_trial_pages(job_id, page_size=page_size, progress=progress)
                first = next(it)
                # Only once page 0 got through (credentials work, the job exists):
                # bad credentials then cost one rejected request, not two.
                details.append(side.submit(self._reward_metadata, job_id))
                yield first
                yield from it

            # Pages stream into the normalizer as they arrive, so parsing overlaps the network.
            table = trials_to_arrow(pages())
            meta = details[0].result() if details else {}
        return self._with_metadata(table, meta)

    # ------------------------------------------------------------------ per-trial histories

    def _trial_history_page(self, job_id: str, trial_id: str) -> dict[str, Any]:
        path = self._path(
            "training-jobs", _path_arg("job_id", job_id), "autosearch-trials", _path_arg("trial_id", trial_id)
        )
        body = self._call("GET", path)
        if not isinstance(body, dict) or not isinstance(body.get("header", []), list) or not isinstance(
            body.get("data", []), list
        ):
            raise ResponseFormatError(f"history of trial {trial_id} of job {job_id}: expected {{header, data}}")
        return body

    def fetch_trial_history(self, job_id: str, trial_id: str) -> pa.Table:
        """One trial's reported iterations (per-trial endpoint) as the long table of
        :func:`~hpo_analytics.curves_to_arrow`."""
        from ..normalize import curves_to_arrow

        return curves_to_arrow([self._trial_history_page(job_id, trial_id)])

    def fetch_curves(
        self,
        job_id: str,
        trial_ids: Sequence[str] | None = None,
        *,
        progress: ProgressArg = None,
    ) -> pa.Table:
        """Learning curves of many trials (all of the job's when ``trial_ids`` is ``None``).

        Per-trial histories are fetched concurrently (at most
        ``max_concurrency`` at once) and combined with
        :func:`~hpo_analytics.curves_to_arrow`: one row per (trial, iteration).
        The declared metrics are recorded as in :meth:`fetch_trials`.
        """
        from ..normalize import curves_to_arrow

        if trial_ids is None:
            ids: list[str] = []
            for page in self.iter_trial_pages(job_id):
                items = page.get("items") or {}
                header = items.get("header") or []
                if "trial_id" in header:
                    column = header.index("trial_id")
                    ids.extend(row[column] for row in items.get("data") or [] if row[column])
        else:
            if isinstance(trial_ids, str):
                raise ConfigurationError("trial_ids must be a sequence of ids, not one string")
            ids = list(dict.fromkeys(trial_ids))
        on_progress, finish = resolve_progress(progress, label="trials")
        meta = self._reward_metadata(job_id)
        pages: list[dict[str, Any]] = []
        executor = self._executor(len(ids))
        try:
            if executor is None:
                results: Iterator[dict[str, Any]] = (self._trial_history_page(job_id, t) for t in ids)
            else:
                results = executor.map(lambda t: self._trial_history_page(job_id, t), ids)
            for done, page in enumerate(results, start=1):
                pages.append(page)
                if on_progress is not None:
                    on_progress(done, len(ids))
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
            finish()
        return self._with_metadata(curves_to_arrow(pages), meta)

    # ------------------------------------------------------------------ early stop

    def _trial_finished(self, job_id: str, trial_id: str) -> tuple[bool, str | None]:
        """Re-read a trial: ``(finished, status)``.

        Its history's latest row decides when it has a ``status`` or a true
        ``done``; otherwise (the per-trial rows carry no status, or it never
        reported) the trials listing is scanned for its row.
        """
        finished, status = _row_state(self._trial_history_page(job_id, trial_id))
        if finished or status is not None:
            return finished, status
        for page in self.iter_trial_pages(job_id):
            items = page.get("items") or {}
            header = items.get("header") or []
            if "trial_id" not in header:
                continue
            column = header.index("trial_id")
            rows = [row for row in items.get("data") or [] if row[column] == trial_id]
            if rows:
                return _row_state({"header": header, "data": rows})
        return False, None

    def early_stop(self, job_id: str, trial_id: str) -> EarlyStopResult:

        """Stop one running (or pending) trial: ``POST …/autosearch-trial-earlystop/{trial_id}``.

        The POST is retried only when it certainly did not reach the service
        (connection failures, or throttling by the gateway), or after
        re-reading the trial: when an answer is lost (read timeout, dropped
        connection, 5xx) or the service refuses (409 or another 4xx), the
        trial's history is read again; if it shows the trial finished
        (``TERMINATED``/``ERROR``/``done``) the result is ``already_finished``,
        otherwise a lost answer is retried and a refusal raised.  401, 403 and
        not-found errors are raised at once.
        """
        path = self._path(
            "training-jobs",
            _path_arg("job_id", job_id),
            "autosearch-trial-earlystop",
            _path_arg("trial_id", trial_id),
        )
        what = f"POST {path}"
        started = self._retry.clock()
        attempt = 0
        while True:
            attempt += 1
            request = self._build("POST", path, (), None)
            try:
                response = self._send_once(request)
                body = self._decode(request, response)
            except (AuthenticationError, PermissionDeniedError, NotFoundError):
                raise
            except RateLimitedError as exc:  # refused by the gateway: not processed
                if self._wait(attempt, exc, started, what):
                    continue
                raise
            except (TransportError, ResponseFormatError) as exc:
                cause = exc.__cause__
                if cause is not None and request_certainly_not_sent(cause):
                    if self._wait(attempt, exc, started, what):
                        continue
                    raise
                finished, status = self._trial_finished(job_id, trial_id)
                if finished:
                    logger.info("early stop of %s: answer lost (%s) but trial is %s", trial_id, exc, status)
                    return EarlyStopResult(trial_id, "already_finished", status)
                if self._wait(attempt, exc, started, what):
                    continue
                raise
            except APIError as exc:
                finished, status = self._trial_finished(job_id, trial_id)
                if finished:
                    logger.info("early stop of %s refused (%s); trial is already %s", trial_id, exc, status)
                    return EarlyStopResult(trial_id, "already_finished", status)
                if exc.status_code >= 500 and self._wait(attempt, exc, started, what):
                    continue
                raise
            stopped = body.get("earlystop_trial") if isinstance(body, dict) else None
            if stopped is not None and stopped != trial_id:
                logger.warning("early stop of %s answered for trial %r", trial_id, stopped)
            return EarlyStopResult(trial_id, "stopped", None)

    # ------------------------------------------------------------------ jobs and catalogue

    def get_training_job(self, job_id: str) -> dict[str, Any]:
        """The job's details (``GET /v2/{project_id}/training-jobs/{job_id}``) as a dict."""
        body = self._call("GET", self._path("training-jobs", _path_arg("job_id", job_id)))
        if not isinstance(body, dict):
            raise ResponseFormatError(f"details of job {job_id}: expected a JSON object")
        return body

    def search_algorithms(self) -> dict[str, Any]:
        """The search-algorithm catalogue (``search_algo_count``, ``search_algo_list``) as a dict;
        :func:`~hpo_analytics.algorithms_to_pandas` turns it into a frame."""
        body = self._call("GET", self._path("search-algorithms"))
        if not isinstance(body, dict):
            raise ResponseFormatError("search-algorithms: expected a JSON object")
        return body

    def search_training_jobs(
        self,
        *,
        filters: Sequence[Mapping[str, Any]] = (),
        sort_by: str | None = None,
        order: Literal["asc", "desc"] | None = None,
        workspace_id: str | None = None,
        page_size: int = 50,
    ) -> list[dict[str, Any]]:
        """Every training job matching ``filters`` (``POST …/training-job-searches``), all pages.

        ``filters`` are ``{"key", "operator", "value": [..]}`` dicts as the
        API takes them, e.g. ``{"key": "kind", "operator": "in", "value":
        ["autosearch_job"]}``.  Paging is safe under either ``offset`` meaning
        and deduplicates by ``metadata.id``.  The search is a read, so it is
        retried like a GET.
        """
        size = _page_size(page_size, high=_MAX_SEARCH_LIMIT)
        base: dict[str, Any] = {}
        if filters:
            base["filters"] = [dict(f) for f in filters]
        if sort_by is not None:
            base["sort_by"] = sort_by
        if order is not None:
            base["order"] = order
        if workspace_id is not None:
            base["workspace_id"] = workspace_id
        path = self._path("training-job-searches")

        def fetch(offset: int) -> FetchedPage:
            body = self._call("POST", path, json_body={**base, "offset": offset, "limit": size}, idempotent=True)
            if not isinstance(body, dict) or not isinstance(body.get("items", []), list):
                raise ResponseFormatError("training-job-searches: expected an object with an 'items' list")
            items = body.get("items") or []
            total = body.get("total")
            if isinstance(total, bool) or not isinstance(total, int):
                raise ResponseFormatError(f"training-job-searches: 'total' is not an integer ({total!r})")
            ids: list[Any] = []
            for item in items:
                meta = item.get("metadata") if isinstance(item, dict) else None
                job_id = meta.get("id") if isinstance(meta, dict) else None
                ids.append(job_id if isinstance(job_id, str) and job_id else ("row", _jsonutil.dumps(item)))
            echoed_offset = body.get("offset") if isinstance(body.get("offset"), int) else None
            echoed_limit = body.get("limit") if isinstance(body.get("limit"), int) else None
            return FetchedPage(offset, total, items, ids, echoed_offset, echoed_limit,
                               lambda positions: [items[i] for i in positions])

        jobs: list[dict[str, Any]] = []
        executor = self._executor(self._max_concurrency)
        try:
            for chunk in iter_pages(fetch, page_size=size, executor=executor, what="training jobs"):
                jobs.extend(chunk)
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        return jobs

    def parameter_analysis(self, job_id: str) -> pa.Table:
        """The service's own parameter-importance table (``autosearch-parameter-analysis``).

        The documented shape, header ``["parameters", "the mean/std of
        importance"]`` with cells ``"mean/std"``, becomes columns
        ``parameter`` (string), ``importance_mean`` and ``importance_std``
        (float64, null when a cell does not parse).  Any other header is
        returned as string columns named as sent.
        """
        import pyarrow as pa

        path = self._path("training-jobs", _path_arg("job_id", job_id), "autosearch-parameter-analysis")
        body = self._call("GET", path)
        if not isinstance(body, dict):
            raise ResponseFormatError(f"parameter analysis of job {job_id}: expected a JSON object")
        header, data = body.get("header") or [], body.get("data") or []
        if not isinstance(header, list) or not isinstance(data, list) or any(
            not isinstance(row, list) or len(row) != len(header) for row in data
        ):
            raise ResponseFormatError(f"parameter analysis of job {job_id}: malformed header/data")
        if len(header) == 2 and "mean/std" in str(header[1]):
            means: list[float | None] = []
            stds: list[float | None] = []
            for row in data:
                mean, _, std = str(row[1]).partition("/")
                means.append(_float_or_none(mean))
                stds.append(_float_or_none(std))
            return pa.table(
                {
                    "parameter": pa.array([str(row[0]) for row in data], pa.string()),
                    "importance_mean": pa.array(means, pa.float64()),
                    "importance_std": pa.array(stds, pa.float64()),
                }
            )
        names = [str(h) if h else f"column_{i}" for i, h in enumerate(header)]
        return pa.table(
            {n: pa.array([None if row[i] is None else str(row[i]) for row in data], pa.string())
             for i, n in enumerate(names)}
        )


def _row_state(page: Mapping[str, Any]) -> tuple[bool, str | None]:
    """``(finished, status)`` from the row with the highest ``training_iteration`` of a matrix."""
    header, data = page.get("header") or [], page.get("data") or []
    if not data:
        return False, None
    row = data[-1]
    if "training_iteration" in header:
        it = header.index("training_iteration")

        def iteration(item: tuple[int, list[Any]]) -> tuple[float, int]:
            try:
                return float(item[1][it]), item[0]
            except (TypeError, ValueError):
                return float("-inf"), item[0]

        row = max(enumerate(data), key=iteration)[1]
    record = dict(zip(header, row))
    status = record.get("status")
    status = status.strip().upper() if isinstance(status, str) and status.strip() else None
    done = str(record.get("done", "")).strip().lower() == "true"
    return (status in FINISHED_STATUSES or done), status


def _float_or_none(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None
