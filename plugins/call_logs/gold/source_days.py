"""Reading the source days a daily gold partition is computed from: the day itself, and the previous day's calls
still up after midnight (a call is stored in the day it started, but holds its trunk into the next).

The day itself must be usable: a day whose data file cannot be read or does not match its manifest is refused
rather than summarised. The previous day is optional: without it (never pulled, pulled later, unreadable) the day's
concurrency figures are null and the gold manifest names the partition that was missing; once that day is built, it
completes its successor (``successor_is_stale``), so days computed out of order in a backfill heal themselves.
"""

from __future__ import annotations

from datetime import date, timedelta

import pyarrow as pa

from call_logs import defaults
from call_logs.gold.concurrency import carried_over
from call_logs.gold.store import GoldManifest, MissingPartition, SourcePartition
from call_logs.lake.errors import PartitionUnusable
from call_logs.sinks import ReportSink


class SourceDayUnusable(PartitionUnusable):
    """The source day cannot be read or does not match its manifest: nothing is computed from it."""


NOT_IN_THE_LAKE = "it is not in the lake"


def _name(source: ReportSink) -> str:
    return source.spec.table + (f" (tenant {source.tenant})" if source.tenant else "")


def _read(source: ReportSink, day: date, columns: list[str]) -> tuple[pa.Table | None, str | None, str | None]:
    """(the columns of the stored day, its sha256, None) or (None, None, why it cannot be used)."""
    with source.open_day(day) as stored:
        if stored.manifest is None and stored.manifest_problem == "missing":
            return None, None, NOT_IN_THE_LAKE
        if stored.data is None:
            return None, None, stored.data_problem or "it has no data file"
        sha256 = stored.fingerprint.get("sha256")
        if stored.manifest is None or stored.manifest.file.sha256 != sha256:
            problem = stored.manifest_problem or "another sha256"
            return None, None, f"the data file does not match its manifest ({problem})"
        schema = pa.schema([stored.data.schema.field(name) for name in columns])
        batches = list(stored.data.iter_batches(columns, defaults.ROWS_PER_BATCH))
        return pa.Table.from_batches(batches, schema=schema), sha256, None


def read_source_day(source: ReportSink, day: date, columns: list[str]) -> tuple[pa.Table, SourcePartition]:
    """``columns`` of a source day as stored (read once, batch by batch), and what it was; refused when unusable."""
    calls, sha256, problem = _read(source, day, columns)
    if calls is None:
        action = "run its DAG for the day first" if problem == NOT_IN_THE_LAKE else "re-run the day's DAG first"
        raise SourceDayUnusable(f"{_name(source)} {day}: {problem}; {action}.")
    return calls, SourcePartition(source.spec.table, day, calls.num_rows, sha256, source.tenant)


def read_carried_over(
    source: ReportSink, day: date, columns: list[str]
) -> tuple[pa.Table | None, SourcePartition | MissingPartition]:
    """The previous day's calls still up after ``day``'s midnight (``columns`` of them), and what was read; or
    None and the missing partition, when the previous day cannot be used."""
    previous = day - timedelta(days=1)
    calls, sha256, problem = _read(source, previous, columns)
    if calls is None:
        return None, MissingPartition(source.spec.table, previous, problem or "unusable", source.tenant)
    return carried_over(calls, day), SourcePartition(source.spec.table, previous, calls.num_rows, sha256, source.tenant)


def read_with_previous(
    source: ReportSink, day: date, columns: list[str], carried_columns: list[str]
) -> tuple[pa.Table, pa.Table | None, list[SourcePartition], tuple[MissingPartition, ...]]:
    """The day's ``columns``, the previous day's calls still up after midnight (None: it was missing), the source
    partitions read (the day first) and the one missing: what a daily gold table with concurrency is built from."""
    calls, origin = read_source_day(source, day, columns)
    carried, previous = read_carried_over(source, day, carried_columns)
    if isinstance(previous, MissingPartition):
        return calls, None, [origin], (previous,)
    return calls, carried, [origin, previous], ()


def successor_is_stale(successor: GoldManifest | None, source: ReportSink, day: date) -> bool:
    """Whether the gold day after ``day`` was computed without ``day``'s current file (it was missing then, or has
    been pulled again since): it must be recomputed now that ``day`` is in. False when there is no successor yet."""
    if successor is None:
        return False
    manifest = source.read_manifest(day)
    if manifest is None:
        return False
    table, tenant = source.spec.table, source.tenant
    for missing in successor.missing_sources:
        if (missing.table, missing.partition, missing.tenant) == (table, day, tenant):
            return True
    for used in successor.sources:
        if (used.table, used.partition, used.tenant) == (table, day, tenant):
            return used.sha256 != manifest.file.sha256
    return False
