"""Plots (matplotlib) of trials, learning curves, stop decisions and analysis results.

Every function accepts the tables of :mod:`hpo_analytics` (Arrow or pandas),
takes ``ax=`` (or makes its own figure), returns the Axes (the Figure for
multi-panel plots), never calls ``plt.show()`` and never changes global
matplotlib state. Each first computes its data in a small function, then draws.

Parameter axes follow the job's declared search space when the table records
it (discrete values as ordered categories, bounds as axis limits, log when
declared or when the bounds span two decades or more), else the values
(:func:`hpo_analytics._frames.param_scale` decides for every plot); a trial
outside the declared space is not drawn, with a
:class:`~hpo_analytics.errors.SpaceWarning`.

An empty table gives an empty plot with a "no trials" note; unusable input
(an unknown metric or parameter, a metric that is not numeric or has no
finite value, no parameter columns where parameters are plotted, bad
options) raises :class:`~hpo_analytics.errors.ConfigurationError`, which
names the metric column and its type when the metric is at fault.
"""

from __future__ import annotations

from .backtest import plot_backtest
from .contour import plot_contour
from .curves import plot_learning_curves
from .decisions import plot_stop_decisions
from .edf import plot_edf
from .history import plot_optimization_history
from .importance import plot_param_importance
from .marginals import plot_marginals
from .parallel import plot_parallel_coordinates
from .pareto import plot_pareto_front
from .slice import plot_slice
from .status import plot_status

__all__: list[str] = [
    "plot_backtest",
    "plot_contour",
    "plot_edf",
    "plot_learning_curves",
    "plot_marginals",
    "plot_optimization_history",
    "plot_parallel_coordinates",
    "plot_param_importance",
    "plot_pareto_front",
    "plot_slice",
    "plot_status",
    "plot_stop_decisions",
]
