"""The lake report's charts as one self-contained HTML page (plotly, its JavaScript embedded: works offline).

Per report table: daily rows as bars coloured by quality status (flagged days marked ▲) and, when the report has
one, its daily rate as a line on a right axis. Per trunk (of each tenant, in a lake of many), a section like the
Teams admin center's Health Dashboard for Direct Routing: calls with success rate and media-bypass share; NER and
answer-seizure ratio (0-100 %); peak concurrent calls against the trailing 28-day p95 of the daily peaks; and NER
per hour × day from ``direct_routing_trunk_health_hourly``. Every daily chart has whole days on its time axis, and
a day without a figure (not pulled, or written before schema version 2) is a gap, never a zero. plotly is a tool
dependency (requirements-dev.txt), imported only when a chart is written.
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from call_logs.gold.table import TRUNK
from call_logs.quality.report import DayLine, DaySums, table_html
from call_logs.reports.spec import ReportSpec

if TYPE_CHECKING:
    import plotly.graph_objects as go

CHART_SUFFIXES = (".html", ".htm")
T = TypeVar("T")
TrunkDays = dict[date, list[dict[str, Any]]]  # a trunk-health day's rows by day
STATUS_COLOURS = {"pass": "#4c78a8", "warn": "#f58518", "fail": "#e45756", "stale": "#9d9d9d", "unchecked": "#bab0ac"}
RATE_COLOUR = "#54a24b"
DAY_MS = 86_400_000  # plotly's date axes count milliseconds
HALF_DAY = timedelta(hours=12)
MAX_TICKS = 12
TrunkHours = dict[date, list[dict[str, Any]]]  # an hourly trunk-health day's rows by day
RATE_COLUMNS = ("success_rate", "answer_seizure_ratio", "media_bypass_share")
TRUNK_RATES = (  # the calls chart's lines; NER and the answer-seizure ratio have a chart of their own
    ("success_rate", "success rate", "#54a24b"),
    ("media_bypass_share", "media-bypass share", "#b279a2"),
)
PERCENT_RANGE = [-0.02, 1.02]  # 0-100 %, the markers at 0 and 100 % whole, 0 % clear of the dates below
# Legends in a row above the plot, not beside it: a right axis' title never hides under one, and every chart of the
# page keeps the same plot width, so a trunk's charts line up day by day.
LEGEND_ABOVE = {"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0}
NER_COLOUR, ASR_COLOUR, PEAK_COLOUR, P95_COLOUR = "#4c78a8", "#f58518", "#e45756", "#72b7b2"
P95_WINDOW_DAYS = 28
HOURS = range(24)
HOVER_END_REASONS = 3
# NER in [0, 1]; most hours sit above 90 %, so the colours change most between 80 and 100 % (the bar shows where).
NER_COLOURSCALE = [[0.0, "#a50026"], [0.8, "#f46d43"], [0.9, "#fee08b"], [0.95, "#a6d96a"], [1.0, "#1a9850"]]


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


CurrencyCost = dict[str | None, tuple[Decimal | None, Decimal | None]]  # currency -> (charge, connectionCharge)


@dataclass(frozen=True)
class CostSection:
    """PSTN cost per month and currency, summed from ``pstn_usage_monthly`` (of one tenant, in a lake of many):
    exact decimals, converted to float only to be drawn."""

    months: dict[date, CurrencyCost] = field(default_factory=dict)  # keyed by the month's first day
    tenant: str | None = None

    @property
    def heading(self) -> str:
        name = "pstn_usage_monthly" if self.tenant is None else f"pstn_usage_monthly · tenant {self.tenant}"
        return f"{name}: cost per month and currency"


@dataclass(frozen=True)
class TrunkDay:
    """One day of one trunk, as the trunk-health table holds it (figures of schema version 2: None on older days)."""

    day: date
    calls: int
    rates: dict[str, float | None]
    duration_p95_s: float | None
    ner: float | None = None
    ner_calls: int | None = None
    peak_concurrent_calls: int | None = None
    peak_concurrent_minute: datetime | None = None


@dataclass(frozen=True)
class TrunkHour:
    """One hour (UTC) of one day of one trunk, as the hourly trunk-health table holds it."""

    day: date
    hour: int  # 0-23
    calls: int
    ner: float | None
    ner_calls: int | None
    end_reasons: str | None  # the hour's most frequent (code, sub-reason) pairs, as text


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
    figure.update_layout(
        title=title,
        yaxis={"title": "rows", "rangemode": "tozero"},
        bargap=0.2,
        height=420,
        showlegend=True,  # name the quality status even when every day has the same
    )
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


def trunk_series(rows_by_day: TrunkDays) -> dict[str | None, list[TrunkDay]]:
    """Trunk → its days, from each day's trunk-health rows."""
    series: dict[str | None, list[TrunkDay]] = defaultdict(list)
    for day in sorted(rows_by_day):
        for row in rows_by_day[day]:
            rates = {column: row.get(column) for column in RATE_COLUMNS}
            series[row[TRUNK]].append(
                TrunkDay(
                    day,
                    row["calls"],
                    rates,
                    row.get("duration_p95_s"),
                    ner=row.get("ner"),
                    ner_calls=row.get("ner_calls"),
                    peak_concurrent_calls=row.get("peak_concurrent_calls"),
                    peak_concurrent_minute=row.get("peak_concurrent_minute"),
                )
            )
    return _by_trunk(series)


