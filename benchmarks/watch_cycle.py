"""Benchmark: the watch loop's first cycle against plain httpx, with the simulator in its own process.

Starts this script again as ``--serve`` in a subprocess (its own process, so
its CPU does not compete with the client's GIL): a simulator with one job of
``--trials`` trials (8,000 by default), ``--running`` of them in flight at a
time and ``--elapsed`` simulated seconds past, so that the job has finished,
running and pending trials, with ``--latency`` added per request.  Then it
interleaves, in one client process:

* ``watch first cycle``: a fresh :class:`~hpo_analytics.stopping.Watcher`
  (dry run, a new temporary state directory each time, ``MedianStoppingRule``
  on ``acc``) running its first :meth:`~hpo_analytics.stopping.Watcher.cycle`
  with a ``ModelArtsClient`` (``max_concurrency`` 8): the listing, the
  histories of every trial that has reported more than its first iteration,
  the ledger, the rule;
* ``plain httpx``: an ``httpx.Client`` with the same connection limits and a
  thread pool of the same size GETting the same listing pages (``limit`` =
  the page size the client was served, record offsets 0, L, 2L, ...) into
  ``trials_to_arrow(bytes)``, then the same history URLs (the trials the
  cycle asked ``fetch_curves`` for, found in a warm-up cycle), ``orjson``-parsed
  into ``curves_to_arrow``: the fetching a hand-written script would do, and
  nothing else (no ledger, no rule).

For each it records wall time, client CPU (``time.process_time``: every
thread of this process), the requests sent and the simulator's CPU time; for
the cycle also the wall time spent in ``fetch_trials`` and ``fetch_curves``
(the rest is the ledger, the frames and the rule).  It prints medians and

* watch first cycle / plain wall;
* watch first cycle / plain client CPU per request, target <= 1.2 (issue #14,
  item 3: the cycle's CPU includes its ledger and rule, which plain does not do).

Usage::

    python benchmarks/watch_cycle.py [--trials 8000] [--running 1000] [--elapsed 1000] [--latency 0.02] [--reps 5]
    python benchmarks/watch_cycle.py --quick      # smoke test: 400 trials, 5 ms, 1 rep
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from hpo_analytics import _jsonutil, curves_to_arrow, trials_to_arrow
from hpo_analytics.client import ModelArtsClient
from hpo_analytics.stopping import MedianStoppingRule
from hpo_analytics.stopping._watch import Watcher

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _simproc beside this script
from _simproc import CountingTransport, SimProcess, start_serving  # noqa: E402


# ----------------------------------------------------------------------------- the simulator process


def serve(args: argparse.Namespace) -> int:
    """``--serve``: one job as asked, its coordinates as one JSON line on stdout, then serve until stdin closes."""
    from hpo_analytics.simulator import Faults, Simulator

    with Simulator(seed=args.seed, n_trials=1, auth="token", faults=Faults(latency=args.latency)) as sim:
        job = sim.add_job(n_trials=args.trials, max_concurrent=args.running, elapsed=args.elapsed)
        print(json.dumps({"url": sim.url, "project_id": sim.project_id, "jobs": [job], "token": sim.token}),
              flush=True)
        sys.stdin.read()  # until the parent closes our stdin (or dies)
    return 0


def start_simulator(args: argparse.Namespace) -> SimProcess:
    """This script with ``--serve`` in a subprocess."""
    return start_serving(__file__, ["--trials", str(args.trials), "--running", str(args.running),
                                    "--elapsed", str(args.elapsed), "--latency", str(args.latency),
                                    "--seed", str(args.seed)])


# ----------------------------------------------------------------------------- the two paths


class TimedClient:
    """The client as the watcher sees it, timing ``fetch_trials`` and ``fetch_curves`` and keeping the ids asked."""

    def __init__(self, client: ModelArtsClient) -> None:
        self.client = client
        self.seconds: dict[str, float] = {}
        self.curve_ids: list[str] = []

    def _timed(self, name: str, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        t0 = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - t0

    def fetch_trials(self, job_id: str, **kw: Any) -> Any:
        return self._timed("fetch_trials", self.client.fetch_trials, job_id, **kw)

    def fetch_curves(self, job_id: str, trial_ids: Any = None, **kw: Any) -> Any:
        self.curve_ids.extend(trial_ids or [])
        return self._timed("fetch_curves", self.client.fetch_curves, job_id, trial_ids, **kw)

    def early_stop(self, job_id: str, trial_id: str) -> Any:  # pragma: no cover - a dry run never stops
        raise AssertionError("the benchmark's watcher is a dry run")


def first_cycle(client: ModelArtsClient, sim: SimProcess) -> tuple[TimedClient, Any]:
    """One fresh watcher's first cycle in a new temporary state directory; (the timed client, its report)."""
    timed = TimedClient(client)
    with tempfile.TemporaryDirectory(prefix="hpo-watch-bench-") as state:
        watcher = Watcher(timed, sim.job_id, MedianStoppingRule(metric="acc", mode="max"), state_dir=state)
        try:
            report = watcher.cycle()
        finally:
            watcher.close()
    return timed, report


