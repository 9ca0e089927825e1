"""PSTN cost per user and month, and the month's minute pools: what finance asks for and no Microsoft screen gives.

``pstn_usage_monthly``: one row per month, user (``userId``), ``currency``, ``callType`` and ``destinationContext``,
with ``calls``, ``duration_s`` (Graph's whole seconds, summed exactly), ``minutes`` (duration_s / 60), and
``charge`` / ``connectionCharge`` summed **exactly** as decimals (``decimal128(38, 6)``: the source's six places, the
widest precision): null only when no call of the row had one. The user's ``userPrincipalName`` and
``userDisplayName`` are those of the row's latest call of the month (a renamed user keeps one row). Bot calls
(``ucap_*``, no user) form rows with a null user. Pseudonymised user columns stay the tokens they are in the lake.

``pstn_minute_pools_monthly``: the month's totals per ``licenseCapability`` and ``usageCountryCode`` (the Teams
admin center's "PSTN minute pools" view): calls, distinct users, duration_s, minutes.

Both are rollups of the month's source days as stored, built once every day of the month passed its checks
(``pstn_calls_checked``, all of the month's partitions); a day that cannot be read or does not match its manifest
refuses the month. Each day is read once (only the columns needed) and reduced to per-group sums before the next
day is read: memory follows the number of groups, not of calls.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.gold.monthly import MonthIncomplete
from call_logs.gold.source_days import read_source_day
from call_logs.gold.store import GoldManifest, GoldSink, write_day
from call_logs.gold.table import PSTN_MINUTE_POOLS_MONTHLY, PSTN_USAGE_MONTHLY, GoldTable
from call_logs.sinks import ReportSink
from call_logs.utc import days_of_month

USAGE_KEYS = ["userId", "currency", "callType", "destinationContext"]
POOL_KEYS = ["licenseCapability", "usageCountryCode"]
SOURCE_COLUMNS = [
    *USAGE_KEYS,
    "userPrincipalName",
    "userDisplayName",
    "startDateTime",
    "duration",
    "charge",
    "connectionCharge",
    *POOL_KEYS,
]
_SUM = pc.ScalarAggregateOptions(min_count=1)  # null when every value was null, never a made-up zero


def _usage_of_day(calls: pa.Table) -> pa.Table:
    """One day's partial sums per usage key, with each key's latest call time and its user names."""
    ordered = calls.sort_by("startDateTime")  # "last" is the latest call once grouped in order
    return ordered.group_by(USAGE_KEYS, use_threads=False).aggregate(
        [
            ("userId", "count", pc.CountOptions(mode="all")),
            ("duration", "sum"),
            ("charge", "sum", _SUM),
            ("connectionCharge", "sum", _SUM),
            ("startDateTime", "last"),
            ("userPrincipalName", "last"),
            ("userDisplayName", "last"),
        ]
    )


def usage_rows(days: list[pa.Table]) -> pa.Table:
    """``pstn_usage_monthly`` rows from the month's per-day partial sums (``_usage_of_day``), sorted by key."""
    if not days:
        return PSTN_USAGE_MONTHLY.schema.empty_table()
    month = pa.concat_tables(days).sort_by("startDateTime_last")
    grouped = month.group_by(USAGE_KEYS, use_threads=False).aggregate(
        [
            ("userId_count", "sum"),
            ("duration_sum", "sum", _SUM),
            ("charge_sum", "sum", _SUM),
            ("connectionCharge_sum", "sum", _SUM),
            ("userPrincipalName_last", "last"),
            ("userDisplayName_last", "last"),
        ]
    )
    seconds = pc.fill_null(grouped["duration_sum_sum"], 0)
    rows = pa.table(
        {
            **{key: grouped[key] for key in USAGE_KEYS},
            "userPrincipalName": grouped["userPrincipalName_last_last"],
            "userDisplayName": grouped["userDisplayName_last_last"],
            "calls": grouped["userId_count_sum"],
            "duration_s": seconds,
            "minutes": pc.divide(pc.cast(seconds, pa.float64()), 60.0),
            "charge": grouped["charge_sum_sum"],
            "connectionCharge": grouped["connectionCharge_sum_sum"],
        }
    )
    order = [(key, "ascending", "at_end") for key in USAGE_KEYS]
    return rows.sort_by(order).select(list(PSTN_USAGE_MONTHLY.column_names))


