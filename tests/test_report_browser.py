"""A generated report opened in headless Chromium: it loads offline, every image decodes, no injected script runs.

A copy of the report gets one small script appended that, on ``load``,
writes into the DOM how many ``<img>`` are ``complete`` with a
``naturalWidth`` above zero, how many there are and how many ``<script>``
elements exist; ``--dump-dom`` prints the DOM after ``--virtual-time-budget``.
The report's Content-Security-Policy forbids scripts, so the copy's policy
gets only that one script's hash added (images stay limited to ``data:``).
DNS is mapped to nowhere, so any network fetch would fail.

Needs Debian's ``chromium`` (``.ci/run`` installs it). Without it the test
skips on a developer machine and fails when ``CI`` is set.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pyarrow as pa
import pytest

import hpo_analytics as ha
from hpo_analytics.report import _registry, build_report
from hpo_analytics.report._html import CSP
from hpo_analytics.stopping import MedianStoppingRule, backtest

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic_job"
EVIL = "<script>document.title='pwned'</script>"

CHECK = """
window.addEventListener("load", function () {
  var imgs = Array.prototype.slice.call(document.images);
  var ok = imgs.filter(function (i) { return i.complete && i.naturalWidth > 0; }).length;
  var out = document.createElement("pre");
  out.id = "report-check";
  out.textContent = JSON.stringify({images: imgs.length, loaded: ok, scripts: document.scripts.length,
                                    title: document.title, body: document.body.innerText.length});
  document.body.appendChild(out);
});
"""
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--host-resolver-rules=MAP * ~NOTFOUND"]


def chromium() -> str:
    path = "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else shutil.which("chromium")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (.ci/run installs it with apt-get); the report browser test "
                    "must run under CI")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def with_check_script(page: str) -> str:
    """The page with CHECK appended and allowed (by hash) by its Content-Security-Policy."""
    digest = base64.b64encode(hashlib.sha256(CHECK.encode()).digest()).decode()
    assert page.count(CSP) == 1
    page = page.replace(CSP, CSP.replace("default-src 'none';", f"default-src 'none'; script-src 'sha256-{digest}';"))
    return page.replace("</body>", f"<script>{CHECK}</script>\n</body>")


def open_in_chromium(path: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        proc = subprocess.run(
            [chromium(), *FLAGS, f"--user-data-dir={profile}", "--virtual-time-budget=10000", "--dump-dom",
             path.as_uri()],
            capture_output=True, text=True, timeout=120, check=False,  # the DOM dump says what went wrong
        )
    match = re.search(r'<pre id="report-check">(.*?)</pre>', proc.stdout, re.DOTALL)
    assert match, f"no check result in the DOM (exit {proc.returncode}); stderr tail:\n{proc.stderr[-2000:]}"
    return json.loads(html.unescape(match.group(1)))


def test_report_loads_offline_with_every_image(tmp_path) -> None:
    trials = ha.read_trials(DATA / "trials")
    curves = ha.read_curves(DATA / "histories")
    best = ha.rank_trials(trials, metric="acc")["trial_id"].iloc[0]

    def renamed(table: pa.Table) -> pa.Table:  # the best trial's id is markup, so it shows in the tables
        ids = [EVIL if t == best else t for t in table["trial_id"].to_pylist()]
        return table.set_column(table.column_names.index("trial_id"), "trial_id", pa.array(ids, pa.string()))

    trials, curves = renamed(trials), renamed(curves)
    decisions = MedianStoppingRule(grace_period=3, metric="acc", mode="max").decide(curves)
    bt = backtest(curves, {"median": MedianStoppingRule(grace_period=3)}, metric="acc", mode="max")
    report = build_report(trials, curves=curves, decisions=decisions, backtest=bt, out=tmp_path / "report.html",
                          metric="acc", title="Browser check")
    page = report.read_text(encoding="utf-8")
    n_img = page.count("<img ")
    assert n_img == len(_registry.PLOTS)
    probe = tmp_path / "probe.html"
    probe.write_text(with_check_script(page), encoding="utf-8")

    result = open_in_chromium(probe)
    assert result["images"] == n_img
    assert result["loaded"] == result["images"], result
    assert result["scripts"] == 1  # only the check script: the markup in the trial id stayed text
    assert result["title"] == "Browser check"
    assert result["body"] > 1000


def test_the_check_notices_a_broken_and_a_remote_image(tmp_path) -> None:
    """The probe is able to fail: a corrupt data URI and a remote image both count as not loaded."""
    body = ('<img alt="ok" src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42'
            'mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==">'
            '<img alt="corrupt" src="data:image/png;base64,AAAA">'
            '<img alt="remote" src="http://example.com/a.png">')
    page = (f'<!DOCTYPE html><html><head><meta http-equiv="Content-Security-Policy" content="{CSP}">'
            f"<title>t</title></head><body>{body}</body></html>")
    probe = tmp_path / "probe.html"
    probe.write_text(with_check_script(page), encoding="utf-8")
    result = open_in_chromium(probe)
    assert result["images"] == 3 and result["loaded"] == 1


def test_missing_chromium_fails_under_ci_and_skips_elsewhere(monkeypatch) -> None:
    monkeypatch.setattr(os, "access", lambda *a, **k: False)
    monkeypatch.setattr(shutil, "which", lambda *a, **k: None)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="chromium is not installed"):
        chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        chromium()
