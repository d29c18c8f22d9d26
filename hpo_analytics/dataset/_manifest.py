"""``_manifest.json``: what the last sync wrote, and the commit point of each batch of files.

Format 1::

    {"format": 1,
     "schemas": {"trials": <base64 Arrow schema>, "curves": ...},   # the dataset schema of each kind
     "jobs": {"<job id>": {
         "phase": "Running",            # the job's phase when its data was read
         "finished": false,             # phase was Completed/Failed/Terminated/Abnormal: never read again
         "curves": true,                # its curves were synced
         "trials": {"<trial id>": [iteration, "STATUS"], ...},   # what each trial's curve holds
         "schemas": {"trials": <base64>, "curves": <base64>},    # the job's own schemas
         "row": {...}}},                # its jobs/jobs.parquet row
     "pending": [["<temporary file>", "<final file>"], ...]}

A sync stages a batch's files under temporary names, writes the manifest
with ``pending`` listing them (the commit), renames them into place and
writes the manifest again without ``pending``. A sync that finds
``pending`` (the previous one was killed after committing) finishes the
renames first; temporary files of a batch that never committed are removed.
"""

from __future__ import annotations

import json
from typing import Any

from ..errors import StateError
from ._fs import FileSystem, write_atomic
from ._layout import MANIFEST_FILE

__all__ = ["FINISHED_PHASES", "FORMAT", "empty_manifest", "load_manifest", "save_manifest"]

FORMAT = 1

#: Phases after which a job's data no longer changes.
FINISHED_PHASES = frozenset({"Completed", "Failed", "Terminated", "Abnormal"})


def empty_manifest() -> dict[str, Any]:
    """The manifest of a dataset with nothing in it."""
    return {"format": FORMAT, "schemas": {"trials": None, "curves": None}, "jobs": {}, "pending": []}


def load_manifest(fs: FileSystem, root: str) -> dict[str, Any]:
    """The manifest of the dataset at ``root`` (an empty one when there is none yet)."""
    path = f"{root}/{MANIFEST_FILE}"
    if not fs.exists(path):
        return empty_manifest()
    with fs.open(path, "rb") as f:
        try:
            data = json.loads(f.read().decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise StateError(f"{path} is not valid JSON ({exc}); it was not written by hpo-analytics sync") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("jobs"), dict):
        raise StateError(f"{path} is not a format-{FORMAT} dataset manifest")
    data.setdefault("schemas", {"trials": None, "curves": None})
    data.setdefault("pending", [])
    return data


def save_manifest(fs: FileSystem, root: str, manifest: dict[str, Any]) -> None:
    """Write the manifest atomically."""
    text = json.dumps(manifest, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    write_atomic(fs, f"{root}/{MANIFEST_FILE}", lambda f: f.write(text.encode("utf-8")))
