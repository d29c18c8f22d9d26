"""Paging that is correct when the service's ``offset`` meaning is unknown.

The documents disagree whether ``offset`` counts records or pages
(``modelarts_api.md`` §3.3), trials may be added while we page, and a page
may come back empty early.  :func:`iter_pages` handles all three:

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
   them concurrently (bounded by the executor), in page order.
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

__all__ = ["FetchedPage", "iter_pages"]

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


class _Seen:
    def __init__(self) -> None:
        self.ids: set[Hashable] = set()
        self.total = 0

    def new_positions(self, page: FetchedPage) -> list[int]:
        keep: list[int] = []
        for position, row_id in enumerate(page.ids):
            if row_id not in self.ids:
                self.ids.add(row_id)
                keep.append(position)
        return keep


def iter_pages(
    fetch: Callable[[int], FetchedPage],
    *,
    page_size: int,
    executor: Executor | None,
    on_progress: Callable[[int, int], None] | None = None,
    what: str = "records",
) -> Iterator[Any]:
    """Yield every record's page exactly once; see the module docstring.

    ``fetch(offset)`` requests one page with ``limit=page_size``.  Pages after
    the probe are submitted to ``executor`` (sequential when ``None``).  The
    first page is always yielded (so an empty listing still has its header);
    later pages only when they bring a new id.  ``on_progress(seen, total)``
    is called after each page.
    """
    seen = _Seen()
    sent = 0  # requests made, to bound the re-reads
    sent_lock = threading.Lock()

    def get(offset: int) -> FetchedPage:
        nonlocal sent
        with sent_lock:
            sent += 1
        return fetch(offset)


    counts: dict[int, int] = {}  # rows returned, by offset (latest read)

    def consume(page: FetchedPage, *, always: bool = False) -> Iterator[Any]:
        counts[page.offset] = len(page.rows)
        seen.total = max(seen.total, page.total)
        positions = seen.new_positions(page)
        if on_progress is not None:
            on_progress(len(seen.ids), seen.total)
        if positions or always:
            yield page.keep(positions)

    def run(offsets: list[int]) -> Iterator[FetchedPage]:
        if executor is None or len(offsets) <= 1:
            for offset in offsets:
                yield get(offset)
            return
        futures: list[Future[FetchedPage]] = [executor.submit(get, offset) for offset in offsets]
        try:
            for future in futures:
                yield future.result()
        finally:
            for future in futures:
                future.cancel()

    first = get(0)
    yield from consume(first, always=True)
    if len(seen.ids) >= seen.total:
        return

    rereads = 0
    while not first.rows and rereads < _MAX_REREAD_ROUNDS:  # an early-empty first page
        rereads += 1
        logger.info("first page of %s came back empty although total=%d; reading it again", what, seen.total)
        first = get(0)
        yield from consume(first)
    if not first.rows:
        logger.warning("first page of %s stayed empty although total=%d; giving up", what, seen.total)
        return
    if len(seen.ids) >= seen.total:
        return

    # The page size the service really uses: what we asked, unless it says
    # (echoed limit) or shows (page 0 and the probe equally short) otherwise.
    size = page_size
    if first.echoed_limit is not None and 0 < first.echoed_limit < page_size:
        size = first.echoed_limit

    meaning: Meaning
    covered_pages = {0}
    if size == 1:
        meaning = "records"  # page i is record i under both meanings
    else:
        probe = get(1)
        yield from consume(probe)
        reprobes = 0
        while not probe.rows and reprobes < _MAX_REREAD_ROUNDS:  # an early-empty probe tells nothing
            reprobes += 1
            probe = get(1)
            yield from consume(probe)
        if len(first.rows) < size and len(probe.rows) == len(first.rows):
            size = len(first.rows)  # a silent cap on the page size, not one short page
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
            meaning = "records" if 2 * near > overlap else "pages"
        elif probe.echoed_offset == 0:
            meaning = "records"  # the service turned record offset 1 into page number 0
        else:
            meaning = "unknown"
        logger.debug("offset of %s read as %s (probe overlap %d, %d of them shifted by at most 1)",
                     what, meaning, overlap, near)
        if meaning == "pages":
            covered_pages.add(1)

    def plan(m: Meaning, start: int, end: int) -> list[int]:
        offsets = _offsets("pages" if m == "unknown" else m, start, end, size)
        if m == "pages":
            return [o for o in offsets if o not in covered_pages] if start == 0 else offsets
        if m == "records":
            return [o for o in offsets if o != 0] if start == 0 else offsets
        return offsets

    planned_total = seen.total
    for page in run(plan(meaning, 0, planned_total)):
        yield from consume(page)

    # Re-reading is bounded in requests too (about three more full passes of
    # the listing as first planned), in case the job grows faster than it can
    # be read.
    max_sent = sent + 3 * math.ceil(planned_total / size) + 16

    rounds = 0
    tried_other = False
    while len(seen.ids) < seen.total and rounds < _MAX_REREAD_ROUNDS and sent < max_sent:
        rounds += 1
        before = len(seen.ids)
        retry_short = sorted(
            o for o, n in counts.items() if n < size and _covers_before(meaning, o, size, seen.total)
        )
        if retry_short:  # pages that came back short early: read just those again
            logger.info("%d page(s) of %s came back short; reading them again", len(retry_short), what)
            for page in run(retry_short):
                yield from consume(page)
        if len(seen.ids) < seen.total and seen.total > planned_total:  # trials were appended: read the new tail first
            logger.info("%s total grew from %d to %d while paging; reading the tail", what, planned_total, seen.total)
            tail = plan(meaning, max(0, planned_total - size), seen.total)
            planned_total = seen.total
            for page in run(tail):
                yield from consume(page)
        served = max(counts.values(), default=0)
        if 0 < served < size:  # no page ever held more: that is the page size really used
            logger.info("%s pages hold at most %d rows; using that page size", what, served)
            size = served
        if len(seen.ids) < seen.total:
            current = meaning
            if meaning == "unknown" and not tried_other:
                current, tried_other = "records", True
            logger.info("have %d of %d %s; reading every page again, in order (offset as %s)",
                        len(seen.ids), seen.total, what, current)
            planned_total = seen.total
            # In order, one at a time: if trials are being inserted before the
            # pages already read, each page then overlaps the one before it.
            # The pass follows the latest total, so it also reaches records
            # pushed past the old end; it is bounded in case the job grows
            # faster than it can be read.
            # A page that comes back short before its own total is read again
            # before moving on (a few times per pass): the pass ends at the
            # latest total, so a glitch on its last page would otherwise
            # leave the records pushed there unread.
            by_pages = current != "records"
            index, latest, limit = 0, seen.total, 2 * math.ceil(seen.total / size) + 16
            again = 0
            while index * size < latest and index < limit and sent < max_sent:
                page = get(index if by_pages else index * size)
                latest = page.total
                yield from consume(page)
                if len(page.rows) < min(size, latest - index * size) and again < _MAX_REREAD_ROUNDS:
                    again += 1
                    continue
                index += 1
        if len(seen.ids) == before:
            break
    if len(seen.ids) < seen.total:
        logger.warning(
            "service reports %d %s but only %d distinct ones could be read (%d missing)",
            seen.total, what, len(seen.ids), seen.total - len(seen.ids),
        )
