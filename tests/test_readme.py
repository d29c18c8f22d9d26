"""The README stays true: its Python snippets run and CI runs its test command."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


@pytest.mark.parametrize("snippet", _blocks("python"))
def test_python_snippets_run(snippet: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    monkeypatch.chdir(ROOT)
    exec(compile(snippet, "README.md", "exec"), {"__name__": "__readme__"})  # noqa: S102 - our own README


def test_ci_runs_the_readme_test_command() -> None:
    marker = README.split("<!-- test-command -->", 1)[1]
    command = re.search(r"```bash\n(.*?)\n```", marker, flags=re.S).group(1)
    assert "pytest" in command
    ci = (ROOT / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci  # .ci/run extracts this block instead of repeating it
    assert os.access(ROOT / ".ci" / "run", os.X_OK)


def test_main_command_is_the_demo() -> None:
    """The first command installs the package and runs ``hpo-analytics demo`` (run for real in test_cli_commands)."""
    marker = README.split("<!-- main-command -->", 1)[1]
    command = re.search(r"```bash\n(.*?)\n```", marker, flags=re.S).group(1)
    assert "pip install" in command and command.rstrip().endswith("hpo-analytics demo")


def _offline_command_lines() -> list[str]:
    """The README's ``hpo-analytics ...`` lines that need no service (no JOB_ID, no fetched jobs, no sync)."""
    lines = []
    for block in _blocks("bash"):
        for line in block.splitlines():
            line = line.split("  #", 1)[0].strip()
            if line.startswith("hpo-analytics ") and not re.search(r"JOB_ID|jobs/|--port|touch|^hpo-analytics sync ", line):
                lines.append(line)
    return lines


@pytest.mark.parametrize("line", _offline_command_lines())
def test_offline_command_lines_run(line: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    from hpo_analytics.cli import main

    monkeypatch.chdir(ROOT)
    status = main(shlex.split(line)[1:])
    out, err = capsys.readouterr()
    assert status == 0, err
    assert out.strip()


def test_readme_has_offline_command_lines_to_check() -> None:
    assert {line.split()[1] for line in _offline_command_lines()} >= {"report", "rank", "importance", "backtest"}
