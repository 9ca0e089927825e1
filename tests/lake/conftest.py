"""Lake tests share the Graph-shaped row factory with the quality tests."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.rows import call_rows, pages_of

DAY = datetime(2026, 3, 2, tzinfo=UTC)


def graph_rows(count: int, *, day: datetime = DAY, prefix: str = "row", failed_every: int = 5) -> list[dict]:
    """``count`` rows spread over ``day`` in start order; every ``failed_every``-th call failed."""
    return call_rows(count, day=day.date(), prefix=prefix, failed_every=failed_every)


__all__ = ["DAY", "graph_rows", "pages_of"]
