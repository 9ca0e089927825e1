"""The partition manifest (``_manifest.json``): what was written, from what, and at what cost.

Written after the data file, so a manifest never describes a file that is not there; its ``file.sha256``
lets a reader (and the quality check) tell whether the manifest and the file belong together.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from call_logs.graph.client import PullStats
from call_logs.graph.window import format_utc
from call_logs.lake.layout import DATA_FILE
from call_logs.lake.schema import SCHEMA_VERSION, TABLE_NAME
from call_logs.lake.writer import BuiltPartition

MANIFEST_VERSION = 1


def build_manifest(
    *,
    day: date,
    start: datetime,
    end: datetime,
    built: BuiltPartition,
    pull: PullStats,
    api_version: str,
    run: dict[str, Any],
    started_at: datetime,
) -> dict[str, Any]:
    """The manifest document for a partition about to be committed."""
    return {
        "manifest_version": MANIFEST_VERSION,
        "table": TABLE_NAME,
        "call_date": day.isoformat(),
        "window": {"start": format_utc(start), "end": format_utc(end)},
        "schema_version": SCHEMA_VERSION,
        "api_version": api_version,
        "rows": built.rows,
        "file": {"name": DATA_FILE, "bytes": built.bytes, "sha256": built.sha256, "row_groups": built.row_groups},
        "source": {
            "rows_fetched": built.rows_fetched,
            "duplicates_dropped": built.duplicates_dropped,
            "out_of_window_dropped": built.out_of_window_dropped,
            # Per timestamp column: written rows whose source value was 0001-01-01 (now null).
            "sentinels": {name: int(count) for name, count in sorted(built.sentinels.items())},
            # Per timestamp column, over every fetched row (duplicates and out-of-window rows included).
            "sentinels_fetched": {name: int(n) for name, n in sorted(built.conversion.sentinels.items())},
            "unknown_fields": dict(sorted(built.conversion.unknown_fields.items())),
            "rows_per_hour": built.rows_per_hour,
        },
        "graph": pull.as_dict(),
        "run": run,
        "started_at": format_utc(started_at),
        "finished_at": format_utc(datetime.now(UTC)),
    }
