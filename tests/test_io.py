"""Reading JSON files, directories of pages and Parquet."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import hpo_analytics as ha
from hpo_analytics.errors import ConfigurationError, MatrixError

DATA = Path(__file__).resolve().parent.parent / "data"


def test_read_json_file_and_parquet_round_trip(tmp_path: Path) -> None:
    table = ha.read_trials(DATA / "seed_trials.json")
    assert table.num_rows == 8
    out = ha.write_parquet(table, tmp_path / "sub" / "trials.parquet")
    back = ha.read_trials(out)
    assert back.equals(table)
    assert back.schema.metadata == table.schema.metadata


def test_read_directory_of_pages_in_name_order(tmp_path: Path) -> None:
    seed = json.loads((DATA / "seed_trials.json").read_text())
    rows = seed["items"]["data"]
    for i in range(0, 8, 3):
        page = dict(seed, items={"header": seed["items"]["header"], "data": rows[i:i + 3]})
        (tmp_path / f"page_{i:03d}.json").write_text(json.dumps(page))
    (tmp_path / "notes.txt").write_text("ignored: not json")
    table = ha.read_trials(tmp_path)
    assert table.equals(ha.read_trials(DATA / "seed_trials.json"))


def test_bad_page_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text(json.dumps({"header": ["trial_id"], "data": [["x"]]}))
    (tmp_path / "b.json").write_text('{"header": ["trial_id"], "data": [["x", "y"]]}')
    with pytest.raises(MatrixError) as info:
        ha.read_trials(tmp_path)
    assert info.value.source == "b.json" and info.value.page == 1 and "b.json" in str(info.value)


def test_file_with_a_list_of_pages(tmp_path: Path) -> None:
    pages = [{"header": ["trial_id", "acc"], "data": [["a", "1"]]}, {"header": ["trial_id", "acc"], "data": [["b", "2"]]}]
    (tmp_path / "pages.json").write_text(json.dumps(pages))
    assert ha.read_trials(tmp_path / "pages.json")["acc"].to_pylist() == [1.0, 2.0]
    assert ha.read_curves(tmp_path / "pages.json").num_rows == 2


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="no such file"):
        ha.read_trials(tmp_path / "nope.json")
    with pytest.raises(ConfigurationError, match="no \\*.json"):
        ha.read_trials(tmp_path)