def plain_cycle(http: httpx.Client, pool: ThreadPoolExecutor, sim: SimProcess, trials: int, page_size: int,
                ids: list[str]) -> tuple[int, int]:
    """The listing pages into trials_to_arrow(bytes), then the histories into curves_to_arrow; (rows, requests)."""
    base = f"{sim.url}/v2/{sim.project_id}/training-jobs/{sim.job_id}/autosearch-trials"

    def page(offset: int) -> bytes:
        response = http.get(base, params={"limit": page_size, "offset": offset})
        response.raise_for_status()
        return response.content

    def history(trial_id: str) -> object:
        response = http.get(f"{base}/{trial_id}")
        response.raise_for_status()
        return _jsonutil.loads(response.content)

    offsets = list(range(0, trials, page_size)) or [0]
    futures = [pool.submit(page, offset) for offset in offsets]
    table = trials_to_arrow(f.result() for f in futures)
    curves = curves_to_arrow(list(pool.map(history, ids)))
    return table.num_rows + curves.num_rows, len(offsets) + len(ids)


@dataclass
class Runs:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    requests: list[int] = field(default_factory=list)
    sim_cpu: list[float] = field(default_factory=list)
    parts: dict[str, list[float]] = field(default_factory=dict)

    def add(self, sim: SimProcess, fn: Callable[[], tuple[int, dict[str, float]]]) -> None:
        s0, c0, w0 = sim.cpu_seconds(), time.process_time(), time.perf_counter()
        requests, parts = fn()
        w1, c1, s1 = time.perf_counter(), time.process_time(), sim.cpu_seconds()
        self.wall.append(w1 - w0)
        self.cpu.append(c1 - c0)
        self.requests.append(requests)
        self.sim_cpu.append(s1 - s0)
        for name, seconds in parts.items():
            self.parts.setdefault(name, []).append(seconds)

    def med(self, what: str) -> float:
        return statistics.median(getattr(self, what))

    def cpu_per_request(self) -> float:
        return statistics.median(c / r for c, r in zip(self.cpu, self.requests))