def _end_reasons(reasons: list[dict[str, Any]] | None, top: int = HOVER_END_REASONS) -> str | None:
    """The hour's most frequent call-end reasons as hover text, e.g. ``0/540000 BYE: 40 · 503/560503 …: 2``."""
    texts = []
    for reason in (reasons or [])[:top]:
        code = "-" if reason["code"] is None else str(reason["code"])
        sub = "" if reason["sub_reason"] is None else f"/{reason['sub_reason']}"
        phrase = f" {reason['phrase']}" if reason["phrase"] else ""
        texts.append(f"{code}{sub}{phrase}: {reason['calls']:,}")
    return " · ".join(texts) or None


def hourly_series(rows_by_day: TrunkDays) -> dict[str | None, list[TrunkHour]]:
    """Trunk → its hours, from each day's rows of the hourly trunk-health table."""
    series: dict[str | None, list[TrunkHour]] = defaultdict(list)
    for day in sorted(rows_by_day):
        for row in rows_by_day[day]:
            hour = TrunkHour(
                day,
                row["hour"].hour,
                row["calls"],
                row.get("ner"),
                row.get("ner_calls"),
                _end_reasons(row.get("top_call_end_reasons")),
            )
            series[row[TRUNK]].append(hour)
    return _by_trunk(series)


def _trunk_order(trunk: str | None) -> tuple[bool, str]:
    return trunk is None, trunk or ""  # named trunks by name, the calls without a trunk last


def _by_trunk(series: dict[str | None, list[T]]) -> dict[str | None, list[T]]:
    return {trunk: series[trunk] for trunk in sorted(series, key=_trunk_order)}


def percentile_95(values: list[float]) -> float:
    """The 95th percentile with linear interpolation (DuckDB's ``quantile_cont``, numpy's "linear")."""
    ordered = sorted(values)
    position = 0.95 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def trailing_p95(peaks: dict[date, int | None], days: list[date], window: int = P95_WINDOW_DAYS) -> list[float | None]:
    """Per day of ``days``, the p95 of the daily peaks of the ``window`` calendar days ending with it (the day
    included), over those that have a peak; None where none has. The README's DuckDB query counts 28 rows instead:
    the same while no day is missing."""
    result: list[float | None] = []
    for day in days:
        known = [
            float(peak) for offset in range(window) if (peak := peaks.get(day - timedelta(days=offset))) is not None
        ]
        result.append(percentile_95(known) if known else None)
    return result


def _title(trunk: str | None, what: str) -> str:
    return f"trunk {trunk or '(none)'}: {what}"


def _empty_axis(days: list[date]) -> dict[str, Any]:
    return day_axis(days[0], days[-1]) if days else {"type": "date"}


def trunk_figure(trunk: str | None, days: list[TrunkDay], calendar: list[date] | None = None) -> go.Figure:
    """One trunk over time: calls (bars), success rate and media-bypass share (lines, right axis, 0-100 %)."""
    go = _plotly()
    calendar = calendar or _days_of(days)
    figure = go.Figure()
    figure.update_layout(
        title=_title(trunk, "calls, success rate and media bypass per day"),
        yaxis={"title": "calls", "rangemode": "tozero"},
        yaxis2={
            "title": "share",
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "range": PERCENT_RANGE,
            "tickmode": "linear",  # not the left axis' grid (0 %, 36 %, 73 %): 0, 20, …, 100 %
            "dtick": 0.2,
            "showgrid": False,
        },
        xaxis=_empty_axis(calendar),
        height=340,
    )
    figure.add_bar(x=[d.day.isoformat() for d in days], y=[d.calls for d in days], name="calls", marker_color="#bab0ac")
    by_day = {d.day: d for d in days}
    x = [day.isoformat() for day in calendar]
    for column, label, colour in TRUNK_RATES:
        figure.add_scatter(
            x=x,
            y=[by_day[day].rates[column] if day in by_day else None for day in calendar],
            mode="lines+markers",
            name=label,
            yaxis="y2",
            line_color=colour,
            connectgaps=False,
        )
    return figure


