"""A pull window ``[start, end)`` and the exact report-function URL that asks Graph for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from call_logs.graph.errors import GraphConfigError
from call_logs.utc import format_utc

# Graph's call-log reports document a 90-day maximum (406 beyond); every report is assumed to share it.
MAX_WINDOW = timedelta(days=90)


@dataclass(frozen=True)
class Window:
    """Calls whose ``startDateTime`` is in ``[start, end)``, both tz-aware."""

    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        for name, value in (("start", self.start), ("end", self.end)):
            if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
                raise GraphConfigError(f"The window {name} ({value!r}) must be a timezone-aware datetime.")
        if self.start >= self.end:
            raise GraphConfigError(
                f"The window start {format_utc(self.start)} must be before its end {format_utc(self.end)}."
            )
        if self.end - self.start > MAX_WINDOW:
            raise GraphConfigError(
                f"The window {format_utc(self.start)} to {format_utc(self.end)} is longer than Graph's 90-day maximum; "
                "pull it in shorter windows."
            )

    def url(self, graph_root: str, api_version: str, function_path: str) -> str:
        """The absolute function URL; values are unquoted, as Graph expects, and built here, not by an SDK."""
        return (
            f"{graph_root}/{api_version}/{function_path}"
            f"(fromDateTime={format_utc(self.start)},toDateTime={format_utc(self.end)})"
        )

    def split(self, step: timedelta) -> list[Window]:
        """Consecutive sub-windows of at most ``step`` that exactly cover this one."""
        pieces, cursor = [], self.start
        while cursor < self.end:
            upper = min(cursor + step, self.end)
            pieces.append(Window(cursor, upper))
            cursor = upper
        return pieces
