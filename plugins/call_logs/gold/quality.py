"""Quality checks of gold partitions, run by the quality engine like any table's; the report is stored beside them.

Every check but one is an error (a gold partition is recomputed, never patched): the daily trunk-health checks tie
the day to the source days it claims to summarise (calls add up to its rows, computed from their current files),
and bound what a row may say (one row per trunk, counts within calls, rates and NER as shares in [0, 1], outcomes
adding up to calls, peak concurrency within the calls that could be up and at least the busiest minute of the day's
own calls, recounted here by another method); the monthly ones require every day of the month and the calls of
those days. The warning: a day computed without the previous day's calls still up after midnight has null
concurrency figures, and the check names the partition that was missing. A check reads the source through
``CommittedPartition.source``.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from call_logs.gold.concurrency import MICROS_PER_MINUTE, day_start_micros, session_bounds
from call_logs.gold.pstn_usage import source_currency_sums, usage_currency_sums
from call_logs.gold.store import GoldManifest, GoldSink, read_day
from call_logs.gold.table import (
    PSTN_MINUTE_POOLS_MONTHLY,
    PSTN_USAGE_MONTHLY,
    SBC_HEALTH,
    TRUNK,
    TRUNK_HEALTH,
    TRUNK_HEALTH_HOURLY,
    TRUNK_HEALTH_MONTHLY,
    GoldTable,
)
from call_logs.gold.trunk_health import group_index, sorted_keys
from call_logs.quality.engine import check_partition
from call_logs.quality.reading import CommittedPartition
from call_logs.quality.results import QualityReport
from call_logs.sinks.base import Sink
from call_logs.tables.checks import Check, Outcome, QualityThresholds, check
from call_logs.utc import days_of_month

RATES = ("success_rate", "answer_seizure_ratio", "media_bypass_share", "ner", "short_call_share")
WITHIN_CALLS = (
    "successful_calls",
    "answered_calls",
    "media_bypass_calls",
    "delivered_calls",
    "ner_calls",
    "average_call_duration_calls",
)
LOCATIONS = ("calls_by_signaling_location", "calls_by_media_location")

GoldPartition = CommittedPartition[GoldTable, GoldManifest]


def _count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() or 0)


def _sum(rows: pa.Table, column: str) -> int:
    return int(pc.sum(rows[column]).as_py() or 0)


def _present(p: GoldPartition, columns: tuple[str, ...]) -> list[str]:
    """The ``columns`` the partition's table has (the daily, hourly and monthly tables share these checks)."""
    return [c for c in columns if c in p.spec.column_names]


