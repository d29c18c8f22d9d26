"""hpo_analytics: typed tables, analysis and reports for ModelArts hyperparameter searches."""

from __future__ import annotations

from ._version import __version__
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
from .errors import (
    APIError,
    AuthenticationError,
    CellParseError,
    ConfigurationError,
    HpoAnalyticsError,
    MatrixError,
    NotFoundError,
    ParseWarning,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    TransportError,
)
from .io import read_curves, read_trials, write_parquet
from .normalize import (
    algorithms_to_pandas,
    curves_to_arrow,
    curves_to_pandas,
    to_pandas,
    trials_to_arrow,
    trials_to_pandas,
)
from .stopping import (
    MedianStoppingRule,
    PatienceRule,
    PercentileRule,
    SignificanceRule,
    SuccessiveHalvingRule,
    ThresholdRule,
    backtest,
    watch,
)

__all__ = [
    "APIError",
    "AuthenticationError",
    "CellParseError",
    "ConfigurationError",
    "HpoAnalyticsError",
    "MatrixError",
    "MedianStoppingRule",
    "NotFoundError",
    "ParseWarning",
    "PatienceRule",
    "PercentileRule",
    "PermissionDeniedError",
    "RateLimitedError",
    "ServerError",
    "SignificanceRule",
    "SuccessiveHalvingRule",
    "ThresholdRule",
    "TransportError",
    "__version__",
    "algorithms_to_pandas",
    "backtest",
    "best_so_far",
    "best_trials",
    "compare_top",
    "curves_to_arrow",
    "curves_to_pandas",
    "marginals",
    "param_importance",
    "pareto_front",
    "rank_trials",
    "read_curves",
    "read_trials",
    "summarize",
    "to_pandas",
    "trials_to_arrow",
    "trials_to_pandas",
    "watch",
    "write_parquet",
]
