"""The client-side request budget and retry timing, on a fake clock."""

from __future__ import annotations

import random

import pytest
from call_logs.graph.errors import GraphDeadlineError, GraphRetryAfterTooLongError, GraphUnavailableError
from call_logs.graph.throttle import MAX_RETRY_AFTER_S, RateLimiter, RetryPolicy, parse_retry_after


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_limiter_never_allows_more_than_the_budget_in_any_window():
    clock = FakeClock()
    limiter = RateLimiter(5, 10.0, clock=clock, sleep=clock.sleep)
    sent = []
    for _ in range(23):
        limiter.acquire()
        sent.append(clock.now)
    for i, t in enumerate(sent):
        assert sum(1 for u in sent if t <= u < t + 10.0) <= 5, f"window starting at request {i}"
    assert sent[5] == pytest.approx(10.25)  # the sixth waits for the first to leave the window (+ jitter guard)


def over_budget(arrivals: list[float], budget: int, window_s: float) -> list[float]:
    """Window starts at which Graph (counting arrivals) would see more than ``budget`` requests."""
    return [t for t in arrivals if sum(1 for u in arrivals if t <= u < t + window_s) > budget]


@pytest.mark.parametrize("counted_from", ["answer", "slot"])
def test_a_slot_counts_from_the_answer_so_a_delayed_request_cannot_overfill_graphs_window(counted_from):
    # One request takes its slot at 0 s but reaches Graph only at 2 s (a new TLS connection, a descheduled
    # thread): far more than the jitter guard. Four others go at once, then the pull continues.
    clock = FakeClock()
    limiter = RateLimiter(5, 10.0, clock=clock, sleep=clock.sleep)
    arrivals: list[float] = []
    if counted_from == "answer":
        delayed = limiter.slot()
        delayed.__enter__()
    else:
        limiter.acquire()
    for _ in range(4):
        with limiter.slot():
            arrivals.append(clock.now)
            clock.now += 0.1
    clock.now = 2.0
    arrivals.append(clock.now)  # the delayed request arrives, and is answered
    if counted_from == "answer":
        delayed.__exit__(None, None, None)
    for _ in range(10):
        with limiter.slot():
            arrivals.append(clock.now)
            clock.now += 0.1
    if counted_from == "answer":  # the limit can be Graph's own budget
        assert over_budget(arrivals, 5, 10.0) == []
        assert arrivals[5] == pytest.approx(0.1 + 10.25)  # the first answer (at 0.1 s) left the window
        assert arrivals[9] == pytest.approx(2.0 + 10.25)  # the delayed request's slot counted from its answer
    else:  # counted from the slot, as before: Graph would have refused the sixth
        assert over_budget(arrivals, 5, 10.0) != []


def test_pause_holds_back_every_caller():
    clock = FakeClock()
    limiter = RateLimiter(100, 60.0, clock=clock, sleep=clock.sleep)
    limiter.pause_for(2.128)
    assert limiter.acquire() == pytest.approx(2.128)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("2.128", 2.128),
        ("3", 3.0),
        (" 0 ", 0.0),
        (None, None),
        ("", None),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("-1", None),
        ("nan", None),
        ("86400", 86400.0),  # parsed as sent: RetryPolicy decides it is too long
        ("inf", float("inf")),
    ],
)
def test_retry_after_parsing(header, seconds):
    assert parse_retry_after(header) == seconds


def test_retry_after_wins_over_backoff_and_backoff_is_capped_with_jitter():
    policy = RetryPolicy(backoff_base_s=1.0, backoff_cap_s=8.0, rng=random.Random(1))
    assert policy.delay(5, 2.128) == 2.128
    delays = [policy.delay(attempt, None) for attempt in range(1, 8)]
    assert all(0.5 * min(8.0, 2 ** (a - 1)) <= d <= min(8.0, 2 ** (a - 1)) for a, d in enumerate(delays, start=1))
    assert max(delays) <= 8.0


