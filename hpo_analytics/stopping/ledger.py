"""The watch loop's embedded state: one SQLite file (WAL) with the curve history and an append-only ledger.

Tables (all keyed by ``job_id``):

* ``history(job_id, trial_id, step, value, PRIMARY KEY (job_id, trial_id, step))`` — every
  report of the watched metric seen so far (NaN is stored as NULL; a row
  exists for every report, so a reported NaN stays a report).
* ``stops(job_id, trial_id, state, time, PRIMARY KEY (job_id, trial_id))`` — the
  idempotency record. ``state`` is ``intent`` (written and committed *before*
  the stop request is sent), then ``stopped``, ``already_stopped``,
  ``failed`` or ``unresolved``. A trial with any row here is never sent
  another stop request.
* ``terminations(job_id, state, time, PRIMARY KEY (job_id))`` — the same
  idempotency record for ending the whole job (a search-level stop, see
  :class:`~hpo_analytics.stopping.SearchStop`), in its own table so that no
  reserved trial id can be mistaken for a trial: ``intent`` (committed
  before the terminate request), then ``terminating``, ``already_ended``,
  ``failed`` or ``unresolved``. A job with a row here is never sent another
  terminate request; a run killed between the intent and the answer leaves
  ``intent``, and the next run resolves it from the job's phase.
* ``events(id, time, job_id, cycle, kind, trial_id, rule, params, step, value,
  reference, reason, request, response, error)`` — append-only: every
  decision (``kind="decision"``), every safety hold (``"held"``), every action
  (``"intent"``, ``"stopped"``, ``"already_stopped"``, ``"failed"``,
  ``"unresolved"``, ``"dry_run"``), cycle-level events (``"cycle"``,
  ``"error"``, ``"paused"``, ``"exit"``), the job's end (``"job_ended"``),
  notifications that were not delivered (``"notify_failed"``, ``reason``
  naming the event), and those of search-level stops (``"trial_finished"`` —
  each trial once, in the order the watch saw trials finish, with its best
  value —, ``"would_terminate"``, ``"terminate_held"``, ``"terminate_intent"``,
  ``"job_terminated"``, ``"terminate_already_ended"``, ``"terminate_failed"``,
  ``"terminate_unresolved"``). Nothing is ever updated or deleted.

Every write is its own committed transaction, so a ``kill -9`` loses at most
the write in progress, never an earlier one. The claims of a stop or a
terminate (the rows that keep a request from being sent twice) are also
flushed to disk before the request goes out (``synchronous=FULL`` for that
transaction), so not even a power loss can forget a request that was sent;
other writes are committed without waiting for the disk
(``synchronous=NORMAL`` in WAL mode: safe against a killed process).

:func:`read_ledger` reads the whole audit trail of one job's directory, or of
every job under a ``--state-dir`` root, without writing anything (so it can
run beside a watch that is writing). :func:`decisions_from_ledger` reads the
recorded decisions back as a decision table (what the report's decisions section and ``hpo-analytics report
--decisions`` take).
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sqlite3
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from .._table import STEP
from .._validation import floats
from ..errors import ConfigurationError
from ._base import DECISION_COLUMNS

__all__ = ["LEDGER_COLUMNS", "LEDGER_FILE", "Ledger", "decisions_from_ledger", "ledger_files", "read_ledger"]

LEDGER_FILE = "watch.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    job_id TEXT NOT NULL, trial_id TEXT NOT NULL, step INTEGER NOT NULL, value REAL,
    PRIMARY KEY (job_id, trial_id, step)
);
CREATE TABLE IF NOT EXISTS stops (
    job_id TEXT NOT NULL, trial_id TEXT NOT NULL, state TEXT NOT NULL, time REAL NOT NULL,
    PRIMARY KEY (job_id, trial_id)
);
CREATE TABLE IF NOT EXISTS terminations (
    job_id TEXT NOT NULL PRIMARY KEY, state TEXT NOT NULL, time REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, time REAL NOT NULL, job_id TEXT NOT NULL, cycle INTEGER,
    kind TEXT NOT NULL, trial_id TEXT, rule TEXT, params TEXT, step INTEGER, value REAL,
    reference REAL, reason TEXT, request TEXT, response TEXT, error TEXT
);
CREATE TRIGGER IF NOT EXISTS events_append_only_u BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
CREATE TRIGGER IF NOT EXISTS events_append_only_d BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the ledger is append-only'); END;
"""

