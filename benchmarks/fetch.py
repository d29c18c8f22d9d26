"""Benchmark: fetch_trials against plain httpx, with the simulator in its own process.

Starts ``python -m hpo_analytics simulate`` as a subprocess (its own process,
so its CPU does not compete with the client's GIL) with the given trials and
added latency per request, reads the URL, project id, job id and token it
prints, and then interleaves, in one client process:

* ``fetch_trials``: ``ModelArtsClient.fetch_trials(job)`` with the defaults
  (pages of 1000, ``max_concurrency`` 8; the offset probe and the job-details
  call included);
* ``plain httpx``: an ``httpx.Client`` with the same connection limits and a
  thread pool of the same size GETting the same pages (``limit=<the page size
  fetch_trials used>``, record offsets 0, L, 2L, ...), streamed in page order
  into ``trials_to_arrow(bytes)``: what a hand-written script would do;
* with ``--page-size-50``, also ``fetch_trials(page_size=50)`` (the old
  default), for comparison.

For each it records wall time, client CPU (``time.process_time``: every
thread of this process) and the requests sent (counted by a transport
wrapper for the client, known for the plain loop), and the simulator's CPU
time over the run (psutil, else ``/proc/<pid>/stat``).  It prints medians,
and two ratios against the targets of issue #14:

* ``fetch_trials`` wall / plain wall, target <= 1.2;
* ``fetch_trials`` client CPU per request / plain CPU per request, target <= 1.2;

and how busy the simulator was (its CPU seconds per wall second; 1.0 is one
core saturated: then the simulator, not the client, is the bottleneck).

With ``--curves N`` (default 400; 0 skips it) it then interleaves, over the
histories of the job's first N trials (one request each):

* ``fetch_curves``: ``ModelArtsClient.fetch_curves(job, ids)`` with 8 in flight
  (the job-details call included);
* ``plain httpx``: the same GETs with 8 threads, ``orjson``-parsed, into
  ``curves_to_arrow``;
* ``fetch_curves, 1 in flight``: ``max_concurrency=1``;

and prints fetch_curves's client CPU per request / plain's (target <= 1.2)
and 1 in flight / 8 in flight wall (target >= 5).

Usage::

    python benchmarks/fetch.py [--trials 50000] [--latency 0.02] [--reps 5] [--page-size-50] [--curves 400]
    python benchmarks/fetch.py --quick      # smoke test: 2,000 trials, 1 rep
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from hpo_analytics import _jsonutil, curves_to_arrow, trials_to_arrow
from hpo_analytics.client import ModelArtsClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _simproc beside this script
from _simproc import CountingTransport, SimProcess, start_simulate  # noqa: E402


# ----------------------------------------------------------------------------- the simulator process


def start_simulator(trials: int, latency: float, seed: int = 0) -> SimProcess:
    """``hpo-analytics simulate`` with one job of ``trials`` trials, ``latency`` s added per request."""
    return start_simulate(["--trials", str(trials), "--seed", str(seed)]
                          + (["--latency", str(latency)] if latency > 0 else []))


# ----------------------------------------------------------------------------- the two paths


def plain_fetch(http: httpx.Client, pool: ThreadPoolExecutor, sim: SimProcess, trials: int,
                page_size: int) -> tuple[int, int]:
    """GET every page with the pool, stream the bytes in page order into trials_to_arrow; (rows, requests)."""
    base = f"{sim.url}/v2/{sim.project_id}/training-jobs/{sim.job_id}/autosearch-trials"

    def get(offset: int) -> bytes:
        response = http.get(base, params={"limit": page_size, "offset": offset})
        response.raise_for_status()
        return response.content

    offsets = list(range(0, trials, page_size)) or [0]
    futures = [pool.submit(get, offset) for offset in offsets]
    table = trials_to_arrow(f.result() for f in futures)
    return table.num_rows, len(offsets)


def plain_curves(http: httpx.Client, pool: ThreadPoolExecutor, sim: SimProcess, ids: list[str]) -> tuple[int, int]:
    """GET every trial's history with the pool, parse, curves_to_arrow; (rows, requests)."""
    base = f"{sim.url}/v2/{sim.project_id}/training-jobs/{sim.job_id}/autosearch-trials/"

    def get(trial_id: str) -> object:
        response = http.get(base + trial_id)
        response.raise_for_status()
        return _jsonutil.loads(response.content)

    return curves_to_arrow(list(pool.map(get, ids))).num_rows, len(ids)


