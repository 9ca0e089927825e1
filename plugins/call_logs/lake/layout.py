"""Where a day lives in the lake: ``<root>/direct_routing_calls/call_date=YYYY-MM-DD/``.

Readers (Spark, DuckDB globs, pyarrow datasets) ignore names starting with ``_`` or ``.``, so only
``part-0.parquet`` is data; the manifest and the quality report sit beside it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from call_logs.lake.schema import PARTITION_KEY, TABLE_NAME

DATA_FILE = "part-0.parquet"
MANIFEST_FILE = "_manifest.json"
QUALITY_FILE = "_dq.json"
TEMP_SUFFIX = ".inprogress"


def table_path(root: str) -> str:
    return f"{root.rstrip('/')}/{TABLE_NAME}"


def partition_path(root: str, day: date) -> str:
    return f"{table_path(root)}/{PARTITION_KEY}={day.isoformat()}"


def day_of_partition(name: str) -> date | None:
    """The date of a ``call_date=YYYY-MM-DD`` folder name, or None for anything else."""
    prefix = f"{PARTITION_KEY}="
    base = name.rstrip("/").rsplit("/", 1)[-1]
    if not base.startswith(prefix):
        return None
    try:
        return date.fromisoformat(base[len(prefix) :])
    except ValueError:
        return None


def day_window(day: date) -> tuple[datetime, datetime]:
    """The UTC window ``[day, day + 1)`` a partition holds."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)
