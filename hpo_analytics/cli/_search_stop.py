"""``hpo-analytics watch``'s search-level stops: the options group that ends the whole job, and its builder."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["SEARCH_STOP_FLAGS", "add_search_stop_options", "build_search_stop"]

#: The library's criterion names as the CLI spells them, for messages.
SEARCH_STOP_FLAGS = {
    "target": "--stop-search-at",
    "max_trials": "--max-trials",
    "max_trial_time_s": "--max-trial-time",
    "max_wall_time_s": "--max-wall-time",
    "no_improvement": "--no-improvement",
}


def add_search_stop_options(parser: argparse.ArgumentParser) -> None:
    """The "search-level stops (opt-in)" group: each criterion ends the whole job, not a trial."""
    group = parser.add_argument_group(
        "search-level stops (opt-in)",
        "When one of these is met, the watch TERMINATES THE WHOLE JOB (every trial, running or pending)\n"
        "through the service's terminate action; with the same safety as trial stops: a dry run unless\n"
        "--execute, the PAUSE kill switch, never sent twice (also across restarts), recorded in the ledger.",
    )
    group.add_argument("--stop-search-at", type=float, default=None, metavar="VALUE",
                       help="end the job once the best value of the metric reaches VALUE (>= for --mode max, "
                            "<= for min)")
    group.add_argument("--max-trials", type=int, default=None, metavar="N",
                       help="end the job once N trials have finished")
    group.add_argument("--max-trial-time", type=float, default=None, metavar="SECONDS",
                       help="end the job once the trials' run time (time_total_s) summed reaches SECONDS")
    group.add_argument("--max-wall-time", type=float, default=None, metavar="SECONDS",
                       help="end the job SECONDS after it started")
    group.add_argument("--no-improvement", type=int, default=None, metavar="N",
                       help="end the job when the best did not improve over the last N trials to finish")


def build_search_stop(args: argparse.Namespace) -> Any:
    """The :class:`~hpo_analytics.stopping.SearchStop` the options ask for, ``None`` when none is given.

    Raises :class:`~hpo_analytics.errors.ConfigurationError` (library names;
    :data:`SEARCH_STOP_FLAGS` turns them into flags) for a bad value.
    """
    from ..stopping import SearchStop

    values = {name: getattr(args, flag[2:].replace("-", "_"), None) for name, flag in SEARCH_STOP_FLAGS.items()}
    values = {k: v for k, v in values.items() if v is not None}
    return SearchStop(**values) if values else None
