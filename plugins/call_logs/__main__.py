"""Command line: ``python -m call_logs report --lake-root URL_OR_PATH [--chart lake_report.html]``.

Plain Python (no Airflow): a data engineer can inspect a lake from a laptop. ``--lake-root`` is a local
path or any fsspec URL (``file:///…``; ``abfs://container/path`` with the ``AZURE_STORAGE_*`` variables).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fsspec.core import url_to_fs

from call_logs.lake.layout import table_path
from call_logs.quality.report import CHART_SUFFIXES, format_table, lake_report, write_chart

EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m call_logs", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    report = commands.add_parser("report", help="one line per committed day, and a chart of volume and failures")
    report.add_argument("--lake-root", required=True, help="local path or fsspec URL of the lake root")
    report.add_argument("--chart", help=f"write a chart of daily volume and failure rate ({', '.join(CHART_SUFFIXES)})")
    return parser


def report(lake_root: str, chart: str | None) -> int:
    """Print the lake report; write the chart when asked. Returns the exit code."""
    if chart is not None and Path(chart).suffix.lower() not in CHART_SUFFIXES:
        print(f"The chart file {chart} must end in {', '.join(CHART_SUFFIXES)}.", file=sys.stderr)
        return EXIT_USAGE
    fs, root = url_to_fs(lake_root)
    root = root.rstrip("/")
    if not fs.exists(table_path(root)):
        print(f"No lake at {lake_root}: {table_path(root)} does not exist; check --lake-root.", file=sys.stderr)
        return EXIT_USAGE
    lines = lake_report(fs, root)
    print(format_table(lines))
    if chart is not None:
        write_chart(lines, chart, title=f"Direct-routing calls in {lake_root}")
        print(f"Chart written to {chart}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    return report(args.lake_root, args.chart)


if __name__ == "__main__":
    sys.exit(main())
