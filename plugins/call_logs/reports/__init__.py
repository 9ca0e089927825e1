"""The Graph call-log reports this project pulls, one spec module each; ``report(name)`` finds one by table name."""

from __future__ import annotations

from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.reports.pstn import PSTN
from call_logs.reports.spec import ReportSpec

REPORTS: dict[str, ReportSpec] = {spec.table: spec for spec in (DIRECT_ROUTING, PSTN)}


class UnknownReport(ValueError):
    """A report name this project has no spec for."""


def report(name: str) -> ReportSpec:
    """The spec of table ``name``; one sentence naming the known ones otherwise."""
    try:
        return REPORTS[name]
    except KeyError:
        raise UnknownReport(f"There is no report {name!r}; use one of {', '.join(sorted(REPORTS))}.") from None
