"""Optuna distributions for a table's parameters: from the declared space, else inferred from the values.

The rules (the same as the plots' scale choices, issue #17):

* a declared ``discrete`` parameter is a ``CategoricalDistribution`` of its
  declared values, as numbers when every value is a number (``"16"`` → 16,
  ``"0.5"`` → 0.5), else as the strings;
* a declared ``continuous`` parameter with integer bounds whose column holds
  integers is an ``IntDistribution``, otherwise a ``FloatDistribution``,
  both on ``[lower_bound, upper_bound]``; log scale when declared, or when
  the bounds are positive and span two or more decades (``high / low >= 100``);
* an undeclared parameter is inferred from its values: integers →
  ``IntDistribution``, other numbers → ``FloatDistribution`` on the observed
  range (log as :func:`hpo_analytics._frames.is_log_scale` decides for plots),
  anything else → ``CategoricalDistribution`` of the observed values in
  order of first appearance.

A value outside its declared distribution is never dropped silently:
``out_of_space="widen"`` (the default) widens the bounds (or appends the value
to the categories) and warns with a :class:`~hpo_analytics.errors.SpaceWarning`
naming the trials and the parameter; ``"raise"`` raises
:class:`~hpo_analytics.errors.ConfigurationError` instead. A value a log-scale
distribution cannot hold (zero or negative) cannot be widened to: that trial
gets no value for the parameter, with a warning (or the error).

On a re-export the study's recorded distributions win where Optuna insists
(it refuses another kind, another log setting, or other categories for a
parameter name it has seen): a categorical parameter keeps its choices, and a
new value outside them is left out of its trial with a warning; a numeric
one keeps its kind and scale, its bounds may widen.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .._frames import LOG_RATIO, is_log_scale
from .._space import SearchParam, SearchSpace
from ..errors import ConfigurationError, SpaceWarning

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from optuna.distributions import BaseDistribution

__all__ = ["ParamPlan", "plan_params", "python_value"]


@dataclass
class ParamPlan:
    """How one ``param/<name>`` column goes into Optuna: its distribution and each trial's value."""

    name: str
    column: str
    distribution: BaseDistribution
    declared: bool


def python_value(value: Any) -> Any:
    """A cell as a plain Python scalar (numpy and pandas scalars unwrapped); missing → ``None``."""
    if value is None:
        return None
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", 1) == 0:
        value = item()
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _declared_choices(param: SearchParam) -> tuple[Any, ...]:
    numbers = param.numeric_values()
    if numbers is not None:
        return tuple(int(x) if float(x).is_integer() and all(float(v).is_integer() for v in numbers) else x
                     for x in numbers)
    return tuple(param.values or ())


def _match_choice(value: Any, choices: Sequence[Any]) -> Any | None:
    """The choice equal to ``value`` (numbers compare as numbers, else by their text), else ``None``."""
    for choice in choices:
        if type(choice) is type(value) and choice == value:
            return choice
    for choice in choices:
        if _is_number(choice) and _is_number(value) and float(choice) == float(value):
            return choice
    text = str(value)
    for choice in choices:
        if str(choice) == text:
            return choice
    return None


def _flag(name: str, trial_ids: Sequence[str], what: str, out_of_space: str) -> None:
    shown = ", ".join(trial_ids[:5]) + (f" and {len(trial_ids) - 5} more" if len(trial_ids) > 5 else "")
    message = f"parameter {name!r}: trial(s) {shown} {what}"
    if out_of_space == "raise":
        raise ConfigurationError(message + " (out_of_space='widen' exports them with a widened distribution)")
    warnings.warn(message, SpaceWarning, stacklevel=4)


