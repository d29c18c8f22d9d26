"""Training-job search (``POST /v2/{p}/training-job-searches``): the ``JobSearches`` body, filters, sort and paging.

Bad bodies, paging, keys, operators and values raise ``_APIError`` 400
(``ModelArts.2788``, ``.2807``, ``.2808``, ``.2809``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ._wire import _APIError, parse_int
from .synthetic import SimulatedJob

__all__ = ["search_jobs"]


def search_jobs(jobs: Iterable[SimulatedJob], body: bytes) -> dict[str, Any]:
    """The search response body for request ``body`` over ``jobs`` (any order; sorted here)."""
    try:
        req = json.loads(body.decode("utf-8")) if body.strip() else {}
    except (UnicodeDecodeError, ValueError):
        raise _APIError(400, "ModelArts.2788", "Invalid request body: not JSON.") from None
    if not isinstance(req, dict):
        raise _APIError(400, "ModelArts.2788", "Invalid request body: not a JSON object.")
    limit = parse_int(_text(req.get("limit")), 10, name="limit", low=1, high=50, code="ModelArts.2788")
    offset = parse_int(_text(req.get("offset")), 0, name="offset", low=0, high=None, code="ModelArts.2788")
    sort_by = req.get("sort_by") or "create_time"
    order = req.get("order") or "desc"
    if sort_by not in ("create_time", "name") or order not in ("asc", "desc"):
        raise _APIError(400, "ModelArts.2788", "Invalid sort_by or order.")
    found = list(jobs)
    for flt in req.get("filters") or []:
        found = [j for j in found if _matches(j, flt)] if _active(flt) else found
    key = (lambda j: j.create_time_ms) if sort_by == "create_time" else (lambda j: j.name)
    found.sort(key=key, reverse=order == "desc")
    page = found[offset * limit: (offset + 1) * limit]
    return {
        "total": len(found),
        "count": len(page),
        "limit": limit,
        "offset": offset,
        "sort_by": sort_by,
        "order": order,
        "group_by": req.get("group_by") or "",
        "workspace_id": req.get("workspace_id") or "0",
        "ai_project": "default-ai-project",
        "items": [j.details() for j in page],
    }

def _text(value: Any) -> str | None:
    return None if value is None else str(value)


_FILTER_OPERATORS = {
    "name": ("like", "in", "not"),
    "phase": ("in", "not"),
    "kind": ("in", "not"),
    "create_time": ("between",),
    "algorithm_name": ("like", "in", "not"),
    "user_id": ("in", "not"),
}


def _active(flt: Any) -> bool:
    if not isinstance(flt, dict):
        raise _APIError(400, "ModelArts.2788", "Invalid filter: not an object.")
    key, op = flt.get("key"), flt.get("operator")
    if key not in _FILTER_OPERATORS:
        raise _APIError(400, "ModelArts.2807", f"Unsupported condition key: {key!r}.")
    if op not in _FILTER_OPERATORS[key]:
        raise _APIError(400, "ModelArts.2808", f"Unsupported condition operator {op!r} for key {key!r}.")
    values = flt.get("value") or []
    if not isinstance(values, list):
        raise _APIError(400, "ModelArts.2809", "Unsupported condition value: not a list.")
    return any(str(v) != "" for v in values)


def _matches(job: SimulatedJob, flt: dict[str, Any]) -> bool:
    key, op = flt["key"], flt["operator"]
    values = [str(v) for v in flt.get("value") or []]
    if key == "create_time":
        lo, hi = (values + ["", ""])[:2]
        try:
            return (lo == "" or job.create_time_ms >= int(lo)) and (hi == "" or job.create_time_ms <= int(hi))
        except ValueError:
            raise _APIError(400, "ModelArts.2809", "Unsupported condition value for create_time.") from None
    actual = {
        "name": job.name,
        "phase": job.phase,
        "kind": "autosearch_job",
        "algorithm_name": job.algorithm,
        "user_id": job.user_name,
    }[key]
    wanted = [v for v in values if v != ""]
    if key in ("phase", "kind"):
        actual, wanted = actual.lower(), [v.lower() for v in wanted]
    if op == "like":
        return any(v in actual for v in wanted)
    if op == "in":
        return actual in wanted
    return actual not in wanted

