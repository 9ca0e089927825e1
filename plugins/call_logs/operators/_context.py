"""What every task of the pipeline needs from an Airflow run: its day, and the lake it writes to."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from airflow.sdk.exceptions import AirflowFailException


def quiet_azure_sdk() -> None:
    """The Azure SDK logs every HTTP request at INFO; a day's upload would drown the task log."""
    logging.getLogger("azure").setLevel(logging.WARNING)


def run_day(context: dict[str, Any]) -> date:
    """The UTC day ``[D, D+1)`` this run covers, from its data interval (never from the clock)."""
    start: datetime | None = context.get("data_interval_start")
    end: datetime | None = context.get("data_interval_end")
    if start is None or end is None:
        raise AirflowFailException(
            "This run has no data interval (it was triggered without a logical date); trigger it with a logical "
            "date or use `airflow backfill create` so it knows which day to pull."
        )
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    if start.time() != time(0) or end - start != timedelta(days=1):
        raise AirflowFailException(
            f"This run's data interval [{start.isoformat()}, {end.isoformat()}) is not one UTC day; schedule the DAG "
            "with CronDataIntervalTimetable('@daily', timezone='UTC')."
        )
    return start.date()


def lake_location(lake_root: str):
    """(fsspec filesystem, root path) of an ObjectStoragePath URL: ``file:///…`` or ``abfs://<conn>@<container>/…``."""
    from airflow.sdk import ObjectStoragePath

    root = ObjectStoragePath(lake_root)
    return root.fs, root.path.rstrip("/")
