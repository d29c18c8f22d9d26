"""The table contract: what every layer may rely on in a trials or curves table.

A leaf module (it imports nothing else from hpo_analytics) shared by the
normalizer that writes tables and by io, the client, analysis, stopping and
plots that read them:

- the schema-metadata keys under which a table records its kind, the
  library version and the job's metrics;
- the column-name prefixes of search parameters (``param/``) and of other
  ``config`` keys (``config/``);
- the trial status vocabulary, one list for the client, the watch loop and
  the status plot;
- the conversion to pandas with nullable dtypes and the metadata in
  ``frame.attrs``.

Internal: the public names are re-exported by :mod:`hpo_analytics.normalize`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover - pyarrow loads where a table is built or converted, not on import
    import pyarrow as pa

__all__ = [
    "CONFIG_PREFIX",
    "FINISHED_STATUSES",
    "KNOWN_STATUSES",
    "METADATA_JOB_ID",
    "METADATA_JOB_NAME",
    "METADATA_METRIC",
    "METADATA_METRICS",
    "METADATA_MODE",
    "METADATA_PREFIX",
    "METADATA_TABLE",
    "METADATA_VERSION",
    "PARAM_PREFIX",
    "STEP",
    "schema_metadata",
    "sort_rows",
    "to_pandas",
]

METADATA_PREFIX = b"hpo_analytics."
#: Schema-metadata keys under which the job's reward metric and mode are recorded.
METADATA_METRIC = b"hpo_analytics.metric"
METADATA_MODE = b"hpo_analytics.mode"
#: Every metric the job declares (its ``reward_attrs``), as a JSON list of ``{"name", "mode"}``;
#: the first is the default metric (``METADATA_METRIC``/``METADATA_MODE``).
METADATA_METRICS = b"hpo_analytics.metrics"
#: The job's id and name (its details' ``metadata.id`` and ``metadata.name``), when the table came from a job.
METADATA_JOB_ID = b"hpo_analytics.job_id"
METADATA_JOB_NAME = b"hpo_analytics.job_name"
#: ``trials`` or ``curves``.
METADATA_TABLE = b"hpo_analytics.table"
#: The hpo_analytics version that wrote the table.
METADATA_VERSION = b"hpo_analytics.version"

#: Column prefix of a search parameter (a ``config`` key the job searches).
PARAM_PREFIX = "param/"
#: Column prefix of any other ``config`` key (for example ``config/seed``).
CONFIG_PREFIX = "config/"
#: The report counter of a learning curve.
STEP = "training_iteration"

#: Ray Tune's trial states, which ModelArts passes through, in lifecycle order.
KNOWN_STATUSES = ("PENDING", "RUNNING", "PAUSED", "TERMINATED", "ERROR")
#: Statuses of a trial that will report no more.  Beyond Ray's two, the
#: spellings other schedulers use are accepted, since the service's full
#: vocabulary is unconfirmed (modelarts_api.md §3).
FINISHED_STATUSES = frozenset({"TERMINATED", "ERROR", "COMPLETED", "FAILED", "STOPPED"})


def schema_metadata(table: pa.Table) -> dict[str, str]:
    """A table's ``hpo_analytics.*`` schema metadata as text, without the prefix (``metric``, ``mode``...)."""
    meta = table.schema.metadata or {}
    return {
        k.decode().removeprefix("hpo_analytics."): v.decode()
        for k, v in meta.items()
        if k.startswith(METADATA_PREFIX)
    }


def _types_mapper() -> Any:
    import pandas as pd
    import pyarrow as pa

    return {pa.int64(): pd.Int64Dtype(), pa.bool_(): pd.BooleanDtype()}.get


def to_pandas(table: pa.Table) -> Any:
    """Convert a trials or curves table to pandas with nullable dtypes.

    Integers become ``Int64`` and booleans ``boolean``, so missing values stay
    ``<NA>`` instead of turning ints into floats.  Floats stay numpy
    ``float64``: there a null cell and a ``"nan"`` cell both read as NaN (the
    Arrow table keeps them apart).  The schema metadata (table kind, metric,
    mode) is kept in ``frame.attrs["hpo_analytics"]``.
    """
    frame = table.to_pandas(types_mapper=_types_mapper())
    frame.attrs["hpo_analytics"] = schema_metadata(table)
    return frame


def sort_rows(table: pa.Table, keys: list[str]) -> pa.Table:
    """``table`` sorted by ``keys`` (ascending, nulls last, stable: rows that tie keep their order)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if not keys:
        return table
    subset = table.select(keys)
    try:
        order = pc.sort_indices(subset, sort_keys=[(k, "ascending", "at_end") for k in keys])
    except (TypeError, ValueError, pa.ArrowInvalid):  # pyarrow < 25 takes one placement for all keys
        order = pc.sort_indices(subset, sort_keys=[(k, "ascending") for k in keys], null_placement="at_end")
    return table.take(order)
