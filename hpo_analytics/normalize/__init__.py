"""Turn the ModelArts ``header``/``data`` string matrix into typed Arrow tables.

The autosearch endpoints return every cell as text (``"True"``, ``"19.47"``,
``"tensor(0.0754, device='cuda:0', requires_grad=True)"``, ``""``) plus a
``config`` object per row.  This package converts pages of that matrix into
one :class:`pyarrow.Table`, column by column and vectorised:

1. pages are read one at a time (:mod:`._input`) and their rows are
   gathered into batches of about 4k rows (:mod:`._batches`), so many small
   pages cost the same as a few large ones and no more than one batch of
   Python objects is alive.  Page bytes whose shape matches the first
   page's go through msgspec into tuples and small config structs
   (:mod:`._fastpages`); anything else through orjson (or the standard
   library) and the generic checks;
2. each batch is transposed into raw Arrow string columns, and the ``config``
   cells into typed parameter columns (:mod:`._params`);
3. when all pages are in, each text column is parsed once over all its
   batches with :mod:`pyarrow.compute` (:mod:`._cells`: numbers, tensor
   reprs, booleans, null tokens; a cast is only tried where it will
   succeed, because a failing Arrow cast is slow), several columns at once
   on a small thread pool, since the kernels release the GIL;
4. the columns become one table, duplicates are resolved by ``trial_id`` and
   the rows are put in ``trial_index`` order (:mod:`._assembly`).

Columns are found by header name, never by position.  Service text is never
passed to ``eval``: Python-repr configs go through a small restricted parser
(:mod:`hpo_analytics._pyrepr`).

Positions in errors and warnings are 0-based: ``page`` is the index of the
page in the input (or the file it came from) and ``row`` the index within
that page's ``data``.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from .._table import METADATA_METRIC, METADATA_METRICS, METADATA_MODE, to_pandas
from ..errors import CellParseError, ConfigurationError, MatrixError, ParseWarning
from ._assembly import Errors, _assemble
from ._batches import ROW_KEYS, _collect
from ._cells import KNOWN_COLUMNS
from ._input import _parse_json, iter_page_sources

__all__ = [
    "KNOWN_COLUMNS",
    "METADATA_METRIC",
    "METADATA_METRICS",
    "METADATA_MODE",
    "algorithms_to_pandas",
    "curves_to_arrow",
    "curves_to_pandas",
    "iter_page_sources",
    "to_pandas",
    "trials_to_arrow",
    "trials_to_pandas",
]


def _check_errors(errors: str) -> None:
    if errors not in ("coerce", "raise"):
        raise ConfigurationError(f"errors must be 'coerce' or 'raise', not {errors!r}")


def _check_columns(columns: Iterable[str] | None) -> frozenset[str] | None:
    if columns is None:
        return None
    if isinstance(columns, str):
        raise ConfigurationError("columns must be a list of column names, not one string")
    names = list(columns)
    if not all(isinstance(c, str) for c in names):
        raise ConfigurationError("columns must be column names (strings)")
    return frozenset(names)


def _narrow(table: pa.Table, wanted: frozenset[str] | None) -> pa.Table:
    """Only the ``wanted`` columns (and the row keys, and their ``raw/`` text), in the table's order."""
    if wanted is None:
        return table
    keep = wanted | ROW_KEYS
    return table.select([n for n in table.column_names if n in keep or (n.startswith("raw/") and n[4:] in keep)])


def trials_to_arrow(source: Any, *, keep_raw: bool = False, errors: Errors = "coerce",
                    columns: Iterable[str] | None = None) -> pa.Table:
    """Convert autosearch trial pages into one typed Arrow table, one row per trial.

    ``source`` is a full response (``{"total", "count", "limit", "offset",
    "items": {"header", "data"}}``), a bare ``{"header", "data"}`` matrix,
    raw JSON ``bytes``/``str`` (one page or a list of pages), a path to a
    file or directory of pages, or an iterable of any of these.

    A trial is identified by its ``trial_id``: the table has one row per
    ``trial_id``.  When a trial appears more than once, the row with the
    highest ``training_iteration`` wins, then the last one seen; a trial seen
    under different ``trial_index`` values also gets a
    :class:`~hpo_analytics.errors.ParseWarning`.  The result does not depend
    on how the rows are cut into pages or in which order the pages come
    (except, by that rule, which of two rows at the same iteration was seen
    last).  Rows are ordered by ``trial_index`` (then ``trial_id``).

    Known columns get fixed types (``trial_id``/``status`` string, ``done``
    bool, ``training_iteration``/``pid``/``worker_index`` int64,
    ``time_total_s``/``reward_attr``/``best_reward`` float64, ``trial_index``
    int64 from the config).  Hyperparameters become ``param/<name>``
    columns: the config's ``param/`` keys, or every key when a config has
    none.  Nothing else in a config is dropped: a key beside the ``param/``
    keys that repeats its ``param/`` twin with the same value collapses into
    it; any other key becomes a ``config/<name>`` column (a ``seed``, a
    ``data_version``), and a key whose value disagrees with its ``param/``
    twin keeps both columns with a ParseWarning.  Other columns are inferred:
    float64 when every non-empty cell is a number or scalar tensor (a rare
    vector ``tensor([...])`` among them becomes null with a ParseWarning),
    list<float64> only when every non-empty cell is a vector, else bool or
    string.  ``""``, ``"None"``, ``"null"`` and JSON null are null;
    ``"nan"`` stays NaN.

    A cell of a typed column that cannot be parsed becomes null with a
    :class:`~hpo_analytics.errors.ParseWarning` (``errors="coerce"``) or
    raises :class:`~hpo_analytics.errors.CellParseError` (``errors="raise"``);
    ``keep_raw=True`` adds ``raw/<column>`` with the original text of every
    typed column.  Malformed structure raises
    :class:`~hpo_analytics.errors.MatrixError` naming page, row and column.

    ``columns`` (default: all) names the only columns wanted: the others'
    cells are not parsed at all (so not checked either: no warning or error
    about them).  ``trial_id`` and ``training_iteration`` are always read,
    since they decide which rows are kept; the ``config`` cells only when
    ``trial_index`` or a ``param/``/``config/`` column is asked for (for
    ``trial_index`` alone, only that key of each config).  Every
    column asked for holds exactly what it holds in the whole table, in the
    same rows; without ``trial_index`` they are ordered as a table without
    configs is, by ``trial_id``.
    """
    _check_errors(errors)
    wanted = _check_columns(columns)
    collector = _collect(source, keep_raw=keep_raw, columns=wanted)
    return _narrow(_assemble(collector, kind="trials", keep_raw=keep_raw, errors=errors), wanted)


