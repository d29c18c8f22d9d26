"""The notebooks in notebooks/ run top to bottom, and are stored clean.

Each notebook is executed with nbclient in a kernel started from this test's
own interpreter (a kernelspec written to a temporary directory, so no
system-wide or user kernel is ever picked up), with matplotlib's Agg backend
and ``notebooks/`` as the working directory, as Jupyter would run it.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("*.ipynb"))
CLEAN_SCRIPT = ROOT / "scripts" / "clean_notebooks.py"

#: Seconds one cell may take; the notebooks are meant to run in a few seconds each.
CELL_TIMEOUT_S = 120
KERNEL_NAME = "hpo-analytics-tests"

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")

# Appended to the executed copy (never to the stored file) to check where and how it ran.
_PROBE = "import os, sys, matplotlib\nprint(sys.executable, sys.prefix, os.getcwd(), matplotlib.get_backend(), sep='\\n')"


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding one kernelspec that runs ipykernel on ``sys.executable``."""
    base = tmp_path_factory.mktemp("kernels")
    spec = base / KERNEL_NAME
    spec.mkdir()
    ipython_dir = tmp_path_factory.mktemp("ipython")
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "hpo_analytics tests",
        "language": "python",
        # Agg: no display needed; IPYTHONDIR: leave the user's IPython profile alone.
        "env": {"MPLBACKEND": "Agg", "IPYTHONDIR": str(ipython_dir)},
    }))
    return base


def _source(cell: Any) -> str:
    src = cell.get("source", "")
    return "".join(src) if isinstance(src, list) else src


def _error_text(cell: Any) -> str:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "error":
            trace = "\n".join(out.get("traceback", [])) or f"{out.get('ename')}: {out.get('evalue')}"
            return _ANSI.sub("", trace)
    return ""


def test_the_notebooks_are_there() -> None:
    assert {"quickstart.ipynb", "early_stopping.ipynb"} <= {p.name for p in NOTEBOOKS}


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs(path: Path, kernel_dir: Path, tmp_path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(_PROBE))
    started: list[int] = []
    km = AsyncKernelManager(kernel_name=KERNEL_NAME,
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]),
                            connection_file=str(tmp_path / "kernel.json"))
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT_S, resources={"metadata": {"path": str(NOTEBOOK_DIR)}},
                            on_cell_start=lambda cell, cell_index: started.append(cell_index))
    failure = None
    try:
        client.execute()
    except Exception as exc:  # nbclient's CellExecutionError, CellTimeoutError, DeadKernelError...
        index = started[-1] if started else -1
        cell = nb.cells[index] if started else {}
        failure = (f"{path.name}: cell {index} failed ({type(exc).__name__})\n"
                   f"--- source ---\n{_source(cell)}\n"
                   f"--- error ---\n{_error_text(cell) or _ANSI.sub('', str(exc))}")
    if failure is not None:  # outside the except block, so the report is not chained to nbclient's copy
        pytest.fail(failure, pytrace=False)
    probe = "".join(o.get("text", "") for o in nb.cells[-1].outputs if o.get("output_type") == "stream")
    executable, prefix, cwd, backend = probe.strip().splitlines()
    assert (executable, prefix) == (sys.executable, sys.prefix), "the kernel did not run on the test's interpreter"
    assert Path(cwd).resolve() == NOTEBOOK_DIR.resolve()
    assert backend.lower() == "agg"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_is_stored_clean(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {i} has outputs (run scripts/clean_notebooks.py)"
            assert cell.execution_count is None, f"{path.name}: cell {i} has an execution count"
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "a notebook opens with a title"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_defines_no_analysis_logic(path: Path) -> None:
    """Notebooks call the package: a function or class defined in a cell belongs in hpo_analytics."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        defined = [n.name for n in ast.walk(tree)
                   if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        assert not defined, f"{path.name}: cell {i} defines {defined}; move it into the package"


def _run_clean(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CLEAN_SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_stored_notebooks_are_byte_for_byte_what_the_clean_script_writes() -> None:
    result = _run_clean("--check", *map(str, NOTEBOOKS))
    assert result.returncode == 0, result.stdout + result.stderr


def test_clean_script_strips_outputs_and_keeps_sources(tmp_path: Path) -> None:
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python", "version": "3.11.7"}
    nb.cells = [nbformat.v4.new_markdown_cell("# Title"),
                nbformat.v4.new_code_cell("x = 1\nx", execution_count=3,
                                          outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "1"},
                                                                          execution_count=3)],
                                          metadata={"scrolled": True, "tags": ["keep"]})]
    dirty = tmp_path / "dirty.ipynb"
    nbformat.write(nb, dirty)

    check = _run_clean("--check", str(dirty))
    assert check.returncode == 1 and "dirty.ipynb: not clean" in check.stdout
    assert nbformat.read(dirty, as_version=4).cells[1].outputs, "--check must not change the file"

    assert _run_clean(str(dirty)).returncode == 0
    cleaned = nbformat.read(dirty, as_version=4)
    code = cleaned.cells[1]
    assert (code.outputs, code.execution_count, code.source) == ([], None, "x = 1\nx")
    assert code.metadata == {"tags": ["keep"]}
    assert cleaned.metadata["language_info"] == {"name": "python"}
    assert cleaned.cells[1].id == nb.cells[1].id
    assert _run_clean("--check", str(dirty)).returncode == 0


def test_clean_script_reports_a_file_that_is_not_a_notebook(tmp_path: Path) -> None:
    bad = tmp_path / "bad.ipynb"
    bad.write_text("{not json")
    result = _run_clean(str(bad))
    assert result.returncode == 2 and "bad.ipynb: cannot read notebook" in result.stderr
