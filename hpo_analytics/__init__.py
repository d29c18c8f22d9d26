"""hpo_analytics: typed tables, analysis and reports for ModelArts hyperparameter searches.

The public names load on first use (PEP 562): ``import hpo_analytics`` costs
a few milliseconds and imports neither pandas, pyarrow nor matplotlib;
``hpo_analytics.rank_trials`` (or ``from hpo_analytics import rank_trials``)
imports :mod:`hpo_analytics.analysis` the first time it is asked for.  The
error classes are light and load at once, so ``except hpo_analytics.APIError``
never imports anything.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    CellParseError,
    ConfigurationError,
    ConflictError,
    HpoAnalyticsError,
    InsufficientDataWarning,
    MatrixError,
    NotFoundError,
    NotPicklableError,
    ParseWarning,
    PermissionDeniedError,
    RateLimitedError,
    RequestTimeoutError,
    ResponseFormatError,
    ServerError,
    SigningError,
    SpaceWarning,
    StateError,
    TransportError,
)

if TYPE_CHECKING:  # pragma: no cover - what the lazy names below resolve to, for type checkers
    from .analysis import (
        best_so_far,
        best_trials,
        compare_top,
        marginals,
        param_importance,
        pareto_front,
        rank_trials,
        summarize,
    )
    from ._space import AlgorithmConfig, SearchParam, SearchSpace
    from .client import EarlyStopResult, ModelArtsClient, RetryPolicy
    from .dataset import SyncSummary, sync
    from .interop import from_optuna, read_ray_results, to_optuna
    from .io import read_curves, read_trials, write_parquet
    from .normalize import (
        algorithms_to_pandas,
        curves_to_arrow,
        curves_to_pandas,
        to_pandas,
        trials_to_arrow,
        trials_to_pandas,
    )
    from .query import open_dataset
    from .report import build_report, build_reports
    from .stopping import (
        ForecastRule,
        MedianStoppingRule,
        PatienceRule,
        PercentileRule,
        SignificanceRule,
        SuccessiveHalvingRule,
        ThresholdRule,
        backtest,
        watch,
    )

# Each public name that loads on first use, and the module (relative to this
# package) that defines it.  tests/test_lazy_imports.py checks that these and
# the names imported above are exactly __all__.
_LAZY: dict[str, str] = {
    "AlgorithmConfig": "_space",
    "EarlyStopResult": "client",
    "ForecastRule": "stopping",
    "MedianStoppingRule": "stopping",
    "ModelArtsClient": "client",
    "PatienceRule": "stopping",
    "PercentileRule": "stopping",
    "RetryPolicy": "client",
    "SearchParam": "_space",
    "SearchSpace": "_space",
    "SignificanceRule": "stopping",
    "SuccessiveHalvingRule": "stopping",
    "SyncSummary": "dataset",
    "ThresholdRule": "stopping",
    "algorithms_to_pandas": "normalize",
    "backtest": "stopping",
    "best_so_far": "analysis",
    "best_trials": "analysis",
    "build_report": "report",
    "build_reports": "report",
    "compare_top": "analysis",
    "curves_to_arrow": "normalize",
    "curves_to_pandas": "normalize",
    "from_optuna": "interop",
    "marginals": "analysis",
    "open_dataset": "query",
    "param_importance": "analysis",
    "pareto_front": "analysis",
    "rank_trials": "analysis",
    "read_curves": "io",
    "read_ray_results": "interop",
    "read_trials": "io",
    "summarize": "analysis",
    "sync": "dataset",
    "to_optuna": "interop",
    "to_pandas": "normalize",
    "trials_to_arrow": "normalize",
    "trials_to_pandas": "normalize",
    "watch": "stopping",
    "write_parquet": "io",
}


# The public modules, which ``import hpo_analytics`` used to bring along:
# ``hpo_analytics.plots.curves(...)`` after a bare ``import hpo_analytics``
# still works, importing the module on first use.
_SUBMODULES = frozenset({"analysis", "cli", "client", "dataset", "demo", "interop", "io", "normalize", "plots",
                         "query", "report", "signing", "simulator", "stopping"})


def __getattr__(name: str) -> Any:
    """Import the module that defines a public name (or a public module) the first time it is asked for."""
    if name in _SUBMODULES:
        return importlib.import_module(f".{name}", __name__)  # the import binds it in this namespace
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # the next lookup is an ordinary attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


__all__ = [
    "APIError",
    "AlgorithmConfig",
    "AuthenticationError",
    "BadRequestError",
    "CellParseError",
    "ConfigurationError",
    "ConflictError",
    "EarlyStopResult",
    "ForecastRule",
    "HpoAnalyticsError",
    "InsufficientDataWarning",
    "MatrixError",
    "MedianStoppingRule",
    "ModelArtsClient",
    "NotFoundError",
    "NotPicklableError",
    "ParseWarning",
    "PatienceRule",
    "PercentileRule",
    "PermissionDeniedError",
    "RateLimitedError",
    "RequestTimeoutError",
    "ResponseFormatError",
    "RetryPolicy",
    "SearchParam",
    "SearchSpace",
    "ServerError",
    "SignificanceRule",
    "SigningError",
    "SpaceWarning",
    "StateError",
    "SuccessiveHalvingRule",
    "SyncSummary",
    "ThresholdRule",
    "TransportError",
    "__version__",
    "algorithms_to_pandas",
    "backtest",
    "best_so_far",
    "best_trials",
    "build_report",
    "build_reports",
    "compare_top",
    "curves_to_arrow",
    "curves_to_pandas",
    "from_optuna",
    "marginals",
    "open_dataset",
    "param_importance",
    "pareto_front",
    "rank_trials",
    "read_curves",
    "read_ray_results",
    "read_trials",
    "summarize",
    "sync",
    "to_optuna",
    "to_pandas",
    "trials_to_arrow",
    "trials_to_pandas",
    "watch",
    "write_parquet",
]
