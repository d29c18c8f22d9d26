"""``import hpo_analytics`` and ``hpo-analytics --help`` stay light (issue #14, item 4).

These are correctness properties, not timings: which modules a fresh
interpreter has loaded after an import or a ``--help``.  The timings against
the official SDK and Optuna are in ``benchmarks/import_time.py``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import hpo_analytics
from hpo_analytics import errors

ROOT = Path(hpo_analytics.__file__).resolve().parent.parent
PACKAGE = ROOT / "hpo_analytics"
HEAVY = ("pandas", "matplotlib", "pyarrow")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), *filter(None, [env.get("PYTHONPATH")])])
    return env


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env=_env(), check=False)


def _loaded_after(code: str, modules: tuple[str, ...] = HEAVY) -> dict[str, bool]:
    probe = f"{code}\nimport sys\nprint(*[m in sys.modules for m in {modules!r}])"
    done = _python("-c", probe)
    assert done.returncode == 0, done.stderr
    return dict(zip(modules, [word == "True" for word in done.stdout.split()]))


def _imported_by(*args: str) -> tuple[subprocess.CompletedProcess[str], set[str]]:
    """Run ``python -X importtime ARGS``: its result and the top-level names of every module it imported."""
    done = _python("-X", "importtime", *args)
    names = set()
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            names.add(name.split(".")[0])
    return done, names


def test_import_hpo_analytics_loads_neither_pandas_nor_matplotlib() -> None:
    done = _python("-c", "import hpo_analytics, sys; print('pandas' in sys.modules, 'matplotlib' in sys.modules)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "False"]


def test_import_hpo_analytics_loads_no_heavy_dependency() -> None:
    loaded = _loaded_after("import hpo_analytics", ("pandas", "matplotlib", "pyarrow", "numpy", "httpx"))
    assert not any(loaded.values()), loaded


def test_help_loads_neither_pandas_nor_matplotlib_nor_pyarrow() -> None:
    done, names = _imported_by("-m", "hpo_analytics", "--help")
    assert done.returncode == 0, done.stderr[-2000:]
    assert "usage: hpo-analytics" in done.stdout
    assert "hpo_analytics" in names  # the probe sees the package's own imports
    assert not names & {"pandas", "matplotlib", "pyarrow", "numpy"}, sorted(names & set(HEAVY))


def test_every_subcommand_help_is_light() -> None:
    from hpo_analytics.cli import build_parser

    commands = list(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert "fetch" in commands and "report" in commands
    code = ("import sys, contextlib, io\nfrom hpo_analytics.cli import main\n"
            f"for command in {commands!r}:\n"
            "    with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "        main([command, '--help'])")
    loaded = _loaded_after(code)
    assert not any(loaded.values()), loaded


@pytest.mark.parametrize(("module", "absent"), [
    ("hpo_analytics.errors", ("pandas", "matplotlib", "pyarrow", "numpy")),
    ("hpo_analytics.cli", ("pandas", "matplotlib", "pyarrow", "numpy")),
    ("hpo_analytics.client", ("pandas", "matplotlib", "pyarrow", "numpy")),
    ("hpo_analytics._table", ("pandas", "matplotlib", "pyarrow", "numpy")),
])
def test_light_modules(module: str, absent: tuple[str, ...]) -> None:
    loaded = _loaded_after(f"import {module}", absent)
    assert not any(loaded.values()), loaded


def test_names_load_on_first_use_in_a_fresh_interpreter() -> None:
    code = ("import sys, hpo_analytics\n"
            "before = 'hpo_analytics.analysis' in sys.modules\n"
            "from hpo_analytics import rank_trials, trials_to_arrow\n"
            "from hpo_analytics.analysis import rank_trials as direct\n"
            "print(before, rank_trials is direct, 'hpo_analytics.analysis' in sys.modules,\n"
            "      hpo_analytics.plots.__name__, 'rank_trials' in vars(hpo_analytics))")
    done = _python("-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True", "True", "hpo_analytics.plots", "True"]


def test_star_import_gives_all_the_public_names() -> None:
    done = _python("-c", "from hpo_analytics import *\nprint(callable(rank_trials), watch.__module__)")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "hpo_analytics.stopping._watch"]


def test_lazy_table_and_eager_imports_are_exactly_all() -> None:
    lazy = set(hpo_analytics._LAZY)
    eager = {"__version__", *(name for name in hpo_analytics.__all__ if name in errors.__all__)}
    assert not lazy & eager
    assert lazy | eager == set(hpo_analytics.__all__)
    for name, module in hpo_analytics._LAZY.items():
        source = __import__(f"hpo_analytics.{module}", fromlist=[name])
        assert getattr(hpo_analytics, name) is getattr(source, name), name


def test_public_submodules_are_listed() -> None:
    public = {p.stem if p.suffix == ".py" else p.name for p in PACKAGE.iterdir()
              if not p.name.startswith("_") and (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert set(hpo_analytics._SUBMODULES) == public - {"errors"}  # errors is imported at once


def test_dir_lists_the_public_names_and_unknown_names_still_fail() -> None:
    assert set(hpo_analytics.__all__) <= set(dir(hpo_analytics))
    with pytest.raises(AttributeError, match="no_such_name"):
        hpo_analytics.no_such_name  # noqa: B018
    assert not hasattr(hpo_analytics, "no_such_name")
    with pytest.raises(ImportError):
        from hpo_analytics import no_such_name  # noqa: F401
