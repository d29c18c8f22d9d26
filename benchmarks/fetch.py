"""Benchmark: fetch_trials of a 10,000-trial job behind 50 ms of simulated latency.

Runs the simulator on loopback with a fixed per-request latency and, in the
same run, interleaves:

* ``concurrent``: ``ModelArtsClient.fetch_trials`` with the default
  ``max_concurrency`` (fetch + normalize, the reward metadata call included);
* ``concurrent fetch only``: ``iter_trial_pages`` with the same concurrency
  (no normalize), to split the time;
* ``sequential``: the same pages with ``max_concurrency=1`` (fetch + normalize).

It prints the median of each and two ratios against their targets:

* speedup = sequential / concurrent, target >= 0.7 x max_concurrency;
* concurrent / network floor, where the floor is pages / concurrency x
  latency (the time the requests need even when perfectly overlapped),
  target <= 1.5.

Usage::

    python benchmarks/fetch.py [--trials 10000] [--page-size 50] [--latency 0.05] [--reps 5]
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from collections.abc import Callable

from hpo_analytics.client import ModelArtsClient
from hpo_analytics.simulator import Faults, Simulator


def _timed(fn: Callable[[], int]) -> tuple[float, int]:
    start = time.perf_counter()
    n = fn()
    return time.perf_counter() - start, n


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--page-size", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--offset-mode", choices=["records", "pages"], default="records")
    args = parser.parse_args(argv)

    t0 = time.perf_counter()
    with Simulator(seed=0, n_trials=args.trials, auth="token", offset_mode=args.offset_mode) as sim:
        job_id = sim.job_ids[0]
        print(f"simulator with {args.trials} trials ready in {time.perf_counter() - t0:.1f} s "
              f"(offset meaning: {args.offset_mode})")

        def client(max_concurrency: int | None = None) -> ModelArtsClient:
            kw = {} if max_concurrency is None else {"max_concurrency": max_concurrency}
            return ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token, **kw)

        with client() as conc, client(1) as seq:
            concurrency = conc.max_concurrency
            # warm up connections and code paths without latency
            conc.fetch_trials(job_id, page_size=args.page_size)
            sim.faults = Faults(latency=args.latency)
            sim.clear_requests()
            conc.fetch_trials(job_id, page_size=args.page_size)
            requests_per_fetch = sum(1 for r in sim.requests if r.path.endswith("/autosearch-trials"))

            runs: dict[str, list[float]] = {"concurrent": [], "concurrent fetch only": [], "sequential": []}
            for rep in range(args.reps):
                seconds, n = _timed(lambda: conc.fetch_trials(job_id, page_size=args.page_size).num_rows)
                assert n == args.trials, n
                runs["concurrent"].append(seconds)
                seconds, _ = _timed(lambda: sum(len(p["items"]["data"]) for p in
                                                conc.iter_trial_pages(job_id, page_size=args.page_size)))
                runs["concurrent fetch only"].append(seconds)
                seconds, n = _timed(lambda: seq.fetch_trials(job_id, page_size=args.page_size).num_rows)
                assert n == args.trials, n
                runs["sequential"].append(seconds)
                print(f"rep {rep + 1}/{args.reps}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in runs.items()),
                      flush=True)

    pages = math.ceil(args.trials / args.page_size)
    floor = pages / concurrency * args.latency
    med = {k: statistics.median(v) for k, v in runs.items()}
    speedup = med["sequential"] / med["concurrent"]
    over_floor = med["concurrent"] / floor
    print()
    print(f"{args.trials} trials, {pages} pages of {args.page_size} ({requests_per_fetch} trial-page requests "
          f"per fetch incl. the offset probe), latency {args.latency * 1000:.0f} ms, "
          f"max_concurrency {concurrency}, {args.reps} interleaved reps")
    for name, value in med.items():
        print(f"  median {name:<22} {value:7.3f} s")
    print(f"  network floor (pages / concurrency x latency) {floor:.3f} s")
    print(f"  speedup sequential/concurrent = {speedup:.2f}x "
          f"(target >= {0.7 * concurrency:.1f}x: {'met' if speedup >= 0.7 * concurrency else 'NOT met'})")
    print(f"  concurrent fetch+normalize / network floor = {over_floor:.2f}x "
          f"(target <= 1.5x: {'met' if over_floor <= 1.5 else 'NOT met'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
