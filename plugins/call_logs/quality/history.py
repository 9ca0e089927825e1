"""The recent volume a day is compared with: ``rows`` of the committed days just before it.

Read from the previous days' manifests only (never their data), so the check stays cheap on a lake of years.
Only days before the checked one count: a backfill is judged against its own past, and re-checking an old day
gives the same answer whatever was committed after it.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import date, timedelta

from call_logs.sinks import ReportSink


@dataclass(frozen=True)
class VolumeHistory:
    """Row counts of the committed days in ``[day - history_days, day)`` that have a readable manifest."""

    days: tuple[date, ...]
    rows: tuple[int, ...]
    kind: str = "partitions"
    # Unknown property (kept in additionalProperties) -> the first of these days whose manifest counted it.
    first_seen: dict[str, date] = field(default_factory=dict, compare=False)

    @property
    def median(self) -> float | None:
        return statistics.median(self.rows) if self.rows else None

    def describe(self) -> str:
        if not self.days:
            return "no history"
        return f"median {self.median:,.1f} rows over {len(self.days)} {self.kind} ({self.days[0]} to {self.days[-1]})"

    def baseline_for(self, day: date, min_history: int) -> VolumeHistory:
        """The same weekday's history when there is enough of it, else every day's.

        Call volume follows the working week: against every day's median, each Saturday would look like an
        outage and each Monday after a quiet week like a spike.
        """
        same = [(d, r) for d, r in zip(self.days, self.rows, strict=True) if d.weekday() == day.weekday()]
        if len(same) < min_history:
            return self
        return VolumeHistory(tuple(d for d, _ in same), tuple(r for _, r in same), f"previous {day:%A}s")


def load_history(sink: ReportSink, day: date, history_days: int) -> VolumeHistory:
    """The volume history of ``day``: up to ``history_days`` calendar days before it."""
    earliest = day - timedelta(days=history_days)
    days, rows, first_seen = [], [], dict[str, date]()
    for previous in sink.committed_days():
        if not earliest <= previous < day:
            continue
        manifest = sink.read_manifest(previous)
        if manifest is None:
            continue  # a half-committed or foreign folder is no evidence of volume
        days.append(previous)
        rows.append(manifest.rows)
        for name in manifest.source.unknown_fields:
            first_seen.setdefault(name, previous)
    return VolumeHistory(tuple(days), tuple(rows), first_seen=first_seen)
