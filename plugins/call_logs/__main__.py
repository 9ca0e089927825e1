"""Command line: ``python -m call_logs report --lake-root URL_OR_PATH [--table NAME] [--chart lake_report.html]``.

Plain Python (no Airflow): a data engineer can inspect a lake from a laptop. ``--lake-root`` is a local path or
any fsspec URL (``file:///…``; ``abfs://container/path`` with the ``AZURE_STORAGE_*`` variables). Every report
table found under the root is reported unless ``--table`` names one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fsspec.core import url_to_fs

from call_logs.quality.report import CHART_SUFFIXES, format_table, lake_report, write_chart
from call_logs.reports import REPORTS
from call_logs.sinks.parquet_partitions import ParquetPartitionSink

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m call_logs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="one line per committed day, and a chart of volume and a rate")
    report.add_argument("--lake-root", required=True, help="local path or fsspec URL of the lake root")
    report.add_argument("--table", choices=sorted(REPORTS), help="one table only (default: every table found)")
    report.add_argument(
        "--chart", help=f"write charts of daily volume, rate and trunk health ({', '.join(CHART_SUFFIXES)})"
    )
    return parser


def report(lake_root: str, chart: str | None, table: str | None = None) -> int:
    """Print the lake report; write the chart when asked. Returns the exit code."""
    if chart is not None and Path(chart).suffix.lower() not in CHART_SUFFIXES:
        print(f"The chart file {chart} must end in {', '.join(CHART_SUFFIXES)}.", file=sys.stderr)
        return EXIT_USAGE
    fs, root = url_to_fs(lake_root)
    specs = [REPORTS[table]] if table else list(REPORTS.values())
    sinks = [ParquetPartitionSink(fs, root, spec) for spec in specs]
    found = [sink for sink in sinks if fs.exists(sink.layout.table_path)]
    if not found:
        paths = ", ".join(sink.layout.table_path for sink in sinks)
        print(f"No lake at {lake_root}: none of {paths} exists; check --lake-root.", file=sys.stderr)
        return EXIT_USAGE
    tables = []
    for index, sink in enumerate(found):
        lines = lake_report(sink)
        if len(found) > 1:  # name the tables only when there are several
            print(f"{chr(10) if index else ''}{sink.spec.table}")
        print(format_table(lines, sink.spec))
        tables.append((sink.spec, lines))
    if chart is not None:
        from call_logs.gold.trunk_health import stored_days

        write_chart(tables, chart, title=f"Call logs in {lake_root}", trunk_days=stored_days(fs, root))
        print(f"Chart written to {chart}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return report(args.lake_root, args.chart, args.table)


if __name__ == "__main__":
    sys.exit(main())
