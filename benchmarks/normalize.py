"""Benchmark: ``trials_to_arrow`` against the orjson floor and a naive pandas normalization.

Generates N synthetic trials (seeded, vectorised) paged as the ModelArts
``autosearch-trials`` endpoint pages them (see ``../shared/modelarts_api.md``
§3): one JSON document per page,
``{"total","count","limit","offset","group_by":"","items":{"header","data"}}``,
13 columns including the leading unnamed index, every cell a string except
``config`` (an object with the raw names, ``trial_index`` and ``param/``
duplicates), ``loss`` a PyTorch repr, ``worker_index`` always ``""``.
Rows are about 500 bytes, so 1,000,000 trials are about 0.5 GB of JSON.
Two search spaces (``--space``, default both): ``uniform``, every config
with the same six parameters, and ``conditional``, where about half the
rows carry keys others lack (``momentum`` only with ``sgd``, ``units_l3``
only with four layers, ``warmup_steps`` only late in the job); see
:func:`generate_rows`.  Every figure is reported per space.
Pages are cached under ``--cache`` (default ``/tmp/hpo_bench_cache``) so
repeated runs reuse them.

From one process, with interleaved repetitions (in a new seeded random
order every repetition), it measures the median wall time of:

* ``orjson``        ``[orjson.loads(p) for p in pages]``, default GC (the floor);
* ``orjson-nogc``   the same with the garbage collector paused;
* ``orjson-stream`` parse each page and drop it, default GC (informational:
  the floor for a converter that does not keep the parsed pages);
* ``t2a``           ``hpo_analytics.trials_to_arrow(pages)`` on the same bytes
  (msgspec's typed decoding when installed; the orjson figures stay the
  baseline the issue set);
* ``naive``         ``pd.DataFrame(data, columns=header)`` per page, ``concat``,
  ``pd.json_normalize`` of the configs, per-cell ``apply`` parsing of numbers,
  tensors and booleans, then the same de-duplication and ordering.

Targets (checked at 100,000 trials and above; smaller sizes are shown for
information):

* t2a / orjson (default GC)  <= 1.0
* t2a / orjson (GC paused)   <= 2.0
* naive / t2a                >= 5
* t2a(50-row pages) / t2a(1000-row pages) <= 1.0
* peak extra RSS of ``read_trials(dir)`` / JSON bytes <= 1.5, measured in a
  fresh subprocess per measurement (peak reset through ``/proc/self/clear_refs``
  after imports and a warm-up, then ``VmHWM`` minus the ``VmRSS`` baseline).
  The naive path reading the same files is measured the same way.

Usage::

    python benchmarks/normalize.py [--sizes 1000,100000,1000000] [--page-sizes 50,1000]
                                   [--space uniform,conditional]
                                   [--reps N] [--naive-reps N] [--skip-naive-above N]
                                   [--no-memory] [--quick] [--profile N]

``--quick`` is N = 1,000 and 100,000 with 3 repetitions.  ``--profile N``
runs cProfile over one ``trials_to_arrow`` call on N trials (1,000-row pages,
``--profile-page-size`` to change) and prints the top functions, instead of
the benchmark.
"""

from __future__ import annotations

import argparse
import gc
import random
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Bump when the generated pages change, so stale caches are not reused.
GENERATOR_VERSION = 1

HEADER: tuple[str, ...] = (
    "", "done", "pid", "config", "trial_id", "training_iteration", "time_total_s",
    "worker_index", "reward_attr", "status", "acc", "loss", "best_reward",
)
"""The all-trials endpoint's column order (the seed example's)."""

PARAM_NAMES: tuple[str, ...] = ("learning_rate", "batch_size", "optimizer", "dropout", "weight_decay", "seed_offset")

EXPECTED_COLUMNS: tuple[str, ...] = (
    "trial_id", "trial_index", "status", "done", "training_iteration", "time_total_s", "reward_attr",
    "best_reward", "pid", "worker_index", "acc", "loss",
) + tuple(f"param/{name}" for name in PARAM_NAMES)
"""The columns ``trials_to_arrow`` should produce from the generated pages (in its order)."""

