"""``sync``: bring a dataset directory up to date with the service, incrementally and safely.

For each selected job (from a job search, or by id):

* a job that was finished at its last sync (manifest ``finished``) costs
  nothing: the search answer already says its phase;
* any other job's trials listing is fetched; curves are fetched only for
  trials whose ``(training_iteration, status)`` changed since the manifest's
  record, and merged with the rows already on disk (rows of trials no longer
  listed are dropped);
* a job whose listing, phase and curves did not change is ``unchanged`` and
  nothing of it is written.

Jobs are written in batches (:data:`BATCH_JOBS`): the batch's files are
staged under temporary names, the dataset schema is widened when new
columns or types arrived (and every other job's file is restaged in the
wider schema), the manifest commits the batch, and the files are renamed
into place (see :mod:`._manifest`). A lock on ``DIR/.lock`` keeps a second
sync out.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from ..client import resolve_progress
from .._jsonutil import dig
from ..errors import APIError, ConfigurationError, HpoAnalyticsError, TransportError
from ._fs import TMP_MARK, FileSystem, LocalFileSystem, write_staged
from ._jobs import job_row, jobs_table
from ._layout import JOBS_FILE, KINDS, LOCK_FILE, check_job_id, job_file
from ._manifest import FINISHED_PHASES, load_manifest, save_manifest
from ._read import read_file
from ._schema import concat_jobs, conform, decode_schema, encode_schema, restore, same_table, sort_rows, unify

if TYPE_CHECKING:  # pragma: no cover
    import pyarrow as pa

    from ..client import ModelArtsClient, ProgressArg

__all__ = ["BATCH_JOBS", "JobSync", "SyncSummary", "sync"]

logger = logging.getLogger("hpo_analytics.dataset")

#: Jobs fetched before their files are written and committed together.
BATCH_JOBS = 32

_KIND_FILTER = {"key": "kind", "operator": "in", "value": ["autosearch_job"]}


@dataclass(frozen=True)
class JobSync:
    """What a sync did with one job.

    ``state`` is ``fetched`` (its data was read and written), ``unchanged``
    (nothing new: nothing written) or ``failed`` (``reason`` says why; what
    the dataset held of it is kept). ``trials`` and ``curves`` are the rows
    written, ``histories`` the per-trial histories fetched.
    """

    job_id: str
    state: Literal["fetched", "unchanged", "failed"]
    phase: str | None = None
    reason: str | None = None
    trials: int = 0
    curves: int = 0
    histories: int = 0


@dataclass(frozen=True)
class SyncSummary:
    """The result of :func:`sync`: one :class:`JobSync` per job, the requests sent and the rows written."""

    out_dir: str
    jobs: tuple[JobSync, ...]
    requests: int
    rows_written: int
    files_rewritten: int = 0
    seconds: float = 0.0
    schema_columns: dict[str, int] = field(default_factory=dict)

    @property
    def fetched(self) -> list[str]:
        """Ids of the jobs whose data was written."""
        return [j.job_id for j in self.jobs if j.state == "fetched"]

    @property
    def unchanged(self) -> list[str]:
        """Ids of the jobs with nothing new."""
        return [j.job_id for j in self.jobs if j.state == "unchanged"]

    @property
    def failed(self) -> list[str]:
        """Ids of the jobs that could not be synced."""
        return [j.job_id for j in self.jobs if j.state == "failed"]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-able form (what ``hpo-analytics sync --json`` prints)."""
        return {
            "out_dir": self.out_dir,
            "fetched": len(self.fetched),
            "unchanged": len(self.unchanged),
            "failed": len(self.failed),
            "requests": self.requests,
            "rows_written": self.rows_written,
            "files_rewritten": self.files_rewritten,
            "seconds": round(self.seconds, 3),
            "jobs": [
                {"job_id": j.job_id, "state": j.state, "phase": j.phase, "reason": j.reason,
                 "trials": j.trials, "curves": j.curves, "histories": j.histories}
                for j in self.jobs
            ],
        }


@dataclass
class _Fetched:
    job_id: str
    details: Mapping[str, Any]
    phase: str | None
    trials: pa.Table
    curves: pa.Table | None
    keys: dict[str, list[Any]]
    curves_synced: bool
    histories: int


