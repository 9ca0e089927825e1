"""What every task of the pipeline needs from an Airflow run: its day, its identity, the lake it writes to, the
pseudonymisation key, and one rule for what its errors become (``failures.to_airflow``)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from airflow.sdk import BaseHook, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException
from airflow.sdk.log import mask_secret

from call_logs.config import PSEUDONYMISED_COLUMNS
from call_logs.failures import to_airflow
from call_logs.hooks.lake import open_lake
from call_logs.lake.pseudonymise import Pseudonymiser, parse_columns, tenant_key
from call_logs.reports import report
from call_logs.sinks import ReportSink, open_report


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


@contextmanager
def airflow_errors() -> Iterator[None]:
    """Raise what ``call_logs/failures.py`` makes of any error: fail at once (same sentence) unless a retry can help."""
    try:
        yield
    except Exception as error:
        raise to_airflow(error) from None


def report_sink(report_name: str, lake_root: str, table_format: str, tenant: str | None = None) -> ReportSink:
    """The sink of a report's table (of one tenant's days, with ``tenant``) under an ObjectStoragePath URL
    (``file:///…``, ``abfs://<conn>@<container>/…``)."""
    return open_report(table_format, open_lake(lake_root), report(report_name), tenant=tenant)


def _password(conn_id: str) -> tuple[bool, str | None]:
    """(the connection exists, its password)."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        return False, None
    return True, conn.password or None


def pseudonymiser_for(
    columns: str | None, conn_id: str, tenant: str | None = None, origin: str = f"The Variable {PSEUDONYMISED_COLUMNS}"
) -> Pseudonymiser | None:
    """The pseudonymiser of a comma-separated column list (None when it is empty), its key the password of the
    Airflow connection ``conn_id`` (so it lives in a secrets backend, never in a Variable).

    With ``tenant`` the key is the tenant's own: the password of ``<conn_id>_<slug>`` when that connection exists,
    else one derived from ``conn_id``'s key and the slug (``tenant_key``), so no customer's tokens join another's.
    A list without a usable key fails the task with one sentence, before any request and before anything is
    written. The key is registered with Airflow's log masker and never logged, stored or passed on.
    """
    names = parse_columns(columns)
    if not names:
        return None
    own = f"{conn_id}_{tenant}" if tenant else None
    exists, key = _password(own) if own else (False, None)
    if own and exists and not key:
        conn_id = own  # the tenant's own connection without a password: say so rather than derive from another
    elif not key:
        exists, master = _password(conn_id)
        key = tenant_key(master, tenant).hex() if master and tenant else master
    if not key:
        where = "there is no Airflow connection" if not exists else "there is no password in the Airflow connection"
        either = f" (nor '{own}', the tenant's own)" if own and conn_id != own else ""
        raise AirflowFailException(
            f"{origin} asks to pseudonymise {', '.join(names)}, but {where} "
            f"'{conn_id}'{either} whose password is the key; create it (in your secrets backend) or empty the Variable."
        )
    mask_secret(key)
    return Pseudonymiser(key, names)
