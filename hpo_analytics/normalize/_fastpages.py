"""Typed decoding of page bytes with msgspec: the normalizer's fast path.

A generic JSON parser makes a dict (hashing every key) for each ``config``
cell and a list per row.  Once the first page has shown the header and the
config's keys, msgspec can decode the following pages straight into tuples
of ``str`` cells and one small struct per config, which measured about a
quarter faster than orjson and leaves fewer objects to free.

The fast path only ever *accepts* a page whose shape is exactly the learned
one: the same header, every row a list of that length, every cell a string
or null, every config an object whose keys are among the learned ones (a
key that some row has been seen to lack is an optional field and decodes as
``msgspec.UNSET`` where missing: conditional search spaces stay on this
path; a row lacking any other key makes the page be learned again).  Anything
else — malformed JSON included — makes :meth:`FastPages.decode` return None
and the caller parses the page the generic way, which gives the same table
or the same typed error as if this module did not exist.  msgspec is
optional; without it nothing here is used.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from itertools import chain
import weakref
from dataclasses import dataclass
from typing import Any, NamedTuple

try:  # pragma: no cover - exercised by whichever is installed
    import msgspec

    # What a page that msgspec cannot take raises (a ValidationError is a DecodeError too).
    _DECODE_ERRORS: tuple[type[Exception], ...] = (msgspec.DecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover
    msgspec = None
    _DECODE_ERRORS = ()

from .. import _jsonutil

__all__ = ["AVAILABLE", "MISSING", "Decoded", "FastPages", "astuple", "optional_keys", "raw_rows"]

AVAILABLE = msgspec is not None

#: What a config key a row lacks decodes as (``msgspec.UNSET``); never a decoded JSON value.
MISSING: Any = msgspec.UNSET if msgspec is not None else object()

#: A decoded struct as the tuple of its fields' values, in their order (made in C).
astuple: Any = msgspec.structs.astuple if msgspec is not None else None

# After this many pages in a row that the learned shape does not fit, stop trying for this call.
_GIVE_UP_AFTER = 3


class Decoded(NamedTuple):
    """One page decoded by the fast path: its header and its rows (tuples)."""

    header: list[str]
    rows: Sequence[tuple[Any, ...]]
    config_fields: tuple[tuple[str, str], ...] | None  # (attribute, key) of each config key
    data: Any = None  # the page as given, for the rare question a struct cannot answer (see raw_rows)


@dataclass
class _Plan:
    header: list[str]
    full: bool  # a full response ({"items": {...}}) rather than a bare matrix
    decoder: Any
    config_fields: tuple[tuple[str, str], ...] | None
    optional: frozenset[str] = frozenset()  # config keys a row may lack (their fields default to MISSING)
    header_json: bytes | None = None  # the header's JSON text as last seen, once it matched


def _probe_types() -> tuple[Any, Any]:
    # defstruct, not class syntax: this module's annotations are strings msgspec would have to resolve.
    fields = [("header", list[str]), ("data", list[msgspec.Raw])]
    items = msgspec.defstruct("ProbeItems", fields)
    bare = msgspec.defstruct("ProbeBare", fields, forbid_unknown_fields=True)
    page = msgspec.defstruct("ProbePage", [("items", items)])
    return msgspec.json.Decoder(page), msgspec.json.Decoder(bare)


_PROBES: tuple[Any, Any] | None = None


def _probe(data: Any) -> tuple[list[str], list[Any], bool] | None:
    """The header, raw rows and shape of a page, without decoding its cells."""
    global _PROBES
    if _PROBES is None:
        _PROBES = _probe_types()
    full, bare = _PROBES
    try:
        page = full.decode(data)
        return page.items.header, page.items.data, True
    except msgspec.ValidationError:  # valid JSON of another shape: maybe a bare matrix
        pass
    except _DECODE_ERRORS:
        return None
    try:
        page = bare.decode(data)
        return page.header, page.data, False
    except _DECODE_ERRORS:
        return None


def raw_rows(data: Any) -> list[Any]:
    """The rows of a page the fast path decoded, each as its JSON text (a struct forgets its keys' order)."""
    probed = _probe(data)
    assert probed is not None, "the page was decoded before"
    return probed[1]


def _plan(data: Any, known: tuple[str, ...] = (), *, sparse: bool = True,
          optional: frozenset[str] = frozenset()) -> _Plan | None:
    """Learn a page's shape from its header and rows, or None when the fast path cannot take it.

    The config struct has a field for every key of ``known`` (the keys an
    earlier plan had learned, in the order they were first seen) and then for
    every key this page's configs add, in the order they first appear.  With
    ``sparse`` a key some row of this page lacks, a key of ``known`` no row
    of it has, and the keys of ``optional`` (optional in an earlier plan)
    decode as ``msgspec.UNSET`` where a row lacks them (search spaces with
    conditional parameters); the other keys stay required, so a batch need
    not look for gaps in them.  Without ``sparse`` every config must have
    exactly the first row's keys.
    """
    probed = _probe(data)
    if probed is None:
        return None
    header, raw_rows, full = probed
    if not raw_rows or len(set(header)) != len(header):
        return None
    keys: dict[str, None] = dict.fromkeys(known) if sparse else {}
    present: Counter[str] = Counter()
    at = header.index("config") if "config" in header else -1
    if sparse:
        # The whole page in one call (a call per row cost ten times as much); the probe found its rows.
        try:
            whole = _jsonutil.loads(data)
        except _jsonutil.JSONDecodeError:
            return None
        rows = _jsonutil.dig(whole, "items", "data") if full else whole.get("data") if isinstance(whole, dict) \
            else None
        if not isinstance(rows, list) or len(rows) != len(raw_rows):
            return None
    else:
        try:
            rows = [_jsonutil.loads(bytes(raw_rows[0]))]
        except _jsonutil.JSONDecodeError:
            return None
    width = len(header)
    for number, row in enumerate(rows):
        if type(row) is not list or len(row) != width:
            return None
        if number == 0 and any(
            name != "config" and not (cell is None or type(cell) is str) for name, cell in zip(header, row)
        ):
            return None
        if at >= 0 and type(row[at]) is not dict:
            return None
    if at >= 0:
        configs = [row[at] for row in rows]
        keys.update(dict.fromkeys(chain.from_iterable(configs)))  # in the order they first appear
        present = Counter(chain.from_iterable(configs))  # rows of this page that have each key
        if not all(type(key) is str for key in keys):
            return None
    if sparse:
        optional = optional.union(key for key in keys if present.get(key, 0) < len(raw_rows))
    else:
        optional = frozenset()
    cell_type: Any = str | None
    types: list[Any] = []
    fields: tuple[tuple[str, str], ...] | None = None
    for name in header:
        if name == "config":
            fields = tuple((f"f{i}", key) for i, key in enumerate(keys))
            config = msgspec.defstruct(
                "Config",
                [(attr, Any, MISSING) if key in optional else (attr, Any) for attr, key in fields],
                rename=dict(fields),
                kw_only=True,  # a required field may follow an optional one
                forbid_unknown_fields=True,
                gc=False,  # decoded JSON cannot form reference cycles
            )
            _OPTIONAL[config] = optional.intersection(key for _, key in fields)
            types.append(config)
        else:
            types.append(cell_type)
    row_type = tuple[tuple(types)]  # type: ignore[misc]
    # The header stays raw JSON: compared as bytes with the last one seen, 13 strings per page are not made.
    items = msgspec.defstruct(
        "Items", [("header", msgspec.Raw), ("data", list[row_type])], forbid_unknown_fields=not full
    )
    page = msgspec.defstruct("Page", [("items", items)]) if full else items
    return _Plan(header=header, full=full, decoder=msgspec.json.Decoder(page), config_fields=fields,
                 optional=optional)


# Each config struct type's optional keys, as its plan made them (msgspec.structs.fields is slow to ask).
_OPTIONAL: weakref.WeakKeyDictionary[Any, frozenset[str]] = weakref.WeakKeyDictionary()


def optional_keys(struct_type: Any) -> frozenset[str]:
    """The config keys a struct type of this module lets a row lack."""
    known = _OPTIONAL.get(struct_type)
    if known is None:
        known = frozenset(field.encode_name for field in msgspec.structs.fields(struct_type) if not field.required)
    return known


class FastPages:
    """Decode a run of pages that share one shape; see the module docstring.

    One instance serves one conversion: it learns the shape from the first
    page and re-learns when a page does not fit (at once, from that page,
    keeping the config keys learned so far: a key that first appears late
    in a job costs one generic parse of its page), giving up after a few
    misfits in a row.  Configs are first expected to have exactly the first
    row's keys (structs without defaults: nothing to count later); the first
    page where they do not makes the plan ``sparse`` for the rest of the call.
    A sparse plan lets rows lack only the keys it has seen lacking (optional
    fields); a page where a row lacks another one is learned again.
    """

    def __init__(self, *, enabled: bool = True, sparse: bool = False) -> None:
        self._enabled = enabled and AVAILABLE
        self._sparse = sparse
        self._plan: _Plan | None = None
        self._misses = 0

    def decode(self, data: Any) -> Decoded | None:
        """The decoded page, or None: then parse it the generic way."""
        if not self._enabled:
            return None
        plan = self._plan
        if plan is None:
            plan = self._plan = _plan(data, sparse=self._sparse)
            if plan is None:
                return self._miss()
        try:
            page = plan.decoder.decode(data)
        except _DECODE_ERRORS:
            # Maybe a new config key, or one a row lacks: learn again from this page, keeping the
            # keys known so far and those that were optional.
            known = tuple(key for _, key in plan.config_fields or ())
            self._sparse = True
            plan = self._plan = _plan(data, known, sparse=self._sparse, optional=plan.optional)
            if plan is None:
                return self._miss()
            try:
                page = plan.decoder.decode(data)
            except _DECODE_ERRORS:
                self._plan = None
                return self._miss()
        items = page.items if plan.full else page
        header_json = bytes(items.header)
        if header_json != plan.header_json:
            try:
                header = msgspec.json.decode(header_json, type=list[str])
            except _DECODE_ERRORS:
                header = None
            if header != plan.header:
                self._plan = None
                return self._miss()
            plan.header_json = header_json
        self._misses = 0
        return Decoded(plan.header, items.data, plan.config_fields, data)

    def _miss(self) -> None:
        self._misses += 1
        if self._misses >= _GIVE_UP_AFTER:
            self._enabled = False
        return None
