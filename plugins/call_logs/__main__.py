"""Command line: ``python -m call_logs report --lake-root URL_OR_PATH [--table NAME] [--table-format parquet|delta]
[--chart lake_report.html]``.

A data engineer can inspect a lake from a laptop, without a running Airflow. ``--lake-root`` is a local path or
any fsspec URL (``file:///…``; ``abfs://container/path`` with the ``AZURE_STORAGE_*`` variables). Every report
table found under the root is reported unless ``--table`` names one; a lake of many tenants is reported per
tenant. ``--chart`` also draws the gold tables it finds: trunk health per trunk (daily and hourly) and PSTN cost
per month and currency. ``--table-format delta`` reads Delta tables through their current snapshot (a local folder, or
``abfs://<conn_id>@<container>/…`` where the Airflow connection can be read, e.g. from an ``AIRFLOW_CONN_<CONN_ID>``
variable: ``call_logs/hooks/lake.py`` reads it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from call_logs.charts import CHART_SUFFIXES, CostSection, TableSection, TrunkDays, TrunkHours, write_chart
from call_logs.gold.pstn_usage import usage_currency_sums
from call_logs.gold.store import gold_sink, read_day
from call_logs.gold.table import PSTN_USAGE_MONTHLY, TRUNK, TRUNK_HEALTH_HOURLY
from call_logs.gold.trunk_health import stored_days
from call_logs.lake.delta_storage import azure_conn_id
from call_logs.lake.delta_table import table_version, tenants
from call_logs.lake.errors import LakeConfigError
from call_logs.lake.root import LakeRoot
from call_logs.quality.report import daily_sums, format_table, lake_report
from call_logs.reports import REPORTS
from call_logs.sinks import TABLE_FORMATS, ReportSink, open_report
from call_logs.sinks.delta import DeltaTableSink
from call_logs.sinks.parquet_partitions import ParquetPartitionSink

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m call_logs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="one line per committed day, and a chart of volume and a rate")
    report.add_argument("--lake-root", required=True, help="local path or fsspec URL of the lake root")
    report.add_argument("--table", choices=sorted(REPORTS), help="one table only (default: every table found)")
    report.add_argument(
        "--table-format", choices=TABLE_FORMATS, default="parquet", help="the lake's table format (default: parquet)"
    )
    report.add_argument(
        "--chart",
        help=f"write charts of daily volume, rate, PSTN cost per month and trunk health ({', '.join(CHART_SUFFIXES)})",
    )
    return parser


def _lake(lake_root: str, table_format: str) -> LakeRoot:
    """The lake to report on; a Delta lake on ``abfs://<conn_id>@…`` takes its account from that Airflow connection."""
    conn_id = azure_conn_id(lake_root) if table_format == "delta" else None
    if conn_id is None:
        return LakeRoot.from_url(lake_root)
    from call_logs.hooks.lake import open_lake  # Airflow is imported only for a lake that names a connection

    return open_lake(lake_root)


def _exists(sink: ReportSink) -> bool:
    if isinstance(sink, DeltaTableSink):
        return table_version(sink.delta.uri, sink.delta.storage_options) is not None
    assert isinstance(sink, ParquetPartitionSink)
    path = sink.layout.table_path
    return bool(sink.fs.exists(path)) and not sink.fs.exists(f"{path}/_delta_log")  # a Delta table is not one


def _where(sink: ReportSink) -> str:
    return sink.delta.uri if isinstance(sink, DeltaTableSink) else sink.layout.table_path  # type: ignore[attr-defined]


def _tenants(sink: ReportSink) -> list[str | None]:
    """The tenants of a table in a lake of many (their ``tenant=`` levels), or [None] for a lake of one."""
    if isinstance(sink, DeltaTableSink):
        found = tenants(sink.delta.uri, sink.delta.storage_options)
    else:
        assert isinstance(sink, ParquetPartitionSink)
        names = (entry.rstrip("/").rsplit("/", 1)[-1] for entry in sink.fs.ls(sink.layout.table_path, detail=False))
        found = sorted(name.removeprefix("tenant=") for name in names if name.startswith("tenant="))
    return list(found) or [None]


