"""The ``hpo-analytics`` command line.

One module per subcommand (or small group); each registers itself with an
``add_<name>(subparsers)`` function listed in :data:`COMMANDS` and runs
through ``run_<name>(args) -> int``. Shared pieces (reading INPUT, ``--json``
output, credentials, progress, one-line errors) are in ``_common.py``.

Errors of the library (bad input, service errors) and usage errors end in one
line on stderr and a non-zero exit status, never a traceback (``--verbose``
shows the traceback of an unexpected error). Output cut short by a closed
pipe (``| head``) is not an error.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .._version import __version__
from ..errors import HpoAnalyticsError
from ._analysis import add_importance, add_rank
from ._backtest import add_backtest
from ._common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, PROG, Parser, one_line
from ._demo import add_demo
from ._ledger import add_ledger
from ._normalize import add_normalize
from ._optuna import add_export_optuna
from ._query import add_cost, add_effects, add_leaderboard, add_query
from ._report import add_report
from ._service import add_algorithms, add_fetch, add_jobs
from ._simulate import add_simulate
from ._sync import add_sync
from ._watch import add_watch

__all__ = ["COMMANDS", "EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

_Runner = Callable[[argparse.Namespace], int]

COMMANDS: list[Callable[[Any], None]] = [
    add_demo,
    add_fetch,
    add_jobs,
    add_sync,
    add_algorithms,
    add_normalize,
    add_rank,
    add_importance,
    add_report,
    add_query,
    add_leaderboard,
    add_effects,
    add_cost,
    add_backtest,
    add_export_optuna,
    add_watch,
    add_ledger,
    add_simulate,
]
"""The subcommands, in the order ``--help`` lists them."""


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = Parser(
        prog=PROG,
        description="Typed tables, analysis and reports for ModelArts hyperparameter searches.",
        epilog=("New here? Run 'hpo-analytics demo'.\n"
                "Run 'hpo-analytics COMMAND --help' for a command's options and an example."),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hpo-analytics {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpo-analytics`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    logging.captureWarnings(True)  # parse warnings as one log line each, not a source listing
    run: _Runner = args.run
    try:
        return run(args)
    except BrokenPipeError:  # output piped into `head` and cut short: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        return 130
    except (HpoAnalyticsError, OSError) as exc:
        _fail(args.command, str(exc))
        return EXIT_ERROR
    except Exception as exc:  # a bug, not bad input: still one line unless asked for the traceback
        if args.verbose:
            raise
        _fail(args.command, f"unexpected {type(exc).__name__}: {exc} (run with --verbose for the traceback)")
        return EXIT_ERROR


def _fail(command: str, message: str) -> None:
    try:
        print(f"{PROG} {command}: error: {one_line(message)}", file=sys.stderr, flush=True)
    except BrokenPipeError:  # pragma: no cover - stderr closed too
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
