"""The ``hpo-analytics`` command line.

Each subcommand is registered by an ``_add_<name>`` function and runs through
``_run_<name>(args) -> int``.  Errors of the library (bad input, service
errors) end in one line on stderr and a non-zero exit status, never a
traceback.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ._version import __version__
from .errors import HpoAnalyticsError

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

_Runner = Callable[[argparse.Namespace], int]


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


def _add_normalize(sub: Any) -> None:
    parser = sub.add_parser(
        "normalize",
        help="convert trial pages (JSON) into a typed Parquet table and print a summary",
        description="Convert autosearch trial pages into one typed table, write it as Parquet and print a summary.",
        epilog=(
            "examples:\n"
            "  hpo-analytics normalize data/synthetic_job/trials -o out/trials.parquet\n"
            "  hpo-analytics normalize page.json --curves -o out/curves.parquet"
        ),
        formatter_class=_Formatter,
    )
    parser.add_argument("input", type=Path, help="a JSON response file, a directory of page files, or Parquet")
    parser.add_argument("-o", "--output", type=Path, help="where to write the Parquet table")
    parser.add_argument("--curves", action="store_true",
                        help="keep one row per (trial, iteration) instead of one row per trial")
    parser.add_argument("--keep-raw", action="store_true", help="add raw/<column> with the original text")
    parser.add_argument("--strict", action="store_true", help="fail on the first cell that cannot be parsed")
    parser.set_defaults(run=_run_normalize)


def _run_normalize(args: argparse.Namespace) -> int:
    from .io import read_curves, read_trials, write_parquet

    reader = read_curves if args.curves else read_trials
    options: dict[str, Any] = {}
    if args.input.suffix.lower() not in (".parquet", ".pq"):
        options = {"keep_raw": args.keep_raw, "errors": "raise" if args.strict else "coerce"}
    started = time.perf_counter()
    table = reader(args.input, **options)
    elapsed = time.perf_counter() - started
    kind = "rows" if args.curves else "trials"
    print(f"Read {table.num_rows} {kind} ({table.num_columns} columns) from {args.input} in {elapsed:.2f} s")
    for line in _summary_lines(table):
        print(line)
    if args.output:
        write_parquet(table, args.output)
        print(f"Wrote {args.output}")
    return EXIT_OK


def _summary_lines(table: Any) -> list[str]:
    import pyarrow.compute as pc

    lines = []
    names = table.column_names
    if "status" in names and table.num_rows:
        counts = pc.value_counts(table["status"]).to_pylist()
        parts = [f"{c['values'] if c['values'] is not None else '(none)'} {c['counts']}" for c in counts]
        lines.append("status: " + ", ".join(parts))
    metric = "reward_attr" if "reward_attr" in names else None
    meta = table.schema.metadata or {}
    metric = meta.get(b"hpo_analytics.metric", b"").decode() or metric
    mode = meta.get(b"hpo_analytics.mode", b"max").decode()
    if metric in names and table[metric].null_count < table.num_rows:
        values = table[metric]
        valid = pc.and_(pc.is_valid(values), pc.invert(pc.is_nan(values)))
        if pc.any(valid).as_py():
            best = (pc.max if mode == "max" else pc.min)(pc.filter(values, valid)).as_py()
            rows = table.filter(pc.and_(valid, pc.equal(values, best)))
            ids = rows["trial_id"].to_pylist() if "trial_id" in names else []
            shown = ", ".join(str(i) for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            lines.append(f"best {metric} ({mode}): {best:.6g} (trial {shown})")
    params = [n for n in names if n.startswith("param/")]
    if params:
        lines.append("parameters: " + ", ".join(p.removeprefix("param/") for p in params))
    lines.append("columns: " + ", ".join(f"{f.name}:{f.type}" for f in table.schema))
    return lines


_COMMANDS: list[Callable[[Any], None]] = [_add_normalize]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="hpo-analytics",
        description="Typed tables, analysis and reports for ModelArts hyperparameter searches.",
        epilog="Run 'hpo-analytics COMMAND --help' for a command's options and an example.",
    )
    parser.add_argument("--version", action="version", version=f"hpo-analytics {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in _COMMANDS:
        add(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``hpo-analytics`` console script."""
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
    except (HpoAnalyticsError, OSError) as exc:
        print(f"hpo-analytics {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
