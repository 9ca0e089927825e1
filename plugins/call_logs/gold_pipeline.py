"""The gold DAGs: scheduled on partitioned asset events, one run per partition of their source.

- ``direct_routing_trunk_health``: one run per day the source passed its checks (``direct_routing_calls_checked``,
  partition key ``YYYY-MM-DD``): build → data_quality, which emits ``direct_routing_trunk_health`` for the day.
- ``direct_routing_trunk_health_hourly``: the same, per trunk and hour (the Health Dashboard's hourly drill-down).
- ``direct_routing_trunk_health_monthly``: one run per month once every day of it has a checked trunk-health
  partition (``RollupMapper`` over ``MonthWindow`` with ``WaitForAll``; partition key ``YYYY-MM``).
In a lake of many tenants (a tenants file beside the DAGs) the same two DAGs run per tenant-day
(``<slug>|YYYY-MM-DD``: ``ProductMapper`` of the tenant and the day) and per tenant-month (``<slug>|YYYY-MM``:
``partitions.py``'s mapper and window), and ``direct_routing_sbc_health`` per day across the tenants due that day.
Every DAG must be unpaused: Airflow queues asset-triggered runs only for unpaused DAGs, and events that arrive while
a DAG is paused never queue it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from airflow.sdk import (
    DAG,
    Asset,
    IdentityMapper,
    MonthWindow,
    PartitionedAssetTimetable,
    ProductMapper,
    RollupMapper,
    StartOfDayMapper,
    StartOfMonthMapper,
    WaitForAll,
)

from call_logs.assets import PARTITION_KEY_FORMAT, checked_asset_name
from call_logs.config import template, tenants_file
from call_logs.gold.table import SBC_HEALTH, TRUNK_HEALTH, TRUNK_HEALTH_HOURLY, TRUNK_HEALTH_MONTHLY, GoldTable
from call_logs.operators.gold import (
    DailyGoldOperator,
    GoldQualityOperator,
    SbcHealthOperator,
    TrunkHealthMonthlyOperator,
)
from call_logs.partitions import DueTenantsWindow, TenantDayMapper, TenantMonthMapper, TenantMonthWindow
from call_logs.pipeline import DEFAULT_ARGS
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.tenants import Tenants, load_tenants

LAKE_ROOT = template(DIRECT_ROUTING.variable("lake_root"))  # the gold tables live beside their source
# The source's format: the gold tables are Parquet partitions or Delta tables, as their source is.
TABLE_FORMAT = template(DIRECT_ROUTING.variable("table_format"))
START = datetime(2025, 1, 1, tzinfo=UTC)


def _tenants(beside: Path) -> Tenants | None:
    return load_tenants(tenants_file(beside))


def _daily_gold_dag(table: GoldTable, description: str, beside: Path) -> DAG:
    """A daily gold table's DAG, run for every checked day (of each tenant) of its source: build → data_quality."""
    day = StartOfDayMapper(input_format=PARTITION_KEY_FORMAT)
    with DAG(
        dag_id=table.table,
        description=description,
        schedule=PartitionedAssetTimetable(
            assets=Asset(name=checked_asset_name(table.source)),
            default_partition_mapper=day if _tenants(beside) is None else ProductMapper(IdentityMapper(), day),
        ),
        start_date=START,
        catchup=False,
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        doc_md=__doc__,
        tags=["teams", "lake", "gold"],
    ) as dag:
        build = DailyGoldOperator(task_id="build", table=table.table, lake_root=LAKE_ROOT, table_format=TABLE_FORMAT)
        check = GoldQualityOperator(
            task_id="data_quality",
            table=table.table,
            lake_root=LAKE_ROOT,
            table_format=TABLE_FORMAT,
            retries=0,
            outlets=[Asset(name=table.table)],
        )
        build >> check
    return dag


def trunk_health_dag(beside: Path) -> DAG:
    """Per-day trunk health, run for every checked day (of each tenant) of ``direct_routing_calls``."""
    description = "Direct-routing trunk health per day and trunk, from each checked day of direct_routing_calls"
    return _daily_gold_dag(TRUNK_HEALTH, description, beside)


def trunk_health_hourly_dag(beside: Path) -> DAG:
    """Per-day hourly trunk health (the Health Dashboard's drill-down), run like the daily table."""
    description = "Direct-routing trunk health per day, trunk and hour: NER, ASR, peak concurrency, end reasons"
    return _daily_gold_dag(TRUNK_HEALTH_HOURLY, description, beside)


def trunk_health_monthly_dag(beside: Path) -> DAG:
    """The monthly rollup, run once every day of a month (of a tenant) has a checked trunk-health partition."""
    if _tenants(beside) is None:
        rollup = RollupMapper(
            upstream_mapper=StartOfMonthMapper(input_format=PARTITION_KEY_FORMAT),
            window=MonthWindow(),
            wait_policy=WaitForAll(),
        )
    else:
        # Custom mappers and windows are Airflow's core classes, which the SDK's RollupMapper takes (and the
        # serializer requires): the types differ only for mypy.
        rollup = RollupMapper(
            upstream_mapper=TenantMonthMapper(),  # type: ignore[arg-type]
            window=TenantMonthWindow(),  # type: ignore[arg-type]
            wait_policy=WaitForAll(),
        )
    with DAG(
        dag_id=TRUNK_HEALTH_MONTHLY.table,
        description="Direct-routing trunk health per month and trunk, once every day of the month is in",
        schedule=PartitionedAssetTimetable(assets=Asset(name=TRUNK_HEALTH.table), default_partition_mapper=rollup),
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


def sbc_health_dags(beside: Path) -> dict[str, DAG]:
    """The carrier's SBC view across tenants, by id: none without a tenants file (trunk health is then the view).

    One run per day, once every tenant due that day (``DueTenantsWindow``: its start date is not after the day)
    has a checked day of ``direct_routing_calls``. A tenant whose day failed holds the day's view back until its
    day is re-run (or it leaves the file): the view never silently leaves a tenant out.
    """
    tenants = _tenants(beside)
    if tenants is None:
        return {}
    due = {t.slug: t.start_date.isoformat() if t.start_date else None for t in tenants.pulling(SBC_HEALTH.source)}
    with DAG(
        dag_id=SBC_HEALTH.table,
        description="Direct-routing SBC health per day across every tenant that used each SBC (the carrier's view)",
        schedule=PartitionedAssetTimetable(
            assets=Asset(name=checked_asset_name(SBC_HEALTH.source)),
            default_partition_mapper=RollupMapper(
                upstream_mapper=TenantDayMapper(),  # type: ignore[arg-type]  # core classes, as above
                window=DueTenantsWindow(due),  # type: ignore[arg-type]
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
        build = SbcHealthOperator(task_id="build", lake_root=LAKE_ROOT, tenants=due, table_format=TABLE_FORMAT)
        check = GoldQualityOperator(
            task_id="data_quality",
            table=SBC_HEALTH.table,
            lake_root=LAKE_ROOT,
            table_format=TABLE_FORMAT,
            retries=0,
            outlets=[Asset(name=SBC_HEALTH.table)],
        )
        build >> check
    return {dag.dag_id: dag}
