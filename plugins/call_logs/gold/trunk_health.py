"""Direct-routing trunk health: one row per day and trunk, computed from the day's calls as the sink stores them.

Definitions (the README's and the DuckDB cross-check's):
- ``calls``: every call of the day on the trunk; ``successful_calls``: ``successfulCall`` is true (null: not);
- ``answered_calls``: the final SIP code says the call was answered: 0 (Graph's code for an established call that
  ended with BYE) or 200; ``answer_seizure_ratio`` = answered / calls (each call seized the trunk). It comes from the
  SIP codes, ``success_rate`` from Graph's own ``successfulCall``: a gap between them is worth a look;
- ``top_final_sip_codes``: the five most frequent non-null codes (most calls first, then the lower code), each with
  the alphabetically first phrase Graph gave it and its calls;
- ``media_bypass_share``: calls with ``mediaBypassEnabled`` true / calls;
- ``duration_p50_s`` / ``duration_p95_s``: quantiles of ``duration`` over successful calls with linear interpolation
  (DuckDB's ``quantile_cont``), null when the trunk had no successful call;
- ``calls_by_signaling_location`` / ``calls_by_media_location``: calls per location (null location included),
  sorted by location, nulls last. Their counts add up to ``calls``.
Calls without a trunk form their own row (trunk null). Plain Python: pyarrow only.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from call_logs import defaults
from call_logs.gold.store import GoldManifest, GoldSink, SourcePartition, gold_sink, read_day, write_day
from call_logs.gold.table import TRUNK, TRUNK_HEALTH
from call_logs.lake.errors import PartitionUnusable
from call_logs.lake.root import LakeRoot
from call_logs.sinks import ReportSink

SOURCE_COLUMNS = [
    TRUNK,
    "successfulCall",
    "finalSipCode",
    "finalSipCodePhrase",
    "mediaBypassEnabled",
    "duration",
    "signalingLocation",
    "mediaPathLocation",
]
TOP_SIP_CODES = 5
ANSWERED_SIP_CODES = pa.array([0, 200], pa.int32())  # 0 + "BYE": established and ended normally (Graph)


class SourceDayUnusable(PartitionUnusable):
    """The source day cannot be read or does not match its manifest: nothing is computed from it."""


def _count_true(values: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.fill_null(values, False).cast(pa.int64())).as_py() or 0)


def _sorted_keys(values: pa.ChunkedArray) -> list[Any]:
    """Distinct values, sorted, null last."""
    distinct = pc.unique(values).to_pylist()
    return sorted(distinct, key=lambda v: (v is None, v if v is not None else ""))


def _equal_or_both_null(values: pa.ChunkedArray, key: Any) -> pa.ChunkedArray:
    return pc.is_null(values) if key is None else pc.fill_null(pc.equal(values, key), False)


def _counts(values: pa.ChunkedArray) -> list[dict[str, Any]]:
    return [{"value": key, "calls": _count_true(_equal_or_both_null(values, key))} for key in _sorted_keys(values)]


def _top_sip_codes(calls: pa.Table) -> list[dict[str, Any]]:
    known = calls.filter(pc.is_valid(calls["finalSipCode"]))
    grouped = known.group_by("finalSipCode").aggregate([("finalSipCode", "count"), ("finalSipCodePhrase", "min")])
    ranked = sorted(
        zip(
            grouped["finalSipCode"].to_pylist(),
            grouped["finalSipCode_count"].to_pylist(),
            grouped["finalSipCodePhrase_min"].to_pylist(),
            strict=True,
        ),
        key=lambda item: (-item[1], item[0]),
    )
    return [{"code": code, "phrase": phrase, "calls": n} for code, n, phrase in ranked[:TOP_SIP_CODES]]


def _quantiles(durations: pa.ChunkedArray) -> tuple[float | None, float | None]:
    if len(durations) == 0:
        return None, None
    p50, p95 = pc.quantile(durations, q=[0.5, 0.95], interpolation="linear").to_pylist()
    return p50, p95


def trunk_health_rows(calls: pa.Table) -> pa.Table:
    """The trunk-health rows of one day's calls (a table with ``SOURCE_COLUMNS``), one per trunk, sorted by trunk."""
    rows: list[dict[str, Any]] = []
    for trunk in _sorted_keys(calls[TRUNK]):
        on_trunk = calls.filter(_equal_or_both_null(calls[TRUNK], trunk))
        n = on_trunk.num_rows
        successful = pc.fill_null(on_trunk["successfulCall"], False)
        answered = _count_true(pc.is_in(on_trunk["finalSipCode"], ANSWERED_SIP_CODES))
        bypass = _count_true(on_trunk["mediaBypassEnabled"])
        p50, p95 = _quantiles(on_trunk.filter(successful)["duration"].drop_null())
        rows.append(
            {
                TRUNK: trunk,
                "calls": n,
                "successful_calls": _count_true(successful),
                "success_rate": _count_true(successful) / n,
                "answered_calls": answered,
                "answer_seizure_ratio": answered / n,
                "top_final_sip_codes": _top_sip_codes(on_trunk),
                "media_bypass_calls": bypass,
                "media_bypass_share": bypass / n,
                "duration_p50_s": p50,
                "duration_p95_s": p95,
                "calls_by_signaling_location": _counts(on_trunk["signalingLocation"]),
                "calls_by_media_location": _counts(on_trunk["mediaPathLocation"]),
            }
        )
    return pa.Table.from_pylist(rows, schema=TRUNK_HEALTH.schema)


def source_day(source: ReportSink, day: date) -> tuple[pa.Table, SourcePartition]:
    """The columns trunk health needs of a source day as stored (read once, batch by batch), and what it was.

    A day whose data file is unreadable or does not match its manifest is refused rather than summarised.
    """
    name = source.spec.table + (f" (tenant {source.tenant})" if source.tenant else "")
    with source.open_day(day) as stored:
        if stored.data is None:
            raise SourceDayUnusable(f"{name} {day}: {stored.data_problem}; run its DAG for the day first.")
        sha256 = stored.fingerprint.get("sha256")
        if stored.manifest is None or stored.manifest.file.sha256 != sha256:
            raise SourceDayUnusable(
                f"{name} {day}: the data file does not match its manifest "
                f"({stored.manifest_problem or 'another sha256'}); re-run the day's DAG before computing gold rows."
            )
        batches = list(stored.data.iter_batches(SOURCE_COLUMNS, defaults.ROWS_PER_BATCH))
        schema = pa.schema([stored.data.schema.field(name) for name in SOURCE_COLUMNS])
        calls = pa.Table.from_batches(batches, schema=schema)
    return calls, SourcePartition(source.spec.table, day, calls.num_rows, sha256, source.tenant)


def build_day(source: ReportSink, gold: GoldSink, day: date, *, run: dict[str, Any] | None = None) -> GoldManifest:
    """Compute the day's trunk health from the source day as stored and replace the gold day; returns its manifest."""
    calls, origin = source_day(source, day)
    return write_day(gold, day, trunk_health_rows(calls), [origin], run)


def stored_days(
    lake: LakeRoot, table_format: str = "parquet", tenant: str | None = None
) -> dict[date, list[dict[str, Any]]]:
    """Every committed trunk-health day under a lake root (of ``tenant``), as rows (the report's trunk charts)."""
    gold = gold_sink(table_format, lake, TRUNK_HEALTH, tenant=tenant)
    days = {day: read_day(gold, day) for day in gold.committed_days()}
    return {day: rows.to_pylist() for day, rows in days.items() if rows is not None}
