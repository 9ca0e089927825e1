"""One report's day from Graph into its sink: pull, prepare locally, stage, commit atomically.

Plain Python (no Airflow): the operator passes in a client, a sink and a run description. The unit of retry is
the whole day: a pull that fails on any page leaves the lake untouched.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any, TypedDict, Unpack

from call_logs import defaults
from call_logs.graph.client import GraphReportClient, PullStats
from call_logs.graph.parallel import iter_pages_concurrently, plan_slices
from call_logs.graph.window import Window
from call_logs.lake.manifest import Manifest
from call_logs.lake.prepare import BadRows, PreparedDay, prepare_day
from call_logs.lake.pseudonymise import Pseudonymiser
from call_logs.reports.spec import ADDITIONAL_PROPERTIES
from call_logs.sinks import ReportSink
from call_logs.sinks.base import replace_day
from call_logs.tables.partitioned import StagedDay
from call_logs.utc import day_window

log = logging.getLogger(__name__)


def retention_skip_reason(day: date, retention_days: int, today: date) -> str | None:
    """Why ``day`` must not be pulled (older than Graph keeps it), or None.

    Graph answers a window past its retention with an empty list, which would be indistinguishable from a day
    without calls: such a day is skipped, never written.
    """
    oldest = today - timedelta(days=retention_days)
    if day >= oldest:
        return None
    return (
        f"call_date={day} is older than the {retention_days}-day retention of Graph's call records "
        f"(oldest kept: {oldest}); Graph would answer with an empty day, so nothing is written."
    )


def nearby_profile(sink: ReportSink, day: date) -> list[int] | None:
    """Rows per hour of the nearest day with a manifest, up to ``defaults.PROFILE_LOOKBACK_DAYS`` away either side.

    The previous day is the usual source (the earlier one wins at equal distance); after a gap an older day, and in
    a backfill that runs backwards (``--run-backwards``) or out of order a later one, still knows the shape of a day
    far better than no profile at all (a first run).
    """
    for distance in range(1, defaults.PROFILE_LOOKBACK_DAYS + 1):
        for neighbour in (day - timedelta(days=distance), day + timedelta(days=distance)):
            manifest = sink.read_manifest(neighbour)
            if manifest is not None and manifest.source.rows_per_hour:
                return list(manifest.source.rows_per_hour)
    return None


class PullOptions(TypedDict, total=False):
    """How a day is pulled and prepared (``pull_day``'s keyword arguments, which ``extract_day`` passes on)."""

    run: dict[str, Any] | None
    concurrency: int
    expected_rows_per_hour: list[int] | None
    pseudonymiser: Pseudonymiser | None
    bad_rows: BadRows
    tenant: dict[str, str] | None
    time_zone: str | None


def extract_day(client: GraphReportClient, sink: ReportSink, day: date, **options: Unpack[PullOptions]) -> Manifest:
    """Pull ``[day, day + 1)`` UTC of the sink's report and replace the day in the sink; returns its manifest.

    ``options`` are ``pull_day``'s: ``concurrency`` sub-windows are paged side by side under the client's one rate
    limiter (1 = sequential); they follow the hourly volume of the nearest day with a manifest (``nearby_profile``)
    so that each holds about the same number of rows and a small day is not split into many partly filled pages;
    without one (a first run) ``plan_slices`` assumes a working day. ``expected_rows_per_hour`` overrides that
    profile (benchmarks plan from a known one). With a ``pseudonymiser`` its columns are written as tokens (raw
    values never reach a spill file, the lake or a log). ``bad_rows`` (``fail`` or ``quarantine``) says what a row
    that does not convert does (``lake/prepare.py``). ``tenant`` (slug and Entra tenant id) is recorded in the
    manifest of a tenant's day; its ``time_zone`` (IANA) shapes a first run's slices by its local working day.
    """

    def write(prepared: PreparedDay, facts_for: Callable[[StagedDay], Manifest]) -> Manifest:
        return replace_day(sink, day, prepared, facts_for)

    manifest = pull_day(client, sink, day, write, **options)
    assert manifest is not None  # replace_day always commits
    return manifest


WriteDay = Callable[[PreparedDay, Callable[[StagedDay], Manifest]], Manifest | None]
"""Stores a prepared day given how to describe it once staged (``replace_day``); None when it kept the stored one."""


def pull_day(
    client: GraphReportClient,
    sink: ReportSink,
    day: date,
    write: WriteDay,
    *,
    run: dict[str, Any] | None = None,
    concurrency: int = defaults.GRAPH_CONCURRENCY,
    expected_rows_per_hour: list[int] | None = None,
    pseudonymiser: Pseudonymiser | None = None,
    bad_rows: BadRows = "fail",
    tenant: dict[str, str] | None = None,
    time_zone: str | None = None,
) -> Manifest | None:
    """Pull the day from Graph, prepare it locally and hand it to ``write`` (the options: ``extract_day``); returns
    the manifest ``write`` committed, None when it kept the stored day (a re-check that found no change)."""
    spec = sink.spec
    started_at = datetime.now(UTC)
    start, end = day_window(day)
    if expected_rows_per_hour is None:
        expected_rows_per_hour = nearby_profile(sink, day)
    stats = PullStats()
    with tempfile.TemporaryDirectory(prefix="call-logs-spill-") as workdir:
        slices = plan_slices(Window(start, end), concurrency, expected_rows_per_hour, tz=time_zone)
        pages = iter_pages_concurrently(client, slices, stats, concurrency=concurrency)
        prepared = prepare_day(pages, spec, start, end, workdir, pseudonymiser=pseudonymiser, bad_rows=bad_rows)
        for name, count in prepared.conversion.unknown_fields.items():
            log.warning(
                "Graph sent a property the schema does not know, %r, in %d rows; it is kept in %s",
                name,
                count,
                ADDITIONAL_PROPERTIES if ADDITIONAL_PROPERTIES in spec.schema.names else "no column (dropped)",
            )
        manifest = write(
            prepared,
            lambda staged: Manifest.for_day(
                prepared,
                day=day,
                staged=staged,
                pull=stats.as_dict(),
                api_version=client.api_version,
                run=run or {},
                started_at=started_at,
                tenant=tenant,
            ),
        )
    if manifest is None:
        log.info(
            "%s is unchanged: %d rows pulled again in %d pages, %d requests; nothing was written",
            sink.location(day),
            prepared.rows,
            stats.pages,
            stats.requests,
        )
        return None
    log.info(
        "Committed %s: %d rows (%d fetched, %d duplicates and %d out-of-window dropped, %d quarantined) in %d "
        "pages, %d requests",
        sink.location(day),
        manifest.rows,
        manifest.source.rows_fetched,
        manifest.source.duplicates_dropped,
        manifest.source.out_of_window_dropped,
        manifest.source.quarantined,
        stats.pages,
        stats.requests,
    )
    if manifest.source.quarantined:
        log.warning(
            "%d rows Graph sent could not become rows of the day (%s); they are in %s",
            manifest.source.quarantined,
            ", ".join(f"{reason}: {n}" for reason, n in manifest.source.quarantine_reasons.items()),
            sink.quarantine_location(day),
        )
    return manifest