def plan_params(
    frame: pd.DataFrame,
    space: SearchSpace | None,
    *,
    existing: Mapping[str, BaseDistribution] | None = None,
    out_of_space: str = "widen",
) -> tuple[list[ParamPlan], dict[str, dict[int, Any]]]:
    """Distributions for every ``param/`` column of ``frame`` and the value each row exports.

    ``existing`` holds the distributions a study already records (a
    re-export): a categorical one is kept as it is, since Optuna refuses other
    choices for the same parameter name; a value outside it is left out of
    that trial with a warning. Returns the plans and, per parameter name,
    ``{row position: value}`` for the rows that have a value.
    """
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    existing = existing or {}
    trial_ids = [str(t) for t in frame["trial_id"]]
    plans: list[ParamPlan] = []
    values: dict[str, dict[int, Any]] = {}
    for column in [c for c in frame.columns if c.startswith("param/")]:
        name = column.removeprefix("param/")
        cells = {i: python_value(v) for i, v in enumerate(frame[column].tolist())}
        cells = {i: v for i, v in cells.items() if v is not None}
        declared = space.get(name) if space is not None else None
        before = existing.get(name)
        if not cells:  # no trial has a value: Optuna records a distribution only with a value
            continue
        if isinstance(before, CategoricalDistribution):
            dist: BaseDistribution = before
            kept, outside = _categorical_values(cells, before.choices)
            if outside:
                _flag(name, [trial_ids[i] for i in outside],
                      f"hold values outside the categories the study already records {list(before.choices)!r}; "
                      "they are left out of those trials", out_of_space)
            plans.append(ParamPlan(name, column, dist, declared is not None))
            values[name] = kept
            continue
        if declared is not None and declared.is_discrete and declared.values:
            choices = list(_declared_choices(declared))
            kept, outside = _categorical_values(cells, choices)
            if outside:
                extra = list(dict.fromkeys(cells[i] for i in outside))
                _flag(name, [trial_ids[i] for i in outside],
                      f"hold values {extra!r} outside the declared values {choices!r}; "
                      "they are added to the categories", out_of_space)
                choices += extra
                kept = {i: _match_choice(v, choices) for i, v in cells.items()}
            plans.append(ParamPlan(name, column, CategoricalDistribution(choices), True))
            values[name] = kept
            continue
        numeric = bool(cells) and all(_is_number(v) for v in cells.values())
        if not numeric:
            choices = list(dict.fromkeys(cells.values()))
            plans.append(ParamPlan(name, column, CategoricalDistribution(choices), declared is not None))
            values[name] = cells
            continue
        integer = all(_is_int(v) for v in cells.values())
        kept = dict(cells)
        bounded = declared is not None and declared.low is not None and declared.high is not None
        if bounded:
            assert declared is not None and declared.low is not None and declared.high is not None
            low, high = declared.low, declared.high
            log = declared.log if declared.log is not None else (low > 0 and high / low >= LOG_RATIO)
            integer = integer and declared.integer
        else:
            import numpy as np

            observed = [float(v) for v in cells.values()]
            low, high = min(observed), max(observed)
            log = is_log_scale(np.asarray(observed, dtype=float))
        if isinstance(before, (FloatDistribution, IntDistribution)):
            log = before.log  # Optuna refuses another log setting (or kind) for the same name
            integer = isinstance(before, IntDistribution)
            low, high = min(low, before.low), max(high, before.high)
            fractional = [i for i, v in kept.items() if integer and not float(v).is_integer()]
            if fractional:
                _flag(name, [trial_ids[i] for i in fractional],
                      "hold values that are not integers, and the study records an integer parameter; they are "
                      "left out of those trials", out_of_space)
                kept = {i: v for i, v in kept.items() if i not in fractional}
        if log:
            bad = [i for i, v in kept.items() if float(v) <= 0 or (integer and float(v) < 1)]
            if bad:
                _flag(name, [trial_ids[i] for i in bad],
                      "hold values a log scale cannot (zero or negative); they are left out of those trials",
                      out_of_space)
                kept = {i: v for i, v in kept.items() if i not in bad}
        if bounded:
            outside = [i for i, v in kept.items() if not low <= float(v) <= high]
            if outside:
                _flag(name, [trial_ids[i] for i in outside],
                      f"hold values outside the declared bounds [{low:g}, {high:g}]; the exported distribution "
                      "is widened to hold them", out_of_space)
        if kept:
            low = min(low, *(float(v) for v in kept.values()))
            high = max(high, *(float(v) for v in kept.values()))
        if log and low <= 0:  # bounds (as declared) that a log scale cannot hold: start at the least value held
            low = min((float(v) for v in kept.values()), default=high)
            log = low > 0
        if integer:
            dist = IntDistribution(int(math.floor(low)), int(math.ceil(high)), log=log)
            kept = {i: int(v) for i, v in kept.items()}
        else:
            dist = FloatDistribution(float(low), float(high), log=log)
            kept = {i: float(v) for i, v in kept.items()}
        plans.append(ParamPlan(name, column, dist, declared is not None))
        values[name] = kept
    return plans, values


def _categorical_values(cells: Mapping[int, Any], choices: Sequence[Any]) -> tuple[dict[int, Any], list[int]]:
    kept: dict[int, Any] = {}
    outside: list[int] = []
    for i, v in cells.items():
        match = _match_choice(v, choices)
        if match is None:
            outside.append(i)
        else:
            kept[i] = match
    return kept, outside
