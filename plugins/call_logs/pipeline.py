"""The daily DAG every report gets: wait_for_settled_data → extract → data_quality, its settings from Variables.

A run with logical date D covers ``[D, D+1)`` UTC (``CronDataIntervalTimetable``); a DAG file names its report
and calls ``daily_call_log_dag``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable

from call_logs import defaults
from call_logs.assets import checked_asset_name
from call_logs.config import PSEUDONYMISED_COLUMNS, settled_at, template
from call_logs.operators.extract import CallLogToLakeOperator
from call_logs.operators.quality import CallLogQualityOperator
from call_logs.operators.wait import SettledDataSensor
from call_logs.reports.spec import ReportSpec

DEFAULT_ARGS = {
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
}


def daily_call_log_dag(spec: ReportSpec, *, description: str, doc_md: str | None = None) -> DAG:
    """The report's DAG (id = its table name) writing its table and emitting its asset."""
    lake_root = template(spec.variable("lake_root"))
    table_format = template(spec.variable("table_format"))
    with DAG(
        dag_id=spec.table,
        description=description,
        schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
        start_date=datetime(2025, 1, 1, tzinfo=UTC),
        catchup=False,
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        doc_md=doc_md,
        tags=["msgraph", "teams", "lake"],
    ) as dag:
        wait_for_settled_data = SettledDataSensor(task_id="wait_for_settled_data", target_time=settled_at(spec))
        extract = CallLogToLakeOperator(
            task_id="extract",
            report=spec.table,
            lake_root=lake_root,
            msgraph_conn_id=template(spec.variable("msgraph_conn_id")),
            api_version=template(spec.variable("api_version")),
            retention_days=template(spec.variable("retention_days")),
            concurrency=template(spec.variable("graph_concurrency")),
            table_format=table_format,
            pseudonymised_columns=template(PSEUDONYMISED_COLUMNS),
            bad_rows=template(spec.variable("bad_rows")),
            pool=spec.pool,
            execution_timeout=timedelta(hours=defaults.EXTRACT_TIMEOUT_HOURS),
            outlets=[Asset(name=spec.table)],
        )
        data_quality = CallLogQualityOperator(
            task_id="data_quality",
            report=spec.table,
            lake_root=lake_root,
            volume_deviation=template(spec.variable("dq_volume_deviation")),
            zero_rows_severity=template(spec.variable("dq_zero_rows_severity")),
            quarantine_severity=template(spec.variable("dq_quarantine_severity")),
            table_format=table_format,
            retries=0,
            outlets=[Asset(name=checked_asset_name(spec.table))],  # only days that passed: consumers wait on it
        )
        wait_for_settled_data >> extract >> data_quality
    return dag
