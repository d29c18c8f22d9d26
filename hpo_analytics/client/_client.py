"""``ModelArtsClient``: the public methods, each one endpoint's path, its call and its reading.

What a method relies on lives beside this module: option checks and the
environment in ``_settings.py``, credentials in ``_auth.py``, sending and
retrying in ``_engine.py`` (with ``_retry.py`` and ``_errors.py``), the
shape of each answer in ``_responses.py``, paging in ``_paging.py``, and the
early stop's own retry rule in ``_early_stop.py``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote

import httpx

from .._space import AlgorithmConfig, SearchSpace
from ..errors import BadRequestError, ConfigurationError, NotFoundError, NotPicklableError, PermissionDeniedError
from . import _responses
from ._auth import make_auth
from ._early_stop import ENDED_PHASES, EarlyStopResult, EarlyStopRule, TerminateResult, TerminateRule
from ._engine import Engine
from ._errors import Redactor
from ._paging import FetchedPage, Pager, iter_pages
from ._progress import ProgressArg, resolve_progress
from ._retry import RetryPolicy
from ._settings import (
    DEFAULT_TRIALS_PAGE_SIZE,
    FALLBACK_TRIALS_PAGE_SIZE,
    MAX_SEARCH_LIMIT,
    check_max_concurrency,
    check_page_size,
    check_project_id,
    check_retry,
    path_arg,
    resolve_endpoint,
    settings_from_env,
)
from ._trialpages import TrialsPageReader, fetched_trial_ids, fetched_trials_page

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["ModelArtsClient"]

logger = logging.getLogger("hpo_analytics.client")


class ModelArtsClient:
    """A client for the ModelArts autosearch (hyperparameter search) API.

    Give ``endpoint`` (e.g. the simulator's ``sim.url``) or ``region`` (the
    endpoint is then ``https://modelarts.{region}.myhuaweicloud.com``, or
    ``…myhuaweicloud.cn`` for ``ap-southeast-1``), the ``project_id``, and
    either an IAM ``token`` (sent as ``X-Auth-Token``) or an ``ak``/``sk`` pair
    (``SDK-HMAC-SHA256`` signing, with ``security_token`` for temporary
    credentials).  An IAM token expires after 24 hours: with
    ``token_refresh`` (a callable giving the current token), a 401 makes the
    client read the token again once and resend the request with it
    (:meth:`from_env` wires this to ``HPO_ANALYTICS_TOKEN_FILE`` or
    ``HPO_ANALYTICS_TOKEN``).  For runs of days, AK/SK needs no renewal.

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
        token_refresh: Callable[[], str | None] | None = None,
        timeout: float | httpx.Timeout = 60.0,
        retry: RetryPolicy | None = None,
        max_concurrency: int = 8,
        transport: httpx.BaseTransport | None = None,
        verify: bool | str = True,
        allow_insecure_http: bool = False,
    ) -> None:
        self._endpoint = resolve_endpoint(endpoint, region, allow_insecure_http=allow_insecure_http)
        self._region = region
        self._project_id = check_project_id(project_id)
        self._max_concurrency = check_max_concurrency(max_concurrency)
        self._retry = check_retry(retry)
        redact = Redactor([token, sk, security_token])
        auth, self._auth_mode = make_auth(token=token, ak=ak, sk=sk, security_token=security_token,
                                          token_refresh=token_refresh, on_new_token=redact.add)
        self._engine = Engine(
            endpoint=self._endpoint,
            project_id=project_id,
            auth=auth,
            redact=redact,
            retry=self._retry,
            max_concurrency=max_concurrency,
            timeout=timeout,
            verify=verify,
            transport=transport,
        )
        self._trials_page_size: int | None = None

    # ------------------------------------------------------------------ construction

    @classmethod
    def from_env(cls, *, environ: Mapping[str, str] | None = None, **options: Any) -> ModelArtsClient:
        """Build a client from environment variables (``environ`` defaults to ``os.environ``).

        Read: ``HUAWEICLOUD_SDK_PROJECT_ID`` (required); credentials as
        ``HPO_ANALYTICS_TOKEN`` (IAM token), ``HPO_ANALYTICS_TOKEN_FILE`` (a
        file holding it; read again when the service answers 401, so a
        renewed token is picked up) or ``HUAWEICLOUD_SDK_AK`` +
        ``HUAWEICLOUD_SDK_SK`` (+ ``HUAWEICLOUD_SDK_SECURITY_TOKEN``); where to
        connect as ``HPO_ANALYTICS_ENDPOINT``, else ``HPO_ANALYTICS_REGION``
        (the SDK's ``HUAWEICLOUD_SDK_REGION_MODELARTS_<REGION>`` override is
        honoured too).  Empty values count as unset.  A missing setting raises
        :class:`~hpo_analytics.errors.ConfigurationError` naming the variable.
        Other keyword ``options`` go to the constructor.
        """
        return cls(**settings_from_env(environ), **options)

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
    def trials_page_size(self) -> int | None:
        """The page size the service served in this client's latest :meth:`fetch_trials` (``None`` before one).

        It is the ``page_size`` asked for (by default
        :data:`~hpo_analytics.client._settings.DEFAULT_TRIALS_PAGE_SIZE`, 1000),
        or less when the service capped ``limit``: silently (the pager sees
        pages never hold more), or by refusing the default (then 50).
        """
        return self._trials_page_size

    @property
    def requests_sent(self) -> int:
        """How many HTTP requests this client has sent so far (every attempt, retries included)."""
        return self._engine.requests_sent

    @property
    def retry(self) -> RetryPolicy:
        """The retry policy in use."""
        return self._retry

    def close(self) -> None:
        """Close the connection pool this client created (never a transport it was given)."""
        self._engine.close()

    def __enter__(self) -> ModelArtsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ModelArtsClient(endpoint={self._endpoint!r}, project_id={self._project_id!r}, auth={self._auth_mode!r})"

    def __reduce__(self) -> Any:
        raise NotPicklableError("ModelArtsClient holds credentials and cannot be pickled")

    def _path(self, *parts: str) -> str:
        return f"/v2/{quote(self._project_id, safe='')}/" + "/".join(parts)

    # ------------------------------------------------------------------ trials

    def _fetch_trials_page(self, job_id: str, offset: int, limit: int) -> FetchedPage:
        path = self._path("training-jobs", path_arg("job_id", job_id), "autosearch-trials")
        body = self._engine.call("GET", path, query=[("limit", limit), ("offset", offset)])
        return _responses.trials_page(body, offset=offset, job_id=job_id)

    def _trial_pages_for_table(self, job_id: str, page_size: int | None, progress: ProgressArg) -> Iterator[Any]:
        """The pages :meth:`fetch_trials` normalizes: bytes when kept whole, else dicts; every trial once.

        ``page_size=None`` asks for :data:`DEFAULT_TRIALS_PAGE_SIZE` and, when
        the service refuses that on the first page (400), for
        :data:`FALLBACK_TRIALS_PAGE_SIZE`.  The size really served is kept in
        :attr:`trials_page_size`.
        """
        return self._large_pages(job_id, page_size, progress, fetched_trials_page, record_size=True)

    def _large_pages(self, job_id: str, page_size: int | None, progress: ProgressArg,
                     read: Callable[..., FetchedPage], *, record_size: bool = False) -> Iterator[Any]:
        """Every trial once, in pages of ``page_size`` (``None``: the large default, 50 when refused).

        ``read(body, offset=, job_id=)`` turns what :class:`TrialsPageReader`
        gave into the pager's page (its ``keep`` decides what is yielded).
        """
        explicit = page_size is not None
        size = check_page_size(page_size) if page_size is not None else DEFAULT_TRIALS_PAGE_SIZE
        path_arg("job_id", job_id)  # validate before any request
        on_progress, finish = resolve_progress(progress, label="trials")
        executor = self._engine.executor(self._max_concurrency)
        what = f"trials of job {job_id}"
        path = self._path("training-jobs", path_arg("job_id", job_id), "autosearch-trials")

        def pager(limit: int) -> Pager:
            reader = TrialsPageReader()

            def fetch(offset: int) -> FetchedPage:
                body = self._engine.call("GET", path, query=[("limit", limit), ("offset", offset)], read=reader)
                return read(body, offset=offset, job_id=job_id)

            return Pager(fetch, page_size=limit, executor=executor, on_progress=on_progress, what=what)

        try:
            paged = pager(size)
            pages = iter(paged)
            try:
                first = next(pages)
            except BadRequestError as exc:
                if explicit:
                    raise
                logger.warning("%s: the service refused pages of %d (%s); asking for pages of %d",
                               what, size, exc, FALLBACK_TRIALS_PAGE_SIZE)
                paged = pager(FALLBACK_TRIALS_PAGE_SIZE)
                pages = iter(paged)
                first = next(pages)
            yield first
            yield from pages
            if record_size:
                self._trials_page_size = paged.page_size
            if paged.page_size < size:
                logger.info("%s: asked for pages of %d, the service served at most %d", what, size, paged.page_size)
            else:
                logger.debug("%s: read in pages of %d", what, paged.page_size)
        finally:
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
            finish()

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
        size = check_page_size(page_size)
        path_arg("job_id", job_id)  # validate before any request
        on_progress, finish = resolve_progress(progress, label="trials")
        executor = self._engine.executor(self._max_concurrency)
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

    def _reward_metadata(self, job_id: str, details: Mapping[str, Any] | None = None) -> dict[bytes, bytes]:
        if details is not None:
            return _responses.reward_metadata(details, source=f"details of job {job_id}")
        try:
            job = self.get_training_job(job_id)
        except (NotFoundError, PermissionDeniedError) as exc:
            logger.warning("could not read details of job %s (%s); no reward metadata recorded", job_id, exc)
            return {}
        return _responses.reward_metadata(job, source=f"details of job {job_id}")

    @staticmethod
    def _with_metadata(table: pa.Table, meta: dict[bytes, bytes]) -> pa.Table:
        if not meta:
            return table
        return table.replace_schema_metadata({**(table.schema.metadata or {}), **meta})

    def fetch_trials(self, job_id: str, *, page_size: int | None = None, progress: ProgressArg = None,
                     details: Mapping[str, Any] | None = None, columns: Sequence[str] | None = None) -> pa.Table:
        """Every trial of the job as one typed Arrow table (:func:`~hpo_analytics.trials_to_arrow`).

        Pages are asked for ``page_size`` trials at a time; by default 1000,
        or 50 when the service refuses that with a 400 on the first page.  A
        service that caps ``limit`` silently is followed; the size it really
        served is :attr:`trials_page_size` afterwards (and logged).  Pages go
        to the normalizer as the bytes received (its fast path), and only the
        paging fields (``total``, ``offset``, ``limit``, the ``trial_id``
        cells) are read on the way.

        The job's details (``algorithm.policies.auto_search.reward_attrs``)
        are recorded in the schema metadata: the first entry's metric and
        mode, the default, under ``b"hpo_analytics.metric"`` and
        ``b"hpo_analytics.mode"``, and every declared metric under
        ``b"hpo_analytics.metrics"``, a JSON list of ``{"name", "mode"}``
        (``mode`` ``null`` when not ``max``/``min``; entries without a name
        are skipped with a warning); the declared search space and algorithm
        (``search_params``, ``algo_configs``) as the JSON of
        :class:`~hpo_analytics.SearchSpace` and
        :class:`~hpo_analytics.AlgorithmConfig` under
        ``b"hpo_analytics.search_space"`` and ``b"hpo_analytics.algorithm"``
        (what :meth:`get_search_space` and :meth:`get_algorithm` return; read
        back with ``SearchSpace.from_metadata(table.schema.metadata)``).  The
        details are read once for all of it.  If the details cannot be read (not
        found, no permission) the table is returned without them.  ``details``
        given (the job as a job search or :meth:`get_training_job` answered)
        are used instead of reading them again.  ``columns`` reads only those
        columns of the pages (see :func:`~hpo_analytics.trials_to_arrow`).
        """
        from ..normalize import trials_to_arrow

        if details is not None:  # nothing to read beside the pages: no side thread
            table = trials_to_arrow(self._trial_pages_for_table(job_id, page_size, progress), columns=columns)
            return self._with_metadata(table, self._reward_metadata(job_id, details))
        metadata: list[Future[dict[bytes, bytes]]] = []
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="hpo-analytics-details") as side:

            def pages() -> Iterator[Any]:
                it = self._trial_pages_for_table(job_id, page_size, progress)
                first = next(it)
                # Only once page 0 got through (credentials work, the job exists):
                # bad credentials then cost one rejected request, not two.
                metadata.append(side.submit(self._reward_metadata, job_id, details))
                yield first
                yield from it

            # Pages stream into the normalizer as they arrive, so parsing overlaps the network.
            table = trials_to_arrow(pages(), columns=columns)
            meta = metadata[0].result() if metadata else {}
        return self._with_metadata(table, meta)

    # ------------------------------------------------------------------ per-trial histories

    def _trial_history_page(self, job_id: str, trial_id: str) -> dict[str, Any]:
        path = self._path(
            "training-jobs", path_arg("job_id", job_id), "autosearch-trials", path_arg("trial_id", trial_id)
        )
        return _responses.trial_history(self._engine.call("GET", path), job_id=job_id, trial_id=trial_id)

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
        details: Mapping[str, Any] | None = None,
        columns: Sequence[str] | None = None,
    ) -> pa.Table:
        """Learning curves of many trials (all of the job's when ``trial_ids`` is ``None``: listed in
        pages as large as :meth:`fetch_trials` asks for, only their ids read).

        Per-trial histories are fetched concurrently (at most
        ``max_concurrency`` at once) and combined with
        :func:`~hpo_analytics.curves_to_arrow`: one row per (trial, iteration).
        The declared metrics are recorded as in :meth:`fetch_trials` (from
        ``details`` when given, else read from the service).  The requests go
        to a pool of ``max_concurrency`` threads the client keeps for its
        life (one pool for every call, so calls from several threads together
        send at most that many).  ``columns`` reads only those columns (see
        :func:`~hpo_analytics.curves_to_arrow`).
        """
        from ..normalize import curves_to_arrow

        if trial_ids is None:
            ids: list[str] = []
            for chunk in self._large_pages(job_id, None, None, fetched_trial_ids):
                ids.extend(chunk)
        else:
            if isinstance(trial_ids, str):
                raise ConfigurationError("trial_ids must be a sequence of ids, not one string")
            ids = list(dict.fromkeys(trial_ids))
        on_progress, finish = resolve_progress(progress, label="trials")
        meta = self._reward_metadata(job_id, details)
        pages: list[dict[str, Any]] = []
        executor = self._engine.shared_executor() if len(ids) > 1 else None
        futures: list[Future[dict[str, Any]]] = []
        try:
            if executor is None:
                results: Iterator[dict[str, Any]] = (self._trial_history_page(job_id, t) for t in ids)
            else:
                futures = [executor.submit(self._trial_history_page, job_id, t) for t in ids]
                results = (f.result() for f in futures)
            for done, page in enumerate(results, start=1):
                pages.append(page)
                if on_progress is not None:
                    on_progress(done, len(ids))
        finally:
            if futures:  # after a failure: what has not started never will, what has is waited for
                for f in futures:
                    f.cancel()
                wait(futures)
            finish()
        return self._with_metadata(curves_to_arrow(pages, columns=columns), meta)

    # ------------------------------------------------------------------ early stop

    def _trial_finished(self, job_id: str, trial_id: str) -> tuple[bool, str | None]:
        """Re-read a trial: ``(finished, status)``.

        Its history's latest row decides when it has a ``status`` or a true
        ``done``; otherwise (the per-trial rows carry no status, or it never
        reported) the trials listing is scanned for its row.
        """
        finished, status = _responses.row_state(self._trial_history_page(job_id, trial_id))
        if finished or status is not None:
            return finished, status
        for page in self.iter_trial_pages(job_id):
            state = _responses.listed_trial_state(page, trial_id)
            if state is not None:
                return state
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
            path_arg("job_id", job_id),
            "autosearch-trial-earlystop",
            path_arg("trial_id", trial_id),
        )
        rule = EarlyStopRule(trial_id, lambda: self._trial_finished(job_id, trial_id))
        body = self._engine.call("POST", path, idempotent=False, on_failure=rule)
        if isinstance(body, EarlyStopResult):  # the rule settled it after a failed attempt
            return body
        stopped = body.get("earlystop_trial") if isinstance(body, dict) else None
        if stopped is not None and stopped != trial_id:
            logger.warning("early stop of %s answered for trial %r", trial_id, stopped)
        return EarlyStopResult(trial_id, "stopped", None)

    # ------------------------------------------------------------------ jobs and catalogue

    def get_training_job(self, job_id: str) -> dict[str, Any]:
        """The job's details (``GET /v2/{project_id}/training-jobs/{job_id}``) as a dict."""
        body = self._engine.call("GET", self._path("training-jobs", path_arg("job_id", job_id)))
        return _responses.job_details(body, job_id=job_id)

    def get_search_space(self, job_id: str, *, details: Mapping[str, Any] | None = None) -> SearchSpace | None:
        """The search space the job declares (``algorithm.policies.auto_search.search_params``), or ``None``.

        Each parameter's type, bounds and discrete values, as a
        :class:`~hpo_analytics.SearchSpace` (``.to_frame()`` gives one row per
        parameter). Bounds are the service's strings read as numbers, never
        evaluated; one that is not a number is ``None`` and named in the
        parameter's ``problems``.  ``details`` (the job as
        :meth:`get_training_job` answered) are used instead of reading them,
        so one request serves this, :meth:`get_algorithm` and
        :meth:`fetch_trials`; otherwise this reads the job's details (one
        request).  :meth:`fetch_trials` records the same space in its
        table's schema metadata.
        """
        return SearchSpace.from_details(details if details is not None else self.get_training_job(job_id))

    def get_algorithm(self, job_id: str, *, details: Mapping[str, Any] | None = None) -> AlgorithmConfig | None:
        """The search algorithm and settings the job declares (its first ``algo_configs`` entry), or ``None``.

        Settings are kept as the service wrote them (strings).  ``details``
        as for :meth:`get_search_space`.
        """
        return AlgorithmConfig.from_details(details if details is not None else self.get_training_job(job_id))

    def job_phase(self, job_id: str) -> str | None:
        """The job's ``status.phase`` (``Running``, ``Completed``, ``Terminated``...), ``None`` when not given.

        A job that does not exist raises :class:`~hpo_analytics.errors.NotFoundError`.
        """
        status = self.get_training_job(job_id).get("status")
        phase = status.get("phase") if isinstance(status, dict) else None
        return phase if isinstance(phase, str) and phase else None

    def terminate_job(self, job_id: str) -> TerminateResult:
        """End the whole search: ``POST …/training-jobs/{job_id}/actions`` with ``{"action_type": "terminate"}``.

        Like :meth:`early_stop`, the POST is sent again only when it certainly
        did not reach the service; after a lost answer or a refusal the job's
        phase is read again, and a job that is ``Terminating`` or has ended
        gives ``already_ended`` (a refusal of a job still running is raised).
        """
        path = self._path("training-jobs", path_arg("job_id", job_id), "actions")

        def ended() -> tuple[bool, str | None]:
            phase = self.job_phase(job_id)
            return phase in ENDED_PHASES, phase

        body = self._engine.call("POST", path, json_body={"action_type": "terminate"}, idempotent=False,
                                 on_failure=TerminateRule(job_id, ended))
        if isinstance(body, TerminateResult):
            return body
        status = body.get("status") if isinstance(body, dict) else None
        phase = status.get("phase") if isinstance(status, dict) else None
        return TerminateResult(job_id, "terminating", phase if isinstance(phase, str) else None)

    def search_algorithms(self) -> dict[str, Any]:
        """The search-algorithm catalogue (``search_algo_count``, ``search_algo_list``) as a dict;
        :func:`~hpo_analytics.algorithms_to_pandas` turns it into a frame."""
        return _responses.algorithm_catalogue(self._engine.call("GET", self._path("search-algorithms")))

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
        size = check_page_size(page_size, high=MAX_SEARCH_LIMIT)
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
            page_body = {**base, "offset": offset, "limit": size}
            body = self._engine.call("POST", path, json_body=page_body, idempotent=True)
            return _responses.job_search_page(body, offset=offset)

        jobs: list[dict[str, Any]] = []
        executor = self._engine.executor(self._max_concurrency)
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
        path = self._path("training-jobs", path_arg("job_id", job_id), "autosearch-parameter-analysis")
        return _responses.parameter_analysis(self._engine.call("GET", path), job_id=job_id)
