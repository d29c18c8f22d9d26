"""Strip outputs, execution counts and run-specific metadata from notebooks, in place.

The notebooks in ``notebooks/`` are stored clean (the test suite executes
them, and checks that they are stored without outputs). After running a
notebook in Jupyter, clean it before committing::

    python scripts/clean_notebooks.py                 # every notebooks/*.ipynb
    python scripts/clean_notebooks.py path/to/x.ipynb  # just these
    python scripts/clean_notebooks.py --check         # exit 1, naming each notebook that is not clean

Files are written as nbformat writes them (one-space indent, sorted keys), so
a clean notebook is stable byte for byte. Needs only the standard library.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: Cell metadata keys that record a run or a view, not content.
TRANSIENT_CELL_KEYS = ("collapsed", "scrolled", "execution", "ExecuteTime")


def clean(notebook: dict[str, Any]) -> dict[str, Any]:
    """``notebook`` (parsed JSON) without outputs, execution counts or run-specific metadata."""
    out = dict(notebook)
    cells = []
    for cell in notebook.get("cells", []):
        cell = dict(cell)
        meta = {k: v for k, v in cell.get("metadata", {}).items() if k not in TRANSIENT_CELL_KEYS}
        cell["metadata"] = meta
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
        cells.append(cell)
    out["cells"] = cells
    meta = dict(notebook.get("metadata", {}))
    # language_info records the version of whichever Python last ran the notebook.
    if "language_info" in meta:
        meta["language_info"] = {"name": meta["language_info"].get("name", "python")}
    meta.pop("widgets", None)
    out["metadata"] = meta
    return out


def dumps(notebook: dict[str, Any]) -> str:
    """Text of ``notebook`` in nbformat's own layout (plus a final newline)."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Clean the notebooks named (default: ``notebooks/*.ipynb``); with ``--check``, only report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if any notebook is not clean")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((ROOT / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        try:
            text = path.read_text(encoding="utf-8")
            cleaned = dumps(clean(json.loads(text)))
        except (OSError, ValueError) as exc:
            print(f"{path}: cannot read notebook: {exc}", file=sys.stderr)
            return 2
        if cleaned == text:
            continue
        dirty.append(path)
        if not args.check:
            path.write_text(cleaned, encoding="utf-8")
    verb = "not clean" if args.check else "cleaned"
    for path in dirty:
        print(f"{path}: {verb}")
    return 1 if dirty and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
