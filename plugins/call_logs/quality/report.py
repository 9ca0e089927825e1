"""The lake-wide report of one table: one line per committed day, and a chart of daily volume and a rate.

Each line comes from what its sink has stored: the data (rows, and the report's daily rate such as failed calls,
read from a few columns only), the manifest (to tell a current quality report from a stale one) and the quality
report (status, warnings, failed sentinel checks). The chart is self-contained HTML with inline SVG: no plotting
dependency, and it opens in any browser or CI artifact viewer.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from call_logs.lake.manifest import Manifest
from call_logs.quality.checks import checks_for
from call_logs.reports.spec import ReportSpec
from call_logs.sinks.base import Sink

CHART_SUFFIXES = (".html", ".htm", ".svg")
_SVG_OPEN = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="11">'
)
_COLOURS = {"pass": "#4c78a8", "warn": "#f58518", "fail": "#e45756", "stale": "#9d9d9d", "unchecked": "#bab0ac"}


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


def day_line(sink: Sink, day: date) -> DayLine:
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


def lake_report(sink: Sink) -> list[DayLine]:
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


# --- chart ------------------------------------------------------------------------------------------------------

_WIDTH, _HEIGHT = 960, 380
_LEFT, _RIGHT, _TOP, _BOTTOM = 70, 70, 40, 60


def _x(index: int, slots: int) -> float:
    return _LEFT + (index + 0.5) * (_WIDTH - _LEFT - _RIGHT) / slots


def _y(fraction: float) -> float:
    return _TOP + (1 - fraction) * (_HEIGHT - _TOP - _BOTTOM)


def _tooltip(line: DayLine, spec: ReportSpec) -> str:
    cells = dict(zip(_header(spec), _cells(line), strict=True))
    return html.escape(", ".join(f"{key}: {value}" for key, value in cells.items()))


def render_svg(lines: list[DayLine], spec: ReportSpec) -> str:
    """Daily rows as bars (coloured by quality status; flagged days marked ▲) and the daily rate as a line."""
    legend_rate = spec.daily_rate.legend if spec.daily_rate else "rate"
    if not lines:
        return _SVG_OPEN.format(width=_WIDTH, height=60) + '<text x="10" y="35">No committed days.</text></svg>'
    first = lines[0].day
    slots = (lines[-1].day - first).days + 1  # a calendar axis: missing days show as gaps
    top_rows = 1.1 * max(max(line.rows or 0 for line in lines), 1)  # headroom for the ▲ marks
    top_rate = max(0.1, 1.25 * max(line.rate or 0 for line in lines))
    bar = max(1.0, 0.8 * (_WIDTH - _LEFT - _RIGHT) / slots)
    parts = [
        _SVG_OPEN.format(width=_WIDTH, height=_HEIGHT),
        f'<text x="{_LEFT}" y="20" font-size="14">Daily calls (bars) and {legend_rate} (line)</text>',
        f'<line x1="{_LEFT}" y1="{_y(0)}" x2="{_WIDTH - _RIGHT}" y2="{_y(0)}" stroke="#333"/>',
    ]
    for fraction in (0, 0.5, 1):
        parts.append(
            f'<text x="{_LEFT - 6}" y="{_y(fraction) + 4}" text-anchor="end">{top_rows * fraction:,.0f}</text>'
        )
        parts.append(
            f'<text x="{_WIDTH - _RIGHT + 6}" y="{_y(fraction) + 4}" fill="#54a24b">{top_rate * fraction:.0%}</text>'
        )
    label_every = max(1, slots // 10)
    points: list[str] = []
    segments: list[list[str]] = []
    for line in lines:
        index = (line.day - first).days
        x, height = _x(index, slots), (line.rows or 0) / top_rows
        parts.append(
            f'<rect x="{x - bar / 2:.1f}" y="{_y(height):.1f}" width="{bar:.1f}" height="{_y(0) - _y(height):.1f}" '
            f'fill="{_COLOURS.get(line.status, _COLOURS["unchecked"])}"><title>{_tooltip(line, spec)}</title></rect>'
        )
        if line.flagged:
            parts.append(
                f'<text x="{x:.1f}" y="{_y(height) - 4:.1f}" text-anchor="middle" fill="{_COLOURS[line.status]}">▲'
                f"<title>{_tooltip(line, spec)}</title></text>"
            )
        if index % label_every == 0:
            parts.append(f'<text x="{x:.1f}" y="{_y(0) + 16}" text-anchor="middle">{line.day.isoformat()}</text>')
        if line.rate is not None:
            points.append(f"{x:.1f},{_y(line.rate / top_rate):.1f}")
        elif points:  # a day without a rate breaks the line rather than dragging it to 0%
            segments.append(points)
            points = []
    for segment in [*segments, points]:
        parts.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="#54a24b" stroke-width="2"/>')
    legend = [(status, colour) for status, colour in _COLOURS.items()] + [(legend_rate, "#54a24b")]
    for i, (label, colour) in enumerate(legend):
        x = _LEFT + i * 130
        parts.append(f'<rect x="{x}" y="{_HEIGHT - 22}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{_HEIGHT - 13}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(tables: list[tuple[ReportSpec, list[DayLine]]], title: str) -> str:
    """A self-contained page: per table, the chart, then the same table as the CLI prints."""
    sections = []
    for spec, lines in tables:
        header = "".join(f"<th>{name}</th>" for name in _header(spec))
        body = "\n".join(
            f'<tr class="{line.status}">' + "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(line)) + "</tr>"
            for line in lines
        )
        sections.append(
            f"""<h2>{html.escape(spec.table)}</h2>
{render_svg(lines, spec)}
<table><thead><tr>{header}</tr></thead><tbody>
{body}
</tbody></table>"""
        )
    joined = "\n".join(sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{padding:2px 10px;text-align:right}}tr.warn{{background:#fde9d4}}tr.fail{{background:#f9d7d7}}</style></head>
<body><h1>{html.escape(title)}</h1>
{joined}
</body></html>
"""


def write_chart(tables: list[tuple[ReportSpec, list[DayLine]]], path: str, title: str) -> None:
    """Write the charts as HTML (``.html``/``.htm``), or the first table's as bare SVG (``.svg``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ValueError(f"The chart file {path} must end in {', '.join(CHART_SUFFIXES)}.")
    document = render_svg(tables[0][1], tables[0][0]) if suffix == ".svg" else render_html(tables, title)
    Path(path).write_text(document, encoding="utf-8")
