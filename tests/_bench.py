"""Loading a script of ``benchmarks/`` as a module, for the smoke tests that keep the scripts from rotting."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@contextmanager
def benchmark_module(name: str) -> Iterator[ModuleType]:
    """``benchmarks/<name>.py`` imported as the module ``hpo_bench_<name>``.

    The module is in ``sys.modules`` while the block runs (dataclasses and
    pickling look their module up there) and is taken out afterwards.
    """
    spec = importlib.util.spec_from_file_location(f"hpo_bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None, f"no benchmarks/{name}.py"
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        sys.modules.pop(spec.name, None)
