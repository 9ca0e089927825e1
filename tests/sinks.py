"""Sinks over a local folder or the root of any fsspec filesystem (Azurite's included), opened as tasks open them."""

from __future__ import annotations

from call_logs.gold.store import GoldSink, gold_sink
from call_logs.gold.table import GoldTable
from call_logs.lake.root import LakeRoot
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.reports.spec import ReportSpec
from call_logs.sinks import ReportSink, open_report


def lake_root(root, fs=None) -> LakeRoot:
    """A local folder (a path or ``file://`` URL), or the path ``root`` in ``fs``."""
    return LakeRoot.from_url(str(root)) if fs is None else LakeRoot(str(root), fs, str(root))


def report_sink(
    root, spec: ReportSpec = DIRECT_ROUTING, table_format: str = "parquet", fs=None, tenant: str | None = None
) -> ReportSink:
    """The sink of ``spec``'s table (of ``tenant``'s days) under ``root`` (see ``lake_root``)."""
    return open_report(table_format, lake_root(root, fs), spec, tenant=tenant)


def gold_table_sink(
    root, table: GoldTable, table_format: str = "parquet", fs=None, tenant: str | None = None
) -> GoldSink:
    """The sink of a gold table (of ``tenant``'s partitions) under ``root`` (see ``lake_root``)."""
    return gold_sink(table_format, lake_root(root, fs), table, tenant=tenant)
