"""The layout keeps its promises: layers, private modules, one error contract.

These tests read the package's source with :mod:`ast` (every import, also
those inside functions, and every ``raise``), so a change that breaks a rule
fails here with the module and line, before a reviewer has to spot it.
"""

from __future__ import annotations

import ast
import builtins
import importlib
import inspect
import pkgutil
import warnings
from pathlib import Path

import pytest

import hpo_analytics
from hpo_analytics.errors import HpoAnalyticsError

PACKAGE = Path(hpo_analytics.__file__).parent
ROOT = "hpo_analytics"


def _modules() -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its ``__init__``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


MODULES = _modules()
PACKAGES = {name for name, path in MODULES.items() if path.name == "__init__.py"}


def _resolve(importer: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = importer.split(".") if importer in PACKAGES else importer.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(name: str) -> list[tuple[int, str, str | None]]:
    """``(line, module, imported name or None)`` for every hpo_analytics import in a module."""
    tree = ast.parse(MODULES[name].read_text(encoding="utf-8"))
    out: list[tuple[int, str, str | None]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == ROOT]
        elif isinstance(node, ast.ImportFrom):
            target = _resolve(name, node)
            if target.split(".")[0] != ROOT:
                continue
            for alias in node.names:
                full = f"{target}.{alias.name}"
                # ``from pkg import submodule`` imports a module, not a name
                if full in MODULES:
                    out.append((node.lineno, full, None))
                else:
                    out.append((node.lineno, target, alias.name))
    return out


def _subpackage(module: str) -> str:
    """The top-level unit a module belongs to: ``hpo_analytics.plots`` for ``hpo_analytics.plots._common``."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_private_imports_across_subpackages() -> None:
    bad = []
    for name in MODULES:
        home = _subpackage(name)
        for line, module, imported in _imports(name):
            if _subpackage(module) == home:
                continue
            # a private module inside another subpackage (root-level _x modules are the shared internals)
            inner = module.split(".")[2:]
            if any(part.startswith("_") and not part.startswith("__") for part in inner):
                bad.append(f"{name}:{line} imports {module}")
                continue
            if imported is not None and imported.startswith("_") and imported != "__version__":
                bad.append(f"{name}:{line} imports the private name {imported} from {module}")
    assert not bad, "\n".join(dict.fromkeys(bad))


# Which units each unit may import (besides itself).  The leaf modules import
# nothing above them; the data flows client -> normalize -> frame -> analysis /
# stopping -> plots -> report, with the CLI, the demo and the simulator on top.
LEAF = {"hpo_analytics._table", "hpo_analytics._validation", "hpo_analytics._jsonutil", "hpo_analytics._pyrepr",
        "hpo_analytics._space",
        "hpo_analytics._version", "hpo_analytics.errors"}
ALLOWED = {
    "hpo_analytics._table": set(),
    "hpo_analytics._version": set(),
    "hpo_analytics._jsonutil": set(),
    "hpo_analytics._pyrepr": {"hpo_analytics.errors"},
    "hpo_analytics._space": {"hpo_analytics.errors", "hpo_analytics._jsonutil"},
    "hpo_analytics.errors": set(),
    "hpo_analytics._validation": {"hpo_analytics.errors"},
    "hpo_analytics.signing": LEAF,
    "hpo_analytics.normalize": LEAF,
    # io reads a job directory's job.json as the client reads job details
    "hpo_analytics.io": LEAF | {"hpo_analytics.normalize", "hpo_analytics.dataset", "hpo_analytics.client"},
    "hpo_analytics._frames": LEAF,
    "hpo_analytics.client": LEAF | {"hpo_analytics.normalize", "hpo_analytics.signing"},
    # the dataset writer syncs through the client; io.py reads datasets back, so it sits above both
    "hpo_analytics.dataset": LEAF | {"hpo_analytics.normalize", "hpo_analytics.client"},
    "hpo_analytics.analysis": LEAF | {"hpo_analytics._frames"},
    "hpo_analytics.stopping": LEAF | {"hpo_analytics._frames"},
    # Optuna and Ray Tune formats (#17): reads tables and the watch ledger, beside analysis and stopping
    "hpo_analytics.interop": LEAF | {"hpo_analytics._frames", "hpo_analytics.stopping"},
    "hpo_analytics.plots": LEAF | {"hpo_analytics._frames", "hpo_analytics.analysis", "hpo_analytics.stopping"},
    "hpo_analytics.report": LEAF | {"hpo_analytics._frames", "hpo_analytics.analysis", "hpo_analytics.stopping",
                                    "hpo_analytics.plots"},
    "hpo_analytics.simulator": LEAF | {"hpo_analytics.signing"},
    # SQL over the many-jobs dataset (#16): it reads the files by their layout, whoever wrote them
    "hpo_analytics.query": LEAF,
}
TOP = {"hpo_analytics", "hpo_analytics.demo", "hpo_analytics.cli", "hpo_analytics.__main__"}


def test_layers_import_only_downwards() -> None:
    assert set(ALLOWED) | TOP == {_subpackage(n) for n in MODULES}, "a new unit needs a place in ALLOWED"
    bad = []
    for name in MODULES:
        home = _subpackage(name)
        for line, module, _ in _imports(name):
            unit = _subpackage(module)
            if unit == home:
                continue
            if unit == "hpo_analytics.cli" and home != "hpo_analytics.__main__":
                bad.append(f"{name}:{line} imports the CLI ({module})")
            elif unit == "hpo_analytics.simulator" and home not in ("hpo_analytics.demo", "hpo_analytics.cli"):
                bad.append(f"{name}:{line} needs the simulator ({module})")
            elif home in ALLOWED and unit not in ALLOWED[home]:
                bad.append(f"{name}:{line} ({home}) imports {module}, above or beside it")
    assert not bad, "\n".join(dict.fromkeys(bad))


def test_no_plot_module_imports_another_plot_module() -> None:
    plot_modules = {n for n in MODULES if n.startswith("hpo_analytics.plots.") and not n.split(".")[-1].startswith("_")}
    bad = [f"{name}:{line} imports {module}"
           for name in plot_modules for line, module, _ in _imports(name) if module in plot_modules]
    assert not bad, "\n".join(dict.fromkeys(bad))


@pytest.mark.parametrize("package", sorted(PACKAGES))
def test_no_module_is_shadowed_by_a_reexported_name(package: str) -> None:
    """``hpo_analytics.stopping.watch`` means one thing: the function, not also a module."""
    mod = importlib.import_module(package)
    names = set(getattr(mod, "__all__", ()))
    shadowed = sorted(n for n in names if f"{package}.{n}" in MODULES)
    assert not shadowed, f"{package}: modules named like re-exported names: {shadowed}"


BUILTIN_EXCEPTIONS = {name for name, obj in vars(builtins).items()
                      if isinstance(obj, type) and issubclass(obj, BaseException)}
# Control flow, not errors: a command's exit status and the iterator protocol.
CONTROL_FLOW = {"SystemExit", "StopIteration", "KeyboardInterrupt", "GeneratorExit"}


def _attribute_protocol_raises(tree: ast.AST) -> set[int]:
    """The ``raise`` nodes inside a module's ``__getattr__`` (PEP 562), which must raise AttributeError."""
    return {id(node) for func in ast.walk(tree)
            if isinstance(func, ast.FunctionDef) and func.name == "__getattr__"
            for node in ast.walk(func) if isinstance(node, ast.Raise)}


def test_every_raise_in_the_package_is_a_typed_error() -> None:
    bad = []
    for name, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        protocol = _attribute_protocol_raises(tree)
        for node in ast.walk(tree):
            if not isinstance(node, ast.Raise) or node.exc is None:
                continue
            exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            if isinstance(exc, ast.Name) and exc.id == "AttributeError" and id(node) in protocol:
                continue  # the attribute protocol, like StopIteration for iterators: not an error of ours
            if isinstance(exc, ast.Name) and exc.id in BUILTIN_EXCEPTIONS and exc.id not in CONTROL_FLOW:
                bad.append(f"{name}:{node.lineno} raises the builtin {exc.id}")
    assert not bad, "\n".join(dict.fromkeys(bad))


def test_every_exception_class_of_the_package_derives_from_the_base() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for info in pkgutil.walk_packages(hpo_analytics.__path__, prefix=f"{ROOT}."):
            if info.name.endswith("__main__"):
                continue
            importlib.import_module(info.name)
    bad = []
    for name in MODULES:
        if name.endswith("__main__"):
            continue
        mod = importlib.import_module(name)
        for attr, obj in vars(mod).items():
            if (inspect.isclass(obj) and obj.__module__ == name and issubclass(obj, BaseException)
                    and not issubclass(obj, (HpoAnalyticsError, Warning))):
                bad.append(f"{name}.{attr}")
    assert not bad, "exception classes outside the HpoAnalyticsError tree: " + ", ".join(bad)


def test_response_format_error_is_not_a_transport_error() -> None:
    from hpo_analytics.errors import ResponseFormatError, TransportError

    assert issubclass(ResponseFormatError, HpoAnalyticsError)
    assert not issubclass(ResponseFormatError, TransportError)


def test_public_api_is_unchanged() -> None:
    """The refactor of issue #13 keeps every public name; only the new error classes are added."""
    before = {
        "APIError", "AuthenticationError", "BadRequestError", "CellParseError", "ConfigurationError",
        "ConflictError", "EarlyStopResult", "HpoAnalyticsError", "InsufficientDataWarning", "MatrixError",
        "MedianStoppingRule", "ModelArtsClient", "NotFoundError", "ParseWarning", "PatienceRule", "PercentileRule",
        "PermissionDeniedError", "RateLimitedError", "RequestTimeoutError", "ResponseFormatError", "RetryPolicy",
        "ServerError", "SignificanceRule", "SuccessiveHalvingRule", "ThresholdRule", "TransportError",
        "__version__", "algorithms_to_pandas", "backtest", "best_so_far", "best_trials", "build_report",
        "build_reports", "compare_top", "curves_to_arrow", "curves_to_pandas", "marginals", "param_importance",
        "pareto_front", "rank_trials", "read_curves", "read_trials", "summarize", "to_pandas", "trials_to_arrow",
        "trials_to_pandas", "watch", "write_parquet",
    }
    added = {"AlgorithmConfig", "ForecastRule", "NotPicklableError", "SearchParam", "SearchSpace", "SigningError",
             "SpaceWarning", "StateError", "SyncSummary", "from_optuna", "open_dataset", "read_ray_results", "sync",
             "to_optuna"}
    assert set(hpo_analytics.__all__) == before | added
