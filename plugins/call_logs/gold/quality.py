"""Quality checks of gold partitions, read back through their sink; the report is stored beside them (``_dq.json``).

Every check is an error (a gold day is recomputed, never patched): the daily trunk-health checks tie the day to
the source day it claims to summarise (calls add up to its rows, computed from its current file), and bound what a
row may say (one row per trunk, counts within calls, rates in [0, 1]); the monthly ones require every day of the
month and the calls of those days.
"""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.gold.store import GoldManifest, GoldSink, read_day, read_manifest
from call_logs.gold.table import TRUNK
from call_logs.graph.window import format_utc
from call_logs.quality.results import CheckResult, Outcome
from call_logs.sinks.base import Sink

RATES = ("success_rate", "answer_seizure_ratio", "media_bypass_share")
WITHIN_CALLS = ("successful_calls", "answered_calls", "media_bypass_calls")


def _result(name: str, outcome: Outcome) -> CheckResult:
    return CheckResult(
        name, "error", "pass" if outcome.ok else "fail", outcome.observed, outcome.expected, outcome.message
    )


def _document(partition: date, manifest: GoldManifest | None, results: list[CheckResult]) -> dict[str, Any]:
    errors = [r for r in results if r.failed]
    return {
        "partition": partition.isoformat(),
        "checked_at": format_utc(datetime.now(UTC)),
        "file": {
            "sha256": manifest.file.sha256 if manifest else None,
            "bytes": manifest.file.bytes if manifest else None,
            "rows": manifest.rows if manifest else None,
        },
        "status": "fail" if errors else "pass",
        "counts": {"errors": len(errors), "warnings": 0},
        "checks": [r.to_dict() for r in results],
    }


def _stored(gold: GoldSink, day: date) -> tuple[GoldManifest | None, pa.Table | None, list[CheckResult]]:
    """The gold day's manifest and rows, and the check that they belong together."""
    manifest = read_manifest(gold, day)
    with gold.open_day(day) as stored:
        sha256 = stored.fingerprint.get("sha256")
        rows = None
        if stored.data is not None:
            rows = pa.Table.from_batches(
                list(stored.data.iter_batches(list(gold.spec.column_names), 65_536)), schema=gold.spec.schema
            )
    ok = manifest is not None and rows is not None and manifest.file.sha256 == sha256 and manifest.rows == len(rows)
    found = {"manifest_sha256": manifest.file.sha256 if manifest else None, "file_sha256": sha256}
    message = "The file is the one its manifest describes." if ok else "The file and its manifest do not match."
    return manifest, rows, [_result("file_matches_manifest", Outcome(ok, found, "the same sha256 and rows", message))]


def _unique_trunks(rows: pa.Table) -> CheckResult:
    trunks = rows[TRUNK]
    ok = len(pc.unique(trunks)) == len(trunks)
    message = "One row per trunk." if ok else "A trunk has more than one row."
    return _result("one_row_per_trunk", Outcome(ok, len(trunks) - len(pc.unique(trunks)), 0, message))


def _bounded(rows: pa.Table) -> list[CheckResult]:
    over = {c: _count(pc.greater(rows[c], rows["calls"])) for c in WITHIN_CALLS}
    outside = {c: _count(pc.or_(pc.less(rows[c], 0.0), pc.greater(rows[c], 1.0))) for c in RATES}
    results = [
        _result(
            "counts_within_calls",
            Outcome(not any(over.values()), over, "0 rows", "Counts exceed calls." if any(over.values()) else "OK."),
        ),
        _result(
            "rates_in_unit_interval",
            Outcome(
                not any(outside.values()),
                outside,
                "0 rows",
                "Rates outside [0, 1]." if any(outside.values()) else "Every rate is in [0, 1].",
            ),
        ),
    ]
    return results


def _count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() or 0)


def _sum(rows: pa.Table, column: str) -> int:
    return int(pc.sum(rows[column]).as_py() or 0)


def _locations_add_up(rows: pa.Table) -> CheckResult:
    calls = rows["calls"].to_pylist()
    located = {
        column: all(
            sum(item["calls"] for item in row) == n for row, n in zip(rows[column].to_pylist(), calls, strict=True)
        )
        for column in ("calls_by_signaling_location", "calls_by_media_location")
    }
    ok = all(located.values())
    message = "Every location list adds up to calls." if ok else "A location list does not add up to calls."
    return _result("locations_add_up_to_calls", Outcome(ok, located, "every list sums to calls", message))


def check_trunk_health_day(gold: GoldSink, source: Sink, day: date) -> dict[str, Any]:
    """The ``_dq.json`` document of a trunk-health day, checked against the source day as it is now."""
    manifest, rows, results = _stored(gold, day)
    source_manifest = source.read_manifest(day)
    if rows is not None:
        results += [_unique_trunks(rows), *_bounded(rows), _locations_add_up(rows)]
        expected = source_manifest.rows if source_manifest else None
        total = _sum(rows, "calls")
        message = f"The trunks' calls add up to {total:,}; the source day has {expected} rows."
        results.append(_result("calls_match_source_rows", Outcome(total == expected, total, expected, message)))
    used = manifest.sources[0].sha256 if manifest and manifest.sources else None
    current = source_manifest.file.sha256 if source_manifest else None
    fresh = used is not None and used == current
    message = "Computed from the source day's current file." if fresh else "The source day changed: recompute."
    results.append(_result("computed_from_current_source", Outcome(fresh, used, current, message)))
    return _document(day, manifest, results)


def days_of_month(month: date) -> list[date]:
    first = month.replace(day=1)
    return [first + timedelta(days=i) for i in range(calendar.monthrange(first.year, first.month)[1])]


def check_month(monthly: GoldSink, daily: GoldSink, month: date) -> dict[str, Any]:
    """The ``_dq.json`` document of a monthly rollup: every day present, and the days' calls add up."""
    month = month.replace(day=1)
    manifest, rows, results = _stored(monthly, month)
    days = days_of_month(month)
    covered = {s.partition for s in manifest.sources} if manifest else set()
    missing = [d.isoformat() for d in days if d not in covered]
    message = f"Missing days: {missing}." if missing else "Every day of the month."
    results.append(_result("every_day_of_the_month", Outcome(not missing, missing, [], message)))
    if rows is not None:
        results += [_unique_trunks(rows), *_bounded(rows)]
        day_tables = [read_day(daily, d) for d in days]
        expected = sum(_sum(t, "calls") for t in day_tables if t is not None)
        total = _sum(rows, "calls")
        message = f"{total:,} calls in the month, {expected:,} in its days."
        results.append(_result("calls_match_days", Outcome(total == expected, total, expected, message)))
    return _document(month, manifest, results)