SPACES = ("uniform", "conditional")

CONDITIONAL_PARAMS: tuple[str, ...] = (
    "learning_rate", "batch_size", "optimizer", "momentum", "num_layers", "units_l3", "dropout", "weight_decay",
    "seed_offset", "warmup_steps",
)
"""The conditional space's parameters (a row has some of them; see :func:`generate_rows`)."""

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "hpo_bench_cache"
N_ITERATIONS = 12
_STATUSES = ("TERMINATED", "ERROR", "RUNNING", "PAUSED", "PENDING")
_STATUS_P = (0.86, 0.04, 0.05, 0.01, 0.04)


# --------------------------------------------------------------------------- generator


def _join(*parts: Any) -> pa.Array:
    """Concatenate cells and literal text element-wise (the last part is not a separator: none is used)."""
    parts = tuple(pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts)
    return pc.binary_join_element_wise(*parts, pa.scalar("", pa.large_string()))


def _text(values: np.ndarray) -> pa.Array:
    """Numbers as decimal text, vectorised by Arrow (shortest round-trip digits; ``nan`` for NaN)."""
    return pc.cast(pa.array(values), pa.large_string())


def _blank(cells: pa.Array, mask: np.ndarray) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar("", pa.large_string()), cells)


def _hex8(values: np.ndarray) -> pa.Array:
    """Each uint32 as 8 lowercase hex digits."""
    digits = np.frombuffer(b"0123456789abcdef", dtype=np.uint8)
    nibbles = (values[:, None] >> np.arange(28, -1, -4, dtype=np.uint64)[None, :]) & np.uint64(0xF)
    text = np.ascontiguousarray(digits[nibbles.astype(np.intp)]).view("S8").ravel()
    return pc.cast(pa.array(text, pa.binary()), pa.large_string())


