"""The lake report page's figures, asserted on the data and axes plotly is given (and the page embeds)."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from call_logs.charts import DAY_MS, TableSection, day_axis, lake_figure, render_page
from call_logs.quality.report import DayLine
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.reports.pstn import PSTN

DAY = date(2026, 3, 2)


def plots(page: str) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    """Each ``Plotly.newPlot(id, data, layout, config)`` of the page: its data and layout, parsed as JSON."""
    decoder, found, at = json.JSONDecoder(), [], 0
    while (at := page.find("Plotly.newPlot(", at)) >= 0:
        at = page.index(",", at) + 1  # past the element id
        data, end = decoder.raw_decode(page, page.index("[", at))
        layout, at = decoder.raw_decode(page, page.index("{", end))
        found.append((data, layout))
    return found


def lines_of(days: int, *, rate_rows: int | None = None) -> list[DayLine]:
    return [DayLine(DAY + timedelta(days=i), 100 + i, rate_rows, 0, 0, "pass") for i in range(days)]


def test_the_pstn_volume_chart_has_no_rate_axis_and_no_rate_line():
    figure = lake_figure(lines_of(3), PSTN).to_plotly_json()
    assert "yaxis2" not in figure["layout"]
    assert [(t["type"], t["name"]) for t in figure["data"]] == [("bar", "pass")]
    assert all("yaxis" not in trace for trace in figure["data"])
    assert figure["data"][0]["y"] == [100, 101, 102] and "rate" not in figure["data"][0]["hovertemplate"]
    assert figure["layout"]["title"]["text"] == "pstn_calls: daily calls (bars)"


def test_a_report_with_a_daily_rate_keeps_its_line_on_the_right_axis():
    figure = lake_figure(lines_of(3, rate_rows=10), DIRECT_ROUTING).to_plotly_json()
    assert figure["layout"]["yaxis2"]["title"]["text"] == "failed-call rate"
    [rate] = [t for t in figure["data"] if t["name"] == "failed-call rate"]
    assert rate["yaxis"] == "y2" and rate["y"] == [10 / 100, 10 / 101, 10 / 102]


def test_the_page_embeds_the_pstn_chart_without_a_secondary_axis():
    page = render_page([TableSection(PSTN, lines_of(2))], {}, "PSTN")
    [(data, layout)] = plots(page)
    assert "yaxis2" not in layout and [t["name"] for t in data] == ["pass"]
    assert layout["xaxis"]["tickformat"] == "%Y-%m-%d" and layout["xaxis"]["dtick"] == DAY_MS


@pytest.mark.parametrize(
    ("days", "dtick"),
    [(1, DAY_MS), (3, DAY_MS), (7, DAY_MS), (12, DAY_MS), (14, 2 * DAY_MS), (30, 7 * DAY_MS), (90, 14 * DAY_MS)],
)
def test_a_daily_axis_ticks_at_midnight_labelled_as_dates(days, dtick):
    last = DAY + timedelta(days=days - 1)
    axis = day_axis(DAY, last)
    assert (axis["type"], axis["tickformat"], axis["dtick"], axis["tick0"]) == ("date", "%Y-%m-%d", dtick, "2026-03-02")
    assert axis["range"] == ["2026-03-01T12:00:00", f"{last.isoformat()}T12:00:00"]  # half a day either side
    assert days / (dtick / DAY_MS) <= 12  # readable: at most a dozen labels


def test_half_a_year_ticks_on_the_first_of_each_month():
    axis = day_axis(DAY, DAY + timedelta(days=179))
    assert (axis["dtick"], axis["tick0"], axis["tickformat"]) == ("M1", "2026-03-01", "%Y-%m-%d")


def test_the_daily_bars_use_the_day_axis():
    layout = lake_figure(lines_of(7, rate_rows=1), DIRECT_ROUTING).to_plotly_json()["layout"]
    assert layout["xaxis"] == day_axis(DAY, DAY + timedelta(days=6))
    assert datetime.fromisoformat(layout["xaxis"]["tick0"]).time() == datetime.min.time()  # a day, not 12:00
