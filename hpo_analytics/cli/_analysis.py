"""Subcommands over a trial table: ``rank`` and ``importance``."""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from ..errors import ConfigurationError, InsufficientDataWarning
from ._common import (
    EXIT_OK,
    PROG,
    add_command,
    add_json_flag,
    add_metric_args,
    frame_records,
    one_line,
    print_json,
    read_curves_input,
    read_trials_input,
    resolve_input,
    text_table,
)

_INPUT_HELP = ("trials: a JSON page file, a directory of pages, a Parquet file, a job directory "
               "(trials/ + histories/, or trials.parquet + curves.parquet), an Optuna storage URL "
               "(sqlite:///study.db, with --study) or a Ray Tune experiment directory")


def _add_status(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--status", action="append", default=None, metavar="STATUS",
                        help="only trials with this status (e.g. TERMINATED); repeatable")


# ---------------------------------------------------------------------- rank


def add_rank(sub: Any) -> None:
    """Register ``rank``."""
    parser = add_command(
        sub, "rank",
        help="rank trials by the metric, best first (ties share a rank)",
        description=(
            "Rank the trials of a search: competition ranks (1, 1, 3), every trial tied for first\n"
            "marked best, missing and NaN scores last. --scope best or mean_last_k scores each trial\n"
            "from its learning curve (--curves, or the curves of a job directory)."
        ),
        examples=[
            "hpo-analytics rank data/synthetic_job --top 5",
            "hpo-analytics rank out/trials.parquet --metric loss --mode min --json",
        ],
    )
    parser.add_argument("input", metavar="INPUT", help=_INPUT_HELP)
    parser.add_argument("--study", metavar="NAME",
                        help="the study of an Optuna storage INPUT (default: the storage's only study)")
    add_metric_args(parser)
    parser.add_argument("--top", type=int, default=10, help="show the best N trials (default 10; 0 = all)")
    parser.add_argument("--scope", choices=("last", "best", "mean_last_k"), default="last",
                        help="score: the last value (default), the best on the curve, or the mean of the last k")
    parser.add_argument("-k", type=int, default=3, help="reports averaged by --scope mean_last_k (default 3)")
    parser.add_argument("--curves", type=Path, help="learning curves for --scope best/mean_last_k")
    _add_status(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run_rank)


def run_rank(args: argparse.Namespace) -> int:
    """Rank and print the top rows."""
    from ..analysis import rank_trials

    if args.top < 0:
        raise ConfigurationError(f"--top must be 0 (all) or positive, not {args.top}")
    job = resolve_input(args.input, study=args.study)
    trials = read_trials_input(job)
    curves = None
    if args.curves is not None:
        curves = read_curves_input(args.curves)
    elif args.scope != "last":
        if job.curves is None and job.kind == "files":  # an Optuna study or a Ray directory brings its curves
            raise ConfigurationError(f"--scope {args.scope} needs the learning curves: give --curves PATH "
                                     "or a job directory that has them")
        curves = read_curves_input(job)
    ranked = rank_trials(trials, metric=args.metric, mode=args.mode, scope=args.scope, k=args.k, curves=curves,
                         statuses=args.status)
    info = ranked.attrs["hpo_analytics.analysis"]
    shown = ranked if args.top == 0 else ranked.head(args.top)
    params = [c for c in ranked.columns if c.startswith("param/")]
    base = [c for c in ("rank", "is_best", "score", "trial_id", "trial_index", "status", "training_iteration")
            if c in ranked.columns]
    if args.json:
        rows = []
        for record in frame_records(shown, base + params):
            rows.append({**{k: record[k] for k in base},
                         "params": {p.removeprefix("param/"): record[p] for p in params}})
        print_json({"metric": info["metric"], "mode": info["mode"], "scope": info["scope"],
                    "n_trials": len(ranked), "trials": rows})
        return EXIT_OK
    n_best = int(ranked["is_best"].sum())
    print(f"{len(ranked)} trials ranked by {info['metric']} ({info['mode']}, scope {info['scope']}); "
          f"{n_best} tied for best" if n_best > 1 else
          f"{len(ranked)} trials ranked by {info['metric']} ({info['mode']}, scope {info['scope']})")
    columns = [c for c in base if c != "is_best"] + params
    header = [c.removeprefix("param/") for c in columns]
    rows = [[("*" if best else "") + str(rank), *rest] for best, rank, *rest in
            shown[["is_best", *columns]].astype(object).itertuples(index=False, name=None)]
    print(text_table(rows, header))
    if len(shown) < len(ranked):
        print(f"... {len(ranked) - len(shown)} more (--top 0 shows all); * marks the best")
    return EXIT_OK


