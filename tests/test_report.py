"""HTML reports: content, escaping, self-containment, determinism, the index page and argument errors."""

from __future__ import annotations

import base64
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import hpo_analytics as ha
from hpo_analytics import plots
from hpo_analytics.errors import ConfigurationError, HpoAnalyticsError
from hpo_analytics.report import _figures, _registry, build_report, build_reports, safe_names
from hpo_analytics.stopping import MedianStoppingRule, ThresholdRule, backtest

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
EVIL = "<script>alert('x')</script>"
EVIL_SHOWN = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"

IMG = re.compile(r'<img alt="([^"]*)" width="(\d+)" height="(\d+)" src="data:image/png;base64,([A-Za-z0-9+/=]+)">')


@pytest.fixture(scope="module")
def job() -> dict:
    trials = ha.read_trials(DATA / "trials")
    curves = ha.read_curves(DATA / "histories")
    rule = MedianStoppingRule(grace_period=3, metric="acc", mode="max")
    return {
        "trials": trials,
        "curves": curves,
        "decisions": rule.decide(curves),
        "backtest": backtest(curves, {"median": MedianStoppingRule(grace_period=3)}, metric="acc", mode="max"),
    }


@pytest.fixture(scope="module")
def full(job, tmp_path_factory) -> str:
    out = build_report(job["trials"], curves=job["curves"], decisions=job["decisions"], backtest=job["backtest"],
                       out=tmp_path_factory.mktemp("full") / "nested" / "report.html", metric="acc",
                       title="Job <1>")
    assert out.name == "report.html" and out.is_file()
    return out.read_text(encoding="utf-8")


def small_job(evil: str = EVIL) -> dict:
    """Six trials with service text that looks like markup in an id, a status, a parameter name and value."""
    trials = pd.DataFrame({
        "trial_id": ["t1", "t2", evil, "t4", "t5", "t6"],
        "trial_index": [0, 1, 2, 3, 4, 5],
        "status": ["TERMINATED", "TERMINATED", "TERMINATED", evil, "ERROR", "RUNNING"],
        "training_iteration": [3, 3, 3, 3, 1, 2],
        "time_total_s": [10.0, 12.0, 11.0, 9.0, 2.0, 7.0],
        "acc": [0.5, 0.6, 0.95, 0.4, float("nan"), 0.55],
        "param/lr": [0.1, 0.01, 0.001, 0.05, 0.2, 0.02],
        "param/opt": ["adam", "sgd", evil, "adam", "sgd", "adam"],
        f"param/{evil}": [1, 2, 3, 1, 2, 3],
        "auth_token": ["SECRET-TOKEN-123"] * 6,
    })
    rows = [(t, s, v) for t, vs in {"t1": [0.3, 0.4, 0.5], "t2": [0.4, 0.5, 0.6], evil: [0.5, 0.7, 0.95],
                                     "t4": [0.1, 0.2, 0.4], "t6": [0.2, 0.55]}.items()
            for s, v in enumerate(vs, start=1)]
    curves = pd.DataFrame(rows, columns=["trial_id", "training_iteration", "acc"])
    decisions = ThresholdRule(0.45, grace_period=1, metric="acc", mode="max").decide(curves)
    decisions.loc[:, "reason"] = decisions["reason"].astype(object) + " " + evil
    return {"trials": trials, "curves": curves, "decisions": decisions}


@pytest.fixture
def only_plots(monkeypatch):
    """Restrict the report to the named plots (none by default), for tests about the rest of the page: fast."""

    def restrict(*names: str) -> None:
        monkeypatch.setattr(_registry, "PLOTS", tuple(p for p in _registry.PLOTS if p.name in names))

    return restrict


def images(page: str) -> list[tuple[str, int, int, bytes]]:
    return [(alt, int(w), int(h), base64.b64decode(data)) for alt, w, h, data in IMG.findall(page)]


def section(page: str, anchor: str) -> str:
    match = re.search(rf'<section id="{anchor}">(.*?)</section>', page, re.DOTALL)
    assert match, anchor
    return match.group(1)


# --------------------------------------------------------------------------- the full report


