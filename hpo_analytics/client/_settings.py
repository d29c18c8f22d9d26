"""The client's settings: where to connect, checks of its options and arguments, and the environment.

* :func:`endpoint_for_region` and :func:`check_endpoint` (an http(s) URL
  without credentials; plain ``http://`` only to a loopback host unless
  allowed);
* checks of the constructor's options (``project_id``, ``max_concurrency``,
  ``retry``) and of each call's arguments (:func:`check_page_size`,
  :func:`path_arg`, which also percent-encodes);
* :func:`settings_from_env`, the environment variables that
  :meth:`ModelArtsClient.from_env <hpo_analytics.client.ModelArtsClient.from_env>` reads.

Every failed check raises :class:`~hpo_analytics.errors.ConfigurationError`.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit

from ..errors import ConfigurationError
from ._retry import RetryPolicy

__all__ = [
    "DEFAULT_TRIALS_PAGE_SIZE",
    "ENV_AK",
    "ENV_ENDPOINT",
    "ENV_PROJECT_ID",
    "ENV_REGION",
    "ENV_SECURITY_TOKEN",
    "ENV_SK",
    "ENV_TOKEN",
    "ENV_TOKEN_FILE",
    "FALLBACK_TRIALS_PAGE_SIZE",
    "MAX_SEARCH_LIMIT",
    "check_endpoint",
    "check_max_concurrency",
    "check_page_size",
    "check_project_id",
    "check_retry",
    "endpoint_for_region",
    "is_loopback",
    "read_token_file",
    "path_arg",
    "resolve_endpoint",
    "settings_from_env",
]

ENV_AK = "HUAWEICLOUD_SDK_AK"
ENV_SK = "HUAWEICLOUD_SDK_SK"
ENV_SECURITY_TOKEN = "HUAWEICLOUD_SDK_SECURITY_TOKEN"
ENV_PROJECT_ID = "HUAWEICLOUD_SDK_PROJECT_ID"
ENV_REGION = "HPO_ANALYTICS_REGION"
ENV_ENDPOINT = "HPO_ANALYTICS_ENDPOINT"
ENV_TOKEN = "HPO_ANALYTICS_TOKEN"
ENV_TOKEN_FILE = "HPO_ANALYTICS_TOKEN_FILE"

#: The largest ``limit`` ``training-job-searches`` accepts.
MAX_SEARCH_LIMIT = 50

#: ``fetch_trials``'s default page size (``limit``): large pages cost far less per trial.  The
#: service's maximum ``limit`` is undocumented; the simulator takes up to 1000.  A service
#: that caps ``limit`` silently is followed (the pager reads the size really served); one
#: that refuses it (400) on the first page gets :data:`FALLBACK_TRIALS_PAGE_SIZE` instead.
DEFAULT_TRIALS_PAGE_SIZE = 1000
#: The documented example's page size (``limit: 50``), used when the default is refused.
FALLBACK_TRIALS_PAGE_SIZE = 50

_REGION_RE = re.compile(r"^[a-z]{2,}(?:-[a-z0-9]+)+$")


def endpoint_for_region(region: str) -> str:
    """The ModelArts endpoint of a region (``ap-southeast-1``, Hong Kong, is on ``myhuaweicloud.cn``)."""
    if not isinstance(region, str) or not _REGION_RE.match(region):
        raise ConfigurationError(f"region must look like 'cn-north-4', not {region!r}")
    if region == "ap-southeast-1":
        return "https://modelarts.ap-southeast-1.myhuaweicloud.cn"
    return f"https://modelarts.{region}.myhuaweicloud.com"


def is_loopback(host: str) -> bool:
    """Whether ``host`` (a name or an IP address, IPv6 in brackets or not) is this machine."""
    if host.lower() in ("localhost", "localhost.localdomain") or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint(endpoint: str, *, allow_insecure_http: bool) -> str:
    """``endpoint`` without a trailing ``/``, once it is an http(s) URL fit to send credentials to."""
    parts = urlsplit(endpoint)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigurationError(f"endpoint must be an http(s) URL with a host, not {endpoint!r}")
    if parts.query or parts.fragment:
        raise ConfigurationError(f"endpoint must not have a query or fragment: {endpoint!r}")
    if parts.username or parts.password:
        raise ConfigurationError("endpoint must not carry credentials")
    if parts.scheme == "http" and not allow_insecure_http and not is_loopback(parts.hostname):
        raise ConfigurationError(
            f"refusing plain http:// to non-loopback host {parts.hostname!r}; use https:// "
            "or pass allow_insecure_http=True"
        )
    return endpoint.rstrip("/")


def resolve_endpoint(endpoint: str | None, region: str | None, *, allow_insecure_http: bool) -> str:
    """The checked base URL from ``endpoint``, else ``region`` (checked too when both are given)."""
    if endpoint is None:
        if region is None:
            raise ConfigurationError("give endpoint= or region=")
        endpoint = endpoint_for_region(region)
    elif region is not None:
        endpoint_for_region(region)  # validate it anyway
    if not isinstance(endpoint, str):
        raise ConfigurationError(f"endpoint must be a string, not {type(endpoint).__name__}")
    return check_endpoint(endpoint, allow_insecure_http=allow_insecure_http)


def check_project_id(project_id: str) -> str:
    """``project_id`` once it is a non-empty string without ``/`` (it becomes a path segment)."""
    if not isinstance(project_id, str) or not project_id or "/" in project_id:
        raise ConfigurationError("project_id must be a non-empty string without '/'")
    return project_id


def check_max_concurrency(max_concurrency: int) -> int:
    """``max_concurrency`` once it is a positive int."""
    if isinstance(max_concurrency, bool) or not isinstance(max_concurrency, int) or max_concurrency < 1:
        raise ConfigurationError(f"max_concurrency must be a positive int, not {max_concurrency!r}")
    return max_concurrency


def check_retry(retry: RetryPolicy | None) -> RetryPolicy:
    """``retry``, or the default :class:`RetryPolicy` when ``None``."""
    if retry is not None and not isinstance(retry, RetryPolicy):
        raise ConfigurationError(f"retry must be a RetryPolicy, not {type(retry).__name__}")
    return retry if retry is not None else RetryPolicy()


def check_page_size(page_size: int, *, high: int | None = None) -> int:
    """``page_size`` once it is a positive int (at most ``high`` when given)."""
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise ConfigurationError(f"page_size must be a positive int, not {page_size!r}")
    if high is not None and page_size > high:
        raise ConfigurationError(f"page_size must be at most {high}, not {page_size}")
    return page_size


def path_arg(name: str, value: str) -> str:
    """``value`` percent-encoded as one path segment (``/`` included), once it is a non-empty string."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{name} must be a non-empty string, not {value!r}")
    return quote(value, safe="")


