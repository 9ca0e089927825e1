"""The lake report's charts as one self-contained HTML page (plotly, its JavaScript embedded: works offline).

Per report table: daily rows as bars coloured by quality status (flagged days marked ▲) and the report's daily
rate as a line. Per trunk of ``direct_routing_trunk_health``: calls as bars and success rate, answer-seizure
ratio and media-bypass share as lines, day by day. plotly is a tool dependency (requirements-dev.txt), imported
only when a chart is written.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from call_logs.gold.table import TRUNK
from call_logs.quality.report import DayLine, DaySums, table_html
from call_logs.reports.spec import ReportSpec

if TYPE_CHECKING:
    import plotly.graph_objects as go

CHART_SUFFIXES = (".html", ".htm")
TrunkDays = dict[date, list[dict[str, Any]]]  # a trunk-health day's rows by day
STATUS_COLOURS = {"pass": "#4c78a8", "warn": "#f58518", "fail": "#e45756", "stale": "#9d9d9d", "unchecked": "#bab0ac"}
RATE_COLOUR = "#54a24b"
DAY_MS = 86_400_000  # plotly's date axes count milliseconds
HALF_DAY = timedelta(hours=12)
MAX_TICKS = 12
TRUNK_RATES = (
    ("success_rate", "success rate", "#54a24b"),
    ("answer_seizure_ratio", "answer-seizure ratio", "#4c78a8"),
    ("media_bypass_share", "media-bypass share", "#b279a2"),
)


@dataclass(frozen=True)
class TableSection:
    """One report table (of one tenant, in a lake of many) on the page: its days, and its daily sums if any."""

    spec: ReportSpec
    lines: list[DayLine]
    sums: DaySums | None = None
    tenant: str | None = None

    @property
    def heading(self) -> str:
        return self.spec.table if self.tenant is None else f"{self.spec.table} · tenant {self.tenant}"


@dataclass(frozen=True)
class TrunkDay:
    """One day of one trunk, as the trunk-health table holds it."""

    day: date
    calls: int
    rates: dict[str, float | None]
    duration_p95_s: float | None


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError:
        raise RuntimeError(
            "Charts need plotly (requirements-dev.txt): pip install plotly==7.1.0, or leave out --chart."
        ) from None
    return go


def _calendar(first: date, last: date) -> list[str]:
    """Every day from first to last: missing days show as gaps, not as neighbours."""
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def day_axis(first: date, last: date) -> dict[str, Any]:
    """A time axis of whole days: ticks at midnight, the centre of a day's bar or point, labelled as dates (never
    12:00 between days); one a day up to 12 days, then every 2, 7 or 14 days, then the first of each month, so that
    a week and half a year alike keep about a dozen readable ticks. The range spans the days with half a day spare."""
    span = (last - first).days + 1
    step = next((days for days in (1, 2, 7, 14) if span <= MAX_TICKS * days), None)
    ticks: dict[str, Any] = (
        {"dtick": step * DAY_MS, "tick0": first.isoformat()}
        if step is not None
        else {"dtick": "M1", "tick0": first.replace(day=1).isoformat()}
    )
    start = datetime(first.year, first.month, first.day) - HALF_DAY
    end = datetime(last.year, last.month, last.day) + HALF_DAY
    return {
        "type": "date",
        "tickformat": "%Y-%m-%d",
        "hoverformat": "%Y-%m-%d",
        "range": [start.isoformat(), end.isoformat()],
        **ticks,
    }


def lake_figure(lines: list[DayLine], spec: ReportSpec, heading: str | None = None) -> go.Figure:
    """Daily rows (bars coloured by quality status, ▲ on flagged days) and, when the report has one, its daily rate
    (line, right axis). A report without a daily rate (PSTN) gets no right axis at all."""
    go = _plotly()
    rate = spec.daily_rate
    title = f"{heading or spec.table}: daily calls (bars)" + (f" and {rate.legend} (line)" if rate else "")
    figure = go.Figure()
    figure.update_layout(title=title, yaxis={"title": "rows", "rangemode": "tozero"}, bargap=0.2, height=420)
    if rate is not None:
        right = {"title": rate.legend, "overlaying": "y", "side": "right", "tickformat": ".0%", "rangemode": "tozero"}
        figure.update_layout(yaxis2=right)
    if not lines:
        figure.update_layout(xaxis={"type": "date"})
        figure.add_annotation(text="No committed days.", showarrow=False)
        return figure
    figure.update_layout(xaxis=day_axis(lines[0].day, lines[-1].day))
    hover = "%{x}: %{y:,} rows" + ("<br>rate %{customdata[0]:.1%}" if rate else "") + "<br>warnings %{customdata[1]}"
    for status, colour in STATUS_COLOURS.items():
        days = [line for line in lines if line.status == status]
        if days:
            figure.add_bar(
                x=[line.day.isoformat() for line in days],
                y=[line.rows or 0 for line in days],
                name=status,
                marker_color=colour,
                customdata=[[line.rate, line.warnings, line.sentinel_violations] for line in days],
                hovertemplate=hover,
            )
    flagged = [line for line in lines if line.flagged]
    if flagged:
        top = max(line.rows or 0 for line in lines)
        figure.add_scatter(
            x=[line.day.isoformat() for line in flagged],
            y=[(line.rows or 0) + 0.04 * top for line in flagged],
            mode="markers",
            marker={"symbol": "triangle-up", "size": 12, "color": [STATUS_COLOURS[line.status] for line in flagged]},
            name="flagged",
            hovertext=[line.status for line in flagged],
        )
    if rate is None:
        return figure
    by_day = {line.day.isoformat(): line.rate for line in lines}
    calendar = _calendar(lines[0].day, lines[-1].day)
    figure.add_scatter(  # None breaks the line on a day without a rate (or without a partition)
        x=calendar,
        y=[by_day.get(day) for day in calendar],
        mode="lines+markers",
        name=rate.legend,
        yaxis="y2",
        line={"color": RATE_COLOUR, "width": 2},
        connectgaps=False,
    )
    return figure


def trunk_series(rows_by_day: dict[date, list[dict[str, Any]]]) -> dict[str | None, list[TrunkDay]]:
    """Trunk → its days, from each day's trunk-health rows."""
    series: dict[str | None, list[TrunkDay]] = defaultdict(list)
    for day in sorted(rows_by_day):
        for row in rows_by_day[day]:
            rates = {column: row[column] for column, _, _ in TRUNK_RATES}
            series[row[TRUNK]].append(TrunkDay(day, row["calls"], rates, row["duration_p95_s"]))
    return dict(sorted(series.items(), key=lambda item: (item[0] is None, item[0] or "")))