def _reason(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


# --------------------------------------------------------------------------- selection


def _select(client: ModelArtsClient, job_ids: Sequence[str] | None, filters: Sequence[Mapping[str, Any]],
            all_jobs: bool) -> tuple[list[Mapping[str, Any]], list[JobSync]]:
    """The details of every job to sync, and the ids that could not even be looked up."""
    if job_ids is not None:
        found, failed = [], []
        for job_id in dict.fromkeys(job_ids):
            try:
                found.append(client.get_training_job(job_id))
            except (APIError, TransportError) as exc:
                failed.append(JobSync(job_id, "failed", reason=_reason(exc)))
        return found, failed
    return client.search_training_jobs(filters=[_KIND_FILTER, *[dict(f) for f in filters]]), []


def _check_selection(job_ids: Sequence[str] | None, filters: Sequence[Mapping[str, Any]], all_jobs: bool) -> None:
    if job_ids is not None:
        if isinstance(job_ids, str):
            raise ConfigurationError("job_ids must be a sequence of ids, not one string")
        if all_jobs or filters:
            raise ConfigurationError("give job_ids, or filters / all_jobs=True, not both")
        if not job_ids:
            raise ConfigurationError("job_ids is empty: nothing to sync")
    elif not all_jobs and not filters:
        raise ConfigurationError("say what to sync: job_ids, filters, or all_jobs=True")
    for f in filters:
        if not isinstance(f, Mapping) or not {"key", "operator", "value"} <= set(f):
            raise ConfigurationError(f"a filter is a mapping with 'key', 'operator' and 'value', not {f!r}")


# --------------------------------------------------------------------------- recovery


def _recover(fs: FileSystem, root: str, manifest: dict[str, Any]) -> None:
    """Finish the renames of a committed batch and remove temporary files of one that never committed."""
    pending = manifest.get("pending") or []
    for tmp, final in pending:
        if fs.exists(tmp):
            fs.replace(tmp, final)
    if pending:
        logger.info("completed %d file renames of an interrupted sync", len(pending))
        manifest["pending"] = []
        save_manifest(fs, root, manifest)
    dirs = [root, f"{root}/jobs"]
    for kind in KINDS:
        dirs += [f"{root}/{kind}/{name}" for name in fs.listdir(f"{root}/{kind}") if name.startswith("job_id=")]
    for d in dirs:
        for name in fs.listdir(d):
            if name.startswith(".") and TMP_MARK in name:
                fs.remove(f"{d}/{name}")


# --------------------------------------------------------------------------- fetching


def _trial_keys(trials: pa.Table) -> dict[str, list[Any]]:
    """``{trial_id: [iteration reported (0 if none), status]}`` from a trials table."""
    if "trial_id" not in trials.column_names:
        return {}
    ids = trials["trial_id"].to_pylist()
    its = trials["training_iteration"].to_pylist() if "training_iteration" in trials.column_names else [0] * len(ids)
    sts = trials["status"].to_pylist() if "status" in trials.column_names else [None] * len(ids)
    return {t: [int(i or 0), s] for t, i, s in zip(ids, its, sts) if t is not None}


def _read_own(fs: FileSystem, root: str, kind: str, job_id: str) -> pa.Table | None:
    path = job_file(root, kind, job_id)
    return restore(read_file(fs, path)) if fs.exists(path) else None


def _merge_curves(old: pa.Table | None, new: pa.Table | None, *, keep: set[str],
                  refetched: set[str]) -> pa.Table | None:
    """Curves on disk without the refetched (or no longer listed) trials, plus the new ones, in fetch order."""
    import pyarrow as pa
    import pyarrow.compute as pc

    parts = []
    if old is not None and old.num_rows and "trial_id" in old.column_names:
        ids = old["trial_id"]
        drop = pa.array(sorted(refetched | (set(ids.to_pylist()) - keep)), pa.string())
        old = old.filter(pc.invert(pc.fill_null(pc.is_in(ids, value_set=drop), False)))
    if old is not None and (old.num_rows or new is None):
        parts.append(old)
    if new is not None:
        parts.append(new)
    if not parts:
        return None
    if len(parts) == 1:
        table = parts[0]
    else:
        merged = concat_jobs(parts, kind="curves")
        first = list(new.column_names) if new is not None else []
        order = first + [c for c in merged.column_names if c not in first]
        meta = (new if new is not None else old).schema.metadata  # type: ignore[union-attr]
        table = merged.select(order).replace_schema_metadata(meta)
    return sort_rows(table, ("trial_index", "trial_id", "training_iteration"))


def _fetch(client: ModelArtsClient, fs: FileSystem, root: str, details: Mapping[str, Any],
           entry: Mapping[str, Any] | None, *, curves: bool) -> _Fetched | None:
    """Read one job; ``None`` when nothing of it changed since the manifest's record."""
    job_id = str(dig(details, "metadata", "id"))
    phase = dig(details, "status", "phase")
    if not isinstance(dig(details, "algorithm", "policies", "auto_search"), Mapping):
        # a search answer that leaves out the search settings: the job's own details have them
        details = client.get_training_job(job_id)
    trials = client.fetch_trials(job_id, details=details)
    keys = _trial_keys(trials)
    old_trials = _read_own(fs, root, "trials", job_id) if entry is not None else None
    had_curves = bool(entry and entry.get("curves"))
    old_keys: Mapping[str, Any] = entry.get("trials", {}) if entry is not None and had_curves else {}
    new_curves = None
    curves_table = None
    want: list[str] = []
    if curves:
        want = [t for t, k in keys.items() if k[0] > 0 and list(old_keys.get(t) or []) != k]
        if want:
            new_curves = client.fetch_curves(job_id, want, details=details)
        old_curves = _read_own(fs, root, "curves", job_id) if had_curves else None
        gone = set(old_keys) - set(keys)
        if want or gone or not had_curves:
            curves_table = _merge_curves(old_curves, new_curves, keep=set(keys), refetched=set(want))
            if curves_table is None and keys:
                # no trial has reported yet: one (empty) history gives the columns a direct fetch has
                curves_table = client.fetch_curves(job_id, list(keys)[:1], details=details)
                want = list(keys)[:1]
            elif curves_table is None:
                import pyarrow as pa

                curves_table = pa.table({})
    same = (
        entry is not None
        and entry.get("phase") == phase
        and old_trials is not None
        and same_table(old_trials, trials)
        and curves_table is None
        and (had_curves or not curves)
    )
    if same:
        return None
    return _Fetched(job_id, details, phase if isinstance(phase, str) else None, trials, curves_table,
                    keys if curves else {}, curves, len(want))


# --------------------------------------------------------------------------- writing


def _write_batch(fs: FileSystem, root: str, manifest: dict[str, Any], batch: list[_Fetched],
                 synced_at_ms: int) -> tuple[int, int]:
    """Stage, commit and rename one batch's files; returns ``(rows written, other files rewritten)``."""
    import pyarrow.parquet as pq

    def stage(path: str, table: pa.Table) -> str:
        fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        return write_staged(fs, path, lambda f: pq.write_table(table, f))

    pending: list[list[str]] = []
    rows = 0
    rewritten = 0
    jobs = manifest["jobs"]
    in_batch = {f.job_id for f in batch}
    for kind in KINDS:
        tables = {f.job_id: (f.trials if kind == "trials" else f.curves) for f in batch}
        tables = {k: v for k, v in tables.items() if v is not None}
        if not tables:
            continue
        old_text = manifest["schemas"].get(kind)
        old = decode_schema(old_text) if old_text else None
        sources = ([("earlier syncs", old)] if old is not None else []) + [(k, t.schema) for k, t in tables.items()]
        schema = unify(sources, kind=kind)
        if old is not None and not schema.equals(old):
            logger.info("the %s schema widened: rewriting the other jobs' %s files", kind, kind)
            for other in sorted(set(jobs) - in_batch):
                path = job_file(root, kind, other)
                if fs.exists(path):
                    pending.append([stage(path, conform(restore(read_file(fs, path)), schema)), path])
                    rewritten += 1
        for job_id, table in tables.items():
            path = job_file(root, kind, job_id)
            pending.append([stage(path, conform(table, schema)), path])
            rows += table.num_rows
        manifest["schemas"][kind] = encode_schema(schema)
    for f in batch:
        entry = jobs.get(f.job_id, {})
        schemas = dict(entry.get("schemas") or {})
        schemas["trials"] = encode_schema(f.trials.schema)
        if f.curves is not None:
            schemas["curves"] = encode_schema(f.curves.schema)
        jobs[f.job_id] = {
            "phase": f.phase,
            "finished": f.phase in FINISHED_PHASES,
            "curves": f.curves_synced,
            "trials": f.keys,
            "schemas": schemas,
            "row": job_row(f.details, f.trials, synced_at_ms=synced_at_ms),
        }
    jobs_path = f"{root}/{JOBS_FILE}"
    pending.append([stage(jobs_path, jobs_table(e["row"] for e in jobs.values())), jobs_path])
    manifest["pending"] = pending
    save_manifest(fs, root, manifest)  # the commit: from here on the batch is completed, even after a crash
    for tmp, final in pending:
        fs.replace(tmp, final)
    manifest["pending"] = []
    save_manifest(fs, root, manifest)
    return rows, rewritten


# --------------------------------------------------------------------------- the entry point


def sync(
    client: ModelArtsClient,
    out_dir: str | os.PathLike[str],
    *,
    job_ids: Sequence[str] | None = None,
    filters: Sequence[Mapping[str, Any]] = (),
    all_jobs: bool = False,
    curves: bool = True,
    progress: ProgressArg = None,
    filesystem: FileSystem | None = None,
) -> SyncSummary:
    """Bring the dataset at ``out_dir`` up to date with the service; see :mod:`hpo_analytics.dataset`.

    Select jobs by ``job_ids``, or by a job search: ``all_jobs=True`` (every
    autosearch job) and/or ``filters`` (``{"key", "operator", "value": [...]}``
    as :meth:`~hpo_analytics.ModelArtsClient.search_training_jobs` takes
    them). ``curves=False`` skips the per-trial histories (curves on disk
    are left as they were). ``progress`` is a callable ``(jobs_done,
    jobs_total)`` or ``True`` for a bar on stderr. ``filesystem`` replaces
    the local disk (:class:`~hpo_analytics.dataset.FileSystem`).

    A second sync into the same directory while one runs raises
    :class:`~hpo_analytics.errors.DatasetLockedError` at once. A job that
    cannot be read is reported ``failed`` in the summary and the others go on;
    errors of the search itself (credentials, connection) are raised.
    """
    _check_selection(job_ids, filters, all_jobs)
    fs = filesystem if filesystem is not None else LocalFileSystem()
    root = os.fspath(out_dir).rstrip("/") or "/"
    fs.makedirs(root, exist_ok=True)
    started = time.perf_counter()
    with fs.lock(f"{root}/{LOCK_FILE}"):
        first_request = client.requests_sent
        manifest = load_manifest(fs, root)
        _recover(fs, root, manifest)
        selected, results = _select(client, job_ids, filters, all_jobs)
        on_progress, finish = resolve_progress(progress, label="jobs")
        rows = 0
        rewritten = 0
        counts: dict[str, tuple[int, int, int]] = {}
        try:
            batch: list[_Fetched] = []
            total = len(selected) + len(results)
            done = len(results)
            for details in selected:
                job_id = dig(details, "metadata", "id")
                phase = dig(details, "status", "phase")
                phase = phase if isinstance(phase, str) else None
                try:
                    job_id = check_job_id(job_id)
                    entry = manifest["jobs"].get(job_id)
                    if entry is not None and entry.get("finished") and (entry.get("curves") or not curves):
                        results.append(JobSync(job_id, "unchanged", phase=phase))
                    else:
                        fetched = _fetch(client, fs, root, details, entry, curves=curves)
                        if fetched is None:
                            results.append(JobSync(job_id, "unchanged", phase=phase))
                        else:
                            batch.append(fetched)
                            results.append(JobSync(job_id, "fetched", phase=phase))
                            counts[job_id] = (fetched.trials.num_rows,
                                              fetched.curves.num_rows if fetched.curves is not None else 0,
                                              fetched.histories)
                except (HpoAnalyticsError, OSError) as exc:
                    logger.warning("job %s not synced: %s", job_id, exc)
                    results.append(JobSync(str(job_id), "failed", phase=phase, reason=_reason(exc)))
                if len(batch) >= BATCH_JOBS:
                    r, w = _write_batch(fs, root, manifest, batch, _now_ms())
                    rows, rewritten, batch = rows + r, rewritten + w, []
                done += 1
                if on_progress is not None:
                    on_progress(done, total)
            if batch:
                r, w = _write_batch(fs, root, manifest, batch, _now_ms())
                rows, rewritten = rows + r, rewritten + w
        finally:
            finish()
        requests = client.requests_sent - first_request
    final = tuple(
        JobSync(j.job_id, j.state, j.phase, j.reason, *counts[j.job_id]) if j.job_id in counts else j
        for j in results
    )
    schema_columns = {k: len(decode_schema(v)) for k, v in manifest["schemas"].items() if v}
    summary = SyncSummary(root, final, requests, rows, rewritten, time.perf_counter() - started, schema_columns)
    logger.info("synced %s: %d fetched, %d unchanged, %d failed, %d requests", root, len(summary.fetched),
                len(summary.unchanged), len(summary.failed), requests)
    return summary


def _now_ms() -> int:
    return int(time.time() * 1000)
