"""The lake report page's figures, asserted on the data and axes plotly is given (and the page embeds)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from call_logs.__main__ import main
from call_logs.charts import DAY_MS, TableSection, day_axis, lake_figure, render_page, trailing_p95
from call_logs.gold.hourly import build_hourly_day
from call_logs.gold.store import read_day, write_day
from call_logs.gold.table import PSTN_USAGE_MONTHLY, TRUNK_HEALTH, TRUNK_HEALTH_HOURLY
from call_logs.gold.trunk_health import build_day
from call_logs.quality.report import DayLine
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.reports.pstn import PSTN

from tests.rows import call_rows, commit_rows, pages_of
from tests.sinks import gold_table_sink, report_sink

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


# --- trunk health: the Health-Dashboard-like section per trunk ---------------------------------------------------


def trunk_calls(day: date) -> list[dict]:
    """40 calls of one trunk, 36 min apart and up for two hours each (so several overlap); of the 10 failed calls,
    5 end with 503 (a network failure: NER 35 / 40) and 5 with 487 (the caller hung up: delivered)."""
    rows = call_rows(40, day=day, prefix=f"c{day:%m%d}")
    for i, row in enumerate(rows):
        if i % 4 == 0 and i % 8 == 0:
            row.update(finalSipCode=503, finalSipCodePhrase="Service Unavailable")
        elif i % 4:
            start = datetime.fromisoformat(row["startDateTime"].replace("Z", "+00:00"))
            row.update(endDateTime=(start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%S.000Z"), duration=7203)
    return rows


@pytest.fixture
def trunk_lake(tmp_path):
    """Days D0, D1 and D3 of one trunk (D2 never pulled): D0's trunk health as release 1 wrote it (schema version 1,
    no NER, no concurrency), D1 and D3 of schema version 2 with their hourly tables (D3's concurrency is null: its
    previous day is missing)."""
    root = tmp_path / "lake"
    source = report_sink(root, DIRECT_ROUTING)
    days = [DAY, DAY + timedelta(days=1), DAY + timedelta(days=3)]
    for day in days:
        commit_rows(source, day, pages_of(trunk_calls(day)))
    daily, hourly = gold_table_sink(root, TRUNK_HEALTH), gold_table_sink(root, TRUNK_HEALTH_HOURLY)
    first_version = replace(TRUNK_HEALTH, fields=TRUNK_HEALTH.fields[:13], schema_version=1)
    build_day(source, daily, days[0])
    write_day(gold_table_sink(root, first_version), days[0], read_day(daily, days[0]), [])
    for day in days[1:]:
        build_day(source, daily, day)
        build_hourly_day(source, hourly, day)
    return root, days


def page_of(root, tmp_path) -> list[tuple[list[dict[str, Any]], dict[str, Any]]]:
    chart = tmp_path / "lake_report.html"
    assert main(["report", "--lake-root", str(root), "--chart", str(chart)]) == 0
    return plots(chart.read_text())


def titled(figures, words: str) -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
    """The one figure whose title has ``words``: its traces by name, and its layout."""
    [(data, layout)] = [(d, lay) for d, lay in figures if words in lay["title"]["text"]]
    return {trace["name"]: trace for trace in data}, layout


def test_ner_and_asr_per_day_on_a_percent_axis_with_gaps_for_old_and_missing_days(trunk_lake, tmp_path):
    root, (d0, d1, d3) = trunk_lake
    traces, layout = titled(page_of(root, tmp_path), "network effectiveness ratio")
    calendar = [(DAY + timedelta(days=i)).isoformat() for i in range(4)]
    assert traces["NER"]["x"] == calendar
    assert traces["NER"]["y"] == [None, 35 / 40, None, 35 / 40]  # D0 of schema version 1, D2 never pulled: gaps
    assert traces["NER"]["customdata"] == [None, 40, None, 40]  # the calls NER is based on, in its hover
    assert "%{customdata:,} calls" in traces["NER"]["hovertemplate"] and traces["NER"]["connectgaps"] is False
    assert traces["answer-seizure ratio"]["y"] == [30 / 40, 30 / 40, None, 30 / 40]  # version 1 had the ASR
    assert (layout["yaxis"]["tickformat"], layout["yaxis"]["range"]) == (".0%", [-0.02, 1.02])
    assert layout["xaxis"]["tickformat"] == "%Y-%m-%d" and layout["xaxis"]["dtick"] == DAY_MS


def test_peak_concurrency_per_day_against_its_trailing_p95(trunk_lake, tmp_path):
    root, (d0, d1, d3) = trunk_lake
    stored = {day: read_day(gold_table_sink(root, TRUNK_HEALTH), day).to_pylist()[0] for day in (d0, d1, d3)}
    peak_d1 = stored[d1]["peak_concurrent_calls"]
    # three two-hour calls and a failed one in the same minute (every 4th call fails); D3 has no previous day
    assert peak_d1 == 4 and stored[d3]["peak_concurrent_calls"] is None
    traces, layout = titled(page_of(root, tmp_path), "peak concurrent calls")
    peak, p95 = traces["peak concurrent calls"], traces["p95 of daily peaks, trailing 28 days"]
    assert peak["y"] == [None, 4, None, None]  # a gap where there is no figure, never a zero
    assert peak["customdata"][1] == f"{stored[d1]['peak_concurrent_minute']:%H:%M}"
    assert p95["y"] == [None, 4.0, None, 4.0]  # D3's window still holds D1's peak; D2 has no row
    assert layout["yaxis"]["title"]["text"] == "calls up at once"


def test_the_hour_by_day_heatmap_of_ner(trunk_lake, tmp_path):
    root, (d0, d1, d3) = trunk_lake
    traces, layout = titled(page_of(root, tmp_path), "NER by hour")
    heatmap = traces["NER"]
    assert heatmap["type"] == "heatmap" and heatmap["y"] == list(range(24)) and len(heatmap["z"]) == 24
    assert heatmap["x"] == [(DAY + timedelta(days=i)).isoformat() for i in range(4)]
    assert all(len(row) == 4 for row in heatmap["z"])
    stored = {
        (row["hour"].hour, day): row
        for day in (d1, d3)
        for row in read_day(gold_table_sink(root, TRUNK_HEALTH_HOURLY), day).to_pylist()
    }
    for hour in range(24):
        for column, day in enumerate([d0, d1, d1 + timedelta(days=1), d3]):
            row = stored.get((hour, day))
            assert heatmap["z"][hour][column] == (row["ner"] if row else None)
            assert heatmap["customdata"][hour][column][0] == (row["calls"] if row else None)
    assert sum(heatmap["customdata"][hour][1][0] or 0 for hour in range(24)) == 40  # every call of D1, once
    # by hand: 00:18 a 503 and 00:54 a success; 19:30 a 503 alone in its hour, a real zero (not a gap)
    assert (heatmap["z"][0][1], heatmap["z"][19][1], heatmap["customdata"][19][1][:2]) == (0.5, 0.0, [1, 1])
    assert heatmap["customdata"][19][1][2] == "503/540000 Service Unavailable: 1"
    assert heatmap["customdata"][0][1][2] == "503/540000 Service Unavailable: 1"  # why calls were not answered
    assert (heatmap["zmin"], heatmap["zmax"], heatmap["hoverongaps"]) == (0, 1, False)
    assert layout["yaxis"]["tickvals"] == list(range(24)) and layout["yaxis"]["ticktext"][13] == "13:00"


def test_the_trailing_p95_is_duckdbs_quantile_cont_over_28_calendar_days():
    days = [DAY + timedelta(days=i) for i in range(40)]
    peaks: dict[date, int | None] = {day: (i * 7) % 23 for i, day in enumerate(days)}
    peaks[days[5]] = None  # a day of schema version 1
    del peaks[days[6]]  # a day never pulled
    got = trailing_p95(peaks, days)
    for i, day in enumerate(days):
        window = [peaks.get(day - timedelta(days=k)) for k in range(28)]
        expected = np.percentile([v for v in window if v is not None], 95, method="linear")
        assert got[i] == pytest.approx(expected)
    assert trailing_p95({DAY: None}, [DAY]) == [None]


# --- PSTN cost per month and currency, from pstn_usage_monthly ----------------------------------------------------


def usage_row(currency: str | None, charge: str | None, connection: str | None, user: str = "u1") -> dict:
    row = dict.fromkeys(PSTN_USAGE_MONTHLY.column_names)
    row |= {"userId": user, "currency": currency, "callType": "user_out", "destinationContext": "International"}
    row |= {"calls": 1, "duration_s": 60, "minutes": 1.0}
    row |= {"charge": None if charge is None else Decimal(charge)}
    return row | {"connectionCharge": None if connection is None else Decimal(connection)}


@pytest.fixture
def cost_lake(tmp_path):
    """Two months of pstn_usage_monthly: February in USD (two users, one without a connection charge) and EUR,
    March in USD with no charge at all; and a day of calls, so that the CLI finds a lake."""
    root = tmp_path / "lake"
    commit_rows(report_sink(root, DIRECT_ROUTING), DAY, pages_of(call_rows(4, day=DAY)))
    gold = gold_table_sink(root, PSTN_USAGE_MONTHLY)
    february = [
        usage_row("USD", "1.100000", "0.010000"),
        usage_row("USD", "2.000001", None, user="u2"),
        usage_row("EUR", "0.333333", "0.000001"),
    ]
    write_day(gold, date(2026, 2, 1), pa.Table.from_pylist(february, schema=PSTN_USAGE_MONTHLY.schema), [])
    march = [usage_row("USD", None, None)]
    write_day(gold, date(2026, 3, 1), pa.Table.from_pylist(march, schema=PSTN_USAGE_MONTHLY.schema), [])
    return root


def test_pstn_cost_per_month_and_currency_as_bars_and_an_exact_table(cost_lake, tmp_path):
    chart = tmp_path / "lake_report.html"
    assert main(["report", "--lake-root", str(cost_lake), "--chart", str(chart)]) == 0
    page = chart.read_text()
    traces, layout = titled(plots(page), "pstn_usage_monthly: cost per month and currency")
    assert list(traces) == ["EUR", "USD"] and all(t["type"] == "bar" for t in traces.values())
    assert traces["USD"]["x"] == ["2026-02", "2026-03"] and traces["EUR"]["x"] == ["2026-02", "2026-03"]
    assert traces["USD"]["y"] == [3.110001, None]  # 1.1 + 2.000001 + 0.01; March had no charge: no bar, not 0
    assert traces["EUR"]["y"] == [0.333334, None]  # EUR had no March row
    assert traces["USD"]["customdata"][0] == ["3.110001", "3.100001", "0.010000"]  # exact in the hover
    assert (layout["barmode"], layout["xaxis"]["type"]) == ("group", "category")
    table = page.split('<table class="cost">', 1)[1].split("</table>", 1)[0]
    cells = [re.findall(r"<td>([^<]*)</td>", row) for row in table.split("<tr>")[2:]]
    assert cells == [
        ["2026-02", "EUR", "0.333333", "0.000001", "0.333334"],
        ["2026-02", "USD", "3.100001", "0.010000", "3.110001"],
        ["2026-03", "USD", "-", "-", "-"],
    ]


def test_no_usage_table_no_cost_section(trunk_lake, tmp_path):
    root, _ = trunk_lake
    assert not [lay for _, lay in page_of(root, tmp_path) if "cost per month" in lay["title"]["text"]]


def test_a_lake_of_many_tenants_gets_each_tenants_trunks_and_costs(tmp_path):
    root = tmp_path / "lake"
    for tenant, calls in (("contoso", 8), ("fabrikam", 4)):
        source = report_sink(root, DIRECT_ROUTING, tenant=tenant)
        commit_rows(source, DAY, pages_of(call_rows(calls, day=DAY, prefix=tenant)))
        build_day(source, gold_table_sink(root, TRUNK_HEALTH, tenant=tenant), DAY)
        build_hourly_day(source, gold_table_sink(root, TRUNK_HEALTH_HOURLY, tenant=tenant), DAY)
    usage = pa.Table.from_pylist([usage_row("EUR", "0.500000", None)], schema=PSTN_USAGE_MONTHLY.schema)
    write_day(gold_table_sink(root, PSTN_USAGE_MONTHLY, tenant="fabrikam"), date(2026, 2, 1), usage, [])
    figures = page_of(root, tmp_path)
    trunk = call_rows(1)[0]["trunkFullyQualifiedDomainName"]
    for tenant, calls in (("contoso", 8), ("fabrikam", 4)):
        heatmap = titled(figures, f"trunk {tenant} · {trunk}: NER by hour")[0]["NER"]
        assert sum(cell[0] or 0 for row in heatmap["customdata"] for cell in row) == calls
    costs = [lay["title"]["text"] for _, lay in figures if "cost per month" in lay["title"]["text"]]
    assert costs == ["pstn_usage_monthly · tenant fabrikam: cost per month and currency"]
    assert titled(figures, "tenant fabrikam: cost per month")[0]["EUR"]["y"] == [0.5]