def test_a_retry_after_above_the_cap_fails_the_try_instead_of_waiting():
    policy = RetryPolicy()
    assert MAX_RETRY_AFTER_S == 120.0
    assert policy.wait_before_retry(1, MAX_RETRY_AFTER_S, 0.0, "HTTP 429") == MAX_RETRY_AFTER_S
    for bogus in (MAX_RETRY_AFTER_S + 0.001, 86400.0, float("inf")):
        with pytest.raises(GraphRetryAfterTooLongError, match=r"longer than the 120 s one pull waits") as caught:
            policy.wait_before_retry(1, bogus, 0.0, "HTTP 429")
        message = str(caught.value)
        assert message.endswith(".") and ". " not in message and "Airflow retries the task later" in message
        assert isinstance(caught.value, GraphUnavailableError)  # a later try may pass


def test_giving_up_on_attempts_or_total_wait():
    policy = RetryPolicy(max_attempts=3, max_total_wait_s=10.0)
    assert policy.wait_before_retry(2, 4.0, 5.0, "HTTP 503") == 4.0
    with pytest.raises(GraphUnavailableError, match=r"after 3 attempts"):
        policy.wait_before_retry(3, 0.1, 0.0, "HTTP 503")
    with pytest.raises(GraphUnavailableError, match=r"after 2 attempts and 8 s of waiting"):
        policy.wait_before_retry(2, 4.0, 8.0, "HTTP 503")


def test_no_retry_wait_may_end_after_the_deadline():
    clock = FakeClock()
    clock.now = 1000.0
    policy = RetryPolicy(deadline=1010.0, clock=clock)
    assert policy.wait_before_retry(1, 9.5, 0.0, "HTTP 503") == 9.5
    with pytest.raises(GraphDeadlineError, match=r"Waiting 10\.5 s more for Graph \(HTTP 503\).*\(10\.0 s left\)"):
        policy.wait_before_retry(1, 10.5, 0.0, "HTTP 503")
    clock.now = 1009.0  # backoff (no Retry-After) is bounded the same way
    with pytest.raises(GraphDeadlineError, match="execution_timeout"):
        RetryPolicy(deadline=1010.0, clock=clock, backoff_base_s=4.0, backoff_cap_s=4.0).wait_before_retry(
            1, None, 0.0, "ConnectionError"
        )


def test_the_limiter_never_waits_past_the_deadline():
    clock = FakeClock()
    limiter = RateLimiter(2, 60.0, clock=clock, sleep=clock.sleep)
    limiter.acquire(deadline=30.0)
    limiter.acquire(deadline=30.0)
    with pytest.raises(GraphDeadlineError, match="request budget"):
        limiter.acquire(deadline=30.0)  # the next slot frees at 61.2 s
    assert clock.now == 0.0  # refused before sleeping
    limiter.pause_for(5.0)  # a 429's Retry-After holds everyone: bounded the same way
    with pytest.raises(GraphDeadlineError):
        limiter.acquire(deadline=4.0)
    assert limiter.acquire(deadline=100.0) == pytest.approx(61.2)  # 60 s + the jitter guard


class MemoryStore:
    def __init__(self, document=None):
        self.document = document

    def load(self):
        return self.document

    def save(self, document):
        self.document = document


def test_the_ledger_hands_recent_requests_to_the_next_pull():
    import time as real_time

    from call_logs.graph.ledger import budget_handover

    store = MemoryStore()
    first = RateLimiter(5, 60.0)
    with budget_handover(first, store, "run-1"):
        assert store.document["open"] is True
        for _ in range(3):
            first.acquire()
    assert store.document["open"] is False and len(store.document["sent"]) == 3
    second = RateLimiter(5, 60.0)
    with budget_handover(second, store, "run-2"):
        assert len(second.sent_times()) == 3  # only two requests left in this window
    store.document["sent"] = [real_time.time() - 120]  # older than the window: forgotten
    third = RateLimiter(5, 60.0)
    with budget_handover(third, store, "run-3"):
        assert third.sent_times() == []


def test_a_pull_that_died_without_closing_the_ledger_costs_a_full_window():
    from call_logs.graph.ledger import budget_handover

    store = MemoryStore({"open": True, "owner": "killed-run", "sent": []})
    limiter = RateLimiter(4, 60.0)
    with budget_handover(limiter, store, "next-run"):
        assert len(limiter.sent_times()) == 4


def test_the_ledger_is_closed_even_when_the_pull_fails():
    from call_logs.graph.ledger import budget_handover

    store = MemoryStore()
    with pytest.raises(RuntimeError), budget_handover(RateLimiter(4, 60.0), store, "run"):
        raise RuntimeError("page 3 failed")
    assert store.document["open"] is False
