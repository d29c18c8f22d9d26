"""Shared validation of options and conversion of columns to floats.

One place for the checks every layer makes on keyword options (a count, a
fraction, a bound) and for reading a column as float64, so analysis,
stopping and plots refuse the same bad input with the same words.  Internal:
not part of the public API.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .errors import ConfigurationError

__all__ = ["check_float", "check_int", "floats"]


def check_int(name: str, value: Any, *, low: int) -> int:
    """``value`` as an int ``>= low``, or a :class:`ConfigurationError` (bools are refused)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ConfigurationError(f"{name} must be an integer >= {low}, not {value!r}")
    return int(value)


def check_float(name: str, value: Any, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """``value`` as a finite float within the bounds (open or closed), or a :class:`ConfigurationError`."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise ConfigurationError(f"{name} must be a number, not {value!r}")
    v = float(value)
    bad = not math.isfinite(v)
    if low is not None:
        bad |= v <= low if low_open else v < low
    if high is not None:
        bad |= v >= high if high_open else v > high
    if bad:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        raise ConfigurationError(f"{name} must be a finite number {' and '.join(x for x in (lo, hi) if x)}, "
                                 f"not {value!r}")
    return v


def floats(column: pd.Series) -> np.ndarray:
    """A column as a new float64 array, NaN where a cell is missing or not a number."""
    if column.dtype == np.float64:
        return column.to_numpy(copy=True)
    out = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
    # pandas may hand back a read-only view of a converted text or object column
    return out if out.flags.writeable else out.copy()
