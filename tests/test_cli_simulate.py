"""``hpo-analytics simulate`` as a subprocess: start, read the URL, one request, stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import httpx
import pytest

from hpo_analytics.cli import main


def test_simulate_help_has_an_example(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["simulate", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    assert "hpo-analytics simulate --port" in text
    assert "--offset-mode" in text and "--trials" in text and "--seed" in text


def test_version_still_works(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])
    assert "hpo-analytics" in capsys.readouterr().out


def test_simulate_serves_until_terminated() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "hpo_analytics.cli", "simulate", "--port", "0", "--trials", "30",
         "--seed", "4", "--offset-mode", "pages"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Press Ctrl-C"):
                break
        text = "".join(lines)
        url = re.search(r"listening on (http://127\.0\.0\.1:\d+)", text).group(1)  # type: ignore[union-attr]
        env = dict(re.findall(r"^  export (\w+)=(\S+)$", text, re.M))
        assert env["HPO_ANALYTICS_ENDPOINT"] == url
        job_id = re.search(r"^  ([0-9a-f-]{36})  ", text, re.M).group(1)  # type: ignore[union-attr]
        r = httpx.get(
            f"{url}/v2/{env['HUAWEICLOUD_SDK_PROJECT_ID']}/training-jobs/{job_id}/autosearch-trials",
            params={"limit": 20, "offset": 1},
            headers={"X-Auth-Token": env["HPO_ANALYTICS_TOKEN"]},
        )
        assert r.status_code == 200
        body = r.json()
        assert body["total"] == 30 and body["count"] == 10 and body["offset"] == 1
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    assert proc.returncode == 0, err
    assert "simulator stopped" in out
