"""Table formats, one sink module each; ``open_sink`` picks one by name for a lake root."""

from __future__ import annotations

from fsspec import AbstractFileSystem

from call_logs.reports.spec import ReportSpec
from call_logs.sinks.base import Sink
from call_logs.sinks.parquet_partitions import ParquetPartitionSink

TABLE_FORMATS = ("parquet",)


def open_sink(table_format: str, fs: AbstractFileSystem, root: str, spec: ReportSpec) -> Sink:
    """The sink of ``spec``'s table in ``table_format`` under the lake root ``root`` of ``fs``."""
    if table_format == "parquet":
        return ParquetPartitionSink(fs, root, spec)
    raise ValueError(f"The table format {table_format!r} is not one of {', '.join(TABLE_FORMATS)}; pick one of those.")
