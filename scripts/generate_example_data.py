"""Write the bundled synthetic autosearch job to ``data/synthetic_job/`` (seeded, reproducible).

Layout::

    data/synthetic_job/
        job.json                      GET /v2/{p}/training-jobs/{j} (job details)
        trials/trials_page_000.json   GET .../autosearch-trials?limit=50&offset=0, 50, ... (record offsets)
        histories/<trial_id>.json     GET .../autosearch-trials/{trial_id} (one row per iteration)
        parameter_analysis.json       GET .../autosearch-parameter-analysis
        ground_truth.json             which parameters matter, and each trial's true asymptote

The job is caught mid-run: most trials finished (``TERMINATED``, some
``ERROR``, a few stopped early), some ``RUNNING``, some ``PENDING`` with empty
cells. Run ``python scripts/generate_example_data.py`` to regenerate the
committed files byte for byte.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from hpo_analytics.simulator.synthetic import GROUND_TRUTH, SEARCH_SPACE, SimulatedJob

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "data" / "synthetic_job"
PAGE_SIZE = 50


def _dump(value: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    path.write_text(text + "\n", encoding="utf-8")


def build_job(*, seed: int, n_trials: int) -> SimulatedJob:
    """The example job, advanced to its snapshot time (deterministic for a seed)."""
    options: dict[str, Any] = {
        "job_id": "8c9d3f5e-2b7a-4d61-9f0e-5a1b2c3d4e5f",
        "name": "autosearch-resnet-example",
        "n_trials": n_trials,
        "seed": seed,
        "n_iterations": 10,
        "max_concurrent": 8,
        "error_rate": 0.06,
        "create_time_ms": 1_704_164_645_000,
    }
    probe = SimulatedJob.create(**options)
    probe.run_to_completion()
    full = probe.now
    job = SimulatedJob.create(**options)
    job.advance(0.4 * full)
    _, status = job.snapshot()
    running = [job.trials.trial_ids[i] for i, s in enumerate(status) if s == "RUNNING"]
    for trial_id in running[:3]:  # a few trials stopped early by the user
        job.early_stop(trial_id)
    job.advance(0.45 * full)
    return job


def write_example(out: Path, *, seed: int = 2024, n_trials: int = 300) -> None:
    """Write every file of the example job under ``out`` (replacing what was there)."""
    if out.exists():
        shutil.rmtree(out)
    job = build_job(seed=seed, n_trials=n_trials)
    _dump(job.details(), out / "job.json")
    for page, offset in enumerate(range(0, job.total, PAGE_SIZE)):
        body = job.trials_response(offset=offset, limit=PAGE_SIZE, offset_mode="records")
        _dump(body, out / "trials" / f"trials_page_{page:03d}.json")
    completed, _ = job.snapshot()
    for i, trial_id in enumerate(job.trials.trial_ids):
        if completed[i] > 0:
            _dump(job.history_response(trial_id), out / "histories" / f"{trial_id}.json")
    _dump(job.parameter_analysis(), out / "parameter_analysis.json")
    truth = {
        "seed": seed,
        "generator": "hpo_analytics.simulator.synthetic (see its package docstring for the objective)",
        "reward_metric": GROUND_TRUTH.reward_metric,
        "mode": GROUND_TRUTH.mode,
        "important": list(GROUND_TRUTH.important),
        "inert": list(GROUND_TRUTH.inert),
        "search_space": [spec.search_param() for spec in SEARCH_SPACE],
        "asymptote": {t: round(float(a), 6) for t, a in zip(job.trials.trial_ids, job.trials.asymptote)},
        "diverged": [t for t, d in zip(job.trials.trial_ids, job.trials.diverged) if d],
    }
    _dump(truth, out / "ground_truth.json")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry: ``--out``, ``--seed``, ``--trials``."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--trials", type=int, default=300)
    args = parser.parse_args(argv)
    write_example(args.out, seed=args.seed, n_trials=args.trials)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {args.out} ({size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
