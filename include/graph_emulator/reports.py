"""The report functions the emulator serves, each described as data.

A ``Report`` says everything the server needs to answer one Graph call-log function: its name in the URL, the
row type named in ``@odata.context``, the generator of its rows, and whether ``toDateTime`` is inclusive. Paging,
errors, throttling and faults are the same for every report, so adding a report is adding one entry here.
"""

from __future__ import annotations

from dataclasses import dataclass

from graph_emulator.data import DailyLog, DirectRoutingLog, PstnLog


@dataclass(frozen=True)
class Report:
    function: str  # as in the URL: ``.../callRecords/{function}(fromDateTime=...,toDateTime=...)``
    row_type: str  # the OData type of a row, as ``@odata.context`` names it
    log: type[DailyLog]  # generator of the rows: ``log(seed, rows_per_day, weekday_profile)``
    end_inclusive: bool  # True: a call starting exactly at ``toDateTime`` is returned


DIRECT_ROUTING_CALLS = "getDirectRoutingCalls"
PSTN_CALLS = "getPstnCalls"

REPORTS: dict[str, Report] = {
    report.function: report
    for report in (
        Report(
            DIRECT_ROUTING_CALLS,
            "microsoft.graph.callRecords.directRoutingLogRow",
            DirectRoutingLog,
            end_inclusive=False,  # "UTC, exclusive" since Microsoft's 2022 doc fix
        ),
        Report(
            PSTN_CALLS,
            "microsoft.graph.callRecords.pstnCallLogRow",
            PstnLog,
            end_inclusive=True,  # "UTC, inclusive": a call starting exactly at toDateTime is returned
        ),
    )
}


def report_named(function: str) -> Report:
    """The report served as ``function``; ``ValueError`` names the known ones otherwise."""
    try:
        return REPORTS[function]
    except KeyError:
        raise ValueError(f"unknown report {function!r}; expected one of {sorted(REPORTS)}") from None