def _named(slug: str | None, rows: list[dict]) -> list[dict]:
    """In a lake of many tenants, each trunk named with its tenant."""
    return rows if slug is None else [row | {TRUNK: f"{slug} · {row[TRUNK] or '(none)'}"} for row in rows]


def _trunk_days(lake: LakeRoot, table_format: str, slugs: list[str | None]) -> TrunkDays:
    """Trunk-health rows by day; in a lake of many tenants each trunk is named with its tenant."""
    days: TrunkDays = {}
    for slug in slugs:
        for day, rows in stored_days(lake, table_format, slug).items():
            days.setdefault(day, []).extend(_named(slug, rows))
    return days


def _trunk_hours(lake: LakeRoot, table_format: str, slugs: list[str | None]) -> TrunkHours:
    """The hourly trunk-health rows by day, named as ``_trunk_days`` names them."""
    hours: TrunkHours = {}
    for slug in slugs:
        gold = gold_sink(table_format, lake, TRUNK_HEALTH_HOURLY, tenant=slug)
        for day in gold.committed_days():
            rows = read_day(gold, day)
            if rows is not None:
                hours.setdefault(day, []).extend(_named(slug, rows.to_pylist()))
    return hours


def _pstn_costs(lake: LakeRoot, table_format: str, slugs: list[str | None]) -> list[CostSection]:
    """Per tenant, each stored month of ``pstn_usage_monthly`` summed per currency (exact decimals)."""
    sections = []
    for slug in slugs:
        gold = gold_sink(table_format, lake, PSTN_USAGE_MONTHLY, tenant=slug)
        months = {month: read_day(gold, month) for month in gold.committed_days()}
        sums = {month: usage_currency_sums(rows) for month, rows in months.items() if rows is not None}
        if sums:
            sections.append(CostSection(sums, slug))
    return sections


def report(lake_root: str, chart: str | None, table: str | None = None, table_format: str = "parquet") -> int:
    """Print the lake report; write the chart when asked. Returns the exit code."""
    if chart is not None and Path(chart).suffix.lower() not in CHART_SUFFIXES:
        print(f"The chart file {chart} must end in {', '.join(CHART_SUFFIXES)}.", file=sys.stderr)
        return EXIT_USAGE
    specs = [REPORTS[table]] if table else list(REPORTS.values())
    try:
        lake = _lake(lake_root, table_format)
        sinks = [open_report(table_format, lake, spec) for spec in specs]
    except LakeConfigError as error:
        print(str(error), file=sys.stderr)
        return EXIT_USAGE
    found = [sink for sink in sinks if _exists(sink)]
    if not found:
        paths = ", ".join(_where(sink) for sink in sinks)
        hint = ""
        if table_format == "parquet" and any(lake.fs.exists(f"{_where(sink)}/_delta_log") for sink in sinks):
            hint = " (it holds Delta tables: add --table-format delta)"
        print(f"No lake at {lake_root}: none of {paths} exists; check --lake-root{hint}.", file=sys.stderr)
        return EXIT_USAGE
    sections: list[TableSection] = []
    slugs: set[str | None] = set()
    for sink in found:
        for slug in _tenants(sink):
            tenant_sink = sink if slug is None else open_report(table_format, lake, sink.spec, tenant=slug)
            lines = lake_report(tenant_sink)
            sums = daily_sums(tenant_sink) if chart is not None and sink.spec.daily_sums else None
            sections.append(TableSection(sink.spec, lines, sums, slug))
            slugs.add(slug)
    for index, section in enumerate(sections):
        if len(sections) > 1:  # name the tables only when there are several
            print(f"{chr(10) if index else ''}{section.heading}")
        print(format_table(section.lines, section.spec))
    if chart is not None:
        tenants_found = sorted(slugs, key=lambda s: s or "")
        trunks = _trunk_days(lake, table_format, tenants_found)
        hours = _trunk_hours(lake, table_format, tenants_found)
        costs = _pstn_costs(lake, table_format, tenants_found)
        title = f"Call logs in {lake_root}"
        write_chart(sections, chart, title, trunk_days=trunks, trunk_hours=hours, pstn_costs=costs)
        print(f"Chart written to {chart}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return report(args.lake_root, args.chart, args.table, args.table_format)


if __name__ == "__main__":
    sys.exit(main())
