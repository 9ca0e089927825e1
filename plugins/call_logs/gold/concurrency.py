"""Calls up at once, minute by minute: CQD's "concurrent calls", the most simultaneous active calls in a minute.

A call holds its trunk from its INVITE (``inviteDateTime``, else ``startDateTime``) until it ends: ``endDateTime``
for an established call, ``failureDateTime`` for one that failed (neither: the instant it started). It is up in a
minute if it is up at any moment of it; the instant it ends is not a moment up (a call ending at 10:01:00.000 is not
up in 10:01). A day's figures also count the previous day's calls still up after midnight (they are stored in the
day they started): ``carried_over`` picks them out of the previous day.

Counting is columnar: each call adds one at its first minute and takes one away after its last, per trunk (a
difference array built with ``numpy.bincount``), and a cumulative sum gives every minute's count: no per-call Python.
Direction comes from ``callType``: ``ByotIn…`` / ``dr_in…`` inbound, ``ByotOut…`` / ``dr_out…`` outbound (any
case); other types count in the total only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MINUTES_PER_DAY = 1440
MICROS_PER_MINUTE = 60_000_000
SESSION_COLUMNS = ["inviteDateTime", "startDateTime", "endDateTime", "failureDateTime"]
INBOUND_PREFIXES = ("byotin", "dr_in")
OUTBOUND_PREFIXES = ("byotout", "dr_out")


def day_start_micros(day: date) -> int:
    """The day's first microsecond since the epoch (UTC)."""
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1_000_000


def session_bounds(calls: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """Each call's hold on its trunk as ``[begin, end)`` in microseconds since the epoch (int64 numpy arrays)."""

    def micros(column: str) -> pa.ChunkedArray:
        return pc.cast(calls[column], pa.int64())

    begin = pc.coalesce(micros("inviteDateTime"), micros("startDateTime"))
    end = pc.coalesce(micros("endDateTime"), micros("failureDateTime"), micros("startDateTime"))
    begin_np = np.asarray(begin.fill_null(0).to_numpy(), dtype=np.int64)
    end_np = np.asarray(end.fill_null(0).to_numpy(), dtype=np.int64)
    return begin_np, np.maximum(end_np, begin_np)


def carried_over(previous: pa.Table, day: date) -> pa.Table:
    """The previous day's calls still up after ``day``'s midnight (the rows of ``previous`` whose hold ends later)."""
    _, end = session_bounds(previous)
    return previous.filter(pa.array(end > day_start_micros(day)))


def directions(call_type: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(inbound, outbound) boolean arrays from ``callType``'s prefix."""
    lowered = pc.utf8_lower(call_type)

    def starts(prefixes: tuple[str, ...]) -> np.ndarray:
        hits = [pc.fill_null(pc.starts_with(lowered, prefix), False) for prefix in prefixes]
        combined = hits[0]
        for hit in hits[1:]:
            combined = pc.or_(combined, hit)
        return np.asarray(combined.to_numpy(zero_copy_only=False), dtype=bool)

    return starts(INBOUND_PREFIXES), starts(OUTBOUND_PREFIXES)


def minute_counts(
    begin: np.ndarray, end: np.ndarray, group: np.ndarray, groups: int, day_start: int, minutes: int = MINUTES_PER_DAY
) -> np.ndarray:
    """Calls up in each minute of the day, per group: an int64 array of shape ``(groups, minutes)``.

    ``begin``/``end`` are microseconds since the epoch; ``day_start`` the day's first microsecond. Calls outside the
    day count for none of its minutes; those crossing its edges for the minutes inside it.
    """
    first = (begin - day_start) // MICROS_PER_MINUTE
    last = np.where(end > begin, (end - 1 - day_start) // MICROS_PER_MINUTE, first)  # an end is not a moment up
    inside = (last >= 0) & (first < minutes)
    first, last, group = np.clip(first[inside], 0, minutes - 1), np.clip(last[inside], 0, minutes - 1), group[inside]
    width = minutes + 1
    diff = np.bincount(group * width + first, minlength=groups * width).astype(np.int64)
    diff -= np.bincount(group * width + last + 1, minlength=groups * width)
    return np.cumsum(diff.reshape(groups, width)[:, :minutes], axis=1)


@dataclass(frozen=True)
class DayConcurrency:
    """A day's calls up per group (trunk) and minute: all of them, inbound and outbound (``(groups, 1440)`` each)."""

    day: date
    total: np.ndarray
    inbound: np.ndarray
    outbound: np.ndarray

    def peak(self) -> np.ndarray:
        return self.total.max(axis=1, initial=0)

    def peak_minute(self) -> list[datetime]:
        """The first minute each group reached its peak (UTC)."""
        start = datetime(self.day.year, self.day.month, self.day.day, tzinfo=UTC)
        return [start + minute * _MINUTE for minute in self.total.argmax(axis=1).tolist()]

    def p95(self) -> np.ndarray:
        """The 95th percentile of each group's minutes (every minute of the day, idle ones too), linear
        interpolation (DuckDB's ``quantile_cont``)."""
        return np.percentile(self.total, 95, axis=1, method="linear")

    def hourly_peak(self) -> np.ndarray:
        """The most calls up in any minute of each hour: shape ``(groups, 24)``."""
        return self.total.reshape(len(self.total), 24, 60).max(axis=2)


_MINUTE = datetime(2000, 1, 1, 0, 1) - datetime(2000, 1, 1)


def day_concurrency(sessions: pa.Table, group: np.ndarray, groups: int, day: date) -> DayConcurrency:
    """Count ``sessions`` (a table with ``SESSION_COLUMNS`` and ``callType``; the day's calls and those carried
    over) per ``group`` (an index per row, below ``groups``) and minute of ``day``."""
    begin, end = session_bounds(sessions)
    inbound, outbound = directions(sessions["callType"])
    start = day_start_micros(day)
    return DayConcurrency(
        day,
        minute_counts(begin, end, group, groups, start),
        minute_counts(begin[inbound], end[inbound], group[inbound], groups, start),
        minute_counts(begin[outbound], end[outbound], group[outbound], groups, start),
    )
