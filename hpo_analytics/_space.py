"""The job's declared search space, algorithm and settings: parsed from its details, carried in table metadata.

A leaf module shared by the client (which reads a job's details), the
normalizer and io (which keep the space in a table's schema metadata, so it
survives Parquet round trips), and the frame, analysis, plots, report and
Optuna layers that use it.

A job's details declare (modelarts_api.md §2.2)
``algorithm.policies.auto_search``:

* ``search_params``: ``{name, param_type (continuous|discrete), lower_bound,
  upper_bound, discrete_points_num, discrete_values: [str]}``, every bound a
  string;
* ``algo_configs``: ``[{name, params: [{key, value, type}]}]``.

The service's text is parsed defensively and never evaluated: a bound that is
not a finite number is kept as ``None`` (and named in :attr:`SearchParam.problems`);
an entry that is not an object or has no name is skipped, with a
:class:`~hpo_analytics.errors.SpaceWarning`.
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._jsonutil import dig
from .errors import SpaceWarning

__all__ = [
    "METADATA_ALGORITHM",
    "METADATA_SPACE",
    "AlgorithmConfig",
    "SearchParam",
    "SearchSpace",
]

#: Schema-metadata key of the declared space: the JSON of :meth:`SearchSpace.to_json`.
METADATA_SPACE = b"hpo_analytics.search_space"
#: Schema-metadata key of the search algorithm and its settings (JSON of :meth:`AlgorithmConfig.to_json`).
METADATA_ALGORITHM = b"hpo_analytics.algorithm"


def _number(text: Any) -> float | None:
    """A finite float from the service's string (or number), else ``None``. Never evaluates text."""
    if isinstance(text, bool) or text is None:
        return None
    if isinstance(text, (int, float)):
        value = float(text)
    elif isinstance(text, str) and text.strip():
        try:
            value = float(text.strip())
        except ValueError:
            return None
    else:
        return None
    return value if math.isfinite(value) else None


def _is_integral(text: Any) -> bool:
    """Whether a bound is written as an integer (``"16"``, ``16``), not ``"16.0"`` or ``"1e-3"``."""
    if isinstance(text, bool):
        return False
    if isinstance(text, int):
        return True
    if isinstance(text, str):
        s = text.strip()
        return bool(s) and s.lstrip("+-").isdigit()
    return False


