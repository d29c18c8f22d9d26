"""Back-testing: replay a finished search as if stop rules had been running.

The replay model (documented choice). Trials run in waves of ``concurrency``
trials, in ``trial_index`` order (else the order they appear in the table):
the trials of one wave advance together step by step, and every trial of an
earlier wave is over (finished, or stopped at the step the rule stopped it).
After each step, the rule is asked about the wave's trials that reported at
that step, comparing with the earlier trials that finished without being
stopped (as Optuna leaves pruned trials out). A stopped trial reports nothing
more. ``concurrency=1`` is Optuna's sequential study.

Each question shows the rule the trials started so far (in start order), each
cut to the steps it had reached; a rule that judges every trial on its own
curve alone (:attr:`Rule.independent <hpo_analytics.stopping.Rule.independent>`)
is asked once per step about all trials instead, with the same decisions. A
10,000-trial x 50-step search replays under the median rule in a few seconds
(``benchmarks/stopping.py``).

Per rule the result says:

* ``saved``: the fraction of the search's reported trial-iterations that would
  not have been run;
* ``best_stopped``: whether the eventual best trial (best value over its whole
  curve, NaN ignored) would have been stopped;
* ``top_stopped``: the fraction of the top ``top_fraction`` trials stopped;
* ``regret``: how much worse the best *surviving* trial's best value is than
  the eventual best (0 when the best survives; NaN when nothing survives).

A rule that states probabilities (:class:`~hpo_analytics.stopping.ForecastRule`)
is also checked for calibration, in ``result.attrs["calibration"]``: every
forecast it made in the replay is compared with what the trial went on to
reach (its whole curve is in the table, stopped or not). See
:func:`calibration` for the numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import math

import numpy as np
import pandas as pd

from .._frames import as_frame, check_metric, resolve_metric
from .._validation import check_float, check_int, floats
from ..errors import ConfigurationError
from ._base import CurveMatrix, Decisions, Rule
from ._forecast import INTERVALS, ForecastRule

__all__ = ["BACKTEST_COLUMNS", "CALIBRATION_KEYS", "backtest", "calibration", "replay", "replay_log"]

BACKTEST_COLUMNS = ("rule", "trials", "stopped", "saved", "best_stopped", "top_stopped", "regret")

#: What :func:`calibration` reports (``result.attrs["calibration"][label]`` of :func:`backtest`).
CALIBRATION_KEYS = ("threshold", "below", "below_beat", "below_beat_rate", "below_mean_p", "binomial_p",
                    "calibrated", "forecasts", "forecast_trials", "coverage", "trial_coverage",
                    "trial_coverage_se")


def backtest(curves: Any, rules: Rule | Sequence[Rule] | Mapping[str, Rule], *, metric: str | None = None,
             mode: str | None = None, concurrency: int = 4, top_fraction: float = 0.1) -> pd.DataFrame:
    """Replay ``curves`` (the long table of a finished search) under each rule; one row per rule.

    ``rules``: one rule, a sequence (labelled by :meth:`Rule.describe`) or a
    mapping label -> rule. ``metric``/``mode`` default as in
    :func:`hpo_analytics._frames.resolve_metric`. Columns: :data:`BACKTEST_COLUMNS`.
    ``result.attrs["stop_step"]`` maps each label to ``{trial_id: step or None}``
    (the step each trial would have been stopped at; plain dicts, so frames
    concatenate).

    Raises :class:`~hpo_analytics.errors.ConfigurationError`, naming the
    column and its type, for a metric that is not numeric (text, booleans,
    lists) or has no finite value: a replay of it would rank every trial
    alike and still print savings.

    A rule with an auto grace period (the default) resolves it, at every
    question, from the trials finished so far in the replay: the replay never
    reads a curve the search had not produced yet.
    """
    labelled = _labelled(rules)
    concurrency = check_int("concurrency", concurrency, low=1)
    top_fraction = check_float("top_fraction", top_fraction, low=0.0, high=1.0, low_open=True)
    frame = as_frame(curves)
    metric, mode = resolve_metric(frame, metric, mode)
    check_metric(curves, metric)  # the input itself (as_frame took it), so Arrow types name themselves
    cm = CurveMatrix.from_frame(frame, metric)
    order = _order(frame, cm)
    sign = 1.0 if mode == "max" else -1.0
    with np.errstate(all="ignore"):
        best_full = np.fmax.reduce(sign * cm.values, axis=1) if cm.values.shape[1] else np.full(len(order), np.nan)
    has_number = ~np.isnan(best_full)
    winner = int(np.nanargmax(best_full)) if has_number.any() else -1
    k = max(1, round(top_fraction * int(has_number.sum()))) if has_number.any() else 0
    top = np.argsort(-np.where(has_number, best_full, -np.inf), kind="stable")[:k]
    total = int(cm.reported.sum())
    rows = []
    per_trial: dict[str, dict[str, int | None]] = {}
    calibrations: dict[str, dict[str, Any]] = {}
    for label, rule in labelled.items():
        if isinstance(rule, ForecastRule):
            log: list[Decisions] = []
            stop_col = _replay(cm, rule, mode=mode, order=order, concurrency=concurrency, log=log)
            calibrations[label] = calibration(cm, log, sign=sign, threshold=rule.threshold)
        else:
            stop_col = replay(cm, rule, mode=mode, order=order, concurrency=concurrency)
        stopped = stop_col >= 0
        run_cols = np.where(stopped, stop_col + 1, cm.values.shape[1])
        ran = int((cm.reported & (np.arange(cm.values.shape[1])[None, :] < run_cols[:, None])).sum())
        surviving = has_number & ~stopped
        regret = float(best_full[winner] - np.max(best_full[surviving])) if winner >= 0 and surviving.any() \
            else float("nan")
        rows.append({
            "rule": label,
            "trials": len(order),
            "stopped": int(stopped.sum()),
            "saved": 1.0 - ran / total if total else 0.0,
            "best_stopped": bool(stopped[winner]) if winner >= 0 else False,
            "top_stopped": float(stopped[top].mean()) if k else 0.0,
            "regret": regret,
        })
        per_trial[label] = {t: (int(cm.steps[c]) if c >= 0 else None)
                            for t, c in zip(cm.trial_ids.astype(str).tolist(), stop_col.tolist())}
    out = pd.DataFrame(rows, columns=list(BACKTEST_COLUMNS))
    out.attrs["stop_step"] = per_trial
    out.attrs["calibration"] = calibrations
    return out


def calibration(cm: CurveMatrix, log: Sequence[Decisions], *, sign: float, threshold: float) -> dict[str, Any]:
    """How well the forecasts logged in a replay of ``cm`` (the whole curves) held up.

    Each logged decision with a forecast states ``P(beat)`` (the probability
    that the trial's score at the horizon -- its best value up to it -- beats
    the decision's ``reference``) and central 80%/95% intervals of that
    score. Against the trial's actual score (from its whole curve, whether
    or not the replay stopped it):

    * ``below``: decisions that gave ``P(beat) < threshold``; ``below_beat``:
      how many of those trials went on to beat the value; ``below_beat_rate``
      their share, ``below_mean_p`` the mean stated probability;
    * ``binomial_p``: the chance of ``below_beat`` or more if each beat with
      probability ``threshold`` (one-sided exact binomial test), and
      ``calibrated``: ``binomial_p >= 0.05`` -- the rate is at or below the
      threshold within sampling error;
    * ``coverage``: ``{0.8: share, 0.95: share}`` of forecasts whose interval
      held the actual score, over ``forecasts`` forecasts of
      ``forecast_trials`` trials; ``trial_coverage``: the same, each trial's
      share first, then averaged over trials, with ``trial_coverage_se`` its
      standard error (the spread of the trials' shares over the square root
      of their number). A trial is forecast at every step it is asked, so
      its forecasts are not independent: the trials are the units to judge a
      coverage's sampling error by.
    """
    p_all, beat_all, actual_all, low_all, high_all, rows_all = [], [], [], [], [], []
    for d in log:
        p = getattr(d, "p_beat", None)
        if p is None or not len(d.rows):
            continue
        ok = np.isfinite(p) & np.isfinite(d.reference)
        if not ok.any():
            continue
        rows = np.asarray(d.rows)[ok]
        hcol = int(np.searchsorted(cm.steps, getattr(d, "horizon", -1), side="right")) - 1
        with np.errstate(invalid="ignore"):
            actual = np.fmax.reduce(sign * cm.values[rows, :max(hcol, 0) + 1], axis=1)
        p_all.append(np.asarray(p)[ok])
        beat_all.append(sign * np.asarray(d.reference)[ok])
        actual_all.append(actual)
        low_all.append(np.asarray(d.low)[ok])
        high_all.append(np.asarray(d.high)[ok])
        rows_all.append(rows)
    if not p_all:
        return {"threshold": threshold, "below": 0, "below_beat": 0, "below_beat_rate": float("nan"),
                "below_mean_p": float("nan"), "binomial_p": 1.0, "calibrated": True, "forecasts": 0,
                "forecast_trials": 0, "coverage": {}, "trial_coverage": {}, "trial_coverage_se": {}}
    p, beat, actual = np.concatenate(p_all), np.concatenate(beat_all), np.concatenate(actual_all)
    low, high, rows = np.concatenate(low_all), np.concatenate(high_all), np.concatenate(rows_all)
    below = p < threshold
    went = actual > beat
    n_below, n_went = int(below.sum()), int((below & went).sum())
    binom = _binomial_tail(n_went, n_below, threshold)
    # low/high are in the metric's units: in "higher is better" space the interval is (min, max) of sign * both
    lo_s, hi_s = np.minimum(sign * low, sign * high), np.maximum(sign * low, sign * high)
    forecast = np.isfinite(lo_s).all(axis=1) & np.isfinite(actual) if lo_s.ndim == 2 else np.zeros(0, bool)
    coverage, by_trial, by_trial_se = {}, {}, {}
    trial_codes = np.unique(rows[forecast], return_inverse=True)[1]
    counts = np.bincount(trial_codes) if forecast.any() else None
    for j, level in enumerate(INTERVALS):
        inside = (actual >= lo_s[:, j] - 1e-12) & (actual <= hi_s[:, j] + 1e-12)
        if counts is None:
            coverage[level] = by_trial[level] = by_trial_se[level] = float("nan")
            continue
        coverage[level] = float(inside[forecast].mean())
        shares = np.bincount(trial_codes, weights=inside[forecast].astype(float)) / counts
        by_trial[level] = float(shares.mean())
        by_trial_se[level] = float(shares.std(ddof=1) / math.sqrt(len(shares))) if len(shares) > 1 else float("nan")
    return {"threshold": threshold, "below": n_below, "below_beat": n_went,
            "below_beat_rate": n_went / n_below if n_below else float("nan"),
            "below_mean_p": float(p[below].mean()) if n_below else float("nan"),
            "binomial_p": binom, "calibrated": binom >= 0.05, "forecasts": int(forecast.sum()),
            "forecast_trials": int(len(np.unique(rows[forecast]))), "coverage": coverage,
            "trial_coverage": by_trial, "trial_coverage_se": by_trial_se}


def _binomial_tail(k: int, n: int, p: float) -> float:
    """``P(X >= k)`` for ``X ~ Binomial(n, p)`` (exact, in log space)."""
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    logs = [math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) + i * math.log(p)
            + (n - i) * math.log1p(-p) for i in range(k, n + 1)]
    top = max(logs)
    return float(min(1.0, math.exp(top) * sum(math.exp(x - top) for x in logs)))


def replay(cm: CurveMatrix, rule: Rule, *, mode: str, order: np.ndarray | None = None,
           concurrency: int = 4) -> np.ndarray:
    """The column at which each trial (row) would have been stopped, ``-1`` when never (see the module doc).

    ``order``: the rows in start order, a permutation of ``range(len(cm.trial_ids))`` (default: row order).
    """
    concurrency = check_int("concurrency", concurrency, low=1)
    if mode not in ("max", "min"):
        raise ConfigurationError(f"mode must be 'max' or 'min', not {mode!r}")
    return _replay(cm, rule, mode=mode, order=order, concurrency=concurrency, log=None)


def replay_log(curves: Any, rule: Rule, *, metric: str | None = None, mode: str | None = None,
               concurrency: int = 4) -> pd.DataFrame:
    """Every decision ``rule`` makes when ``curves`` are replayed as :func:`backtest` replays them.

    One row per (trial, step) the rule was asked about, in the order it was
    asked: ``trial_id``, ``step``, ``stop``, ``value`` (the trial's number
    that was compared), ``reference`` (what it was compared with; NaN when
    nothing was) and ``reason``, in the metric's units. A stopped trial's
    last row has ``stop`` true and it is never asked again. ``metric``/``mode``
    default to the rule's, then the table's metadata. This is what a plot
    needs to show the rule's reference at each step and why each trial was
    stopped. The metric is checked as in :func:`backtest`.
    """
    if not isinstance(rule, Rule):
        raise ConfigurationError(f"not a Rule: {rule!r}")
    concurrency = check_int("concurrency", concurrency, low=1)
    frame = as_frame(curves)
    metric, mode = resolve_metric(frame, metric or rule.metric, mode or rule.mode)
    check_metric(curves, metric)  # the input itself (as_frame took it), so Arrow types name themselves
    cm = CurveMatrix.from_frame(frame, metric)
    log: list[Decisions] = []
    _replay(cm, rule, mode=mode, order=_order(frame, cm), concurrency=concurrency, log=log)
    ids = cm.trial_ids.astype(str)

    def cat(field: str, dtype: Any) -> np.ndarray:
        return np.concatenate([np.asarray(getattr(d, field), dtype=dtype) for d in log]) if log \
            else np.zeros(0, dtype=dtype)

    return pd.DataFrame({
        "trial_id": pd.array(ids[cat("rows", np.int64)], dtype="string"),
        "step": cat("step", np.int64),
        "stop": cat("stop", bool),
        "value": cat("value", float),
        "reference": cat("reference", float),
        "reason": pd.array([r for d in log for r in d.reason], dtype="string"),
    })


def _replay(cm: CurveMatrix, rule: Rule, *, mode: str, order: np.ndarray | None, concurrency: int,
            log: list[Decisions] | None) -> np.ndarray:
    n = cm.values.shape[0]
    if order is None:
        order = np.arange(n)
    else:
        order = np.asarray(order, dtype=np.int64)
        if order.shape != (n,) or not np.array_equal(np.sort(order), np.arange(n)):
            raise ConfigurationError(f"order must be a permutation of the {n} rows")
    if rule.independent:
        return _replay_independent(cm, rule, mode=mode, order=order, concurrency=concurrency, log=log)
    return _replay_waves(cm, rule, mode=mode, order=order, concurrency=concurrency, log=log)


def _replay_waves(cm: CurveMatrix, rule: Rule, *, mode: str, order: np.ndarray, concurrency: int,
                  log: list[Decisions] | None) -> np.ndarray:
    """The replay as the module doc tells it: wave after wave, step after step."""
    n, m = cm.values.shape
    full_len = cm.last + 1
    stop_col = np.full(n, -1, dtype=np.int64)
    # The rule sees only the trials started so far, each up to its current step. Rows are kept in
    # start order, so the started trials are a prefix and each view is a slice of two buffers that
    # grow one wave and one column at a time (a trial's cells are written once, when it reaches them;
    # a row's order does not change a decision). Trials with no report are never visible: left out.
    perm = order[full_len[order] > 0]
    pos = np.full(n, -1, dtype=np.int64)
    pos[perm] = np.arange(len(perm))
    ids = cm.trial_ids[perm]
    seen = np.full((len(perm), m), np.nan)
    seen_rep = np.zeros((len(perm), m), dtype=bool)
    finished = np.zeros(len(perm), dtype=bool)
    memo: dict[str, Any] = {}
    started = 0
    for start in range(0, n, concurrency):
        wave = order[start:start + concurrency]
        wave = wave[full_len[wave] > 0]
        if not len(wave):
            continue
        settled, started = started, started + len(wave)
        view = CurveMatrix(ids[:started], cm.steps, seen[:started], seen_rep[:started], settled=settled, memo=memo)
        done_so_far = finished[:started]
        wpos = pos[wave]
        wave_len = full_len[wave]
        for col in range(m):
            live = (stop_col[wave] < 0) & (col < wave_len)
            if not live.any():
                break
            running, rpos = wave[live], wpos[live]
            seen[rpos, col] = cm.values[running, col]
            rep = cm.reported[running, col]
            seen_rep[rpos, col] = rep
            if not rep.any():
                continue
            d = rule.decide_matrix(view, rpos[rep], done_so_far, mode)
            d.rows = perm[d.rows]
            if log is not None:
                log.append(d)
            stop_col[d.rows[np.asarray(d.stop, dtype=bool)]] = col
        finished[wpos[stop_col[wave] < 0]] = True
    return stop_col


def _replay_independent(cm: CurveMatrix, rule: Rule, *, mode: str, order: np.ndarray, concurrency: int,
                        log: list[Decisions] | None) -> np.ndarray:
    """The same replay for a rule that judges each trial on its own curve (:attr:`Rule.independent`).

    Waves do not change such a rule's decisions, so it is asked once per step
    about every trial still running and reporting there (each seen up to that
    step); the decisions are then put back in the order the wave replay asks.
    """
    n, m = cm.values.shape
    full_len = cm.last + 1
    stop_col = np.full(n, -1, dtype=np.int64)
    asked: list[tuple[int, Decisions]] = []
    for col in range(m):
        rows = np.flatnonzero((stop_col < 0) & (col < full_len) & cm.reported[:, col])
        if not len(rows):
            if not (col < full_len).any():
                break
            continue
        values = cm.values[rows]
        values[:, col + 1:] = np.nan
        reported = cm.reported[rows]
        reported[:, col + 1:] = False
        view = CurveMatrix(cm.trial_ids[rows], cm.steps, values, reported)
        d = rule.decide_matrix(view, np.arange(len(rows)), np.zeros(len(rows), dtype=bool), mode)
        d.rows = rows[d.rows]
        stop_col[d.rows[np.asarray(d.stop, dtype=bool)]] = col
        asked.append((col, d))
    if log is not None and asked:
        log.extend(_in_wave_order(asked, order, concurrency))
    return stop_col


def _in_wave_order(asked: list[tuple[int, Decisions]], order: np.ndarray, concurrency: int) -> list[Decisions]:
    """Decisions made step by step over all trials, regrouped as the wave replay makes them:
    one :class:`Decisions` per (wave, step), trials in start order."""
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    rows = np.concatenate([d.rows for _, d in asked])
    cols = np.concatenate([np.full(len(d.rows), c, dtype=np.int64) for c, d in asked])
    fields = {f: np.concatenate([np.asarray(getattr(d, f)) for _, d in asked])
              for f in ("stop", "step", "value", "reference")}
    reasons = [r for _, d in asked for r in d.reason]
    wave = rank[rows] // concurrency
    sequence = np.lexsort((rank[rows], cols, wave))
    wave, cols = wave[sequence], cols[sequence]
    cuts = np.flatnonzero((np.diff(wave) != 0) | (np.diff(cols) != 0)) + 1
    out = []
    for part in np.split(sequence, cuts):
        out.append(Decisions(rows[part], fields["stop"][part], fields["step"][part], fields["value"][part],
                             fields["reference"][part], [reasons[i] for i in part.tolist()]))
    return out


def _labelled(rules: Any) -> dict[str, Rule]:
    if isinstance(rules, Rule):
        items: list[tuple[str, Rule]] = [(rules.describe(), rules)]
    elif isinstance(rules, Mapping):
        items = [(str(k), v) for k, v in rules.items()]
    elif isinstance(rules, Sequence) and not isinstance(rules, str):
        items = [(r.describe() if isinstance(r, Rule) else "", r) for r in rules]
    else:
        raise ConfigurationError(f"rules must be a Rule, a sequence or a mapping of rules, not {type(rules).__name__}")
    out: dict[str, Rule] = {}
    for label, rule in items:
        if not isinstance(rule, Rule):
            raise ConfigurationError(f"not a Rule: {rule!r}")
        base, i = label, 2
        while label in out:
            label, i = f"{base} #{i}", i + 1
        out[label] = rule
    if not out:
        raise ConfigurationError("no rules to back-test")
    return out


def _order(frame: pd.DataFrame, cm: CurveMatrix) -> np.ndarray:
    n = len(cm.trial_ids)
    if "trial_index" not in frame.columns or n == 0:
        return np.arange(n)
    first = frame.drop_duplicates("trial_id").set_index("trial_id")["trial_index"]
    idx = floats(first.reindex(cm.trial_ids.astype(str)))
    idx = np.where(np.isnan(idx), np.inf, idx)  # trials without an index start last, in table order
    return np.argsort(idx, kind="stable")
