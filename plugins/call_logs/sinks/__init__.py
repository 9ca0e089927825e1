"""Table formats, one sink module each; ``open_sink`` picks one by name for a lake root."""

from __future__ import annotations

from fsspec import AbstractFileSystem

from call_logs.lake.delta_storage import DeltaLocation
from call_logs.reports.spec import ReportSpec
from call_logs.sinks.base import Sink
from call_logs.sinks.delta import DeltaTableSink
from call_logs.sinks.parquet_partitions import ParquetPartitionSink

TABLE_FORMATS = ("parquet", "delta")


def open_sink(
    table_format: str,
    fs: AbstractFileSystem,
    root: str,
    spec: ReportSpec,
    *,
    lake_root: str | None = None,
    delta_location: DeltaLocation | None = None,
) -> Sink:
    """The sink of ``spec``'s table in ``table_format`` under the lake root ``root`` of ``fs``.

    A Delta table is addressed by delta-rs, not through ``fs``: ``delta_location`` when given, else the lake root
    URL ``lake_root`` (``file://…`` or ``abfs://<conn_id>@<container>/…``, whose Airflow connection is read then;
    default ``root``) resolved by ``lake.delta_storage.resolve_delta_location``. Its quality reports go through
    ``fs``. A location that cannot be resolved raises ``ValueError`` (``LakeLocationError``).
    """
    if table_format == "parquet":
        return ParquetPartitionSink(fs, root, spec)
    if table_format == "delta":
        if delta_location is None:
            from call_logs.lake.delta_storage import resolve_delta_location

            delta_location = resolve_delta_location(lake_root or root, spec.table)
        return DeltaTableSink(fs, root, spec, delta_location)
    raise ValueError(f"The table format {table_format!r} is not one of {', '.join(TABLE_FORMATS)}; pick one of those.")