@dataclass(frozen=True)
class SearchParam:
    """One declared parameter of the search space.

    ``kind`` is the service's ``param_type`` lower-cased (``"continuous"`` or
    ``"discrete"``; any other text is kept as given). ``low``/``high`` are the
    bounds as numbers (``None`` when absent or not a number); ``integer``
    says both bounds are written as integers; ``values`` are the discrete
    values as the service wrote them (strings), ``points`` their declared
    count. ``problems`` lists what could not be read (one sentence each).
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    integer: bool = False
    points: int | None = None
    values: tuple[str, ...] | None = None
    log: bool | None = None
    problems: tuple[str, ...] = ()

    @property
    def column(self) -> str:
        """The table column of this parameter (``param/<name>``)."""
        return f"param/{self.name}"

    @property
    def is_discrete(self) -> bool:
        """Whether the parameter takes one of a list of values."""
        return self.kind == "discrete" or (self.values is not None and len(self.values) > 0)

    def numeric_values(self) -> tuple[float, ...] | None:
        """The discrete values as numbers when every one is a number, else ``None``."""
        if not self.values:
            return None
        numbers = [_number(v) for v in self.values]
        return None if any(x is None for x in numbers) else tuple(x for x in numbers if x is not None)

    @classmethod
    def from_entry(cls, entry: Mapping[str, Any]) -> SearchParam:
        """One ``search_params`` entry (its ``name`` must be a non-empty string)."""
        name = entry["name"]
        kind = str(entry.get("param_type") or "").strip().lower()
        problems: list[str] = []
        low_text, high_text = entry.get("lower_bound"), entry.get("upper_bound")
        low, high = _number(low_text), _number(high_text)
        for label, text, value in (("lower_bound", low_text, low), ("upper_bound", high_text, high)):
            if value is None and text not in (None, ""):
                problems.append(f"{label} {text!r} is not a finite number")
        if low is not None and high is not None and low > high:
            problems.append(f"lower_bound {low_text!r} is above upper_bound {high_text!r}")
            low = high = None
        raw_values = entry.get("discrete_values")
        values = tuple(str(v) for v in raw_values) if isinstance(raw_values, list) else None
        points_text = entry.get("discrete_points_num")
        points_number = _number(points_text)
        points = int(points_number) if points_number is not None and points_number.is_integer() else None
        if points is None and points_text not in (None, ""):
            problems.append(f"discrete_points_num {points_text!r} is not an integer")
        log = entry.get("log") if isinstance(entry.get("log"), bool) else None  # not in the API: our own files
        return cls(name=name, kind=kind, low=low, high=high,
                   integer=_is_integral(low_text) and _is_integral(high_text), points=points,
                   values=values or None, log=log, problems=tuple(problems))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (:meth:`from_dict` reads it back)."""
        return {"name": self.name, "kind": self.kind, "low": self.low, "high": self.high, "integer": self.integer,
                "points": self.points, "values": list(self.values) if self.values is not None else None,
                "log": self.log, "problems": list(self.problems)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SearchParam:
        """The inverse of :meth:`to_dict`."""
        values = data.get("values")
        return cls(name=str(data["name"]), kind=str(data.get("kind") or ""), low=_number(data.get("low")),
                   high=_number(data.get("high")), integer=bool(data.get("integer")),
                   points=data.get("points") if isinstance(data.get("points"), int) else None,
                   values=tuple(str(v) for v in values) if isinstance(values, list) else None,
                   log=data.get("log") if isinstance(data.get("log"), bool) else None,
                   problems=tuple(str(p) for p in data.get("problems") or ()))


@dataclass(frozen=True)
class SearchSpace:
    """The declared parameters of a job, in the order the job lists them."""

    params: tuple[SearchParam, ...] = ()

    def __len__(self) -> int:
        return len(self.params)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.params)

    def __contains__(self, name: object) -> bool:
        return any(p.name == name or p.column == name for p in self.params)

    def get(self, name: str) -> SearchParam | None:
        """The parameter called ``name`` (or whose column is ``name``), else ``None``."""
        for p in self.params:
            if p.name == name or p.column == name:
                return p
        return None

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> SearchSpace | None:
        """The space a job's details declare; ``None`` when they declare none."""
        policy = _auto_search(details)
        entries = policy.get("search_params") if policy is not None else None
        if not isinstance(entries, list) or not entries:
            return None
        params = []
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str) or not entry["name"]:
                warnings.warn(f"search_params entry {i} has no name; it is skipped: {entry!r:.120}",
                              SpaceWarning, stacklevel=2)
                continue
            params.append(SearchParam.from_entry(entry))
        return cls(tuple(params)) if params else None

    def to_json(self) -> str:
        """Compact JSON (what :data:`METADATA_SPACE` holds)."""
        return json.dumps([p.to_dict() for p in self.params], separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str | bytes) -> SearchSpace:
        """The inverse of :meth:`to_json`."""
        data = json.loads(text)
        return cls(tuple(SearchParam.from_dict(d) for d in data))

    @classmethod
    def from_metadata(cls, metadata: Mapping[bytes, bytes] | None) -> SearchSpace | None:
        """The space recorded in a table's schema metadata, else ``None``."""
        raw = (metadata or {}).get(METADATA_SPACE)
        return cls.from_json(raw) if raw else None

    def to_frame(self):  # type: ignore[no-untyped-def]
        """One row per parameter: name, kind, low, high, integer, points, values, log (pandas)."""
        import pandas as pd

        columns = ["name", "kind", "low", "high", "integer", "points", "values", "log"]
        return pd.DataFrame([{k: p.to_dict()[k] for k in columns} for p in self.params], columns=columns)


@dataclass(frozen=True)
class AlgorithmConfig:
    """The search algorithm a job declares (``algo_configs``): its name and its settings, as given."""

    name: str
    settings: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_details(cls, details: Mapping[str, Any] | None) -> AlgorithmConfig | None:
        """The first ``algo_configs`` entry of a job's details; ``None`` when there is none."""
        policy = _auto_search(details)
        configs = policy.get("algo_configs") if policy is not None else None
        if not isinstance(configs, list):
            return None
        for entry in configs:
            if isinstance(entry, Mapping) and isinstance(entry.get("name"), str) and entry["name"]:
                params = entry.get("params") if isinstance(entry.get("params"), list) else []
                settings = {str(p["key"]): "" if p.get("value") is None else str(p["value"])
                            for p in params if isinstance(p, Mapping) and p.get("key") not in (None, "")}
                return cls(entry["name"], settings)
        return None

    def to_json(self) -> str:
        """Compact JSON (what :data:`METADATA_ALGORITHM` holds)."""
        return json.dumps({"name": self.name, "settings": self.settings}, separators=(",", ":"))

    @classmethod
    def from_metadata(cls, metadata: Mapping[bytes, bytes] | None) -> AlgorithmConfig | None:
        """The algorithm recorded in a table's schema metadata, else ``None``."""
        raw = (metadata or {}).get(METADATA_ALGORITHM)
        if not raw:
            return None
        data = json.loads(raw)
        return cls(str(data["name"]), {str(k): str(v) for k, v in (data.get("settings") or {}).items()})


def _auto_search(details: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    obj = dig(details, "algorithm", "policies", "auto_search")
    return obj if isinstance(obj, Mapping) else None
