"""The normalizer: the seed example value by value, every cell rule, errors and ordering."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

import hpo_analytics as ha
from hpo_analytics.errors import CellParseError, ConfigurationError, MatrixError, ParseWarning

DATA = Path(__file__).resolve().parent.parent / "data"
HEADER = ["", "done", "pid", "config", "trial_id", "training_iteration", "time_total_s", "worker_index",
          "reward_attr", "status", "acc", "loss", "best_reward"]


def row(i: int, *, tid: str | None = None, it: str = "2", loss: str = "tensor(0.5, device='cuda:0')",
        acc: str = "0.5", config: object = None, done: str = "True", status: str = "TERMINATED") -> list:
    if config is None:
        config = {"lr": 0.1 * (i + 1), "trial_index": i, "param/lr": 0.1 * (i + 1)}
    return [str(i), done, str(300 + i), config, tid or f"t{i:07d}", it, "1.5", "", acc, status, acc, loss, acc]


def page(rows: list, header: list[str] = HEADER, **extra: object) -> dict:
    return {"total": len(rows), "count": len(rows), "limit": 50, "offset": 0, "group_by": "",
            "items": {"header": header, "data": rows}, **extra}


def one(table: pa.Table, column: str, index: int = 0) -> object:
    return table[column][index].as_py()


# ------------------------------------------------------------------ the seed example


@pytest.fixture(scope="module")
def seed_bytes() -> bytes:
    return (DATA / "seed_trials.json").read_bytes()


def test_seed_example_value_by_value(seed_bytes: bytes) -> None:
    table = ha.trials_to_arrow(seed_bytes)
    assert table.num_rows == 8
    by_id = {r["trial_id"]: r for r in table.to_pylist()}
    r = by_id["ae544174"]
    assert r["param/batch_size"] == 32
    assert r["param/learning_rate"] == 0.05512301741232006
    assert r["loss"] == 0.0754
    assert r["acc"] == 0.0625
    assert r["status"] == "TERMINATED"
    assert r["done"] is True
    assert r["pid"] == 314
    assert r["time_total_s"] == 19.477163314819336
    assert r["worker_index"] is None
    assert r["training_iteration"] == 2
    assert r["trial_index"] == 0
    assert r["reward_attr"] == 0.0625 and r["best_reward"] == 0.0625
    assert by_id["bef5c584"]["param/batch_size"] == 64
    assert by_id["bef5c584"]["loss"] == 0.0381
    assert by_id["ae548666"]["acc"] == 0.0
    assert table["trial_index"].to_pylist() == list(range(8))


def test_seed_schema_types(seed_bytes: bytes) -> None:
    schema = ha.trials_to_arrow(seed_bytes).schema
    expected = {
        "trial_id": pa.string(), "trial_index": pa.int64(), "status": pa.string(), "done": pa.bool_(),
        "training_iteration": pa.int64(), "time_total_s": pa.float64(), "reward_attr": pa.float64(),
        "best_reward": pa.float64(), "pid": pa.int64(), "worker_index": pa.int64(), "acc": pa.float64(),
        "loss": pa.float64(), "param/batch_size": pa.int64(), "param/learning_rate": pa.float64(),
    }
    assert {f.name: f.type for f in schema} == expected
    assert "" not in schema.names and "config" not in schema.names
    assert schema.metadata[b"hpo_analytics.table"] == b"trials"


def test_seed_to_pandas_nullable(seed_bytes: bytes) -> None:
    frame = ha.trials_to_pandas(seed_bytes)
    assert str(frame["pid"].dtype) == "Int64"
    assert str(frame["worker_index"].dtype) == "Int64"
    assert frame["worker_index"].isna().all()
    assert frame["worker_index"].iloc[0] is pd.NA
    assert str(frame["done"].dtype) == "boolean"
    assert frame["loss"].dtype == "float64"
    assert frame.attrs["hpo_analytics"]["table"] == "trials"


def test_seed_search_algorithms() -> None:
    frame = ha.algorithms_to_pandas((DATA / "seed_search_algorithms.json").read_bytes())
    assert len(frame) == 13
    bayes = frame[frame["algorithm"] == "bayes_opt_search"].set_index("param")
    assert bayes.loc["kind", "value"] == "ucb"
    assert bayes.loc["kappa", "value"] == 2.5 and isinstance(bayes.loc["kappa", "value"], float)
    assert bayes.loc["num_samples", "value"] == 20 and isinstance(bayes.loc["num_samples", "value"], int)
    assert bayes.loc["seed", "value_text"] == "1"
    assert bayes["description"].iloc[0] == "Hyperparameter search using Gaussian process."
    assert set(frame["algorithm"]) == {"bayes_opt_search", "tpe_search", "anneal_search"}


def test_algorithms_unknown_type_and_bad_value() -> None:
    catalogue = {"search_algo_list": [{"name": "x", "description": "d", "params": [
        {"key": "a", "value": "abc", "type": "Boolean"},
        {"key": "b", "value": "1.5x", "type": "Float"}]}, {"name": "empty", "params": []}]}
    with pytest.warns(ParseWarning, match="b='1.5x'"):
        frame = ha.algorithms_to_pandas(catalogue)
    assert frame.loc[0, "value"] == "abc" and frame.loc[1, "value"] == "1.5x"
    assert frame.loc[2, "algorithm"] == "empty" and pd.isna(frame.loc[2, "param"])
    with pytest.raises(CellParseError, match="'b'"):
        ha.algorithms_to_pandas(catalogue, errors="raise")
    with pytest.raises(MatrixError):
        ha.algorithms_to_pandas({"nope": 1})


# ------------------------------------------------------------------ cell rules


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("tensor(0.0754, device='cuda:0', requires_grad=True)", 0.0754),
        ("tensor(1.2e-05, grad_fn=<NllLossBackward0>)", 1.2e-05),
        ("tensor(3)", 3.0),
        ("tensor(-2.5)", -2.5),
        ("np.float32(0.5)", 0.5),
        ("np.float64(0.25)", 0.25),
        ("array(0.5)", 0.5),
        ("array(0.5, dtype=float32)", 0.5),
        ("19.47", 19.47),
        ("  19.47 ", 19.47),
        ("1e3", 1000.0),
        ("-0.0", -0.0),
        ("inf", math.inf),
        ("-inf", -math.inf),
    ],
)
def test_numeric_cells(cell: str, expected: float) -> None:
    table = ha.trials_to_arrow(page([row(0, loss=cell)]))
    assert one(table, "loss") == expected
    assert table.schema.field("loss").type == pa.float64()


@pytest.mark.parametrize("cell", ["nan", "NaN", "tensor(nan)", "tensor(nan, device='cuda:0')"])
def test_nan_is_a_value_not_null(cell: str) -> None:
    table = ha.trials_to_arrow(page([row(0, loss=cell), row(1)]))
    value = table["loss"][0]
    assert value.is_valid and math.isnan(value.as_py())
    assert table["loss"].null_count == 0


@pytest.mark.parametrize("cell", ["", "None", "null", None])
def test_null_tokens(cell: object) -> None:
    r = row(0)
    r[HEADER.index("loss")] = cell
    r[HEADER.index("pid")] = cell
    r[HEADER.index("time_total_s")] = cell
    table = ha.trials_to_arrow(page([r, row(1)]))
    assert one(table, "loss") is None and one(table, "pid") is None and one(table, "time_total_s") is None


def test_vector_tensor_column_becomes_list() -> None:
    rows = [row(0, loss="tensor([0.1, 0.2], device='cuda:0')"), row(1, loss="tensor([3])"),
            row(2, loss="tensor([])"), row(3, loss="")]
    table = ha.trials_to_arrow(page(rows))
    assert table.schema.field("loss").type == pa.list_(pa.float64())
    assert table["loss"].to_pylist() == [[0.1, 0.2], [3.0], [], None]


def test_booleans_in_every_spelling() -> None:
    rows = [row(0, done="True"), row(1, done="false"), row(2, done="true"), row(3, done="False")]
    rows.append(row(4))
    rows[4][1] = True  # a JSON boolean
    rows.append(row(5))
    rows[5][1] = ""
    table = ha.trials_to_arrow(page(rows))
    assert table["done"].to_pylist() == [True, False, True, False, True, None]


def test_json_numbers_and_bools_in_cells() -> None:
    r = row(0)
    r[HEADER.index("pid")] = 314
    r[HEADER.index("acc")] = 0.25
    r[HEADER.index("time_total_s")] = 3
    table = ha.trials_to_arrow(page([r]))
    assert one(table, "pid") == 314 and one(table, "acc") == 0.25 and one(table, "time_total_s") == 3.0


def test_inferred_columns() -> None:
    header = HEADER + ["date", "hostname", "flag", "steps", "empty", "mixed"]
    rows = []
    for i in range(3):
        rows.append(row(i) + [f"2024-01-0{i + 1}_10-00-00", "node-1", ["True", "False", "True"][i],
                              i * 10, "", ["1.5", "abc", "2"][i]])
    table = ha.trials_to_arrow(page(rows, header))
    types = {f.name: f.type for f in table.schema}
    assert types["date"] == pa.string() and types["hostname"] == pa.string()
    assert types["flag"] == pa.bool_()
    assert types["steps"] == pa.int64() and table["steps"].to_pylist() == [0, 10, 20]
    assert types["empty"] == pa.float64() and table["empty"].null_count == 3
    # A column that is not all numbers stays text: nothing is lost.
    assert types["mixed"] == pa.string() and table["mixed"].to_pylist() == ["1.5", "abc", "2"]


def test_unparseable_numeric_cell_warns_with_column_count_and_value() -> None:
    rows = [row(i) for i in range(4)]
    rows[2][HEADER.index("time_total_s")] = "soon"
    rows[3][HEADER.index("time_total_s")] = "later"
    with pytest.warns(ParseWarning) as record:
        table = ha.trials_to_arrow(page(rows))
    message = str(record[0].message)
    assert "'time_total_s'" in message and "2 cell(s)" in message and "'soon'" in message
    assert "page 0 row 2" in message
    assert issubclass(ParseWarning, UserWarning)
    assert table["time_total_s"].to_pylist() == [1.5, 1.5, None, None]


def test_errors_raise_names_page_row_column_value() -> None:
    rows = [row(i) for i in range(3)]
    rows[1][HEADER.index("pid")] = "12a"
    with pytest.raises(CellParseError) as info:
        ha.trials_to_arrow([page([row(9, tid="x")]), page(rows)], errors="raise")
    err = info.value
    assert (err.page, err.row, err.column, err.value) == (1, 1, "pid", "12a")
    assert "page 1" in str(err) and "row 1" in str(err) and "'pid'" in str(err) and "'12a'" in str(err)
    assert isinstance(err, ValueError)


def test_keep_raw_keeps_original_text() -> None:
    rows = [row(0), row(1)]
    rows[1][HEADER.index("pid")] = "pid-x"
    with pytest.warns(ParseWarning, match="kept in raw/pid"):
        table = ha.trials_to_arrow(page(rows), keep_raw=True)
    assert table["pid"].to_pylist() == [300, None]
    assert table["raw/pid"].to_pylist() == ["300", "pid-x"]
    assert table["raw/loss"].to_pylist() == ["tensor(0.5, device='cuda:0')"] * 2
    assert json.loads(table["raw/config"][0].as_py())["param/lr"] == 0.1
    assert "raw/trial_id" not in table.column_names  # text columns are their own raw form


def test_integer_column_accepts_integral_floats_only() -> None:
    rows = [row(0, it="3"), row(1, it="4.0"), row(2, it="2.5")]
    with pytest.warns(ParseWarning, match="training_iteration"):
        table = ha.trials_to_arrow(page(rows))
    assert table["training_iteration"].to_pylist() == [3, 4, None]


def test_errors_option_is_validated() -> None:
    with pytest.raises(ConfigurationError):
        ha.trials_to_arrow(page([row(0)]), errors="ignore")  # type: ignore[arg-type]


# ------------------------------------------------------------------ config


def test_config_as_json_string_and_python_repr() -> None:
    rows = [
        row(0, config=json.dumps({"lr": 0.5, "trial_index": 0, "param/lr": 0.5, "param/opt": "adam"})),
        row(1, config="{'lr': 0.25, 'trial_index': 1, 'param/lr': 0.25, 'param/opt': 'sgd'}"),
        row(2, config="{'lr': Decimal('0.05512301741232006'), 'trial_index': 2, "
                      "'param/lr': Decimal('0.05512301741232006'), 'param/opt': \"it's\"}"),
    ]
    table = ha.trials_to_arrow(page(rows))
    assert table["param/lr"].to_pylist() == [0.5, 0.25, 0.05512301741232006]
    assert table["param/opt"].to_pylist() == ["adam", "sgd", "it's"]
    assert table["trial_index"].to_pylist() == [0, 1, 2]


def test_config_without_param_prefix_uses_every_key_but_trial_index() -> None:
    rows = [row(i, config={"batch_size": 16 * (i + 1), "lr": 0.1, "trial_index": i}) for i in range(2)]
    table = ha.trials_to_arrow(page(rows))
    assert table["param/batch_size"].to_pylist() == [16, 32]
    assert "param/trial_index" not in table.column_names
    assert table["trial_index"].to_pylist() == [0, 1]


def test_config_rows_with_and_without_prefix_mix() -> None:
    rows = [row(0, config={"a": 1, "trial_index": 0, "param/a": 1}),
            row(1, config={"a": 2, "trial_index": 1})]
    table = ha.trials_to_arrow(page(rows))
    assert table["param/a"].to_pylist() == [1, 2]


def test_nested_and_mixed_parameters_become_json_text() -> None:
    rows = [
        row(0, config={"trial_index": 0, "param/layers": [64, 32], "param/mix": 1, "param/m2": True}),
        row(1, config={"trial_index": 1, "param/layers": {"a": 1}, "param/mix": "relu", "param/m2": 0.5}),
        row(2, config={"trial_index": 2, "param/mix": 2.5}),
    ]
    table = ha.trials_to_arrow(page(rows))
    assert table["param/layers"].to_pylist() == ["[64,32]", '{"a":1}', None]
    assert table["param/mix"].to_pylist() == ["1", '"relu"', "2.5"]
    assert table["param/m2"].to_pylist() == ["true", "0.5", None]
    assert [json.loads(v) for v in table["param/mix"].to_pylist()] == [1, "relu", 2.5]


def test_int_and_float_parameters_become_float() -> None:
    rows = [row(0, config={"trial_index": 0, "param/lr": 1}), row(1, config={"trial_index": 1, "param/lr": 0.5})]
    table = ha.trials_to_arrow(page(rows))
    assert table.schema.field("param/lr").type == pa.float64()
    assert table["param/lr"].to_pylist() == [1.0, 0.5]


def test_parameter_types_unified_across_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_analytics.normalize import _batches

    monkeypatch.setattr(_batches, "_BATCH_ROWS", 2)
    pages = [page([row(2 * p + i, config={"trial_index": 2 * p + i, "param/x": v, "param/s": s})
                   for i in range(2)])
             for p, (v, s) in enumerate([(1, "a"), (2.5, "b"), (3, 7)])]
    table = ha.trials_to_arrow(pages)
    assert table["param/x"].to_pylist() == [1.0, 1.0, 2.5, 2.5, 3.0, 3.0]
    assert table["param/s"].to_pylist() == ['"a"', '"a"', '"b"', '"b"', "7", "7"]


def test_unparseable_config_warns_and_keeps_raw() -> None:
    rows = [row(0), row(1, config="{'lr': __import__('os')}")]
    with pytest.warns(ParseWarning, match="'config'.*page 0 row 1"):
        table = ha.trials_to_arrow(page(rows), keep_raw=True)
    assert table["param/lr"].to_pylist() == [0.1, None]
    assert table["raw/config"][1].as_py() == "{'lr': __import__('os')}"
    with pytest.raises(CellParseError) as info:
        ha.trials_to_arrow(page(rows), errors="raise")
    assert (info.value.row, info.value.column) == (1, "config")


def test_config_null_gives_null_parameters() -> None:
    table = ha.trials_to_arrow(page([row(0), row(1, config="")]))
    assert table["param/lr"].to_pylist() == [0.1, None]
    assert table["trial_index"].to_pylist() == [0, None]


# ------------------------------------------------------------------ structure errors


@pytest.mark.parametrize(
    ("source", "match", "where"),
    [
        ({"total": 1}, "no 'items'", {"page": 0}),
        ({"items": {"data": []}}, "no 'header'", {"page": 0}),
        ({"items": {"header": ["a"]}}, "no 'data'", {"page": 0}),
        ({"items": {"header": ["a", "a"], "data": []}}, "duplicate header", {"column": "a"}),
        ({"items": {"header": ["a", 1], "data": []}}, "list of strings", {"page": 0}),
        ({"items": {"header": ["a"], "data": [["1"], "x"]}}, "not a list", {"row": 1, "value": "x"}),
        ({"items": {"header": ["a", "b"], "data": [["1", "2"], ["1"]]}}, "1 cells but the header has 2",
         {"row": 1}),
        (b'{"items": {"header": [', "JSON does not parse", {"page": 0}),
        ([1], "not a JSON object", {"page": 0}),
    ],
)
def test_structure_errors(source: object, match: str, where: dict) -> None:
    with pytest.raises(MatrixError, match=match) as info:
        ha.trials_to_arrow(source)
    for key, value in where.items():
        assert getattr(info.value, key) == value


def test_structure_error_names_the_page() -> None:
    bad = page([row(1)])
    bad["items"]["data"][0] = bad["items"]["data"][0][:-1]
    with pytest.raises(MatrixError) as info:
        ha.trials_to_arrow([page([row(0)]), bad])
    assert (info.value.page, info.value.row) == (1, 0)


def test_path_given_as_string_gets_a_hint(tmp_path: Path) -> None:
    file = tmp_path / "p.json"
    file.write_text(json.dumps(page([row(0)])))
    with pytest.raises(MatrixError, match="read_trials"):
        ha.trials_to_arrow(str(file))
    assert ha.trials_to_arrow(file).num_rows == 1  # a Path is read


# ------------------------------------------------------------------ shapes, pages and ordering


def test_zero_trials_keeps_known_columns() -> None:
    table = ha.trials_to_arrow(page([]))
    assert table.num_rows == 0
    assert table.schema.field("pid").type == pa.int64()
    assert table.schema.field("done").type == pa.bool_()
    assert table.schema.field("trial_index").type == pa.int64()
    assert table.schema.field("acc").type == pa.float64()
    bare = ha.trials_to_arrow({"total": 0, "count": 0, "items": {"header": [], "data": []}})
    assert bare.num_rows == 0 and set(ha.normalize.KNOWN_COLUMNS) <= set(bare.column_names)
    assert ha.trials_to_pandas(page([])).shape[0] == 0


def test_missing_known_column_is_absent() -> None:
    header = ["trial_id", "acc"]
    table = ha.trials_to_arrow({"header": header, "data": [["a", "0.5"]]})
    assert table.column_names == ["trial_id", "acc"]


def test_repeated_trial_keeps_highest_iteration_then_last_seen() -> None:
    pages = [
        page([row(0, it="3", acc="0.3"), row(1, it="1", acc="0.1")]),
        page([row(0, it="2", acc="0.2"), row(1, it="1", acc="0.15")]),
    ]
    table = ha.trials_to_arrow(pages)
    assert table.num_rows == 2
    assert table["acc"].to_pylist() == [0.3, 0.15]


def test_pages_in_any_order_give_the_same_table() -> None:
    pages = [page([row(i) for i in range(k, k + 3)]) for k in (0, 3, 6)]
    forward = ha.trials_to_arrow(pages)
    backward = ha.trials_to_arrow(list(reversed(pages)))
    assert forward.equals(backward)
    assert forward["trial_index"].to_pylist() == list(range(9))


def test_header_order_does_not_matter() -> None:
    rows = [row(i) for i in range(3)]
    perm = list(reversed(range(len(HEADER))))
    shuffled = {"header": [HEADER[j] for j in perm], "data": [[r[j] for j in perm] for r in rows]}
    a, b = ha.trials_to_arrow(shuffled), ha.trials_to_arrow(page(rows))
    assert sorted(a.column_names) == sorted(b.column_names)
    assert a.select(b.column_names).equals(b)


def test_pages_with_different_headers_combine() -> None:
    header2 = HEADER + ["extra"]
    table = ha.trials_to_arrow([page([row(0)]), page([row(1) + ["7.5"]], header2)])
    assert table["extra"].to_pylist() == [None, 7.5]


PER_TRIAL_HEADER = ["done", "pid", "best_reward", "time_total_s", "config", "acc", "loss", "trial_id",
                    "training_iteration", "reward_attr"]


def per_trial(tid: str, index: int, accs: list[float]) -> dict:
    data = []
    for it, acc in enumerate(accs, start=1):
        data.append(["True" if it == len(accs) else "False", "314", str(max(accs[:it])), str(1.5 * it),
                     {"lr": 0.1, "trial_index": index, "param/lr": 0.1}, str(acc),
                     f"tensor({1 - acc:.4f}, device='cuda:0', requires_grad=True)", tid, str(it), str(acc)])
    return {"header": PER_TRIAL_HEADER, "data": data}


def test_curves_long_form_from_per_trial_shape() -> None:
    histories = [per_trial("bbb", 1, [0.1, 0.3, 0.2]), per_trial("aaa", 0, [0.5, 0.6])]
    curves = ha.curves_to_arrow(histories)
    assert curves.num_rows == 5
    assert curves["trial_id"].to_pylist() == ["aaa", "aaa", "bbb", "bbb", "bbb"]
    assert curves["training_iteration"].to_pylist() == [1, 2, 1, 2, 3]
    assert curves["acc"].to_pylist() == [0.5, 0.6, 0.1, 0.3, 0.2]
    assert curves["done"].to_pylist() == [False, True, False, False, True]
    assert curves.schema.metadata[b"hpo_analytics.table"] == b"curves"
    # The same input as trials: one row per trial, its latest iteration.
    trials = ha.trials_to_arrow(histories)
    assert trials["training_iteration"].to_pylist() == [2, 3]
    assert trials["acc"].to_pylist() == [0.6, 0.2]


def test_curves_duplicate_iteration_keeps_last_seen() -> None:
    first = per_trial("aaa", 0, [0.5, 0.6])
    again = per_trial("aaa", 0, [0.5, 0.7])
    curves = ha.curves_to_arrow([first, again])
    assert curves["acc"].to_pylist() == [0.5, 0.7]
    frame = ha.curves_to_pandas([first, again])
    assert str(frame["training_iteration"].dtype) == "Int64"


def test_many_small_pages_span_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_analytics.normalize import _batches

    monkeypatch.setattr(_batches, "_BATCH_ROWS", 7)
    pages = [page([row(i) for i in range(k, k + 5)]) for k in range(0, 50, 5)]
    pages[6]["items"]["data"][3][HEADER.index("pid")] = "bad"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = ha.trials_to_arrow(pages)
    assert table.num_rows == 50
    assert "page 6 row 3" in str(caught[0].message)
    assert table["trial_index"].to_pylist() == list(range(50))


def test_pandas_floats_are_numpy_and_arrow_keeps_nan_apart_from_null() -> None:
    rows = [row(0, loss="nan"), row(1, loss="")]
    table = ha.trials_to_arrow(page(rows))
    assert table["loss"].is_null().to_pylist() == [False, True]
    frame = ha.to_pandas(table)
    assert frame["loss"].dtype == "float64" and frame["loss"].isna().all()


def test_inferred_type_decided_over_all_batches(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_analytics.normalize import _batches

    monkeypatch.setattr(_batches, "_BATCH_ROWS", 2)
    header = HEADER + ["note", "vec"]
    rows = [row(0) + ["1.50", "tensor([0.5])"], row(1) + ["2", "tensor([1])"], row(2) + ["n/a", "tensor([1, 2])"],
            row(3) + ["", ""]]
    table = ha.trials_to_arrow([page(rows[:2], header), page(rows[2:], header)])
    # One batch alone looks numeric; the column as a whole is text, kept exactly as sent.
    assert table["note"].to_pylist() == ["1.50", "2", "n/a", None]
    assert table["vec"].to_pylist() == [[0.5], [1.0], [1.0, 2.0], None]
    bad = [row(i) for i in range(4)]
    bad[3][HEADER.index("pid")] = "x"
    with pytest.warns(ParseWarning, match="page 1 row 1"):
        table = ha.trials_to_arrow([page(bad[:2]), page(bad[2:])])
    assert table["pid"].to_pylist() == [300, 301, 302, None]


def test_empty_cells_keep_numeric_columns_on_the_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_analytics.normalize import _cells

    rows = [row(0, loss="tensor(0.25, device='cuda:0')"), row(1, loss=""), row(2, loss="tensor(0.5)")]
    rows[1][HEADER.index("time_total_s")] = ""
    assert _cells._plausible(pa.array(["1.5", None, "2"]))
    assert not _cells._plausible(pa.array(["1.5", None, "x"]))

    def no_regex(*args: object, **kwargs: object) -> None:
        raise AssertionError("the careful (regex) path was taken")

    monkeypatch.setattr(_cells.pc, "match_substring_regex", no_regex)
    table = ha.trials_to_arrow(page(rows))
    assert table["loss"].to_pylist() == [0.25, None, 0.5]
    assert table["time_total_s"].to_pylist() == [1.5, None, 1.5]


def test_bad_cell_in_a_later_batch_is_quoted(monkeypatch: pytest.MonkeyPatch) -> None:
    from hpo_analytics.normalize import _batches

    monkeypatch.setattr(_batches, "_BATCH_ROWS", 2)
    rows = [row(i) for i in range(6)]
    rows[5][HEADER.index("done")] = "maybe"
    pages = [page(rows[k:k + 2]) for k in (0, 2, 4)]
    with pytest.warns(ParseWarning, match="page 2 row 1: 'maybe'"):
        table = ha.trials_to_arrow(pages)
    assert table["done"].to_pylist() == [True] * 5 + [None]
    with pytest.raises(CellParseError) as info:
        ha.trials_to_arrow(pages, errors="raise")
    assert (info.value.page, info.value.row, info.value.value) == (2, 1, "maybe")
