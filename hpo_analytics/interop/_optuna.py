"""Export a job's trials to an Optuna study, and read any Optuna study back as trials and curves tables.

Export (:func:`to_optuna`): one study per job, written through Optuna's own
API (``optuna.trial.create_trial`` + ``Study.add_trial`` for new trials, the
storage's ``set_trial_param``/``set_trial_intermediate_value``/
``set_trial_state_values``/``set_trial_user_attr`` for trials still running),
so optuna-dashboard and ``optuna.visualization`` read it as any study.

State mapping (the service's ``status`` → Optuna's ``TrialState``):

* ``TERMINATED`` (or ``COMPLETED``/``STOPPED``) → ``COMPLETE`` with the final
  metric value; ``PRUNED`` when the trial was *stopped early*: recorded as
  ``stopped`` in the watch ledger given as ``state_dir``, or (with
  ``infer_pruned=True``, the default) when its ``training_iteration`` is below
  the longest among ``TERMINATED`` trials (a scheduler's or a rule's stop
  leaves a shorter curve); a finished trial with no finite value → ``FAIL``
  (Optuna refuses a ``COMPLETE`` trial without one, as ``Study.tell`` does);
* ``ERROR``/``FAILED`` → ``FAIL``; ``RUNNING``/``PAUSED`` (and any status we do
  not know) → ``RUNNING``; ``PENDING`` → ``WAITING``.

``PRUNED`` trials keep their last value as Optuna's ``Study.tell`` does.
Every trial carries the user attributes ``trial_id``, ``trial_index``,
``status`` (the service's), ``training_iteration`` and ``time_total_s``
when known, the values of the job's other declared metrics under their
names, and ``reported_value`` (the trial's latest metric value as the
service lists it: the only value of a running, waiting or failed trial). The study's direction is the
metric's mode; its user attributes say which job it is (``hpo_analytics``:
the writer's marker, ``job_id``/``job_name`` when known, ``metric``,
``mode``, ``metrics``, ``algorithm``, ``search_space``).

Re-export to the same study adds only what is new: trials are keyed by the
``trial_id`` user attribute (never duplicated), a trial Optuna still holds as
running or waiting gets its new intermediate steps, parameters, user
attributes and its new state. Optuna never changes a finished trial
(``UpdateFinishedTrialError``): a finished trial whose mapping would now
differ (say a ledger given only later marks it stopped) is left as it is
and named in :attr:`ExportSummary.conflicts`. A study of the same name that
hpo_analytics did not write, or wrote for another job or metric direction,
is refused with :class:`~hpo_analytics.errors.ConfigurationError`: nothing is
written to it.

Import (:func:`from_optuna`) is the inverse: the study's trials as a trials
table (``trial_id``, ``trial_index``, ``status``, ``done``,
``training_iteration``, ``time_total_s``, the metric, other metrics,
``param/<name>``, ``user_attr/<key>``) and their intermediate values as a
curves table (``trial_id``, ``trial_index``, ``training_iteration``, the
metric), with the metric, mode, declared metrics and search space in the
schema metadata (the space: as exported, else made from the study's
distributions).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .._space import AlgorithmConfig, SearchParam, SearchSpace
from .._table import (
    FINISHED_STATUSES,
    METADATA_METRIC,
    METADATA_METRICS,
    METADATA_MODE,
    METADATA_PREFIX,
    METADATA_TABLE,
    STEP,
)
from .._version import __version__
from ..errors import ConfigurationError
from ._distributions import plan_params, python_value

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

__all__ = ["EXTRA_HINT", "MARKER", "ExportSummary", "from_optuna", "load_study", "require_optuna", "to_optuna"]

#: What to install for the Optuna functions.
EXTRA_HINT = "pip install 'hpo-analytics[optuna]'"
#: The study user attribute that marks a study written by hpo_analytics.
MARKER = "hpo_analytics"
_FORMAT = 1
_TRIAL_ATTRS = ("trial_id", "trial_index", "status", "training_iteration", "time_total_s", "reported_value")


def require_optuna() -> Any:
    """The ``optuna`` module, or :class:`~hpo_analytics.errors.ConfigurationError` naming the extra."""
    try:
        import optuna
    except ImportError as exc:
        raise ConfigurationError(f"Optuna is not installed; {EXTRA_HINT} (or pip install 'optuna>=3.6')") from exc
    return optuna


@dataclass(frozen=True)
class ExportSummary:
    """What one :func:`to_optuna` call wrote.

    ``added`` new trials; ``updated`` trials Optuna held as running or
    waiting whose state changed; ``steps_added`` intermediate values written
    (those of new trials included); ``unchanged`` trials already exported
    with nothing new; ``conflicts`` the ``trial_id`` of finished Optuna
    trials that the table would now map differently (left as they are).
    """

    study_name: str
    trials: int
    added: int
    updated: int
    steps_added: int
    unchanged: int
    conflicts: tuple[str, ...] = ()
    states: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (the CLI's ``--json``)."""
        return {"study": self.study_name, "trials": self.trials, "added": self.added, "updated": self.updated,
                "steps_added": self.steps_added, "unchanged": self.unchanged, "conflicts": list(self.conflicts),
                "states": dict(self.states)}


