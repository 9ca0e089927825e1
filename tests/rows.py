"""Rows shaped like Graph's (Microsoft's own example page), made on demand for lake and quality tests."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from pathlib import Path

from call_logs.graph.client import PullStats
from call_logs.lake.manifest import Manifest
from call_logs.lake.prepare import prepare_day
from call_logs.sinks.base import replace_day
from call_logs.utc import day_window

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "graph-sample-page.json"  # Microsoft's example page
DAY = date(2024, 1, 2)
SENTINEL = "0001-01-01T00:00:00Z"


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def call_rows(count: int, *, day: date = DAY, prefix: str = "call", failed_every: int = 4) -> list[dict]:
    """``count`` Graph rows spread over ``day``; every ``failed_every``-th call failed.

    As Graph sends them: successful calls carry the ``0001-01-01`` sentinel in ``failureDateTime`` and a
    real ``endDateTime``; failed calls the reverse.
    """
    sample = json.loads(FIXTURE.read_text())["value"][0]
    start_of_day, _ = day_window(day)
    rows = []
    for i in range(count):
        start = start_of_day + timedelta(seconds=(i + 0.5) * 86400 / max(count, 1))
        row = dict(
            sample,
            id=f"{prefix}-{i:06d}",
            startDateTime=_stamp(start),
            inviteDateTime=_stamp(start - timedelta(seconds=3)),
        )
        if i % failed_every == 0:
            row.update(
                successfulCall=False,
                failureDateTime=_stamp(start + timedelta(seconds=1)),
                endDateTime=SENTINEL,
                duration=0,
                finalSipCode=487,
                finalSipCodePhrase="Request Terminated",
            )
        else:
            row.update(failureDateTime=SENTINEL, endDateTime=_stamp(start + timedelta(seconds=60)), duration=60)
        rows.append(row)
    return rows


def pages_of(rows: list[dict], size: int = 1000) -> list[list[dict]]:
    """Rows cut into Graph pages; an empty day is one empty page."""
    return [rows[i : i + size] for i in range(0, len(rows), size)] or [[]]


def commit_rows(
    sink,
    day: date,
    pages: list[list[dict]],
    *,
    run: dict | None = None,
    pseudonymiser=None,
    before_commit=None,
    bad_rows="fail",
):
    """Prepare Graph pages through the real pipeline code and commit them with ``sink``; returns the manifest.

    ``before_commit`` is called once the day is staged, just before its commit (concurrency tests meet there).
    """
    import tempfile
    from datetime import UTC

    start, end = day_window(day)
    with tempfile.TemporaryDirectory() as workdir:
        prepared = prepare_day(pages, sink.spec, start, end, workdir, pseudonymiser=pseudonymiser, bad_rows=bad_rows)

        def facts(staged):
            if before_commit is not None:
                before_commit()
            return Manifest.for_day(
                prepared,
                day=day,
                staged=staged,
                pull=PullStats().as_dict(),
                api_version="v1.0",
                run=run if run is not None else {"test": True},
                started_at=datetime.now(UTC),
            )

        return replace_day(sink, day, prepared, facts)
