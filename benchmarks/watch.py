"""Benchmark: one watch cycle over 20 running jobs x 1,000 trials, against fetching the same listings alone.

Starts a simulator in its own process (this script with ``--serve``: its CPU
does not compete with the client's GIL; no added latency) holding ``--jobs``
running autosearch jobs of ``--trials`` trials each, ``--running`` of them
running at once, about half of each search done. In this process one
:class:`~hpo_analytics.client.ModelArtsClient` serves both paths:

* ``watch cycle``: one cycle of a :class:`~hpo_analytics.stopping.Fleet`
  with ``all_running=True`` (the job search, then for every job its phase,
  its listing, the new reports into its SQLite history, the median rule's
  decisions, all recorded in its ledger; a dry run), ``--in-flight`` jobs at
  once;
* ``fetch listings``: ``client.fetch_trials(job)`` for every job on a thread
  pool of the same size (the job-details call and the offset probe included,
  as ``fetch_trials`` sends them);
* ``fetch columns`` (for information, not the target): the same, reading only
  the columns a watch cycle reads (``fetch_trials(job, columns=...)``: the
  metric, status, iteration, run time, ``trial_index``), as the watch does
  after its first cycle; the ratio to it is what the watch adds to its own
  listing read.

Before timing, one cycle fills every job's history (each trial's per-trial
history, once). Before each watch cycle the simulated clock moves
``--advance`` seconds, so running trials have a new report (as between two
polls); the two paths are interleaved, their order alternating, and the
medians over ``--reps`` repetitions are printed with the ratio (target
<= 1.5x), the client CPU of each, and how busy the simulator was (its CPU
seconds per wall second; 1.0 is one core saturated, and then it, not the
client, sets the pace).

Usage::

    python benchmarks/watch.py [--jobs 20] [--trials 1000] [--running 40] [--in-flight 4] [--reps 7]
                               [--advance 20] [--state-dir DIR]
    python benchmarks/watch.py --quick      # smoke test: 3 jobs x 100 trials, 2 reps
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

from hpo_analytics.client import ModelArtsClient
from hpo_analytics.stopping import Fleet, MedianStoppingRule

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the shared _simproc beside this script
from _simproc import SimProcess, start_serving  # noqa: E402

#: Simulated seconds per reported iteration (the simulator's pace) and iterations per trial.
ITERATION_S, ITERATIONS = 20.0, 12


# ----------------------------------------------------------------------------- the simulator process


def serve(jobs: int, trials: int, running: int, seed: int) -> int:
    """The simulator process: print where it listens (one JSON line), then obey ``advance S`` lines on stdin."""
    from hpo_analytics.simulator import Simulator

    # about half of each search done: (trials / running) waves of ITERATIONS reports each
    elapsed = 0.5 * trials / running * ITERATIONS * ITERATION_S
    sim = Simulator(seed=seed, n_trials=trials, n_iterations=ITERATIONS, max_concurrent=running, elapsed=elapsed,
                    auth="token", error_rate=0.02)
    for _ in range(jobs - 1):
        sim.add_job(n_trials=trials, elapsed=elapsed)
    with sim:
        print(json.dumps({"url": sim.url, "project_id": sim.project_id, "token": sim.token,
                          "jobs": sim.job_ids}), flush=True)
        for line in sys.stdin:
            words = line.split()
            if words[:1] == ["advance"]:
                sim.advance(float(words[1]))
            print("ok", flush=True)
    return 0


def start_simulator(jobs: int, trials: int, running: int, seed: int = 0) -> SimProcess:
    """This script with ``--serve`` in a subprocess."""
    return start_serving(__file__, ["--jobs", str(jobs), "--trials", str(trials), "--running", str(running),
                                    "--seed", str(seed)])


def advance(sim: SimProcess, seconds: float) -> None:
    """Move every job's simulated clock (answered once done)."""
    if sim.command(f"advance {seconds}") != "ok":
        raise RuntimeError("the simulator process did not answer")


# ----------------------------------------------------------------------------- timing


@dataclass
class Runs:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    sim_cpu: list[float] = field(default_factory=list)

    def add(self, sim: SimProcess, fn: Callable[[], None]) -> None:
        s0, c0, w0 = sim.cpu_seconds(), time.process_time(), time.perf_counter()
        fn()
        w1, c1, s1 = time.perf_counter(), time.process_time(), sim.cpu_seconds()
        self.wall.append(w1 - w0)
        self.cpu.append(c1 - c0)
        self.sim_cpu.append(s1 - s0)

    def med(self, what: str) -> float:
        return statistics.median(getattr(self, what))

    def busy(self) -> float:
        return statistics.median(s / w for s, w in zip(self.sim_cpu, self.wall))


