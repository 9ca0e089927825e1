"""Attach a day's partition key and facts to the asset event a task emits (see ``call_logs/assets.py``)."""

from __future__ import annotations

from datetime import date
from typing import Any

from airflow.sdk import Asset, Context

from call_logs.assets import checked_asset_name, checked_day_extra, committed_day_extra, partition_key, partition_url
from call_logs.lake.manifest import Manifest
from call_logs.sinks import ReportSink


def emit_partition_event(context: Context, asset_name: str, key: str, extra: dict[str, Any]) -> None:
    """Make the task's event on ``asset_name`` carry partition ``key`` and ``extra``.

    The asset must be one of the task's outlets; Airflow registers the event only when the task succeeds.
    """
    accessor = context["outlet_events"][Asset(name=asset_name)]
    accessor.extra = extra
    accessor.add_partitions(key)


def emit_committed_day(context: Context, sink: ReportSink, lake_root: str, day: date, manifest: Manifest) -> None:
    """The extract task's event on ``<table>``: the day is committed, its quality not known yet."""
    table = sink.spec.table
    location = partition_url(lake_root, table, sink.spec.partition_column, day, sink.tenant)
    extra = committed_day_extra(
        table=table,
        table_format=sink.table_format,
        location=location,
        day=day,
        manifest=manifest,
        table_version=sink.table_version(day),
        tenant=sink.tenant,
    )
    emit_partition_event(context, table, partition_key(day, sink.tenant), extra)


def emit_checked_day(context: Context, sink: ReportSink, lake_root: str, day: date, quality: dict[str, Any]) -> None:
    """The quality task's event on ``<table>_checked``: the day passed (``pass`` or ``warn``)."""
    table = sink.spec.table
    location = partition_url(lake_root, table, sink.spec.partition_column, day, sink.tenant)
    extra = checked_day_extra(
        table=table,
        table_format=sink.table_format,
        location=location,
        day=day,
        quality=quality,
        manifest=sink.read_manifest(day),
        tenant=sink.tenant,
    )
    emit_partition_event(context, checked_asset_name(table), partition_key(day, sink.tenant), extra)
