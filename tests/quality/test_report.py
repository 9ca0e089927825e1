"""The lake-wide report and its command line, on a lake of real committed and checked partitions."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import fsspec
import pytest
from call_logs.__main__ import main
from call_logs.charts import STATUS_COLOURS
from call_logs.gold.table import TRUNK_HEALTH
from call_logs.gold.trunk_health import build_day
from call_logs.quality.engine import check_report_day, write_report
from call_logs.quality.report import DayLine, lake_report

from tests.quality.conftest import DAY, QualityLake, call_rows
from tests.sinks import gold_table_sink

PLOT = re.compile(r"Plotly\.newPlot\(\s*\"[^\"]+\",\s*(\[.*?\]),\s*\{", re.S)


def _plot_arguments(page: str, index: int = 0) -> str:
    """The data (traces) of the page's ``index``-th plotly figure, as the page embeds it (JSON)."""
    return PLOT.findall(page)[index]


ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def checked_lake(lake):
    """Four days: two clean and checked, one with a real failure time on a successful call, one unchecked."""
    days = [DAY + timedelta(days=i) for i in range(4)]
    for index, day in enumerate(days):
        rows = call_rows(40, day=day)  # 10 of 40 calls failed
        if index == 2:
            rows[1]["failureDateTime"] = rows[1]["endDateTime"]
        lake.commit(day, rows)
        if index < 3:
            write_report(lake.sink, day, check_report_day(lake.sink, day))
    return lake, days


@pytest.fixture
def lake(tmp_path) -> QualityLake:
    """The report CLI reads a local folder or fsspec URL: these tests use a local lake only."""
    return QualityLake(fsspec.filesystem("file"), str(tmp_path / "lake"))


def test_one_line_per_committed_day_with_status_from_dq_json(checked_lake):
    lake, days = checked_lake
    assert lake_report(lake.sink) == [
        DayLine(days[0], 40, 10, 0, 0, "pass"),
        DayLine(days[1], 40, 10, 0, 0, "pass"),
        DayLine(days[2], 40, 10, 1, 0, "fail"),
        DayLine(days[3], 40, 10, None, None, "unchecked"),
    ]


def test_a_dq_json_that_judged_another_file_is_stale(checked_lake):
    lake, days = checked_lake
    lake.rewrite(days[0], lake.table(days[0]).slice(0, 20))  # file and manifest replaced, _dq.json left behind
    line = lake_report(lake.sink)[0]
    assert (line.rows, line.rate_rows, line.status, line.warnings) == (20, 5, "stale", None)


