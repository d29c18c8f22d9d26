"""The msgspec fast path for page bytes gives exactly what the generic path gives.

``normalize._batches._FAST_PAGES`` switches the fast path off, so each input is
converted both ways and the results (tables, warnings, or errors) compared.
"""

from __future__ import annotations

import gc
import json
import subprocess
import sys
import warnings
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import hpo_analytics as ha
from hpo_analytics.normalize import _batches, _cells, _fastpages
from hpo_analytics.errors import HpoAnalyticsError

pytestmark = pytest.mark.skipif(not _fastpages.AVAILABLE, reason="msgspec is not installed")

HEADER = ["", "done", "pid", "config", "trial_id", "training_iteration", "time_total_s", "worker_index",
          "reward_attr", "status", "acc", "loss", "best_reward"]


def _row(i: int, **cells: Any) -> list[Any]:
    values = {"": str(i), "done": "True", "pid": str(300 + i),
              "config": {"lr": 0.1 * (i + 1), "param/lr": 0.1 * (i + 1), "trial_index": i, "param/opt": "adam"},
              "trial_id": f"t{i:04d}", "training_iteration": "3", "time_total_s": f"{19.5 + i}",
              "worker_index": "", "reward_attr": "0.5", "status": "TERMINATED", "acc": f"0.{i + 1}",
              "loss": f"tensor({i}.5, device='cuda:0', requires_grad=True)", "best_reward": "0.6"}
    values.update(cells)
    return [values[name] for name in HEADER]


@pytest.fixture(autouse=True)
def _no_garbage_of_earlier_tests() -> None:
    """Finalise what earlier tests left unreachable before these record every warning: an unclosed client's
    sockets would otherwise say ``ResourceWarning: unclosed <socket ...>`` in the middle of a conversion
    (in whichever test the collector happens to run), and the two paths' warning lists would differ."""
    gc.collect()


def _page(rows: list[list[Any]], *, header: list[str] = HEADER, bare: bool = False) -> bytes:
    items = {"header": header, "data": rows}
    doc = items if bare else {"total": 99, "count": len(rows), "limit": 50, "offset": 0, "items": items}
    return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()


def _convert(convert: Any, pages: Any, *, fast: bool, batch_rows: int | None = None,
             **options: Any) -> tuple[str, Any, list[str]]:
    previous = _batches._FAST_PAGES, _batches._BATCH_ROWS
    _batches._FAST_PAGES = fast
    _batches._BATCH_ROWS = batch_rows or previous[1]
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                table = convert(pages, **options)
            except HpoAnalyticsError as exc:
                return "error", (type(exc), str(exc)), []
        return "table", table, [str(w.message) for w in caught]
    finally:
        _batches._FAST_PAGES, _batches._BATCH_ROWS = previous


def _comparable(table: pa.Table) -> dict[str, list[Any]]:
    """The table's values with NaN made equal to itself (Table.equals says NaN != NaN)."""
    def fix(value: Any) -> Any:
        if isinstance(value, float) and value != value:
            return "NaN"
        if isinstance(value, list):
            return [fix(v) for v in value]
        return value

    return {name: [fix(v) for v in column] for name, column in table.to_pydict().items()}


def assert_same_both_ways(pages: Any, *, batch_rows: int | None = None, **options: Any) -> None:
    """Fast path with the usual batches against the generic path, with ``batch_rows`` if given."""
    for convert in (ha.trials_to_arrow, ha.curves_to_arrow):
        fast = _convert(convert, pages, fast=True, **options)
        slow = _convert(convert, pages, fast=False, batch_rows=batch_rows, **options)
        assert fast[0] == slow[0], (fast, slow)
        if fast[0] == "error":
            assert fast[1] == slow[1]
        else:
            assert fast[1].schema.equals(slow[1].schema, check_metadata=True), (fast[1].schema, slow[1].schema)
            assert _comparable(fast[1]) == _comparable(slow[1])
            assert fast[2] == slow[2]