@dataclass
class Runs:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    sim_cpu: list[float] = field(default_factory=list)

    def add(self, sim: SimProcess, fn: Callable[[], tuple[int, int]], expected_rows: int) -> None:
        s0, c0, w0 = sim.cpu_seconds(), time.process_time(), time.perf_counter()
        rows, requests = fn()
        w1, c1, s1 = time.perf_counter(), time.process_time(), sim.cpu_seconds()
        if expected_rows >= 0 and rows != expected_rows:
            raise AssertionError(f"expected {expected_rows} rows, got {rows}")
        self.wall.append(w1 - w0)
        self.cpu.append(c1 - c0)
        self.requests.append(requests)
        self.sim_cpu.append(s1 - s0)

    def med(self, what: str) -> float:
        return statistics.median(getattr(self, what))

    def cpu_per_request(self) -> float:
        return statistics.median(c / r for c, r in zip(self.cpu, self.requests))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=50_000)
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added per request (default 0.02)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--page-size-50", action="store_true", help="also time fetch_trials(page_size=50)")
    parser.add_argument("--curves", type=int, default=400, metavar="N",
                        help="also time fetch_curves over the first N trials' histories (default 400; 0: skip)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 2,000 trials, 5 ms, 1 rep, 40 histories")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.latency, args.reps, args.curves = 2_000, 0.005, 1, min(args.curves, 40)

    t0 = time.perf_counter()
    sim = start_simulator(args.trials, args.latency)
    try:
        print(f"simulator (pid {sim.proc.pid}) with {args.trials} trials, {args.latency * 1000:.0f} ms added "
              f"latency, ready in {time.perf_counter() - t0:.1f} s", flush=True)
        # the client never closes a transport it was given: the with closes this one
        with CountingTransport() as counter, ModelArtsClient(endpoint=sim.url, project_id=sim.project_id,
                                                             token=sim.token, transport=counter) as client:
            concurrency = client.max_concurrency
            limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
            with httpx.Client(headers={"X-Auth-Token": sim.token}, limits=limits, timeout=60) as http, \
                    ThreadPoolExecutor(max_workers=concurrency) as pool:

                def fetch(page_size: int | None = None) -> tuple[int, int]:
                    before = counter.count
                    rows = client.fetch_trials(sim.job_id, page_size=page_size).num_rows
                    return rows, counter.count - before

                fetch()  # warm up connections and code paths
                page_size = client.trials_page_size or 1000
                plain_fetch(http, pool, sim, args.trials, page_size)
                variants: dict[str, Callable[[], tuple[int, int]]] = {
                    "fetch_trials": fetch,
                    "plain httpx + trials_to_arrow": lambda: plain_fetch(http, pool, sim, args.trials, page_size),
                }
                if args.page_size_50:
                    variants["fetch_trials(page_size=50)"] = lambda: fetch(50)
                runs = {name: Runs() for name in variants}
                for rep in range(args.reps):
                    for name, fn in variants.items():
                        runs[name].add(sim, fn, args.trials)
                    print(f"rep {rep + 1}/{args.reps}: "
                          + ", ".join(f"{n} {r.wall[-1]:.3f} s" for n, r in runs.items()), flush=True)
                curve_runs = time_curves(args, sim, client, counter, http, pool) if args.curves > 0 else {}
    finally:
        sim.stop()

    print()
    print(f"{args.trials} trials, fetch_trials served in pages of {page_size}, {args.latency * 1000:.0f} ms added "
          f"latency, max_concurrency {concurrency}, {args.reps} interleaved reps (medians)")
    report(runs)
    ours, plain = runs["fetch_trials"], runs["plain httpx + trials_to_arrow"]
    wall_ratio = ours.med("wall") / plain.med("wall")
    cpu_ratio = ours.cpu_per_request() / plain.cpu_per_request()
    total_cpu_ratio = ours.med("cpu") / plain.med("cpu")
    print(f"  fetch_trials / plain wall            = {verdict(wall_ratio, at_most=1.2)}")
    print(f"  fetch_trials / plain CPU per request = {verdict(cpu_ratio, at_most=1.2)}; "
          f"total client CPU {total_cpu_ratio:.2f}x")
    if "fetch_trials(page_size=50)" in runs:
        old = runs["fetch_trials(page_size=50)"]
        print(f"  fetch_trials(page_size=50) / fetch_trials (default) wall = {old.med('wall') / ours.med('wall'):.2f}x")
    if curve_runs:
        print()
        print(f"histories of {args.curves} trials (one request each), {args.latency * 1000:.0f} ms added latency, "
              f"{args.reps} interleaved reps (medians)")
        report(curve_runs)
        eight, plain8, one = (curve_runs[k] for k in ("fetch_curves", "plain httpx + curves_to_arrow",
                                                      "fetch_curves, 1 in flight"))
        cpu_ratio = eight.cpu_per_request() / plain8.cpu_per_request()
        speedup = one.med("wall") / eight.med("wall")
        print(f"  fetch_curves / plain CPU per request    = {verdict(cpu_ratio, at_most=1.2)}")
        print(f"  fetch_curves 1 in flight / 8 in flight   = {verdict(speedup, at_least=5)}")
        print(f"  fetch_curves / plain wall               = {eight.med('wall') / plain8.med('wall'):.2f}x")
    return 0


