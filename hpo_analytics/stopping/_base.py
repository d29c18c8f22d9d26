"""The one interface every stop rule implements, and the curve matrix they all read.

A rule *decides*; it never acts. :meth:`Rule.decide` takes the long curve
table (one row per ``(trial_id, training_iteration)``, as
:func:`~hpo_analytics.curves_to_arrow` makes it, or the history the watch loop
keeps) and returns one row per trial considered:

======== ==========================================================
column   meaning
======== ==========================================================
trial_id the trial
stop     ``True`` when the rule says stop it now
rule     the rule's name and parameters (``median(semantics=optuna, ...)``)
step     the step (``training_iteration``) the decision was made at
value    the trial's number that was compared (in the metric's units)
reference what it was compared with (NaN when there was nothing to compare)
reason   one sentence a person can read
======== ==========================================================

Subclasses implement :meth:`Rule._decide` on a :class:`CurveMatrix` (dense
``trials x steps`` arrays) so the same code serves one ``decide`` call, the
back-test's replay and the 10,000-trial benchmark.

The grace period (every rule but successive halving has one) is the first
step a decision may be made at. Its default, ``grace_period=None`` (also
spelled ``"auto"``; the CLI's ``--grace-period auto``), is **half the longest
finished curve**: at each decision, ``ceil(AUTO_GRACE_FRACTION * L)`` where
``L`` is the last step of the longest curve among the reference trials (the
finished ones the rule compares with); while no reference trial has reported,
nothing is decided. Why: early in training, the order of the curves is the
order of how *fast* trials learn, not of where they end -- a slow starter
(a small learning rate) sits below the median for its first steps and then
overtakes everything. Under ``grace_period=0`` the median rule stops the
eventual best trial of the bundled example job and of half the synthetic
jobs tried; under the auto default it stops none of them (see
``tests/test_stopping_defaults.py``). A fraction, unlike a fixed number of
steps, scales with the budget and needs no knowledge of the job; it is read
from the trials that finished, so it is deterministic, grows with the job in
the watch loop, and a back-test's replay sees only the curves finished so
far. The ``rule`` column says ``grace_period=auto`` and each reason says what
it resolved to. An int means exactly that step (``0``: decide from the first
report).
"""

from __future__ import annotations

import abc
import math
import warnings
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from .._frames import as_frame, check_metric, resolve_metric
from .._table import STEP
from .._validation import check_int, floats
from ..errors import ConfigurationError

__all__ = ["AUTO_GRACE_FRACTION", "DECISION_COLUMNS", "CurveMatrix", "Decisions", "Grace", "Rule"]

DECISION_COLUMNS = ("trial_id", "stop", "rule", "step", "value", "reference", "reason")

#: ``grace_period=None`` ("auto"): no decision before this fraction of the longest finished curve.
AUTO_GRACE_FRACTION = 0.5



