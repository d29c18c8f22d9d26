"""Trials are identified by trial_id; nothing in config is dropped; a stray vector never retypes a metric.

Each test here failed before issue #12: a listing whose trial_index happened
to increase was assumed duplicate-free (36 rows or 30 from the same pages,
by page order), unprefixed config keys beside ``param/`` keys were dropped,
and one ``tensor([...])`` among numbers turned a metric into a list column.
"""

from __future__ import annotations

import json
import random
import warnings
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import hpo_analytics as ha
from hpo_analytics.normalize import _assembly, _batches
from hpo_analytics.errors import CellParseError, ParseWarning

HEADER = ["", "done", "pid", "config", "trial_id", "training_iteration", "time_total_s", "worker_index",
          "reward_attr", "status", "acc", "loss", "best_reward"]


def _row(trial_id: str, trial_index: int, iteration: int, *, acc: str | None = None, loss: str | None = None,
         config: dict[str, Any] | None = None, status: str = "TERMINATED") -> list[Any]:
    lr = 0.001 * (trial_index + 1)
    cfg = config if config is not None else {"lr": lr, "trial_index": trial_index, "param/lr": lr}
    value = acc if acc is not None else f"0.{trial_index + 1:03d}{iteration}"
    cells = {"": "0", "done": str(status != "RUNNING"), "pid": "7", "config": cfg, "trial_id": trial_id,
             "training_iteration": str(iteration), "time_total_s": f"{iteration * 1.5}", "worker_index": "",
             "reward_attr": value, "status": status, "acc": value,
             "loss": loss if loss is not None else f"tensor({iteration / 10}, device='cuda:0')",
             "best_reward": value}
    return [cells[name] for name in HEADER]


def _page(rows: list[list[Any]]) -> dict[str, Any]:
    return {"total": 999, "count": len(rows), "limit": 50, "offset": 0, "items": {"header": HEADER, "data": rows}}


def _bytes(page: dict[str, Any]) -> bytes:
    return json.dumps(page, separators=(",", ":")).encode()


def _quiet(convert: Any, source: Any, **options: Any) -> tuple[pa.Table, list[str]]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        table = convert(source, **options)
    return table, [str(w.message) for w in caught if issubclass(w.category, ParseWarning)]


# ------------------------------------------------------------------ identity


def _relisted() -> list[list[Any]]:
    """30 trials, then 6 of them listed again under new trial_index values at a later iteration."""
    rows = [_row(f"t{i:03d}", i, 3) for i in range(30)]
    rows += [_row(f"t{i:03d}", 30 + i, 5) for i in range(6)]
    return rows


@pytest.mark.parametrize("as_bytes", [False, True])
@pytest.mark.parametrize("reverse", [False, True])
def test_one_row_per_trial_id_whatever_the_page_order(as_bytes: bool, reverse: bool) -> None:
    rows = _relisted()
    pages = [_page(rows[k:k + 6]) for k in range(0, 36, 6)]
    if reverse:
        pages.reverse()
    source = [_bytes(p) for p in pages] if as_bytes else pages
    table, messages = _quiet(ha.trials_to_arrow, source)
    assert table.num_rows == 30
    assert table["trial_id"].to_pylist() == sorted(table["trial_id"].to_pylist(),
                                                   key=lambda t: (int(t[1:]) + 30 if int(t[1:]) < 6 else int(t[1:])))
    # The relisted copies win (iteration 5 beats 3) and bring their trial_index along.
    relisted = {r["trial_id"]: r for r in table.to_pylist() if r["trial_id"] < "t006"}
    assert {t: (r["trial_index"], r["training_iteration"]) for t, r in relisted.items()} == {
        f"t{i:03d}": (30 + i, 5) for i in range(6)}
    conflicts = [m for m in messages if "more than one trial_index" in m]
    assert len(conflicts) == 1
    assert "6 trial(s)" in conflicts[0] and "'t000'" in conflicts[0] and "0, 30" in conflicts[0]
    assert "page" in conflicts[0] and "row" in conflicts[0]


