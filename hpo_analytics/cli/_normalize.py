"""``hpo-analytics normalize``: trial pages (JSON) to a typed Parquet table and a summary."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from ._common import EXIT_OK, add_command, add_json_flag, print_json


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
    add_json_flag(parser)
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
    if args.json:
        written = str(write_parquet(table, args.output)) if args.output else None
        print_json({"input": str(args.input), "rows": table.num_rows, "seconds": round(elapsed, 3),
                    **summary(table), "output": written})
        return EXIT_OK
    kind = "rows" if args.curves else "trials"
    print(f"Read {table.num_rows} {kind} ({table.num_columns} columns) from {args.input} in {elapsed:.2f} s")
    for line in summary_lines(table):
        print(line)
    if args.output:
        write_parquet(table, args.output)
        print(f"Wrote {args.output}")
    return EXIT_OK


def summary(table: Any) -> dict[str, Any]:
    """The numbers behind :func:`summary_lines`: status counts, metric, best value and trials, parameters, schema."""
    import pyarrow.compute as pc

    from .._frames import metadata_of

    names = table.column_names
    meta = metadata_of(table)
    metric = meta.get("metric") or ("reward_attr" if "reward_attr" in names else None)
    mode = meta.get("mode", "max")
    out: dict[str, Any] = {"status_counts": {}, "metric": metric, "mode": mode, "best": None, "best_trial_ids": [],
                           "params": [n.removeprefix("param/") for n in names if n.startswith("param/")],
                           "columns": {f.name: str(f.type) for f in table.schema}}
    if "status" in names and table.num_rows:
        counts = pc.value_counts(table["status"]).to_pylist()
        out["status_counts"] = {"(none)" if c["values"] is None else str(c["values"]): c["counts"] for c in counts}
    if metric in names and table[metric].null_count < table.num_rows:
        values = table[metric]
        valid = pc.and_(pc.is_valid(values), pc.invert(pc.is_nan(values)))
        if pc.any(valid).as_py():
            best = (pc.max if mode == "max" else pc.min)(pc.filter(values, valid)).as_py()
            rows = table.filter(pc.and_(valid, pc.equal(values, best)))
            out["best"] = best
            out["best_trial_ids"] = rows["trial_id"].to_pylist() if "trial_id" in names else []
    return out


def summary_lines(table: Any) -> list[str]:
    """:func:`summary` as text lines."""
    s = summary(table)
    lines = []
    if s["status_counts"]:
        lines.append("status: " + ", ".join(f"{k} {v}" for k, v in s["status_counts"].items()))
    if s["best"] is not None:
        ids = s["best_trial_ids"]
        shown = ", ".join(str(i) for i in ids[:5]) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
        lines.append(f"best {s['metric']} ({s['mode']}): {s['best']:.6g} (trial {shown})")
    if s["params"]:
        lines.append("parameters: " + ", ".join(s["params"]))
    lines.append("columns: " + ", ".join(f"{name}:{kind}" for name, kind in s["columns"].items()))
    return lines
