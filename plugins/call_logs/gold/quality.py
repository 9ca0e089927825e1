"""Quality checks of gold partitions, run by the quality engine like any table's; the report is stored beside them.

Every check is an error (a gold partition is recomputed, never patched): the daily trunk-health checks tie the day
to the source day it claims to summarise (calls add up to its rows, computed from its current file), and bound what
a row may say (one row per trunk, counts within calls, rates in [0, 1]); the monthly ones require every day of the
month and the calls of those days. A check reads the source through ``CommittedPartition.source``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.gold.store import GoldManifest, GoldSink, read_day
from call_logs.gold.table import SBC_HEALTH, TRUNK_HEALTH, TRUNK_HEALTH_MONTHLY, GoldTable
from call_logs.quality.engine import check_partition
from call_logs.quality.reading import CommittedPartition
from call_logs.quality.results import QualityReport
from call_logs.sinks.base import Sink
from call_logs.tables.checks import Check, Outcome, QualityThresholds, check
from call_logs.utc import days_of_month

RATES = ("success_rate", "answer_seizure_ratio", "media_bypass_share")
WITHIN_CALLS = ("successful_calls", "answered_calls", "media_bypass_calls")
LOCATIONS = ("calls_by_signaling_location", "calls_by_media_location")

GoldPartition = CommittedPartition[GoldTable, GoldManifest]


def _count(mask: pa.ChunkedArray) -> int:
    return int(pc.sum(pc.fill_null(mask, False).cast(pa.int64())).as_py() or 0)


def _sum(rows: pa.Table, column: str) -> int:
    return int(pc.sum(rows[column]).as_py() or 0)


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
    """Successful, answered and media-bypass calls never exceed a trunk's calls."""
    rows = p.table(["calls", *WITHIN_CALLS])
    over = {c: _count(pc.greater(rows[c], rows["calls"])) for c in WITHIN_CALLS}
    bad = any(over.values())
    return Outcome(not bad, over, "0 rows", "Counts exceed calls." if bad else "OK.")


@check("rates_in_unit_interval", "error", group="bounds")
def check_rates_in_unit_interval(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """Every rate is a share: in [0, 1]."""
    rows = p.table(list(RATES))
    outside = {c: _count(pc.or_(pc.less(rows[c], 0.0), pc.greater(rows[c], 1.0))) for c in RATES}
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
    """The day was computed from the source day's current file (its sha256), not an earlier version of it."""
    source_manifest = p.source(p.spec.source).read_manifest(p.day)
    used = p.manifest.sources[0].sha256 if p.manifest and p.manifest.sources else None
    current = source_manifest.file.sha256 if source_manifest else None
    fresh = used is not None and used == current
    message = "Computed from the source day's current file." if fresh else "The source day changed: recompute."
    return Outcome(fresh, used, current, message)


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
    sources = p.manifest.sources if p.manifest else ()
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
    """Every tenant day the view was computed from is still the file it read (its sha256)."""
    assert p.manifest is not None
    changed = []
    for s in p.manifest.sources:
        now = p.source(source_key(s.table, s.tenant)).read_manifest(p.day)
        if now is None or now.file.sha256 != s.sha256:
            changed.append(s.tenant)
    tenants = [s.tenant for s in p.manifest.sources]
    message = "Computed from every tenant day's current file." if not changed else f"Changed since: {changed}."
    return Outcome(not changed, {"changed": changed, "tenants": tenants}, {"changed": []}, message)


@check("tenants_within_sources", "error", group="bounds")
def check_tenants_within_sources(p: GoldPartition, t: QualityThresholds) -> Outcome:
    """No SBC counts more tenants than the view was computed from."""
    sources = len(p.manifest.sources) if p.manifest else 0
    most = max(p.table(["tenants"])["tenants"].to_pylist(), default=0)
    ok = most <= sources
    return Outcome(ok, most, f"at most {sources}", "OK." if ok else f"An SBC counts {most} tenants of {sources}.")


GOLD_CHECKS: dict[str, tuple[Check, ...]] = {
    TRUNK_HEALTH.table: (
        check_file_matches_manifest,
        check_one_row_per_trunk,
        check_counts_within_calls,
        check_rates_in_unit_interval,
        check_locations_add_up_to_calls,
        check_calls_match_source_rows,
        check_computed_from_current_source,
    ),
    TRUNK_HEALTH_MONTHLY.table: (
        check_file_matches_manifest,
        check_every_day_of_the_month,
        check_one_row_per_trunk,
        check_counts_within_calls,
        check_rates_in_unit_interval,
        check_calls_match_days,
    ),
    SBC_HEALTH.table: (
        check_file_matches_manifest,
        check_one_row_per_trunk,
        check_counts_within_calls,
        check_rates_in_unit_interval,
        check_locations_add_up_to_calls,
        check_tenants_within_sources,
        check_calls_match_tenant_days,
        check_computed_from_current_tenant_days,
    ),
}


def check_gold(gold: GoldSink, partition: date, sources: Mapping[str, Sink[Any, Any]]) -> QualityReport:
    """Check a gold partition (a day, or any day of a month for a monthly table) against what it is derived from:
    ``sources`` by ``source_key`` (the report table, the daily gold table of a rollup, each tenant's day)."""
    if gold.spec.partition_column == "month":
        partition = partition.replace(day=1)
    return check_partition(gold, partition, GOLD_CHECKS[gold.spec.table], sources=sources)
