"""The gold DAGs: scheduled on partitioned asset events, one run per partition of their source.

- ``direct_routing_trunk_health``: one run per day the source passed its checks (``direct_routing_calls_checked``,
  partition key ``YYYY-MM-DD``): build → data_quality, which emits ``direct_routing_trunk_health`` for the day.
- ``direct_routing_trunk_health_monthly``: one run per month once every day of it has a checked trunk-health
  partition (``RollupMapper`` over ``MonthWindow`` with ``WaitForAll``; partition key ``YYYY-MM``).
Both DAGs must be unpaused: Airflow queues asset-triggered runs only for unpaused DAGs, and events that arrive while
a DAG is paused never queue it.
"""

from __future__ import annotations

from datetime import UTC, datetime

from airflow.sdk import (
    DAG,
    Asset,
    MonthWindow,
    PartitionedAssetTimetable,
    RollupMapper,
    StartOfDayMapper,
    StartOfMonthMapper,
    WaitForAll,
)

from call_logs.assets import PARTITION_KEY_FORMAT, checked_asset_name
from call_logs.config import template
from call_logs.gold.table import TRUNK_HEALTH, TRUNK_HEALTH_MONTHLY
from call_logs.operators.gold import GoldQualityOperator, TrunkHealthMonthlyOperator, TrunkHealthOperator
from call_logs.pipeline import DEFAULT_ARGS
from call_logs.reports.direct_routing import DIRECT_ROUTING

LAKE_ROOT = template(DIRECT_ROUTING.variable("lake_root"))  # the gold tables live beside their source
# The source's format: the gold tables are Parquet partitions or Delta tables, as their source is.
TABLE_FORMAT = template(DIRECT_ROUTING.variable("table_format"))
START = datetime(2025, 1, 1, tzinfo=UTC)


def trunk_health_dag() -> DAG:
    """Per-day trunk health, run for every checked day of ``direct_routing_calls``."""
    with DAG(
        dag_id=TRUNK_HEALTH.table,
        description="Direct-routing trunk health per day and trunk, from each checked day of direct_routing_calls",
        schedule=PartitionedAssetTimetable(
            assets=Asset(name=checked_asset_name(TRUNK_HEALTH.source)),
            default_partition_mapper=StartOfDayMapper(input_format=PARTITION_KEY_FORMAT),
        ),
        start_date=START,
        catchup=False,
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        doc_md=__doc__,
        tags=["teams", "lake", "gold"],
    ) as dag:
        build = TrunkHealthOperator(task_id="build", lake_root=LAKE_ROOT, table_format=TABLE_FORMAT)
        check = GoldQualityOperator(
            task_id="data_quality",
            table=TRUNK_HEALTH.table,
            lake_root=LAKE_ROOT,
            table_format=TABLE_FORMAT,
            retries=0,
            outlets=[Asset(name=TRUNK_HEALTH.table)],
        )
        build >> check
    return dag


def trunk_health_monthly_dag() -> DAG:
    """The monthly rollup, run once every day of a month has a checked trunk-health partition."""
    with DAG(
        dag_id=TRUNK_HEALTH_MONTHLY.table,
        description="Direct-routing trunk health per month and trunk, once every day of the month is in",
        schedule=PartitionedAssetTimetable(
            assets=Asset(name=TRUNK_HEALTH.table),
            default_partition_mapper=RollupMapper(
                upstream_mapper=StartOfMonthMapper(input_format=PARTITION_KEY_FORMAT),
                window=MonthWindow(),
                wait_policy=WaitForAll(),
            ),
        ),
        start_date=START,
        catchup=False,
        max_active_runs=2,
        default_args=DEFAULT_ARGS,
        doc_md=__doc__,
        tags=["teams", "lake", "gold"],
    ) as dag:
        build = TrunkHealthMonthlyOperator(
            task_id="build", table=TRUNK_HEALTH_MONTHLY.table, lake_root=LAKE_ROOT, table_format=TABLE_FORMAT
        )
        check = GoldQualityOperator(
            task_id="data_quality",
            table=TRUNK_HEALTH_MONTHLY.table,
            lake_root=LAKE_ROOT,
            table_format=TABLE_FORMAT,
            retries=0,
            outlets=[Asset(name=TRUNK_HEALTH_MONTHLY.table)],
        )
        build >> check
    return dag
