"""The carrier's view: per day and SBC (trunk FQDN), every tenant that used it, in a lake of many tenants.

Carriers and managed-service providers host one SBC FQDN family for many customer tenants; each tenant's trunk
health shows its own share only. ``direct_routing_sbc_health`` computes the same columns as trunk health
(``trunk_health.py``: calls, success rate, answer-seizure ratio, top SIP codes, media bypass, duration quantiles,
locations) over the calls of every tenant due that day, plus ``tenants``: how many of them had calls on the trunk.
It is built once every tenant due that day has a checked day (``partitions.py``'s ``DueTenantsWindow``); its
manifest names each tenant day it was computed from (rows, sha256).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pyarrow as pa

from call_logs.gold.source_days import read_carried_over, read_source_day
from call_logs.gold.store import GoldManifest, GoldSink, MissingPartition, SourcePartition, write_day
from call_logs.gold.table import SBC_HEALTH, TRUNK
from call_logs.gold.trunk_health import CARRIED_COLUMNS, SOURCE_COLUMNS, trunk_health_rows
from call_logs.lake.layout import TENANT_COLUMN
from call_logs.sinks import ReportSink


def sbc_health_rows(calls: pa.Table, day: date, carried: pa.Table | None) -> pa.Table:
    """The SBC rows of one day's calls of many tenants (trunk health's columns and ``tenant``), one per trunk;
    ``carried``: every tenant's calls still up after midnight, or None when a tenant's previous day was missing."""
    rows = trunk_health_rows(calls.drop_columns([TENANT_COLUMN]), day, carried)
    per_trunk = calls.group_by(TRUNK, use_threads=False).aggregate([(TENANT_COLUMN, "count_distinct")])
    counted = per_trunk[f"{TENANT_COLUMN}_count_distinct"].to_pylist()
    tenants = dict(zip(per_trunk[TRUNK].to_pylist(), counted, strict=True))
    counts = pa.array([tenants[trunk] for trunk in rows[TRUNK].to_pylist()], pa.int32())
    return rows.add_column(1, "tenants", counts).cast(SBC_HEALTH.schema)


def build_sbc_day(
    sources: Mapping[str, ReportSink], gold: GoldSink, day: date, *, run: dict[str, Any] | None = None
) -> GoldManifest:
    """Compute the day's SBC view from each due tenant's day as stored (``sources``: slug -> its sink), with every
    tenant's calls still up after the previous midnight (none missing, or the concurrency columns are null)."""
    tables, carried, origins = [], [], []
    missing: list[MissingPartition] = []
    previous: list[SourcePartition] = []
    for slug, source in sorted(sources.items()):
        calls, origin = read_source_day(source, day, SOURCE_COLUMNS)
        tables.append(calls.append_column(TENANT_COLUMN, pa.repeat(pa.scalar(slug), calls.num_rows)))
        origins.append(origin)
        crossing, read = read_carried_over(source, day, CARRIED_COLUMNS)
        if isinstance(read, MissingPartition):
            missing.append(read)
        else:
            previous.append(read)
            carried.append(crossing)
    if not tables:
        return write_day(gold, day, SBC_HEALTH.schema.empty_table(), [], run)
    up_after_midnight = pa.concat_tables(carried) if not missing else None
    rows = sbc_health_rows(pa.concat_tables(tables), day, up_after_midnight)
    return write_day(gold, day, rows, [*origins, *previous], run, tuple(missing))