def ner_figure(trunk: str | None, days: list[TrunkDay], calendar: list[date] | None = None) -> go.Figure:
    """The Health Dashboard's pair: network effectiveness ratio and answer-seizure ratio per day (0-100 %), NER's
    hover naming the calls it is based on. A day without a figure (schema version 1) is a gap, never a zero."""
    go = _plotly()
    calendar = calendar or _days_of(days)
    figure = go.Figure()
    figure.update_layout(
        title=_title(trunk, "network effectiveness ratio (NER) and answer-seizure ratio (ASR) per day"),
        yaxis={"title": "% of calls", "tickformat": ".0%", "range": PERCENT_RANGE, "dtick": 0.2},
        xaxis=_empty_axis(calendar),
        height=320,
    )
    by_day = {d.day: d for d in days}
    x = [day.isoformat() for day in calendar]
    known = [by_day.get(day) for day in calendar]
    # ASR first, NER drawn over it: on a trunk whose calls are all answered or network failures they coincide
    figure.add_scatter(
        x=x,
        y=[d.rates.get("answer_seizure_ratio") if d else None for d in known],
        customdata=[d.calls if d else None for d in known],
        mode="lines+markers",
        name="answer-seizure ratio",
        line={"color": ASR_COLOUR, "width": 2},
        legendrank=2,
        connectgaps=False,
        hovertemplate="%{x}: ASR %{y:.1%} of %{customdata:,} calls<extra></extra>",
    )
    figure.add_scatter(
        x=x,
        y=[d.ner if d else None for d in known],
        customdata=[d.ner_calls if d else None for d in known],
        mode="lines+markers",
        name="NER",
        line={"color": NER_COLOUR, "width": 3},
        legendrank=1,
        connectgaps=False,
        hovertemplate="%{x}: NER %{y:.1%} of %{customdata:,} calls (unknown outcomes left out)<extra></extra>",
    )
    return figure


def concurrency_figure(trunk: str | None, days: list[TrunkDay], calendar: list[date] | None = None) -> go.Figure:
    """Peak concurrent calls per day against the trailing 28-day p95 of the daily peaks: a day far above its own
    p95 is worth a look (capacity, a burst of retries)."""
    go = _plotly()
    calendar = calendar or _days_of(days)
    figure = go.Figure()
    figure.update_layout(
        title=_title(trunk, f"peak concurrent calls per day and the p95 of the last {P95_WINDOW_DAYS} days' peaks"),
        yaxis={"title": "calls up at once", "rangemode": "tozero"},
        xaxis=_empty_axis(calendar),
        height=320,
    )
    by_day = {d.day: d for d in days}
    x = [day.isoformat() for day in calendar]
    peaks = {d.day: d.peak_concurrent_calls for d in days}
    minutes = [by_day[day].peak_concurrent_minute if day in by_day else None for day in calendar]
    figure.add_scatter(
        x=x,
        y=[peaks.get(day) for day in calendar],
        customdata=[f"{minute:%H:%M}" if minute else None for minute in minutes],
        mode="lines+markers",
        name="peak concurrent calls",
        line_color=PEAK_COLOUR,
        connectgaps=False,
        hovertemplate="%{x}: %{y:,} calls up at once, first at %{customdata} UTC<extra></extra>",
    )
    p95 = trailing_p95(peaks, calendar)
    figure.add_scatter(
        x=x,
        y=[value if day in by_day else None for day, value in zip(calendar, p95, strict=True)],
        mode="lines",
        name=f"p95 of daily peaks, trailing {P95_WINDOW_DAYS} days",
        line={"color": P95_COLOUR, "dash": "dash"},
        connectgaps=False,
        hovertemplate="%{x}: p95 %{y:,.1f}<extra></extra>",
    )
    return figure