def test_full_report_has_every_section_and_the_summary_numbers(full, job) -> None:
    for anchor in ("summary", "top-trials", "parameters", "curves", "decisions", "backtest"):
        assert f'<section id="{anchor}">' in full and f'href="#{anchor}"' in full
    s = ha.summarize(job["trials"], metric="acc")
    summary = section(full, "summary")
    assert f"<td>{s['best_trial_ids'][0]}</td>" in summary
    assert f'<td class="num">{s["best_value"]:.6g}</td>' in summary
    assert f"<td>{s['n_trials']:,}</td>" in summary
    assert "TERMINATED 247, PENDING 32, ERROR 13, RUNNING 8" in summary
    assert "<title>Job &lt;1&gt;</title>" in full and "<h1>Job &lt;1&gt;</h1>" in full


def test_top_trials_table_follows_rank_trials(full, job) -> None:
    top = section(full, "top-trials")
    ranked = ha.rank_trials(job["trials"], metric="acc").head(20)
    rows = re.findall(r"<tr(?: class=\"(\w+)\")?><td class=\"num\">(\d+)</td><td>([^<]*)</td>", top)
    assert [(int(r), t) for _, r, t in rows] == list(zip(ranked["rank"].tolist(), ranked["trial_id"].tolist()))
    assert [c == "best" for c, _, _ in rows] == ranked["is_best"].tolist()
    for name in ("learning_rate", "batch_size", "optimizer", "dropout", "weight_decay", "seed_offset"):
        assert f"<th>{name}</th>" in top


def test_importance_table_has_intervals_for_every_parameter(full, job) -> None:
    params = section(full, "parameters")
    imp = ha.param_importance(job["trials"], metric="acc")
    assert "<th>95% low</th><th>95% high</th>" in params
    for r in imp.itertuples():
        assert (f"<td>{r.param}</td><td class=\"num\">{r.importance:.6g}</td>"
                f"<td class=\"num\">{r.ci_low:.6g}</td><td class=\"num\">{r.ci_high:.6g}</td>") in params


def test_decisions_and_backtest_tables(full, job) -> None:
    dec = section(full, "decisions")
    stops = job["decisions"][job["decisions"]["stop"]]
    assert len(stops) > 0
    assert dec.count('<tr><td>') - 1 == len(stops)  # one counts row per rule, one row per stop
    for trial in stops["trial_id"]:
        assert f"<td>{trial}</td>" in dec
    bt = section(full, "backtest")
    row = job["backtest"].iloc[0]
    assert f'<td class="num">{row["saved"]:.1%}</td>' in bt and f'<td class="num">{row["stopped"]}</td>' in bt


def test_every_plot_is_an_embedded_png_of_the_stated_size(full) -> None:
    imgs = images(full)
    for alt, width, height, png in imgs:
        assert png[:8] == b"\x89PNG\r\n\x1a\n", alt
        assert _figures.png_size(png) == (width, height), alt
        assert b"Software" not in png[:200]  # no matplotlib version: same bytes across runs
    assert sorted(alt for alt, *_ in imgs) == sorted(spec.title for spec in _registry.PLOTS)
    assert {spec.name for spec in _registry.PLOTS} == set(plots.__all__)  # the report draws every plot there is
    assert 'class="skipped"' not in full
    # multi-panel figures: one panel per parameter (6), three per row, named by their caption
    for title in ("Metric by parameter value", "Metric against each parameter"):
        _, width, height, _ = next(i for i in imgs if i[0] == title)
        assert width > 1000 and height > 600
        assert f"<figcaption>{title}. Parameters from most to least important.</figcaption>" in full


def test_plot_sections_follow_the_inputs(tmp_path, job, only_plots) -> None:
    only_plots("plot_pareto_front", "plot_learning_curves", "plot_stop_decisions")
    trials, curves = job["trials"], job["curves"]
    two = pd.concat([job["decisions"],
                     ThresholdRule(0.6, grace_period=2, metric="acc", mode="max").decide(curves)])
    page = build_report(trials.drop_columns(["time_total_s"]), decisions=two, out=tmp_path / "r.html",
                        metric="acc").read_text()
    alts = [alt for alt, *_ in images(page)]
    assert "Pareto front" not in alts  # no run time to trade off against
    assert "Learning curves" not in alts
    assert "Stop decisions: the curves are needed to draw the decisions" not in page
    assert '<p class="skipped">Stop decisions: not drawn (the curves are needed to draw the decisions).</p>' in page
    page = build_report(trials, curves=curves, decisions=two, out=tmp_path / "r.html", metric="acc").read_text()
    rules = sorted(two["rule"].unique())
    assert [a for a, *_ in images(page) if a.startswith("Stop decisions")] == [f"Stop decisions: {r}" for r in rules]