@pytest.mark.parametrize("bare", [False, True], ids=["full-response", "bare-matrix"])
def test_typical_pages_take_the_fast_path(monkeypatch: pytest.MonkeyPatch, bare: bool) -> None:
    pages = [_page([_row(i) for i in range(k, k + 5)], bare=bare) for k in range(0, 20, 5)]
    expected = ha.trials_to_arrow(pages)

    def generic(*args: Any) -> Any:
        raise AssertionError("the generic path was taken")

    monkeypatch.setattr(_batches, "_matrix", generic)
    table = ha.trials_to_arrow(pages)
    assert table.equals(expected)
    assert table["param/lr"].to_pylist() == pytest.approx([0.1 * (i + 1) for i in range(20)])
    assert table["loss"].to_pylist() == [i + 0.5 for i in range(20)]
    assert "lr" not in table.column_names and "param/opt" in table.column_names


def test_fast_decoder_relearns_on_a_new_header_and_gives_up_on_misfits() -> None:
    fast = _fastpages.FastPages()
    first = fast.decode(_page([_row(0)]))
    assert first is not None and first.header == HEADER
    other = HEADER[::-1]
    relearned = fast.decode(_page([_row(1)[::-1]], header=other))  # learned again at once, from this page
    assert relearned is not None and relearned.header == other
    assert fast.decode(_page([_row(2)[::-1]], header=other)) is not None
    # A page whose rows are the learned shape but whose header is not: the generic path takes it.
    assert fast.decode(_page([_row(3)[::-1]], header=other[:-1] + ["x"])) is None
    misfits = _fastpages.FastPages()
    for _ in range(3):
        assert misfits.decode(b'{"items": {"header": ["a"], "data": [[1]]}}') is None
    assert misfits.decode(_page([_row(0)])) is None  # gave up for this conversion


def test_the_same_both_ways_on_hand_picked_cases() -> None:
    base = [_row(i) for i in range(4)]
    cfg = HEADER.index("config")

    def with_config(value: Any, at: int = 2) -> list[list[Any]]:
        rows = [list(r) for r in base]
        rows[at][cfg] = value
        return rows

    cases = [
        [_page(base)],
        [_page(base, bare=True), _page([_row(9)], bare=True)],
        [_page(base), _page(with_config({"lr": 1, "param/lr": 1, "trial_index": 9}))],  # a key missing
        [_page(with_config({"lr": 1, "param/lr": 1, "trial_index": 9, "param/opt": "x", "param/new": 2}))],
        [_page(with_config({"lr": 1, "param/lr": True, "trial_index": 9, "param/opt": "x"}))],  # bool among floats
        [_page(with_config({"lr": 1, "param/lr": [1, 2], "trial_index": 9, "param/opt": {"a": 1}}))],
        [_page(with_config(None))],
        [_page(with_config("{'lr': 1, 'param/lr': 2, 'trial_index': 5, 'param/opt': 'sgd'}"))],
        [_page(with_config({"lr": 1, "param/lr": 2, "trial_index": "7", "param/opt": "x"}))],
        [_page(with_config({"lr": 1, "param/lr": 2**53 + 1, "trial_index": 9, "param/opt": "x"}))],
        [_page(base), _page([_row(5, acc=None, pid=7)])],  # JSON null and a JSON number as cells
        [_page(base), _page([_row(5, status="é\n\"quoted\"", trial_id="t\\0005")])],
        [_page(base), _page([_row(5)[:-1]])],  # a short row
        [_page(base), _page(base)[:-5]],  # JSON that does not parse
        [_page(base), b'{"total": 0, "items": null}'],
        [_page(base), _page([], header=HEADER)],
        [_page(base, header=HEADER[:4] + HEADER[5:] + [HEADER[4]]), _page(base)],
        [_page([r + ["x"] for r in base], header=HEADER + ["trial_id"])],  # duplicate header name
        [_page([_row(0, loss="tensor( 1.5 )"), _row(1, loss="tensor(, x)"), _row(2, loss="tensor(2.5)x")])],
        [_page([_row(0, loss="tensor([0.1, 0.2])"), _row(1, loss="")]), _page([_row(2, loss="None")])],
        [b"[" + _page(base) + b"," + _page([_row(8)]) + b"]"],
    ]
    for pages in cases:
        for keep_raw in (False, True):
            for errors in ("coerce", "raise"):
                assert_same_both_ways(pages, keep_raw=keep_raw, errors=errors)
    assert_same_both_ways(_page(base))  # one document, not a list of pages


_names = st.sampled_from(["trial_index", "param/lr", "param/bs", "param/opt", "lr", "bs", "seed"])
_values = st.one_of(st.integers(-(2**63), 2**63 - 1), st.floats(allow_nan=False, allow_infinity=False),
                    st.text(max_size=4), st.booleans(), st.none(),
                    st.lists(st.integers(0, 3), max_size=2))
