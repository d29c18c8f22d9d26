"""The shared option checks and float conversion (hpo_analytics._validation)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from hpo_analytics._validation import check_float, check_int, floats
from hpo_analytics.errors import ConfigurationError


@pytest.mark.parametrize("column", [
    pd.Series([1.5, np.nan]),
    pd.Series(["1.5", "x", None]),
    pd.Series([1.5, None, "2"], dtype=object),
    pd.Series([1, None], dtype="Int64"),
    pd.Series([1, 2]),
])
def test_floats_is_a_new_writable_float_array(column: pd.Series) -> None:
    before = column.copy()
    out = floats(column)
    assert out.dtype == np.float64 and out.flags.writeable and len(out) == len(column)
    out[:] = -7.0
    pd.testing.assert_series_equal(column, before)  # the column is untouched


def test_floats_reads_non_numbers_as_nan() -> None:
    out = floats(pd.Series(["1.5", "x", None, "inf"], dtype=object))
    assert out[0] == 1.5 and math.isnan(out[1]) and math.isnan(out[2]) and out[3] == math.inf


@pytest.mark.parametrize("value", [True, 1.0, "3", 0, None])
def test_check_int_refuses(value: object) -> None:
    with pytest.raises(ConfigurationError, match="n must be an integer >= 1"):
        check_int("n", value, low=1)


def test_check_int_accepts_numpy_ints() -> None:
    assert check_int("n", np.int64(3), low=1) == 3 and type(check_int("n", np.int64(3), low=1)) is int


@pytest.mark.parametrize(("value", "kw"), [
    (math.nan, {}), (math.inf, {}), (False, {}), ("0.5", {}),
    (0.0, {"low": 0.0, "low_open": True}), (1.0, {"high": 1.0, "high_open": True}), (-0.1, {"low": 0.0}),
])
def test_check_float_refuses(value: object, kw: dict) -> None:
    with pytest.raises(ConfigurationError, match="q must be"):
        check_float("q", value, **kw)


def test_check_float_bounds_are_inclusive_unless_open() -> None:
    assert check_float("q", 0.0, low=0.0, high=1.0) == 0.0
    assert check_float("q", 1, low=0.0, high=1.0) == 1.0
