"""Benchmark: ``import hpo_analytics`` against the official ModelArts SDK and Optuna, in fresh interpreters.

Each candidate is imported in a new ``python`` process; the process times its
own import with ``time.perf_counter()`` (interpreter start-up excluded) and
the script also records the process's whole wall time.  The candidates run
interleaved, one of each per repetition, ``--reps`` times; medians are
printed, and the ratios of the medians (issue #14, item 4):

* ``import hpo_analytics`` <= 0.5x the official SDK's import
  (``from huaweicloudsdkmodelarts.v1 import ModelArtsClient``, the SDK's
  client import: 3.1.219 ships only ``v1``);
* ``import hpo_analytics`` <= 1.0x ``import optuna``.

For information (no verdict): ``python -c pass`` (the interpreter alone),
``hpo-analytics --help`` (as ``python -m hpo_analytics --help``), and the
first use of a public name on each path (the client, the normalizer, the
analysis), which is where pandas and pyarrow are paid for.  Which of pandas,
pyarrow, numpy and matplotlib each candidate loads is printed beside it, and
the biggest imports left in ``import hpo_analytics`` (``python -X importtime``).

Bytecode caches are on for every candidate alike.  The environment here sets
``PYTHONDONTWRITEBYTECODE=1`` (so this checkout has no ``.pyc`` files while
site-packages has some); the script unsets it and points
``PYTHONPYCACHEPREFIX`` at a fresh temporary directory for every process, so
every module (the standard library's, the dependencies', this package's,
the SDK's) is compiled once by a warm-up import of each candidate and then read
from that one cache.  Nothing is written beside any source file.

A package that is not importable is reported as missing and its baseline and
verdict skipped.  The SDK is not a dependency of hpo_analytics: install it
somewhere else and point ``--sdk-path`` at it (that directory is on the path
of the SDK's own runs only)::

    pip install --target /tmp/sdk huaweicloudsdkmodelarts==3.1.219
    python benchmarks/import_time.py --sdk-path /tmp/sdk [--reps 15] [--quick]

``--quick`` runs 3 repetitions (a smoke test, not a measurement).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("pandas", "pyarrow", "numpy", "matplotlib")
SDK_TARGET = 0.5
OPTUNA_TARGET = 1.0


@dataclass(frozen=True)
class Candidate:
    label: str
    code: str  # the statement timed in a fresh interpreter ("" for the bare interpreter)
    needs: str  # the top-level module it needs ("" for none)
    role: str = "info"  # "bare", "ours", "sdk", "optuna", "help" or "info" (timed for information)
    extra_path: str = ""  # prepended to PYTHONPATH for this candidate's runs only
    argv: tuple[str, ...] = ()  # run ``python ARGV`` instead of timing ``code`` (wall time only)


def candidates(sdk_path: str) -> list[Candidate]:
    return [
        Candidate("python -c pass (interpreter only)", "", "", "bare"),
        Candidate("import hpo_analytics", "import hpo_analytics", "hpo_analytics", "ours"),
        Candidate("official SDK: from huaweicloudsdkmodelarts.v1 import ModelArtsClient",
                  "from huaweicloudsdkmodelarts.v1 import ModelArtsClient", "huaweicloudsdkmodelarts", "sdk",
                  sdk_path),
        Candidate("import optuna", "import optuna", "optuna", "optuna"),
        Candidate("hpo-analytics --help", "", "hpo_analytics", "help", argv=("-m", "hpo_analytics", "--help")),
        Candidate("from hpo_analytics import ModelArtsClient", "from hpo_analytics import ModelArtsClient",
                  "hpo_analytics"),
        Candidate("from hpo_analytics import trials_to_arrow", "from hpo_analytics import trials_to_arrow",
                  "hpo_analytics"),
        Candidate("from hpo_analytics import rank_trials", "from hpo_analytics import rank_trials",
                  "hpo_analytics"),
    ]


def environment(cache_dir: str, extra_path: str = "") -> dict[str, str]:
    """The environment of every run: this checkout first on the path, one shared bytecode cache."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPYCACHEPREFIX")}
    paths = [p for p in (extra_path, str(ROOT), os.environ.get("PYTHONPATH", "")) if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env["PYTHONPYCACHEPREFIX"] = cache_dir
    return env


def _timed_code(code: str) -> str:
    return ("import time\n_t = time.perf_counter()\n" + (code or "pass") + "\n"
            "_d = time.perf_counter() - _t\nimport sys\n"
            f"print('IMPORT', _d, *[m in sys.modules for m in {HEAVY!r}])")


def run_once(c: Candidate, cache_dir: str) -> tuple[float | None, float, dict[str, bool]]:
    """``(import seconds or None, process wall seconds, heavy modules loaded)`` of one fresh process."""
    argv = [sys.executable, *(c.argv or ("-c", _timed_code(c.code)))]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=environment(cache_dir, c.extra_path),
                          cwd=ROOT, timeout=120, check=False)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{c.label} failed (exit {done.returncode}):\n{done.stderr[-2000:]}")
    if c.argv:
        return None, wall, {}
    line = next(x for x in done.stdout.splitlines() if x.startswith("IMPORT "))
    fields = line.split()
    return float(fields[1]), wall, dict(zip(HEAVY, [f == "True" for f in fields[2:]]))


