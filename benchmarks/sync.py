"""Benchmark: syncing many jobs into the dataset (issue #16).

Section ``sync``: a simulated fleet served by ``hpo-analytics simulate
--mixed`` in its own process (so its CPU does not compete with the client's
GIL), ``--jobs`` jobs of ``--trials`` trials each (three search spaces, three
metrics, every fourth job still running), then, ``--reps`` times into a fresh
directory:

* ``first sync``: ``hpo_analytics.sync(client, DIR, all_jobs=True)`` with
  curves: every job's listing and every trial's history;
* ``no-change resync``: the same call again on the same directory: the job
  search, and one listing per running job;
* ``bare fetch loop`` (the baseline): what a script without a dataset would
  do for the same data: the job search, then per job ``fetch_trials`` and
  ``fetch_curves`` of its trials that reported, nothing written.

It prints the medians (wall seconds, requests), the ratio resync / first
(target <= 0.05), the ratio first sync / bare fetch loop (what writing the
dataset costs on top of downloading it), and how busy the simulator was
during the first sync (its CPU seconds per wall second: 1.0 is one core
saturated, and then the simulator, not the sync, sets the pace).

Querying the dataset is measured by ``benchmarks/query.py``.

Usage::

    python benchmarks/sync.py [--jobs 200] [--trials 500] [--reps 3] [--section sync]
    python benchmarks/sync.py --quick      # smoke test: 6 jobs x 20 trials, 1 rep
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _simproc beside this script
from _simproc import SimProcess, start_simulate  # noqa: E402

import hpo_analytics as ha  # noqa: E402 - after the path of this checkout

SYNC_TARGET = 0.05


# ----------------------------------------------------------------------------- the simulator process


def start_fleet(jobs: int, trials: int, seed: int = 0) -> SimProcess:
    """``hpo-analytics simulate --mixed`` in a subprocess (its URL, project id and token read from what it prints)."""
    return start_simulate(["--mixed", "--jobs", str(jobs), "--trials", str(trials), "--seed", str(seed)])


# ----------------------------------------------------------------------------- section: sync


@dataclass
class SyncRun:
    seconds: float
    requests: int
    sim_cpu: float
    fetched: int
    unchanged: int


def _timed_sync(sim: SimProcess, client: ha.ModelArtsClient, out: Path) -> SyncRun:
    cpu0 = sim.cpu_seconds()
    started = time.perf_counter()
    summary = ha.sync(client, out, all_jobs=True)
    seconds = time.perf_counter() - started
    if summary.failed:
        raise SystemExit(f"jobs failed: {summary.failed[:3]}")
    return SyncRun(seconds, summary.requests, sim.cpu_seconds() - cpu0, len(summary.fetched), len(summary.unchanged))


def _fetch_loop(client: ha.ModelArtsClient) -> float:
    """The baseline: download what the first sync downloads, keep nothing; returns wall seconds."""
    started = time.perf_counter()
    for job in client.search_training_jobs(filters=[{"key": "kind", "operator": "in", "value": ["autosearch_job"]}]):
        job_id = job["metadata"]["id"]
        trials = client.fetch_trials(job_id, details=job)
        reported = [t for t, i in zip(trials["trial_id"].to_pylist(), trials["training_iteration"].to_pylist()) if i]
        if reported:
            client.fetch_curves(job_id, reported, details=job)
    return time.perf_counter() - started


def section_sync(args: argparse.Namespace) -> None:
    print(f"== sync: {args.jobs} jobs x {args.trials} trials with curves, simulator in its own process ==")
    import hpo_analytics.dataset  # noqa: F401 - imports (pyarrow, the normalizer) are not what is timed
    import hpo_analytics.normalize  # noqa: F401
    sim = start_fleet(args.jobs, args.trials)
    work = Path(tempfile.mkdtemp(prefix="hpo-fleet-"))
    try:
        firsts: list[SyncRun] = []
        resyncs: list[SyncRun] = []
        loops: list[float] = []
        with ha.ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
            for rep in range(args.reps):
                out = work / f"rep{rep}"
                firsts.append(_timed_sync(sim, client, out))
                resyncs.append(_timed_sync(sim, client, out))
                shutil.rmtree(out)
                loops.append(_fetch_loop(client))
        first = statistics.median(r.seconds for r in firsts)
        again = statistics.median(r.seconds for r in resyncs)
        busy = statistics.median(r.sim_cpu / r.seconds for r in firsts)
        print(f"first sync          median {first:8.3f} s   {firsts[0].requests:7d} requests   "
              f"{firsts[0].fetched} jobs fetched")
        print(f"no-change resync    median {again:8.3f} s   {resyncs[0].requests:7d} requests   "
              f"{resyncs[0].unchanged} jobs unchanged, {resyncs[0].fetched} fetched")
        loop = statistics.median(loops)
        print(f"bare fetch loop     median {loop:8.3f} s   (baseline: the same downloads, nothing written)")
        ratio = again / first
        verdict = "meets" if ratio <= SYNC_TARGET else "misses"
        print(f"ratio resync / first sync: {ratio:.4f} (target <= {SYNC_TARGET}: {verdict} it)")
        print(f"ratio first sync / bare fetch loop: {first / loop:.2f}")
        print(f"simulator busy during the first sync: {busy:.2f} CPU s per wall s")
    finally:
        sim.stop()
        shutil.rmtree(work, ignore_errors=True)


SECTIONS: dict[str, Callable[[argparse.Namespace], None]] = {
    "sync": section_sync,
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=200)
    parser.add_argument("--trials", type=int, default=500, help="trials per job")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--section", action="append", choices=sorted(SECTIONS),
                        help="run only this section (repeatable; default: all)")
    parser.add_argument("--quick", action="store_true", help="smoke test: 6 jobs x 20 trials, 1 rep")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.trials, args.reps = 6, 20, 1
    for name in args.section or list(SECTIONS):
        SECTIONS[name](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
