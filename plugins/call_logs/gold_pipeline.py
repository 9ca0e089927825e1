"""The gold DAGs: scheduled on partitioned asset events, one run per partition of their source.

- ``direct_routing_trunk_health``: one run per day the source passed its checks (``direct_routing_calls_checked``,
  partition key ``YYYY-MM-DD``): build → data_quality, which emits ``direct_routing_trunk_health`` for the day.
- ``direct_routing_trunk_health_hourly``: the same, per trunk and hour (the Health Dashboard's hourly drill-down).
- ``pstn_usage_monthly`` and ``pstn_minute_pools_monthly``: one run per month once every day of it passed its
  checks in ``pstn_calls_checked`` (the same rollup mapper).
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
from call_logs.gold.table import (
    PSTN_MINUTE_POOLS_MONTHLY,
    PSTN_USAGE_MONTHLY,
    SBC_HEALTH,
    TRUNK_HEALTH,
    TRUNK_HEALTH_HOURLY,
    TRUNK_HEALTH_MONTHLY,
    GoldTable,
    report_of,
)
from call_logs.operators.gold import DailyGoldOperator, GoldQualityOperator, MonthlyGoldOperator, SbcHealthOperator
from call_logs.partitions import DueTenantsWindow, TenantDayMapper, TenantMonthMapper, TenantMonthWindow
from call_logs.pipeline import DEFAULT_ARGS
from call_logs.reports import REPORTS
from call_logs.tenants import Tenants, load_tenants

START = datetime(2025, 1, 1, tzinfo=UTC)


def _tenants(beside: Path) -> Tenants | None:
    return load_tenants(tenants_file(beside))


def _places(table: GoldTable) -> tuple[str, str]:
    """The lake root and table format of a gold table: its report's Variables (it lives beside its source, as
    Parquet partitions or a Delta table as its source is)."""
    report = REPORTS[report_of(table)]
    return template(report.variable("lake_root")), template(report.variable("table_format"))


def _daily_gold_dag(table: GoldTable, description: str, beside: Path) -> DAG:
    """A daily gold table's DAG, run for every checked day (of each tenant) of its source: build → data_quality."""
    lake_root, table_format = _places(table)
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
        build = DailyGoldOperator(task_id="build", table=table.table, lake_root=lake_root, table_format=table_format)
        check = GoldQualityOperator(
            task_id="data_quality",
            table=table.table,
            lake_root=lake_root,
            table_format=table_format,
            regression_drop=template("direct_routing_trunk_regression_drop"),
            regression_min_calls=template("direct_routing_trunk_regression_min_calls"),
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


def _month_rollup(beside: Path) -> RollupMapper:
    """Once every day of a month (of a tenant) is in: ``YYYY-MM`` (or ``<slug>|YYYY-MM``) from the days' keys."""
    if _tenants(beside) is None:
        return RollupMapper(
            upstream_mapper=StartOfMonthMapper(input_format=PARTITION_KEY_FORMAT),
            window=MonthWindow(),
            wait_policy=WaitForAll(),
        )
    # Custom mappers and windows are Airflow's core classes, which the SDK's RollupMapper takes (and the
    # serializer requires): the types differ only for mypy.
    return RollupMapper(
        upstream_mapper=TenantMonthMapper(),  # type: ignore[arg-type]
        window=TenantMonthWindow(),  # type: ignore[arg-type]
        wait_policy=WaitForAll(),
    )


def _monthly_gold_dag(table: GoldTable, upstream: str, description: str, beside: Path) -> DAG:
    """A monthly rollup's DAG, run once every day of a month (of a tenant) is in ``upstream``: build → data_quality."""
    lake_root, table_format = _places(table)
    with DAG(
        dag_id=table.table,
        description=description,
        schedule=PartitionedAssetTimetable(assets=Asset(name=upstream), default_partition_mapper=_month_rollup(beside)),
        start_date=START,
        catchup=False,
        max_active_runs=2,
        default_args=DEFAULT_ARGS,
        doc_md=__doc__,
        tags=["teams", "lake", "gold"],
    ) as dag:
        build = MonthlyGoldOperator(task_id="build", table=table.table, lake_root=lake_root, table_format=table_format)
        check = GoldQualityOperator(
            task_id="data_quality",
            table=table.table,
            lake_root=lake_root,
            table_format=table_format,
            retries=0,
            outlets=[Asset(name=table.table)],
        )
        build >> check
    return dag


def trunk_health_monthly_dag(beside: Path) -> DAG:
    """The monthly rollup, run once every day of a month (of a tenant) has a checked trunk-health partition."""
    description = "Direct-routing trunk health per month and trunk, once every day of the month is in"
    return _monthly_gold_dag(TRUNK_HEALTH_MONTHLY, TRUNK_HEALTH.table, description, beside)


def pstn_usage_monthly_dag(beside: Path) -> DAG:
    """PSTN cost per user and month, once every day of a month (of a tenant) of ``pstn_calls`` passed its checks."""
    description = "PSTN calls, minutes and exact charges per month, user, currency, call type and destination"
    return _monthly_gold_dag(PSTN_USAGE_MONTHLY, checked_asset_name(PSTN_USAGE_MONTHLY.source), description, beside)


def pstn_minute_pools_monthly_dag(beside: Path) -> DAG:
    """The month's PSTN minutes per license capability and usage country (the minute-pools view)."""
    description = "PSTN calls, users and minutes per month, license capability and usage country"
    table = PSTN_MINUTE_POOLS_MONTHLY
    return _monthly_gold_dag(table, checked_asset_name(table.source), description, beside)


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
        lake_root, table_format = _places(SBC_HEALTH)
        build = SbcHealthOperator(task_id="build", lake_root=lake_root, tenants=due, table_format=table_format)
        check = GoldQualityOperator(
            task_id="data_quality",
            table=SBC_HEALTH.table,
            lake_root=lake_root,
            table_format=table_format,
            retries=0,
            outlets=[Asset(name=SBC_HEALTH.table)],
        )
        build >> check
    return {dag.dag_id: dag}