def available(c: Candidate, cache_dir: str) -> bool:
    if not c.needs:
        return True
    probe = f"import importlib.util, sys\nsys.exit(importlib.util.find_spec({c.needs!r}) is None)"
    done = subprocess.run([sys.executable, "-c", probe], env=environment(cache_dir, c.extra_path), cwd=ROOT,
                          capture_output=True, timeout=60, check=False)
    return done.returncode == 0


def loaded_by_help(cache_dir: str) -> dict[str, bool]:
    """The heavy modules ``python -m hpo_analytics --help`` imports (read from ``-X importtime``)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "hpo_analytics", "--help"],
                          env=environment(cache_dir), cwd=ROOT, capture_output=True, text=True, timeout=120,
                          check=False)
    names = {line.rsplit("|", 1)[1].strip().split(".")[0] for line in done.stderr.splitlines()
             if line.startswith("import time:") and "|" in line}
    return {m: m in names for m in HEAVY}


def _importtime(code: str, cache_dir: str) -> list[tuple[int, str]]:
    """``(cumulative microseconds, indented module name)`` of every import ``python -X importtime -c CODE`` made."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], env=environment(cache_dir), cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and line.count("|") == 2:
            _, cumulative, name = line[len("import time:"):].split("|")
            if cumulative.strip().isdigit():
                rows.append((int(cumulative), name.rstrip()))
    return rows


def biggest_imports(cache_dir: str, top: int) -> list[tuple[float, str]]:
    """The ``top`` largest cumulative times (ms) of the modules ``import hpo_analytics`` imports, one run."""
    at_startup = {name.strip() for _, name in _importtime("pass", cache_dir)}  # site and what it brings
    rows = [(us / 1000.0, name.strip()) for us, name in _importtime("import hpo_analytics", cache_dir)
            if name.strip() not in at_startup]
    return sorted(rows, reverse=True)[:top]


def _loads(flags: dict[str, bool]) -> str:
    if not flags:
        return ""
    heavy = [m for m in HEAVY if flags.get(m)]
    return "loads " + (", ".join(heavy) if heavy else "none of " + "/".join(HEAVY))


