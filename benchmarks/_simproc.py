"""A simulator in its own process, for the benchmarks that talk to it over HTTP (and a request counter).

Its CPU then does not compete with the measured client for the GIL, and the
benchmarks can say how busy it was (:meth:`SimProcess.cpu_seconds`). Two ways
to start one:

* :func:`start_simulate`: ``hpo-analytics simulate ARGS`` (what a user runs),
  its URL, project id, token and job ids read from what it prints;
* :func:`start_serving`: a benchmark script run with its own ``--serve``
  options, which prints its coordinates as one JSON line and then reads
  commands on stdin (one answer line each) until stdin closes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    """This checkout first on the child's path."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}


@dataclass
class SimProcess:
    """A running simulator process and where it listens."""

    proc: subprocess.Popen[str]
    url: str
    project_id: str
    token: str
    jobs: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def job_id(self) -> str:
        """The first job."""
        return self.jobs[0]

    def cpu_seconds(self) -> float:
        """User + system CPU seconds the simulator process has used so far."""
        try:
            import psutil

            t = psutil.Process(self.proc.pid).cpu_times()
            return t.user + t.system
        except ImportError:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def command(self, line: str) -> str:
        """Send one command line to a :func:`start_serving` process; its one-line answer."""
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line.rstrip("\n") + "\n")
        self.proc.stdin.flush()
        return self.proc.stdout.readline().strip()

    def stop(self) -> None:
        """Close its stdin (a serving script ends), else terminate; kill after 30 s."""
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        else:
            self.proc.terminate()
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()


def start_simulate(args: Sequence[str]) -> SimProcess:
    """``hpo-analytics simulate --port 0 --auth token ARGS`` in a subprocess."""
    cmd = [sys.executable, "-m", "hpo_analytics", "simulate", "--port", "0", "--auth", "token", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=_env())
    assert proc.stdout is not None
    url = project_id = token = None
    jobs: list[str] = []
    in_jobs = False
    for line in proc.stdout:
        text = line.strip()
        if "listening on" in text:
            url = text.rsplit(" ", 1)[1]
        elif text.startswith("project id:"):
            project_id = text.split(":", 1)[1].strip()
        elif text == "jobs:":
            in_jobs = True
        elif text.startswith("export HPO_ANALYTICS_TOKEN="):
            token = text.split("=", 1)[1]
        elif text.startswith("Press Ctrl-C"):
            break
        elif in_jobs and line.startswith("  ") and text:
            jobs.append(text.split()[0])
        else:
            in_jobs = False
    if not (url and project_id and token and jobs):
        proc.kill()
        raise RuntimeError("could not read the simulator's URL, project id, token and jobs from its output")
    threading.Thread(target=proc.stdout.read, daemon=True).start()  # keep draining: never block on a full pipe
    return SimProcess(proc, url, project_id, token, jobs)


def start_serving(script: str | Path, args: Sequence[str]) -> SimProcess:
    """``python SCRIPT --serve ARGS``: reads its JSON line (``url``, ``project_id``, ``token``, ``jobs``)."""
    cmd = [sys.executable, str(script), "--serve", *args]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=_env())
    assert proc.stdout is not None
    line = proc.stdout.readline()
    try:
        info = json.loads(line)
    except ValueError:
        proc.kill()
        raise RuntimeError(f"the simulator process did not say where it listens: {line!r}") from None
    return SimProcess(proc, info["url"], info["project_id"], info["token"], list(info["jobs"]), info)


class CountingTransport(httpx.BaseTransport):
    """An httpx transport that counts the requests a client sends (and passes them on)."""

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport(limits=httpx.Limits(max_connections=10, max_keepalive_connections=10))
        self.count = 0
        self._lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self._lock:
            self.count += 1
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()