@dataclass(frozen=True)
class CurveMatrix:
    """Curves as dense arrays: row ``i`` is trial ``trial_ids[i]``, column ``j`` is step ``steps[j]``.

    ``values`` holds the metric (NaN where nothing was reported *or* a NaN
    was reported); ``reported`` tells the two apart. ``done``/``status`` are
    the trial's latest row's cells when the table has them (else ``None``).

    ``memo``/``settled`` are set only in the back-test's views of the past
    (else ``None``/0): every view of one replay shares ``memo``, later views
    only add cells to rows ``>= settled`` and rows after them, and rows
    ``< settled`` never change again -- neither their cells nor whether they
    are in the reference the rule is given. A rule may keep in ``memo``,
    under a key of its own, what it derived from those settled rows.
    """

    trial_ids: np.ndarray
    steps: np.ndarray
    values: np.ndarray
    reported: np.ndarray
    done: np.ndarray | None = None
    status: np.ndarray | None = None
    settled: int = 0
    memo: dict[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, metric: str) -> CurveMatrix:
        """Pivot a long frame (``trial_id``, ``training_iteration``, ``metric``); a repeated
        ``(trial, step)`` keeps its last row, rows without a step are ignored."""
        for column in ("trial_id", STEP, metric):
            if column not in frame.columns:
                raise ConfigurationError(f"the curves have no {column!r} column")
        codes_all, uniques = pd.factorize(frame["trial_id"], use_na_sentinel=True)
        step_col = floats(frame[STEP])
        keep = (codes_all >= 0) & ~np.isnan(step_col)
        everything = bool(keep.all())
        codes = codes_all if everything else codes_all[keep]
        raw_steps = (step_col if everything else step_col[keep]).astype(np.int64)
        values = floats(frame[metric])
        if not everything:
            values = values[keep]
        trial_ids = np.asarray(uniques, dtype=object)
        if not everything and len(codes) < len(codes_all):  # ids seen only on rows without a step
            used = np.zeros(len(trial_ids), dtype=bool)
            used[codes] = True
            remap = np.cumsum(used) - 1
            trial_ids, codes = trial_ids[used], remap[codes]
        steps, col = _compact(raw_steps)
        n, m = len(trial_ids), len(steps)
        matrix = np.full((n, m), np.nan)
        reported = np.zeros((n, m), dtype=bool)
        matrix[codes, col] = values
        reported[codes, col] = True
        done = status = None
        if len(codes) and ("done" in frame.columns or "status" in frame.columns):
            rowidx = np.full((n, m), -1, dtype=np.int64)
            positions = np.flatnonzero(keep)
            rowidx[codes, col] = positions
            last_col = m - 1 - reported[:, ::-1].argmax(axis=1)
            last_rows = rowidx[np.arange(n), last_col]
            if "done" in frame.columns:
                cells = frame["done"].to_numpy(dtype=object)[last_rows]
                done = np.array([bool(c) if c is not None and c is not pd.NA else False for c in cells], dtype=bool)
            if "status" in frame.columns:
                status = frame["status"].to_numpy(dtype=object)[last_rows]
        return cls(trial_ids, steps, matrix, reported, done, status)

    @classmethod
    def from_arrays(cls, values: np.ndarray, *, trial_ids: Any = None, steps: Any = None,
                    reported: np.ndarray | None = None) -> CurveMatrix:
        """A matrix from a ``trials x steps`` array (missing = NaN unless ``reported`` says otherwise)."""
        values = np.asarray(values, dtype=float)
        if values.ndim != 2:
            raise ConfigurationError("values must be a 2-d array (trials x steps)")
        n, m = values.shape
        ids = np.asarray(trial_ids if trial_ids is not None else [str(i) for i in range(n)], dtype=object)
        st = np.asarray(steps if steps is not None else np.arange(1, m + 1), dtype=np.int64)
        rep = ~np.isnan(values) if reported is None else np.asarray(reported, dtype=bool)
        return cls(ids, st, values, rep)

    @property
    def last(self) -> np.ndarray:
        """Column of each trial's latest report (``-1`` when it has none)."""
        return last_reported(self.reported)

    @property
    def second_last(self) -> np.ndarray:
        """Column of each trial's report before its latest (``-1`` when none)."""
        earlier = np.arange(self.reported.shape[1])[None, :] < self.last[:, None]
        return last_reported(self.reported & earlier)

    def truncated(self, visible: np.ndarray) -> CurveMatrix:
        """Only the first ``visible[i]`` columns of each row (the back-test's view of the past)."""
        mask = np.arange(self.values.shape[1])[None, :] < np.asarray(visible)[:, None]
        return CurveMatrix(self.trial_ids, self.steps, np.where(mask, self.values, np.nan),
                           self.reported & mask, None, None)


