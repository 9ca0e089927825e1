"""Late calls: what the config's ``LateCalls`` entries add to, change in and remove from a day's report.

``LatePlan`` resolves every entry once per config (which indices it adds, which calls its ids and positions
name) against the tenants' row generators; ``LatePlan.view`` then gives, for one tenant's report and the
entries visible at that moment, either the plain ``DailyLog`` (nothing visible: the very same object, so
everything that does not use late calls is served exactly as before) or a ``RevisedLog`` that answers the same
``bounds``/``count``/``rows`` with the visible revisions merged in start order.

Late call ``k`` of a (tenant, report, day) is the day's index ``-1 - k`` (``data.py``), ``k`` counted over the
entries of that day in config order, visible or not: a call keeps its id and row whenever it shows.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import date

from graph_emulator.config import EmulatorConfig, LateCalls
from graph_emulator.data import EPOCH, DailyLog

LogOf = Callable[[str, str], DailyLog]  # (tenant id, report function) -> that tenant's row generator


@dataclass(frozen=True)
class Resolved:
    """One ``LateCalls`` entry in indices of its day: the keys it adds, corrects and removes."""

    entry: LateCalls
    tenant: str  # resolved: the default tenant's id when the entry names none
    day: int  # days since 1970-01-01
    added: tuple[int, ...]  # negative indices, in order
    changed: tuple[int, ...]
    removed: tuple[int, ...]


@dataclass
class DayRevision:
    """The visible revisions of one day: late indices shown, corrections (index -> seconds later), removals."""

    added: list[int] = field(default_factory=list)
    changed: dict[int, int] = field(default_factory=dict)
    removed: set[int] = field(default_factory=set)


def day_number(day: date) -> int:
    return (day - EPOCH).days


class LatePlan:
    """Every late-calls entry of one config, resolved; ``view`` applies those visible to a tenant's report."""

    def __init__(self, resolved: tuple[Resolved, ...] = ()):
        self.resolved = resolved

    @classmethod
    def resolve(cls, config: EmulatorConfig, log_of: LogOf) -> LatePlan:
        """Resolve ``config.late_calls``; ``ValueError`` for a position past the day's calls or an unknown id."""
        if not config.late_calls:
            return cls()
        counts: dict[tuple[str, str, int], int] = {}  # late calls so far per (tenant, report, day)
        added: list[tuple[int, ...]] = []
        for entry in config.late_calls:
            key = (entry.tenant or config.tenant_id, entry.report, day_number(entry.day))
            offset = counts.get(key, 0)
            counts[key] = offset + entry.calls
            added.append(tuple(-1 - k for k in range(offset, offset + entry.calls)))
        ids: dict[tuple[str, str, int], dict[str, int]] = {}  # built when an entry names a call by id

        def index_of(entry: LateCalls, tenant: str, day: int, call: int | str) -> int:
            log = log_of(tenant, entry.report)
            n = log.rows_on(day)
            if isinstance(call, int):
                if call >= n:
                    raise ValueError(f"{entry.report} of {entry.day} has {n} calls: no call at position {call}")
                return call
            key = (tenant, entry.report, day)
            known = ids.get(key)
            if known is None:
                late = range(-1, -1 - counts.get(key, 0), -1)
                known = ids[key] = {log.call_id(day, index): index for index in (*range(n), *late)}
            if call not in known:
                raise ValueError(f"no call {call!r} in {entry.report} of {entry.day} for tenant {tenant}")
            return known[call]

        resolved = []
        for entry, keys in zip(config.late_calls, added, strict=True):
            tenant, day = entry.tenant or config.tenant_id, day_number(entry.day)
            resolved.append(
                Resolved(
                    entry,
                    tenant,
                    day,
                    keys,
                    tuple(index_of(entry, tenant, day, call) for call in entry.changed),
                    tuple(index_of(entry, tenant, day, call) for call in entry.removed),
                )
            )
        return cls(tuple(resolved))

    def revisions(self, tenant: str, report: str, shown: Collection[int]) -> dict[int, DayRevision]:
        """Day -> revisions of ``tenant``'s ``report`` by the entries at the positions in ``shown``."""
        days: dict[int, DayRevision] = {}
        for position, item in enumerate(self.resolved):
            if position not in shown or item.tenant != tenant or item.entry.report != report:
                continue
            revision = days.setdefault(item.day, DayRevision())
            revision.added += item.added
            for index in item.changed:
                revision.changed[index] = revision.changed.get(index, 0) + item.entry.change_s
            revision.removed.update(item.removed)
        return days

    def view(self, log: DailyLog, tenant: str, report: str, shown: Collection[int]) -> DailyLog | RevisedLog:
        """``log`` as ``tenant``'s ``report`` is served with the entries in ``shown`` visible."""
        days = self.revisions(tenant, report, shown)
        return RevisedLog(log, days) if days else log

    def rows_of(self, log: DailyLog, position: int, *, beta: bool = False) -> dict[str, list[str]]:
        """The rows entry ``position`` adds, corrects (as corrected) and removes (as they were before it).

        As they stand once it shows and every entry before it does (later entries aside), whenever that is.
        """
        item = self.resolved[position]
        before = RevisedLog(log, self.revisions(item.tenant, item.entry.report, range(position)))
        after = RevisedLog(log, self.revisions(item.tenant, item.entry.report, range(position + 1)))
        return {
            "added": [after.call_row(item.day, index, beta=beta) for index in item.added],
            "changed": [after.call_row(item.day, index, beta=beta) for index in item.changed],
            "removed": [before.call_row(item.day, index, beta=beta) for index in item.removed],
        }


