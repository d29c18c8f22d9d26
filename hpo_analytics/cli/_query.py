"""Subcommands over a many-jobs dataset directory: ``query``, ``leaderboard``, ``effects`` and ``cost``.

Each opens the directory with :func:`hpo_analytics.query.open_dataset`
(DuckDB, the ``query`` extra) and prints a text table, or ``--json`` (and
``query --csv``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigurationError
from ._common import EXIT_OK, add_command, add_json_flag, frame_records, print_json, text_table

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

_DIR_HELP = "a dataset directory written by 'hpo-analytics sync' (jobs/, trials/, curves/)"


def _print_frame(frame: pd.DataFrame, args: argparse.Namespace, *, empty: str) -> None:
    if getattr(args, "csv", False):
        frame.to_csv(sys.stdout, index=False)
    elif args.json:
        print_json(frame_records(frame))
    elif frame.empty:
        print(empty)
    else:
        print(text_table(list(frame.itertuples(index=False, name=None)), [str(c) for c in frame.columns]))


# ---------------------------------------------------------------------- query


def add_query(sub: Any) -> None:
    """Register ``query``."""
    parser = add_command(
        sub, "query",
        help="run SQL (DuckDB) over a dataset directory: views jobs, trials, curves, trial_values",
        description=(
            "Run one SQL statement over the dataset with DuckDB, in memory, and print the result.\n"
            "Views: jobs (one row per job), trials and curves (every job's rows, job_id from the\n"
            "directory name), trial_values (job_id, trial_id, status, metric, mode, value, score:\n"
            "each trial's value of its job's reward metric; score is higher-is-better). Quote column\n"
            "names with a slash: \"param/learning_rate\"."
        ),
        examples=[
            'hpo-analytics query fleet/ "SELECT phase, count(*) AS jobs FROM jobs GROUP BY phase"',
            ('hpo-analytics query fleet/ "SELECT job_id, avg(\\"param/learning_rate\\") FROM trials '
             'GROUP BY job_id" --csv > lr.csv'),
        ],
        note="needs DuckDB: pip install 'hpo-analytics[query]'",
    )
    parser.add_argument("dataset", type=Path, metavar="DIR", help=_DIR_HELP)
    parser.add_argument("sql", metavar="SQL", help="one SQL statement")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print the rows as a JSON list of objects")
    output.add_argument("--csv", action="store_true", help="print the rows as CSV with a header")
    parser.set_defaults(run=run_query)


def run_query(args: argparse.Namespace) -> int:
    """Run the statement and print its rows."""
    from ..query import open_dataset, run_sql

    with open_dataset(args.dataset) as con:
        frame = run_sql(con, args.sql)
    _print_frame(frame, args, empty="(no rows)")
    return EXIT_OK


# ---------------------------------------------------------------------- leaderboard


def add_leaderboard(sub: Any) -> None:
    """Register ``leaderboard``."""
    parser = add_command(
        sub, "leaderboard",
        help="the best trial of every job by its own metric, ranked across jobs that share it",
        description=(
            "One row per job: its best trial by the job's own reward metric and mode (every trial\n"
            "with a value counts), and its rank among the jobs with the same metric and mode."
        ),
        examples=["hpo-analytics leaderboard fleet/", "hpo-analytics leaderboard fleet/ --metric acc --json"],
        note="needs DuckDB: pip install 'hpo-analytics[query]'",
    )
    parser.add_argument("dataset", type=Path, metavar="DIR", help=_DIR_HELP)
    parser.add_argument("--metric", help="only the jobs whose reward metric is this one")
    parser.add_argument("--top", type=int, default=0, help="the best N jobs of each metric (default 0 = all)")
    add_json_flag(parser)
    parser.set_defaults(run=run_leaderboard)


def run_leaderboard(args: argparse.Namespace) -> int:
    """Compute and print the leaderboard."""
    from ..query import leaderboard

    if args.top < 0:
        raise ConfigurationError(f"--top must be 0 (all) or positive, not {args.top}")
    board = leaderboard(args.dataset)
    if args.metric is not None:
        board = board[board["metric"] == args.metric]
    if args.top:
        board = board[board["rank"] <= args.top]
    _print_frame(board.reset_index(drop=True), args, empty="no job has a trial with a value of its metric")
    return EXIT_OK


# ---------------------------------------------------------------------- effects


def add_effects(sub: Any) -> None:
    """Register ``effects``."""
    parser = add_command(
        sub, "effects",
        help="parameter effects pooled across the jobs that share a parameter",
        description=(
            "For each numeric parameter: the rank correlation between it and the metric standardised\n"
            "within each job (signed so that higher is better), per job and pooled (Fisher's z, with a\n"
            "95% interval), with a note when jobs disagree in sign. --levels: for each text parameter,\n"
            "each level's mean standardised metric, with a note when jobs disagree on the best level.\n"
            "Finished (TERMINATED) trials only."
        ),
        examples=["hpo-analytics effects fleet/", "hpo-analytics effects fleet/ --per-job --json",
                  "hpo-analytics effects fleet/ --levels"],
        note="needs DuckDB: pip install 'hpo-analytics[query]'",
    )
    parser.add_argument("dataset", type=Path, metavar="DIR", help=_DIR_HELP)
    parser.add_argument("--levels", action="store_true",
                        help="text parameters: the effect of each level (an optimizer, say)")
    parser.add_argument("--per-job", action="store_true", help="one row per parameter (and level) and job instead")
    parser.add_argument("--min-trials", type=int, default=8,
                        help="leave out jobs with fewer finished trials than this (default 8, at least 4)")
    add_json_flag(parser)
    parser.set_defaults(run=run_effects)


def run_effects(args: argparse.Namespace) -> int:
    """Compute and print the effects."""
    from ..query import level_effects, param_effects

    effects = level_effects if args.levels else param_effects
    try:
        frame = effects(args.dataset, min_trials=args.min_trials, per_job=args.per_job)
    except ConfigurationError as exc:
        raise ConfigurationError(str(exc).replace("min_trials", "--min-trials")) from None
    what = "text" if args.levels else "numeric"
    _print_frame(frame, args, empty=f"no {what} parameter with enough finished trials in any job")
    return EXIT_OK


# ---------------------------------------------------------------------- cost


def add_cost(sub: Any) -> None:
    """Register ``cost``."""
    parser = add_command(
        sub, "cost",
        help="run time per job, trials stopped early and the iterations that saved",
        description=(
            "One row per job: summed trial run time (time_total_s), iterations run, the longest\n"
            "finished trial's iterations, trials stopped early (TERMINATED with fewer iterations than\n"
            "that) and the iterations they did not run."
        ),
        examples=["hpo-analytics cost fleet/", "hpo-analytics cost fleet/ --json"],
        note="needs DuckDB: pip install 'hpo-analytics[query]'",
    )
    parser.add_argument("dataset", type=Path, metavar="DIR", help=_DIR_HELP)
    add_json_flag(parser)
    parser.set_defaults(run=run_cost)


def run_cost(args: argparse.Namespace) -> int:
    """Compute and print the costs."""
    from ..query import job_costs

    _print_frame(job_costs(args.dataset), args, empty="the dataset has no trials")
    return EXIT_OK
