"""Graph's per-collection request budget, and the log of every data request received.

The budget is a rolling window over the requests it *accepted*; requests it refuses (429) do not use a slot,
but every request received is logged with its time so tests can check how hard a client pushed.
"""

from __future__ import annotations

import threading
import time
from collections import deque


class RollingBudget:
    """At most ``limit`` accepted requests in any ``window_s``; thread-safe."""

    def __init__(self, clock=time.monotonic) -> None:
        self._accepted: deque[float] = deque()
        self._lock = threading.Lock()
        self._clock = clock

    def try_accept(self, limit: int | None, window_s: float) -> float | None:
        """None if the request may go ahead (it takes a slot), else the seconds until a slot frees."""
        if limit is None:
            return None
        with self._lock:
            now = self._clock()
            while self._accepted and self._accepted[0] <= now - window_s:
                self._accepted.popleft()
            if len(self._accepted) >= limit:
                return max(self._accepted[len(self._accepted) - limit] + window_s - now, 0.001)
            self._accepted.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._accepted.clear()


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


def format_retry_after(seconds: float) -> str:
    """Retry-After as Graph may send it: seconds, fractional, at most three decimals (``"2.128"``)."""
    return f"{max(seconds, 0.001):.3f}".rstrip("0").rstrip(".")
