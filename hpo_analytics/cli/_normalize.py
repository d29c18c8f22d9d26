"""``hpo-analytics normalize``: trial pages (JSON) to a typed Parquet table and a summary."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ._common import EXIT_OK, add_command


def add_normalize(sub: Any) -> None:
    """Register ``normalize``."""
    parser = add_command(
        sub, "normalize",
        help="convert trial pages (JSON) into a typed Parquet table and print a summary",
        description="Convert autosearch trial pages into one typed table, write it as Parquet and print a summary.",
        examples=[
            "hpo-analytics normalize data/synthetic_job/trials -o out/trials.parquet",
            "hpo-analytics normalize page.json --curves -o out/curves.parquet",
        ],
    )
    parser.add_argument("input", type=Path, help="a JSON response file, a directory of page files, or Parquet")
    parser.add_argument("-o", "--output", type=Path, help="where to write the Parquet table")
    parser.add_argument("--curves", action="store_true",
                        help="keep one row per (trial, iteration) instead of one row per trial")
    parser.add_argument("--keep-raw", action="store_true", help="add raw/<column> with the original text")
    parser.add_argument("--strict", action="store_true", help="fail on the first cell that cannot be parsed")
    parser.set_defaults(run=run_normalize)


def run_normalize(args: argparse.Namespace) -> int:
    """Read, summarize, and write when ``-o`` is given."""
    from ..io import read_curves, read_trials, write_parquet

    reader = read_curves if args.curves else read_trials
    options: dict[str, Any] = {}
    if args.input.suffix.lower() not in (".parquet", ".pq"):
        options = {"keep_raw": args.keep_raw, "errors": "raise" if args.strict else "coerce"}
    started = time.perf_counter()
    table = reader(args.input, **options)
    elapsed = time.perf_counter() - started
    kind = "rows" if args.curves else "trials"
    print(f"Read {table.num_rows} {kind} ({table.num_columns} columns) from {args.input} in {elapsed:.2f} s")
    for line in summary_lines(table):
        print(line)
    if args.output:
        write_parquet(table, args.output)
        print(f"Wrote {args.output}")
    return EXIT_OK


def summary_lines(table: Any) -> list[str]:
    """Status counts, the best value of the table's metric, the parameters and the columns, as text lines."""
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
