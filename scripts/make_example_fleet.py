"""Write the bundled many-jobs dataset to ``data/fleet/`` (what the README's dataset examples read).

Six simulated jobs (``Simulator(mixed=True)``: three search spaces, two
metrics, two jobs still running) synced through the real client over
loopback HTTP with :func:`hpo_analytics.sync`, curves included::

    python scripts/make_example_fleet.py [--out data/fleet]

The data are seeded; only ``synced_at`` and the manifest's times change
between runs.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import hpo_analytics as ha
from hpo_analytics.simulator import Simulator

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "fleet"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.out.exists():
        shutil.rmtree(args.out)
    with Simulator(seed=7, n_trials=30, n_jobs=6, mixed=True, auth="token") as sim, \
            ha.ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
        summary = ha.sync(client, args.out, all_jobs=True, progress=False)
    (args.out / ".lock").unlink(missing_ok=True)
    print(f"{args.out}: {len(summary.fetched)} jobs, {summary.rows_written} rows")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