@check("file_matches_manifest", "error", needs=())
def check_file_matches_manifest(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """The stored file is the one its manifest describes: the same sha256 and rows."""
    manifest, sha256 = p.manifest, p.stored.fingerprint.get("sha256")
    ok = manifest is not None and p.rows is not None and manifest.file.sha256 == sha256 and manifest.rows == p.rows
    found = {"manifest_sha256": manifest.file.sha256 if manifest else None, "file_sha256": sha256}
    message = "The file is the one its manifest describes." if ok else "The file and its manifest do not match."
    return Outcome(ok, found, "the same sha256 and rows", message)


@check("one_row_per_trunk", "error", group="identity")
def check_one_row_per_trunk(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """A trunk has one row per partition."""
    trunks = p.table([])[p.spec.key_column]
    extra = len(trunks) - len(pc.unique(trunks))
    return Outcome(extra == 0, extra, 0, "One row per trunk." if extra == 0 else "A trunk has more than one row.")


@check("counts_within_calls", "error", group="bounds")
def check_counts_within_calls(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """Successful, answered, media-bypass, delivered and NER-judged calls never exceed a trunk's calls."""
    within = _present(p, WITHIN_CALLS)
    rows = p.table(["calls", *within])
    over = {c: _count(pc.greater(rows[c], rows["calls"])) for c in within}
    bad = any(over.values())
    return Outcome(not bad, over, "0 rows", "Counts exceed calls." if bad else "OK.")


@check("rates_in_unit_interval", "error", group="bounds")
def check_rates_in_unit_interval(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """Every rate is a share: in [0, 1] (NER too: the Health Dashboard's percentage / 100)."""
    rates = _present(p, RATES)
    rows = p.table(rates)
    outside = {c: _count(pc.or_(pc.less(rows[c], 0.0), pc.greater(rows[c], 1.0))) for c in rates}
    bad = any(outside.values())
    return Outcome(not bad, outside, "0 rows", "Rates outside [0, 1]." if bad else "Every rate is in [0, 1].")


@check("locations_add_up_to_calls", "error", group="bounds")
def check_locations_add_up_to_calls(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """Each trunk's calls per signaling (and media) location add up to its calls."""
    rows = p.table(["calls", *LOCATIONS])
    calls = rows["calls"].to_pylist()
    located = {
        column: all(
            sum(item["calls"] for item in row) == n for row, n in zip(rows[column].to_pylist(), calls, strict=True)
        )
        for column in LOCATIONS
    }
    ok = all(located.values())
    message = "Every location list adds up to calls." if ok else "A location list does not add up to calls."
    return Outcome(ok, located, "every list sums to calls", message)


@check("calls_match_source_rows", "error", group="source")
def check_calls_match_source_rows(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """The trunks' calls add up to the source day's rows."""
    source_manifest = p.source(p.spec.source).read_manifest(p.day)
    expected = source_manifest.rows if source_manifest else None
    total = _sum(p.table(["calls"]), "calls")
    message = f"The trunks' calls add up to {total:,}; the source day has {expected} rows."
    return Outcome(total == expected, total, expected, message)


@check("computed_from_current_source", "error", needs=(), group="source")
def check_computed_from_current_source(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """The day was computed from the current file (sha256) of each source day it read (the day itself, and the
    previous day for the calls still up after midnight), not an earlier version of one."""
    used = list(p.manifest.sources) if p.manifest else []
    source = p.source(p.spec.source)
    current = {s.partition: source.read_manifest(s.partition) for s in used}
    changed = [
        s.partition.isoformat() for s in used if (now := current[s.partition]) is None or now.file.sha256 != s.sha256
    ]
    fresh = bool(used) and used[0].partition == p.day and not changed
    message = (
        "Computed from the current file of every source day it read."
        if fresh
        else f"Source days changed since (or never read): {changed or [p.day.isoformat()]}: recompute."
    )
    return Outcome(fresh, {s.partition.isoformat(): s.sha256 for s in used}, "each one's current sha256", message)


@check("concurrency_complete", "warning", needs=("manifest",), group="source")
def check_concurrency_complete(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """The previous day's calls still up after midnight were read: the concurrency figures are complete, not null."""
    assert p.manifest is not None
    missing = [
        f"{m.table} {m.partition}" + (f" (tenant {m.tenant})" if m.tenant else "") + f": {m.reason}"
        for m in p.manifest.missing_sources
    ]
    message = (
        "Concurrency counts the previous day's calls still up after midnight."
        if not missing
        else f"Concurrency figures are null: {'; '.join(missing)}. They fill in when that day's trunk health is "
        "built (or re-run this day once it is pulled)."
    )
    return Outcome(not missing, missing, [], message)


@check("outcomes_add_up", "error", group="bounds")
def check_outcomes_add_up(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """Each trunk's calls per NER outcome add up to its calls, delivered <= judged, and NER = delivered / judged."""
    rows = p.table(["calls", "calls_by_outcome", "delivered_calls", "ner_calls", "ner"]).to_pylist()
    wrong = []
    for row in rows:
        by_outcome = {item["value"]: item["calls"] for item in row["calls_by_outcome"]}
        ner = row["delivered_calls"] / row["ner_calls"] if row["ner_calls"] else None
        if (
            sum(by_outcome.values()) != row["calls"]
            or row["delivered_calls"] > row["ner_calls"]
            or row["ner_calls"] != row["calls"] - by_outcome.get("unknown", 0)
            or (ner is None) != (row["ner"] is None)
            or (ner is not None and abs(ner - row["ner"]) > 1e-12)
        ):
            wrong.append(row[TRUNK])
    message = "Outcomes add up to calls and NER to its counts." if not wrong else f"They do not for {wrong}."
    return Outcome(not wrong, wrong, [], message)


@check("peak_within_possible_calls", "error", group="bounds")
def check_peak_within_possible_calls(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """A trunk's peak is at most its calls plus those still up from the previous day; its inbound and outbound
    peaks and its p95 are at most its peak."""
    columns = ["calls", "calls_from_previous_day", "peak_concurrent_calls", "peak_concurrent_inbound"]
    rows = p.table([*columns, "peak_concurrent_outbound", "p95_concurrent_calls"]).to_pylist()
    wrong = [
        r[TRUNK]
        for r in rows
        if r["peak_concurrent_calls"] is not None
        and (
            r["peak_concurrent_calls"] > r["calls"] + r["calls_from_previous_day"]
            or r["peak_concurrent_inbound"] > r["peak_concurrent_calls"]
            or r["peak_concurrent_outbound"] > r["peak_concurrent_calls"]
            or r["p95_concurrent_calls"] > r["peak_concurrent_calls"]
        )
    ]
    message = "Every peak is within the calls that could be up." if not wrong else f"Impossible peaks: {wrong}."
    return Outcome(not wrong, wrong, [], message)


def busiest_minute_of_own_calls(calls: pa.Table, day: date) -> dict[Any, int]:
    """Per trunk, the most of the day's calls that began and ended within the day up in one minute: a lower bound
    of the day's peak, counted by sorting (a minute's calls = those begun by it - those ended before it; the
    busiest minute is one in which a call began), not by ``concurrency.py``'s difference arrays."""
    begin, end = session_bounds(calls)
    start = day_start_micros(day)
    first = (begin - start) // MICROS_PER_MINUTE
    last = np.where(end > begin, (end - 1 - start) // MICROS_PER_MINUTE, first)
    inside = (first >= 0) & (last < 1440)
    keys = sorted_keys(calls[TRUNK])
    group = group_index(calls[TRUNK], keys)
    busiest: dict[Any, int] = {}
    for i, trunk in enumerate(keys):
        mine = inside & (group == i)
        starts, ends = np.sort(first[mine]), np.sort(last[mine])
        up = np.searchsorted(starts, starts, side="right") - np.searchsorted(ends, starts, side="left")
        busiest[trunk] = int(up.max(initial=0))
    return busiest


@check("peak_at_least_busiest_minute", "error", group="source")
def check_peak_at_least_busiest_minute(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """No trunk's peak is below the busiest minute of the day's own calls (begun and ended that day), recounted
    from the source day."""
    rows = p.table(["peak_concurrent_calls"]).to_pylist()
    source = p.source(p.spec.source)
    columns = [TRUNK, "inviteDateTime", "startDateTime", "endDateTime", "failureDateTime"]
    calls = source.read_columns(p.day, columns)
    if calls is None:
        return Outcome(False, None, "the source day", f"The source day {p.day} cannot be read to recount it.")
    busiest = busiest_minute_of_own_calls(calls, p.day)
    low = {
        str(r[TRUNK]): (r["peak_concurrent_calls"], busiest.get(r[TRUNK], 0))
        for r in rows
        if r["peak_concurrent_calls"] is not None and r["peak_concurrent_calls"] < busiest.get(r[TRUNK], 0)
    }
    message = "Every peak is at least the busiest minute of the day's own calls." if not low else f"Too low: {low}."
    return Outcome(not low, low, {}, message)


@check("every_day_of_the_month", "error", needs=(), group="source")
def check_every_day_of_the_month(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """The rollup was computed from every day of its month."""
    covered = {s.partition for s in p.manifest.sources} if p.manifest else set()
    missing = [d.isoformat() for d in days_of_month(p.day) if d not in covered]
    return Outcome(not missing, missing, [], f"Missing days: {missing}." if missing else "Every day of the month.")


@check("calls_match_days", "error", group="source")
def check_calls_match_days(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """The month's calls add up to the calls of its days, as they are stored now."""
    daily: Any = p.source(p.spec.source)
    day_tables = [read_day(daily, d) for d in days_of_month(p.day)]
    expected = sum(_sum(table, "calls") for table in day_tables if table is not None)
    total = _sum(p.table(["calls"]), "calls")
    return Outcome(total == expected, total, expected, f"{total:,} calls in the month, {expected:,} in its days.")


def source_key(table: str, tenant: str | None) -> str:
    """How the engine is given the sink of a source partition: by table, or ``table|slug`` for one of many tenants."""
    return table if tenant is None else f"{table}|{tenant}"


@check("calls_match_tenant_days", "error", group="source")
def check_calls_match_tenant_days(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """The SBCs' calls add up to the rows of the tenant days the view was computed from, as they are now."""
    sources = [s for s in p.manifest.sources if s.partition == p.day] if p.manifest else []
    current = [p.source(source_key(s.table, s.tenant)).read_manifest(p.day) for s in sources]
    expected = sum(m.rows for m in current if m is not None)
    total = _sum(p.table(["calls"]), "calls")
    missing = [s.tenant for s, m in zip(sources, current, strict=True) if m is None]
    message = f"The SBCs' calls add up to {total:,}; the {len(sources)} tenant days have {expected:,} rows."
    if missing:
        message += f" Tenant days without a manifest now: {missing}."
    return Outcome(total == expected and not missing, total, expected, message)


@check("computed_from_current_tenant_days", "error", needs=("manifest",), group="source")
def check_computed_from_current_tenant_days(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """Every tenant day the view was computed from (and each previous day it read) is still the file it read."""
    assert p.manifest is not None
    changed = []
    for s in p.manifest.sources:
        now = p.source(source_key(s.table, s.tenant)).read_manifest(s.partition)
        if now is None or now.file.sha256 != s.sha256:
            changed.append(f"{s.tenant} {s.partition}")
    tenants = sorted({str(s.tenant) for s in p.manifest.sources})
    message = "Computed from every tenant day's current file." if not changed else f"Changed since: {changed}."
    return Outcome(not changed, {"changed": changed, "tenants": tenants}, {"changed": []}, message)


@check("tenants_within_sources", "error", group="bounds")
def check_tenants_within_sources(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """No SBC counts more tenants than the view was computed from."""
    sources = len({s.tenant for s in p.manifest.sources if s.partition == p.day}) if p.manifest else 0
    most = max(p.table(["tenants"])["tenants"].to_pylist(), default=0)
    ok = most <= sources
    return Outcome(ok, most, f"at most {sources}", "OK." if ok else f"An SBC counts {most} tenants of {sources}.")


@check("one_row_per_trunk_hour", "error", group="identity")
def check_one_row_per_trunk_hour(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """A trunk has at most one row per hour, and every hour is one of the partition's day."""
    rows = p.table(["hour"])
    pairs = rows.group_by([TRUNK, "hour"], use_threads=False).aggregate([]).num_rows
    start = day_start_micros(p.day)
    hours = np.asarray(pc.cast(rows["hour"], pa.int64()).to_numpy(zero_copy_only=False), dtype=np.int64)
    outside = int(((hours < start) | (hours >= start + 1440 * MICROS_PER_MINUTE)).sum())
    ok = pairs == rows.num_rows and outside == 0
    found = {"repeated": rows.num_rows - pairs, "outside_the_day": outside}
    return Outcome(ok, found, {"repeated": 0, "outside_the_day": 0}, "OK." if ok else f"Bad hours: {found}.")


@check("end_reasons_within_calls", "error", group="bounds")
def check_end_reasons_within_calls(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """An hour's top call-end reasons count no more calls than the hour had."""
    rows = p.table(["calls", "top_call_end_reasons"]).to_pylist()
    over = [r[TRUNK] for r in rows if sum(item["calls"] for item in r["top_call_end_reasons"]) > r["calls"]]
    return Outcome(not over, over, [], "OK." if not over else f"Reasons exceed calls on {over}.")


@check("one_row_per_grain", "error", group="identity")
def check_one_row_per_grain(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """No two rows share the columns that identify a row (the table's grain)."""
    grain = list(p.spec.row_key)
    rows = p.table(grain)
    distinct = rows.group_by(grain, use_threads=False).aggregate([]).num_rows
    extra = rows.num_rows - distinct
    return Outcome(extra == 0, extra, 0, f"One row per {', '.join(grain)}." if not extra else f"{extra} repeated.")


@check("calls_match_source_days", "error", group="source")
def check_calls_match_source_days(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """The month's calls add up to the rows of its source days, as they are stored now."""
    source = p.source(p.spec.source)
    current = [source.read_manifest(day) for day in days_of_month(p.day)]
    expected = sum(m.rows for m in current if m is not None)
    total = _sum(p.table(["calls"]), "calls")
    return Outcome(total == expected, total, expected, f"{total:,} calls in the month, {expected:,} in its days.")


@check("computed_from_current_days", "error", needs=("manifest",), group="source")
def check_computed_from_current_days(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """Every source day the month was rolled up from is still the file it read (its sha256)."""
    assert p.manifest is not None
    source = p.source(p.spec.source)
    changed = [
        s.partition.isoformat()
        for s in p.manifest.sources
        if (now := source.read_manifest(s.partition)) is None or now.file.sha256 != s.sha256
    ]
    message = "Rolled up from every day's current file." if not changed else f"Days changed since: {changed}."
    return Outcome(not changed, changed, [], message)


@check("cost_matches_source", "error", group="source")
def check_cost_matches_source(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """Per currency, the month's charge and connectionCharge equal the source days' sums to the last decimal,
    summed again straight from the source (no per-user grouping)."""
    got = usage_currency_sums(p.table(["currency", "charge", "connectionCharge"]))
    expected = source_currency_sums(p.source(p.spec.source), p.day)
    found = {str(k): [str(v) for v in sums] for k, sums in got.items()}
    wanted = {str(k): [str(v) for v in sums] for k, sums in expected.items()}
    message = "Every currency's sums match the source exactly." if got == expected else "Sums differ from the source."
    return Outcome(got == expected, found, wanted, message)


REGRESSION_FIGURES = (("ner", "ner_calls", "NER"), ("answer_seizure_ratio", "calls", "answer-seizure ratio"))


@check("trunk_regression", "warning", group="volume")
def check_trunk_regression(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """No trunk's NER or answer-seizure ratio fell further below the median of its previous 28 days than the
    regression drop, judged on trunk-days with enough calls (a quiet trunk pages nobody) and enough such days."""
    own: Any = p.source(p.spec.table)
    history: dict[Any, dict[str, list[float]]] = {}
    for back in range(1, t.regression_days + 1):
        day = read_day(own, p.day - timedelta(days=back))
        for row in day.to_pylist() if day is not None else []:
            for figure, count, _ in REGRESSION_FIGURES:
                if row.get(figure) is not None and (row.get(count) or 0) >= t.regression_min_calls:
                    history.setdefault(row[TRUNK], {}).setdefault(figure, []).append(row[figure])
    fell = []
    for row in p.table(["calls", "ner_calls", "ner", "answer_seizure_ratio"]).to_pylist():
        for figure, count, label in REGRESSION_FIGURES:
            past = history.get(row[TRUNK], {}).get(figure, [])
            if (
                row[figure] is None
                or (row[count] or 0) < t.regression_min_calls
                or len(past) < t.regression_min_history
            ):
                continue
            median = statistics.median(past)
            if median - row[figure] > t.regression_drop:
                fell.append(
                    f"{row[TRUNK] or '(no trunk)'}: {label} {row[figure]:.1%} against its {len(past)}-day median "
                    f"{median:.1%} ({row[count]:,} calls)"
                )
    expected = f"within {t.regression_drop:.0%} of each trunk's {t.regression_days}-day median"
    message = "No trunk fell below its recent median." if not fell else f"{len(fell)} trunk figures fell: {fell[0]}."
    return Outcome(not fell, fell, expected, message)


GOLD_CHECKS: dict[str, tuple[Check, ...]] = {
    TRUNK_HEALTH.table: (
        check_file_matches_manifest,
        check_one_row_per_trunk,
        check_counts_within_calls,
        check_rates_in_unit_interval,
        check_locations_add_up_to_calls,
        check_outcomes_add_up,
        check_peak_within_possible_calls,
        check_peak_at_least_busiest_minute,
        check_calls_match_source_rows,
        check_computed_from_current_source,
        check_concurrency_complete,
        check_trunk_regression,
    ),
    TRUNK_HEALTH_HOURLY.table: (
        check_file_matches_manifest,
        check_one_row_per_trunk_hour,
        check_counts_within_calls,
        check_rates_in_unit_interval,
        check_end_reasons_within_calls,
        check_calls_match_source_rows,
        check_computed_from_current_source,
        check_concurrency_complete,
    ),
    TRUNK_HEALTH_MONTHLY.table: (
        check_file_matches_manifest,
        check_every_day_of_the_month,
        check_one_row_per_trunk,
        check_counts_within_calls,
        check_rates_in_unit_interval,
        check_calls_match_days,
    ),
    PSTN_USAGE_MONTHLY.table: (
        check_file_matches_manifest,
        check_every_day_of_the_month,
        check_one_row_per_grain,
        check_calls_match_source_days,
        check_computed_from_current_days,
        check_cost_matches_source,
    ),
    PSTN_MINUTE_POOLS_MONTHLY.table: (
        check_file_matches_manifest,
        check_every_day_of_the_month,
        check_one_row_per_grain,
        check_calls_match_source_days,
        check_computed_from_current_days,
    ),
    SBC_HEALTH.table: (
        check_file_matches_manifest,
        check_one_row_per_trunk,
        check_counts_within_calls,
        check_rates_in_unit_interval,
        check_locations_add_up_to_calls,
        check_outcomes_add_up,
        check_peak_within_possible_calls,
        check_tenants_within_sources,
        check_calls_match_tenant_days,
        check_computed_from_current_tenant_days,
        check_concurrency_complete,
    ),
}


def check_gold(
    gold: GoldSink,
    partition: date,
    sources: Mapping[str, Sink[Any, Any]],
    thresholds: QualityThresholds | None = None,
) -> QualityReport:
    """Check a gold partition (a day, or any day of a month for a monthly table) against what it is derived from:
    ``sources`` by ``source_key`` (the report table, the daily gold table of a rollup, each tenant's day), and
    against its own earlier partitions (the trunk-regression check)."""
    if gold.spec.partition_column == "month":
        partition = partition.replace(day=1)
    checks = GOLD_CHECKS[gold.spec.table]
    return check_partition(gold, partition, checks, thresholds, sources={gold.spec.table: gold, **sources})
