"""The report's Search space section: the algorithm with its settings, the declared space against what the
trials explored, and a sentence where the search never came near a bound or piled up against one."""

from __future__ import annotations

import html
import json
import re
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pyarrow as pa  # noqa: E402

import hpo_analytics as ha  # noqa: E402
from hpo_analytics._space import METADATA_ALGORITHM, METADATA_SPACE, AlgorithmConfig, SearchSpace  # noqa: E402
from hpo_analytics.report._space import NEAR, PILE_BAND, PILE_SHARE, bound_notes  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "data" / "synthetic_job"
EVIL = '<img src=x onerror="alert(1)">'
PARAMS = [
    {"name": "lr", "param_type": "continuous", "lower_bound": "0.00001", "upper_bound": "0.1"},
    {"name": "dropout", "param_type": "continuous", "lower_bound": "0", "upper_bound": "0.5"},
    {"name": "batch_size", "param_type": "discrete", "discrete_values": ["16", "32", "64", "128", "256"]},
    {"name": EVIL, "param_type": "discrete", "discrete_values": ["a", EVIL]},
    {"name": "absent", "param_type": "continuous", "lower_bound": "x1", "upper_bound": "2"},
]


def _section(page: str) -> str:
    match = re.search(r'<section id="search-space">(.*?)</section>', page, re.S)
    assert match, "no search-space section"
    return match.group(1)


def _table(n: int = 40, *, space: bool = True, algorithm: bool = True) -> pa.Table:
    rng = np.random.default_rng(1)
    meta = {b"hpo_analytics.metric": b"acc", b"hpo_analytics.mode": b"max", b"hpo_analytics.table": b"trials"}
    details = {"algorithm": {"policies": {"auto_search": {
        "search_params": PARAMS,
        "algo_configs": [{"name": "bayes_opt_search", "params": [
            {"key": "kind", "value": "ucb"}, {"key": "kappa", "value": EVIL}]}]}}}}
    if space:
        meta[METADATA_SPACE] = SearchSpace.from_details(details).to_json().encode()
    if algorithm:
        meta[METADATA_ALGORITHM] = AlgorithmConfig.from_details(details).to_json().encode()
    lr = 10 ** rng.uniform(-3.5, -1.0, n)  # never near 1e-5 (on the log axis), right up to 0.1
    lr[: n // 2] = 0.0995  # half the trials against the upper bound
    return pa.table({
        "trial_id": [f"t{i}" for i in range(n)],
        "trial_index": list(range(n)),
        "acc": rng.uniform(0.5, 0.9, n).tolist(),
        "param/lr": lr.tolist(),
        "param/dropout": rng.uniform(0.0, 0.5, n).tolist(),  # the whole range, nothing to say
        "param/batch_size": [int(v) for v in rng.choice([16, 32, 64], n)],
        f"param/{EVIL}": ["a"] * n,
        "param/extra": rng.uniform(0, 1, n).tolist(),
    }).replace_schema_metadata(meta)


def test_the_section_shows_algorithm_space_explored_ranges_and_sentences(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        page = ha.build_report(_table(), out=tmp_path / "r.html").read_text(encoding="utf-8")
    section = _section(page)
    assert "Searched by <strong>bayes_opt_search</strong>" in section
    assert "<th>kind</th><td>ucb</td>" in section
    assert EVIL not in page and html.escape(EVIL, quote=True) in section  # escaped everywhere
    rows = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td><td>(.*?)</td>", section)
    by_name = {html.unescape(r[0]): r for r in rows}
    assert by_name["lr"][1] == "continuous, log scale" and by_name["lr"][2] == "[1e-05, 0.1]"
    assert by_name["batch_size"][2] == "16, 32, 64, 128, 256"
    assert by_name["batch_size"][3].startswith("16 (") and "128" not in by_name["batch_size"][3]
    assert by_name["dropout"][1] == "continuous" and by_name["absent"][3] == "no trial reports it"
    notes = [html.unescape(n) for n in re.findall(r"<li>(.*?)</li>", section)]
    assert any(n.startswith("lr: the search never came near the lower bound 1e-05") for n in notes), notes
    assert any(re.match(r"lr: (5\d)% of the trials lie within 2% of the range of the upper bound 0\.1;", n)
               for n in notes), notes  # half of them put there, a few more drawn there
    assert not any(n.startswith("dropout:") for n in notes)
    assert "batch_size: never tried 128, 256." in notes
    assert any(n.startswith("absent: lower_bound 'x1' is not a finite number") for n in notes)
    assert "Not in the declared space (scales inferred from the values): extra." in notes
    # the section sits before the parameters, after the top trials
    assert page.index('id="top-trials"') < page.index('id="search-space"') < page.index('id="parameters"')


def _section_of(table: pa.Table) -> str:
    from hpo_analytics.report._job import prepare
    from hpo_analytics.report._space import space_section

    return space_section(prepare(table, curves=None, decisions=None, backtest=None, metric=None, mode=None,
                                 summary_only=True))


def test_no_section_without_a_declared_space_or_algorithm_and_the_algorithm_alone() -> None:
    assert _section_of(_table(space=False, algorithm=False)) == ""  # build_report then adds no section
    section = _section_of(_table(space=False))
    assert "bayes_opt_search" in section and "The job declares no search space." in section
    assert "<table>" not in section.replace('<table class="kv">', "")


def test_bound_notes_thresholds() -> None:
    spread = np.linspace(0.0, 1.0, 41)
    assert bound_notes("x", spread, 0.0, 1.0, log=False) == []
    inner = np.linspace(NEAR + 0.01, 1.0 - NEAR - 0.01, 20)
    said = bound_notes("x", inner, 0.0, 1.0, log=False)
    assert len(said) == 2 and "lower bound 0" in said[0] and "upper bound 1" in said[1]
    piled = np.concatenate([np.full(int(PILE_SHARE * 100), 1.0 - PILE_BAND / 2), np.linspace(0, 0.9, 75)])
    assert bound_notes("x", piled, 0.0, 1.0, log=False) == [
        "x: 25% of the trials lie within 2% of the range of the upper bound 1; the best region may lie beyond it."]
    fewer = np.concatenate([np.full(24, 1.0), np.linspace(0, 0.9, 76)])
    assert bound_notes("x", fewer, 0.0, 1.0, log=False) == []
    # measured on the log axis: 1e-4..1e-1 over [1e-5, 1] leaves a decade (20%) at each end
    said = bound_notes("lr", np.array([1e-4, 1e-2, 1e-1]), 1e-5, 1.0, log=True)
    assert [s.split(" (")[0] for s in said] == ["lr: the search never came near the lower bound 1e-05",
                                                 "lr: the search never came near the upper bound 1"]


def test_the_bundled_job_directory_reports_its_algorithm_and_space(tmp_path: Path) -> None:
    # Every trial of the bundled job lies inside its space: drawing the report's plots warns nothing.
    with warnings.catch_warnings():
        warnings.simplefilter("error", ha.SpaceWarning)
        page = ha.build_report(ha.read_trials(DATA), out=tmp_path / "job.html").read_text(encoding="utf-8")
    details = json.loads((DATA / "job.json").read_text(encoding="utf-8"))
    section = _section(page)
    assert "Searched by <strong>bayes_opt_search</strong>" in section
    for p in details["algorithm"]["policies"]["auto_search"]["search_params"]:
        assert f"<tr><td>{p['name']}</td>" in section
    assert "<td>16, 32, 64, 128, 256</td>" in section
