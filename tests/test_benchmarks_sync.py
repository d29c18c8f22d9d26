"""Smoke test of benchmarks/sync.py: its sync section still runs end to end (so the script doesn't rot)."""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "sync.py"


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    spec = importlib.util.spec_from_file_location("hpo_bench_sync", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look modules up by name
    spec.loader.exec_module(module)
    yield module
    sys.modules.pop(spec.name, None)


def test_the_sync_section_prints_both_medians_the_ratio_and_the_simulator_share(
    bench: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    assert bench.main(["--quick", "--section", "sync"]) == 0
    out = capsys.readouterr().out
    first = re.search(r"first sync\s+median\s+([\d.]+) s\s+(\d+) requests\s+6 jobs fetched", out)
    again = re.search(r"no-change resync\s+median\s+([\d.]+) s\s+(\d+) requests\s+6 jobs unchanged, 0 fetched", out)
    assert first and again, out
    # the no-change resync asks for the job search and one listing per running job (two of six), no history
    assert int(again.group(2)) == 3 < int(first.group(2))
    assert re.search(r"ratio resync / first sync: [\d.]+ \(target <= 0.05: (meets|misses) it\)", out)
    assert re.search(r"bare fetch loop\s+median\s+[\d.]+ s", out)
    assert re.search(r"ratio first sync / bare fetch loop: [\d.]+", out)
    assert re.search(r"simulator busy during the first sync: [\d.]+ CPU s per wall s", out)