def trunk_figure(trunk: str | None, days: list[TrunkDay]) -> go.Figure:
    """One trunk over time: calls (bars) and its rates (lines, right axis)."""
    go = _plotly()
    figure = go.Figure()
    figure.update_layout(
        title=f"trunk {trunk or '(none)'}: calls and rates per day",
        yaxis={"title": "calls", "rangemode": "tozero"},
        yaxis2={"title": "share", "overlaying": "y", "side": "right", "tickformat": ".0%", "range": [0, 1.05]},
        xaxis=day_axis(days[0].day, days[-1].day) if days else {"type": "date"},
        height=360,
    )
    x = [d.day.isoformat() for d in days]
    figure.add_bar(x=x, y=[d.calls for d in days], name="calls", marker_color="#bab0ac")
    for column, label, colour in TRUNK_RATES:
        figure.add_scatter(
            x=x, y=[d.rates[column] for d in days], mode="lines+markers", name=label, yaxis="y2", line_color=colour
        )
    return figure


def sums_figure(spec: ReportSpec, sums: DaySums, heading: str | None = None) -> go.Figure:
    """One line per group and column over the days (e.g. charge and connectionCharge per currency)."""
    go = _plotly()
    figure = go.Figure()
    assert spec.daily_sums is not None
    figure.update_layout(
        title=f"{heading or spec.table}: {spec.daily_sums.title}",
        yaxis={"rangemode": "tozero"},
        height=380,
    )
    days = sorted(sums)
    figure.update_layout(xaxis=day_axis(days[0], days[-1]) if days else {"type": "date"})
    groups = sorted({group for day in days for group in sums[day]})
    for group in groups:
        for column in spec.daily_sums.columns:
            figure.add_scatter(
                x=[day.isoformat() for day in days],
                y=[sums[day].get(group, {}).get(column) for day in days],
                mode="lines+markers",
                name=f"{column} {group}",
            )
    return figure


def render_page(tables: list[TableSection], trunks: dict[str | None, list[TrunkDay]], title: str) -> str:
    """The page: per report table its chart(s) and its text table (``table_html``), then one chart per trunk."""
    figures: list[tuple[str, go.Figure, str]] = []
    for section in tables:
        spec, lines, heading = section.spec, section.lines, section.heading
        text = table_html(lines, spec)
        if spec.daily_sums is not None and section.sums:
            figures.append((heading, lake_figure(lines, spec, heading), ""))
            figure = sums_figure(spec, section.sums, heading)
            figures.append((f"{heading}: {spec.daily_sums.title}", figure, text))
        else:
            figures.append((heading, lake_figure(lines, spec, heading), text))
    if trunks:
        figures += [
            (f"trunk health: {trunk or '(none)'}", trunk_figure(trunk, days), "") for trunk, days in trunks.items()
        ]
    sections = []
    for index, (heading, figure, after) in enumerate(figures):
        chart = figure.to_html(full_html=False, include_plotlyjs=index == 0)  # the library once, embedded
        sections.append(f"<h2>{html.escape(heading)}</h2>\n{chart}\n{after}")
    body = "\n".join(sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{padding:2px 10px;text-align:right}}tr.warn{{background:#fde9d4}}tr.fail{{background:#f9d7d7}}</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>
"""


def write_chart(tables: list[TableSection], path: str, title: str, trunk_days: TrunkDays | None = None) -> None:
    """Write the charts as one self-contained HTML page (``.html``/``.htm``) that works offline: per table its
    chart(s) (a table with daily sums, e.g. PSTN cost per currency, gets a chart of them) and its text table, then
    trunk health per trunk."""
    suffix = Path(path).suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ValueError(f"The chart file {path} must end in {', '.join(CHART_SUFFIXES)}.")
    page = render_page(tables, trunk_series(trunk_days or {}), title)
    Path(path).write_text(page, encoding="utf-8")
