"""Time-sliced concurrent paging: a window split into sub-windows paged side by side.

Graph's budget (50 requests / 60 s) bounds a pull; one page at a time leaves it unused whenever a page
takes longer than 1.2 s to come back. Sub-windows (``plan_slices``: about equal rows each) are paged by
their own nextLinks in a few threads, all through the client's one rate limiter, and their pages flow through a
bounded queue to the caller, which converts and writes while the next pages are in flight. The caller
gets pages in no particular order; the writer's deduplication and sort do not depend on it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Iterator
from datetime import UTC, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from call_logs import defaults
from call_logs.graph.client import GraphReportClient, PullStats, RawPage
from call_logs.graph.window import Window

log = logging.getLogger(__name__)

PAGE_ROWS = 1000
# Every slice ends on a partly filled page, one request a single stream would not make: each slice should hold at
# least this many pages, so that a small day is not cut into many partly filled ones.
MIN_PAGES_PER_SLICE = 2
_DONE = object()


def plan_slices(
    window: Window,
    concurrency: int,
    rows_per_hour: list[int] | None = None,
    *,
    tz: str | tzinfo | None = None,
) -> list[Window]:
    """Sub-windows holding about the same number of rows each, biggest first, that exactly cover ``window``.

    ``rows_per_hour`` is the expected volume of each hour of ``window`` (an earlier day's, from its manifest):
    calls bunch up in working hours, so equal-length slices would leave one thread with most of the day. Slice
    bounds are placed inside hours (rows assumed spread evenly within an hour), so slices are balanced even when
    one hour holds more than a slice's share. How many slices: ``concurrency`` (one round, every thread busy
    from the start), more only when each extra slice's partly filled page stays within
    ``defaults.SLICING_EXTRA_REQUESTS`` of the day's requests (then the queue evens out estimation errors), fewer
    when the day has fewer than ``MIN_PAGES_PER_SLICE`` pages per slice.

    Without a usable profile (a first run) the day's volume is unknown, so it is cut into ``concurrency`` slices:
    one round keeps the extra requests at ``concurrency - 1``, all the rule above allows a day of unknown size
    (a slice more would need ``concurrency / SLICING_EXTRA_REQUESTS`` pages, 134 for 4 threads, to be proven
    first, and by then every slice of the round has started and cannot be cut without fetching it again). So a
    first run is as balanced as the shape it assumes (bench/README.md, *First runs on any day's shape*): a working
    day, by default ``defaults.FIRST_RUN_HOURLY_PROFILE`` (European, in UTC hours) over a whole UTC day and even
    lengths over any other window. ``tz``, the tenant's time zone (an IANA name such as ``"Asia/Tokyo"``, or a
    ``tzinfo``, e.g. ``datetime.timezone(timedelta(hours=10))`` for a fixed UTC offset), puts that working day
    (``defaults.FIRST_RUN_LOCAL_PROFILE``) in the zone's local hours instead, daylight saving included, over any
    window; a name that is no time zone is logged and the default kept. ``tz`` does nothing when
    ``rows_per_hour`` is given (an earlier day's volume already has its shape).
    Slicing never decides which rows are pulled: a wrong profile costs balance (time), never rows.
    """
    if concurrency <= 1:
        return [window]
    hours = window.split(timedelta(hours=1))
    if rows_per_hour and len(rows_per_hour) == len(hours) and all(n >= 0 for n in rows_per_hour):
        weights = [float(n) for n in rows_per_hour]
        pages = -(-sum(rows_per_hour) // PAGE_ROWS)
        if pages <= 1:
            return [window]
        count = min(concurrency, -(-pages // MIN_PAGES_PER_SLICE))
        rounds = int(defaults.SLICING_EXTRA_REQUESTS * pages) // concurrency  # extra requests ~ slices - 1
        count = max(count, concurrency * rounds)
    else:
        zone = _zone(tz)
        if zone is not None:
            quarters = window.split(_QUARTER)  # each within one local hour of any zone (see _QUARTER)
            return _balanced(quarters, _local_weights(quarters, zone, defaults.FIRST_RUN_LOCAL_PROFILE), concurrency)
        profile = defaults.FIRST_RUN_HOURLY_PROFILE
        whole_day = len(hours) == 24 and hours[0].start.astimezone(UTC).hour == 0
        weights = [float(w) for w in profile] if whole_day and len(profile) == 24 else [1.0] * len(hours)
        count = concurrency
    return _balanced(hours, weights, count)


def _zone(tz: str | tzinfo | None) -> tzinfo | None:
    """``tz`` as a ``tzinfo``; None (the default working day) for None or a name that is no IANA time zone."""
    if tz is None or isinstance(tz, tzinfo):
        return tz
    try:
        return ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        # A slicing hint must never stop a pull: the slices are only less balanced.
        log.warning("%r is not an IANA time zone: the first run's slices assume the default working day", tz)
        return None


# Every time zone's offset from UTC is a whole number of quarter hours (Asia/Kathmandu is +05:45) and clocks change
# only between two quarters: a quarter hour of UTC lies within one local hour, whatever the zone.
_QUARTER = timedelta(minutes=15)


def _local_weights(pieces: list[Window], zone: tzinfo, profile: tuple[float, ...]) -> list[float]:
    """Each piece's expected calls under ``profile`` (24 weights, one per local hour of ``zone``)."""
    weights = []
    for piece in pieces:
        middle = piece.start + (piece.end - piece.start) / 2
        weights.append(float(profile[middle.astimezone(zone).hour]) * ((piece.end - piece.start) / _QUARTER))
    return weights


def _balanced(pieces: list[Window], weights: list[float], count: int) -> list[Window]:
    """``count`` consecutive slices of about equal weight (linear within each piece), heaviest first."""
    start, end = pieces[0].start, pieces[-1].end
    total = sum(weights)
    if total <= 0:
        weights, total = [1.0] * len(pieces), float(len(pieces))
    bounds, cumulative, target_index = [start], 0.0, 1
    for piece, weight in zip(pieces, weights, strict=True):
        while target_index < count and weight > 0 and cumulative + weight >= total * target_index / count:
            fraction = (total * target_index / count - cumulative) / weight
            moment = piece.start + (piece.end - piece.start) * fraction
            moment = moment.replace(microsecond=0)  # whole seconds in the URL
            if bounds[-1] < moment < end:
                bounds.append(moment)
            target_index += 1
        cumulative += weight
    bounds.append(end)
    slices = [Window(a, b) for a, b in zip(bounds, bounds[1:], strict=False)]
    return sorted(slices, key=lambda piece: -_weight_of(piece, pieces, weights))


def _weight_of(piece: Window, pieces: list[Window], weights: list[float]) -> float:
    share = (max(timedelta(0), min(piece.end, p.end) - max(piece.start, p.start)) / (p.end - p.start) for p in pieces)
    return sum(weight * part for weight, part in zip(weights, share, strict=True))


def iter_pages_concurrently(
    client: GraphReportClient,
    slices: list[Window],
    stats: PullStats,
    *,
    concurrency: int = defaults.GRAPH_CONCURRENCY,
) -> Iterator[RawPage]:
    """Yield every page of every slice; the first failure of any slice stops all and is raised.

    Even one slice is paged in a thread, so that converting and writing a page overlaps fetching the next.
    The token is fetched before any request takes a slot of the rate limiter: the limiter counts a request when
    it takes the slot, Graph when it arrives, and a token fetched in between (up to a second of MSAL) would let
    the next window's requests arrive within Graph's window of this one's (a 429 on a scaled budget).
    """
    client.tokens.token()
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
