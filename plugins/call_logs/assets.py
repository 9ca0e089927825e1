"""What consumers see of the lake in Airflow: one asset event per committed day, keyed by the day.

Each table has two assets:
- ``<table>``: the extract task committed the day (quality not known yet);
- ``<table>_checked``: the quality task passed the day (status ``pass`` or ``warn``). Downstream tables schedule
  on this one, so a day whose checks failed never reaches them.

Every event's partition key is the day (``YYYY-MM-DD``, ``PARTITION_KEY_FORMAT``), or in a lake of many tenants
the tenant and the day (``<slug>|YYYY-MM-DD``: Airflow's ``ProductMapper`` splits keys on ``|``), added at run time with
``outlet_events[asset].add_partitions`` (the DAGs keep ``CronDataIntervalTimetable``: backfills and the settle wait
need the run's data interval, which a ``CronPartitionTimetable`` run does not have). Its ``extra`` says what a
consumer needs without reading the data: rows, pages, the file's sha256 and size, the table format, where the day
lives, and the quality status. Plain Python: the operators attach these documents to the events.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from call_logs.lake.manifest import Manifest

PARTITION_KEY_FORMAT = "%Y-%m-%d"
MONTH_KEY_FORMAT = "%Y-%m"
CHECKED_SUFFIX = "_checked"
TENANT_SEPARATOR = "|"


def checked_asset_name(table: str) -> str:
    """The asset whose events say that a day of ``table`` passed its quality checks."""
    return f"{table}{CHECKED_SUFFIX}"


def partition_key(day: date, tenant: str | None = None, key_format: str = PARTITION_KEY_FORMAT) -> str:
    """``YYYY-MM-DD`` (``key_format``), or ``<slug>|YYYY-MM-DD`` for a tenant's partition."""
    key = day.strftime(key_format)
    return key if tenant is None else f"{tenant}{TENANT_SEPARATOR}{key}"


def split_tenant(key: str) -> tuple[str | None, str]:
    """(tenant slug or None, the rest) of a partition key."""
    tenant, separator, rest = key.rpartition(TENANT_SEPARATOR)
    return (tenant, rest) if separator else (None, key)


def day_of_partition_key(key: str) -> date:
    """The day of a ``YYYY-MM-DD`` partition key; one sentence naming the key otherwise."""
    try:
        return datetime.strptime(key, PARTITION_KEY_FORMAT).date()
    except (TypeError, ValueError):
        raise ValueError(f"The partition key {key!r} is not a day (YYYY-MM-DD).") from None


def month_of_partition_key(key: str) -> date:
    """The first day of a ``YYYY-MM`` partition key (the monthly rollup's)."""
    try:
        return datetime.strptime(key, MONTH_KEY_FORMAT).date()
    except (TypeError, ValueError):
        raise ValueError(f"The partition key {key!r} is not a month (YYYY-MM).") from None


def partition_url(lake_root: str, table: str, partition_column: str, day: date, tenant: str | None = None) -> str:
    """Where a day lives, as a URL under the lake root the task was given (``file:///…``, ``abfs://…``)."""
    tenant_level = "" if tenant is None else f"tenant={tenant}/"
    return f"{lake_root.rstrip('/')}/{table}/{tenant_level}{partition_column}={day.isoformat()}"


def committed_day_extra(
    *,
    table: str,
    table_format: str,
    location: str,
    day: date,
    manifest: Manifest,
    table_version: int | None = None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """The ``extra`` of the event the extract task emits for a committed day (``table_version``: Delta's)."""
    return {
        "table": table,
        **({"tenant": tenant} if tenant is not None else {}),
        "partition_key": partition_key(day, tenant),
        "rows": manifest.rows,
        "pages": int(manifest.graph.get("pages", 0)),
        "sha256": manifest.file.sha256,
        "bytes": manifest.file.bytes,
        "schema_version": manifest.schema_version,
        "table_format": table_format,
        "table_version": table_version,
        "location": location,
        "quality_status": "unchecked",
    }


def checked_day_extra(
    *,
    table: str,
    table_format: str,
    location: str,
    day: date,
    quality: dict[str, Any],
    manifest: Manifest | None,
    tenant: str | None = None,
) -> dict[str, Any]:
    """The ``extra`` of the event the quality task emits for a day that passed (``quality`` is its ``_dq.json``)."""
    checked_file = quality.get("file") or {}
    return {
        "table": table,
        **({"tenant": tenant} if tenant is not None else {}),
        "partition_key": partition_key(day, tenant),
        "rows": checked_file.get("rows"),
        "pages": int(manifest.graph.get("pages", 0)) if manifest is not None else None,
        "sha256": checked_file.get("sha256"),
        "bytes": checked_file.get("bytes"),
        "schema_version": manifest.schema_version if manifest is not None else None,
        "table_format": table_format,
        "location": location,
        "quality_status": quality.get("status"),
        "quality_counts": quality.get("counts"),
        "warnings": [c["name"] for c in quality.get("checks", []) if c["status"] == "fail"],
    }
