"""Teams direct-routing call logs: one UTC day per run, from Microsoft Graph into a Parquet lake.

wait_for_settled_data (deferrable) → extract (Graph → ``call_date=D/part-0.parquet``, atomic) → data_quality.

A run with logical date D covers ``[D, D+1)`` UTC. Backfill months with
``airflow backfill create --dag-id direct_routing_calls --from-date 2026-06-01 --to-date 2026-08-31``.
Settings are Airflow Variables (see ``call_logs/config.py`` and the README).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable
from call_logs.config import POOL, SETTLED_AT, template
from call_logs.operators.extract import DirectRoutingCallsToLakeOperator
from call_logs.operators.quality import DirectRoutingCallsQualityOperator
from call_logs.operators.wait import SettledDataSensor

DIRECT_ROUTING_CALLS = Asset(name="direct_routing_calls")
LAKE_ROOT = template("direct_routing_lake_root")

with DAG(
    dag_id="direct_routing_calls",
    description="Teams direct-routing call logs from Microsoft Graph into a daily-partitioned Parquet lake",
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2025, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=4,
    default_args={
        "retries": 3,
        "retry_delay": timedelta(minutes=5),
        "retry_exponential_backoff": True,
        "max_retry_delay": timedelta(hours=1),
    },
    doc_md=__doc__,
    tags=["msgraph", "teams", "lake"],
) as dag:
    wait_for_settled_data = SettledDataSensor(
        task_id="wait_for_settled_data",
        target_time=SETTLED_AT,
    )
    extract = DirectRoutingCallsToLakeOperator(
        task_id="extract",
        lake_root=LAKE_ROOT,
        msgraph_conn_id=template("direct_routing_msgraph_conn_id"),
        api_version=template("direct_routing_api_version"),
        retention_days=template("direct_routing_retention_days"),
        concurrency=template("direct_routing_graph_concurrency"),
        pool=POOL,
        outlets=[DIRECT_ROUTING_CALLS],
    )
    data_quality = DirectRoutingCallsQualityOperator(
        task_id="data_quality",
        lake_root=LAKE_ROOT,
        volume_deviation=template("direct_routing_dq_volume_deviation"),
        zero_rows_severity=template("direct_routing_dq_zero_rows_severity"),
        retries=0,
    )
    wait_for_settled_data >> extract >> data_quality
