"""Client-side request budget and retry timing.

Graph throttles each call-log report function per collection on a rolling 60-second window (50 requests). A
pull that stays under that budget by itself sees no 429 at all, which is faster than being told to wait:
retries count against the same budget.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field

from call_logs.graph.errors import GraphDeadlineError, GraphRetryAfterTooLongError, GraphUnavailableError

JITTER_GUARD_MIN_S = 0.25
JITTER_GUARD_FRACTION = 0.02
# The longest single Retry-After a pull honours. Graph's budget is a rolling 60-second window, so a genuine
# throttling wait fits in two of them; anything longer is a bogus header or an outage, and the task is better
# failed and retried by Airflow later (its pool slot and worker freed) than parked for hours.
MAX_RETRY_AFTER_S = 120.0


def _deadline_error(delay: float, what: str, deadline: float, now: float) -> GraphDeadlineError:
    return GraphDeadlineError(
        f"Waiting {delay:.1f} s more for {what} would outlast the task's execution_timeout "
        f"({max(0.0, deadline - now):.1f} s left), so this try stops now without writing the window and Airflow "
        "retries the task."
    )


class RateLimiter:
    """At most ``max_requests`` in any rolling ``window_s`` seconds, shared by every thread of a pull.

    Graph counts a request when it arrives, somewhere between the moment it took its slot here and the moment
    its answer came back. A request sent through ``slot`` is counted from its answer, so nothing that delays it
    after it took its slot (thread scheduling, a new TLS connection, the network) can bring two requests closer
    at Graph than the window: the limit can be Graph's own budget. ``pause_for`` lets a 429's Retry-After hold
    back every caller, not just the one that was told. The clock is wall time so that ``sent_times`` can be
    handed to the next pull, in another process (``ledger.py``).
    """

    def __init__(self, max_requests: int, window_s: float = 60.0, *, clock=time.time, sleep=time.sleep):
        if max_requests < 1 or window_s <= 0:
            raise ValueError("a rate limit needs max_requests >= 1 and window_s > 0")
        self.max_requests = max_requests
        # Graph counts arrivals, this counts sends: network and scheduling jitter can bring two requests
        # closer on arrival than they were sent, so the window kept here is a little longer than Graph's.
        self.window_s = window_s + max(JITTER_GUARD_MIN_S, JITTER_GUARD_FRACTION * window_s)
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self._paused_until = 0.0
        self._lock = threading.Lock()

    def acquire(self, deadline: float | None = None) -> float:
        """Block until a request may be sent, counted from now; return the seconds spent waiting.

        ``deadline`` (wall-clock seconds, like the clock): raise ``GraphDeadlineError`` instead of waiting past it.
        """
        return self._take(deadline)[0]

    @contextmanager
    def slot(self, deadline: float | None = None) -> Iterator[float]:
        """Hold a slot for one request (yields the seconds spent waiting for it), counted from when it is done.

        The slot counts from the moment it is taken while the request is in flight, and from the moment the
        block exits (the answer is in, or the request failed) after that: never earlier than Graph's arrival.
        """
        waited, taken = self._take(deadline)
        try:
            yield waited
        finally:
            with self._lock:
                with suppress(ValueError):  # an answer slower than the window: the slot had already expired
                    self._sent.remove(taken)
                self._sent.append(self._clock())

    def _take(self, deadline: float | None) -> tuple[float, float]:
        """Wait for a free slot and take it; returns (seconds waited, the slot's time)."""
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                while self._sent and now - self._sent[0] >= self.window_s:
                    self._sent.popleft()
                delay = self._paused_until - now
                if delay <= 0 and len(self._sent) >= self.max_requests:
                    delay = self._sent[0] + self.window_s - now
                if delay <= 0:
                    self._sent.append(now)
                    return waited, now
            if deadline is not None and now + delay > deadline:
                raise _deadline_error(delay, "the request budget", deadline, now)
            self._sleep(delay)
            waited += delay

    def pause_for(self, seconds: float) -> None:
        """Hold back every caller for ``seconds`` (Graph said Retry-After)."""
        with self._lock:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    def sent_times(self) -> list[float]:
        """When the requests still inside the rolling window were sent (wall-clock seconds)."""
        with self._lock:
            now = self._clock()
            return [t for t in self._sent if now - t < self.window_s]

    def preload(self, sent: list[float]) -> None:
        """Count requests someone else sent (the previous pull) against this window's budget."""
        with self._lock:
            self._sent = deque(sorted([*self._sent, *sent]))

    def slow_down(self, factor: float = 0.8) -> int:
        """Shrink the budget after a 429 (the real quota is smaller, or shared); returns the new budget."""
        with self._lock:
            self.max_requests = max(1, int(self.max_requests * factor))
            return self.max_requests


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying one request before the pull fails.

    ``Retry-After`` from Graph is honoured as given (fractional seconds included) up to ``max_retry_after_s``;
    without it the wait is exponential with full jitter, capped. The attempt count and the total wait are
    bounded, and no wait may end after ``deadline`` (wall-clock seconds: the task's execution_timeout), so a
    pull never holds a worker longer than its task may run.
    """

    max_attempts: int = 8
    backoff_base_s: float = 1.0
    backoff_cap_s: float = 60.0
    max_total_wait_s: float = 900.0
    max_retry_after_s: float = MAX_RETRY_AFTER_S
    deadline: float | None = None
    rng: random.Random = field(default_factory=random.Random, compare=False, repr=False)
    clock: Callable[[], float] = field(default=time.time, compare=False, repr=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if retry_after is not None:
            return max(0.0, retry_after)
        ceiling = min(self.backoff_cap_s, self.backoff_base_s * 2 ** (attempt - 1))
        return self.rng.uniform(ceiling / 2, ceiling)

    def wait_before_retry(self, attempt: int, retry_after: float | None, waited: float, failure: object) -> float:
        """The wait before retrying after ``failure`` (attempt ``attempt``, ``waited`` s so far), or raise.

        Raises ``GraphRetryAfterTooLongError`` for a Retry-After above the cap, ``GraphUnavailableError`` when
        attempts or total wait run out, ``GraphDeadlineError`` when the wait would end after the deadline.
        """
        if retry_after is not None and retry_after > self.max_retry_after_s:
            raise GraphRetryAfterTooLongError(
                f"Graph answered {failure} with Retry-After {retry_after:g} s, longer than the "
                f"{self.max_retry_after_s:g} s one pull waits for a retry, so this try stops now without writing "
                "the window and Airflow retries the task later."
            ) from None  # called while the client handles the failure: its context is noise
        delay = self.delay(attempt, retry_after)
        if attempt >= self.max_attempts or waited + delay > self.max_total_wait_s:
            raise GraphUnavailableError(
                f"Graph kept failing ({failure}) after {attempt} attempts and {waited:.0f} s of waiting; "
                "the window was not written, retry the task later."
            ) from None
        self.check_deadline(delay, f"Graph ({failure})")
        return delay

    def check_deadline(self, delay: float, what: str) -> None:
        """Raise ``GraphDeadlineError`` if waiting ``delay`` s from now would end after the deadline."""
        if self.deadline is None:
            return
        now = self.clock()
        if now + delay > self.deadline:
            raise _deadline_error(delay, what, self.deadline, now) from None


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After in seconds (Graph sends fractional seconds, e.g. ``2.128``); None if absent or unusable."""
    if not value:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None  # an HTTP-date: Graph does not send these; fall back to backoff
    if math.isnan(seconds) or seconds < 0:
        return None
    return seconds  # may be huge or infinite: RetryPolicy refuses to wait that long
