"""Paging that is correct when the service's ``offset`` meaning is unknown.

The documents disagree whether ``offset`` counts records or pages
(``modelarts_api.md`` §3.3), trials may be added while we page, and a page
may come back empty early.  :class:`Pager` (through :func:`iter_pages`, if
you like) handles all three, one method per step:

1. Read page 0 (``offset=0``).  If it holds every trial (``total``), stop.
2. Probe ``offset=1``.  Under the *records* meaning it returns records
   1..L, which overlap page 0 in L-1 ids; under the *pages* meaning it returns
   records L..2L-1, which overlap page 0 in none.  An id the probe shares
   with page 0 sits 1 place earlier in page 0 under *records*, L places
   under *pages* (less the trials inserted at the front in between); a
   shift of at most 1 for most shared ids means records.  When the probe is empty, the echoed
   ``offset`` breaks the tie if the service echoed a page number for a record
   offset; otherwise the meaning stays unknown and both are tried.
3. Plan the remaining requests for ``total`` under that meaning and fetch
   them concurrently (bounded by the executor), in page order.  Under
   *records*, when the probe came back full, each page starts one record
   after the page grid (``L+1``, ``2L+1``, ...), so that no page overlaps the
   probe and each can be passed on whole.
4. Deduplicate by id.  While fewer unique ids than the latest ``total`` have
   been seen, re-read: first the pages that came back short, then the tail
   (trials appended at the end), then every page in order, one at a time
   (trials inserted at the front shift records forward, so in-order reads
   overlap instead of skipping; a page that comes back short is read again
   before moving on); stop when a round brings no new id, or after a few
   rounds.

The limit: every record present when paging starts is yielded if trials are
added at the end at any rate, or inserted at the front at no more than a
quarter of the (served) page size per request.  The real service appends at
the end.  Front insertions faster than that can outrun the reads: the pager
still stops (re-reads are bounded in rounds and requests) and logs a warning
naming how many records it could not read.

Only rows with an id not seen before are yielded, so each record is yielded
exactly once (the first time it is seen).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Callable, Hashable, Iterator, Sequence
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FetchedPage", "Pager", "iter_pages"]

logger = logging.getLogger("hpo_analytics.client")

Meaning = Literal["records", "pages", "unknown"]

_MAX_REREAD_ROUNDS = 3


@dataclass
class FetchedPage:
    """One parsed page: its rows, their ids, and what the service said about it.

    ``keep`` is a callable that returns the page restricted to the given row
    positions (the shape the caller yields), so the pager need not know the
    page's layout.
    """

    offset: int
    total: int
    rows: Sequence[Any]
    ids: Sequence[Hashable]
    echoed_offset: int | None
    echoed_limit: int | None
    keep: Callable[[list[int]], Any]


def _offsets(meaning: Meaning, start_record: int, end_record: int, size: int) -> list[int]:
    """Request offsets covering records ``[start_record, end_record)`` under ``meaning``."""
    if end_record <= start_record:
        return []
    first_page = start_record // size
    last_page = math.ceil(end_record / size)
    if meaning == "pages":
        return list(range(first_page, last_page))
    return [p * size for p in range(first_page, last_page)]


def _covers_before(meaning: Meaning, offset: int, size: int, total: int) -> bool:
    """Whether the page at ``offset`` should have been full (it ends before ``total``)."""
    first_record = offset if meaning == "records" else offset * size
    return first_record + size <= total


class Pager:
    """Reads every record of a listing once, whatever ``offset`` means; iterate it for the pages.

    ``fetch(offset)`` requests one page with ``limit=page_size``.  Pages after
    the probe are submitted to ``executor`` (sequential when ``None``).  The
    first page is always yielded (so an empty listing still has its header);
    later pages only when they bring a new id.  ``on_progress(seen, total)``
    is called after each page.  The steps of the module docstring are one
    method each; the state they share is kept on the pager.  A pager is read
    once.
    """

    _first: FetchedPage  # page 0 as last read; set by the first step

    def __init__(
        self,
        fetch: Callable[[int], FetchedPage],
        *,
        page_size: int,
        executor: Executor | None,
        on_progress: Callable[[int, int], None] | None = None,
        what: str = "records",
    ) -> None:
        self._fetch = fetch
        self._page_size = page_size
        self._executor = executor
        self._on_progress = on_progress
        self._what = what
        self._ids: set[Hashable] = set()  # every id yielded
        self._total = 0  # the largest total the service reported
        self._counts: dict[int, int] = {}  # rows returned, by offset (latest read)
        self._sent = 0  # requests made, to bound the re-reads
        self._sent_lock = threading.Lock()
        self._max_sent = 0
        self._size = page_size  # the page size the service really uses
        self._meaning: Meaning = "unknown"
        self._covered_pages = {0}  # page numbers already read, under the pages meaning
        self._planned_total = 0  # the total the reads so far were planned for
        self._probe_rows = 0  # rows the offset=1 probe returned (its last read)

    @property
    def page_size(self) -> int:
        """The page size the service really uses, as far as read so far (``page_size`` asked, or less
        when the service capped ``limit``, silently or not)."""
        return self._size

    def __iter__(self) -> Iterator[Any]:
        yield from self._read_first()
        if self._complete() or not self._first.rows:
            return
        self._size_from_echo()
        yield from self._probe()
        yield from self._read_planned()
        yield from self._reread_missing()
        self._warn_missing()

    # ------------------------------------------------------------------ reading and counting

    def _complete(self) -> bool:
        return len(self._ids) >= self._total

    def _get(self, offset: int) -> FetchedPage:
        with self._sent_lock:  # executor threads call this too
            self._sent += 1
        return self._fetch(offset)

    def _consume(self, page: FetchedPage, *, always: bool = False) -> Iterator[Any]:
        """Record a page; yield it restricted to the ids not seen before (if any, or ``always``)."""
        self._counts[page.offset] = len(page.rows)
        self._total = max(self._total, page.total)
        ids = page.ids
        fresh = set(ids) if self._ids.isdisjoint(ids) else None
        positions: list[int]
        if fresh is not None and len(fresh) == len(ids):  # the usual page: every id new, none twice
            self._ids |= fresh
            positions = list(range(len(ids)))
        else:
            positions = []
            for position, row_id in enumerate(ids):
                if row_id not in self._ids:
                    self._ids.add(row_id)
                    positions.append(position)
        if self._on_progress is not None:
            self._on_progress(len(self._ids), self._total)
        if positions or always:
            yield page.keep(positions)

    def _run(self, offsets: list[int]) -> Iterator[FetchedPage]:
        """The pages at ``offsets``, in that order; fetched concurrently when there is an executor."""
        if self._executor is None or len(offsets) <= 1:
            for offset in offsets:
                yield self._get(offset)
            return
        futures: list[Future[FetchedPage]] = [self._executor.submit(self._get, offset) for offset in offsets]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    def _plan(self, meaning: Meaning, start: int, end: int) -> list[int]:
        """Offsets to request for records ``[start, end)``, less the pages read at the start."""
        offsets = _offsets("pages" if meaning == "unknown" else meaning, start, end, self._size)
        if meaning == "pages":
            return [o for o in offsets if o not in self._covered_pages] if start == 0 else offsets
        if meaning == "records":
            return [o for o in offsets if o != 0] if start == 0 else offsets
        return offsets

    # ------------------------------------------------------------------ step 1: page 0

    def _read_first(self) -> Iterator[Any]:
        """Read page 0, again (a few times) while it comes back empty although ``total`` says otherwise."""
        first = self._first = self._get(0)
        yield from self._consume(first, always=True)
        if self._complete():
            return
        rereads = 0
        while not first.rows and rereads < _MAX_REREAD_ROUNDS:  # an early-empty first page
            rereads += 1
            logger.info("first page of %s came back empty although total=%d; reading it again",
                        self._what, self._total)
            first = self._first = self._get(0)
            yield from self._consume(first)
        if not first.rows:
            logger.warning("first page of %s stayed empty although total=%d; giving up", self._what, self._total)

    def _size_from_echo(self) -> None:
        """The page size the service really uses: what we asked, unless its echoed limit is smaller."""
        echoed = self._first.echoed_limit
        if echoed is not None and 0 < echoed < self._page_size:
            self._size = echoed

    # ------------------------------------------------------------------ step 2: what offset means

    def _probe(self) -> Iterator[Any]:
        """Read ``offset=1`` and tell the offset meaning from where its ids sit in page 0."""
        first = self._first
        if self._size == 1:
            self._meaning = "records"  # page i is record i under both meanings
            return
        probe = self._get(1)
        yield from self._consume(probe)
        reprobes = 0
        while not probe.rows and reprobes < _MAX_REREAD_ROUNDS:  # an early-empty probe tells nothing
            reprobes += 1
            probe = self._get(1)
            yield from self._consume(probe)
        self._probe_rows = len(probe.rows)
        if len(first.rows) < self._size and len(probe.rows) == len(first.rows):
            self._size = len(first.rows)  # a silent cap on the page size, not one short page
        # Where each id the probe shares with page 0 sits in page 0, minus
        # where it sits in the probe: 1 under *records*, ``size`` under
        # *pages*, both less the trials inserted at the front in between.
        # Front insertions can raise the overlap under *pages*, so its count
        # alone would misread fewer than half a page of them as *records*;
        # the shift misreads only ``size - 1`` of them or more.
        first_position = {row_id: i for i, row_id in enumerate(first.ids)}
        shifts = [first_position[row_id] - i for i, row_id in enumerate(probe.ids) if row_id in first_position]
        overlap = len(shifts)
        near = sum(1 for shift in shifts if shift <= 1)
        if probe.rows:
            self._meaning = "records" if 2 * near > overlap else "pages"
        elif probe.echoed_offset == 0:
            self._meaning = "records"  # the service turned record offset 1 into page number 0
        else:
            self._meaning = "unknown"
        logger.debug("offset of %s read as %s (probe overlap %d, %d of them shifted by at most 1)",
                     self._what, self._meaning, overlap, near)
        if self._meaning == "pages":
            self._covered_pages.add(1)

    # ------------------------------------------------------------------ step 3: the planned pages

    def _read_planned(self) -> Iterator[Any]:
        """Fetch the rest of ``total`` concurrently, in page order."""
        self._planned_total = total = self._total
        offsets = self._plan(self._meaning, 0, total)
        if self._meaning == "records" and self._probe_rows == self._size:
            # The probe read records 1..size: start each page one record later, so
            # that none overlaps it (a page kept whole can be handed on as it came).
            offsets = [o + 1 for o in offsets if o + 1 < total]
        for page in self._run(offsets):
            yield from self._consume(page)
        # Re-reading is bounded in requests too (about three more full passes of
        # the listing as first planned), in case the job grows faster than it can
        # be read.
        self._max_sent = self._sent + 3 * math.ceil(self._planned_total / self._size) + 16

    # ------------------------------------------------------------------ step 4: re-reads

    def _reread_missing(self) -> Iterator[Any]:
        """While ids are missing: short pages, then the tail, then every page in order; a few rounds at most."""
        rounds = 0
        tried_other = False
        while not self._complete() and rounds < _MAX_REREAD_ROUNDS and self._sent < self._max_sent:
            rounds += 1
            before = len(self._ids)
            yield from self._reread_short()
            if not self._complete() and self._total > self._planned_total:
                yield from self._read_tail()
            self._adopt_served_size()
            if not self._complete():
                current = self._meaning
                if current == "unknown" and not tried_other:
                    current, tried_other = "records", True
                yield from self._read_in_order(current)
            if len(self._ids) == before:
                break

    def _reread_short(self) -> Iterator[Any]:
        """Read again the pages that came back short although they end before ``total``."""
        size, total = self._size, self._total
        retry_short = sorted(
            o for o, n in self._counts.items() if n < size and _covers_before(self._meaning, o, size, total)
        )
        if retry_short:  # pages that came back short early: read just those again
            logger.info("%d page(s) of %s came back short; reading them again", len(retry_short), self._what)
            for page in self._run(retry_short):
                yield from self._consume(page)

    def _read_tail(self) -> Iterator[Any]:
        """Trials were appended while paging: read from the last planned page to the new total."""
        logger.info("%s total grew from %d to %d while paging; reading the tail",
                    self._what, self._planned_total, self._total)
        tail = self._plan(self._meaning, max(0, self._planned_total - self._size), self._total)
        self._planned_total = self._total
        for page in self._run(tail):
            yield from self._consume(page)

    def _adopt_served_size(self) -> None:
        served = max(self._counts.values(), default=0)
        if 0 < served < self._size:  # no page ever held more: that is the page size really used
            logger.info("%s pages hold at most %d rows; using that page size", self._what, served)
            self._size = served

    def _read_in_order(self, meaning: Meaning) -> Iterator[Any]:
        """Read every page again, one at a time, up to the latest total (offset as ``meaning``).

        In order, one at a time: if trials are being inserted before the
        pages already read, each page then overlaps the one before it.  The
        pass follows the latest total, so it also reaches records pushed past
        the old end; it is bounded in case the job grows faster than it can
        be read.  A page that comes back short before its own total is read
        again before moving on (a few times per pass): the pass ends at the
        latest total, so a glitch on its last page would otherwise leave the
        records pushed there unread.
        """
        logger.info("have %d of %d %s; reading every page again, in order (offset as %s)",
                    len(self._ids), self._total, self._what, meaning)
        self._planned_total = self._total
        size = self._size
        by_pages = meaning != "records"
        index, latest, limit = 0, self._total, 2 * math.ceil(self._total / size) + 16
        again = 0
        while index * size < latest and index < limit and self._sent < self._max_sent:
            page = self._get(index if by_pages else index * size)
            latest = page.total
            yield from self._consume(page)
            if len(page.rows) < min(size, latest - index * size) and again < _MAX_REREAD_ROUNDS:
                again += 1
                continue
            index += 1

    def _warn_missing(self) -> None:
        if not self._complete():
            missing = self._total - len(self._ids)
            logger.warning(
                "service reports %d %s but only %d distinct ones could be read (%d missing)",
                self._total, self._what, len(self._ids), missing,
            )


def iter_pages(
    fetch: Callable[[int], FetchedPage],
    *,
    page_size: int,
    executor: Executor | None,
    on_progress: Callable[[int, int], None] | None = None,
    what: str = "records",
) -> Iterator[Any]:
    """Yield every record's page exactly once: ``iter(Pager(...))``; see :class:`Pager`."""
    return iter(Pager(fetch, page_size=page_size, executor=executor, on_progress=on_progress, what=what))