def curves_to_arrow(source: Any, *, keep_raw: bool = False, errors: Errors = "coerce",
                    columns: Iterable[str] | None = None) -> pa.Table:
    """Like :func:`trials_to_arrow`, but one row per (trial, ``training_iteration``).

    This is the long form for learning curves: the per-trial endpoint returns
    one row per reported iteration.  A (trial, iteration) pair seen twice
    keeps the last row seen.  Rows are ordered by trial, then iteration.
    ``columns`` reads only those columns, as in :func:`trials_to_arrow`.
    """
    _check_errors(errors)
    wanted = _check_columns(columns)
    collector = _collect(source, keep_raw=keep_raw, columns=wanted)
    return _narrow(_assemble(collector, kind="curves", keep_raw=keep_raw, errors=errors), wanted)


def trials_to_pandas(source: Any, *, keep_raw: bool = False, errors: Errors = "coerce") -> Any:
    """:func:`trials_to_arrow` as a pandas frame (see :func:`to_pandas`); also accepts an Arrow table."""
    table = source if isinstance(source, pa.Table) else trials_to_arrow(source, keep_raw=keep_raw, errors=errors)
    return to_pandas(table)


def curves_to_pandas(source: Any, *, keep_raw: bool = False, errors: Errors = "coerce") -> Any:
    """:func:`curves_to_arrow` as a pandas frame (see :func:`to_pandas`); also accepts an Arrow table."""
    table = source if isinstance(source, pa.Table) else curves_to_arrow(source, keep_raw=keep_raw, errors=errors)
    return to_pandas(table)


def algorithms_to_pandas(catalogue: Any, *, errors: Errors = "coerce") -> Any:
    """The search-algorithm catalogue as a frame: one row per (algorithm, parameter).

    ``catalogue`` is the response of ``GET /v2/{project_id}/search-algorithms``
    (a dict, or its JSON text).  Columns: ``algorithm``, ``description``,
    ``param``, ``type``, ``value`` (converted by ``type``: ``Integer`` to int,
    ``Float`` to float, ``String`` and unknown types kept as text) and
    ``value_text`` (the original string).  An algorithm without parameters
    gets one row with null parameter fields.
    """
    import pandas as pd

    _check_errors(errors)
    if isinstance(catalogue, (bytes, bytearray, memoryview, str)):
        catalogue = _parse_json(catalogue, page=0, source=None)
    if not isinstance(catalogue, Mapping) or not isinstance(catalogue.get("search_algo_list"), list):
        raise MatrixError("catalogue has no 'search_algo_list' list", value=catalogue)
    rows = []
    bad: list[tuple[int, str, Any]] = []
    for index, algo in enumerate(catalogue["search_algo_list"]):
        if not isinstance(algo, Mapping):
            raise MatrixError("algorithm entry is not an object", row=index, value=algo)
        name, description = algo.get("name"), algo.get("description")
        params = algo.get("params") or []
        if not isinstance(params, list):
            raise MatrixError("'params' is not a list", row=index, column="params", value=params)
        if not params:
            rows.append((name, description, None, None, None, None))
        for param in params:
            if not isinstance(param, Mapping):
                raise MatrixError("parameter entry is not an object", row=index, column="params", value=param)
            kind, text = param.get("type"), param.get("value")
            value: Any = text
            if isinstance(text, str):
                try:
                    if kind == "Integer":
                        value = int(text.strip())
                    elif kind == "Float":
                        value = float(text.strip())
                except ValueError:
                    bad.append((index, str(param.get("key")), text))
            rows.append((name, description, param.get("key"), kind, value, text))
    if bad:
        index, key, text = bad[0]
        if errors == "raise":
            raise CellParseError("parameter value does not match its type", row=index, column=key, value=text)
        warnings.warn(
            ParseWarning(f"{len(bad)} parameter value(s) do not match their type and were kept as text "
                         f"(first: algorithm {index}, {key}={text!r})"),
            stacklevel=2,
        )
    frame = pd.DataFrame(rows, columns=["algorithm", "description", "param", "type", "value", "value_text"])
    frame["value"] = frame["value"].astype(object)
    return frame