# ---------------------------------------------------------------------- importance


def add_importance(sub: Any) -> None:
    """Register ``importance``."""
    parser = add_command(
        sub, "importance",
        help="which hyperparameters matter for the metric, with bootstrap intervals",
        description=(
            "Importance of each hyperparameter, as shares that sum to 1 (all 0 when no parameter\n"
            "explains any of the metric's variation): fanova (variance shares of randomized trees\n"
            "over bootstrap resamples), binned (model-free correlation ratio) or spearman (monotone\n"
            "only), with a confidence interval and how stable each rank is. Each method needs a\n"
            "minimum of scored trials (fanova 20, binned 10, spearman 5); the default, auto, is\n"
            "fanova from 20 trials and spearman (with a warning on stderr) from 5 to 19. With too\n"
            "few trials for the method, or a metric with one value throughout, importance is not\n"
            "estimable: a warning on stderr and '-' (null in --json) instead of numbers."
        ),
        examples=[
            "hpo-analytics importance data/synthetic_job",
            "hpo-analytics importance out/trials.parquet --method binned --json",
        ],
    )
    parser.add_argument("input", metavar="INPUT", help=_INPUT_HELP)
    parser.add_argument("--study", metavar="NAME",
                        help="the study of an Optuna storage INPUT (default: the storage's only study)")
    add_metric_args(parser)
    parser.add_argument("--method", choices=("auto", "fanova", "binned", "spearman"), default="auto",
                        help="importance method (default auto: fanova from 20 scored trials, else spearman)")
    parser.add_argument("--bootstrap", type=int, default=None,
                        help="bootstrap resamples (default 16 for fanova, 200 otherwise)")
    parser.add_argument("--confidence", type=float, default=0.95, help="interval level (default 0.95)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    _add_status(parser)
    add_json_flag(parser)
    parser.set_defaults(run=run_importance)


def run_importance(args: argparse.Namespace) -> int:
    """Compute and print the importance table."""
    from ..analysis import param_importance

    trials = read_trials_input(resolve_input(args.input, study=args.study))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", InsufficientDataWarning)
        table = param_importance(trials, metric=args.metric, mode=args.mode, method=args.method,
                                 n_bootstrap=args.bootstrap, confidence=args.confidence, seed=args.seed,
                                 statuses=args.status)
    for w in caught:
        if issubclass(w.category, InsufficientDataWarning):  # one line, not a source listing
            print(f"{PROG} importance: warning: {one_line(w.message)}", file=sys.stderr, flush=True)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    info = table.attrs["hpo_analytics.analysis"]
    if args.json:
        print_json({"metric": info["metric"], "method": info["method"], "n_trials": info["n_trials"],
                    "n_bootstrap": info["n_bootstrap"], "confidence": info["confidence"],
                    "min_trials": info["min_trials"], "warning": info["warning"], "fallback": info["fallback"],
                    "params": frame_records(table)})
        return EXIT_OK
    if not len(table):
        print("no hyperparameter columns (param/...) in the input")
        return EXIT_OK
    level = f"{info['confidence']:.0%}"
    print(f"importance of each parameter for {info['metric']} ({info['method']}, {info['n_trials']} scored trials, "
          f"{info['n_bootstrap']} resamples, {level} intervals)")
    print(text_table(table[["rank", "param", "importance", "ci_low", "ci_high", "rank_stability", "kind"]]
                     .astype(object).values.tolist(),
                     ["rank", "param", "importance", f"{level} low", f"{level} high", "rank stability", "kind"]))
    return EXIT_OK