def last_reported(reported: np.ndarray) -> np.ndarray:
    """Column of each row's latest ``True`` (``-1`` when it has none)."""
    m = reported.shape[1]
    if m == 0:
        return np.full(reported.shape[0], -1, dtype=np.int64)
    rev = reported[:, ::-1]
    has = rev.any(axis=1)
    return np.where(has, m - 1 - rev.argmax(axis=1), -1)


def steps_at(steps: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """The step numbers of columns ``cols`` (``-1`` where the column is ``-1``: no report)."""
    if not len(steps):
        return np.full(len(cols), -1, dtype=np.int64)
    return np.where(cols >= 0, steps[np.maximum(cols, 0)], -1)


def _compact(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct steps and each row's column: O(n) by a presence table when the range is small."""
    if not len(raw):
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    lo, hi = int(raw.min()), int(raw.max())
    if hi - lo > 4 * len(raw) + 1_000_000:
        return np.unique(raw, return_inverse=True)
    present = np.zeros(hi - lo + 1, dtype=bool)
    present[raw - lo] = True
    lookup = np.cumsum(present) - 1
    return np.flatnonzero(present).astype(np.int64) + lo, lookup[raw - lo]


@dataclass
class Decisions:
    """The arrays a rule fills in, one entry per candidate row (``rows``), in the metric's units."""

    rows: np.ndarray
    stop: np.ndarray
    step: np.ndarray
    value: np.ndarray
    reference: np.ndarray
    reason: list[str]

    def to_frame(self, cm: CurveMatrix, rule: str) -> pd.DataFrame:
        """The decision table (:data:`DECISION_COLUMNS`)."""
        return self.frame_of(cm.trial_ids, rule)

    def frame_of(self, trial_ids: np.ndarray, rule: str) -> pd.DataFrame:
        """:meth:`to_frame`, given only the matrix's ``trial_ids``."""
        return pd.DataFrame({
            "trial_id": pd.array(trial_ids[self.rows].astype(str) if len(self.rows) else [], dtype="string"),
            "stop": np.asarray(self.stop, dtype=bool),
            "rule": pd.array([rule] * len(self.rows), dtype="string"),
            "step": _steps(self.step),
            "value": np.asarray(self.value, dtype=float),
            "reference": np.asarray(self.reference, dtype=float),
            "reason": pd.array(self.reason, dtype="string"),
        })


def _steps(step: np.ndarray) -> Any:
    arr = np.asarray(step, dtype=np.int64)
    out = pd.array(arr, dtype="Int64")
    out[arr < 0] = pd.NA
    return out


class Rule(abc.ABC):
    """A stop rule: a value that looks at learning curves and says which running trials to stop.

    Subclasses validate their arguments in ``__init__`` (raising
    :class:`~hpo_analytics.errors.ConfigurationError`) and implement
    :meth:`_decide`. ``metric``/``mode`` default to the table's metadata, else
    ``reward_attr``/``"max"`` (:func:`hpo_analytics._frames.resolve_metric`).
    """

    name: ClassVar[str] = "rule"

    @property
    def independent(self) -> bool:
        """True when a decision about a trial reads nothing but that trial's own curve (never other
        rows, never ``reference``). The back-test then asks about every trial at a step in one call
        instead of once per wave and step."""
        return False

    def __init__(self, *, metric: str | None = None, mode: str | None = None) -> None:
        if mode is not None and mode not in ("max", "min"):
            raise ConfigurationError(f"mode must be 'max' or 'min', not {mode!r}")
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise ConfigurationError("metric must be a non-empty string")
        self.metric = metric
        self.mode = mode

    # ------------------------------------------------------------------ description
    def params(self) -> dict[str, Any]:
        """The rule's parameters (recorded with every decision)."""
        return {}

    def describe(self) -> str:
        """``name(param=value, ...)``, the ``rule`` column of the decisions."""
        inner = ", ".join(f"{k}={v}" for k, v in self.params().items())
        return f"{self.name}({inner})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({', '.join(f'{k}={v!r}' for k, v in self.params().items())})"

    # ------------------------------------------------------------------ deciding
    def decide(self, curves: Any, *, now_running: Any = None, reference: Any = None) -> pd.DataFrame:
        """One row per trial considered (see the module docstring).

        ``now_running``: ids of the trials that may be stopped (default: those
        whose latest row is not ``done``, or every trial when there is no
        ``done`` column). ``reference``: ids of the finished trials that count
        as the population to compare with (default: every trial not running;
        trials whose latest ``status`` is ``ERROR`` are left out).

        Raises :class:`~hpo_analytics.errors.ConfigurationError` (naming the
        column and its type) when the metric is not numeric (text, booleans,
        lists) or, in a table with rows, has no finite value: every trial
        would otherwise be compared on NaN and the answer would look valid.
        """
        frame = as_frame(curves)
        metric, mode = resolve_metric(frame, self.metric, self.mode)
        check_metric(curves, metric)  # the input itself (as_frame took it), so Arrow types name themselves
        cm = CurveMatrix.from_frame(frame, metric)
        ids = cm.trial_ids.astype(str)
        if now_running is None:
            cand = ~cm.done if cm.done is not None else np.ones(len(ids), dtype=bool)
        else:
            cand = member(ids, now_running)
        if reference is None:
            ref = ~cand
            if cm.status is not None:
                ref &= cm.status.astype(str) != "ERROR"
        else:
            ref = member(ids, reference) & ~cand
        return self.decide_matrix(cm, np.flatnonzero(cand), ref, mode).to_frame(cm, self.describe())

    def decide_matrix(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray,
                      mode: str) -> Decisions:
        """Decisions for ``candidates`` (row numbers), comparing with the rows where ``reference`` is true."""
        sign = 1.0 if mode == "max" else -1.0
        candidates = np.asarray(candidates, dtype=np.int64)
        return self._decide(cm, candidates, np.asarray(reference, dtype=bool), sign)

    @abc.abstractmethod
    def _decide(self, cm: CurveMatrix, candidates: np.ndarray, reference: np.ndarray, sign: float) -> Decisions:
        """Decide in "higher is better" space: ``sign * values``; report values in the metric's units."""


# ---------------------------------------------------------------------- shared helpers


def check_grace(value: Any) -> int | None:
    """A ``grace_period`` argument: an int >= 0 (that step), or ``None``/``"auto"`` (``None``: auto)."""
    if value is None or (isinstance(value, str) and value == "auto"):
        return None
    return check_int("grace_period", value, low=0)


def grace_param(grace_period: int | None) -> int | str:
    """How a grace period shows in :meth:`Rule.params`/:meth:`Rule.describe`: the int, or ``"auto"``."""
    return "auto" if grace_period is None else grace_period


@dataclass(frozen=True)
class Grace:
    """A grace period as resolved for one decision call.

    ``step``: the first step a decision may be made at (``None``: the period
    is auto and no reference trial has reported yet, so nothing is decided).
    ``reach``: the last step of the longest reference curve it was read from
    (auto only, else ``None``).
    """

    step: int | None
    reach: int | None = None
    auto: bool = False

    @property
    def note(self) -> str:
        """What an auto period resolved to, for the reasons (``""`` for a fixed one)."""
        if not self.auto or self.step is None:
            return ""
        return (f"auto grace period: step {self.step} = ceil({AUTO_GRACE_FRACTION:g} x {self.reach}), "
                f"{self.reach} being the last step of the longest finished curve")

    def annotate(self, reasons: list[str | None]) -> list[str]:
        """``reasons`` (``None`` read as ``""``), each followed by :attr:`note` when there is one."""
        note = self.note
        return [(f"{r}; {note}" if r else note) if note else (r or "") for r in reasons]


def resolve_grace(grace_period: int | None, cm: CurveMatrix, reference: np.ndarray) -> Grace:
    """The grace period for one call: the int as given, or auto (see the module docstring).

    Auto is ``ceil(AUTO_GRACE_FRACTION * L)`` with ``L`` the last step
    reported by any row where ``reference`` is true (at least 1 when ``L``
    is 0 or less, so step 0 is never decided at). In the back-test's views
    (``cm.memo``) the settled rows' part of ``L`` is kept in the memo.
    """
    if grace_period is not None:
        return Grace(int(grace_period))
    reach = reference_reach(cm, reference)
    if reach is None:
        return Grace(None, None, auto=True)
    return Grace(max(1, math.ceil(AUTO_GRACE_FRACTION * reach)), reach, auto=True)


def reference_reach(cm: CurveMatrix, reference: np.ndarray) -> int | None:
    """The last step reported by any row where ``reference`` is true (``None`` when none reported)."""
    reference = np.asarray(reference, dtype=bool)
    n = len(reference)
    if cm.memo is not None and 0 < cm.settled <= n:
        done, kept = cm.memo.get("grace.reach", (0, -1))
        if done > cm.settled:  # not the replay's growing views after all: start over
            done, kept = 0, -1
        if done < cm.settled:
            kept = max(kept, _last_col(cm.reported, reference, done, cm.settled))
            cm.memo["grace.reach"] = (cm.settled, kept)
        col = max(kept, _last_col(cm.reported, reference, cm.settled, n))
    else:
        col = _last_col(cm.reported, reference, 0, n)
    return None if col < 0 else int(cm.steps[col])


def _last_col(reported: np.ndarray, reference: np.ndarray, lo: int, hi: int) -> int:
    """The last column any row ``lo <= i < hi`` with ``reference[i]`` reported at (-1: none)."""
    rows = np.flatnonzero(reference[lo:hi])
    if not len(rows) or reported.shape[1] == 0:
        return -1
    cols = reported[rows + lo].any(axis=0)
    return int(len(cols) - 1 - cols[::-1].argmax()) if cols.any() else -1


def gate(cm: CurveMatrix, candidates: np.ndarray, grace: Grace | int, interval: int
         ) -> tuple[np.ndarray, np.ndarray, list[str | None]]:
    """Which candidates are due a decision now, Optuna-style.

    Returns ``(due, last_col, reasons)``: a candidate is due when it has
    reported, its latest step is ``>= grace_period``, and its previous report
    came before the most recent checkpoint ``grace + k * interval`` at or
    below its latest step (Optuna's ``_is_first_in_interval_step``).
    ``reasons`` holds a sentence for those not due, ``None`` for those due.
    An auto grace period that could not be resolved (no reference trial yet)
    makes no candidate due.
    """
    if not isinstance(grace, Grace):
        grace = Grace(int(grace))
    # only the candidates' rows: the back-test asks about a few trials of a large matrix at a time
    mine = CurveMatrix(cm.trial_ids[candidates], cm.steps, cm.values[candidates], cm.reported[candidates])
    last = mine.last
    second = mine.second_last
    has = last >= 0
    step = steps_at(cm.steps, last)
    if grace.step is None:
        reasons_none: list[str | None] = [
            "no finished trial yet to set the auto grace period by (half the longest finished curve)"
            if h else "no report yet" for h in has.tolist()]
        return np.zeros(len(candidates), dtype=bool), last, reasons_none
    grace_period = grace.step
    prev = steps_at(cm.steps, second)
    in_grace = has & (step < grace_period)
    checkpoint = (step - grace_period) // interval * interval + grace_period
    off = has & ~in_grace & (prev >= checkpoint)
    due = has & ~in_grace & ~off
    reasons: list[str | None] = []
    for h, g, o, s in zip(has.tolist(), in_grace.tolist(), off.tolist(), step.tolist()):
        if not h:
            reasons.append("no report yet")
        elif g:
            reasons.append(f"step {s} is within the grace period ({grace_period} steps)")
        elif o:
            reasons.append(f"step {s} is not a decision step (every {interval} after {grace_period})")
        else:
            reasons.append(None)
    return due, last, reasons


def member(ids: np.ndarray, among: Any) -> np.ndarray:
    """``ids`` (strings) found in ``among`` (any iterable of ids), by hashing (``np.isin`` on strings is slow)."""
    return pd.Index(ids, dtype=object).isin(pd.Index([str(x) for x in among], dtype=object))


def best_so_far(cm: CurveMatrix, sign: float, *, rows: np.ndarray | None = None) -> np.ndarray:
    """Running NaN-ignoring best of ``sign * values`` along each row (NaN until a number is seen).

    ``rows``: only these rows, in this order (a rule deciding about a few
    trials of a large matrix should not pay for every row).
    """
    values = cm.values if rows is None else cm.values[rows]
    if values.shape[1] == 0:
        return values.copy()
    return np.fmax.accumulate(sign * values, axis=1)


def column_percentiles(block: np.ndarray, q: float) -> np.ndarray:
    """``np.nanpercentile(block, q, axis=0)`` (linear interpolation): the same numbers, from one sort.

    ``nanpercentile`` goes over the columns in Python, which a back-test asking
    thousands of times about a few columns pays for; this does numpy's
    arithmetic (index ``(n - 1) * q / 100``, its two-sided interpolation) on
    every column at once. Blocks with an infinite cell go to numpy itself.
    Where ``-0.0`` and ``0.0`` tie, which one comes out depends on the sort, in
    numpy too.
    """
    block = np.asarray(block, dtype=float)
    k, m = block.shape
    if k == 0 or m == 0 or np.isinf(block).any():
        return _numpy_columns(np.nanpercentile, block, q)
    ordered = np.sort(block, axis=0)  # NaN last
    count = k - np.isnan(block).sum(axis=0)
    virtual = (count - 1) * np.true_divide(q, 100.0)
    below = np.floor(virtual)
    top = virtual >= count - 1  # numpy takes the largest value there, with the index read as -1
    cols = np.arange(m)
    a = ordered[np.where(top, count - 1, below).astype(np.intp).clip(0), cols]
    b = ordered[np.where(top, count - 1, below + 1).astype(np.intp).clip(0), cols]
    t = virtual - np.where(top, -1.0, below)
    diff = b - a
    out = a + diff * t
    np.subtract(b, diff * (1 - t), out=out, where=t >= 0.5)
    out[count == 0] = np.nan
    return out


def column_medians(block: np.ndarray) -> np.ndarray:
    """``np.nanmedian(block, axis=0)``: the same numbers (the middle value, or the mean of the two),
    from one sort; the sign of a zero aside, as in :func:`column_percentiles`. Blocks with a cell
    beyond ``2 ** 1022`` (where numpy's ways of taking the middle value can overflow differently)
    go to numpy itself."""
    block = np.asarray(block, dtype=float)
    k, m = block.shape
    numbers = block[~np.isnan(block)]
    if k == 0 or m == 0 or (numbers.size and np.abs(numbers).max() > 2.0 ** 1022):
        return _numpy_columns(np.nanmedian, block)
    ordered = np.sort(block, axis=0)
    count = k - np.isnan(block).sum(axis=0)
    half = count // 2
    odd = count % 2 == 1
    cols = np.arange(m)
    low = ordered[np.where(odd, half, half - 1).clip(0), cols]
    high = ordered[half.clip(0, k - 1), cols]
    out = np.where(odd, low, (low + high) / 2)
    out[count == 0] = np.nan
    return out


def _numpy_columns(fn: Any, block: np.ndarray, *args: Any) -> np.ndarray:
    if block.shape[0] == 0:
        return np.full(block.shape[1], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.asarray(fn(block, *args, axis=0), dtype=float)


def fmt(x: float) -> str:
    """A number for a reason sentence."""
    return "nan" if x != x else f"{x:.6g}"
