"""One day of call logs from Graph into the lake: pull, build locally, commit atomically.

Plain Python (no Airflow): the operator passes in a client, a filesystem and a run description.
The unit of retry is the whole day: a pull that fails on any page leaves the lake untouched.
"""

from __future__ import annotations

import logging
import tempfile
from datetime import UTC, date, datetime
from typing import Any

from fsspec import AbstractFileSystem

from call_logs.graph.client import DirectRoutingCallsClient, PullStats
from call_logs.graph.parallel import DEFAULT_CONCURRENCY, iter_pages_concurrently, plan_slices
from call_logs.graph.window import Window
from call_logs.lake.layout import day_window
from call_logs.lake.manifest import build_manifest
from call_logs.lake.partition import commit_partition
from call_logs.lake.writer import build_partition_file

log = logging.getLogger(__name__)


def extract_day(
    client: DirectRoutingCallsClient,
    day: date,
    fs: AbstractFileSystem,
    root: str,
    *,
    run: dict[str, Any] | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    expected_rows_per_hour: list[int] | None = None,
) -> dict[str, Any]:
    """Pull ``[day, day + 1)`` UTC and replace the day's partition; returns the committed manifest.

    ``concurrency`` sub-windows are paged side by side under the client's one rate limiter (1 = sequential);
    the slices follow ``expected_rows_per_hour`` (the previous day's, from its manifest) so that each holds
    about the same number of rows and a small day is not split into many partly filled pages.
    """
    started_at = datetime.now(UTC)
    start, end = day_window(day)
    stats = PullStats()
    with tempfile.TemporaryDirectory(prefix="direct-routing-") as workdir:
        slices = plan_slices(Window(start, end), concurrency, expected_rows_per_hour)
        pages = iter_pages_concurrently(client, slices, stats, concurrency=concurrency)
        built = build_partition_file(pages, start, end, workdir)
        for name, count in built.conversion.unknown_fields.items():
            log.warning("Graph sent an unknown property %r in %d rows; it was dropped (schema unchanged)", name, count)
        manifest = build_manifest(
            day=day,
            start=start,
            end=end,
            built=built,
            pull=stats,
            api_version=client.api_version,
            run=run or {},
            started_at=started_at,
        )
        folder = commit_partition(fs, root, day, built, manifest)
    log.info(
        "Committed %s: %d rows (%d fetched, %d duplicates and %d out-of-window dropped) in %d pages, %d requests",
        folder,
        built.rows,
        built.rows_fetched,
        built.duplicates_dropped,
        built.out_of_window_dropped,
        stats.pages,
        stats.requests,
    )
    return manifest