# One run of a day's visible calls in served order: ``(day, n, first, stop)`` for the day's original calls
# ``first..stop-1`` (n: the day's count), or ``(day, n, index, index + 1)`` for the late call ``index`` (< 0).
_Piece = tuple[int, int, int, int]


class RevisedLog:
    """A ``DailyLog`` with some days revised: late calls merged in start order, corrections, removals.

    Answers ``bounds``, ``count`` and ``rows`` as ``DailyLog`` does; a late call starting at the same instant as
    original calls is served after them.
    """

    def __init__(self, log: DailyLog, days: Mapping[int, DayRevision]):
        self.log = log
        self.days = days
        self._late: dict[int, list[tuple[int, int]]] = {}  # day -> (start, index) of its shown late calls

    def bounds(self, start: int, end: int, *, end_inclusive: bool = False) -> tuple[int, int]:
        return self.log.bounds(start, end, end_inclusive=end_inclusive)

    def _late_of(self, day: int, revision: DayRevision) -> list[tuple[int, int]]:
        late = self._late.get(day)
        if late is None:
            shown = (index for index in revision.added if index not in revision.removed)
            # By start, then in the order they were added (late call k is index -1 - k).
            late = sorted(((self.log.start_at(day, index), index) for index in shown), key=lambda c: (c[0], -c[1]))
            self._late[day] = late
        return late

    def pieces(self, lo: int, hi: int) -> list[_Piece]:
        """The calls starting in ``[lo, hi)`` as they are served, in runs (see ``_Piece``)."""
        log, out = self.log, []
        day_units = log.day_units
        for day in range(lo // day_units, (hi - 1) // day_units + 1):
            n, first, stop = log.day_range(day, lo, hi)
            revision = self.days.get(day)
            if revision is None:
                if stop > first:
                    out.append((day, n, first, stop))
                continue
            # Markers in the order of the day's original calls: (position, 0, order, index) puts the late call
            # ``index`` before original call ``position`` (late calls in served order); (index, 1, 0, index)
            # drops the removed original call ``index``.
            markers = [(index, 1, 0, index) for index in revision.removed if first <= index < stop]
            for order, (start, index) in enumerate(self._late_of(day, revision)):
                if lo <= start < hi:
                    markers.append((log.calls_up_to(day, n, start), 0, order, index))
            position = first
            for at, kind, _, index in sorted(markers):
                if at > position:
                    out.append((day, n, position, at))
                    position = at
                if kind == 0:
                    out.append((day, n, index, index + 1))
                else:
                    position = at + 1
            if stop > position:
                out.append((day, n, position, stop))
        return out

    def count(self, lo: int, hi: int) -> int:
        return sum(stop - first for _, _, first, stop in self.pieces(lo, hi))

    def rows(self, lo: int, hi: int, skip: int, limit: int, *, beta: bool, extra: str = "") -> list[str]:
        """Rows ``skip .. skip+limit`` of the window ``[lo, hi)``, as JSON object texts; ``extra`` ends each."""
        out: list[str] = []
        for day, n, first, stop in self.pieces(lo, hi):
            size = stop - first
            if skip >= size:
                skip -= size
                continue
            changed = self.days[day].changed if day in self.days else {}
            for index in range(first + skip, min(stop, first + skip + limit - len(out))):
                row = self.log.row(day, n, index, beta=beta, extra=extra)
                out.append(self.log.lengthen(row, changed[index]) if index in changed else row)
            skip = 0
            if len(out) >= limit:
                break
        return out

    def call_row(self, day: int, index: int, *, beta: bool = False) -> str:
        """Call ``index`` of ``day`` as this view serves it (corrected if it is), shown or not."""
        row = self.log.row(day, self.log.rows_on(day), index, beta=beta)
        seconds = self.days[day].changed.get(index) if day in self.days else None
        return self.log.lengthen(row, seconds) if seconds else row
