"""The lake-wide report: one line per committed day, and a chart of daily volume and failure rate.

Each line comes from what is stored: the data file (rows and failed calls, read from its ``successfulCall``
column only), the manifest (to tell a current ``_dq.json`` from a stale one) and ``_dq.json`` (status,
warnings, sentinel findings). The chart is self-contained HTML with inline SVG: no plotting dependency,
and it opens in any browser or CI artifact viewer.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from call_logs.lake.layout import DATA_FILE, QUALITY_FILE, partition_path
from call_logs.lake.partition import committed_days, read_manifest
from call_logs.lake.storage import read_json

SENTINEL_CHECKS = frozenset(
    {
        "sentinel_leak",
        "sentinel_counts",
        "successful_call_has_no_failure_time",
        "successful_call_has_end_time",
        "failed_call_has_failure_time",
    }
)
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
    failed_calls: int | None
    sentinel_violations: int | None
    warnings: int | None
    status: str  # pass | warn | fail (from _dq.json), stale (it judged another file) or unchecked

    @property
    def failure_rate(self) -> float | None:
        if not self.rows or self.failed_calls is None:
            return None  # unknown, or a day without calls: no rate to show
        return self.failed_calls / self.rows

    @property
    def flagged(self) -> bool:
        return self.status in ("warn", "fail")


def _file_outcomes(fs: AbstractFileSystem, path: str) -> tuple[int | None, int | None]:
    """(rows, failed calls) of a data file, reading only its ``successfulCall`` column."""
    try:
        with fs.open(path, "rb") as handle:
            outcome = pq.read_table(handle, columns=["successfulCall"])["successfulCall"]
    except (FileNotFoundError, OSError, KeyError, ValueError):
        return None, None
    return len(outcome), int(pc.sum(pc.fill_null(pc.invert(outcome), False)).as_py() or 0)


def _quality_status(quality: dict[str, Any] | None, manifest: dict[str, Any] | None) -> str:
    if quality is None:
        return "unchecked"
    checked = (quality.get("file") or {}).get("sha256")
    if manifest is None or checked != (manifest.get("file") or {}).get("sha256"):
        return "stale"
    return str(quality.get("status", "unchecked"))


def day_line(fs: AbstractFileSystem, root: str, day: date) -> DayLine:
    """The report line of one committed day."""
    folder = partition_path(root, day)
    manifest = read_manifest(fs, root, day)
    quality = read_json(fs, f"{folder}/{QUALITY_FILE}")
    rows, failed = _file_outcomes(fs, f"{folder}/{DATA_FILE}")
    status = _quality_status(quality, manifest)
    current = quality if status not in ("unchecked", "stale") else None
    return DayLine(
        day=day,
        rows=rows if rows is not None else (manifest or {}).get("rows"),
        failed_calls=failed,
        sentinel_violations=None
        if current is None
        else sum(1 for c in current.get("checks", []) if c["name"] in SENTINEL_CHECKS and c["status"] == "fail"),
        warnings=None if current is None else int(current.get("counts", {}).get("warnings", 0)),
        status=status,
    )


def lake_report(fs: AbstractFileSystem, root: str) -> list[DayLine]:
    """One line per committed day, oldest first."""
    return [day_line(fs, root, day) for day in committed_days(fs, root)]


# --- text -------------------------------------------------------------------------------------------------------

_HEADER = ("call_date", "rows", "failed_rate", "sentinel_violations", "warnings", "status")


def _cells(line: DayLine) -> tuple[str, ...]:
    def known(value: object, text: str) -> str:
        return "-" if value is None else text

    rate = line.failure_rate
    return (
        line.day.isoformat(),
        known(line.rows, f"{line.rows or 0:,}"),
        known(rate, f"{(rate or 0):.1%}"),
        known(line.sentinel_violations, str(line.sentinel_violations)),
        known(line.warnings, str(line.warnings)),
        line.status,
    )


def format_table(lines: list[DayLine]) -> str:
    """A plain-text table: a header, then one line per day."""
    rows = [_HEADER, *(_cells(line) for line in lines)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_HEADER))]
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


def _tooltip(line: DayLine) -> str:
    cells = dict(zip(_HEADER, _cells(line), strict=True))
    return html.escape(", ".join(f"{key}: {value}" for key, value in cells.items()))


def render_svg(lines: list[DayLine]) -> str:
    """Daily rows as bars (coloured by quality status; flagged days marked ▲) and failure rate as a line."""
    if not lines:
        return _SVG_OPEN.format(width=_WIDTH, height=60) + '<text x="10" y="35">No committed days.</text></svg>'
    first = lines[0].day
    slots = (lines[-1].day - first).days + 1  # a calendar axis: missing days show as gaps
    top_rows = 1.1 * max(max(line.rows or 0 for line in lines), 1)  # headroom for the ▲ marks
    top_rate = max(0.1, 1.25 * max(line.failure_rate or 0 for line in lines))
    bar = max(1.0, 0.8 * (_WIDTH - _LEFT - _RIGHT) / slots)
    parts = [
        _SVG_OPEN.format(width=_WIDTH, height=_HEIGHT),
        f'<text x="{_LEFT}" y="20" font-size="14">Daily calls (bars) and failed-call rate (line)</text>',
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
            f'fill="{_COLOURS.get(line.status, _COLOURS["unchecked"])}"><title>{_tooltip(line)}</title></rect>'
        )
        if line.flagged:
            parts.append(
                f'<text x="{x:.1f}" y="{_y(height) - 4:.1f}" text-anchor="middle" fill="{_COLOURS[line.status]}">▲'
                f"<title>{_tooltip(line)}</title></text>"
            )
        if index % label_every == 0:
            parts.append(f'<text x="{x:.1f}" y="{_y(0) + 16}" text-anchor="middle">{line.day.isoformat()}</text>')
        if line.failure_rate is not None:
            points.append(f"{x:.1f},{_y(line.failure_rate / top_rate):.1f}")
        elif points:  # a day without a rate breaks the line rather than dragging it to 0%
            segments.append(points)
            points = []
    for segment in [*segments, points]:
        parts.append(f'<polyline points="{" ".join(segment)}" fill="none" stroke="#54a24b" stroke-width="2"/>')
    legend = [(status, colour) for status, colour in _COLOURS.items()] + [("failed-call rate", "#54a24b")]
    for i, (label, colour) in enumerate(legend):
        x = _LEFT + i * 130
        parts.append(f'<rect x="{x}" y="{_HEIGHT - 22}" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{x + 14}" y="{_HEIGHT - 13}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "\n".join(parts)


def render_html(lines: list[DayLine], title: str) -> str:
    """A self-contained page: the chart, then the same table as the CLI prints."""
    header = "".join(f"<th>{name}</th>" for name in _HEADER)
    body = "\n".join(
        f'<tr class="{line.status}">' + "".join(f"<td>{html.escape(cell)}</td>" for cell in _cells(line)) + "</tr>"
        for line in lines
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{padding:2px 10px;text-align:right}}tr.warn{{background:#fde9d4}}tr.fail{{background:#f9d7d7}}</style></head>
<body><h1>{html.escape(title)}</h1>
{render_svg(lines)}
<table><thead><tr>{header}</tr></thead><tbody>
{body}
</tbody></table></body></html>
"""


def write_chart(lines: list[DayLine], path: str, title: str) -> None:
    """Write the chart as HTML (``.html``/``.htm``) or bare SVG (``.svg``)."""
    suffix = Path(path).suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ValueError(f"The chart file {path} must end in {', '.join(CHART_SUFFIXES)}.")
    document = render_svg(lines) if suffix == ".svg" else render_html(lines, title)
    Path(path).write_text(document, encoding="utf-8")