def _pools_of_day(calls: pa.Table) -> pa.Table:
    return calls.group_by([*POOL_KEYS, "userId"], use_threads=False).aggregate(
        [("userId", "count", pc.CountOptions(mode="all")), ("duration", "sum")]
    )


def pool_rows(days: list[pa.Table]) -> pa.Table:
    """``pstn_minute_pools_monthly`` rows from the month's per-day partial sums (per pool key and user)."""
    if not days:
        return PSTN_MINUTE_POOLS_MONTHLY.schema.empty_table()
    per_user = (
        pa.concat_tables(days)
        .group_by([*POOL_KEYS, "userId"], use_threads=False)
        .aggregate([("userId_count", "sum"), ("duration_sum", "sum")])
    )
    grouped = per_user.group_by(POOL_KEYS, use_threads=False).aggregate(
        [("userId", "count_distinct"), ("userId_count_sum", "sum"), ("duration_sum_sum", "sum")]
    )
    seconds = pc.fill_null(grouped["duration_sum_sum_sum"], 0)
    rows = pa.table(
        {
            **{key: grouped[key] for key in POOL_KEYS},
            "calls": grouped["userId_count_sum_sum"],
            "users": grouped["userId_count_distinct"],
            "duration_s": seconds,
            "minutes": pc.divide(pc.cast(seconds, pa.float64()), 60.0),
        }
    )
    order = [(key, "ascending", "at_end") for key in POOL_KEYS]
    return rows.sort_by(order).select(list(PSTN_MINUTE_POOLS_MONTHLY.column_names))


ROLLUPS: dict[str, tuple[Any, Any]] = {  # table -> (a day's partial sums, the month's rows)
    PSTN_USAGE_MONTHLY.table: (_usage_of_day, usage_rows),
    PSTN_MINUTE_POOLS_MONTHLY.table: (_pools_of_day, pool_rows),
}


def build_pstn_month(
    source: ReportSink, gold: GoldSink, month: date, *, run: dict[str, Any] | None = None
) -> GoldManifest:
    """Roll the month's ``pstn_calls`` days (as stored, every one of them) into ``gold``'s table: usage per user or
    the minute pools. Returns the month's manifest, which names every day it read (rows, sha256)."""
    table: GoldTable = gold.spec
    of_day, rows_of = ROLLUPS[table.table]
    missing = [day.isoformat() for day in days_of_month(month) if source.read_manifest(day) is None]
    if missing:
        raise MonthIncomplete(
            f"{source.spec.table} has no partition for {', '.join(missing)}; the {table.table} rollup of "
            f"{month:%Y-%m} needs every day (run the {source.spec.table} DAG for them)."
        )
    partials, sources = [], []
    for day in days_of_month(month):
        calls, origin = read_source_day(source, day, SOURCE_COLUMNS)
        partials.append(of_day(calls))
        sources.append(origin)
    return write_day(gold, month.replace(day=1), rows_of(partials), sources, run)


def _currency_sums(rows: pa.Table) -> dict[str | None, tuple[Any, Any]]:
    grouped = rows.group_by("currency", use_threads=False).aggregate(
        [("charge", "sum", _SUM), ("connectionCharge", "sum", _SUM)]
    )
    return {
        currency: (charge, connection)
        for currency, charge, connection in zip(
            grouped["currency"].to_pylist(),
            grouped["charge_sum"].to_pylist(),
            grouped["connectionCharge_sum"].to_pylist(),
            strict=True,
        )
    }


def source_currency_sums(source: ReportSink, month: date) -> dict[str | None, tuple[Any, Any]]:
    """Per currency, the month's charge and connectionCharge summed straight from the source days (the check's
    second count: no per-user grouping), as decimals."""
    per_day = []
    for day in days_of_month(month):
        calls = source.read_columns(day, ["currency", "charge", "connectionCharge"])
        if calls is not None:
            per_day.append(calls)
    if not per_day:
        return {}
    return _currency_sums(pa.concat_tables(per_day))


def usage_currency_sums(rows: pa.Table) -> dict[str | None, tuple[Any, Any]]:
    """Per currency, the usage rows' charge and connectionCharge summed."""
    return _currency_sums(rows.select(["currency", "charge", "connectionCharge"]))
