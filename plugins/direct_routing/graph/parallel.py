"""Time-sliced concurrent paging: a window split into sub-windows paged side by side.

Graph's budget (50 requests / 60 s) bounds a pull; one page at a time leaves it unused whenever a page
takes longer than 1.2 s to come back. Sub-windows (an hour each by default) are paged by their own
nextLinks in a few threads, all through the client's one rate limiter, and their pages flow through a
bounded queue to the caller, which converts and writes while the next pages are in flight. The caller
gets pages in no particular order; the writer's deduplication and sort do not depend on it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import timedelta

from direct_routing.graph.client import DirectRoutingCallsClient, PullStats
from direct_routing.graph.window import Window

DEFAULT_CONCURRENCY = 4
DEFAULT_SLICE = timedelta(hours=1)
PAGE_ROWS = 1000
# Every sub-window ends on a partly filled page, one request that a single stream would not make. Slice only
# a day big enough that each slice holds several pages, so the extra requests stay a small fraction.
PAGES_PER_SLICE = 8
_SLICE_HOURS = (1, 2, 3, 4, 6, 8, 12, 24)
_DONE = object()


def slice_length_for(expected_rows: int | None, concurrency: int) -> timedelta:
    """Sub-window length for a day expected to hold ``expected_rows`` (None: unknown, e.g. the first run)."""
    if concurrency <= 1:
        return timedelta(hours=24)
    wanted = concurrency if expected_rows is None else -(-expected_rows // PAGE_ROWS) // PAGES_PER_SLICE
    hours = next((h for h in _SLICE_HOURS if 24 // h <= max(wanted, 1)), 24)
    return timedelta(hours=hours)


def iter_pages_concurrently(
    client: DirectRoutingCallsClient,
    window: Window,
    stats: PullStats,
    *,
    concurrency: int = DEFAULT_CONCURRENCY,
    slice_length: timedelta = DEFAULT_SLICE,
    max_pages_in_flight: int | None = None,
) -> Iterator[list[dict]]:
    """Yield every page of ``window``; the first failure of any sub-window stops all and is raised."""
    if concurrency <= 1:
        yield from client.iter_pages(window, stats)
        return
    pending = queue.SimpleQueue()
    for piece in window.split(slice_length):
        pending.put(piece)
    pages: queue.Queue = queue.Queue(maxsize=max_pages_in_flight or 2 * concurrency)
    stop = threading.Event()

    def hand_over(item) -> bool:
        while not stop.is_set():
            try:
                pages.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def worker() -> None:
        try:
            while not stop.is_set():
                try:
                    piece = pending.get_nowait()
                except queue.Empty:
                    break
                for rows in client.iter_pages(piece, stats):
                    if not hand_over(rows):
                        return
        except BaseException as error:  # handed to the caller, who raises it
            hand_over(error)
        finally:
            hand_over(_DONE)

    threads = [threading.Thread(target=worker, name=f"graph-pager-{i}", daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    running = len(threads)
    try:
        while running:
            item = pages.get()
            if item is _DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        stop.set()
        for thread in threads:
            thread.join()