# ---------------------------------------------------------------------- export


def _raw_metadata(table: Any) -> dict[bytes, bytes]:
    """A table's schema metadata as bytes, also for a frame (whose ``attrs`` hold it without the prefix)."""
    schema = getattr(table, "schema", None)
    if schema is not None and hasattr(schema, "metadata"):
        return dict(schema.metadata or {})
    attrs = getattr(table, "attrs", {}).get("hpo_analytics", {})
    return {METADATA_PREFIX + str(k).encode(): str(v).encode() for k, v in attrs.items()}


def _state_name(status: Any) -> str:
    return str(status).strip().upper() if status is not None else ""


def _finite(value: Any) -> float | None:
    value = python_value(value)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _ledger_stops(state_dir: str | os.PathLike[str] | None, job_id: str | None) -> set[str]:
    """The trials the watch loop stopped (``stopped`` events) according to the ledger in ``state_dir``."""
    if state_dir is None:
        return set()
    from ..stopping import read_ledger

    events = read_ledger(state_dir, job_id=job_id)
    return set(events.loc[events["kind"] == "stopped", "trial_id"].dropna().astype(str))


def _curve_points(curves: Any, metric: str) -> dict[str, dict[int, float]]:
    """``trial_id -> {step: value}`` of the metric in a curves table (missing values left out)."""
    if curves is None:
        return {}
    import pandas as pd

    from .._frames import as_frame

    frame = as_frame(curves)
    for column in ("trial_id", STEP, metric):
        if column not in frame.columns:
            raise ConfigurationError(f"the curves have no {column!r} column; columns: {list(frame.columns)}")
    out: dict[str, dict[int, float]] = {}
    for trial_id, step, value in zip(frame["trial_id"].tolist(), frame[STEP].tolist(), frame[metric].tolist()):
        step = python_value(step)
        value = math.nan if value is None or value is pd.NA else value  # a report without a number: NaN, as in pandas
        if trial_id is None or step is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        out.setdefault(str(trial_id), {})[int(step)] = float(value)
    return out


def _open_storage(optuna: Any, storage: Any) -> Any:
    if isinstance(storage, (str, os.PathLike)):
        try:
            return optuna.storages.get_storage(os.fspath(storage))
        except Exception as exc:  # sqlalchemy/optuna errors of a bad URL: one typed error, no URL (it may hold a password)
            raise ConfigurationError(f"cannot open the Optuna storage: {type(exc).__name__}: "
                                     f"{_redact(str(exc), os.fspath(storage))}") from None
    return storage


