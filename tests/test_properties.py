"""Property tests: random matrices normalize or raise the library's typed error; numbers round-trip."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpo_analytics as ha
from hpo_analytics.errors import HpoAnalyticsError

_COLUMNS = ["", "done", "pid", "config", "trial_id", "training_iteration", "time_total_s", "worker_index",
            "reward_attr", "status", "acc", "loss", "best_reward", "date"]
_json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False, allow_infinity=False),
                          st.text(max_size=12))
_cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["", "None", "null", "nan", "inf", "True", "false", "tensor(0.5)", "tensor([1, 2])",
                     "np.float32(2)", "3", "-1.5e3", "{'a': 1}", '{"a": 2}']),
    _json_scalars,
    st.dictionaries(st.text(max_size=8), _json_scalars, max_size=4),
    st.lists(_json_scalars, max_size=3),
)


@st.composite
def matrices(draw: st.DrawFn) -> dict:
    header = draw(st.lists(st.sampled_from(_COLUMNS) | st.text(max_size=6), min_size=0, max_size=8))
    n_rows = draw(st.integers(0, 6))
    rows = []
    for _ in range(n_rows):
        width = len(header) if draw(st.integers(0, 9)) else draw(st.integers(0, 9))
        rows.append(draw(st.lists(_cells, min_size=width, max_size=width)))
    if draw(st.booleans()):
        return {"header": header, "data": rows}
    return {"total": n_rows, "count": n_rows, "items": {"header": header, "data": rows}}


@pytest.mark.filterwarnings("ignore::hpo_analytics.errors.ParseWarning")
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(matrices(), min_size=1, max_size=3), st.booleans(), st.sampled_from(["coerce", "raise"]))
def test_random_matrices_normalize_or_raise_typed_error(pages: list, keep_raw: bool, errors: str) -> None:
    for convert in (ha.trials_to_arrow, ha.curves_to_arrow):
        try:
            table = convert(pages, keep_raw=keep_raw, errors=errors)
        except HpoAnalyticsError:
            continue
        assert isinstance(table, pa.Table)
        ha.to_pandas(table)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False), min_size=1, max_size=20),
       st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), min_size=1, max_size=20))
def test_numbers_round_trip_exactly(floats: list[float], ints: list[int]) -> None:
    n = max(len(floats), len(ints))
    header = ["trial_id", "acc", "pid", "config"]
    data = [[f"t{i}", repr(floats[i % len(floats)]), str(ints[i % len(ints)]),
             {"trial_index": i, "param/x": floats[i % len(floats)], "param/k": ints[i % len(ints)]}]
            for i in range(n)]
    table = ha.trials_to_arrow({"header": header, "data": data})
    got = table.to_pydict()
    for i in range(n):
        f = floats[i % len(floats)]
        assert got["acc"][i] == f and math.copysign(1, got["acc"][i]) == math.copysign(1, f)
        assert got["pid"][i] == ints[i % len(ints)]
        assert got["param/x"][i] == f
    if all(abs(k) <= 2**63 - 1 for k in ints):
        assert got["param/k"] == [ints[i % len(ints)] for i in range(n)]