_text_cells = st.one_of(st.sampled_from(["", "None", "null", "nan", "1", "-2.5e3", "True", "False", "tensor(0.5)",
                                         "tensor(nan, device='cuda:0')", "np.float32(2)", "x"]),
                        st.text(max_size=6))


@st.composite
def page_runs(draw: st.DrawFn) -> list[bytes]:
    header = draw(st.permutations(HEADER[:7]))
    keys = draw(st.lists(_names, unique=True, max_size=4))
    bare = draw(st.booleans())
    pages = []
    for _ in range(draw(st.integers(1, 4))):
        rows = []
        for _ in range(draw(st.integers(0, 4)) if draw(st.integers(0, 5)) == 0 else draw(st.integers(1, 4))):
            row = []
            for name in header:
                if name == "config":
                    cell: Any = {k: draw(_values) for k in keys}
                    roll = draw(st.integers(0, 39))
                    if roll == 0 and keys:
                        cell.pop(keys[0])
                    elif roll == 1:
                        cell["param/extra"] = 1
                    elif roll == 2:
                        cell = draw(st.sampled_from([None, "", "{'param/lr': 0.5}", '{"trial_index": 3}']))
                else:
                    cell = draw(_text_cells) if draw(st.integers(0, 59)) else draw(st.one_of(st.none(), st.integers()))
                row.append(cell)
            if not draw(st.integers(0, 59)):
                row = row[:-1]
            rows.append(row)
        page_header = header if draw(st.integers(0, 19)) else header[::-1]
        data = _page(rows, header=page_header, bare=bare)
        if not draw(st.integers(0, 59)):
            data = data[: len(data) // 2]
        pages.append(data)
    return pages


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(page_runs(), st.booleans(), st.sampled_from(["coerce", "raise"]), st.sampled_from([None, 1, 2, 3]))
def test_random_pages_give_the_same_result_both_ways(pages: list[bytes], keep_raw: bool, errors: str,
                                                     batch_rows: int | None) -> None:
    # Batches of 1-3 rows on the generic side: the result must not depend on where batches end either.
    assert_same_both_ways(pages, keep_raw=keep_raw, errors=errors, batch_rows=batch_rows)


# Conditional search spaces: every config's keys follow one order (the space's), but which keys a row
# has depends on its values, and some keys appear only in later pages.
_SPACE = ["lr", "optimizer", "momentum", "layers", "units_l3", "late", "nested", "trial_index"]
_nested = st.one_of(st.dictionaries(st.sampled_from(["a", "b"]), st.integers(0, 2), max_size=2),
                    st.lists(st.one_of(st.integers(0, 2), st.none()), max_size=2))


def _equal_of_another_type(value: Any) -> Any:
    """A value equal to ``value`` in Python but of another type (1 and 1.0, True and 1), where there is one."""
    if type(value) is bool:
        return int(value)
    if type(value) is int:
        return bool(value) if value in (0, 1) else float(value)
    if type(value) is float and value.is_integer():
        return int(value)
    return value


@st.composite
def conditional_runs(draw: st.DrawFn) -> list[bytes]:
    twins = draw(st.sampled_from(["all", "some", "none", "only"]))  # which raw keys have a param/ twin
    late_page = draw(st.integers(0, 3))
    pages = []
    index = 0
    for page_number in range(draw(st.integers(1, 4))):
        rows = []
        for _ in range(draw(st.integers(1, 5))):
            optimizer = draw(st.sampled_from(["sgd", "adam", None]))
            layers = draw(st.integers(1, 4))
            raw: dict[str, Any] = {"lr": draw(st.one_of(st.floats(0, 1), st.integers(0, 2), st.none()))}
            if draw(st.integers(0, 9)):
                raw["optimizer"] = optimizer
            if optimizer == "sgd":  # missing otherwise, or (rarely) present as null
                raw["momentum"] = draw(st.one_of(st.floats(0, 1), st.booleans(), st.sampled_from([0, 1])))
            elif not draw(st.integers(0, 9)):
                raw["momentum"] = None
            raw["layers"] = layers
            if layers >= 3:
                raw["units_l3"] = draw(st.sampled_from([16, 32, 64, 32.0, 1.5, "x"]))
            if page_number >= late_page and draw(st.booleans()):
                raw["late"] = draw(st.one_of(st.integers(0, 9), st.text(max_size=2)))
            if not draw(st.integers(0, 4)):
                raw["nested"] = draw(_nested)
            config: dict[str, Any] = {}
            for key in _SPACE:
                if key == "trial_index":
                    config[key] = index
                elif key in raw:
                    config[key] = raw[key]
            for key, value in raw.items():
                if twins == "all" or (twins == "some" and key in ("lr", "momentum", "late")) or twins == "only":
                    roll = draw(st.integers(0, 19))
                    if roll == 0:
                        continue  # the twin is missing in this row
                    config[f"param/{key}"] = draw(_values) if roll == 1 else _equal_of_another_type(value) \
                        if roll in (2, 3) else value
            if twins == "only":
                config = {k: v for k, v in config.items() if k.startswith("param/") or k == "trial_index"}
            rows.append(_row(index, config=config, trial_id=f"t{index:04d}"))
            index += 1
        pages.append(_page(rows, bare=draw(st.booleans())))
    return pages


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(conditional_runs(), st.booleans(), st.sampled_from([None, 1, 2, 5]))
def test_conditional_spaces_give_the_same_result_both_ways(pages: list[bytes], keep_raw: bool,
                                                           batch_rows: int | None) -> None:
    # The same batch size on both sides: the fast path's batches (and their key order) across
    # boundaries are what is tested here. (Whether the generic path itself gives the same for any
    # batch size is not: a collapsed config key takes its twin's type in a batch where every row
    # has both, its own where rows differ.)
    for convert in (ha.trials_to_arrow, ha.curves_to_arrow):
        fast = _convert(convert, pages, fast=True, batch_rows=batch_rows, keep_raw=keep_raw)
        slow = _convert(convert, pages, fast=False, batch_rows=batch_rows, keep_raw=keep_raw)
        assert fast[0] == slow[0] == "table", (fast, slow)
        assert fast[1].schema.equals(slow[1].schema, check_metadata=True), (fast[1].schema, slow[1].schema)
        assert _comparable(fast[1]) == _comparable(slow[1])
        assert fast[2] == slow[2]


def test_conditional_spaces_stay_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    def config(i: int) -> dict[str, Any]:
        optimizer = ("sgd", "adam", "rmsprop")[i % 3]
        out: dict[str, Any] = {"lr": 0.1, "optimizer": optimizer}
        if optimizer == "sgd":
            out["momentum"] = 0.9
        out["layers"] = i % 4 + 1
        if i % 4 + 1 >= 3:
            out["units_l3"] = 32
        if i >= 30:
            out["warmup"] = None if i % 2 else 100  # a key that appears late, sometimes null
        out["trial_index"] = i
        out.update({f"param/{k}": v for k, v in out.items() if k != "trial_index"})
        return out

    rows = [_row(i, config=config(i), trial_id=f"t{i:04d}") for i in range(40)]
    pages = [_page(rows[k:k + 5]) for k in range(0, 40, 5)]
    expected = _convert(ha.trials_to_arrow, pages, fast=False)

    def generic(*args: Any) -> Any:
        raise AssertionError("the generic path was taken")

    monkeypatch.setattr(_batches, "_matrix", generic)
    decoded = []
    real = _fastpages.FastPages.decode
    monkeypatch.setattr(_fastpages.FastPages, "decode", lambda self, data: decoded.append(real(self, data)) or decoded[-1])
    got = _convert(ha.trials_to_arrow, pages, fast=True)
    assert all(d is not None for d in decoded) and len(decoded) == len(pages)
    assert _comparable(got[1]) == _comparable(expected[1]) and got[2] == expected[2] == []
    table = got[1]
    assert table["param/momentum"].to_pylist() == [0.9 if i % 3 == 0 else None for i in range(40)]
    assert table["param/warmup"].to_pylist() == [None if i < 30 or i % 2 else 100 for i in range(40)]
    assert "momentum" not in table.column_names and "config/momentum" not in table.column_names


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=2, max_size=30))
def test_config_floats_round_trip_exactly_through_the_fast_path(floats: list[float]) -> None:
    rows = [_row(i, config={"trial_index": i, "param/x": x}) for i, x in enumerate(floats)]
    table = ha.trials_to_arrow([_page(rows[:1]), _page(rows[1:])])
    got = table["param/x"].to_pylist()
    assert [np.float64(g).tobytes() for g in got] == [np.float64(x).tobytes() for x in floats]


