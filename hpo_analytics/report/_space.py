"""The report's search-space section: the algorithm that searched, with its settings, and the declared
space as a table, each parameter's explored range against its bounds (HTML, every value escaped).

What is worth a sentence (thresholds measured along the parameter's axis:
in log10 when its scale is log, see :func:`~hpo_analytics._frames.param_scale`):

* a search that **never came near a bound**: no trial within :data:`NEAR`
  (10 %) of the declared range from it, so that end of the range was not
  explored;
* a search that **piled up against a bound**: at least :data:`PILE_SHARE`
  (25 %) of the trials with a value within :data:`PILE_BAND` (2 %) of the
  range from it, so the best region may lie beyond the bound;
* a declared discrete value that no trial took, and trials outside the
  declared space (counted; they are left out of the plots).

Ten percent is far enough from a bound that a random or model-based search
of a few dozen trials almost surely lands there if it explores the whole
range (a uniform sample of 30 misses a 10 % band with probability 0.9^30,
about 4 %); 25 % within 2 % is over ten times what a uniform sample puts
there.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._frames import MISSING_LEVEL, ParamScale, algorithm_of, param_columns, param_scale, space_of
from .._space import SearchParam, SearchSpace
from .._table import PARAM_PREFIX
from ._html import fmt, key_values, table, text
from ._job import Job

__all__ = ["NEAR", "PILE_BAND", "PILE_SHARE", "bound_notes", "space_section"]

#: A bound no trial came within this share of the declared range of was "never approached".
NEAR = 0.10
#: Trials within this share of the range from a bound count as "against" it ...
PILE_BAND = 0.02
#: ... and when at least this share of the trials is, the search piled up there.
PILE_SHARE = 0.25


def _declared_text(p: SearchParam) -> str:
    if p.is_discrete:
        return ", ".join(p.values or ()) or fmt(None)
    return f"[{fmt(p.low)}, {fmt(p.high)}]"


def _kind_text(p: SearchParam, scale: ParamScale | None) -> str:
    parts = [p.kind or "not given"]
    if not p.is_discrete and p.integer:
        parts.append("integer")
    if scale is not None and scale.declared and scale.log:
        parts.append("log scale")
    return ", ".join(parts)


def bound_notes(name: str, values: np.ndarray, low: float, high: float, *, log: bool) -> list[str]:
    """Sentences about how the explored ``values`` (inside the bounds, finite) sit against ``[low, high]``."""
    if not values.size or not high > low or (log and low <= 0):
        return []
    f = np.log10 if log else (lambda v: v)
    span = float(f(high) - f(low))
    pos = (f(values) - f(low)) / span  # 0 at the lower bound, 1 at the upper
    notes = []
    for side, label, bound, gap, near in (
        ("lower", "lowest", low, float(pos.min()), pos <= PILE_BAND),
        ("upper", "highest", high, float(1.0 - pos.max()), pos >= 1.0 - PILE_BAND),
    ):
        share = float(near.mean())
        if gap > NEAR:
            extreme = values.min() if side == "lower" else values.max()
            notes.append(f"{name}: the search never came near the {side} bound {fmt(bound)} (the {label} value "
                         f"tried, {fmt(extreme)}, is {gap:.0%} of the range away).")
        elif share >= PILE_SHARE:
            notes.append(f"{name}: {share:.0%} of the trials lie within {PILE_BAND:.0%} of the range of the "
                         f"{side} bound {fmt(bound)}; the best region may lie beyond it.")
    return notes


def _row(p: SearchParam, frame: pd.DataFrame) -> tuple[list[object], list[str]]:
    """One table row for a declared parameter and the sentences it is worth."""
    notes = [f"{p.name}: {problem}." for problem in p.problems]
    if p.column not in frame.columns:
        return [p.name, _kind_text(p, None), _declared_text(p), "no trial reports it", 0], notes
    scale = param_scale(frame, p.column, space=SearchSpace((p,)), warn=False)
    outside = int(scale.outside.sum())
    if outside:
        notes.append(f"{p.name}: {outside:,} trial(s) have a value outside the declared space; they are left out "
                     "of the plots.")
    if scale.categorical and scale.declared:
        assert scale.codes is not None
        counts = np.bincount(scale.codes[scale.codes >= 0], minlength=len(scale.levels))
        seen = [f"{label} ({int(c):,})" for label, c in zip(scale.labels, counts) if c and label != MISSING_LEVEL]
        never = [label for label, c in zip(scale.labels, counts) if not c and label != MISSING_LEVEL]
        if never:
            notes.append(f"{p.name}: never tried {', '.join(never)}.")
        explored = ", ".join(seen) or "none"
    else:
        inside = scale.x[np.isfinite(scale.x)]
        explored = f"{fmt(inside.min())} \u2013 {fmt(inside.max())}" if inside.size else "none"
        if scale.declared and scale.limits is not None:
            notes += bound_notes(p.name, inside, *scale.limits, log=scale.log)
    return [p.name, _kind_text(p, scale), _declared_text(p), explored, outside], notes


def space_section(job: Job) -> str:
    """The algorithm and its settings, then the declared space against what the trials explored.

    Empty (``""``) when the table records neither (see :func:`~hpo_analytics._frames.space_of` and
    :func:`~hpo_analytics._frames.algorithm_of`).
    """
    space = space_of(job.trials)
    algorithm = algorithm_of(job.trials)
    if space is None and algorithm is None:
        return ""
    parts = []
    if algorithm is not None:
        parts.append(f'<p class="note">Searched by <strong>{text(algorithm.name)}</strong>'
                     + (" with these settings:</p>" if algorithm.settings else " (no settings declared).</p>"))
        if algorithm.settings:
            parts.append(key_values(dict(algorithm.settings)))
    if space is None:
        parts.append('<p class="note">The job declares no search space.</p>')
        return "".join(parts)
    rows, notes = [], []
    for p in space:
        row, said = _row(p, job.trials)
        rows.append(row)
        notes += said
    undeclared = [c.removeprefix(PARAM_PREFIX) for c in param_columns(job.trials) if c not in space]
    if undeclared:
        notes.append("Not in the declared space (scales inferred from the values): " + ", ".join(undeclared) + ".")
    parts.append(f'<p class="note">The declared search space ({len(space)} parameter(s)) and what the '
                 f"{len(job.trials):,} trials explored: the smallest and largest value tried, or each value with "
                 "how many trials took it.</p>")
    parts.append(table(["parameter", "type", "declared bounds / values", "explored", "outside"], rows))
    if notes:
        parts.append("<ul>" + "".join(f"<li>{text(n)}</li>" for n in notes) + "</ul>")
    return "".join(parts)
