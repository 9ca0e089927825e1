"""What every task of the pipeline needs from an Airflow run: its day, its identity, and the lake it writes to."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException

from call_logs.lake.pseudonymise import Pseudonymiser, parse_columns
from call_logs.reports import report
from call_logs.sinks import open_sink
from call_logs.sinks.base import Sink


def quiet_azure_sdk() -> None:
    """The Azure SDK logs every HTTP request at INFO; a day's upload would drown the task log."""
    logging.getLogger("azure").setLevel(logging.WARNING)


def run_day(context: Context) -> date:
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


def run_info(context: Context) -> dict[str, Any]:
    """Which Airflow run wrote a day: recorded in its manifest."""
    ti = context.get("ti")
    return {
        "dag_id": getattr(ti, "dag_id", None),
        "run_id": context.get("run_id"),
        "task_id": getattr(ti, "task_id", None),
        "try_number": getattr(ti, "try_number", None),
    }


def lake_sink(report_name: str, lake_root: str, table_format: str) -> Sink:
    """The sink of a report's table under an ObjectStoragePath URL (``file:///…``, ``abfs://<conn>@<container>/…``)."""
    from airflow.sdk import ObjectStoragePath

    try:
        spec = report(report_name)
        root = ObjectStoragePath(lake_root)
        return open_sink(table_format, root.fs, root.path.rstrip("/"), spec, lake_root=lake_root)
    except ValueError as error:
        raise AirflowFailException(str(error)) from None


def pseudonymiser_for(columns: str | None, conn_id: str) -> Pseudonymiser | None:
    """The pseudonymiser of a comma-separated column list (None when it is empty), its key the password of the
    Airflow connection ``conn_id`` (so it lives in a secrets backend, never in a Variable).

    A list without a usable key fails the task with one sentence, before any request and before anything is
    written. The key is registered with Airflow's log masker and never logged, stored or passed on.
    """
    from call_logs.config import PSEUDONYMISED_COLUMNS

    names = parse_columns(columns)
    if not names:
        return None
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowNotFoundException

    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        conn = None
    key = conn.password if conn is not None else None
    if not key:
        where = "there is no Airflow connection" if conn is None else "there is no password in the Airflow connection"
        raise AirflowFailException(
            f"The Variable {PSEUDONYMISED_COLUMNS} asks to pseudonymise {', '.join(names)}, but {where} "
            f"'{conn_id}' whose password is the key; create it (in your secrets backend) or empty the Variable."
        )
    try:
        from airflow.sdk.log import mask_secret

        mask_secret(key)
    except ImportError:  # pragma: no cover - the task SDK always has it
        pass
    return Pseudonymiser(key, names)