def test_same_index_repeats_without_a_warning() -> None:
    rows = [_row("a", 0, 1), _row("b", 1, 1), _row("a", 0, 4), _row("b", 1, 2)]
    table, messages = _quiet(ha.trials_to_arrow, [_page(rows[:2]), _page(rows[2:])])
    assert table["trial_id"].to_pylist() == ["a", "b"]
    assert table["training_iteration"].to_pylist() == [4, 2]
    assert messages == []


def test_equal_iterations_the_last_seen_wins() -> None:
    first = _row("a", 0, 3, status="RUNNING")
    last = _row("a", 0, 3, status="TERMINATED")
    b = _row("b", 1, 1, status="RUNNING")
    table = ha.trials_to_arrow([_page([first]), _page([b, last])])
    assert table["status"].to_pylist() == ["TERMINATED", "RUNNING"]
    table = ha.trials_to_arrow([_page([last]), _page([b, first])])
    assert table["status"].to_pylist() == ["RUNNING", "RUNNING"]


def test_ids_of_other_widths_are_deduplicated_too() -> None:
    # _distinct reads ids of one width <= 8 bytes as integers; others go through Arrow.
    for ids in (["x", "y", "x"], ["trial-long-1", "trial-long-2", "trial-long-1"], ["ab", "abc", "ab"],
                ["12345678", "12345679", "12345678"]):
        rows = [_row(tid, k, k + 1) for k, tid in enumerate(ids)]
        table, _ = _quiet(ha.trials_to_arrow, _page(rows))
        assert sorted(table["trial_id"].to_pylist()) == sorted(set(ids))


@pytest.mark.parametrize("ids", [["a", "b", "c"], ["aaaaaaaa", "aaaaaaab", "baaaaaaa"], ["a\x00", "a", "b"],
                                 ["ab", "ba", "aa"], ["x" * 9, "x" * 8 + "y", "y" * 9]])
def test_distinct_agrees_with_python(ids: list[str]) -> None:
    array = pa.array(ids)
    assert _assembly._distinct(array) == (len(set(ids)) == len(ids))
    doubled = pa.array(ids + ids[:1])
    assert _assembly._distinct(doubled) is False
    assert _assembly._distinct(array.slice(1)) == (len(set(ids[1:])) == len(ids) - 1)


def test_curves_keep_one_row_per_trial_and_iteration() -> None:
    rows = [_row("a", 0, 1), _row("a", 0, 2), _row("a", 0, 1, acc="0.9"), _row("b", 1, 1)]
    table = ha.curves_to_arrow([_page(rows[:2]), _page(rows[2:])])
    assert list(zip(table["trial_id"].to_pylist(), table["training_iteration"].to_pylist(),
                    table["acc"].to_pylist())) == [("a", 1, 0.9), ("a", 2, 0.0012), ("b", 1, 0.0021)]


# The property: random listings with repeated trials give one table, whatever the paging.


@st.composite
def _listings(draw: Any) -> list[list[Any]]:
    n = draw(st.integers(1, 10))
    rows: list[list[Any]] = []
    for k in range(n):
        trial_id = draw(st.sampled_from([f"{k:08x}", f"trial-{k}", f"t{k}"]))
        iterations = draw(st.lists(st.integers(1, 9), min_size=1, max_size=2, unique=True))
        moved = draw(st.booleans())  # its latest copy is listed again under another trial_index
        seed = draw(st.integers(0, 3))
        for pos, it in enumerate(iterations):
            index = 40 + k if moved and pos == len(iterations) - 1 and pos > 0 else k
            status = draw(st.sampled_from(["TERMINATED", "RUNNING", "ERROR"]))
            loss = draw(st.sampled_from([None, "", "tensor(nan)", "0.25", "tensor([0.1, 0.2])"]))
            config = {"lr": 0.01 * (index + 1), "seed": seed, "trial_index": index, "param/lr": 0.01 * (index + 1)}
            if draw(st.booleans()):
                config["param/momentum"] = 0.9  # conditional: only some trials have it
            row = _row(trial_id, index, it, status=status, loss=loss, config=config)
            rows.append(row)
            if draw(st.integers(0, 7)) == 0:
                rows.append(list(row))  # the very same row twice, as a page boundary shift shows it
    return rows


def _paged(rows: list[list[Any]], rnd: random.Random, *, shuffle: bool) -> list[dict[str, Any]]:
    pages, start = [], 0
    while start < len(rows):
        size = rnd.randint(1, 7)
        pages.append(_page(rows[start:start + size]))
        start += size
    if shuffle:
        rnd.shuffle(pages)
    return pages


