"""Pieces every subcommand shares: parser helpers, reading INPUT, JSON output, credentials, progress, errors."""

from __future__ import annotations

import argparse
import functools
import json
import math
import os
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NoReturn

from ..errors import ConfigurationError

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    import pyarrow as pa

    from ..client import ModelArtsClient

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_STOPS_FAILED = 3
EXIT_AUTH = 4
EXIT_NOT_FOUND = 5

PROG = "hpo-analytics"

# Environment variables whose values are secrets: never printed, even inside an error message.
SECRET_VARIABLES = ("HPO_ANALYTICS_TOKEN", "HUAWEICLOUD_SDK_SK", "HUAWEICLOUD_SDK_SECURITY_TOKEN")


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and examples."""


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors are one line on stderr (exit status 2)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {one_line(message)} (see '{self.prog} --help')\n")


def add_command(sub: Any, name: str, *, help: str, description: str, examples: Sequence[str],
                note: str | None = None) -> argparse.ArgumentParser:
    """Add a subcommand whose ``--help`` ends with its examples (every command has at least one)."""
    if not examples:
        raise ConfigurationError(f"command {name!r} needs at least one example")
    epilog = "examples:\n" + "\n".join(f"  {e}" for e in examples)
    if note:
        epilog += "\n" + note
    return sub.add_parser(name, help=help, description=description, epilog=epilog, formatter_class=Formatter)


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    """``--json``: machine-readable output on stdout."""
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def add_metric_args(parser: argparse.ArgumentParser) -> None:
    """``--metric`` and ``--mode``, defaulting to what the table records."""
    parser.add_argument("--metric", help="metric column (default: the job's reward metric, else reward_attr)")
    parser.add_argument("--mode", choices=("max", "min"), help="whether larger or smaller is better "
                        "(default: the job's, else max)")


# ---------------------------------------------------------------------- output


def fail(command: str, message: object) -> None:
    """Print ``hpo-analytics COMMAND: error: MESSAGE`` as one line on stderr."""
    print(f"{PROG} {command}: error: {one_line(message)}", file=sys.stderr, flush=True)


def flag_names(message: str, names: Mapping[str, str]) -> str:
    """``message`` with the library's option names (``interval_s``) replaced by the CLI's (``--poll``)."""
    for name, flag in sorted(names.items(), key=lambda item: -len(item[0])):
        message = re.sub(rf"(?<![\w-]){re.escape(name)}(?![\w-])", flag, message)
    return message


def one_line(text: object) -> str:
    """``text`` on one line (service messages may carry newlines), with secret values masked."""
    line = " ".join(str(text).split())
    for name in SECRET_VARIABLES:
        secret = os.environ.get(name, "").strip()
        if len(secret) >= 4:
            line = line.replace(secret, "***")
    return line


def jsonable(value: Any) -> Any:
    """``value`` as plain JSON types: NaN/inf and pandas NA become ``null``, numpy scalars Python numbers."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item) and getattr(value, "ndim", 1) == 0:
        return jsonable(item())
    tolist = getattr(value, "tolist", None)  # numpy arrays
    if callable(tolist):
        return jsonable(tolist())
    try:
        import pandas as pd

        if value is pd.NA or value is pd.NaT:
            return None
        if isinstance(value, pd.Timestamp):
            return value.isoformat()
    except ImportError:  # pragma: no cover
        pass
    return str(value)


def print_json(value: Any) -> None:
    """Print ``value`` as one line of JSON (strict: no NaN)."""
    print(json.dumps(jsonable(value), allow_nan=False, ensure_ascii=False), flush=True)


