"""What each endpoint's decoded JSON body must look like, and what the client reads from it.

One function per endpoint checks the body's shape and raises
:class:`~hpo_analytics.errors.ResponseFormatError` naming the request when it
is wrong:

* :func:`trials_page` and :func:`job_search_page`: a page of a listing, as
  the :class:`~._paging.FetchedPage` the pager dedupes by id;
* :func:`trial_history`: one trial's reported iterations;
* :func:`job_details` (and from them :func:`declared_metrics` and
  :func:`reward_metadata`, what the tables record about the job's metrics);
* :func:`algorithm_catalogue`;
* :func:`parameter_analysis`, as an Arrow table.

And, for the early stop's re-read, :func:`row_state` (is a trial finished?)
with :func:`listed_trial_ids` and :func:`listed_trial_state` over a trials
page.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _jsonutil
from .._space import METADATA_ALGORITHM, METADATA_SPACE, AlgorithmConfig, SearchSpace
from .._table import (
    FINISHED_STATUSES,
    METADATA_JOB_ID,
    METADATA_JOB_NAME,
    METADATA_METRIC,
    METADATA_METRICS,
    METADATA_MODE,
)
from ..errors import ResponseFormatError
from ._paging import FetchedPage

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = [
    "algorithm_catalogue",
    "declared_metrics",
    "echoed",
    "job_details",
    "job_search_page",
    "listed_trial_ids",
    "listed_trial_state",
    "parameter_analysis",
    "reward_metadata",
    "row_state",
    "trial_history",
    "trials_page",
]

logger = logging.getLogger("hpo_analytics.client")


def echoed(value: Any) -> int | None:
    """An ``offset``/``limit`` the service echoed, as an int, or None when it sent none (or not an int)."""
    return value if isinstance(value, int) else None


# ----------------------------------------------------------------------------- listings


def trials_page(body: Any, *, offset: int, job_id: str) -> FetchedPage:
    """A page of ``autosearch-trials`` (``total``, ``items: {header, data}``), its rows keyed by ``trial_id``.

    A row without a ``trial_id`` is keyed by its whole content.  The page
    :attr:`~._paging.FetchedPage.keep` returns is the body with
    ``items.data`` (and ``count``) restricted to the rows kept.
    """
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

    return FetchedPage(offset, total, data, ids, echoed(body.get("offset")), echoed(body.get("limit")), keep)


def job_search_page(body: Any, *, offset: int) -> FetchedPage:
    """A page of ``training-job-searches`` (``total``, ``items``), its jobs keyed by ``metadata.id``."""
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
    return FetchedPage(offset, total, items, ids, echoed(body.get("offset")), echoed(body.get("limit")),
                       lambda positions: [items[i] for i in positions])


def listed_trial_ids(page: Mapping[str, Any]) -> list[Any]:
    """The non-empty ``trial_id`` cells of a trials page, in order."""
    items = page.get("items") or {}
    header = items.get("header") or []
    if "trial_id" not in header:
        return []
    column = header.index("trial_id")
    return [row[column] for row in items.get("data") or [] if row[column]]


def listed_trial_state(page: Mapping[str, Any], trial_id: str) -> tuple[bool, str | None] | None:
    """:func:`row_state` of ``trial_id``'s rows in a trials page, or ``None`` when the page does not list it."""
    items = page.get("items") or {}
    header = items.get("header") or []
    if "trial_id" not in header:
        return None
    column = header.index("trial_id")
    rows = [row for row in items.get("data") or [] if row[column] == trial_id]
    return row_state({"header": header, "data": rows}) if rows else None


# ----------------------------------------------------------------------------- one trial


def trial_history(body: Any, *, job_id: str, trial_id: str) -> dict[str, Any]:
    """One trial's history, ``{header, data}`` (either may be absent)."""
    if not isinstance(body, dict) or not isinstance(body.get("header", []), list) or not isinstance(
        body.get("data", []), list
    ):
        raise ResponseFormatError(f"history of trial {trial_id} of job {job_id}: expected {{header, data}}")
    return body


def row_state(page: Mapping[str, Any]) -> tuple[bool, str | None]:
    """``(finished, status)`` from the row with the highest ``training_iteration`` of a matrix.

    Finished means a status in :data:`~hpo_analytics._table.FINISHED_STATUSES`
    or a true ``done``; ``status`` is ``None`` when the rows carry none.
    """
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


# ----------------------------------------------------------------------------- job details


def job_details(body: Any, *, job_id: str) -> dict[str, Any]:
    """A training job's details: any JSON object."""
    if not isinstance(body, dict):
        raise ResponseFormatError(f"details of job {job_id}: expected a JSON object")
    return body


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
    ``b"hpo_analytics.search_space"`` and ``b"hpo_analytics.algorithm"``
    (``METADATA_SPACE``, ``METADATA_ALGORITHM`` of :mod:`hpo_analytics._space`):
    the declared ``search_params`` and the first ``algo_configs`` entry, as
    the JSON of :class:`~hpo_analytics._space.SearchSpace` and
    :class:`~hpo_analytics._space.AlgorithmConfig`, each only when declared.
    ``b"hpo_analytics.job_id"``/``b"hpo_analytics.job_name"``: the job's
    ``metadata.id`` and ``metadata.name`` (what names its Optuna study).
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
    details = job if isinstance(job, Mapping) else None
    space = SearchSpace.from_details(details)
    if space is not None:
        meta[METADATA_SPACE] = space.to_json().encode("utf-8")
    algorithm = AlgorithmConfig.from_details(details)
    if algorithm is not None:
        meta[METADATA_ALGORITHM] = algorithm.to_json().encode("utf-8")
    header = details.get("metadata") if details is not None else None
    for key, field in ((METADATA_JOB_ID, "id"), (METADATA_JOB_NAME, "name")):
        value = header.get(field) if isinstance(header, Mapping) else None
        if isinstance(value, str) and value:
            meta[key] = value.encode("utf-8")
    return meta


# ----------------------------------------------------------------------------- catalogue and analysis


def algorithm_catalogue(body: Any) -> dict[str, Any]:
    """The ``search-algorithms`` catalogue: any JSON object."""
    if not isinstance(body, dict):
        raise ResponseFormatError("search-algorithms: expected a JSON object")
    return body


def _float_or_none(text: str) -> float | None:
    try:
        return float(text.strip())
    except ValueError:
        return None


def parameter_analysis(body: Any, *, job_id: str) -> pa.Table:
    """The ``autosearch-parameter-analysis`` matrix as a table.

    The documented header ``["parameters", "the mean/std of importance"]``
    gives ``parameter``, ``importance_mean`` and ``importance_std`` (null
    where a ``"mean/std"`` cell does not parse); any other header, string
    columns named as sent.
    """
    import pyarrow as pa

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
