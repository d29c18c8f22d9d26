"""The restricted Python-repr parser: plain data in, ValueError for anything else."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hpo_analytics._pyrepr import parse_python_literal


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{'batch_size': 32, 'learning_rate': 0.055}", {"batch_size": 32, "learning_rate": 0.055}),
        ("{'lr': Decimal('0.05512301741232006')}", {"lr": 0.05512301741232006}),
        ('{"a": [1, 2.5, -3], "b": (1,), "c": ()}', {"a": [1, 2.5, -3], "b": (1,), "c": ()}),
        ("{'t': True, 'f': False, 'n': None}", {"t": True, "f": False, "n": None}),
        ("{'s': 'it\\'s', 'd': \"say \\\"hi\\\"\", 'u': '\\u00e9\\n'}", {"s": "it's", "d": 'say "hi"', "u": "é\n"}),
        ("{1: 'x', 'nested': {'k': [{'z': 1e-05}]}}", {1: "x", "nested": {"k": [{"z": 1e-05}]}}),
        ("[np.float32(0.5), numpy.int64(3), tensor(0.1, device='cuda:0'), array(2.0, dtype=float32)]",
         [0.5, 3, 0.1, 2.0]),
        ("tensor(1.2e-05, grad_fn=<NllLossBackward0>)", 1.2e-05),
        ("{'a': 1,}", {"a": 1}),
        ("  [ ]  ", []),
        ("-inf", -math.inf),
    ],
)
def test_accepts_plain_data(text: str, expected: object) -> None:
    assert parse_python_literal(text) == expected


def test_nan() -> None:
    assert math.isnan(parse_python_literal("float('nan')"))
    assert math.isnan(parse_python_literal("{'x': nan}")["x"])


@pytest.mark.parametrize(
    "text",
    [
        "__import__('os').system('echo hi')",
        "{'a': open('/etc/passwd')}",
        "lambda: 1",
        "{'a': 1",
        "{'a' 1}",
        "[1, 2",
        "'unterminated",
        "{'a': 1} trailing",
        "Decimal('abc')",
        "1 + 1",
        "{[1]: 2}",
        "'\\q'",
        "[" * 200 + "]" * 200,
        "",
    ],
)
def test_rejects_everything_else(text: str) -> None:
    with pytest.raises(ValueError):
        parse_python_literal(text)


_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False), st.text(max_size=20),
)
_values = st.recursive(
    _scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)


@given(_values)
def test_round_trips_python_reprs(value: object) -> None:
    assert parse_python_literal(repr(value)) == value


@given(st.text(max_size=60))
def test_never_raises_anything_but_value_error(text: str) -> None:
    try:
        parse_python_literal(text)
    except ValueError:
        pass
