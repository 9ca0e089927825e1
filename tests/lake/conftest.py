"""Rows shaped like Graph's (Microsoft's own example page), made on demand for lake tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "graph-sample-page.json"  # Microsoft's example page
DAY = datetime(2026, 3, 2, tzinfo=UTC)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def graph_rows(count: int, *, day: datetime = DAY, prefix: str = "row", failed_every: int = 5) -> list[dict]:
    """``count`` rows spread over ``day`` in start order; every ``failed_every``-th call failed."""
    sample = json.loads(FIXTURE.read_text())["value"][0]
    rows = []
    for i in range(count):
        start = day + timedelta(seconds=(i + 0.5) * 86400 / count)
        row = dict(
            sample,
            id=f"{prefix}-{i:07d}",
            startDateTime=_stamp(start),
            inviteDateTime=_stamp(start - timedelta(seconds=3)),
        )
        if i % failed_every == 0:
            row.update(
                successfulCall=False,
                failureDateTime=_stamp(start + timedelta(seconds=1)),
                endDateTime="0001-01-01T00:00:00Z",
                duration=0,
                finalSipCode=487,
            )
        else:
            row.update(endDateTime=_stamp(start + timedelta(seconds=60)), duration=60)
        rows.append(row)
    return rows


def pages_of(rows: list[dict], size: int = 1000) -> list[list[dict]]:
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


@pytest.fixture
def local_lake(tmp_path):
    import fsspec

    return fsspec.filesystem("file"), str(tmp_path / "lake")
