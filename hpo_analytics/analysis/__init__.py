"""Trial analytics: ranking with honest ties, the running best, parameter importance with
uncertainty, marginals, best-vs-runner-up tests, Pareto fronts and a summary.

Every function takes a ``trials_to_arrow`` table or its pandas frame (a curve
table works too: each trial's latest row stands for it) and returns a pandas
frame (or, for :func:`summarize`, a dict) that a plot can draw directly.
``metric=None`` means the metric in the table's metadata, else
``reward_attr``; ``mode=None`` likewise, else ``"max"``. A metric (or, for
:func:`pareto_front`, any objective) that is not numeric (text, booleans,
lists) or has no finite value among the trials asked about raises
:class:`~hpo_analytics.errors.ConfigurationError` naming the column and its
type, rather than ranking every trial first; a table with no rows gives
empty answers.

* :mod:`.rank`: :func:`rank_trials`, :func:`best_trials`, :func:`best_so_far`
* :mod:`.importance`: :func:`param_importance` (``"fanova"``, ``"binned"``, ``"spearman"``)
* ``_marginals``: :func:`marginals` (a private module, so ``hpo_analytics.analysis.marginals`` is the function)
* :mod:`.compare`: :func:`compare_top`
* :mod:`.pareto`: :func:`pareto_front`
* :mod:`.summary`: :func:`summarize`
* :mod:`.stats`: the small statistics underneath (ranks, Spearman, bootstrap, rank-sum test)
"""

from __future__ import annotations

from .compare import compare_top
from .importance import param_importance
from ._marginals import marginals
from .pareto import pareto_front
from .rank import best_so_far, best_trials, rank_trials
from .stats import bootstrap_mean_ci, rank_sum_test, rankdata, spearman
from .summary import summarize

__all__ = [
    "best_so_far",
    "best_trials",
    "bootstrap_mean_ci",
    "compare_top",
    "marginals",
    "param_importance",
    "pareto_front",
    "rank_sum_test",
    "rank_trials",
    "rankdata",
    "spearman",
    "summarize",
]
