"""Delta Lake maintenance of every call-log table: vacuum, then checkpoint, daily at 05:00 UTC.

Kept out of the daily report DAGs so that a day's run adds exactly one table version (its own commit).
For each report, one task reads the same Variables as its DAG (``<report>_lake_root``, ``<report>_table_format``);
each gold table (trunk health, its monthly rollup) lives beside its source and reads its source's Variables:

- ``delta``: **vacuum** deletes data files that a re-run replaced (and files of writes that died before their
  commit) once they are older than ``VACUUM_RETENTION_HOURS`` = 168 h, Delta's default
  ``delta.deletedFileRetentionDuration``: a reader of a week-old snapshot (time travel, a long Spark job that
  started before a re-run) still finds its files, and no writer keeps uncommitted files that long (a day's run
  is bounded by its execution timeout and retries). Vacuum records its own commits; it never changes rows.
  Then a **checkpoint** of the current version, so readers replay at most a day of commits.
- ``parquet``: nothing to do (a re-run replaces its file in place); the task logs that and succeeds.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, CronTriggerTimetable, task
from call_logs.config import template
from call_logs.gold.table import GOLD_TABLES, report_of
from call_logs.reports import REPORTS

VACUUM_RETENTION_HOURS = 168

log = logging.getLogger(__name__)


@task(retries=2, retry_delay=timedelta(minutes=10))
def maintain(table: str, lake_root: str, table_format: str) -> dict | None:
    from call_logs.operators._context import airflow_errors, quiet_azure_sdk, report_sink
    from call_logs.operators.gold import open_gold
    from call_logs.sinks.delta import DeltaTableSink

    quiet_azure_sdk()
    gold = GOLD_TABLES.get(table)
    with airflow_errors():
        sink = open_gold(gold, lake_root, table_format) if gold else report_sink(table, lake_root, table_format)
        if not isinstance(sink, DeltaTableSink):
            log.info("%s is a %s table: nothing to vacuum or checkpoint.", table, sink.table_format)
            return None
        done = sink.maintain(VACUUM_RETENTION_HOURS)
    if done is None:
        log.info("There is no Delta table %s yet: nothing to maintain.", sink.delta.uri)
    else:
        log.info(
            "Vacuumed %d files older than %d h from %s; checkpoint at version %d.",
            done["vacuumed_files"],
            VACUUM_RETENTION_HOURS,
            done["table"],
            done["checkpoint_version"],
        )
    return done


with DAG(
    dag_id="call_logs_maintenance",
    description="Vacuum (168 h retention) and checkpoint the call-log Delta tables; a no-op for Parquet",
    schedule=CronTriggerTimetable("0 5 * * *", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["lake", "maintenance"],
):
    for spec in REPORTS.values():
        maintain.override(task_id=f"maintain_{spec.table}")(
            spec.table, template(spec.variable("lake_root")), template(spec.variable("table_format"))
        )
    for gold in GOLD_TABLES.values():
        source = REPORTS[report_of(gold)]
        maintain.override(task_id=f"maintain_{gold.table}")(
            gold.table, template(source.variable("lake_root")), template(source.variable("table_format"))
        )