def _redact(message: str, url: str) -> str:
    """``message`` with the password of a storage URL (``scheme://user:password@host``) masked."""
    if "@" in url and "://" in url:
        credentials = url.split("://", 1)[1].split("@", 1)[0]
        if ":" in credentials:
            message = message.replace(credentials.split(":", 1)[1], "***")
    return message


def to_optuna(
    trials: Any,
    curves: Any = None,
    *,
    storage: Any = "sqlite:///study.db",
    study_name: str | None = None,
    metric: str | None = None,
    mode: str | None = None,
    state_dir: str | os.PathLike[str] | None = None,
    infer_pruned: bool = True,
    out_of_space: str = "widen",
) -> ExportSummary:
    """Write a job's trials (and curves) to an Optuna study; again later, add only what is new.

    ``trials``/``curves``: the tables :meth:`~hpo_analytics.ModelArtsClient.fetch_trials`
    and ``fetch_curves`` return (Arrow or pandas). ``storage``: an Optuna
    storage URL (``sqlite:///study.db``, ``postgresql://…``) or storage
    object. ``study_name`` defaults to the job's name, else its id, from
    the table's metadata (else it must be given). ``metric``/``mode`` default
    to the table's. ``state_dir``: a watch state directory whose ledger says
    which trials the watch stopped (→ ``PRUNED``). ``out_of_space``:
    ``"widen"`` or ``"raise"`` for a value outside its declared distribution
    (see :mod:`hpo_analytics.interop._distributions`). The module docstring
    has the state mapping and what a re-export may change.

    Raises :class:`~hpo_analytics.errors.ConfigurationError` without Optuna
    (naming the extra), for a study of that name not written by hpo_analytics
    for this job, and for bad options.
    """
    import pyarrow as pa

    from .._frames import as_frame, declared_metrics, metadata_of, resolve_metric

    optuna = require_optuna()
    if out_of_space not in ("widen", "raise"):
        raise ConfigurationError(f"out_of_space must be 'widen' or 'raise', not {out_of_space!r}")
    frame = as_frame(trials)
    if "trial_id" not in frame.columns:
        raise ConfigurationError("the trials table has no 'trial_id' column")
    metric, mode = resolve_metric(trials, metric, mode)
    raw = _raw_metadata(trials)
    meta = metadata_of(trials)
    space = SearchSpace.from_metadata(raw)
    algorithm = AlgorithmConfig.from_metadata(raw)
    job_id, job_name = meta.get("job_id"), meta.get("job_name")
    name = study_name or job_name or job_id
    if not name:
        raise ConfigurationError("study_name is needed: the table records neither the job's name nor its id")
    direction = "maximize" if mode == "max" else "minimize"
    others = [m for m, _ in declared_metrics(trials) if m != metric and m in frame.columns]

    if frame["trial_id"].duplicated().any():
        repeated = sorted(set(frame.loc[frame["trial_id"].duplicated(), "trial_id"].astype(str)))
        raise ConfigurationError(f"trial ids repeat in the table ({', '.join(repeated[:5])}); one row per trial")

    store = _open_storage(optuna, storage)
    study = _existing_study(optuna, store, name, direction=direction, job_id=job_id)  # refused before any write
    before_trials = study.get_trials(deepcopy=False) if study is not None else []
    existing = {str(t.user_attrs["trial_id"]): t for t in before_trials if "trial_id" in t.user_attrs}
    known: dict[str, Any] = {}
    for t in before_trials:
        for pname, dist in t.distributions.items():
            known.setdefault(pname, dist)
    # Everything that may refuse the input runs before the first write
    plans, param_values = plan_params(frame, space, existing=known, out_of_space=out_of_space)
    points = _curve_points(curves, metric)
    stopped = _ledger_stops(state_dir, job_id)
    states = _states(frame, metric, stopped, infer_pruned=infer_pruned)

    if study is None:
        study = optuna.create_study(storage=store, study_name=name, direction=direction)
    attrs = {MARKER: {"format": _FORMAT, "version": __version__}, "metric": metric, "mode": mode,
             "metrics": [{"name": m, "mode": md} for m, md in declared_metrics(trials)] or
             [{"name": metric, "mode": mode}]}
    if job_id:
        attrs["job_id"] = job_id
    if job_name:
        attrs["job_name"] = job_name
    if algorithm is not None:
        attrs["algorithm"] = {"name": algorithm.name, "settings": algorithm.settings}
    if space is not None:
        attrs["search_space"] = json.loads(space.to_json())
    current = study.user_attrs
    for key, value in attrs.items():
        if current.get(key) != value:
            study.set_user_attr(key, value)

    TrialState = optuna.trial.TrialState
    study_id = store.get_study_id_from_name(name)
    added = updated = steps = unchanged = 0
    conflicts: list[str] = []
    counts: dict[str, int] = {}
    wanted = [c for c in frame.columns if c in (*_TRIAL_ATTRS, metric, *others)]
    # From Arrow where we can: there a null cell and a "nan" cell differ (in pandas both are NaN)
    columns = ({c: trials.column(c).to_pylist() for c in wanted} if isinstance(trials, pa.Table)
               else {c: frame[c].tolist() for c in wanted})
    for row, trial_id in enumerate(str(t) for t in frame["trial_id"].tolist()):
        state, value = states[row]
        counts[state] = counts.get(state, 0) + 1
        user_attrs = _trial_attrs(columns, row, trial_id, metric, others)
        params = {p.name: param_values[p.name][row] for p in plans if row in param_values[p.name]}
        dists = {p.name: p.distribution for p in plans if p.name in params}
        intermediate = points.get(trial_id, {})
        before = existing.get(trial_id)
        target = TrialState[state]
        if before is None:
            trial = optuna.trial.create_trial(
                state=target, value=value if state in ("COMPLETE", "PRUNED") else None, params=params,
                distributions=dists, user_attrs=user_attrs, intermediate_values=intermediate)
            study.add_trial(trial)
            added += 1
            steps += len(intermediate)
            continue
        if before.state.is_finished():
            if before.state != target or (state == "COMPLETE" and before.value != value):
                conflicts.append(trial_id)
            unchanged += 1
            continue
        tid = store.get_trial_id_from_study_id_trial_number(study_id, before.number)
        for pname, pvalue in params.items():
            if pname not in before.params:
                store.set_trial_param(tid, pname, dists[pname].to_internal_repr(pvalue), dists[pname])
        new_steps = {s: v for s, v in intermediate.items() if s not in before.intermediate_values}
        for step, v in sorted(new_steps.items()):
            store.set_trial_intermediate_value(tid, step, v)
        steps += len(new_steps)
        for key, v in user_attrs.items():
            if before.user_attrs.get(key) != v:
                store.set_trial_user_attr(tid, key, v)
        if target != before.state and target != TrialState.WAITING:  # Optuna has no way back to waiting
            if before.state == TrialState.WAITING and target != TrialState.RUNNING:
                store.set_trial_state_values(tid, TrialState.RUNNING)  # sets the start time a finished trial needs
            values = [value] if state in ("COMPLETE", "PRUNED") and value is not None else None
            store.set_trial_state_values(tid, target, values=values)
            updated += 1
        elif not new_steps:
            unchanged += 1
    return ExportSummary(name, len(frame), added, updated, steps, unchanged, tuple(conflicts), counts)