def verdict(ratio: float, *, at_most: float) -> str:
    return f"{ratio:.2f}x (target <= {at_most:g}x: {'met' if ratio <= at_most else 'NOT met'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8_000)
    parser.add_argument("--running", type=int, default=1_000, help="trials in flight at a time (default 1000)")
    parser.add_argument("--elapsed", type=float, default=1_000.0,
                        help="simulated seconds past when watching starts (default 1000)")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds added per request (default 0.02)")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke test: 400 trials, 50 running, 5 ms, 1 rep")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args)
    if args.quick:
        args.trials, args.running, args.elapsed, args.latency, args.reps = 400, 50, 300.0, 0.005, 1

    t0 = time.perf_counter()
    sim = start_simulator(args)
    try:
        print(f"simulator (pid {sim.proc.pid}) with {args.trials} trials ({args.running} in flight at a time, "
              f"{args.elapsed:g} simulated s past), {args.latency * 1000:.0f} ms added latency, "
              f"ready in {time.perf_counter() - t0:.1f} s", flush=True)
        # the client never closes a transport it was given: the with closes this one
        with CountingTransport() as counter, ModelArtsClient(endpoint=sim.url, project_id=sim.project_id,
                                                             token=sim.token, transport=counter) as client:
            concurrency = client.max_concurrency
            timed, report = first_cycle(client, sim)  # warm up; the histories the cycle asks for
            ids = list(timed.curve_ids)
            page_size = client.trials_page_size or 1000
            limits = httpx.Limits(max_connections=concurrency + 2, max_keepalive_connections=concurrency + 2)
            with httpx.Client(headers={"X-Auth-Token": sim.token}, limits=limits, timeout=60) as http, \
                    ThreadPoolExecutor(max_workers=concurrency) as pool:
                plain_cycle(http, pool, sim, report.trials, page_size, ids)

                def ours() -> tuple[int, dict[str, float]]:
                    before = counter.count
                    cycle_client, cycle_report = first_cycle(client, sim)
                    if cycle_report.trials != report.trials or cycle_report.new_reports != report.new_reports:
                        raise AssertionError("the first cycle saw another job than the warm-up did")
                    return counter.count - before, cycle_client.seconds

                def plain() -> tuple[int, dict[str, float]]:
                    return plain_cycle(http, pool, sim, report.trials, page_size, ids)[1], {}

                variants = {"watch first cycle": ours, "plain httpx": plain}
                runs = {name: Runs() for name in variants}
                for rep in range(args.reps):
                    for name, fn in variants.items():
                        runs[name].add(sim, fn)
                    print(f"rep {rep + 1}/{args.reps}: "
                          + ", ".join(f"{n} {r.wall[-1]:.3f} s" for n, r in runs.items()), flush=True)
        counter.close()
    finally:
        sim.stop()

    print()
    print(f"first watch cycle over {report.trials} trials ({report.running} running, {len(ids)} histories "
          f"fetched, {report.new_reports} reports recorded), listing in pages of {page_size}, "
          f"{args.latency * 1000:.0f} ms added latency, max_concurrency {concurrency}, "
          f"{args.reps} interleaved reps (medians)")
    print(f"  {'path':<20} {'wall s':>8} {'client CPU s':>13} {'requests':>9} {'CPU/request ms':>15} "
          f"{'simulator CPU s':>16} {'simulator busy':>15}")
    for name, r in runs.items():
        busy = statistics.median(s / w for s, w in zip(r.sim_cpu, r.wall))
        print(f"  {name:<20} {r.med('wall'):8.3f} {r.med('cpu'):13.3f} {r.med('requests'):9.0f} "
              f"{r.cpu_per_request() * 1000:15.2f} {r.med('sim_cpu'):16.3f} {busy:14.0%}")
    ours_runs, plain_runs = runs["watch first cycle"], runs["plain httpx"]
    parts = {name: statistics.median(values) for name, values in ours_runs.parts.items()}
    rest = statistics.median(w - sum(p[i] for p in ours_runs.parts.values()) for i, w in enumerate(ours_runs.wall))
    print("  the cycle's wall: " + ", ".join(f"{name} {seconds:.3f} s" for name, seconds in parts.items())
          + f", the rest (ledger, frames, rule) {rest:.3f} s")
    print(f"  watch first cycle / plain wall            = {ours_runs.med('wall') / plain_runs.med('wall'):.2f}x")
    cpu_ratio = ours_runs.cpu_per_request() / plain_runs.cpu_per_request()
    print(f"  watch first cycle / plain CPU per request = {verdict(cpu_ratio, at_most=1.2)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
