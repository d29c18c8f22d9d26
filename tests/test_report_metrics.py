"""Reports say which metric they rank by and list the other metrics the job declares (escaped)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import hpo_analytics as ha
from hpo_analytics.normalize import METADATA_METRICS
from hpo_analytics.report import _registry, build_report, build_reports

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
EVIL = "<b>f1</b>"

# Four trials are too few for importance: the report says so; these tests are about other text.
pytestmark = pytest.mark.filterwarnings("ignore::hpo_analytics.errors.InsufficientDataWarning")


@pytest.fixture(autouse=True)
def no_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the page's text: no plots, so they are fast."""
    monkeypatch.setattr(_registry, "PLOTS", ())


def trials(metrics: list[dict] | None, *, metric: str = "acc", mode: str = "max") -> pd.DataFrame:
    frame = pd.DataFrame({
        "trial_id": ["t1", "t2", "t3", "t4"],
        "acc": [0.5, 0.9, 0.7, 0.6],
        "loss": [1.2, 0.3, 0.8, 1.0],
        "param/lr": [0.1, 0.01, 0.03, 0.2],
    })
    meta = {"table": "trials", "metric": metric, "mode": mode}
    if metrics is not None:
        meta["metrics"] = json.dumps(metrics)
    frame.attrs = {"hpo_analytics": meta}
    return frame


def ranking(page: str) -> str:
    match = re.search(r'<header><h1>.*?</h1><p class="sub ranking">(.*?)</p><nav>', page)
    assert match, page[:500]
    return match.group(1)


ACC_LOSS = [{"name": "acc", "mode": "max"}, {"name": "loss", "mode": "min"}]


def test_report_names_the_ranking_metric_and_the_others(tmp_path: Path) -> None:
    page = build_report(trials(ACC_LOSS), out=tmp_path / "r.html").read_text()
    assert ranking(page) == "Ranked by acc (higher is better). The job also declares: loss (lower is better)."


def test_only_the_default_when_the_job_declares_one_metric(tmp_path: Path) -> None:
    for metrics in ([{"name": "acc", "mode": "max"}], None):  # one declared; nothing recorded
        page = build_report(trials(metrics), out=tmp_path / "r.html").read_text()
        assert ranking(page) == "Ranked by acc (higher is better)."
        assert "declares" not in page


def test_a_chosen_metric_or_direction_is_stated_against_what_the_job_declares(tmp_path: Path) -> None:
    t = trials(ACC_LOSS)
    page = build_report(t, out=tmp_path / "r.html", metric="loss", mode="min").read_text()
    assert ranking(page) == "Ranked by loss (lower is better). The job also declares: acc (higher is better)."
    page = build_report(t, out=tmp_path / "r.html", mode="min").read_text()
    assert ranking(page) == ("Ranked by acc (lower is better; the job declares it higher is better). "
                             "The job also declares: loss (lower is better).")
    page = build_report(t.rename(columns={"acc": "score"}), out=tmp_path / "r.html", metric="score").read_text()
    assert ranking(page) == ("Ranked by score (higher is better). The job declares: acc (higher is better), "
                             "loss (lower is better).")


def test_declared_names_are_escaped_and_bad_records_ignored(tmp_path: Path) -> None:
    declared = [{"name": "acc", "mode": "max"}, {"name": EVIL, "mode": None}, {"mode": "min"}, "loss",
                {"name": "acc", "mode": "min"}]
    page = build_report(trials(declared), out=tmp_path / "r.html").read_text()
    assert ranking(page) == ("Ranked by acc (higher is better). The job also declares: "
                             "&lt;b&gt;f1&lt;/b&gt; (direction not declared).")
    assert EVIL not in page
    broken = trials(None)
    broken.attrs["hpo_analytics"]["metrics"] = "not json ["
    page = build_report(broken, out=tmp_path / "b.html").read_text()
    assert ranking(page) == "Ranked by acc (higher is better)."


def test_the_bundled_job_read_through_its_details(tmp_path: Path) -> None:
    """An Arrow table whose metadata came from job.json (as the CLI reads a job directory)."""
    table = ha.read_trials(DATA / "trials")
    meta = {**table.schema.metadata, b"hpo_analytics.metric": b"acc", b"hpo_analytics.mode": b"max",
            METADATA_METRICS: json.dumps(ACC_LOSS).encode()}
    page = build_report(table.replace_schema_metadata(meta), out=tmp_path / "r.html").read_text()
    assert ranking(page) == "Ranked by acc (higher is better). The job also declares: loss (lower is better)."


def test_index_says_what_it_ranks_by_and_lists_other_metrics_only_when_declared(tmp_path: Path) -> None:
    one = build_reports({"a": {"trials": trials([{"name": "acc", "mode": "max"}])}, "b": {"trials": trials(None)}},
                        out_dir=tmp_path / "one").read_text()
    assert '<p class="note">Every job is ranked by acc (higher is better).</p>' in one
    assert "other metrics" not in one.lower()
    both = build_reports({"a": {"trials": trials(ACC_LOSS)}, "b": {"trials": trials(None)},
                          "c": {"trials": trials([{"name": "acc", "mode": "max"}, {"name": EVIL}])}},
                         out_dir=tmp_path / "both").read_text()
    assert ('<p class="note">Every job is ranked by acc (higher is better). Other metrics: what else each job '
            "declares (not used to rank it).</p>") in both
    assert "<th>metric</th><th>other metrics</th><th>best value</th>" in both
    rows = re.findall(r'<tr(?: class="best")?><td><a href="(\w)\.html">\w</a></td><td>acc \(max\)</td><td>(.*?)</td>',
                      both)
    assert rows == [("a", "loss (min)"), ("b", "\u2014"), ("c", "&lt;b&gt;f1&lt;/b&gt; (direction not declared)")]
    assert EVIL not in both
    mixed = build_reports({"a": {"trials": trials(ACC_LOSS)},
                           "b": {"trials": trials(ACC_LOSS[::-1], metric="loss", mode="min")}},
                          out_dir=tmp_path / "mixed").read_text()
    assert "Each job is ranked by its own metric (the metric column)." in mixed
    assert "<td>acc (max)</td><td>loss (min)</td>" in mixed and "<td>loss (min)</td><td>acc (max)</td>" in mixed
    page = (tmp_path / "mixed" / "b.html").read_text()
    assert ranking(page) == "Ranked by loss (lower is better). The job also declares: acc (higher is better)."