def _existing_study(optuna: Any, store: Any, name: str, *, direction: str, job_id: str | None) -> Any:
    """The study of that name when it exists and is ours for this job, ``None`` when there is none; else refused."""
    try:
        store.get_study_id_from_name(name)
    except KeyError:
        return None
    study = optuna.load_study(study_name=name, storage=store)
    attrs = study.user_attrs
    if MARKER not in attrs:
        raise ConfigurationError(f"the Optuna study {name!r} exists and was not written by hpo_analytics; "
                                 "give another study name (nothing was written)")
    if job_id and attrs.get("job_id") not in (None, job_id):
        raise ConfigurationError(f"the Optuna study {name!r} holds job {attrs.get('job_id')!r}, not {job_id!r}; "
                                 "give another study name (nothing was written)")
    if len(study.directions) != 1 or study.direction.name.lower() != direction:
        raise ConfigurationError(f"the Optuna study {name!r} was written to {study.direction.name.lower()} "
                                 f"its metric, not to {direction} it; give another study name")
    return study


def _states(frame: Any, metric: str, stopped: set[str], *, infer_pruned: bool) -> list[tuple[str, float | None]]:
    """Each row's Optuna state name and value (see the module docstring)."""
    statuses = [_state_name(s) for s in frame["status"].tolist()] if "status" in frame.columns else \
        ["TERMINATED"] * len(frame)
    iterations = ([python_value(v) for v in frame[STEP].tolist()] if STEP in frame.columns
                  else [None] * len(frame))
    values = [_finite(v) for v in frame[metric].tolist()]
    finished_lengths = [int(i) for s, i in zip(statuses, iterations) if s == "TERMINATED" and i is not None]
    longest = max(finished_lengths) if finished_lengths else None
    out: list[tuple[str, float | None]] = []
    for trial_id, status, iteration, value in zip(frame["trial_id"].tolist(), statuses, iterations, values):
        if status in ("ERROR", "FAILED"):
            out.append(("FAIL", None))
        elif status in FINISHED_STATUSES:
            early = str(trial_id) in stopped or (
                infer_pruned and longest is not None and (iteration is None or int(iteration) < longest))
            if early:
                out.append(("PRUNED", value))
            else:
                out.append(("COMPLETE", value) if value is not None else ("FAIL", None))
        elif status == "PENDING":
            out.append(("WAITING", None))
        else:
            out.append(("RUNNING", None))
    return out


