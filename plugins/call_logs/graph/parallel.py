"""Time-sliced concurrent paging: a window split into sub-windows paged side by side.

Graph's budget (50 requests / 60 s) bounds a pull; one page at a time leaves it unused whenever a page
takes longer than 1.2 s to come back. Sub-windows (``plan_slices``: about equal rows each) are paged by
their own nextLinks in a few threads, all through the client's one rate limiter, and their pages flow through a
bounded queue to the caller, which converts and writes while the next pages are in flight. The caller
gets pages in no particular order; the writer's deduplication and sort do not depend on it.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from datetime import timedelta

from call_logs import defaults
from call_logs.graph.client import GraphReportClient, PullStats, RawPage
from call_logs.graph.window import Window

PAGE_ROWS = 1000
# Every sub-window ends on a partly filled page: one request a single stream would not make. Aim for
# several pages per slice so those extra requests stay a small fraction of the pull.
PAGES_PER_SLICE = 6
_DONE = object()


def plan_slices(window: Window, concurrency: int, rows_per_hour: list[int] | None = None) -> list[Window]:
    """Sub-windows holding about the same number of rows each, biggest first.

    ``rows_per_hour`` is the expected volume of each hour of ``window`` (the previous day's, from its
    manifest): calls bunch up in business hours, so equal-length slices would leave one thread with most of
    the day. Without it (a first run), the window is cut into ``concurrency`` equal lengths.
    """
    hours = window.split(timedelta(hours=1))
    if concurrency <= 1:
        return [window]
    if not rows_per_hour or len(rows_per_hour) != len(hours):
        return window.split((window.end - window.start) / concurrency)
    total = sum(rows_per_hour)
    pages = -(-total // PAGE_ROWS)
    if pages <= PAGES_PER_SLICE:
        return [window]
    # A multiple of the thread count, so that the last round of slices keeps every thread busy.
    rounds = -(-pages // (PAGES_PER_SLICE * concurrency))
    count = min(len(hours), concurrency * rounds)
    per_slice = total / count
    groups: dict[int, list[tuple[Window, int]]] = {}
    seen = 0
    for hour, rows in zip(hours, rows_per_hour, strict=True):
        group = min(count - 1, int((seen + rows / 2) / per_slice))  # by the hour's middle row
        groups.setdefault(group, []).append((hour, rows))
        seen += rows
    slices = [(Window(g[0][0].start, g[-1][0].end), sum(rows for _, rows in g)) for g in groups.values()]
    return [piece for piece, _ in sorted(slices, key=lambda item: -item[1])]


def iter_pages_concurrently(
    client: GraphReportClient,
    slices: list[Window],
    stats: PullStats,
    *,
    concurrency: int = defaults.GRAPH_CONCURRENCY,
) -> Iterator[RawPage]:
    """Yield every page of every slice; the first failure of any slice stops all and is raised.

    Even one slice is paged in a thread, so that converting and writing a page overlaps fetching the next.
    """
    pending: queue.SimpleQueue[Window] = queue.SimpleQueue()
    for piece in slices:
        pending.put(piece)
    concurrency = max(1, min(concurrency, len(slices)))
    pages: queue.Queue = queue.Queue(maxsize=2 * concurrency)  # bounds memory: workers wait for the writer
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
