"""UTC days and instants as the lake and Graph write them."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, timedelta


def format_utc(moment: datetime) -> str:
    """ISO-8601 UTC with a ``Z``; fractional seconds only when there are some."""
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def day_window(day: date) -> tuple[datetime, datetime]:
    """The UTC window ``[day, day + 1)`` a partition holds."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return start, start + timedelta(days=1)


def days_of_month(month: date) -> list[date]:
    """Every day of the month ``month`` falls in, first to last."""
    first = month.replace(day=1)
    return [first + timedelta(days=i) for i in range(calendar.monthrange(first.year, first.month)[1])]
