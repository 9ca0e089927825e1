"""Hourly trunk health: one row per day, trunk and hour (UTC) in which calls started, the Health Dashboard's
hourly NER drill-down.

Per trunk and hour: ``calls`` that started in it, their NER outcomes (``outcomes.py``: ``delivered_calls``,
``ner_calls``, ``ner``), ``answered_calls`` and ``answer_seizure_ratio`` as in the daily table (final SIP code 0 or
200), ``peak_concurrent_calls`` in any minute of the hour (calls up in it, whenever they started, the previous
day's included; null when the previous day could not be read), and ``top_call_end_reasons``: why the hour's calls
that were not answered ended (every outcome but ``answered``: the reasons NER and ASR are made of, not the BYEs of
answered calls), the five most frequent (``finalSipCode``, ``callEndSubReason``) pairs, most calls first, then the
lower code and sub-reason (null ones last), each with the alphabetically first phrase Graph gave it; empty in an
hour whose calls were all answered. An hour in which no call started has no row, even when calls carried over
from earlier hours were up in it.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from call_logs.gold.concurrency import day_start_micros
from call_logs.gold.outcomes import OUTCOMES, classify, delivered, judged
from call_logs.gold.source_days import read_with_previous
from call_logs.gold.store import GoldManifest, GoldSink, write_day
from call_logs.gold.table import TOP_END_REASONS, TRUNK, TRUNK_HEALTH_HOURLY
from call_logs.gold.trunk_health import (
    CARRIED_COLUMNS,
    SOURCE_COLUMNS,
    answered_mask,
    day_concurrency_of,
    sorted_keys,
)
from call_logs.sinks import ReportSink

MICROS_PER_HOUR = 3_600_000_000


def _null_last(value: Any) -> tuple[bool, Any]:
    return value is None, value if value is not None else 0


def _top_end_reasons(calls: pa.Table) -> dict[tuple[Any, int], list[dict[str, Any]]]:
    """Per (trunk, hour in microseconds), the hour's top call-end reasons."""
    grouped = calls.group_by([TRUNK, "hour", "finalSipCode", "callEndSubReason"], use_threads=False).aggregate(
        [("finalSipCode", "count", pc.CountOptions(mode="all")), ("finalSipCodePhrase", "min")]
    )
    cells: dict[tuple[Any, int], list[tuple]] = {}
    for trunk, hour, code, sub, n, phrase in zip(
        grouped[TRUNK].to_pylist(),
        pc.cast(grouped["hour"], pa.int64()).to_pylist(),
        grouped["finalSipCode"].to_pylist(),
        grouped["callEndSubReason"].to_pylist(),
        grouped["finalSipCode_count"].to_pylist(),
        grouped["finalSipCodePhrase_min"].to_pylist(),
        strict=True,
    ):
        cells.setdefault((trunk, hour), []).append((n, code, sub, phrase))
    return {
        cell: [
            {"code": code, "sub_reason": sub, "phrase": phrase, "calls": n}
            for n, code, sub, phrase in sorted(reasons, key=lambda r: (-r[0], _null_last(r[1]), _null_last(r[2])))[
                :TOP_END_REASONS
            ]
        ]
        for cell, reasons in cells.items()
    }


def hourly_rows(calls: pa.Table, day: date, carried: pa.Table | None) -> pa.Table:
    """The hourly rows of one day's calls (trunk health's ``SOURCE_COLUMNS``), sorted by trunk (null last), hour."""
    outcome = classify(calls["successfulCall"], calls["finalSipCode"], calls["callEndSubReason"])
    hours = pc.floor_temporal(calls["startDateTime"], unit="hour")
    cells = pa.table(
        {
            TRUNK: calls[TRUNK],
            "hour": hours,
            "delivered": pa.array(delivered(outcome).astype(np.int64)),
            "judged": pa.array(judged(outcome).astype(np.int64)),
            "answered": pa.array(answered_mask(calls).astype(np.int64)),
        }
    )
    counted = cells.group_by([TRUNK, "hour"], use_threads=False).aggregate(
        [("hour", "count"), ("delivered", "sum"), ("judged", "sum"), ("answered", "sum")]
    )
    reason_columns = [TRUNK, "finalSipCode", "callEndSubReason", "finalSipCodePhrase"]
    not_answered = pa.array(outcome != OUTCOMES.index("answered"))
    reasons = _top_end_reasons(calls.select(reason_columns).append_column("hour", hours).filter(not_answered))
    keys = sorted_keys(calls[TRUNK])
    concurrency = day_concurrency_of(calls, carried, keys, day)
    hourly_peak = concurrency.hourly_peak() if concurrency is not None else None
    start = day_start_micros(day)
    rows: list[dict[str, Any]] = []
    for trunk, hour_ts, hour, n, delivered_calls, ner_calls, answered in zip(
        counted[TRUNK].to_pylist(),
        counted["hour"].to_pylist(),
        pc.cast(counted["hour"], pa.int64()).to_pylist(),
        counted["hour_count"].to_pylist(),
        counted["delivered_sum"].to_pylist(),
        counted["judged_sum"].to_pylist(),
        counted["answered_sum"].to_pylist(),
        strict=True,
    ):
        index = (hour - start) // MICROS_PER_HOUR
        peak = None
        if hourly_peak is not None and 0 <= index < 24:
            peak = int(hourly_peak[keys.index(trunk), index])
        rows.append(
            {
                TRUNK: trunk,
                "hour": hour_ts,
                "calls": n,
                "delivered_calls": delivered_calls,
                "ner_calls": ner_calls,
                "ner": delivered_calls / ner_calls if ner_calls else None,
                "answered_calls": answered,
                "answer_seizure_ratio": answered / n,
                "peak_concurrent_calls": peak,
                "top_call_end_reasons": reasons.get((trunk, hour), []),
            }
        )
    rows.sort(key=lambda r: (r[TRUNK] is None, r[TRUNK] or "", r["hour"]))
    return pa.Table.from_pylist(rows, schema=TRUNK_HEALTH_HOURLY.schema)


def build_hourly_day(
    source: ReportSink, gold: GoldSink, day: date, *, run: dict[str, Any] | None = None
) -> GoldManifest:
    """Compute the day's hourly trunk health from the source day as stored (and the previous day's calls still up
    after midnight, when it can be read) and replace the gold day; returns its manifest."""
    calls, carried, sources, missing = read_with_previous(source, day, SOURCE_COLUMNS, CARRIED_COLUMNS)
    return write_day(gold, day, hourly_rows(calls, day, carried), sources, run, missing)
