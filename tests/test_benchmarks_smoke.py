"""Smoke test of benchmarks/normalize.py: its generator still feeds trials_to_arrow (so the script doesn't rot)."""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import pytest

from hpo_analytics import trials_to_arrow

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "normalize.py"


@pytest.fixture(scope="module")
def bench():
    if not SCRIPT.exists():
        pytest.skip("benchmarks/normalize.py is not in this checkout")
    spec = importlib.util.spec_from_file_location("hpo_bench_normalize", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses/pickling look modules up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_generated_pages_normalize(bench):
    pages = bench.generate_pages(200, 50, seed=0)
    assert len(pages) == 4
    first = json.loads(pages[0])
    assert set(first) == {"total", "count", "limit", "offset", "group_by", "items"}
    assert first["total"] == 200 and first["count"] == 50 and first["limit"] == 50
    assert first["items"]["header"] == list(bench.HEADER)
    row = first["items"]["data"][0]
    assert all(isinstance(cell, str) for i, cell in enumerate(row) if bench.HEADER[i] != "config")
    assert row[bench.HEADER.index("worker_index")] == ""
    assert row[bench.HEADER.index("config")]["trial_index"] == 0

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # generated cells must all parse
        table = trials_to_arrow(pages)
    assert table.num_rows == 200
    assert table.column_names == list(bench.EXPECTED_COLUMNS)
    assert table["trial_index"].to_pylist() == list(range(200))
    assert table["trial_id"].null_count == 0 and len(set(table["trial_id"].to_pylist())) == 200
    assert table["worker_index"].null_count == 200


def test_generator_is_seeded(bench):
    assert bench.generate_pages(60, 1000, seed=3) == bench.generate_pages(60, 1000, seed=3)
    assert bench.generate_pages(60, 1000, seed=3) != bench.generate_pages(60, 1000, seed=4)


def test_conditional_space_pages_normalize(bench):
    n = 400
    pages = bench.generate_pages(n, 50, seed=0, space="conditional")
    configs = [row[bench.HEADER.index("config")] for page in pages for row in json.loads(page)["items"]["data"]]
    extra = [c for c in configs if {"momentum", "units_l3", "warmup_steps"} & set(c)]
    assert 1 / 3 <= len(extra) / n <= 0.6  # about a third to a half of rows carry extra keys
    assert "warmup_steps" not in {k for c in configs[: n - n // 5] for k in c}  # a key that appears late
    assert all(("momentum" in c) == (c["optimizer"] == "sgd") for c in configs)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        table = trials_to_arrow(pages)
    assert table.num_rows == n
    base = [c for c in bench.EXPECTED_COLUMNS if not c.startswith("param/")]
    assert table.column_names[: len(base)] == base  # then the parameters, in the order rows first show them
    assert sorted(table.column_names[len(base):]) == sorted(f"param/{p}" for p in bench.CONDITIONAL_PARAMS)
    assert table["param/momentum"].null_count == sum("momentum" not in c for c in configs)
    assert bench.generate_pages(60, 1000, seed=3) != bench.generate_pages(60, 1000, seed=3, space="conditional")
