"""Read a Ray Tune experiment directory as trials and curves tables.

Ray Tune 2.x writes, per trial, a subdirectory of the experiment directory
(``<trainable>_<trial_id>_<tag>_<date>/``) holding

* ``params.json`` — the trial's config (JSON, nested dicts allowed);
* ``result.json`` — one JSON object per reported iteration (JSON lines):
  the reported metrics and Ray's own fields (``training_iteration``,
  ``trial_id``, ``done``, ``time_total_s``, ``time_this_iter_s``,
  ``timestamp``, ``pid``, ``hostname``, ...) with the ``config`` inside;
* ``progress.csv`` — the same rows as CSV, nested metrics flattened with
  ``/`` and without ``config`` (older versions: ``config/…`` columns);
* ``error.txt`` — the traceback of a trial that failed.

Ray itself is not needed. ``result.json`` is read when present (typed
values), else ``progress.csv`` (cells read as numbers or ``True``/``False``
where they are, else kept as text). A last line cut short by a writer still
running is skipped.

* The config becomes ``param/<key>`` columns; nested dicts are flattened
  with ``/`` as Ray flattens them in ``progress.csv`` (``{"optimizer":
  {"lr": 0.1}}`` → ``param/optimizer/lr``); lists become JSON text.
* ``status``: ``ERROR`` when the directory holds ``error.txt``, else
  ``TERMINATED`` when the last row says ``done`` (Ray marks the last result
  of a trial a scheduler stopped ``done`` too), ``RUNNING`` when it reported
  but is not done (a running or interrupted experiment), ``PENDING`` when it
  reported nothing.
* ``trial_id`` is Ray's (``2f1a3_00002``); ``trial_index`` its counter
  (``2``), else the order of the directory names.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._table import METADATA_METRIC, METADATA_METRICS, METADATA_MODE, METADATA_PREFIX, METADATA_TABLE, STEP
from .._version import __version__
from ..errors import ConfigurationError, ParseWarning
from ._tables import table_from_rows

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["TRIAL_FILES", "is_ray_experiment", "read_ray_results"]

#: The files that make a directory a Ray Tune trial directory.
TRIAL_FILES = ("params.json", "result.json", "progress.csv")
_TRIAL_ID = re.compile(r"(?:^|_)([0-9a-f]{5}_(\d{5}))(?:_|$)")


def _trial_dirs(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and any((p / f).is_file() for f in TRIAL_FILES))


def is_ray_experiment(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a directory with at least one Ray Tune trial directory in it."""
    p = Path(path)
    return p.is_dir() and bool(_trial_dirs(p))


