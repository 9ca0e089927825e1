"""The lake-wide report of one table: one line per committed day, as text or as an HTML table.

Each line comes from what its sink has stored: the data (rows, and the report's daily rate such as failed calls,
read from a few columns only), the manifest (to tell a current quality report from a stale one) and the quality
report (status, warnings, failed sentinel checks). ``call_logs/charts.py`` draws the same lines as a page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from typing import Any

from call_logs.lake.manifest import Manifest
from call_logs.quality.engine import checks_for
from call_logs.reports.spec import ReportSpec
from call_logs.sinks import ReportSink


@dataclass(frozen=True)
class DayLine:
    """What the lake says about one committed day; None where the stored files cannot tell."""

    day: date
    rows: int | None
    rate_rows: int | None  # rows counted by the report's daily rate (e.g. failed calls)
    sentinel_violations: int | None
    warnings: int | None
    status: str  # pass | warn | fail (from _dq.json), stale (it judged another file) or unchecked

    @property
    def rate(self) -> float | None:
        if not self.rows or self.rate_rows is None:
            return None  # unknown, or a day without calls: no rate to show
        return self.rate_rows / self.rows

    @property
    def flagged(self) -> bool:
        return self.status in ("warn", "fail")


def _quality_status(quality: dict[str, Any] | None, manifest: Manifest | None) -> str:
    if quality is None:
        return "unchecked"
    checked = (quality.get("file") or {}).get("sha256")
    if manifest is None or checked != manifest.file.sha256:
        return "stale"
    return str(quality.get("status", "unchecked"))


def day_line(sink: ReportSink, day: date) -> DayLine:
    """The report line of one committed day."""
    spec = sink.spec
    sentinel_checks = {check.name for check in checks_for(spec) if check.group == "sentinel"}
    manifest = sink.read_manifest(day)
    quality = sink.read_quality(day)
    rate = spec.daily_rate
    table = sink.read_columns(day, list(rate.columns if rate else (spec.key_column,)))
    status = _quality_status(quality, manifest)
    current = quality if status not in ("unchecked", "stale") else None
    rows = table.num_rows if table is not None else (manifest.rows if manifest else None)
    return DayLine(
        day=day,
        rows=rows,
        rate_rows=rate.count(table) if rate and table is not None else None,
        sentinel_violations=None
        if current is None
        else sum(1 for c in current.get("checks", []) if c["name"] in sentinel_checks and c["status"] == "fail"),
        warnings=None if current is None else int(current.get("counts", {}).get("warnings", 0)),
        status=status,
    )


DaySums = dict[date, dict[str, dict[str, float]]]  # day -> group (e.g. currency) -> column -> sum


def daily_sums(sink: ReportSink) -> DaySums:
    """The report's ``daily_sums`` of every committed day (empty when the report has none), read column-wise."""
    sums = sink.spec.daily_sums
    if sums is None:
        return {}
    result: DaySums = {}
    for day in sink.committed_days():
        table = sink.read_columns(day, [sums.by, *sums.columns])
        if table is None:
            continue
        grouped = table.group_by(sums.by, use_threads=False).aggregate([(c, "sum") for c in sums.columns])
        result[day] = {
            str(row[sums.by]): {c: float(row[f"{c}_sum"] or 0) for c in sums.columns} for row in grouped.to_pylist()
        }
    return result


def lake_report(sink: ReportSink) -> list[DayLine]:
    """One line per committed day, oldest first."""
    return [day_line(sink, day) for day in sink.committed_days()]


# --- text -------------------------------------------------------------------------------------------------------


def _header(spec: ReportSpec) -> tuple[str, ...]:
    rate = spec.daily_rate.label if spec.daily_rate else "rate"
    return (spec.partition_column, "rows", rate, "sentinel_violations", "warnings", "status")


def _cells(line: DayLine) -> tuple[str, ...]:
    def known(value: object, text: str) -> str:
        return "-" if value is None else text

    rate = line.rate
    return (
        line.day.isoformat(),
        known(line.rows, f"{line.rows or 0:,}"),
        known(rate, f"{(rate or 0):.1%}"),
        known(line.sentinel_violations, str(line.sentinel_violations)),
        known(line.warnings, str(line.warnings)),
        line.status,
    )


def format_table(lines: list[DayLine], spec: ReportSpec) -> str:
    """A plain-text table: a header, then one line per day."""
    header = _header(spec)
    rows = [header, *(_cells(line) for line in lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(width) if i in (0, 5) else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    )


def table_html(lines: list[DayLine], spec: ReportSpec) -> str:
    """The same table as the CLI prints, as HTML (flagged days highlighted)."""
    header = "".join(f"<th>{name}</th>" for name in _header(spec))
    body = "\n".join(
        f'<tr class="{line.status}">' + "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(line)) + "</tr>"
        for line in lines
    )
    return f"<table><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table>"
