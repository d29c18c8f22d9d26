"""The watch loop's first cycle over a job with finished, running and pending trials: its history is every report.

Over real loopback HTTP against the simulator: the trials that reported more
than their first iteration are read through ``fetch_curves`` (concurrently),
the others from the listing, and the ledger's history then holds exactly the
reports the service has, with their values.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hpo_analytics.client import ModelArtsClient
from hpo_analytics.simulator import Simulator
from hpo_analytics.stopping import MedianStoppingRule
from hpo_analytics.stopping._watch import Watcher


class Recording:
    def __init__(self, client: ModelArtsClient) -> None:
        self.client = client
        self.asked: list[list[str]] = []

    def fetch_trials(self, job_id: str):
        return self.client.fetch_trials(job_id)

    def fetch_curves(self, job_id: str, ids):
        self.asked.append(list(ids))
        return self.client.fetch_curves(job_id, ids)

    def early_stop(self, job_id: str, trial_id: str):  # pragma: no cover - a dry run
        raise AssertionError("dry run")


def test_first_cycle_records_every_report_of_every_trial(tmp_path: Path) -> None:
    with Simulator(seed=2, n_trials=1, auth="token") as sim:
        job = sim.add_job(n_trials=300, max_concurrent=40, elapsed=400)
        with ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
            recording = Recording(client)
            watcher = Watcher(recording, job, MedianStoppingRule(metric="acc", mode="max"), state_dir=tmp_path)
            try:
                report = watcher.cycle()
                history = watcher.ledger.history(job)
            finally:
                watcher.close()
            listing = client.fetch_trials(job).to_pandas()
            curves = client.fetch_curves(job).to_pandas()
    statuses = set(listing["status"])
    assert {"TERMINATED", "RUNNING", "PENDING"} <= statuses, statuses
    assert report.running == int((listing["status"] == "RUNNING").sum())
    iterations = listing.set_index("trial_id")["training_iteration"].astype(float)
    assert len(recording.asked) == 1  # one concurrent fetch of every history the listing cannot give
    assert sorted(recording.asked[0]) == sorted(iterations.index[iterations > 1])
    expected = curves[["trial_id", "training_iteration", "acc"]].dropna(subset=["training_iteration"])
    expected = expected.sort_values(["trial_id", "training_iteration"]).reset_index(drop=True)
    got = history.sort_values(["trial_id", "training_iteration"]).reset_index(drop=True)
    assert report.new_reports == len(expected) == len(got)
    assert got["trial_id"].astype(str).tolist() == expected["trial_id"].astype(str).tolist()
    assert got["training_iteration"].astype(int).tolist() == expected["training_iteration"].astype(int).tolist()
    np.testing.assert_array_equal(got["value"].to_numpy(dtype=float), expected["acc"].to_numpy(dtype=float))


def test_a_cycle_reads_the_job_details_once_for_the_phase_and_the_metric(tmp_path) -> None:
    from hpo_analytics.client import ModelArtsClient
    from hpo_analytics.simulator import Simulator
    from hpo_analytics.stopping import MedianStoppingRule
    from hpo_analytics.stopping._watch import Watcher

    with Simulator(seed=2, n_trials=10, max_concurrent=4, elapsed=60.0, auth="token") as sim, \
            ModelArtsClient(endpoint=sim.url, project_id=sim.project_id, token=sim.token) as client:
        job = sim.job_ids[0]
        watcher = Watcher(client, job, MedianStoppingRule(), state_dir=tmp_path)
        try:
            for _ in range(2):
                sim.clear_requests()
                report = watcher.cycle()
                details = [r for r in sim.requests if r.method == "GET" and r.path.endswith(f"/training-jobs/{job}")]
                assert len(details) == 1 and report.phase == "Running"
            assert (watcher.metric, watcher.mode) == ("acc", "max")  # from the details fetch_trials was given
        finally:
            watcher.close()