def _trial_attrs(columns: Mapping[str, list[Any]], row: int, trial_id: str, metric: str,
                 others: Sequence[str]) -> dict[str, Any]:
    attrs: dict[str, Any] = {"trial_id": trial_id}
    for key in ("trial_index", "status", STEP, "time_total_s"):
        if key in columns:
            v = python_value(columns[key][row])
            if v is not None:
                attrs[key] = v
    for name, key in ((metric, "reported_value"), *((n, n) for n in others)):
        v = _attr_number(columns[name][row])
        if v is not None:
            attrs[key] = v
    return attrs


def _attr_number(value: Any) -> float | str | None:
    """A metric value as a user attribute: a float, or ``"nan"``/``"inf"``/``"-inf"`` (JSON has no such numbers,
    and optuna-dashboard parses the attributes as JSON); missing → ``None``."""
    if isinstance(value, float) and math.isnan(value):
        return "nan"  # pandas reads a null float cell as NaN too: both come back as NaN
    value = python_value(value)
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else ("inf" if value > 0 else "-inf")


def _attr_float(value: Any) -> float | None:
    """The inverse of :func:`_attr_number` (other text → ``None``)."""
    if isinstance(value, str):
        return float(value) if value in ("nan", "inf", "-inf") else None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


# ---------------------------------------------------------------------- import


def load_study(storage: str, study_name: str | None = None) -> Any:
    """An Optuna study from a storage URL; without a name, the storage's only study."""
    optuna = require_optuna()
    store = _open_storage(optuna, storage)
    if study_name is None:
        names = [s.study_name for s in store.get_all_studies()]
        if len(names) != 1:
            listed = ", ".join(repr(n) for n in names[:10]) or "none"
            raise ConfigurationError(f"the Optuna storage holds {len(names)} studies ({listed}); name one "
                                     "with --study / study_name")
        study_name = names[0]
    try:
        return optuna.load_study(study_name=study_name, storage=store)
    except KeyError:
        raise ConfigurationError(f"the Optuna storage has no study {study_name!r}") from None


