"""Hand Graph's rolling request budget from one pull to the next, across processes and machines.

Graph counts requests per collection over a rolling 60 s, whoever sends them. Pulls are serialized (one
pool slot), but a pull that starts right after another would, with a fresh limiter, spend a budget the
previous one had already used. The ledger records the send times still inside the window when a pull
ends, and the next pull preloads them. A pull that died without closing the ledger is assumed to have
spent the whole budget just now: the next one waits one window rather than risk a burst of 429s.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from call_logs.graph.throttle import RateLimiter

log = logging.getLogger(__name__)


class LedgerStore(Protocol):
    """Somewhere every worker can read and write one small JSON document (an Airflow Variable)."""

    def load(self) -> dict[str, Any] | None: ...

    def save(self, document: dict[str, Any]) -> None: ...


@contextmanager
def budget_handover(limiter: RateLimiter, store: LedgerStore, owner: str) -> Iterator[None]:
    """Preload ``limiter`` with the previous pull's recent requests; record this pull's when it ends."""
    previous = store.load() or {}
    now = time.time()
    if previous.get("open"):
        log.warning(
            "The previous Graph pull (%s) did not close the request ledger; assuming it spent the whole budget "
            "just now",
            previous.get("owner"),
        )
        limiter.preload([now] * limiter.max_requests)
    else:
        limiter.preload([t for t in previous.get("sent", []) if now - t < limiter.window_s])
    store.save({"open": True, "owner": owner, "updated_at": now, "sent": []})
    try:
        yield
    finally:
        store.save({"open": False, "owner": owner, "updated_at": time.time(), "sent": limiter.sent_times()})