def verdict(ratio: float, at_most: float) -> str:
    """``"1.07x (target <= 1.5x: met)"``."""
    return f"{ratio:.2f}x (target <= {at_most:g}x: {'met' if ratio <= at_most else 'NOT met'})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--trials", type=int, default=1000, help="trials per job (default 1000)")
    parser.add_argument("--running", type=int, default=40, help="trials running at once per job (default 40)")
    parser.add_argument("--in-flight", type=int, default=4,
                        help="jobs' cycles (and listing fetches) at once (default 4, as --max-jobs-in-flight)")
    parser.add_argument("--advance", type=float, default=ITERATION_S,
                        help=f"simulated seconds before each watch cycle (default {ITERATION_S:g}: one report)")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--state-dir", type=Path, default=None,
                        help="where the ledgers go (default: a new temporary directory; e.g. /dev/shm to leave "
                             "out the disk's fsyncs)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="smoke test: 3 jobs x 100 trials, 2 reps")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.jobs, args.trials, args.running, args.seed)
    if args.quick:
        args.jobs, args.trials, args.running, args.reps = 3, 100, 10, 2

    t0 = time.perf_counter()
    sim = start_simulator(args.jobs, args.trials, args.running, args.seed)
    try:
        print(f"simulator (pid {sim.proc.pid}) with {args.jobs} jobs x {args.trials} trials ({args.running} running "
              f"at once), no added latency, ready in {time.perf_counter() - t0:.1f} s", flush=True)
        with ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client, \
                tempfile.TemporaryDirectory(dir=args.state_dir) as state, \
                ThreadPoolExecutor(max_workers=args.in_flight) as pool, \
                Fleet(client, MedianStoppingRule, state_root=state, all_running=True,
                      max_jobs_in_flight=args.in_flight) as fleet:
            t0 = time.perf_counter()
            fleet.cycle()  # fills every job's history (one request per trial with reports)
            if sorted(fleet.open_jobs) != sorted(sim.jobs):
                raise AssertionError(f"the fleet found {len(fleet.open_jobs)} of {len(sim.jobs)} running jobs")
            print(f"first cycle (every history fetched once): {time.perf_counter() - t0:.2f} s", flush=True)

            def cycle() -> None:
                reports = fleet.cycle()
                if len(reports) != len(sim.jobs):
                    raise AssertionError(f"a cycle covered {len(reports)} of {len(sim.jobs)} jobs")

            def fetch() -> None:
                rows = sum(pool.map(lambda job: client.fetch_trials(job).num_rows, sim.jobs))
                if rows != args.jobs * args.trials:
                    raise AssertionError(f"expected {args.jobs * args.trials} rows, got {rows}")

            metric = next(iter(fleet.watchers.values())).metric
            columns = ["trial_id", "trial_index", "status", "training_iteration", "time_total_s", metric]

            def fetch_columns() -> None:
                rows = sum(pool.map(lambda job: client.fetch_trials(job, columns=columns).num_rows, sim.jobs))
                if rows != args.jobs * args.trials:
                    raise AssertionError(f"expected {args.jobs * args.trials} rows, got {rows}")

            fetch()  # warm up the plain paths too
            fetch_columns()
            paths = {"watch cycle": cycle, "fetch listings": fetch, "fetch columns": fetch_columns}
            runs = {name: Runs() for name in paths}
            for rep in range(args.reps):
                advance(sim, args.advance)
                names = list(paths)
                order = names[rep % len(names):] + names[:rep % len(names)]  # each path first in turn
                for name in order:
                    runs[name].add(sim, paths[name])
                print(f"rep {rep + 1}/{args.reps}: " + ", ".join(f"{n} {r.wall[-1]:.3f} s" for n, r in runs.items()),
                      flush=True)
            fleet.finish("max_cycles")
    finally:
        sim.stop()

    print()
    print(f"{args.jobs} jobs x {args.trials} trials, {args.in_flight} jobs in flight, {args.advance:g} simulated s "
          f"between cycles, ledgers in {args.state_dir or tempfile.gettempdir()}, {args.reps} interleaved reps "
          f"(medians)")
    print(f"  {'path':<16} {'wall s':>8} {'client CPU s':>13} {'simulator CPU s':>16} {'simulator busy':>15}")
    for name, r in runs.items():
        print(f"  {name:<16} {r.med('wall'):8.3f} {r.med('cpu'):13.3f} {r.med('sim_cpu'):16.3f} {r.busy():14.0%}")
    ratio = runs["watch cycle"].med("wall") / runs["fetch listings"].med("wall")
    print(f"  watch cycle / fetch listings wall = {verdict(ratio, 1.5)}")
    own = runs["watch cycle"].med("wall") / runs["fetch columns"].med("wall")
    print(f"  watch cycle / fetch columns wall = {own:.2f}x (for information: a cycle against reading only the "
          f"listing's columns it uses)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