def hourly_figure(trunk: str | None, hours: list[TrunkHour], calendar: list[date] | None = None) -> go.Figure:
    """NER per hour of the day (UTC, rows 0-23) and day (columns): the Health Dashboard's hourly drill-down. An hour
    without calls (or without a call of known outcome) is left blank."""
    go = _plotly()
    calendar = calendar or sorted({h.day for h in hours})
    cells = {(h.day, h.hour): h for h in hours}
    grid = [[cells.get((day, hour)) for day in calendar] for hour in HOURS]
    figure = go.Figure()
    figure.update_layout(
        title=_title(trunk, "NER by hour of the day (UTC) and day"),
        xaxis=_empty_axis(calendar),
        yaxis={
            "title": "hour (UTC)",
            "range": [23.5, -0.5],  # midnight at the top
            "tickmode": "array",
            "tickvals": list(HOURS),
            "ticktext": [f"{hour:02d}:00" for hour in HOURS],
        },
        height=560,
    )
    figure.add_heatmap(
        x=[day.isoformat() for day in calendar],
        y=list(HOURS),
        z=[[cell.ner if cell else None for cell in row] for row in grid],
        customdata=[
            [[cell.calls, cell.ner_calls, cell.end_reasons or "-"] if cell else [None, None, None] for cell in row]
            for row in grid
        ],
        zmin=0,
        zmax=1,
        colorscale=NER_COLOURSCALE,
        colorbar={  # above the plot, as the other charts' legends: the days line up with theirs
            "title": {"text": "NER", "side": "top"},
            "tickformat": ".0%",
            "orientation": "h",
            "x": 0,
            "xanchor": "left",
            "y": 1.02,
            "yanchor": "bottom",
            "len": 0.4,
            "thickness": 12,
        },
        hoverongaps=False,
        xgap=1,
        ygap=1,
        name="NER",
        hovertemplate=(
            "%{x} %{y:02d}:00 UTC<br>NER %{z:.1%} of %{customdata[1]:,} calls<br>%{customdata[0]:,} calls started"
            "<br>calls per end reason: %{customdata[2]}<extra></extra>"
        ),
    )
    return figure


def _days_of(days: list[TrunkDay]) -> list[date]:
    return [date.fromisoformat(d) for d in _calendar(days[0].day, days[-1].day)] if days else []


def trunk_figures(trunk: str | None, days: list[TrunkDay], hours: list[TrunkHour]) -> list[go.Figure]:
    """A trunk's Health-Dashboard-like section, every figure over the same calendar (missing days are gaps)."""
    known = [d.day for d in days] + [h.day for h in hours]
    calendar = [date.fromisoformat(d) for d in _calendar(min(known), max(known))] if known else []
    figures = []
    if days:
        figures += [
            trunk_figure(trunk, days, calendar),
            ner_figure(trunk, days, calendar),
            concurrency_figure(trunk, days, calendar),
        ]
    if hours:
        figures.append(hourly_figure(trunk, hours, calendar))
    return figures


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


def _cost(charge: Decimal | None, connection: Decimal | None) -> Decimal | None:
    """charge + connectionCharge, exactly; None when neither is known (no call of the month had one)."""
    if charge is None and connection is None:
        return None
    return (charge or Decimal(0)) + (connection or Decimal(0))


def _exact(value: Decimal | None) -> str:
    return "-" if value is None else f"{value:,f}"  # every decimal place, never an exponent


def _currencies(section: CostSection) -> list[str | None]:
    return sorted({c for month in section.months.values() for c in month}, key=lambda c: (c is None, c or ""))


def cost_figure(section: CostSection) -> go.Figure:
    """Bars of charge + connectionCharge per month, one series per currency (each on its own scale of money: the
    bars of two currencies are not comparable); the hover has the exact decimals."""
    go = _plotly()
    months = sorted(section.months)
    figure = go.Figure()
    figure.update_layout(
        title=section.heading,
        barmode="group",
        bargap=0.5 if len(months) < 3 else 0.2,  # one month's bars not a wall across the page
        xaxis={"type": "category", "title": "month"},
        yaxis={"title": "charge + connectionCharge", "rangemode": "tozero", "tickformat": ",.0f"},
        legend={"title": {"text": "currency"}},
        height=380,
    )
    for currency in _currencies(section):
        costs = [section.months[month].get(currency, (None, None)) for month in months]
        totals = [_cost(*pair) for pair in costs]
        figure.add_bar(
            x=[f"{month:%Y-%m}" for month in months],
            y=[None if total is None else float(total) for total in totals],  # float for the drawing only
            customdata=[
                [_exact(total), _exact(charge), _exact(connection)]
                for total, (charge, connection) in zip(totals, costs, strict=True)
            ],
            name=currency or "(none)",
            hovertemplate=(
                "%{x} %{fullData.name}: %{customdata[0]}<br>charge %{customdata[1]}"
                "<br>connectionCharge %{customdata[2]}<extra></extra>"
            ),
        )
    return figure


