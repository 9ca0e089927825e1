"""Re-check a settled day: pull it again at a set age, keep the new version only if it changed, record the outcome.

Graph's reports usually settle within the ``settle_hours`` a day waits before its pull, not always: calls can show
up, end later or vanish days afterwards. A re-check pulls the day again (the same budget rules and guarantees as a
re-run), compares it row by row with the stored version (``lake/day_diff.py``) and commits it only when it differs,
with what changed in its manifest (``Manifest.recheck``). An unchanged day is not rewritten. Every re-check, changed
or not, is recorded in ``<lake_root>/_rechecks/<table>/[tenant=<slug>/]<YYYY-MM-DD>.json``, the evidence for tuning
``settle_hours`` (``RecheckLedger.summary``).

Plain Python (no Airflow): ``operators/recheck.py`` runs it for the day ``recheck_days`` before a run's day.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any, Unpack

import fsspec
import pyarrow.parquet as pq

from call_logs.extract import PullOptions, pull_day, retention_skip_reason
from call_logs.graph.client import GraphReportClient
from call_logs.lake.day_diff import DayDiff, diff_days, row_digests
from call_logs.lake.manifest import Manifest
from call_logs.lake.prepare import PreparedDay
from call_logs.sinks import ReportSink
from call_logs.sinks.base import replace_day_if_changed
from call_logs.tables.partitioned import StagedDay
from call_logs.utc import format_utc

RECHECKS_FOLDER = "_rechecks"
_BATCH_ROWS = 16_384


def recheck_skip_reason(
    day: date, recheck_days: int, previous: Manifest | None, retention_days: int, now: datetime
) -> str | None:
    """Why ``day`` is not pulled again now, or None when its stored version is due for a re-check.

    A stored version is due once it is ``recheck_days`` old (within half a day: runs start at about the same time
    each day). That is the scheduled version of a day ``recheck_days`` runs later; a day a backfill or a re-run
    pulled recently is skipped, as nothing can have settled since.
    """
    if previous is None:
        return f"call_date={day} has not landed; its own run pulls it, a re-check only pulls a landed day again."
    skip = retention_skip_reason(day, retention_days, now.date())
    if skip:
        return skip
    age = (now - previous.finished_at) / timedelta(days=1)
    if age < recheck_days - 0.5:
        return (
            f"call_date={day} was last pulled {age:.1f} days ago, less than the re-check age of {recheck_days} days: "
            "nothing can have settled since."
        )
    return None


@dataclass(frozen=True)
class RecheckRecord:
    """One re-check of a day: when, at what age, and what it found."""

    day: date
    checked_at: datetime
    age_days: float
    changed: bool
    diff: DayDiff
    rows_before: int
    rows_after: int
    quarantine_changed: bool = False
    run: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "call_date": self.day.isoformat(),
            "checked_at": format_utc(self.checked_at),
            "age_days": self.age_days,
            "changed": self.changed,
            "rows_before": self.rows_before,
            "rows_after": self.rows_after,
            "quarantine_changed": self.quarantine_changed,
            "diff": self.diff.to_dict(),
            "run": self.run,
        }

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> RecheckRecord:
        return cls(
            day=date.fromisoformat(document["call_date"]),
            checked_at=datetime.fromisoformat(document["checked_at"]),
            age_days=float(document["age_days"]),
            changed=bool(document["changed"]),
            diff=DayDiff.from_dict(document["diff"]),
            rows_before=int(document["rows_before"]),
            rows_after=int(document["rows_after"]),
            quarantine_changed=bool(document.get("quarantine_changed", False)),
            run=dict(document.get("run") or {}),
        )


@dataclass(frozen=True)
class RecheckSummary:
    """How often the re-checked days of a table changed after settling."""

    rechecked: int
    changed: int
    rows_added: int
    rows_removed: int
    rows_changed: int

    def sentence(self, settle_hours: float | None = None) -> str:
        share = f"{self.changed / self.rechecked:.0%}" if self.rechecked else "-"
        text = (
            f"{self.changed} of the last {self.rechecked} re-checked days changed after settling ({share}): "
            f"{self.rows_added} rows added, {self.rows_removed} removed, {self.rows_changed} changed"
        )
        if self.changed and settle_hours is not None:
            text += f"; days are pulled {settle_hours:g} h after they end, a longer settle_hours would catch these"
        return text


@dataclass
class RecheckLedger:
    """The latest re-check of each day, under ``<root>/_rechecks/<table>/[tenant=<slug>/]<YYYY-MM-DD>.json``."""

    fs: fsspec.AbstractFileSystem
    root: str

    def folder(self, table: str, tenant: str | None) -> str:
        level = f"/tenant={tenant}" if tenant else ""
        return f"{self.root.rstrip('/')}/{RECHECKS_FOLDER}/{table}{level}"

    def record(self, table: str, tenant: str | None, record: RecheckRecord) -> str:
        folder = self.folder(table, tenant)
        path = f"{folder}/{record.day.isoformat()}.json"
        self.fs.makedirs(folder, exist_ok=True)
        with self.fs.open(path, "wb") as handle:
            handle.write(json.dumps(record.to_dict(), indent=1, sort_keys=True).encode())
        return path

    def read(self, table: str, tenant: str | None, day: date) -> RecheckRecord | None:
        try:
            with self.fs.open(f"{self.folder(table, tenant)}/{day.isoformat()}.json", "rb") as handle:
                return RecheckRecord.from_dict(json.load(handle))
        except FileNotFoundError:
            return None

    def recent(self, table: str, tenant: str | None, up_to: date, limit: int) -> list[RecheckRecord]:
        """The re-checks of up to ``limit`` days on or before ``up_to``, latest day first."""
        folder = self.folder(table, tenant)
        try:
            names = [path.rsplit("/", 1)[-1] for path in self.fs.ls(folder, detail=False)]
        except FileNotFoundError:
            return []
        days = sorted((name.removesuffix(".json") for name in names if name.endswith(".json")), reverse=True)
        wanted = [d for d in days if d <= up_to.isoformat()][:limit]
        records = [self.read(table, tenant, date.fromisoformat(d)) for d in wanted]
        return [record for record in records if record is not None]

    def summary(self, table: str, tenant: str | None, up_to: date, limit: int) -> RecheckSummary:
        records = self.recent(table, tenant, up_to, limit)
        return RecheckSummary(
            rechecked=len(records),
            changed=sum(r.changed for r in records),
            rows_added=sum(r.diff.added for r in records),
            rows_removed=sum(r.diff.removed for r in records),
            rows_changed=sum(r.diff.changed for r in records),
        )


def recheck_day(
    client: GraphReportClient, sink: ReportSink, day: date, previous: Manifest, **options: Unpack[PullOptions]
) -> tuple[RecheckRecord, Manifest | None]:
    """Pull ``day`` again and replace it only if it differs from the stored version ``previous`` describes.

    Returns the re-check's record and the new manifest (None when the day was unchanged and nothing was written).
    The pull follows the stored day's own hourly profile; ``options`` are ``extract_day``'s.
    """
    checked_at = datetime.now(UTC)
    age_days = (checked_at - previous.window_end) / timedelta(days=1)
    found: dict[str, Any] = {}

    def write(prepared: PreparedDay, facts_for: Callable[[StagedDay], Manifest]) -> Manifest | None:
        def compare(staged: StagedDay) -> Manifest | None:
            diff = _diff_with_stored(sink, day, staged)
            new_quarantine = staged.quarantine.stored.sha256 if staged.quarantine else None
            old_quarantine = previous.quarantine.sha256 if previous.quarantine else None
            found.update(diff=diff, quarantine_changed=new_quarantine != old_quarantine, rows=prepared.rows)
            # A day stored under an older schema version is rewritten in the current one even if no value changed.
            same_schema = previous.schema_version == sink.spec.schema_version
            if diff.unchanged and not found["quarantine_changed"] and same_schema:
                return None
            return replace(
                facts_for(staged),
                recheck={
                    "age_days": round(age_days, 3),
                    "previous": {
                        "rows": previous.rows,
                        "sha256": previous.file.sha256,
                        "started_at": format_utc(previous.started_at),
                        "run_id": previous.run.get("run_id"),
                    },
                    **diff.to_dict(),
                    "quarantine_changed": found["quarantine_changed"],
                },
            )

        return replace_day_if_changed(sink, day, prepared, compare)

    options.setdefault("expected_rows_per_hour", list(previous.source.rows_per_hour) or None)
    manifest = pull_day(client, sink, day, write, **options)
    record = RecheckRecord(
        day=day,
        checked_at=checked_at,
        age_days=round(age_days, 3),
        changed=manifest is not None,
        diff=found["diff"],
        rows_before=previous.rows,
        rows_after=found["rows"],
        quarantine_changed=found["quarantine_changed"],
        run=dict(options.get("run") or {}),
    )
    return record, manifest


def _diff_with_stored(sink: ReportSink, day: date, staged: StagedDay) -> DayDiff:
    """Row by row, the staged day against the stored one (an unreadable stored day counts as all rows new), over
    the columns both have: a day stored under an older schema version is compared on the columns it had."""
    spec = sink.spec
    with sink.open_day(day) as stored:
        names = spec.schema.names
        if stored.data is not None:
            names = [name for name in names if name in stored.data.schema.names]
        staged_file = pq.ParquetFile(staged.local_path)
        try:
            batches = staged_file.iter_batches(batch_size=_BATCH_ROWS, columns=names)
            after = row_digests(batches, spec.key_column, spec.time_column)
        finally:
            staged_file.close()
        before_batches = [] if stored.data is None else stored.data.iter_batches(names, _BATCH_ROWS)
        before = row_digests(before_batches, spec.key_column, spec.time_column)
    return diff_days(before, after)