def frame_records(frame: pd.DataFrame, columns: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Rows of ``frame`` as JSON-ready dicts (missing values as ``null``)."""
    cols = list(columns) if columns is not None else list(frame.columns)
    return [jsonable(dict(zip(cols, row))) for row in frame[cols].itertuples(index=False, name=None)]


def format_value(value: Any) -> str:
    """A cell for a text table: floats with 6 significant digits, missing as ``-``."""
    value = jsonable(value)
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def text_table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """Columns separated by two spaces; numeric columns right-aligned."""
    values = [[jsonable(v) for v in row] for row in rows]
    cells = [[format_value(v) for v in row] for row in values]
    widths = [len(h) for h in header]
    for row in cells:
        widths = [max(w, len(c)) for w, c in zip(widths, row)]
    numeric = []
    for i in range(len(header)):
        present = [row[i] for row in values if row[i] is not None]
        numeric.append(bool(present) and all(isinstance(v, (int, float)) and not isinstance(v, bool)
                                             for v in present))

    def line(items: Sequence[str]) -> str:
        return "  ".join(c.rjust(w) if n else c.ljust(w) for c, w, n in zip(items, widths, numeric)).rstrip()

    return "\n".join([line(list(header)), *(line(row) for row in cells)])


# ---------------------------------------------------------------------- input


@dataclass(frozen=True)
class JobInput:
    """Where one INPUT's trials (and curves and job details, when known) come from, and a name for it.

    ``kind`` is ``"files"`` (pages, Parquet, a job directory), ``"optuna"``
    (``source`` is a storage URL, ``study`` the study's name or ``None`` for
    the storage's only study) or ``"ray"`` (``source`` is a Ray Tune
    experiment directory); for the last two ``trials`` and ``curves`` only
    say that both tables exist.
    """

    name: str
    trials: Path
    curves: Path | None = None
    details: Path | None = None
    kind: str = "files"
    source: str | None = None
    study: str | None = None


_PARQUET = (".parquet", ".pq")
_JOB_LAYOUTS = (("trials", "histories"), ("trials.parquet", "curves.parquet"))
#: An Optuna (SQLAlchemy) storage URL: ``sqlite:///study.db``, ``postgresql://…``, ``mysql+pymysql://…``.
_STORAGE_URL = re.compile(r"^(sqlite|postgresql|postgres|mysql|oracle|mssql)(\+\w+)?://", re.IGNORECASE)


def is_storage_url(text: str | os.PathLike[str]) -> bool:
    """Whether an INPUT names an Optuna storage (a database URL) rather than a file."""
    return isinstance(text, str) and bool(_STORAGE_URL.match(text))


def resolve_input(path: str | os.PathLike[str], *, study: str | None = None) -> JobInput:
    """Classify an INPUT: a JSON page file, a directory of pages, a Parquet file, a job directory, an Optuna
    storage URL or a Ray Tune experiment directory.

    A job directory holds ``trials/`` (pages) and optionally ``histories/``
    (per-trial histories), as ``data/synthetic_job`` does, or
    ``trials.parquet`` and optionally ``curves.parquet``, as ``fetch`` and
    ``demo`` write them; its curves are then used where a command needs them,
    and a ``job.json`` (the job's details) names the job and the metrics it
    declares (``reward_attrs``: the first is the default metric), recorded in
    the tables' metadata as ``fetch`` records them.

    An Optuna storage URL (``sqlite:///study.db``, ``postgresql://…``) reads the
    study ``study`` (without it, the storage's only study) with
    :func:`~hpo_analytics.from_optuna`; a directory of Ray Tune trial
    directories is read with :func:`~hpo_analytics.read_ray_results`. Both
    bring their curves.
    """
    if is_storage_url(path):
        url = str(path)
        return JobInput(study or "optuna-study", Path("."), Path("."), kind="optuna", source=url, study=study)
    p = Path(path)
    if not p.exists():
        raise ConfigurationError(f"no such file or directory: {str(p)!r}")
    if p.is_file():
        generic = p.stem in ("trials", "curves") and p.parent.name
        return JobInput(p.parent.name if generic else p.stem, p)
    name = p.resolve().name or str(p)
    for trials, curves in _JOB_LAYOUTS:
        if (p / trials).exists():
            details = p / "job.json" if (p / "job.json").is_file() else None
            if details is not None:
                name = _job_name(details) or name
            return JobInput(name, p / trials, p / curves if (p / curves).exists() else None, details)
    from ..interop import is_ray_experiment

    if is_ray_experiment(p):
        return JobInput(name, p, p, kind="ray", source=str(p))
    return JobInput(name, p)


def _load_job_details(path: Path) -> Mapping[str, Any]:
    """The parsed job-details file (``GET /v2/{p}/training-jobs/{j}``); the error is printed on one line."""
    from ..io import read_job_details

    return read_job_details(path)


def _job_name(path: Path) -> str | None:
    """The job's name from a job-details file, if it has one."""
    job = _load_job_details(path)
    name = (job.get("metadata") or {}).get("name") if isinstance(job.get("metadata"), Mapping) else None
    return name if isinstance(name, str) and name else None


@functools.lru_cache(maxsize=32)
def _job_metadata(path: Path, _stamp: tuple[int, int]) -> Mapping[bytes, bytes]:
    """The schema metadata a job-details file gives its tables (see ``reward_metadata``).

    Cached per file version (``_stamp``: modification time and size), so a
    command that reads a job's trials and curves warns once about a
    malformed ``reward_attrs`` entry, not twice.
    """
    from ..client import reward_metadata

    # the same reading fetch_trials records in the table
    return MappingProxyType(reward_metadata(_load_job_details(path), source=str(path)))


def _read(path: Path, kind: str, details: Path | None = None) -> pa.Table:
    from ..io import read_curves, read_trials

    reader = read_trials if kind == "trials" else read_curves
    if path.is_file() and path.suffix.lower() in _PARQUET:
        import pyarrow as pa

        try:
            table = reader(path)
        except (pa.ArrowException, ValueError) as exc:
            if isinstance(exc, ConfigurationError):
                raise
            raise ConfigurationError(f"{str(path)!r} is not a readable Parquet file: {one_line(exc)}") from exc
    else:
        table = reader(path)
    if details is not None:
        try:
            stat = details.stat()
        except OSError as exc:
            raise ConfigurationError(f"{str(details)!r} is not a readable job-details JSON file: "
                                     f"{one_line(exc)}") from exc
        meta = dict(table.schema.metadata or {})
        # What the table already records (a fetched Parquet file's own metadata) wins, key by key.
        for key, value in _job_metadata(details.resolve(), (stat.st_mtime_ns, stat.st_size)).items():
            meta.setdefault(key, value)
        table = table.replace_schema_metadata(meta)
    return table


def _foreign_tables(kind: str, source: str, study: str | None) -> tuple[pa.Table, pa.Table]:
    """``(trials, curves)`` of an Optuna study or a Ray Tune directory (read again each time: a study may grow)."""
    if kind == "optuna":
        from ..interop import from_optuna

        return from_optuna(source, study_name=study)
    from ..interop import read_ray_results

    return read_ray_results(source)


def read_trials_input(source: JobInput | str | os.PathLike[str]) -> pa.Table:
    """The trial table of an INPUT (see :func:`resolve_input`)."""
    job = source if isinstance(source, JobInput) else resolve_input(source)
    if job.kind != "files" and job.source is not None:
        return _foreign_tables(job.kind, job.source, job.study)[0]
    return _read(job.trials, "trials", job.details)


def read_curves_input(source: JobInput | str | os.PathLike[str]) -> pa.Table:
    """The curve table (one row per trial and iteration) of a curve INPUT or a job directory."""
    job = source if isinstance(source, JobInput) else resolve_input(source)
    if job.kind != "files" and job.source is not None:
        return _foreign_tables(job.kind, job.source, job.study)[1]
    return _read(job.curves if job.curves is not None else job.trials, "curves", job.details)


# ---------------------------------------------------------------------- the service


def add_connection_args(parser: argparse.ArgumentParser) -> None:
    """``--endpoint``/``--region``/``--project-id``: override the environment ``from_env`` reads."""
    conn = parser.add_argument_group(
        "connection (credentials come from the environment: HPO_ANALYTICS_TOKEN or HPO_ANALYTICS_TOKEN_FILE, or "
        "HUAWEICLOUD_SDK_AK and "
        "HUAWEICLOUD_SDK_SK; these options override the rest)")
    conn.add_argument("--endpoint", help="service URL (else HPO_ANALYTICS_ENDPOINT / HPO_ANALYTICS_REGION)")
    conn.add_argument("--region", help="region such as cn-north-4 (else HPO_ANALYTICS_REGION)")
    conn.add_argument("--project-id", help="project id (else HUAWEICLOUD_SDK_PROJECT_ID)")
    conn.add_argument("--max-attempts", type=int, default=None, metavar="N",
                      help="attempts per request, the first included, before an error stands (default 5)")


def environment(args: argparse.Namespace) -> dict[str, str]:
    """``os.environ`` with the connection options of ``args`` applied."""
    environ = dict(os.environ)
    if getattr(args, "endpoint", None):
        environ["HPO_ANALYTICS_ENDPOINT"] = args.endpoint
    if getattr(args, "region", None):
        environ["HPO_ANALYTICS_REGION"] = args.region
        if not getattr(args, "endpoint", None):
            environ.pop("HPO_ANALYTICS_ENDPOINT", None)  # an explicit region wins over an endpoint variable
    if getattr(args, "project_id", None):
        environ["HUAWEICLOUD_SDK_PROJECT_ID"] = args.project_id
    return environ


def client_from_args(args: argparse.Namespace, **options: Any) -> ModelArtsClient:
    """A :class:`~hpo_analytics.client.ModelArtsClient` from the environment and the connection options."""
    from ..client import ModelArtsClient, RetryPolicy

    attempts = getattr(args, "max_attempts", None)
    if attempts is not None and "retry" not in options:
        if attempts < 1:
            raise ConfigurationError(f"--max-attempts must be >= 1, not {attempts}")
        options["retry"] = RetryPolicy(max_attempts=attempts)
    return ModelArtsClient.from_env(environ=environment(args), **options)


def progress_bar() -> bool:
    """Whether to draw a progress bar: only when stderr is a terminal."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False
