"""Benchmark: many jobs (issue #16), both questions in one run.

* ``sync`` (:mod:`benchmarks/sync.py`): a first sync of ``200 x 500``
  trials with curves from a simulator in its own process, then a no-change
  resync (target <= 0.05 of the first), against a bare fetch loop;
* ``query`` (:mod:`benchmarks/query.py`): best trial per job over
  1,000,000 trials, DuckDB against pandas ``read_parquet`` + ``groupby`` on
  the same files (the ratio).

Each section is its own script with its own options (``--help``); this one
runs them in turn with their defaults, or ``--quick`` sizes for a smoke run.

Usage::

    python benchmarks/fleet.py [--section sync] [--section query] [--quick]
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent

#: Each section's script and the arguments of a smoke run.
SECTIONS = {
    "sync": ("sync.py", ["--quick"]),
    "query": ("query.py", ["--jobs", "4", "--trials", "25", "--reps", "1"]),
}


def _script(name: str):
    spec = importlib.util.spec_from_file_location(f"hpo_bench_fleet_{name}", HERE / name)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up by name
    spec.loader.exec_module(module)
    return module


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--section", action="append", choices=list(SECTIONS),
                        help="run only this section (repeatable; default: both)")
    parser.add_argument("--quick", action="store_true", help="smoke-test sizes")
    args = parser.parse_args(argv)
    status = 0
    for name in args.section or list(SECTIONS):
        script, quick = SECTIONS[name]
        print(f"=== {name} (benchmarks/{script})", flush=True)
        status = max(status, _script(script).main(quick if args.quick else []))
    return status


if __name__ == "__main__":
    sys.exit(main())
