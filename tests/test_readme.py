"""The README stays true: its Python snippets run and CI runs its test command."""

from __future__ import annotations

import os
import re
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


def test_main_command_names_bundled_data() -> None:
    marker = README.split("<!-- main-command -->", 1)[1]
    command = re.search(r"```bash\n(.*?)\n```", marker, flags=re.S).group(1)
    match = re.search(r"hpo-analytics normalize (\S+)", command)
    assert match and (ROOT / match.group(1)).exists()
