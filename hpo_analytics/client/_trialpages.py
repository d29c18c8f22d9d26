"""Trials pages kept as bytes: the paging fields read without decoding the cells.

:meth:`ModelArtsClient.fetch_trials <hpo_analytics.client.ModelArtsClient.fetch_trials>`
hands the normalizer the pages' bytes, so they reach its msgspec fast path,
while the pager still needs ``total``, the echoed ``offset``/``limit`` and
every row's ``trial_id``.  :class:`TrialsPageReader` reads just those with a
msgspec decoder that types every other cell as :class:`msgspec.Raw` (a view
of the bytes, not parsed) — about a third of a full parse — and checks on
the way what :func:`._responses.trials_page` checks (an object with
``items.header`` and ``items.data``, each row a list as long as the header, a
``trial_id`` column).

A page it cannot take *exactly* as :func:`._responses.trials_page` would —
another shape, a ``total`` that is not a non-negative int, a row without a
non-empty string ``trial_id``, malformed JSON, or msgspec not installed — is
parsed the generic way instead and goes through
:func:`._responses.trials_page` (same checks, same errors).  A page the pager
keeps only in part (rows seen before) is parsed then too and restricted as a
dict: :meth:`RawTrialsPage.keep`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import _jsonutil
from ._paging import FetchedPage
from ._responses import echoed, listed_trial_ids, trials_page

try:  # pragma: no cover - exercised by whichever is installed
    import msgspec

    AVAILABLE = True
except ImportError:  # pragma: no cover
    msgspec = None
    AVAILABLE = False

__all__ = ["AVAILABLE", "RawTrialsPage", "TrialsPageReader", "fetched_trial_ids", "fetched_trials_page"]


@dataclass(frozen=True)
class RawTrialsPage:
    """A trials page's bytes and the paging fields read from them."""

    content: bytes
    total: int
    ids: list[str]
    echoed_offset: Any
    echoed_limit: Any

    def fetched(self, offset: int, restrict: Callable[[Any, list[int]], Any]) -> FetchedPage:
        """The page for the pager: kept whole, it is these bytes; in part, ``restrict(parsed body, positions)``."""
        ids = self.ids

        def keep(positions: list[int]) -> Any:
            if len(positions) == len(ids):
                return self.content
            return restrict(_jsonutil.loads(self.content), positions)

        return FetchedPage(offset, self.total, ids, ids, echoed(self.echoed_offset),
                           echoed(self.echoed_limit), keep)


def fetched_trials_page(body: Any, *, offset: int, job_id: str) -> FetchedPage:
    """What :class:`TrialsPageReader` gave, as the pager's page: bytes kept whole, else a dict as
    :func:`._responses.trials_page` makes (which checks a generically parsed body)."""
    if isinstance(body, RawTrialsPage):
        return body.fetched(offset, lambda parsed, kept: trials_page(parsed, offset=offset, job_id=job_id).keep(kept))
    return trials_page(body, offset=offset, job_id=job_id)


def fetched_trial_ids(body: Any, *, offset: int, job_id: str) -> FetchedPage:
    """As :func:`fetched_trials_page`, but what the pager keeps is the list of the rows' non-empty
    ``trial_id`` cells (as :func:`._responses.listed_trial_ids` reads them), not the page."""
    if isinstance(body, RawTrialsPage):
        ids = body.ids
        return FetchedPage(offset, body.total, ids, ids, echoed(body.echoed_offset), echoed(body.echoed_limit),
                           lambda positions: [ids[i] for i in positions])
    page = trials_page(body, offset=offset, job_id=job_id)
    whole = page.keep
    page.keep = lambda positions: listed_trial_ids(whole(positions))
    return page


class TrialsPageReader:
    """``read(content)``: a :class:`RawTrialsPage`, or the parsed JSON body when the fast read does not apply.

    One reader serves one listing (it remembers the header's length and where
    ``trial_id`` sits); it may be called from several threads.  Raises one of
    ``_jsonutil.JSONDecodeError`` for a body that is not JSON, as the
    generic parse does.
    """

    def __init__(self, *, enabled: bool = True) -> None:
        self._enabled = enabled and AVAILABLE
        self._lock = threading.Lock()
        self._decoders: dict[tuple[int, int], Any] = {}
        self._shape: tuple[int, int] | None = None
        self._probe: Any = None

    def __call__(self, content: bytes) -> Any:
        if self._enabled:
            page = self._fast(content)
            if page is not None:
                return page
        return _jsonutil.loads(content)

    def _decoder(self, shape: tuple[int, int]) -> Any:
        decoder = self._decoders.get(shape)
        if decoder is None:
            n, k = shape
            raw = msgspec.Raw
            row = tuple[tuple([raw] * k + [Any] + [raw] * (n - k - 1))]  # type: ignore[misc]
            items = msgspec.defstruct("Items", [("header", list[str]), ("data", list[row])])
            page = msgspec.defstruct(
                "Page",
                [("total", Any), ("items", items), ("offset", Any, None), ("limit", Any, None)],
            )
            decoder = msgspec.json.Decoder(page)
            with self._lock:
                self._decoders[shape] = decoder
        return decoder

    def _learn(self, content: bytes) -> tuple[int, int] | None:
        """The header's length and where ``trial_id`` sits in it, from a probe of the page (rows skipped)."""
        if self._probe is None:
            items = msgspec.defstruct("ProbeItems", [("header", list[str]), ("data", list[msgspec.Raw])])
            self._probe = msgspec.json.Decoder(msgspec.defstruct("ProbePage", [("items", items)]))
        try:
            header = self._probe.decode(content).items.header
        except (msgspec.DecodeError, UnicodeDecodeError):
            return None
        if "trial_id" not in header:
            return None
        shape = (len(header), header.index("trial_id"))
        self._shape = shape
        return shape

    def _decode(self, shape: tuple[int, int], content: bytes) -> Any:
        """The page decoded for ``shape``; None when it has another shape (or is not JSON)."""
        try:
            page = self._decoder(shape).decode(content)
        except (msgspec.DecodeError, UnicodeDecodeError):  # a ValidationError is a DecodeError too
            return None
        header = page.items.header
        n, k = shape
        if len(header) != n or "trial_id" not in header or header.index("trial_id") != k:
            return None
        return page

    def _fast(self, content: bytes) -> RawTrialsPage | None:
        shape = self._shape or self._learn(content)
        if shape is None:
            return None
        page = self._decode(shape, content)
        if page is None:  # another shape: the header may have changed; learn it again, once
            new = self._learn(content)
            if new is None or new == shape:
                return None
            shape, page = new, self._decode(new, content)
            if page is None:
                return None
        k = shape[1]
        total = page.total
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            return None
        ids = [row[k] for row in page.items.data]
        for cell in ids:
            if type(cell) is not str or not cell:
                return None
        return RawTrialsPage(content, total, ids, page.offset, page.limit)