def test_works_without_msgspec() -> None:
    code = (
        "import sys, json\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'msgspec' or name.startswith('msgspec.'):\n"
        "            raise ImportError('blocked')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import hpo_analytics as ha\n"
        "from hpo_analytics.normalize import _fastpages\n"
        "assert not _fastpages.AVAILABLE\n"
        "page = json.dumps({'items': {'header': ['trial_id', 'acc', 'config'],\n"
        "                             'data': [['a', '0.5', {'param/x': 1, 'trial_index': 0}]]}}).encode()\n"
        "t = ha.trials_to_arrow([page, page])\n"
        "print(t['acc'].to_pylist(), t['param/x'].to_pylist())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[0.5] [1]"


# --------------------------------------------------------------------------- buffer-level helpers


_cells_or_null = st.one_of(st.none(), st.text(max_size=8), st.sampled_from(["", "None", "null", "nul", "Non", "NONE"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(_cells_or_null, max_size=30), st.integers(0, 5))
def test_null_mask_and_plausible_agree_with_the_kernel_versions(cells: list[Any], cut: int) -> None:
    text = pa.array(cells, type=pa.string())[cut:]  # sliced arrays have an offset
    reference = pc.or_(pc.is_null(text), pc.fill_null(pc.is_in(text, value_set=pa.array(["", "None", "null"])), False))
    assert _cells._null_mask(text).tolist() == reference.to_pylist()
    large = text.cast(pa.large_string())  # takes the kernel route
    assert _cells._null_mask(large).tolist() == reference.to_pylist()
    assert _cells._plausible(text) == _cells._plausible(large)
    isnull = _cells._null_mask(text)
    expected = [None if n else c for c, n in zip(text.to_pylist(), isnull)]
    assert _cells._with_nulls(text, isnull).to_pylist() == expected


_wrapped = st.builds(
    lambda wrapper, value, tail, pad: f"{pad}{wrapper}({value}{tail}){pad}",
    st.sampled_from(["tensor", "np.float32", "array", "torch.tensor"]),
    st.one_of(st.floats(allow_nan=False).map(repr), st.sampled_from(["nan", "-inf", " 1.5", "1.5 ", "", "[1, 2]", "x"])),
    st.sampled_from(["", ", device='cuda:0'", ", requires_grad=True)", ",", " , grad_fn=<Add>"]),
    st.sampled_from(["", " "]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(_wrapped, st.sampled_from(["", "0.25", "tensor(2)x"])), min_size=1, max_size=20))
def test_tensor_fast_unwrap_agrees_with_the_careful_path(cells: list[str]) -> None:
    text = pa.array(cells, type=pa.string())
    values, bad, _ = _cells._numbers(text, vectors=False)
    # The careful path alone: the same function with the fast unwrap switched off.
    original = _cells._unwrap_fast
    _cells._unwrap_fast = lambda trimmed: None
    try:
        careful, careful_bad, _ = _cells._numbers(text, vectors=False)
    finally:
        _cells._unwrap_fast = original
    assert values.to_pylist() == careful.to_pylist() or np.allclose(
        np.asarray(values.fill_null(0.125)), np.asarray(careful.fill_null(0.125)), equal_nan=True, rtol=0, atol=0
    )
    assert bad.tolist() == careful_bad.tolist()


def test_tensor_fast_unwrap_takes_the_common_case() -> None:
    text = pa.array(["tensor(0.5, device='cuda:0')", None, "tensor(1)", "0.25", "tensor(nan, grad_fn=<Add>)"])
    values = _cells._unwrap_fast(text)
    assert values is not None
    assert values.to_pylist()[:4] == [0.5, None, 1.0, 0.25] and np.isnan(values[4].as_py())
    assert _cells._unwrap_fast(pa.array(["tensor(0.5", "tensor(1)"])) is None  # unclosed: careful path


def test_parsing_columns_on_threads_gives_the_same_table_and_warnings(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = [_row(i, pid="bad" if i == 7 else str(i), acc="" if i % 3 else f"0.{i}") for i in range(40)]
    pages = [_page(rows[:20]), _page(rows[20:])]
    monkeypatch.setattr(_cells, "_THREADED_ROWS", 10**9)
    serial = _convert(ha.trials_to_arrow, pages, fast=True)
    monkeypatch.setattr(_cells, "_THREADED_ROWS", 0)
    monkeypatch.setattr(_cells, "_usable_cpus", lambda: 2)
    threaded = _convert(ha.trials_to_arrow, pages, fast=True)
    assert serial[0] == threaded[0] == "table"
    assert _comparable(serial[1]) == _comparable(threaded[1])
    assert threaded[2] == serial[2] and "page 0 row 7" in threaded[2][0]


@pytest.mark.parametrize("batch_rows", [None, 3, 7])
def test_a_key_every_row_had_may_go_missing_later(monkeypatch: pytest.MonkeyPatch, batch_rows: int | None) -> None:
    # A sparse plan requires the keys every row of its page had; a later row that lacks one makes
    # the fast path learn again (that key optional from then on), not give up.
    def config(i: int) -> dict[str, Any]:
        out: dict[str, Any] = {"lr": 0.5, "momentum": 0.9 if i % 2 else None, "trial_index": i}
        if i < 10 or i % 3:
            out["dropout"] = 0.1 * (i % 4)  # in every row of the first pages, then not
        if 5 <= i < 20 or i >= 25:
            out["late"] = i  # appears late, leaves, comes back
        if i % 2 == 0:
            out.pop("momentum")
        out.update({f"param/{k}": v for k, v in out.items() if k != "trial_index"})
        return out

    rows = [_row(i, config=config(i), trial_id=f"t{i:04d}") for i in range(30)]
    pages = [_page(rows[k:k + 5]) for k in range(0, 30, 5)]
    expected = _convert(ha.trials_to_arrow, pages, fast=False, batch_rows=batch_rows)
    monkeypatch.setattr(_batches, "_matrix", lambda *args: pytest.fail("the generic path was taken"))
    got = _convert(ha.trials_to_arrow, pages, fast=True, batch_rows=batch_rows)
    assert got[1].schema.equals(expected[1].schema, check_metadata=True)
    assert _comparable(got[1]) == _comparable(expected[1]) and got[2] == expected[2]
    assert got[1]["param/dropout"].null_count == sum(1 for i in range(30) if not (i < 10 or i % 3))


@pytest.mark.parametrize("pair", [(1, 1.0), (1.0, 1), (2, 2), (2.0, 2.0), (0.0, -0.0), (-0.0, 0.0), (0.5, 0.5),
                                  (True, 1), (1, True), (True, True), (False, 0.0), ("a", "a"), (None, None),
                                  ({"a": 1}, {"a": 1.0}), ([1], [1])],
                         ids=repr)
@pytest.mark.parametrize("batch_rows", [None, 2])
def test_equal_twins_of_other_types_in_conditional_spaces(pair: tuple[Any, Any], batch_rows: int | None) -> None:
    # A config key equal to its param/ twin in every row that has both is not typed apart; it must
    # still give what the generic path gives when it is kept (a conflict elsewhere keeps config/<key>).
    value, twin = pair

    def config(i: int) -> dict[str, Any]:
        out: dict[str, Any] = {"trial_index": i, "param/lr": 0.1, "lr": 0.1}
        if i % 2:  # a conditional key, with its twin
            out["x"], out["param/x"] = value, twin
        if i == 7:
            out["x"], out["param/x"] = 5, 6  # a conflict in another batch: config/x exists
        return out

    rows = [_row(i, config=config(i), trial_id=f"t{i:04d}") for i in range(8)]
    pages = [_page(rows[k:k + 2]) for k in range(0, 8, 2)]
    for convert in (ha.trials_to_arrow, ha.curves_to_arrow):
        fast = _convert(convert, pages, fast=True, batch_rows=batch_rows)
        slow = _convert(convert, pages, fast=False, batch_rows=batch_rows)
        assert fast[0] == slow[0] == "table"
        assert fast[1].schema.equals(slow[1].schema, check_metadata=True), (fast[1].schema, slow[1].schema)
        assert _comparable(fast[1]) == _comparable(slow[1]) and fast[2] == slow[2]
        assert [repr(v) for v in fast[1]["config/x"].to_pylist()] == [repr(v) for v in slow[1]["config/x"].to_pylist()]