def _fixed4(values: np.ndarray) -> pa.Array:
    """``"%.4f" % v`` for finite non-negative values, ``nan`` for NaN (how PyTorch prints a scalar)."""
    finite = np.isfinite(values)
    scaled = np.rint(np.where(finite, values, 0.0) * 10_000).astype(np.int64)
    whole = pc.cast(pa.array(scaled // 10_000), pa.large_string())
    frac = pc.utf8_lpad(pc.cast(pa.array(scaled % 10_000), pa.large_string()), 4, "0")
    text = _join(whole, ".", frac)
    return pc.if_else(pa.array(finite), text, pa.scalar("nan", pa.large_string()))


def generate_rows(n: int, *, seed: int = 0, space: str = "uniform") -> pa.Array:
    """``n`` trial rows as compact JSON array text, each followed by ``,`` (seeded, vectorised).

    Returns a ``large_string`` Arrow array (one row per element) so pages are
    cut from its contiguous buffer without per-row Python work.  Row ``i`` is
    trial ``trial_index == i``; its cells follow :data:`HEADER`.  Statuses are
    mostly TERMINATED with some ERROR/RUNNING/PAUSED/PENDING; PENDING trials
    (and ERROR trials that never reported) have empty iteration, time and
    metric cells; about 1 % of reported trials diverged (``acc`` ``"nan"``,
    ``loss`` ``tensor(nan, ...)``).  Numbers are written with Arrow's shortest
    round-trip formatting, which writes small magnitudes positionally
    (``0.0000303...`` where Python's ``repr`` writes ``3.03...e-05``): the same
    values, both valid JSON and decimal text.

    ``space="conditional"`` makes a search space with conditional
    parameters (see :data:`CONDITIONAL_PARAMS`): ``num_layers`` in every row,
    ``momentum`` only where ``optimizer`` is ``"sgd"`` (a third of rows),
    ``units_l3`` only where ``num_layers`` is 4 (a quarter), and
    ``warmup_steps`` in half the rows of the last fifth of the job only (a
    key that first appears late); about half the rows carry an extra key.
    The uniform space's rows are unchanged (its draws come first).
    """
    if space not in SPACES:
        raise ValueError(f"space must be one of {SPACES}, not {space!r}")
    rng = np.random.default_rng([seed, 0xBE7C])
    index = np.arange(n, dtype=np.int64)
    lr = np.exp(rng.uniform(np.log(1e-5), np.log(1e-1), n))
    batch = np.array([16, 32, 64, 128, 256])[rng.integers(0, 5, n)]
    optimizer = pa.array(["adam", "sgd", "rmsprop"], pa.large_string()).take(pa.array(rng.integers(0, 3, n)))
    dropout = rng.uniform(0.0, 0.6, n)
    decay = np.exp(rng.uniform(np.log(1e-6), np.log(1e-2), n))
    seed_offset = rng.integers(0, 100, n)

    status_code = rng.choice(len(_STATUSES), size=n, p=_STATUS_P)
    status = pa.array(_STATUSES, pa.large_string()).take(pa.array(status_code))
    iteration = np.where(status_code == 0, N_ITERATIONS, rng.integers(1, N_ITERATIONS, n))
    iteration = np.where(status_code == 1, rng.integers(0, N_ITERATIONS, n), iteration)
    iteration = np.where(status_code == 4, 0, iteration)
    reported = iteration > 0

    asym = np.clip(0.92 - 0.05 * (np.log10(lr) + 2.5) ** 2 - 0.8 * (dropout - 0.2) ** 2 + rng.normal(0, 0.01, n),
                   0.1, 0.99)
    progress = 1.0 - np.exp(-iteration / 3.0)
    acc = np.round(np.clip(0.1 + (asym - 0.1) * progress + rng.normal(0, 0.008, n), 0.0, 1.0), 6)
    best = np.round(np.maximum(acc, acc + rng.uniform(0.0, 0.02, n)), 6)
    loss = -0.5 * np.log(asym) + (2.3 + 0.5 * np.log(asym)) * (1.0 - progress)
    diverged = rng.random(n) < 0.01
    acc[diverged] = np.nan
    loss[diverged] = np.nan
    time_total = iteration * 20.0 * rng.lognormal(0.0, 0.1, n) + rng.uniform(0.5, 2.0, n)
    pid = rng.integers(300, 32768, n)

    # Unique 8-hex-digit ids: an invertible mix of the index modulo 2**32 (odd multiplies, xor-shifts).
    mask32 = np.uint64(0xFFFFFFFF)
    x = (index.astype(np.uint64) * np.uint64(0x9E3779B1) + np.uint64((seed * 0x85EBCA6B + 0x6A09) & 0xFFFFFFFF))
    x &= mask32
    x ^= x >> np.uint64(15)
    x = (x * np.uint64(0x2C1B3C6D)) & mask32
    x ^= x >> np.uint64(12)
    trial_id = _hex8(x)

    lr_t, dropout_t, decay_t = _text(lr), _text(dropout), _text(decay)
    batch_t, seed_t, index_t = _text(batch), _text(seed_offset), _text(index)
    not_reported = ~reported
    acc_t = _blank(_text(acc), not_reported)
    best_t = _blank(_text(best), not_reported)
    loss_t = _blank(_join("tensor(", _fixed4(loss), ", device='cuda:0', requires_grad=True)"),
                    not_reported)
    time_t = _blank(_text(time_total), not_reported)
    iter_t = _blank(_text(iteration), status_code == 4)
    done_t = pa.array(np.where(status_code == 0, "True", "False"), pa.large_string())
    pid_t = _text(pid)

    def raw(prefix: str) -> list[Any]:
        """The config's keys (``prefix`` "" or "param/"), literal pieces and cells alternating."""
        if space == "uniform":
            return [f',"{prefix}learning_rate":', lr_t, f',"{prefix}batch_size":', batch_t,
                    f',"{prefix}optimizer":"', optimizer, f'","{prefix}dropout":', dropout_t,
                    f',"{prefix}weight_decay":', decay_t, f',"{prefix}seed_offset":', seed_t]
        return [f',"{prefix}learning_rate":', lr_t, f',"{prefix}batch_size":', batch_t,
                f',"{prefix}optimizer":"', optimizer, '"', _where(is_sgd, f',"{prefix}momentum":', momentum_t),
                f',"{prefix}num_layers":', layers_t, _where(layers == 4, f',"{prefix}units_l3":', units_t),
                f',"{prefix}dropout":', dropout_t, f',"{prefix}weight_decay":', decay_t,
                f',"{prefix}seed_offset":', seed_t, _where(warm, f',"{prefix}warmup_steps":', warmup_t)]

    if space == "conditional":  # drawn after everything above, so the uniform rows stay as they were
        is_sgd = pc.equal(optimizer, "sgd").to_numpy(zero_copy_only=False)
        momentum_t = _text(np.round(rng.uniform(0.5, 0.99, n), 3))
        layers = rng.integers(1, 5, n)
        layers_t = _text(layers)
        units_t = _text(np.array([32, 64, 128, 256])[rng.integers(0, 4, n)])
        warm = (index >= n - n // 5) & (rng.random(n) < 0.5)
        warmup_t = _text(rng.integers(0, 2000, n))

    # Literal pieces and cells, alternating; the row ends with "," so a page is one slice of the buffer.
    parts: list[Any] = [
        '["', index_t, '","', done_t, '","', pid_t, '",{', raw("")[0][1:], *raw("")[1:],
        ',"trial_index":', index_t, *raw("param/"),
        '},"', trial_id, '","', iter_t,
        '","', time_t, '","","', acc_t, '","', status, '","', acc_t, '","', loss_t, '","', best_t, '"],',
    ]
    return _join(*parts)


def _where(mask: np.ndarray, literal: str, cells: pa.Array) -> pa.Array:
    """``literal`` followed by the cell where ``mask``, else nothing (a key only some rows have)."""
    return pc.if_else(pa.array(mask), _join(literal, cells), pa.scalar("", pa.large_string()))


def pages_from_rows(rows: pa.Array, page_size: int) -> Iterator[bytes]:
    """Page rows as the service does: one response document per ``page_size`` rows."""
    total = len(rows)
    head = json.dumps(list(HEADER), separators=(",", ":"))
    if total == 0:
        yield (f'{{"total":0,"count":0,"limit":{page_size},"offset":0,"group_by":"",'
               f'"items":{{"header":{head},"data":[]}}}}').encode()
        return
    _, offsets_buf, data_buf = rows.buffers()
    offsets = np.frombuffer(offsets_buf, dtype=np.int64)[rows.offset:rows.offset + total + 1]
    data = memoryview(data_buf)
    suffix = b"]}}"
    for page, start in enumerate(range(0, total, page_size)):
        stop = min(start + page_size, total)
        prefix = (f'{{"total":{total},"count":{stop - start},"limit":{page_size},"offset":{page},"group_by":"",'
                  f'"items":{{"header":{head},"data":[').encode()
        yield b"".join((prefix, data[offsets[start]:offsets[stop] - 1], suffix))  # drop the last row's ","


def generate_pages(n: int, page_size: int, *, seed: int = 0, space: str = "uniform") -> list[bytes]:
    """``n`` synthetic trials as a list of page JSON bytes (in memory, no cache)."""
    return list(pages_from_rows(generate_rows(n, seed=seed, space=space), page_size))


def cache_dir(cache: Path, n: int, page_size: int, seed: int, space: str = "uniform") -> Path:
    kind = "" if space == "uniform" else f"{space}-"
    return cache / f"v{GENERATOR_VERSION}-{kind}seed{seed}-n{n}-p{page_size}"


def ensure_pages(cache: Path, n: int, page_sizes: Iterable[int], *, seed: int = 0,
                 space: str = "uniform") -> dict[int, Path]:
    """Write the pages of every page size to ``cache`` (once) and return their directories."""
    dirs = {p: cache_dir(cache, n, p, seed, space) for p in page_sizes}
    missing = [p for p, d in dirs.items() if not (d / "COMPLETE").exists()]
    if missing:
        t0 = time.perf_counter()
        rows = generate_rows(n, seed=seed, space=space)
        t1 = time.perf_counter()
        for p in missing:
            d = dirs[p]
            tmp = d.with_name(d.name + f".tmp{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            tmp.mkdir(parents=True)
            total = 0
            for i, page in enumerate(pages_from_rows(rows, p)):
                (tmp / f"page_{i:06d}.json").write_bytes(page)
                total += len(page)
            (tmp / "COMPLETE").write_text(json.dumps({"n": n, "page_size": p, "bytes": total}))
            shutil.rmtree(d, ignore_errors=True)
            tmp.rename(d)
        del rows
        print(f"  generated {n:,} trials in {t1 - t0:.1f} s, wrote {len(missing)} page set(s) "
              f"in {time.perf_counter() - t1:.1f} s", flush=True)
    return dirs


def load_pages(directory: Path) -> list[bytes]:
    return [f.read_bytes() for f in sorted(directory.glob("page_*.json"))]


# --------------------------------------------------------------------------- naive


_WRAPPED = re.compile(r"^\s*(?:tensor|array|np\.\w+)\(\s*([^,()\s]+)")


def _naive_number(cell: Any) -> float:
    if cell is None or cell in ("", "None", "null"):
        return np.nan
    if isinstance(cell, (int, float)):
        return float(cell)
    match = _WRAPPED.match(cell)
    if match:
        cell = match.group(1)
    try:
        return float(cell)
    except ValueError:
        return np.nan


def _naive_bool(cell: Any) -> Any:
    if cell in ("True", "true", True):
        return True
    if cell in ("False", "false", False):
        return False
    return None


def naive_normalize(pages: Iterable[bytes]) -> Any:
    """What one writes first with pandas: a frame per page, json_normalize, per-cell apply."""
    import orjson
    import pandas as pd

    frames = []
    for raw in pages:
        items = orjson.loads(raw)["items"]
        frames.append(pd.DataFrame(items["data"], columns=items["header"]))
    df = pd.concat(frames, ignore_index=True).drop(columns=[""])
    del frames
    config = pd.json_normalize(df.pop("config").tolist())
    params = config[["trial_index"] + [c for c in config.columns if c.startswith("param/")]]
    for col in ("time_total_s", "reward_attr", "best_reward", "acc", "loss"):
        df[col] = df[col].apply(_naive_number)
    for col in ("training_iteration", "pid", "worker_index"):
        df[col] = df[col].apply(_naive_number).astype("Int64")
    df["done"] = df["done"].apply(_naive_bool).astype("boolean")
    df = pd.concat([df, params], axis=1)
    df = df.sort_values(["trial_id", "training_iteration"], kind="stable").drop_duplicates("trial_id", keep="last")
    return df.sort_values("trial_index", kind="stable").reset_index(drop=True)


# --------------------------------------------------------------------------- timing


def _orjson_all(pages: list[bytes]) -> Any:
    import orjson

    loads = orjson.loads
    return [loads(p) for p in pages]


def _orjson_stream(pages: list[bytes]) -> None:
    import orjson

    loads = orjson.loads
    for p in pages:
        loads(p)


def _timed(fn: Callable[[], Any], *, gc_paused: bool = False) -> float:
    gc.collect()
    if gc_paused:
        gc.disable()
    try:
        t0 = time.perf_counter()
        out = fn()
        elapsed = time.perf_counter() - t0
    finally:
        if gc_paused:
            gc.enable()
    del out  # freeing the result is not part of the measurement
    gc.collect()
    return elapsed


def _tasks(pages: dict[int, list[bytes]], naive: bool) -> list[tuple[str, int, Callable[[], float]]]:
    from hpo_analytics import trials_to_arrow

    tasks = []
    for p, data in pages.items():
        tasks += [
            ("orjson", p, lambda d=data: _timed(lambda: _orjson_all(d))),
            ("orjson-nogc", p, lambda d=data: _timed(lambda: _orjson_all(d), gc_paused=True)),
            ("orjson-stream", p, lambda d=data: _timed(lambda: _orjson_stream(d))),
            ("t2a", p, lambda d=data: _timed(lambda: trials_to_arrow(d))),
        ]
        if naive:
            tasks.append(("naive", p, lambda d=data: _timed(lambda: naive_normalize(d))))
    return tasks


def run_timings(pages: dict[int, list[bytes]], *, reps: int, naive_reps: int) -> dict[tuple[str, int], list[float]]:
    tasks = _tasks(pages, naive=naive_reps > 0)
    times: dict[tuple[str, int], list[float]] = {(name, p): [] for name, p, _ in tasks}
    shuffle = random.Random(0xB3AC4).shuffle  # seeded: the same orders in every run
    for rep in range(max(reps, naive_reps)):
        # A fresh order every repetition, so no method always runs first or right after the
        # same other one (a rotation keeps every method's neighbours, and the heap a method
        # leaves behind slows whichever one always follows it).
        order = list(tasks)
        shuffle(order)
        for name, p, run in order:
            if rep >= (naive_reps if name == "naive" else reps):
                continue
            times[(name, p)].append(run())
        done = ", ".join(f"{k[0]}@{k[1]} {v[-1]:.2f}" for k, v in times.items() if len(v) == rep + 1)
        print(f"    rep {rep + 1}: {done}", flush=True)
    return times


# --------------------------------------------------------------------------- memory


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def _memory_child(method: str, directory: str) -> None:
    """Runs in a fresh interpreter: peak RSS increase of one read of ``directory``."""
    import orjson  # noqa: F401
    import pandas  # noqa: F401
    import pyarrow  # noqa: F401

    from hpo_analytics import read_trials, trials_to_arrow

    warm = generate_pages(200, 50, seed=1)  # lazy imports, kernels, thread pool: not part of the figure
    trials_to_arrow(warm) if method == "t2a" else naive_normalize(warm)
    del warm
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    before = _status_kb("VmRSS")
    t0 = time.perf_counter()
    if method == "t2a":
        result = read_trials(directory)
        rows, result_bytes = result.num_rows, result.nbytes
    else:
        files = sorted(Path(directory).glob("page_*.json"))
        result = naive_normalize(f.read_bytes() for f in files)
        rows, result_bytes = len(result), int(result.memory_usage(deep=True).sum())
    elapsed = time.perf_counter() - t0
    peak = _status_kb("VmHWM")
    print(json.dumps({"extra": (peak - before) * 1024, "rows": rows, "result_bytes": result_bytes,
                      "seconds": elapsed, "peak_reset": reset}))


def measure_memory(method: str, directory: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), "--_memory-child", method, str(directory)],
        capture_output=True, text=True, check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"memory child failed ({method}, {directory}):\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------- report


def _verdict(ok: bool, checked: bool) -> str:
    if not checked:
        return "(info)"
    return "PASS" if ok else "FAIL"


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _fmt_s(v: float | None) -> str:
    return "-" if v is None else f"{v:8.3f}"


def _fmt_mb(b: float | None) -> str:
    return "-" if b is None else f"{b / 2**20:,.0f} MB"


def profile(n: int, page_size: int, cache: Path, seed: int, top: int, space: str = "uniform") -> None:
    import cProfile
    import pstats

    from hpo_analytics import trials_to_arrow

    dirs = ensure_pages(cache, n, [page_size], seed=seed, space=space)
    pages = load_pages(dirs[page_size])
    print(f"cProfile of trials_to_arrow: {n:,} trials ({space} space), {len(pages):,} pages of {page_size} rows "
          f"({sum(map(len, pages)) / 2**20:,.0f} MB); the cell-parsing worker thread is not profiled, "
          f"its wait shows as Future.result", flush=True)
    profiler = cProfile.Profile()
    t0 = time.perf_counter()
    profiler.enable()
    table = trials_to_arrow(pages)
    profiler.disable()
    print(f"wall {time.perf_counter() - t0:.2f} s (under the profiler), {table.num_rows:,} rows")
    stats = pstats.Stats(profiler).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,100000,1000000", help="trial counts, comma-separated")
    parser.add_argument("--page-sizes", default="50,1000", help="rows per page, comma-separated")
    parser.add_argument("--space", default=",".join(SPACES),
                        help="search spaces, comma-separated: uniform (every config has the same keys), "
                             "conditional (keys that only some rows have, one appearing late); default both")
    parser.add_argument("--reps", type=int, default=None,
                        help="repetitions per measurement (default 5, or 3 for N >= 1,000,000)")
    parser.add_argument("--naive-reps", type=int, default=None, help="repetitions of the naive path (default --reps)")
    parser.add_argument("--skip-naive-above", type=int, default=None, help="skip the naive path for N above this")
    parser.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    parser.add_argument("--quick", action="store_true", help="N = 1,000 and 100,000 with 3 repetitions (smoke run)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help=f"page cache (default {DEFAULT_CACHE})")
    parser.add_argument("--profile", type=int, default=None, metavar="N",
                        help="profile trials_to_arrow on N trials with cProfile instead of benchmarking")
    parser.add_argument("--profile-page-size", type=int, default=1000)
    parser.add_argument("--top", type=int, default=25, help="rows of the profile to print")
    parser.add_argument("--_memory-child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args._memory_child:
        _memory_child(*args._memory_child)
        return 0
    if args.profile is not None:
        profile(args.profile, args.profile_page_size, args.cache, args.seed, args.top, args.space.split(",")[0])
        return 0

    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",")]
    if args.quick:
        sizes = [1000, 100_000]
        args.reps = args.reps or 3
    page_sizes = [int(s) for s in args.page_sizes.split(",")]
    spaces = [s.strip() for s in args.space.split(",")]
    if not set(spaces) <= set(SPACES):
        parser.error(f"--space takes {', '.join(SPACES)}")

    import hpo_analytics
    import orjson
    import pandas
    import pyarrow
    from hpo_analytics.normalize import _fastpages

    msgspec = f"msgspec {_fastpages.msgspec.__version__}" if _fastpages.AVAILABLE else "no msgspec (generic path only)"
    print(f"python {sys.version.split()[0]}, hpo_analytics {hpo_analytics.__version__}, orjson {orjson.__version__}, "
          f"{msgspec}, "
          f"pandas {pandas.__version__}, pyarrow {pyarrow.__version__}, numpy {np.__version__}, "
          f"{os.cpu_count()} CPUs; load average {os.getloadavg()[0]:.2f}", flush=True)
    results: dict[tuple[str, int], dict[str, Any]] = {}
    for n, space in [(n, space) for n in sizes for space in spaces]:
        reps = args.reps or (3 if n >= 1_000_000 else 5)
        naive_reps = args.naive_reps if args.naive_reps is not None else reps
        if args.skip_naive_above is not None and n > args.skip_naive_above:
            naive_reps = 0
        print(f"\nN = {n:,}, {space} space: {reps} reps (naive: {naive_reps})", flush=True)
        dirs = ensure_pages(args.cache, n, page_sizes, seed=args.seed, space=space)
        pages = {p: load_pages(d) for p, d in dirs.items()}
        json_bytes = {p: sum(map(len, data)) for p, data in pages.items()}
        times = run_timings(pages, reps=reps, naive_reps=naive_reps)
        del pages
        gc.collect()
        memory: dict[tuple[str, int], dict[str, Any]] = {}
        if not args.no_memory:
            for p, d in dirs.items():
                for method in ("t2a", "naive"):
                    if method == "naive" and naive_reps == 0:
                        continue
                    memory[(method, p)] = m = measure_memory(method, d)
                    print(f"    memory {method}@{p}: +{_fmt_mb(m['extra'])} for {_fmt_mb(json_bytes[p])} of JSON "
                          f"({m['seconds']:.1f} s, {m['rows']:,} rows)", flush=True)
        print(f"    load average now {os.getloadavg()[0]:.2f} (other processes share the 2 cores)", flush=True)
        results[(space, n)] = {"times": times, "json_bytes": json_bytes, "memory": memory, "reps": reps,
                      "naive_reps": naive_reps}

    failures = report(results, page_sizes)
    return 1 if failures else 0


def report(results: dict[tuple[str, int], dict[str, Any]], page_sizes: list[int]) -> int:
    methods = ("orjson", "orjson-nogc", "orjson-stream", "t2a", "naive")
    print("\n== Medians (seconds) ==")
    print(f"{'space':<11} {'N':>10} {'page':>5} {'JSON':>8} " + " ".join(f"{m:>13}" for m in methods))
    for (space, n), r in results.items():
        for p in page_sizes:
            med = [_median(r["times"].get((m, p), [])) for m in methods]
            print(f"{space:<11} {n:>10,} {p:>5} {_fmt_mb(r['json_bytes'][p]):>8} "
                  + " ".join(f"{_fmt_s(v):>13}" for v in med))

    failures = 0
    print("\n== Ratios (medians; targets checked at N >= 100,000) ==")
    print(f"{'space':<11} {'N':>10} {'page':>5}  {'ratio':<34} {'value':>7}  {'target':<7} verdict")
    for (space, n), r in results.items():
        checked = n >= 100_000
        med = {k: _median(v) for k, v in r["times"].items()}
        for p in page_sizes:
            t2a = med.get(("t2a", p))
            rows = [
                ("t2a / orjson (default GC)", t2a / med[("orjson", p)], "<= 1.0", lambda x: x <= 1.0),
                ("t2a / orjson (GC paused)", t2a / med[("orjson-nogc", p)], "<= 2.0", lambda x: x <= 2.0),
                ("t2a / orjson-stream (info)", t2a / med[("orjson-stream", p)], "", None),
            ]
            if med.get(("naive", p)):
                rows.append(("naive / t2a", med[("naive", p)] / t2a, ">= 5", lambda x: x >= 5.0))
            mem = r["memory"].get(("t2a", p))
            if mem:
                rows.append(("read_trials peak extra / JSON bytes", mem["extra"] / r["json_bytes"][p], "<= 1.5",
                             lambda x: x <= 1.5))
            nmem = r["memory"].get(("naive", p))
            if nmem:
                rows.append(("naive peak extra / JSON bytes (info)", nmem["extra"] / r["json_bytes"][p], "", None))
            for label, value, target, ok in rows:
                verdict = _verdict(ok(value), checked) if ok else ""
                failures += verdict == "FAIL"
                print(f"{space:<11} {n:>10,} {p:>5}  {label:<34} {value:7.2f}  {target:<7} {verdict}")
        if 50 in page_sizes and 1000 in page_sizes:
            value = med[("t2a", 50)] / med[("t2a", 1000)]
            verdict = _verdict(value <= 1.0, checked)
            failures += verdict == "FAIL"
            print(f"{space:<11} {n:>10,} {'':>5}  {'t2a(50-row) / t2a(1000-row pages)':<34} {value:7.2f}  "
                  f"{'<= 1.0':<7} {verdict}")

    if any(r["memory"] for r in results.values()):
        print("\n== Peak extra RSS (fresh subprocess per figure) ==")
        for (space, n), r in results.items():
            for (method, p), m in r["memory"].items():
                print(f"{space:<11} {n:>10,} {p:>5}  {method:<6} +{_fmt_mb(m['extra']):>9} "
                      f"({m['extra'] / r['json_bytes'][p]:.2f}x of {_fmt_mb(r['json_bytes'][p])} JSON; "
                      f"result {_fmt_mb(m['result_bytes'])}; {m['seconds']:.1f} s)")
    print(f"\n{'FAIL' if failures else 'PASS'}: {failures} target(s) missed")
    return failures


if __name__ == "__main__":
    sys.exit(main())
