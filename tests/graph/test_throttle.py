"""The client-side request budget and retry timing, on a fake clock."""

from __future__ import annotations

import random

import pytest
from call_logs.graph.throttle import RateLimiter, RetryPolicy, parse_retry_after


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