def verdict(ratio: float, *, at_most: float | None = None, at_least: float | None = None) -> str:
    """``"1.07x (target <= 1.2x: met)"``: a ratio and whether it meets its one-sided target."""
    if at_most is not None:
        return f"{ratio:.2f}x (target <= {at_most:g}x: {'met' if ratio <= at_most else 'NOT met'})"
    assert at_least is not None
    return f"{ratio:.2f}x (target >= {at_least:g}x: {'met' if ratio >= at_least else 'NOT met'})"


def report(runs: dict[str, Runs]) -> None:
    print(f"  {'path':<32} {'wall s':>8} {'client CPU s':>13} {'requests':>9} {'CPU/request ms':>15} "
          f"{'simulator CPU s':>16} {'simulator busy':>15}")
    for name, r in runs.items():
        busy = statistics.median(s / w for s, w in zip(r.sim_cpu, r.wall))
        print(f"  {name:<32} {r.med('wall'):8.3f} {r.med('cpu'):13.3f} {r.med('requests'):9.0f} "
              f"{r.cpu_per_request() * 1000:15.2f} {r.med('sim_cpu'):16.3f} {busy:14.0%}")


def time_curves(args: argparse.Namespace, sim: SimProcess, client: ModelArtsClient, counter: CountingTransport,
                http: httpx.Client, pool: ThreadPoolExecutor) -> dict[str, Runs]:
    """Interleaved runs of fetch_curves (8 and 1 in flight) and plain httpx over the first trials' histories."""
    ids = client.fetch_trials(sim.job_id).column("trial_id").to_pylist()[: args.curves]
    with CountingTransport() as counter1, ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token,
                                                          transport=counter1, max_concurrency=1) as sequential:

        def curves(c: ModelArtsClient, count: CountingTransport) -> tuple[int, int]:
            before = count.count
            rows = c.fetch_curves(sim.job_id, ids).num_rows
            return rows, count.count - before

        variants: dict[str, Callable[[], tuple[int, int]]] = {
            "fetch_curves": lambda: curves(client, counter),
            "plain httpx + curves_to_arrow": lambda: plain_curves(http, pool, sim, ids),
            "fetch_curves, 1 in flight": lambda: curves(sequential, counter1),
        }
        for fn in variants.values():  # warm up (and the row count every run must give)
            rows = fn()[0]
        runs = {name: Runs() for name in variants}
        for rep in range(args.reps):
            for name, fn in variants.items():
                runs[name].add(sim, fn, rows)
            print(f"histories rep {rep + 1}/{args.reps}: "
                  + ", ".join(f"{n} {r.wall[-1]:.3f} s" for n, r in runs.items()), flush=True)
    return runs


if __name__ == "__main__":
    sys.exit(main())