def verdict(ratio: float, limit: float) -> str:
    return "PASS" if ratio <= limit else "FAIL"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15, help="interleaved repetitions (15)")
    parser.add_argument("--quick", action="store_true", help="3 repetitions: a smoke test, not a measurement")
    parser.add_argument("--sdk-path", default=os.environ.get("HPO_BENCH_SDK_PATH", ""),
                        help="a directory holding huaweicloudsdkmodelarts (pip install --target DIR ...)")
    args = parser.parse_args(argv)
    reps = 3 if args.quick else args.reps
    if reps < 1:
        parser.error("--reps must be at least 1")

    with tempfile.TemporaryDirectory(prefix="hpo-import-bench-pyc-") as cache_dir:
        everything = candidates(args.sdk_path)
        present = [c for c in everything if available(c, cache_dir)]
        missing = [c for c in everything if c not in present]
        print(f"python {sys.version.split()[0]} ({sys.executable}); {reps} interleaved repetitions; "
              f"fresh process per import")
        print("bytecode caches on for every package alike: PYTHONDONTWRITEBYTECODE unset, PYTHONPYCACHEPREFIX -> "
              "one temporary directory, filled by a warm-up run of each candidate")
        for c in missing:
            hint = (" (pip install --target DIR huaweicloudsdkmodelarts==3.1.219, then --sdk-path DIR)"
                    if c.needs == "huaweicloudsdkmodelarts" else "")
            print(f"missing: {c.needs} is not importable: skipping '{c.label}'{hint}")

        for c in present:  # warm-up: compile every module into the shared cache
            run_once(c, cache_dir)
        imports: dict[str, list[float]] = {c.label: [] for c in present}
        walls: dict[str, list[float]] = {c.label: [] for c in present}
        loads: dict[str, dict[str, bool]] = {}
        for rep in range(reps):
            order = present[rep % len(present):] + present[:rep % len(present)]  # rotate who goes first
            for c in order:
                sec, wall, flags = run_once(c, cache_dir)
                if sec is not None:
                    imports[c.label].append(sec)
                walls[c.label].append(wall)
                loads[c.label] = flags
        role = {c.role: c for c in everything}
        help_label = role["help"].label if role["help"] in present else None
        if help_label is not None:
            loads[help_label] = loaded_by_help(cache_dir)

        width = max(len(c.label) for c in present)
        print(f"\n{'candidate':<{width}}  {'import (median)':>15}  {'process wall':>12}")
        for c in present:
            imp = f"{statistics.median(imports[c.label]) * 1000:9.1f} ms" if imports[c.label] else f"{'-':>12}"
            wall = statistics.median(walls[c.label]) * 1000
            print(f"{c.label:<{width}}  {imp:>15}  {wall:9.1f} ms  {_loads(loads.get(c.label, {}))}")

        ours = statistics.median(imports[role["ours"].label])
        failures = 0
        print("\nratios of the medians (import time, interpreter start-up excluded):")
        for c, limit in ((role["sdk"], SDK_TARGET), (role["optuna"], OPTUNA_TARGET)):
            if c not in present:
                print(f"  import hpo_analytics / {c.needs}: skipped ({c.needs} missing)")
                continue
            theirs = statistics.median(imports[c.label])
            ratio = ours / theirs
            v = verdict(ratio, limit)
            failures += v == "FAIL"
            wall_ratio = statistics.median(walls[role["ours"].label]) / statistics.median(walls[c.label])
            print(f"  import hpo_analytics / {c.needs}: {ours * 1000:.1f} / {theirs * 1000:.1f} ms = {ratio:.3f}x"
                  f"   target <= {limit}x: {v}   (whole process: {wall_ratio:.2f}x)")
        if help_label is not None:
            bare = statistics.median(walls[role["bare"].label])
            print(f"  hpo-analytics --help: {statistics.median(walls[help_label]) * 1000:.1f} ms wall, "
                  f"{bare * 1000:.1f} ms of it the bare interpreter (for information, no target)")

        print("\nbiggest imports left in 'import hpo_analytics' (python -X importtime, cumulative, one run):")
        for ms, name in biggest_imports(cache_dir, 6):
            print(f"  {ms:7.1f} ms  {name}")
    print(f"\n{'FAIL' if failures else 'PASS'}: {failures} target(s) missed"
          + (" (some baselines skipped)" if missing else ""))
    return failures


if __name__ == "__main__":
    sys.exit(main())
