"""Table formats, one sink module each; ``open_sink`` picks one by name for a lake root."""

from __future__ import annotations

from fsspec import AbstractFileSystem

from call_logs.lake.delta_storage import DeltaLocation
from call_logs.reports.spec import ReportSpec
from call_logs.sinks.base import Sink
from call_logs.sinks.delta import DeltaTableSink
from call_logs.sinks.parquet_partitions import ParquetPartitionSink
from call_logs.sinks.tables import TableT

TABLE_FORMATS = ("parquet", "delta")


def open_table(
    table_format: str,
    fs: AbstractFileSystem,
    root: str,
    table: TableT,
    *,
    lake_root: str | None = None,
    delta_location: DeltaLocation | None = None,
) -> ParquetPartitionSink[TableT] | DeltaTableSink[TableT]:
    """The sink of any partitioned table (a Graph report's or a gold table) in ``table_format`` under ``root``.

    A Delta table is addressed by delta-rs, not through ``fs``: ``delta_location`` when given, else the lake root
    URL ``lake_root`` (``file://…`` or ``abfs://<conn_id>@<container>/…``, whose Airflow connection is read then;
    default ``root``) resolved by ``lake.delta_storage.resolve_delta_location``. Its quality reports go through
    ``fs``. A location that cannot be resolved raises ``ValueError`` (``LakeLocationError``).
    """
    if table_format == "parquet":
        return ParquetPartitionSink(fs, root, table)
    if table_format == "delta":
        if delta_location is None:
            from call_logs.lake.delta_storage import resolve_delta_location

            delta_location = resolve_delta_location(lake_root or root, table.table)
        return DeltaTableSink(fs, root, table, delta_location)
    raise ValueError(f"The table format {table_format!r} is not one of {', '.join(TABLE_FORMATS)}; pick one of those.")


def open_sink(
    table_format: str,
    fs: AbstractFileSystem,
    root: str,
    spec: ReportSpec,
    *,
    lake_root: str | None = None,
    delta_location: DeltaLocation | None = None,
) -> Sink:
    """The sink of ``spec``'s table in ``table_format`` under the lake root ``root`` of ``fs`` (see ``open_table``)."""
    return open_table(table_format, fs, root, spec, lake_root=lake_root, delta_location=delta_location)