def from_optuna(study: Any, *, study_name: str | None = None) -> tuple[pa.Table, pa.Table]:
    """An Optuna study as ``(trials, curves)`` tables, like :meth:`~hpo_analytics.ModelArtsClient.fetch_trials`'s.

    ``study``: an ``optuna.Study``, or a storage URL (then ``study_name``, or
    the storage's only study). The trials table has ``trial_id`` (the
    ``trial_id`` user attribute, else the trial number as text),
    ``trial_index``, ``status`` (the exported service status, else
    ``COMPLETE``/``PRUNED`` → ``TERMINATED``, ``FAIL`` → ``ERROR``, ``RUNNING``,
    ``WAITING`` → ``PENDING``), ``done``, ``training_iteration``,
    ``time_total_s``, the metric (named by the study's ``metric`` user
    attribute, else its metric names, else ``value``; a multi-objective
    study has one column per objective; a trial without an Optuna value takes
    its exported ``reported_value``, or in a study hpo_analytics did not
    write its last intermediate value), the other exported metrics,
    ``param/<name>`` typed by the distribution and ``user_attr/<key>`` for the
    remaining scalar user attributes. The curves table has one row per
    intermediate value. Both record the metric, mode, metrics and the search
    space in their schema metadata, so ranking, back-tests and reports work.
    """
    import pyarrow as pa

    optuna = require_optuna()
    if isinstance(study, (str, os.PathLike)):
        study = load_study(os.fspath(study), study_name)
    attrs = study.user_attrs
    directions = ["max" if d == optuna.study.StudyDirection.MAXIMIZE else "min" for d in study.directions]
    names = _metric_names(study, attrs, len(directions))
    declared = attrs.get("metrics") if isinstance(attrs.get("metrics"), list) else None
    metrics = [{"name": n, "mode": m} for n, m in zip(names, directions)]
    if declared:
        extra = [d for d in declared if isinstance(d, Mapping) and d.get("name") not in names]
        metrics += [{"name": str(d.get("name")), "mode": d.get("mode")} for d in extra]
    other_names = [str(d["name"]) for d in metrics[len(names):]]
    State = optuna.trial.TrialState
    fallback_status = {State.COMPLETE: "TERMINATED", State.PRUNED: "TERMINATED", State.FAIL: "ERROR",
                       State.RUNNING: "RUNNING", State.WAITING: "PENDING"}
    rows: list[dict[str, Any]] = []
    curve_rows: list[dict[str, Any]] = []
    distributions: dict[str, Any] = {}
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        ua = t.user_attrs
        trial_id = str(ua.get("trial_id", t.number))
        status = ua.get("status") if isinstance(ua.get("status"), str) else fallback_status.get(t.state, t.state.name)
        last_step = max(t.intermediate_values) if t.intermediate_values else None
        iteration = ua.get(STEP, last_step)
        duration = ua.get("time_total_s")
        exported = "trial_id" in ua  # then its datetimes are when it was exported, not when it ran
        if duration is None and not exported and t.datetime_start is not None and t.datetime_complete is not None:
            duration = (t.datetime_complete - t.datetime_start).total_seconds()
        row: dict[str, Any] = {"trial_id": trial_id, "trial_index": ua.get("trial_index", t.number),
                               "status": status, "done": status == "TERMINATED", STEP: iteration,
                               "time_total_s": duration}
        values = t.values if t.values is not None else [None] * len(names)
        for i, n in enumerate(names):
            v = values[i]
            if v is None and i == 0:
                v = _attr_float(ua.get("reported_value"))
                if v is None and not exported and last_step is not None:  # a study of Optuna's own
                    v = t.intermediate_values[last_step]
            row[n] = v
        for n in other_names:
            row[n] = _attr_float(ua.get(n))
        for pname, dist in t.distributions.items():
            distributions.setdefault(pname, dist)
            row[f"param/{pname}"] = t.params[pname]
        for key, v in ua.items():
            if key not in _TRIAL_ATTRS and key not in other_names and key not in names:
                row[f"user_attr/{key}"] = v if isinstance(v, (bool, int, float, str)) or v is None else \
                    json.dumps(v, sort_keys=True, default=str)
        rows.append(row)
        for step, v in sorted(t.intermediate_values.items()):
            curve_rows.append({"trial_id": trial_id, "trial_index": row["trial_index"], STEP: step, names[0]: v})
    space = _space_of(attrs, distributions)
    meta = {METADATA_METRIC: names[0].encode(), METADATA_MODE: directions[0].encode(),
            METADATA_METRICS: json.dumps(metrics, separators=(",", ":")).encode(),
            METADATA_PREFIX + b"version": __version__.encode(), METADATA_PREFIX + b"study_name":
                str(study.study_name).encode()}
    if space is not None:
        from .._space import METADATA_SPACE

        meta[METADATA_SPACE] = space.to_json().encode()
    algorithm = attrs.get("algorithm")
    if isinstance(algorithm, Mapping) and isinstance(algorithm.get("name"), str):
        from .._space import METADATA_ALGORITHM

        meta[METADATA_ALGORITHM] = AlgorithmConfig(
            algorithm["name"], {str(k): str(v) for k, v in (algorithm.get("settings") or {}).items()}).to_json().encode()
    for key in ("job_id", "job_name"):
        if isinstance(attrs.get(key), str):
            meta[METADATA_PREFIX + key.encode()] = attrs[key].encode()
    from ._tables import table_from_rows

    first = ["trial_id", "trial_index", "status", "done", STEP, "time_total_s", *names, *other_names]
    types = {"trial_id": pa.string(), "trial_index": pa.int64(), "status": pa.string(), "done": pa.bool_(),
             STEP: pa.int64(), "time_total_s": pa.float64(), **{n: pa.float64() for n in (*names, *other_names)}}
    trials_table = table_from_rows(rows, first=first, types=types,
                                   metadata={**meta, METADATA_TABLE: b"trials"})
    curves_table = table_from_rows(curve_rows, first=["trial_id", "trial_index", STEP, names[0]],
                                   types={"trial_id": pa.string(), "trial_index": pa.int64(), STEP: pa.int64(),
                                          names[0]: pa.float64()},
                                   metadata={**meta, METADATA_TABLE: b"curves"})
    return trials_table, curves_table