def _by_index(rows: list[list[Any]]) -> list[list[Any]]:
    """The rows as the service lists them: by trial_index (stable, so repeats keep their order)."""
    return sorted(rows, key=lambda r: r[HEADER.index("config")]["trial_index"])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=_listings(), seed=st.integers(0, 2**32 - 1))
@example(rows=[_row("t0", 0, 1), _row("t0", 40, 2), _row("t1", 1, 1)], seed=0)
def test_any_permutation_and_paging_gives_the_same_table(rows: list[list[Any]], seed: int) -> None:
    rnd = random.Random(seed)
    reference, _ = _quiet(ha.trials_to_arrow, [_page(rows)])
    assert reference.num_rows == len({r[HEADER.index("trial_id")] for r in rows})
    assert len(set(reference["trial_id"].to_pylist())) == reference.num_rows
    for attempt in range(6):
        # Pages cut anywhere, in any order; and rows in trial_index order, where a repeated trial
        # under a new index once slipped past the "increasing index means no repeats" shortcut.
        pages = _paged(_by_index(rows), rnd, shuffle=False) if attempt < 2 else _paged(rows, rnd, shuffle=True)
        source: Any = [_bytes(p) for p in pages] if attempt % 2 else pages
        previous = _batches._BATCH_ROWS
        _batches._BATCH_ROWS = rnd.choice([1, 2, 3, 4096])
        try:
            table, _ = _quiet(ha.trials_to_arrow, source)
        finally:
            _batches._BATCH_ROWS = previous
        assert table.schema == reference.schema
        assert _comparable(table) == _comparable(reference)


def _comparable(table: pa.Table) -> dict[str, list[Any]]:
    def fix(value: Any) -> Any:
        if isinstance(value, float) and value != value:
            return "NaN"
        return [fix(v) for v in value] if isinstance(value, list) else value

    return {name: [fix(v) for v in column] for name, column in table.to_pydict().items()}


# ------------------------------------------------------------------ config keys


def _with_config(*configs: dict[str, Any]) -> list[list[Any]]:
    return [_row(f"t{k}", c.get("trial_index", k), 1, config=c) for k, c in enumerate(configs)]


@pytest.mark.parametrize("as_bytes", [False, True])
def test_keys_beside_param_keys_are_kept(as_bytes: bool) -> None:
    configs = [{"lr": 0.1 * k, "seed": k, "data_version": "v2", "trial_index": k, "param/lr": 0.1 * k}
               for k in range(4)]
    page = _page(_with_config(*configs))
    table, messages = _quiet(ha.trials_to_arrow, _bytes(page) if as_bytes else page)
    assert table["config/seed"].to_pylist() == [0, 1, 2, 3]
    assert table["config/data_version"].to_pylist() == ["v2"] * 4
    assert table["param/lr"].to_pylist() == [0.0, 0.1, 0.2, pytest.approx(0.3)]
    assert "config/lr" not in table.column_names  # the same value as param/lr: collapsed into it
    assert messages == []


@pytest.mark.parametrize("uniform", [True, False])
def test_a_key_that_disagrees_with_its_param_twin_keeps_both(uniform: bool) -> None:
    configs = [{"lr": 0.1, "trial_index": 0, "param/lr": 0.1},
               {"lr": 0.5, "trial_index": 1, "param/lr": 0.2},
               {"lr": 0.3, "trial_index": 2, "param/lr": 0.3}]
    if not uniform:
        configs[2]["param/extra"] = 1
    table, messages = _quiet(ha.trials_to_arrow, _page(_with_config(*configs)))
    assert table["param/lr"].to_pylist() == [0.1, 0.2, 0.3]
    assert table["config/lr"].to_pylist() == [0.1, 0.5, 0.3]  # every row's own value, not only the odd one
    assert len(messages) == 1
    assert "'lr'" in messages[0] and "0.5 vs 0.2" in messages[0] and "page 0 row 1" in messages[0]


