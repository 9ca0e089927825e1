"""The monthly trunk-health rollup: one row per month and trunk, summed from the month's trunk-health days.

``days`` counts the days on which the trunk had calls; rates and NER are recomputed from the summed counts (never
averaged). ``peak_concurrent_calls`` is the busiest minute of the month: the most of its days' peaks, over the
``concurrency_days`` that have one (a day computed without its previous day has none). Quantiles, averages and top
SIP codes do not add up across days and stay in the daily table. Days of schema version 1 read with the figures
added since as nulls: they count in the sums as zero delivered and judged calls, and have no peak.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.gold.store import GoldManifest, GoldSink, SourcePartition, read_day, write_day
from call_logs.gold.table import TRUNK, TRUNK_HEALTH_MONTHLY
from call_logs.lake.errors import PartitionUnusable
from call_logs.utc import days_of_month

SUMMED = ("calls", "successful_calls", "answered_calls", "media_bypass_calls", "delivered_calls", "ner_calls")


class MonthIncomplete(PartitionUnusable):
    """A day of the month has no trunk-health partition: the rollup would understate the month."""


def monthly_rows(days: list[pa.Table]) -> pa.Table:
    """The monthly rows of the month's daily trunk-health tables, one per trunk, sorted by trunk (null last)."""
    if not days:
        return TRUNK_HEALTH_MONTHLY.schema.empty_table()
    combined = pa.concat_tables([day.select([TRUNK, *SUMMED, "peak_concurrent_calls"]) for day in days])
    every = pc.CountOptions(mode="all")  # a null trunk is a trunk too: count its days
    grouped = combined.group_by(TRUNK).aggregate(
        [
            (TRUNK, "count", every),
            *((c, "sum", pc.ScalarAggregateOptions(min_count=0)) for c in SUMMED),
            ("peak_concurrent_calls", "max"),
            ("peak_concurrent_calls", "count"),
        ]
    )
    rows: list[dict[str, Any]] = []
    for record in grouped.to_pylist():
        calls = record["calls_sum"]
        rows.append(
            {
                TRUNK: record[TRUNK],
                "days": record[f"{TRUNK}_count"],
                "calls": calls,
                "successful_calls": record["successful_calls_sum"],
                "success_rate": record["successful_calls_sum"] / calls if calls else None,
                "answered_calls": record["answered_calls_sum"],
                "answer_seizure_ratio": record["answered_calls_sum"] / calls if calls else None,
                "media_bypass_calls": record["media_bypass_calls_sum"],
                "media_bypass_share": record["media_bypass_calls_sum"] / calls if calls else None,
                "delivered_calls": record["delivered_calls_sum"],
                "ner_calls": record["ner_calls_sum"],
                "ner": record["delivered_calls_sum"] / record["ner_calls_sum"] if record["ner_calls_sum"] else None,
                "peak_concurrent_calls": record["peak_concurrent_calls_max"],
                "concurrency_days": record["peak_concurrent_calls_count"],
            }
        )
    rows.sort(key=lambda r: (r[TRUNK] is None, r[TRUNK] or ""))
    return pa.Table.from_pylist(rows, schema=TRUNK_HEALTH_MONTHLY.schema)


def build_month(daily: GoldSink, monthly: GoldSink, month: date, *, run: dict[str, Any] | None = None) -> GoldManifest:
    """Sum the month's trunk-health days into the monthly table (partition = the month's first day)."""
    tables, sources, missing = [], [], []
    for day in days_of_month(month):
        rows, manifest = read_day(daily, day), daily.read_manifest(day)
        if rows is None or manifest is None:
            missing.append(day.isoformat())
            continue
        tables.append(rows)
        sources.append(SourcePartition(daily.spec.table, day, manifest.rows, manifest.file.sha256))
    if missing:
        raise MonthIncomplete(
            f"{daily.spec.table} has no partition for {', '.join(missing)}; the rollup of {month:%Y-%m} needs every "
            "day (run the trunk-health DAG for them)."
        )
    return write_day(monthly, month.replace(day=1), monthly_rows(tables), sources, run)
