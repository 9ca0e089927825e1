"""Airflow operators of the gold tables: build a partition from the lake, check it, emit its asset event.

The runs are created by the scheduler from partitioned asset events (``PartitionedAssetTimetable``): the run's
``partition_key`` is the day (``YYYY-MM-DD``) or, for the monthly rollup, the month (``YYYY-MM``); in a lake of many
tenants the tenant's slug comes first (``<slug>|YYYY-MM-DD``), except for the SBC view across tenants (the day).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from call_logs import defaults
from call_logs.assets import day_of_partition_key, month_of_partition_key, partition_url, split_tenant
from call_logs.gold.hourly import build_hourly_day
from call_logs.gold.monthly import build_month
from call_logs.gold.pstn_usage import build_pstn_month
from call_logs.gold.quality import check_gold, source_key
from call_logs.gold.sbc_health import build_sbc_day
from call_logs.gold.store import GoldManifest, GoldSink, gold_sink
from call_logs.gold.table import (
    GOLD_TABLES,
    PSTN_MINUTE_POOLS_MONTHLY,
    PSTN_USAGE_MONTHLY,
    SBC_HEALTH,
    TRUNK_HEALTH,
    TRUNK_HEALTH_HOURLY,
    TRUNK_HEALTH_MONTHLY,
    GoldTable,
)
from call_logs.gold.trunk_health import build_day, complete_successor
from call_logs.hooks.lake import open_lake
from call_logs.operators._context import airflow_errors, quiet_azure_sdk, report_sink, run_info
from call_logs.operators._events import emit_partition_event
from call_logs.operators._lineage import LineageMixin, gold_lineage, report_lineage
from call_logs.operators.alerting import quality_outcome
from call_logs.partitions import DueTenantsWindow
from call_logs.quality.engine import write_report
from call_logs.sinks.base import Sink
from call_logs.tables.checks import QualityThresholds


def run_partition_key(context: Context) -> str:
    """The partition this run is for, as the scheduler gave it."""
    key = context.get("partition_key") or getattr(context.get("dag_run"), "partition_key", None)
    if not key:
        raise AirflowFailException(
            "This run has no partition key: gold tables run for a partition of their source asset; trigger it "
            "with a partition key (YYYY-MM-DD, or YYYY-MM for the monthly rollup; <slug>|… for one of many "
            "tenants) or let the asset events do it."
        )
    return str(key)


def _gold_table(name: str) -> GoldTable:
    try:
        return GOLD_TABLES[name]
    except KeyError:
        raise AirflowFailException(f"There is no gold table {name!r}; use one of {', '.join(GOLD_TABLES)}.") from None


def open_gold(table: GoldTable, lake_root: str, table_format: str, tenant: str | None = None) -> GoldSink:
    """The sink of a gold table (of one tenant's partitions, with ``tenant``) under an ObjectStoragePath URL."""
    return gold_sink(table_format, open_lake(lake_root), table, tenant=tenant)


def open_source(table: GoldTable, lake_root: str, table_format: str, tenant: str | None) -> Sink[Any, Any]:
    """The sink of the table a gold table is derived from (another gold table, or a Graph report's), of ``tenant``."""
    if table.source in GOLD_TABLES:
        return open_gold(GOLD_TABLES[table.source], lake_root, table_format, tenant)
    return report_sink(table.source, lake_root, table_format, tenant)


class _GoldOperator(LineageMixin, BaseOperator):
    template_fields: Sequence[str] = ("lake_root", "table_format")

    def __init__(self, *, table: str, lake_root: str, table_format: str = defaults.TABLE_FORMAT, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.table = table
        self.lake_root = lake_root
        self.table_format = table_format

    def partition(self, context: Context) -> tuple[str | None, date]:
        """(tenant or None, the day or the month's first day) of the run's partition key."""
        tenant, key = split_tenant(run_partition_key(context))
        try:
            is_monthly = _gold_table(self.table).partition_column == "month"
            return tenant, month_of_partition_key(key) if is_monthly else day_of_partition_key(key)
        except ValueError as error:
            raise AirflowFailException(str(error)) from None


DAILY_BUILDS: dict[str, Callable[..., GoldManifest]] = {
    TRUNK_HEALTH.table: build_day,
    TRUNK_HEALTH_HOURLY.table: build_hourly_day,
}


class DailyGoldOperator(_GoldOperator):
    """Compute the run's day of a daily gold table (trunk health, or its hourly drill-down) from the checked source
    day, and replace it atomically.

    Then it completes the next day when that day was computed without this one (a backfill finished the days out
    of order, or this day was pulled again): the next day's concurrency counts this day's calls still up after
    midnight. The next day is recomputed, checked and its report replaced here; an error in it fails this task.

    :param table: ``direct_routing_trunk_health`` or ``direct_routing_trunk_health_hourly``.
    :param lake_root: ObjectStoragePath URL of the lake (the source's and the gold table's).
    :param table_format: the format of both tables.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        quiet_azure_sdk()
        tenant, day = self.partition(context)
        table = _gold_table(self.table)
        build = DAILY_BUILDS.get(table.table)
        if build is None:
            raise AirflowFailException(
                f"{table.table} is not a daily gold table; use one of {', '.join(DAILY_BUILDS)}."
            )
        run = run_info(context)
        with airflow_errors():
            source = report_sink(table.source, self.lake_root, self.table_format, tenant)
            gold = open_gold(table, self.lake_root, self.table_format, tenant)
            manifest = build(source, gold, day, run=run)
            completed = complete_successor(source, gold, day, build, run=run)
            if completed is not None:
                self._check_completed(gold, source, completed.partition)
        self._lineage_facts = gold_lineage(source, gold, self.lake_root, day, manifest)
        calls = manifest.sources[0].rows
        self.log.info("Committed %s: %d rows from %d calls", gold.location(day), manifest.rows, calls)
        return {
            "partition": day.isoformat(),
            "rows": manifest.rows,
            "sha256": manifest.file.sha256,
            "completed": completed.partition.isoformat() if completed else None,
        }

    def _check_completed(self, gold: GoldSink, source: Sink[Any, Any], day: date) -> None:
        report = check_gold(gold, day, {gold.spec.source: source})
        write_report(gold, day, report)
        self.log.info(
            "Completed %s %s, computed before this day was in: recomputed and checked again (%s).",
            gold.spec.table,
            day,
            report.status,
        )
        if report.status == "fail":
            errors = "; ".join(f"{r.name}: {r.message}" for r in report.errors)
            raise AirflowFailException(f"{gold.spec.table} {day}, recomputed now that the day before is in: {errors}")


class TrunkHealthOperator(DailyGoldOperator):
    """``DailyGoldOperator`` of ``direct_routing_trunk_health``."""

    def __init__(self, *, lake_root: str, table_format: str = defaults.TABLE_FORMAT, **kwargs: Any) -> None:
        super().__init__(table=TRUNK_HEALTH.table, lake_root=lake_root, table_format=table_format, **kwargs)


MONTHLY_BUILDS: dict[str, Callable[..., GoldManifest]] = {
    TRUNK_HEALTH_MONTHLY.table: build_month,  # from the daily gold table
    PSTN_USAGE_MONTHLY.table: build_pstn_month,  # from the report's days
    PSTN_MINUTE_POOLS_MONTHLY.table: build_pstn_month,
}


class MonthlyGoldOperator(_GoldOperator):
    """Roll the run's month of source days (trunk-health days, or ``pstn_calls`` days) into a monthly gold table.

    :param table: ``direct_routing_trunk_health_monthly``, ``pstn_usage_monthly`` or ``pstn_minute_pools_monthly``.
    """

    def execute(self, context: Context) -> dict[str, Any]:
        quiet_azure_sdk()
        tenant, month = self.partition(context)
        table = _gold_table(self.table)
        build = MONTHLY_BUILDS.get(table.table)
        if build is None:
            raise AirflowFailException(
                f"{table.table} is not a monthly rollup; use one of {', '.join(MONTHLY_BUILDS)}."
            )
        with airflow_errors():
            source = open_source(table, self.lake_root, self.table_format, tenant)
            monthly = open_gold(table, self.lake_root, self.table_format, tenant)
            manifest = build(source, monthly, month, run=run_info(context))
        self._lineage_facts = gold_lineage(source, monthly, self.lake_root, month, manifest)
        days = len(manifest.sources)
        self.log.info("Committed %s: %d rows from %d days", monthly.location(month), manifest.rows, days)
        return {"partition": month.isoformat(), "rows": manifest.rows, "sha256": manifest.file.sha256}


TrunkHealthMonthlyOperator = MonthlyGoldOperator  # its name before the PSTN rollups


class SbcHealthOperator(_GoldOperator):
    """Compute the run's day of ``direct_routing_sbc_health`` from the checked day of every tenant due that day.

    :param tenants: slug -> first day (ISO text) or None: the tenants file's, as the DAG's window holds it.
    """

    def __init__(
        self, *, lake_root: str, tenants: dict[str, str | None], table_format: str = defaults.TABLE_FORMAT, **kwargs
    ) -> None:
        super().__init__(table=SBC_HEALTH.table, lake_root=lake_root, table_format=table_format, **kwargs)
        self.tenants = tenants

    def execute(self, context: Context) -> dict[str, Any]:
        quiet_azure_sdk()
        _, day = self.partition(context)
        due = DueTenantsWindow(self.tenants).due(day)
        with airflow_errors():
            sources = {slug: report_sink(SBC_HEALTH.source, self.lake_root, self.table_format, slug) for slug in due}
            gold = open_gold(SBC_HEALTH, self.lake_root, self.table_format)
            manifest = build_sbc_day(sources, gold, day, run=run_info(context))
        self.log.info("Committed %s: %d SBCs from the days of %d tenants", gold.location(day), manifest.rows, len(due))
        return {"partition": day.isoformat(), "rows": manifest.rows, "sha256": manifest.file.sha256, "tenants": due}


class GoldQualityOperator(_GoldOperator):
    """Check the run's partition of a gold table, store the report beside it, fail on any error, else emit its event.

    The event (on the gold table's asset, partition key = the run's) carries rows, sha256, size, format, location
    and the quality status: consumers of a gold table only ever see checked partitions. A trunk whose NER or
    answer-seizure ratio fell below its 28-day median raises an alert (``operators/alerting.py``).

    :param regression_drop: the trunk-regression check's drop (a share), e.g. the Variable's template.
    :param regression_min_calls: the calls a trunk-day needs to be judged.
    """

    template_fields: Sequence[str] = ("lake_root", "table_format", "regression_drop", "regression_min_calls")

    def __init__(
        self,
        *,
        regression_drop: float | str = defaults.REGRESSION_DROP,
        regression_min_calls: int | str = defaults.REGRESSION_MIN_CALLS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.regression_drop = regression_drop
        self.regression_min_calls = regression_min_calls
        self.alert_details: list[str] = []

    def execute(self, context: Context) -> dict[str, Any]:
        quiet_azure_sdk()
        tenant, partition = self.partition(context)
        table = _gold_table(self.table)
        try:
            thresholds = QualityThresholds(
                regression_drop=float(self.regression_drop), regression_min_calls=int(self.regression_min_calls)
            )
        except ValueError as error:
            raise AirflowFailException(f"The trunk-regression settings are wrong: {error}") from None
        with airflow_errors():
            gold = open_gold(table, self.lake_root, self.table_format, tenant)
            report = check_gold(gold, partition, self._sources(table, gold, tenant, partition), thresholds)
            write_report(gold, partition, report)
        self._lineage_facts = report_lineage(gold, self.lake_root, report)
        for result in report.errors:
            self.log.error("%s: %s", result.name, result.message)
        key = run_partition_key(context)
        summary = f"{table.table} {key} {report.status.upper()}: {len(report.errors)} errors"
        if report.status == "fail":
            self.alert_details = [f"{r.name}: {r.message}" for r in report.errors]
            raise AirflowFailException(summary)
        self.log.info(summary)
        quality_outcome(self, context, report, table.table, tenant, split_tenant(key)[1])
        extra = {
            "table": table.table,
            **({"tenant": tenant} if tenant is not None else {}),
            "partition_key": key,
            "rows": report.rows,
            "sha256": report.file_sha256,
            "bytes": report.file_bytes,
            "table_format": gold.table_format,
            "table_version": gold.table_version(partition),
            "location": partition_url(self.lake_root, table.table, table.partition_column, partition, tenant),
            "quality_status": report.status,
        }
        emit_partition_event(context, table.table, key, extra)
        return {"partition": partition.isoformat(), "status": report.status}

    def _sources(
        self, table: GoldTable, gold: GoldSink, tenant: str | None, partition: date
    ) -> dict[str, Sink[Any, Any]]:
        """The sinks the checks compare the partition with: its source table's (its tenant's), or, for the view
        across tenants, each tenant day it names."""
        if table is not SBC_HEALTH:
            return {table.source: open_source(table, self.lake_root, self.table_format, tenant)}
        manifest = gold.read_manifest(partition)
        slugs = [s.tenant for s in manifest.sources] if manifest else []
        return {
            source_key(table.source, slug): report_sink(table.source, self.lake_root, self.table_format, slug)
            for slug in slugs
        }