def test_page_is_self_contained(full) -> None:
    assert "<script" not in full.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", full, re.IGNORECASE)
    assert "http://" not in full and "https://" not in full
    assert "url(" not in full and "@import" not in full
    assert "default-src 'none'; img-src data:" in full  # CSP: nothing may be fetched


# --------------------------------------------------------------------------- escaping, secrets, determinism


def test_service_text_is_escaped_everywhere(tmp_path, only_plots) -> None:
    only_plots()  # plots are images: nothing of theirs reaches the HTML but escaped notes (tested below)
    j = small_job()
    page = build_report(j["trials"], curves=j["curves"], decisions=j["decisions"], out=tmp_path / "r.html",
                        metric="acc", title=EVIL).read_text(encoding="utf-8")
    assert "<script" not in page
    # title, h1, best trial in the summary and top table, status, parameter name and value, decision reason
    assert page.count(EVIL_SHOWN) >= 7
    assert f"<h1>{EVIL_SHOWN}</h1>" in page and f"<th>{EVIL_SHOWN}</th>" in section(page, "top-trials")
    assert f"0.45 {EVIL_SHOWN}</td>" in section(page, "decisions")
    assert "SECRET-TOKEN-123" not in page and "auth_token" not in page


def test_same_input_gives_the_same_bytes(tmp_path, only_plots) -> None:
    only_plots("plot_optimization_history", "plot_slice", "plot_learning_curves")
    j = small_job()
    a = build_report(j["trials"], curves=j["curves"], decisions=j["decisions"], out=tmp_path / "a.html",
                     metric="acc")
    b = build_report(j["trials"], curves=j["curves"], decisions=j["decisions"], out=tmp_path / "b.html",
                     metric="acc")
    assert a.read_bytes() == b.read_bytes()
    assert len(images(a.read_text())) == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "b.html"]  # no temporary files left


def test_sections_only_when_given_and_arrow_or_pandas_alike(tmp_path, job, only_plots) -> None:
    only_plots()
    trials = job["trials"]
    page = build_report(ha.trials_to_pandas(trials), out=tmp_path / "p.html", metric="acc").read_text()
    for anchor in ("curves", "decisions", "backtest"):
        assert f'id="{anchor}"' not in page and f'href="#{anchor}"' not in page
    assert "<h1>Hyperparameter search report</h1>" in page
    assert section(page, "top-trials") == section(build_report(trials, out=tmp_path / "a.html",
                                                               metric="acc").read_text(), "top-trials")


def test_metric_and_mode_defaults_and_top(tmp_path, job, only_plots) -> None:
    only_plots()
    page = build_report(job["trials"], out=tmp_path / "r.html", mode="min", top=3).read_text()
    ranked = ha.rank_trials(job["trials"], mode="min")  # reward_attr, lower is better
    assert "reward_attr (lower is better)" in page
    rows = re.findall(r"<tr(?: class=\"best\")?><td class=\"num\">\d+</td><td>([^<]*)</td>",
                      section(page, "top-trials"))
    assert rows == ranked["trial_id"].head(3).tolist()


def test_degenerate_jobs_still_give_a_report(tmp_path, job, only_plots) -> None:
    trials = job["trials"]
    page = build_report(trials.slice(0, 0), out=tmp_path / "empty.html", metric="acc").read_text()
    assert '<section id="top-trials"><h2>Top trials</h2><p class="note">No trials.</p></section>' in page
    assert "Importance not estimated: param_importance: 0 scored trial(s)" in page
    assert 'class="skipped"' not in page and page.count("<img ") == 9  # the plots draw their "no trials" note
    only_plots()
    bare = build_report(trials.select(["trial_id", "acc"]), out=tmp_path / "bare.html", metric="acc").read_text()
    assert "No parameter columns" in bare and "<th>status</th>" not in section(bare, "top-trials")
    assert "<th>total run time</th><td>\u2014</td>" in bare


def test_too_few_trials_for_importance_is_said_on_the_page_not_on_stderr(tmp_path, only_plots, recwarn) -> None:
    only_plots()
    seed = ha.read_trials(Path(__file__).resolve().parents[1] / "data" / "seed_trials.json")
    page = build_report(seed, out=tmp_path / "seed.html", metric="acc").read_text()
    note = section(page, "parameters")
    # The default method falls back from fanova to spearman on 8 trials; the page says so beside the table.
    assert "8 scored trial(s)" in note and "too few for fanova" in note and "Method spearman over 8" in note
    assert "<td>learning_rate</td>" in note and "No parameter explains" not in note
    assert not [w for w in recwarn if issubclass(w.category, ha.InsufficientDataWarning)]


