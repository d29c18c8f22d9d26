"""``hpo-analytics simulate``: serve simulated autosearch jobs on a loopback port until Ctrl-C."""

from __future__ import annotations

import argparse
from typing import Any

from ._common import EXIT_OK, add_command


def add_simulate(sub: Any) -> None:
    """Register ``simulate``."""
    parser = add_command(
        sub, "simulate",
        help="run a local ModelArts-compatible server with simulated autosearch jobs",
        description=(
            "Serve simulated autosearch jobs on a loopback port, speaking the ModelArts API that\n"
            "hpo-analytics uses, until Ctrl-C. It prints the URL, the project id, the job ids\n"
            "and the environment variables that point hpo-analytics at it."
        ),
        examples=[
            "hpo-analytics simulate --port 8765 --trials 500 --seed 1",
            "hpo-analytics simulate --port 0 --offset-mode pages --elapsed 600 --speed 60",
            "hpo-analytics simulate --port 0 --jobs 200 --trials 500 --mixed   # a fleet for 'sync'",
        ],
        note=(
            "then, in another shell, the printed 'export' lines and e.g.\n"
            "  hpo-analytics jobs\n"
            "  curl -H \"X-Auth-Token: $HPO_ANALYTICS_TOKEN\" \\\n"
            "    \"$HPO_ANALYTICS_ENDPOINT/v2/$HUAWEICLOUD_SDK_PROJECT_ID/search-algorithms\""
        ),
    )
    parser.add_argument("--port", type=int, default=8765, help="port to listen on; 0 picks a free one (default 8765)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--trials", type=int, default=200, help="trials in the first job (default 200)")
    parser.add_argument("--jobs", type=int, default=1, help="number of jobs (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--offset-mode", choices=("records", "pages"), default="records",
                        help="whether 'offset' counts records or pages (default records)")
    parser.add_argument("--auth", choices=("token", "aksk", "any"), default="any",
                        help="accepted authentication (default any)")
    parser.add_argument("--elapsed", type=float, default=None,
                        help="simulated seconds already past at start (default: every trial finished)")
    parser.add_argument("--speed", type=float, default=0.0,
                        help="simulated seconds that pass per real second (default 0: time stands still)")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds of added latency per request")
    parser.add_argument("--mixed", action="store_true",
                        help="a fleet: every job gets --trials trials; search spaces, metrics and algorithms "
                             "vary, and every fourth job is still running")
    parser.set_defaults(run=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM."""
    import signal
    import threading

    from ..simulator import Faults, Simulator

    stop = threading.Event()

    def _terminate(signum: int, frame: Any) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _terminate)
    sim = Simulator(
        seed=args.seed, n_trials=args.trials, n_jobs=args.jobs, offset_mode=args.offset_mode,
        auth=args.auth, elapsed=args.elapsed, host=args.host, port=args.port,
        faults=Faults(latency=args.latency), mixed=args.mixed,
    )
    try:
        with sim:
            print(f"hpo-analytics simulator listening on {sim.url}", flush=True)
            print(f"project id: {sim.project_id}")
            print("jobs:")
            for job_id, job in sim.jobs.items():
                print(f"  {job_id}  {job.name}  {job.total} trials  {job.phase}")
            print(f"offset mode: {sim.offset_mode}; auth: {sim.auth}")
            print("point hpo-analytics at it with:")
            print(f"  export HPO_ANALYTICS_ENDPOINT={sim.url}")
            print(f"  export HUAWEICLOUD_SDK_PROJECT_ID={sim.project_id}")
            # The simulator's own throwaway credentials: printing them is the point of this command.
            if sim.auth in ("token", "any"):
                print(f"  export HPO_ANALYTICS_TOKEN={sim.token}")
            if sim.auth in ("aksk", "any"):
                mark = "# " if sim.auth == "any" else ""
                if mark:
                    print("  # or, to sign requests with AK/SK instead of the token:")
                print(f"  {mark}export HUAWEICLOUD_SDK_AK={sim.ak}")
                print(f"  {mark}export HUAWEICLOUD_SDK_SK={sim.sk}")
            print("Press Ctrl-C to stop.", flush=True)
            tick = 1.0
            while not stop.wait(tick):
                if args.speed > 0:
                    sim.advance(args.speed * tick)
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
    print("simulator stopped", flush=True)
    return EXIT_OK
