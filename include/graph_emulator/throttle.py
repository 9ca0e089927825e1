"""Graph's request budgets (per collection, per app), the log of every data request received, and their flights.

A budget is a rolling window over the requests it *accepted*; requests it refuses (429) do not use a slot,
but every request received is logged with its time so tests can check how hard a client pushed. A
``FlightLog`` keeps when each request was in flight (arrival to the end of its answer on the wire), so tests can
check how many requests of one stream a client had open at once.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass


class _Window:
    """Times of the requests one budget accepted within the rolling window (not thread-safe on its own)."""

    def __init__(self) -> None:
        self.accepted: deque[float] = deque()

    def wait(self, now: float, limit: int, window_s: float) -> float | None:
        """None if a slot is free now, else the seconds until one frees."""
        accepted = self.accepted
        while accepted and accepted[0] <= now - window_s:
            accepted.popleft()
        if len(accepted) < limit:
            return None
        if limit <= 0:
            return window_s
        return max(accepted[len(accepted) - limit] + window_s - now, 0.001)


@dataclass(frozen=True)
class Refusal:
    """Why a request was throttled: which budget was full (``collection`` or ``app``) and the wait."""

    scope: str
    retry_after: float


class Throttle:
    """Graph's nested request budgets: one per collection, and the app's over every collection; thread-safe.

    A request is accepted only if both its collection and the app have a free slot, and then takes one in
    each; a refused request (429) takes none. Limits come with each call, so a new config applies at once.
    """

    def __init__(self, clock=time.monotonic) -> None:
        self._collections: dict[str, _Window] = {}
        self._app = _Window()
        self._lock = threading.Lock()
        self._clock = clock

    def admit(
        self, collection: str, collection_limit: int | None, app_limit: int | None, window_s: float
    ) -> Refusal | None:
        """None if the request may go ahead (it takes its slots), else the ``Refusal``.

        ``collection_limit=None`` turns throttling off altogether; ``app_limit=None`` only the app budget.
        """
        if collection_limit is None:
            return None
        with self._lock:
            now = self._clock()
            bucket = self._collections.setdefault(collection, _Window())
            collection_wait = bucket.wait(now, collection_limit, window_s)
            app_wait = self._app.wait(now, app_limit, window_s) if app_limit is not None else None
            if collection_wait is not None or app_wait is not None:
                scope = "collection" if collection_wait is not None else "app"
                return Refusal(scope, max(w for w in (collection_wait, app_wait) if w is not None))
            bucket.accepted.append(now)
            self._app.accepted.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._collections.clear()
            self._app = _Window()


class RequestLog:
    """Times of every data request received, numbered from 1 since start or the last reset."""

    def __init__(self, clock=time.monotonic) -> None:
        self._times: list[float] = []
        self._lock = threading.Lock()
        self._clock = clock

    def record(self) -> int:
        """Log one request now; return its 1-based number."""
        with self._lock:
            self._times.append(self._clock())
            return len(self._times)

    def __len__(self) -> int:
        return len(self._times)

    def max_in_any(self, window_s: float) -> int:
        """The largest number of requests received within any rolling ``window_s``."""
        with self._lock:
            times = list(self._times)
        best, first = 0, 0
        for last, moment in enumerate(times):
            while moment - times[first] >= window_s:
                first += 1
            best = max(best, last - first + 1)
        return best

    def clear(self) -> None:
        with self._lock:
            self._times.clear()


Interval = tuple[float, float | None]  # (arrival, end of the answer) in time.monotonic(); None: still in flight


class FlightLog:
    """When each data request was in flight: from its arrival until its answer was written (or abandoned)."""

    def __init__(self, clock=time.monotonic) -> None:
        self._flights: list[list[float | None]] = []
        self._lock = threading.Lock()
        self._clock = clock

    def begin(self) -> Callable[[], None]:
        """Log a request arriving now; the function returned ends its flight (later calls do nothing)."""
        flight: list[float | None] = [self._clock(), None]
        with self._lock:
            self._flights.append(flight)

        def end() -> None:
            with self._lock:
                if flight[1] is None:
                    flight[1] = self._clock()

        return end

    def intervals(self) -> list[Interval]:
        with self._lock:
            return [(start, end) for start, end in self._flights if start is not None]

    def clear(self) -> None:
        """Forget every flight (one still open ends into nothing)."""
        with self._lock:
            self._flights = []


def max_overlap(intervals: Iterable[Interval]) -> int:
    """The most intervals open at one instant; one ending as another starts does not overlap it."""
    intervals = list(intervals)
    events = sorted(
        [(start, 1) for start, _ in intervals] + [(math.inf if end is None else end, -1) for _, end in intervals]
    )  # at equal times -1 sorts first: an end before a start
    best = current = 0
    for _, step in events:
        current += step
        best = max(best, current)
    return best


def format_retry_after(seconds: float) -> str:
    """Retry-After as Graph may send it: seconds, fractional, at most three decimals (``"2.128"``)."""
    return f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")