def test_a_metric_that_cannot_be_scored_is_refused_in_its_own_type(tmp_path) -> None:
    seed = ha.read_trials(Path(__file__).resolve().parents[1] / "data" / "seed_trials.json")
    with pytest.raises(ConfigurationError, match=r"'status' is of type string"):
        build_report(seed, out=tmp_path / "x.html", metric="status")


# --------------------------------------------------------------------------- several jobs


def test_build_reports_writes_one_page_per_job_and_an_index(tmp_path, job, only_plots) -> None:
    only_plots("plot_status")
    j = small_job()
    jobs = {
        "search A/1": {"trials": job["trials"], "backtest": job["backtest"]},
        "search A:1": {"trials": j["trials"], "curves": j["curves"]},
        "index": {"trials": job["trials"]},
        EVIL: {"trials": j["trials"]},
    }
    index = build_reports(jobs, out_dir=tmp_path / "site", metric="acc")
    assert index == tmp_path / "site" / "index.html"
    names = sorted(p.name for p in (tmp_path / "site").iterdir())
    assert names == sorted(["index.html", "search_A_1.html", "search_A_1-2.html", "index-2.html",
                            "script_alert_x_script.html"])
    text = index.read_text()
    assert "<script" not in text and EVIL_SHOWN in text
    assert [alt for alt, *_ in images(text)] == ["Distribution of the metric by job"]
    for stem in ("search_A_1", "search_A_1-2", "index-2", "script_alert_x_script"):
        assert f'<a href="{stem}.html">' in text
        assert '<a href="index.html">All jobs</a>' in (tmp_path / "site" / f"{stem}.html").read_text()
    # status columns (union over jobs), per-job counts, total run time from time_total_s
    assert "<th>TERMINATED</th>" in text and "<th>RUNNING</th>" in text
    s = ha.summarize(j["trials"], metric="acc")
    assert s["time_total_s"] == 51.0 and "51 s" in text
    # the same metric everywhere: the job with the best value (the small job's 0.95 beats 0.916) is highlighted
    best_rows = re.findall(r'<tr class="best"><td><a href="([^"]+)"', text)
    assert best_rows == ["search_A_1-2.html", "script_alert_x_script.html"]  # the same trials: tied
    first = (tmp_path / "site" / "search_A_1.html").read_text()
    assert first.count('id="backtest"') == 1 and 'id="curves"' not in first
    assert [alt for alt, *_ in images(first)] == ["Trials by status"]


def test_index_compares_distributions_only_when_the_jobs_share_a_metric(tmp_path, only_plots) -> None:
    only_plots()
    trials = small_job()["trials"]
    acc, loss = trials.copy(), trials.assign(loss=trials["acc"] * 2)
    acc.attrs = {"hpo_analytics": {"metric": "acc", "mode": "max"}}
    loss.attrs = {"hpo_analytics": {"metric": "loss", "mode": "min"}}
    text = build_reports({"a": {"trials": acc}, "b": {"trials": loss}}, out_dir=tmp_path / "mixed").read_text()
    assert "<img" not in text and 'class="best"' not in text
    assert "<td>acc (max)</td>" in text and "<td>loss (min)</td>" in text
    many = {f"job {i}": {"trials": acc} for i in range(13)}
    text = build_reports(many, out_dir=tmp_path / "many").read_text()
    assert "<img" not in text and "Distribution of the metric by job: not drawn (more than 12 jobs)" in text
    assert text.count('<tr class="best">') == 13  # all tie for best


def test_safe_names() -> None:
    got = safe_names(["a b", "a_b", "A_B", "../etc/passwd", "", "...", "index", "x" * 300])
    assert got["a b"] == "a_b" and got["a_b"] == "a_b-2" and got["A_B"] == "A_B-3"
    assert got["../etc/passwd"] == "etc_passwd"
    assert got[""] == "job" and got["..."] == "job-2"
    assert got["index"] == "index-2"
    assert got["x" * 300] == "x" * 80


# --------------------------------------------------------------------------- errors


