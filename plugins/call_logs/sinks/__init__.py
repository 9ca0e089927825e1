"""Table formats, one sink module each; ``open_table`` picks one by name for a table under a lake root."""

from __future__ import annotations

from call_logs.lake.errors import LakeConfigError
from call_logs.lake.manifest import Manifest
from call_logs.lake.root import LakeRoot
from call_logs.reports.spec import ReportSpec
from call_logs.sinks.base import ParseFacts, Sink
from call_logs.sinks.delta import DeltaTableSink
from call_logs.sinks.parquet_partitions import ParquetPartitionSink
from call_logs.tables.partitioned import FactsT, TableT

TABLE_FORMATS = ("parquet", "delta")

ReportSink = Sink[ReportSpec, Manifest]
"""The sink of a Graph report's table: its facts are the pull's ``Manifest``."""


def open_table(
    table_format: str, lake: LakeRoot, table: TableT, parse_facts: ParseFacts[FactsT], *, tenant: str | None = None
) -> ParquetPartitionSink[TableT, FactsT] | DeltaTableSink[TableT, FactsT]:
    """The sink of any partitioned table (a Graph report's or a gold table) in ``table_format`` under ``lake``;
    with ``tenant``, of that tenant's partitions (``tenant=<slug>/``, or the Delta table's ``tenant`` partition).

    A Delta table is addressed by delta-rs at ``lake.delta_location(table)``; its quality reports, like every file
    of a Parquet table, go through ``lake.fs``. A wrong format or a location that cannot be resolved raises
    ``LakeConfigError``.
    """
    if table_format == "parquet":
        return ParquetPartitionSink(lake.fs, lake.path, table, parse_facts, tenant=tenant)
    if table_format == "delta":
        location = lake.delta_location(table.table)
        return DeltaTableSink(lake.fs, lake.path, table, location, parse_facts, tenant=tenant)
    raise LakeConfigError(
        f"The table format {table_format!r} is not one of {', '.join(TABLE_FORMATS)}; pick one of those."
    )


def open_report(table_format: str, lake: LakeRoot, spec: ReportSpec, *, tenant: str | None = None) -> ReportSink:
    """The sink of a Graph report's table (of one tenant's days, with ``tenant``; see ``open_table``)."""
    return open_table(table_format, lake, spec, Manifest.from_dict, tenant=tenant)