def test_cli_prints_one_line_per_day_and_writes_an_html_chart(checked_lake, tmp_path, capsys):
    lake, days = checked_lake
    chart = tmp_path / "lake_report.html"
    assert main(["report", "--lake-root", lake.root, "--chart", str(chart)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["call_date", "rows", "failed_rate", "sentinel_violations", "warnings", "status"]
    assert [line.split() for line in out[1:5]] == [
        [days[0].isoformat(), "40", "25.0%", "0", "0", "pass"],
        [days[1].isoformat(), "40", "25.0%", "0", "0", "pass"],
        [days[2].isoformat(), "40", "25.0%", "1", "0", "fail"],
        [days[3].isoformat(), "40", "25.0%", "-", "-", "unchecked"],
    ]
    assert out[5] == f"Chart written to {chart}."
    page = chart.read_text()
    assert page.startswith("<!doctype html>")
    assert "<script src=" not in page and page.count("Plotly.newPlot") == 1  # plotly embedded once: works offline
    figure = json.loads(_plot_arguments(page))
    bars = {trace["name"]: trace for trace in figure if trace["type"] == "bar"}
    assert {name: list(zip(t["x"], t["y"], strict=True)) for name, t in bars.items()} == {
        "pass": [(days[0].isoformat(), 40), (days[1].isoformat(), 40)],
        "fail": [(days[2].isoformat(), 40)],
        "unchecked": [(days[3].isoformat(), 40)],
    }
    assert {name: t["marker"]["color"] for name, t in bars.items()} == {
        status: STATUS_COLOURS[status] for status in ("pass", "fail", "unchecked")
    }
    [flagged] = [t for t in figure if t["name"] == "flagged"]
    assert flagged["x"] == [days[2].isoformat()] and flagged["marker"]["symbol"] == "triangle-up"
    [rate] = [t for t in figure if t["name"] == "failed-call rate"]
    assert rate["y"] == [0.25] * 4


def test_cli_accepts_a_file_url(checked_lake, tmp_path, capsys):
    lake, _ = checked_lake
    chart = tmp_path / "chart.htm"
    assert main(["report", "--lake-root", f"file://{lake.root}", "--chart", str(chart)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 4 + 1
    assert chart.read_text().startswith("<!doctype html>")


def test_the_page_charts_trunk_health_per_trunk_over_time(checked_lake, tmp_path, capsys):
    lake, days = checked_lake
    gold = gold_table_sink(lake.root, TRUNK_HEALTH, fs=lake.fs)
    for day in days[:2]:
        build_day(lake.sink, gold, day)
    chart = tmp_path / "lake_report.html"
    assert main(["report", "--lake-root", lake.root, "--chart", str(chart)]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1 + 4 + 1  # the text report is unchanged
    page = chart.read_text()
    trunk = call_rows(1)[0]["trunkFullyQualifiedDomainName"]
    # the table's chart, then the trunk's calls, NER and ASR, and concurrency (no hourly table: no heatmap)
    assert f"trunk health: {trunk}" in page and page.count("Plotly.newPlot") == 1 + 3
    figure = json.loads(_plot_arguments(page, 1))
    series = {trace["name"]: trace for trace in figure}
    assert series["calls"]["x"] == [d.isoformat() for d in days[:2]] and series["calls"]["y"] == [40, 40]
    assert series["success rate"]["y"] == [0.75, 0.75]
    assert set(series) == {"calls", "success rate", "media-bypass share"}
    ner = {trace["name"]: trace for trace in json.loads(_plot_arguments(page, 2))}
    assert set(ner) == {"NER", "answer-seizure ratio"} and ner["NER"]["x"] == [d.isoformat() for d in days[:2]]


def test_cli_charts_an_empty_day_and_calendar_gaps(lake, tmp_path, capsys):
    lake.commit(DAY, [])
    lake.commit(DAY + timedelta(days=5), call_rows(10, day=DAY + timedelta(days=5)))
    chart = tmp_path / "chart.html"
    assert main(["report", "--lake-root", lake.root, "--chart", str(chart)]) == 0
    assert capsys.readouterr().out.splitlines()[1].split() == [DAY.isoformat(), "0", "-", "-", "-", "unchecked"]
    assert chart.exists()


def test_cli_on_a_nonexistent_lake_says_so_in_one_sentence_and_exits_2(tmp_path, capsys):
    assert main(["report", "--lake-root", str(tmp_path / "nowhere")]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith(f"No lake at {tmp_path / 'nowhere'}")


def test_cli_rejects_an_unknown_chart_format_before_reading(lake, capsys):
    lake.commit(DAY, call_rows(5))
    assert main(["report", "--lake-root", lake.root, "--chart", "chart.png"]) == 2
    assert "must end in .html, .htm" in capsys.readouterr().err
    assert main(["report", "--lake-root", lake.root, "--chart", "chart.svg"]) == 2  # plotly writes HTML only


def test_python_dash_m_runs_the_report(checked_lake, tmp_path):
    lake, days = checked_lake
    env = dict(os.environ, PYTHONPATH=str(ROOT / "plugins"))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "call_logs",
            "report",
            "--lake-root",
            lake.root,
            "--chart",
            str(tmp_path / "r.html"),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 1 + len(days) + 1
    missing = subprocess.run(
        [sys.executable, "-m", "call_logs", "report", "--lake-root", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