def read_token_file(path: str) -> str:
    """The IAM token in the file ``path`` (surrounding whitespace removed); never shows its content."""
    try:
        with open(path, encoding="utf-8") as f:
            token = f.read().strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigurationError(f"cannot read the token file {ENV_TOKEN_FILE}={path}: "
                                 f"{type(exc).__name__}") from None
    if not token:
        raise ConfigurationError(f"the token file {ENV_TOKEN_FILE}={path} is empty")
    return token


def settings_from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The constructor arguments the environment gives (``environ`` defaults to ``os.environ``).

    ``endpoint``, ``region``, ``project_id`` and either ``token`` or ``ak``,
    ``sk`` and ``security_token``; see :meth:`ModelArtsClient.from_env
    <hpo_analytics.client.ModelArtsClient.from_env>` for the variables.
    Empty values count as unset; a missing setting raises
    :class:`~hpo_analytics.errors.ConfigurationError` naming the variable.
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
    token_file = get(ENV_TOKEN_FILE)
    if token is not None and token_file is not None:
        raise ConfigurationError(f"set either {ENV_TOKEN} or {ENV_TOKEN_FILE}, not both")
    refresh: Callable[[], str | None] | None = None
    if token_file is not None:
        token = read_token_file(token_file)

        def refresh() -> str | None:
            try:
                return read_token_file(token_file)
            except ConfigurationError:
                return None
    elif token is not None:
        def refresh() -> str | None:
            return get(ENV_TOKEN)
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
        credentials = {"token": token, "token_refresh": refresh}
    else:
        raise ConfigurationError(f"no credentials: set {ENV_AK} and {ENV_SK}, or {ENV_TOKEN}")
    return {"endpoint": endpoint, "region": region, "project_id": project_id, **credentials}