def test_disagreement_in_a_later_batch_keeps_the_whole_column(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_batches, "_BATCH_ROWS", 2)
    configs = [{"lr": 0.1 * k, "trial_index": k, "param/lr": 0.1 * k} for k in range(5)]
    configs[4]["lr"] = 9.0
    table, messages = _quiet(ha.trials_to_arrow, [_page(_with_config(*configs)[:2]),
                                                   _page(_with_config(*configs)[2:])])
    assert table["config/lr"].to_pylist() == [0.0, 0.1, 0.2, pytest.approx(0.3), 9.0]
    assert len(messages) == 1


@pytest.mark.parametrize(("raw", "twin"), [(True, 1), (0, False), ("1", 1), ([1, 2], [1, 2, 3])])
def test_values_that_only_look_equal_are_not_collapsed(raw: Any, twin: Any) -> None:
    configs = [{"flag": raw, "trial_index": 0, "param/flag": twin}, {"flag": twin, "trial_index": 1, "param/flag": twin}]
    table, messages = _quiet(ha.trials_to_arrow, _page(_with_config(*configs)))
    assert "config/flag" in table.column_names
    assert len(messages) == 1 and "flag" in messages[0]


def test_nan_and_equal_numbers_collapse() -> None:
    configs = [{"lr": float("nan"), "n": 1, "trial_index": 0, "param/lr": float("nan"), "param/n": 1.0},
               {"lr": 0.5, "n": 2, "trial_index": 1, "param/lr": 0.5, "param/n": 2.0}]
    table, messages = _quiet(ha.trials_to_arrow, _page(_with_config(*configs)))
    assert not [c for c in table.column_names if c.startswith("config/")]
    assert messages == []


def test_sdk_repr_configs_keep_their_extra_keys() -> None:
    cfg = "{'lr': Decimal('0.05'), 'seed': 3, 'trial_index': 0, 'param/lr': Decimal('0.05')}"
    table = ha.trials_to_arrow(_page([_row("t0", 0, 1, config=cfg)]))  # type: ignore[arg-type]
    assert table["param/lr"].to_pylist() == [0.05]
    assert table["config/seed"].to_pylist() == [3]


def test_configs_without_param_keys_still_become_params() -> None:
    table = ha.trials_to_arrow(_page(_with_config({"lr": 0.1, "seed": 4, "trial_index": 0})))
    assert table["param/lr"].to_pylist() == [0.1] and table["param/seed"].to_pylist() == [4]
    assert not [c for c in table.column_names if c.startswith("config/")]


# ------------------------------------------------------------------ cells


def _with_loss(*cells: str) -> dict[str, Any]:
    return _page([_row(f"t{k}", k, 1, loss=cell) for k, cell in enumerate(cells)])


@pytest.mark.parametrize("as_bytes", [False, True])
def test_a_rare_vector_in_a_metric_of_numbers_becomes_null(as_bytes: bool) -> None:
    page = _with_loss("tensor(0.5, device='cuda:0')", "0.25", "tensor([0.1, 0.2])", "", "tensor(nan)")
    with pytest.warns(ParseWarning, match=r"column 'loss': 1 cell.*page 0 row 2.*tensor\(\[0\.1, 0\.2\]\)"):
        table = ha.trials_to_arrow(_bytes(page) if as_bytes else page)
    assert table.schema.field("loss").type == pa.float64()
    values = table["loss"].to_pylist()
    assert values[:4] == [0.5, 0.25, None, None] and values[4] != values[4]


def test_the_vector_cell_is_kept_raw_or_refused() -> None:
    page = _with_loss("0.5", "tensor([1, 2])", "0.75")
    with pytest.warns(ParseWarning):
        table = ha.trials_to_arrow(page, keep_raw=True)
    assert table["raw/loss"].to_pylist() == ["0.5", "tensor([1, 2])", "0.75"]
    with pytest.raises(CellParseError) as info:
        ha.trials_to_arrow(page, errors="raise")
    assert info.value.row == 1 and info.value.column == "loss"


def test_a_list_column_only_when_every_cell_is_a_vector() -> None:
    table = ha.trials_to_arrow(_with_loss("tensor([1, 2])", "", "tensor([0.5], device='cuda:0')"))
    assert table.schema.field("loss").type == pa.list_(pa.float64())
    assert table["loss"].to_pylist() == [[1.0, 2.0], None, [0.5]]