def test_bad_arguments_raise_configuration_errors(tmp_path, job) -> None:
    trials = job["trials"]
    with pytest.raises(ConfigurationError, match="decisions table lacks column.*reason"):
        build_report(trials, decisions=job["decisions"].drop(columns=["reason"]), out=tmp_path / "r.html")
    with pytest.raises(ConfigurationError, match="backtest table lacks"):
        build_report(trials, backtest=job["decisions"], out=tmp_path / "r.html")
    with pytest.raises(ConfigurationError, match="curves table lacks column.*loss"):
        build_report(trials, curves=job["curves"].drop_columns(["loss"]), metric="loss", out=tmp_path / "r.html")
    with pytest.raises(ConfigurationError, match="curves must be a pyarrow.Table"):
        build_report(trials, curves=[1, 2], out=tmp_path / "r.html")
    with pytest.raises(ConfigurationError, match="trials is required"):
        build_report(None, out=tmp_path / "r.html")
    with pytest.raises(ConfigurationError, match="no metric column 'nope'"):
        build_report(trials, metric="nope", out=tmp_path / "r.html")
    with pytest.raises(ConfigurationError, match="out is a directory"):
        build_report(trials, out=tmp_path)
    with pytest.raises(ConfigurationError, match="top must be a positive integer"):
        build_report(trials, out=tmp_path / "r.html", top=0)
    with pytest.raises(ConfigurationError, match="non-empty mapping"):
        build_reports({}, out_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="job 'a' must be a mapping with a 'trials'"):
        build_reports({"a": {"curves": None}}, out_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="job 'a' has unknown key.*decision"):
        build_reports({"a": {"trials": trials, "decision": None}}, out_dir=tmp_path)
    with pytest.raises(ConfigurationError, match="job 'b': no metric column 'reward_attr'"):
        build_reports({"a": {"trials": trials}, "b": {"trials": trials.drop_columns(["reward_attr"])}},
                      out_dir=tmp_path / "s")
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "s").exists()  # nothing written on error


# --------------------------------------------------------------------------- figures


def test_a_plot_that_refuses_the_data_becomes_a_note_and_a_bug_propagates() -> None:
    def refuses(data, *, ax=None):
        raise ConfigurationError(f"needs two objectives, got {EVIL}")

    note = _figures.draw(refuses, (None,), {}, title="Pareto <front>", figsize=(3, 2))
    assert note == (f'<p class="skipped">Pareto &lt;front&gt;: not drawn (needs two objectives, got '
                    f'{EVIL_SHOWN}).</p>')

    def broken(data, *, ax=None):
        raise KeyError("bug")

    with pytest.raises(KeyError):
        _figures.draw(broken, (None,), {}, title="t", figsize=(3, 2))
    assert issubclass(ConfigurationError, HpoAnalyticsError)


def test_figures_a_plot_makes_itself_are_closed_and_saved() -> None:
    import matplotlib.pyplot as plt

    before = set(plt.get_fignums())

    def own_figure(data):  # no ax=: makes a pyplot figure with two panels
        fig = plt.figure(figsize=(4, 2))
        fig.add_subplot(1, 2, 1).plot([0, 1], [1, 0])
        fig.add_subplot(1, 2, 2).bar(["a"], [1])
        return fig

    png = _figures.render_png(own_figure, (None,), {}, figsize=(7, 5))
    assert _figures.png_size(png) == (400, 200)  # its own size, not ours
    assert set(plt.get_fignums()) == before

    def on_ax(data, *, ax):
        ax.plot([0, 1], [0, 1])
        return ax

    assert _figures.png_size(_figures.render_png(on_ax, (None,), {}, figsize=(3, 2))) == (300, 200)
    assert set(plt.get_fignums()) == before


def test_bytes_that_are_not_a_png_raise_the_package_error() -> None:
    with pytest.raises(HpoAnalyticsError, match="not a PNG"):
        _figures.png_size(b"GIF89a" + bytes(30))


def test_import_does_not_load_matplotlib() -> None:
    code = ("import sys, hpo_analytics; assert callable(hpo_analytics.build_report); "
            "assert callable(hpo_analytics.build_reports); print('matplotlib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_report_file_is_readable_like_any_file_the_user_writes(tmp_path) -> None:
    """The atomic write must not leave the owner-only mode of a temporary file on the report."""
    import os
    import stat

    import hpo_analytics as ha

    trials = ha.read_trials(Path(__file__).resolve().parents[1] / "data" / "seed_trials.json")
    old = os.umask(0o022)
    try:
        path = ha.build_report(trials, out=tmp_path / "r.html")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]  # no temporary file left behind