def _metric_names(study: Any, attrs: Mapping[str, Any], n: int) -> list[str]:
    if n == 1 and isinstance(attrs.get("metric"), str) and attrs["metric"]:
        return [attrs["metric"]]
    named = getattr(study, "metric_names", None)
    if isinstance(named, list) and len(named) == n and all(isinstance(x, str) and x for x in named):
        return list(named)
    return ["value"] if n == 1 else [f"value_{i}" for i in range(n)]


def _space_of(attrs: Mapping[str, Any], distributions: Mapping[str, Any]) -> SearchSpace | None:
    """The exported space (study user attribute), else one made from the study's distributions."""
    recorded = attrs.get("search_space")
    if isinstance(recorded, list):
        try:
            return SearchSpace.from_json(json.dumps(recorded))
        except (KeyError, TypeError, ValueError):
            pass
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    params = []
    for name, dist in distributions.items():
        if isinstance(dist, CategoricalDistribution):
            params.append(SearchParam(name, "discrete", points=len(dist.choices),
                                      values=tuple(str(c) for c in dist.choices)))
        elif isinstance(dist, IntDistribution):
            params.append(SearchParam(name, "continuous", low=float(dist.low), high=float(dist.high), integer=True,
                                      log=dist.log))
        elif isinstance(dist, FloatDistribution):
            params.append(SearchParam(name, "continuous", low=dist.low, high=dist.high, log=dist.log))
    return SearchSpace(tuple(params)) if params else None
