"""``hpo-analytics simulate`` as a subprocess: start, read the URL, one request, stop."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

from collections.abc import Iterator

import httpx
import pytest

from hpo_analytics.cli import EXIT_ERROR, main


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


@pytest.fixture
def keep_sigterm() -> Iterator[None]:
    """``run_simulate`` installs a SIGTERM handler; put the test process's own back afterwards."""
    previous = signal.getsignal(signal.SIGTERM)
    yield
    signal.signal(signal.SIGTERM, previous)


@pytest.mark.usefixtures("keep_sigterm")
@pytest.mark.parametrize(
    ("options", "words"),
    [
        (["--jobs", "0"], "n_jobs must be >= 1"),
        (["--trials", "-1"], "n_trials must be >= 0"),
        (["--port", "99999"], "port must be an integer from 0 to 65535"),
        (["--elapsed", "-5"], "elapsed must be None or a number of seconds >= 0"),
        (["--elapsed", "nan"], "elapsed must be None or a number of seconds >= 0"),
    ],
)
def test_bad_simulate_options_are_one_clean_line(
    capsys: pytest.CaptureFixture[str], options: list[str], words: str
) -> None:
    assert main(["simulate", "--port", "0", *options]) == EXIT_ERROR
    out, err = capsys.readouterr()
    assert "listening" not in out
    assert err.count("\n") == 1 and err.startswith("hpo-analytics simulate: error: ")
    assert words in err and "unexpected" not in err and "--verbose" not in err


def test_simulate_jobs_0_exits_with_a_configuration_error() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "hpo_analytics.cli", "simulate", "--port", "0", "--jobs", "0"],
        capture_output=True, text=True, timeout=60,
    )
    assert proc.returncode == EXIT_ERROR
    assert proc.stderr == "hpo-analytics simulate: error: n_jobs must be >= 1\n"
    assert "listening" not in proc.stdout