_EVENT_FIELDS = ("cycle", "kind", "trial_id", "rule", "params", "step", "value", "reference", "reason",
                 "request", "response", "error")


def _num(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


class Ledger:
    """The SQLite state of a watch loop in ``state_dir`` (created if missing); one writer at a time."""

    def __init__(self, state_dir: str | Path) -> None:
        self.state_dir = Path(state_dir)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.state_dir / LEDGER_FILE
        self._db = sqlite3.connect(self.path, isolation_level=None, timeout=30.0, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    @contextlib.contextmanager
    def _on_disk(self) -> Iterator[None]:
        """The transaction inside is flushed to disk when it commits (and every earlier one with it)."""
        self._db.execute("PRAGMA synchronous=FULL")
        try:
            yield
        finally:
            self._db.execute("PRAGMA synchronous=NORMAL")

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ history
    def append_history(self, job_id: str, rows: Iterable[tuple[str, int, float]]) -> int:
        """Add ``(trial_id, step, value)`` reports not seen before; returns how many were new."""
        data = [(job_id, str(t), int(s), _num(v)) for t, s, v in rows]
        if not data:
            return 0
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            before = self._db.total_changes
            self._db.executemany("INSERT OR IGNORE INTO history VALUES (?, ?, ?, ?)", data)
            return self._db.total_changes - before

    def history(self, job_id: str) -> pd.DataFrame:
        """The stored reports: ``trial_id``, ``training_iteration``, ``value`` (NaN for NULL)."""
        rows = self._db.execute(
            "SELECT trial_id, step, value FROM history WHERE job_id = ? ORDER BY rowid", (job_id,)
        ).fetchall()
        frame = pd.DataFrame(rows, columns=["trial_id", STEP, "value"])
        frame["value"] = frame["value"].astype(float)
        return frame

    # ------------------------------------------------------------------ stops (idempotency)
    def stop_states(self, job_id: str) -> dict[str, str]:
        """``trial_id -> state`` for every trial a stop was ever intended for."""
        return dict(self._db.execute("SELECT trial_id, state FROM stops WHERE job_id = ?", (job_id,)).fetchall())

    def claim_stop(self, job_id: str, trial_id: str, time: float) -> bool:
        """Record the intent to stop, on disk; ``False`` (and nothing written) when the trial already has a row."""
        with self._on_disk(), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute("INSERT OR IGNORE INTO stops VALUES (?, ?, 'intent', ?)", (job_id, trial_id, time))
            return cur.rowcount == 1

    def set_stop_state(self, job_id: str, trial_id: str, state: str, time: float) -> None:
        """Move a claimed stop to its outcome."""
        with self._db:
            self._db.execute("UPDATE stops SET state = ?, time = ? WHERE job_id = ? AND trial_id = ?",
                             (state, time, job_id, trial_id))

    # ------------------------------------------------------------------ terminations (idempotency)
    def terminate_state(self, job_id: str) -> str | None:
        """The state of the job's terminate request, ``None`` when none was ever intended."""
        row = self._db.execute("SELECT state FROM terminations WHERE job_id = ?", (job_id,)).fetchone()
        return None if row is None else str(row[0])

    def claim_terminate(self, job_id: str, time: float) -> bool:
        """Record the intent to terminate the job, on disk; ``False`` (and nothing written) when it has a row."""
        with self._on_disk(), self._db:
            self._db.execute("BEGIN IMMEDIATE")
            cur = self._db.execute("INSERT OR IGNORE INTO terminations VALUES (?, 'intent', ?)", (job_id, time))
            return cur.rowcount == 1

    def set_terminate_state(self, job_id: str, state: str, time: float) -> None:
        """Move a claimed terminate to its outcome."""
        with self._db:
            self._db.execute("UPDATE terminations SET state = ?, time = ? WHERE job_id = ?", (state, time, job_id))

    # ------------------------------------------------------------------ events
    def record(self, job_id: str, kind: str, *, time: float, **fields: Any) -> None:
        """Append one event (unknown field names raise :class:`~hpo_analytics.errors.ConfigurationError`)."""
        unknown = set(fields) - set(_EVENT_FIELDS)
        if unknown:
            raise ConfigurationError(f"unknown ledger fields: {sorted(unknown)}")
        fields["kind"] = kind
        if isinstance(fields.get("params"), dict):
            fields["params"] = json.dumps(fields["params"], sort_keys=True)
        for key in ("value", "reference"):
            if key in fields:
                fields[key] = _num(fields[key])
        cols = ["time", "job_id", *fields]
        with self._db:
            self._db.execute(f"INSERT INTO events ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                             [time, job_id, *fields.values()])

    def record_many(self, job_id: str, events: list[dict[str, Any]], *, time: float) -> None:
        """Append many events in one transaction (each dict: ``kind`` plus fields)."""
        if not events:
            return
        rows = []
        for ev in events:
            params = ev.get("params")
            rows.append((time, job_id, ev.get("cycle"), ev["kind"], ev.get("trial_id"), ev.get("rule"),
                         json.dumps(params, sort_keys=True) if isinstance(params, dict) else params,
                         ev.get("step"), _num(ev.get("value")), _num(ev.get("reference")), ev.get("reason"),
                         ev.get("request"), ev.get("response"), ev.get("error")))
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany(
                "INSERT INTO events (time, job_id, cycle, kind, trial_id, rule, params, step, value, reference, "
                "reason, request, response, error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)

    def events(self, job_id: str | None = None, kind: str | None = None) -> pd.DataFrame:
        """The ledger as a frame, oldest first (optionally one job / one kind)."""
        sql = "SELECT * FROM events"
        where, args = [], []
        if job_id is not None:
            where.append("job_id = ?")
            args.append(job_id)
        if kind is not None:
            where.append("kind = ?")
            args.append(kind)
        if where:
            sql += " WHERE " + " AND ".join(where)
        cur = self._db.execute(sql + " ORDER BY id", args)
        return pd.DataFrame(cur.fetchall(), columns=[d[0] for d in cur.description])

    def last_cycle(self, job_id: str) -> int:
        """The highest cycle number recorded for the job (0 when none)."""
        row = self._db.execute("SELECT MAX(cycle) FROM events WHERE job_id = ?", (job_id,)).fetchone()
        return int(row[0] or 0)


def decisions_from_ledger(state_dir: str | os.PathLike[str], job_id: str | None = None) -> pd.DataFrame:
    """The stop decisions a watch loop recorded in ``state_dir``, one row per trial and rule.

    Columns :data:`hpo_analytics.stopping.DECISION_COLUMNS` plus ``cycle``.
    Each trial's row is its first decision to stop, if the rule ever decided
    so, else its latest decision. ``job_id=None`` takes every job in the
    ledger. Raises :class:`~hpo_analytics.errors.ConfigurationError` when
    ``state_dir`` has no ledger.
    """
    path = Path(state_dir)
    if not (path / LEDGER_FILE).is_file():
        raise ConfigurationError(f"no watch ledger ({LEDGER_FILE}) in {str(path)!r}")
    with Ledger(path) as ledger:
        events = ledger.events(job_id, "decision")
    columns = [*DECISION_COLUMNS, "cycle"]
    if not len(events):
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    reason = events["reason"].fillna("").astype(str)
    frame = pd.DataFrame({
        "trial_id": events["trial_id"].astype(str),
        "stop": reason.str.startswith("stop:"),
        "rule": events["rule"],
        "step": _counts(events["step"]),
        "value": floats(events["value"]),
        "reference": floats(events["reference"]),
        "reason": reason.str.replace(r"^(stop|continue): ", "", regex=True),
        "cycle": _counts(events["cycle"]),
    })
    key = ["trial_id", "rule"]
    first_stop = frame[frame["stop"]].drop_duplicates(key, keep="first")
    stopped = pd.MultiIndex.from_frame(first_stop[key])
    others = frame[~pd.MultiIndex.from_frame(frame[key]).isin(stopped)].drop_duplicates(key, keep="last")
    out = pd.concat([first_stop, others]).sort_index(kind="stable").reset_index(drop=True)
    return out[columns]


#: The columns of :func:`read_ledger`, in order.
LEDGER_COLUMNS = ("time", "job_id", "cycle", "kind", "trial_id", "rule", "params", "step", "value", "reference",
                  "reason", "request", "response", "error")


def ledger_files(state_dir: str | os.PathLike[str]) -> list[Path]:
    """The ledger files ``state_dir`` holds: its own, or one per job directory right under it (sorted)."""
    path = Path(state_dir)
    if (path / LEDGER_FILE).is_file():
        return [path / LEDGER_FILE]
    if not path.is_dir():
        raise ConfigurationError(f"no watch state in {str(path)!r}: it is not a directory")
    return sorted(p for p in path.glob(f"*/{LEDGER_FILE}") if p.is_file())


def read_ledger(state_dir: str | os.PathLike[str], *, job_id: str | None = None) -> pd.DataFrame:
    """Every event the watch recorded under ``state_dir``, oldest first, as a frame of :data:`LEDGER_COLUMNS`.

    ``state_dir`` is one job's state directory or a root holding one per job
    (as ``hpo-analytics watch --state-dir`` does); ``job_id`` keeps one job.
    ``time`` is a UTC timestamp. The files are opened read-only: reading
    never blocks or changes a watch that is running (the ledger uses WAL).
    Raises :class:`~hpo_analytics.errors.ConfigurationError` when there is no ledger.
    """
    files = ledger_files(state_dir)
    if not files:
        raise ConfigurationError(f"no watch ledger ({LEDGER_FILE}) in {str(Path(state_dir))!r} or the job "
                                 "directories under it")
    frames = []
    for file in files:
        try:
            db = sqlite3.connect(f"{file.resolve().as_uri()}?mode=ro", uri=True, timeout=30.0)
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot open the ledger {str(file)!r}: {exc}") from None
        try:
            sql = f"SELECT {', '.join(LEDGER_COLUMNS)} FROM events"
            args: tuple[str, ...] = ()
            if job_id is not None:
                sql += " WHERE job_id = ?"
                args = (job_id,)
            cur = db.execute(sql + " ORDER BY id", args)
            frames.append(pd.DataFrame(cur.fetchall(), columns=list(LEDGER_COLUMNS)))
        except sqlite3.Error as exc:
            raise ConfigurationError(f"cannot read the ledger {str(file)!r}: {exc}") from None
        finally:
            db.close()
    out = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if len(frames) > 1:
        out = out.sort_values("time", kind="stable").reset_index(drop=True)
    out["time"] = pd.to_datetime(floats(out["time"]), unit="s", utc=True)
    for name in ("cycle", "step"):
        out[name] = _counts(out[name])
    for name in ("value", "reference"):
        out[name] = floats(out[name])
    return out


def _counts(column: pd.Series) -> pd.Series:
    """An integer column read back from SQLite (NULL where missing) as nullable ``Int64``."""
    return pd.Series(floats(column), index=column.index).astype("Int64")