def _flatten(value: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, v in value.items():
        name = f"{prefix}{key}"
        if isinstance(v, Mapping) and v:
            out.update(_flatten(v, f"{name}/"))
        else:
            out[name] = v
    return out


def _csv_cell(text: str) -> Any:
    if text == "":
        return None
    if text in ("True", "False"):
        return text == "True"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _read_result_json(path: Path) -> list[dict[str, Any]]:
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError as exc:
            if number == len(lines):  # a line still being written
                warnings.warn(f"{path}: the last line is not complete JSON; it is skipped", ParseWarning,
                              stacklevel=3)
                continue
            raise ConfigurationError(f"{path}: line {number} is not JSON: {exc}") from None
        if isinstance(row, dict):
            rows.append(row)
    return rows


def _read_progress_csv(path: Path) -> list[dict[str, Any]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return [{k: _csv_cell(v) for k, v in row.items() if k is not None and v is not None}
                for row in csv.DictReader(handle)]


def _read_trial(directory: Path) -> tuple[dict[str, Any], list[dict[str, Any]], bool]:
    """``(config, rows, errored)`` of one trial directory; rows flattened, without ``config``."""
    config: dict[str, Any] | None = None
    if (directory / "params.json").is_file():
        try:
            loaded = json.loads((directory / "params.json").read_text(encoding="utf-8"))
        except ValueError as exc:
            raise ConfigurationError(f"{directory / 'params.json'} is not JSON: {exc}") from None
        config = loaded if isinstance(loaded, dict) else None
    if (directory / "result.json").is_file():
        raw = _read_result_json(directory / "result.json")
    elif (directory / "progress.csv").is_file():
        raw = _read_progress_csv(directory / "progress.csv")
    else:
        raw = []
    rows = []
    for row in raw:
        row = dict(row)
        inner = row.pop("config", None)
        if config is None and isinstance(inner, dict):
            config = inner
        flat = _flatten(row)
        if config is None and any(k.startswith("config/") for k in flat):
            config = {k.removeprefix("config/"): v for k, v in flat.items() if k.startswith("config/")}
        rows.append({k: v for k, v in flat.items() if not k.startswith("config/")})
    return _flatten(config or {}), rows, (directory / "error.txt").is_file()


def read_ray_results(path: str | os.PathLike[str], *, metric: str | None = None,
                     mode: str | None = None) -> tuple[pa.Table, pa.Table]:
    """A Ray Tune experiment directory as ``(trials, curves)`` tables (see the module docstring).

    ``metric``/``mode`` (Ray's files do not say which metric the search
    optimized) are recorded in both tables' metadata when given, so ranking,
    back-tests and reports default to them. Raises
    :class:`~hpo_analytics.errors.ConfigurationError` for a path that is not
    a directory or holds no trial directory.
    """
    root = Path(path)
    if not root.is_dir():
        raise ConfigurationError(f"{str(root)!r} is not a directory (a Ray Tune experiment directory is)")
    if mode is not None and mode not in ("max", "min"):
        raise ConfigurationError(f"mode must be 'max' or 'min', not {mode!r}")
    directories = _trial_dirs(root)
    if not directories:
        raise ConfigurationError(f"{str(root)!r} holds no Ray Tune trial directory (with {', '.join(TRIAL_FILES)})")
    trials: list[dict[str, Any]] = []
    curves: list[dict[str, Any]] = []
    for order, directory in enumerate(directories):
        config, rows, errored = _read_trial(directory)
        last = rows[-1] if rows else {}
        found = _TRIAL_ID.search(directory.name)
        trial_id = str(last.get("trial_id") or (found.group(1) if found else directory.name))
        counter = re.search(r"_(\d{5})$", trial_id)
        index = int(counter.group(1)) if counter else (int(found.group(2)) if found else order)
        if errored:
            status = "ERROR"
        elif rows:
            status = "TERMINATED" if last.get("done") is True else "RUNNING"
        else:
            status = "PENDING"
        trial = {k: v for k, v in last.items() if k not in ("trial_id",)}
        trial.update({"trial_id": trial_id, "trial_index": index, "status": status})
        trial.setdefault(STEP, None)
        trial.update({f"param/{k}": v for k, v in config.items()})
        trials.append(trial)
        for row in rows:
            curves.append({**{k: v for k, v in row.items() if k != "trial_id"}, "trial_id": trial_id,
                           "trial_index": index})
    trials.sort(key=lambda r: (r["trial_index"], r["trial_id"]))
    curves.sort(key=lambda r: (r["trial_index"], _step(r.get(STEP))))
    meta: dict[bytes, bytes] = {METADATA_PREFIX + b"version": __version__.encode(),
                                METADATA_PREFIX + b"source": b"ray"}
    if metric is not None:
        meta[METADATA_METRIC] = metric.encode()
        meta[METADATA_MODE] = (mode or "max").encode()
        meta[METADATA_METRICS] = json.dumps([{"name": metric, "mode": mode or "max"}], separators=(",", ":")).encode()
    import pyarrow as pa

    first = ["trial_id", "trial_index", "status", "done", STEP]
    types = {"trial_id": pa.string(), "trial_index": pa.int64(), "status": pa.string(), STEP: pa.int64()}
    trials_table = table_from_rows(trials, first=first, types=types, metadata={**meta, METADATA_TABLE: b"trials"})
    curve_types = {k: v for k, v in types.items() if k != "status"}
    curves_table = table_from_rows(curves, first=["trial_id", "trial_index", STEP], types=curve_types,
                                   metadata={**meta, METADATA_TABLE: b"curves"})
    if metric is not None and metric not in trials_table.column_names:
        raise ConfigurationError(f"the Ray results report no metric {metric!r}")
    return trials_table, curves_table


def _step(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else math.inf