def cost_table_html(section: CostSection) -> str:
    """The same numbers as a table: per month and currency, charge, connectionCharge and their sum, exact."""
    header = "".join(f"<th>{name}</th>" for name in ("month", "currency", "charge", "connectionCharge", "cost"))
    rows = []
    for month in sorted(section.months):
        for currency in _currencies(section):
            if currency not in section.months[month]:
                continue
            charge, connection = section.months[month][currency]
            cells = (
                f"{month:%Y-%m}",
                currency or "(none)",
                _exact(charge),
                _exact(connection),
                _exact(_cost(charge, connection)),
            )
            rows.append("<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in cells) + "</tr>")
    body = "\n".join(rows)
    return f'<table class="cost"><thead><tr>{header}</tr></thead><tbody>\n{body}\n</tbody></table>'


def render_page(
    tables: list[TableSection],
    trunks: dict[str | None, list[TrunkDay]],
    title: str,
    hours: dict[str | None, list[TrunkHour]] | None = None,
    costs: list[CostSection] | None = None,
) -> str:
    """The page: per report table its chart(s) and its text table (``table_html``), then PSTN cost per month and
    currency (chart and exact table), then per trunk its health section (calls and rates, NER and ASR, peak
    concurrency, the hour × day NER heatmap)."""
    figures: list[tuple[str | None, go.Figure, str]] = []
    for section in tables:
        spec, lines, heading = section.spec, section.lines, section.heading
        text = table_html(lines, spec)
        if spec.daily_sums is not None and section.sums:
            figures.append((heading, lake_figure(lines, spec, heading), ""))
            figure = sums_figure(spec, section.sums, heading)
            figures.append((f"{heading}: {spec.daily_sums.title}", figure, text))
        else:
            figures.append((heading, lake_figure(lines, spec, heading), text))
    for cost in costs or []:
        figures.append((cost.heading, cost_figure(cost), cost_table_html(cost)))
    hours = hours or {}
    for trunk in sorted({*trunks, *hours}, key=_trunk_order):
        for index, figure in enumerate(trunk_figures(trunk, trunks.get(trunk, []), hours.get(trunk, []))):
            figures.append((f"trunk health: {trunk or '(none)'}" if index == 0 else None, figure, ""))
    sections = []
    for index, (above, figure, after) in enumerate(figures):
        figure.update_layout(legend=LEGEND_ABOVE)
        chart = figure.to_html(full_html=False, include_plotlyjs=index == 0)  # the library once, embedded
        title_html = f"<h2>{html.escape(above)}</h2>\n" if above is not None else ""
        sections.append(f"{title_html}{chart}\n{after}")
    body = "\n".join(sections)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{padding:2px 10px;text-align:right}}tr.warn{{background:#fde9d4}}tr.fail{{background:#f9d7d7}}</style></head>
<body><h1>{html.escape(title)}</h1>
{body}
</body></html>
"""


def write_chart(
    tables: list[TableSection],
    path: str,
    title: str,
    trunk_days: TrunkDays | None = None,
    trunk_hours: TrunkHours | None = None,
    pstn_costs: list[CostSection] | None = None,
) -> None:
    """Write the charts as one self-contained HTML page (``.html``/``.htm``) that works offline: per table its
    chart(s) (a table with daily sums, e.g. PSTN cost per currency, gets a chart of them) and its text table, PSTN
    cost per month (``pstn_costs``), then trunk health per trunk, from the daily (``trunk_days``) and hourly
    (``trunk_hours``) tables' rows."""
    suffix = Path(path).suffix.lower()
    if suffix not in CHART_SUFFIXES:
        raise ValueError(f"The chart file {path} must end in {', '.join(CHART_SUFFIXES)}.")
    trunks, hours = trunk_series(trunk_days or {}), hourly_series(trunk_hours or {})
    page = render_page(tables, trunks, title, hours, pstn_costs)
    Path(path).write_text(page, encoding="utf-8")
