"""Self-contained HTML reports of hyperparameter searches.

:func:`build_report` writes one HTML file per job: a summary
(:func:`~hpo_analytics.analysis.summarize`), the top trials
(:func:`~hpo_analytics.analysis.rank_trials`), parameter importance with
bootstrap intervals (:func:`~hpo_analytics.analysis.param_importance`), the
search algorithm and declared search space against what the trials explored
(when the table records them, :mod:`._space`), the
plots of :mod:`hpo_analytics.plots` and, when given, the early-stop decisions
and a back-test of stop rules. :func:`build_reports` writes one report per job
and an ``index.html`` comparing the jobs.

The file stands alone: styles are inline, images are base64 PNG data URIs
(why PNG, not SVG: see :mod:`._figures`), there is no script, and a
Content-Security-Policy forbids any network fetch. Every value from the data
is HTML-escaped. Output is deterministic: the same input gives the same bytes.

This package imports matplotlib only when a report is drawn, so
``import hpo_analytics`` stays light.
"""

from __future__ import annotations

from ._build import DEFAULT_TITLE, JOB_KEYS, TOP_TRIALS, build_report, build_reports, safe_names

__all__ = ["DEFAULT_TITLE", "JOB_KEYS", "TOP_TRIALS", "build_report", "build_reports", "safe_names"]
