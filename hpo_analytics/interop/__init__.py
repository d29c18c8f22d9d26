"""Speak other tools' formats: export to and import from Optuna, import Ray Tune results.

* :func:`to_optuna` writes a job's trials and curves to an Optuna study
  (one per job; a re-export adds only what is new), so optuna-dashboard and
  ``optuna.visualization`` work on ModelArts searches;
* :func:`from_optuna` reads any Optuna study back as our trials and curves
  tables;
* :func:`read_ray_results` reads a Ray Tune experiment directory as the same
  tables.

Optuna is an optional dependency (``pip install 'hpo-analytics[optuna]'``);
without it the Optuna functions raise
:class:`~hpo_analytics.errors.ConfigurationError` naming the extra. Ray is
never needed: its files are read directly.

This layer sits beside analysis and stopping: it reads tables (and the watch
ledger) and imports nothing above them.
"""

from __future__ import annotations

from ._optuna import ExportSummary, from_optuna, load_study, to_optuna
from ._ray import is_ray_experiment, read_ray_results

__all__ = ["ExportSummary", "from_optuna", "is_ray_experiment", "load_study", "read_ray_results", "to_optuna"]
