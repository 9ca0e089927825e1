"""OpenLineage for the operators: what ``execute`` read and wrote, handed to the provider after the task.

The OpenLineage provider calls ``get_openlineage_facets_on_complete`` (and, for a failed task, the same method
through its default extractor) in the task's process, right after ``execute``; ``execute`` records the facts
in ``_lineage_facts``. Nothing is sent unless an OpenLineage transport is configured (``[openlineage] transport``,
``AIRFLOW__OPENLINEAGE__TRANSPORT``): without one the provider disables itself.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from call_logs.gold.store import GoldManifest
from call_logs.hooks.lake import azure_connection
from call_logs.lake.delta_storage import azure_conn_id, azure_storage_options
from call_logs.lake.manifest import Manifest
from call_logs.lineage import DatasetFacts, TaskLineage, graph_dataset, lake_dataset, lineage_datasets
from call_logs.quality.results import QualityReport
from call_logs.sinks import ReportSink
from call_logs.sinks.base import Sink
from call_logs.tables.checks import CheckResult


class LineageMixin:
    """``get_openlineage_facets_on_complete`` from the facts ``execute`` recorded (none recorded: no datasets)."""

    _lineage_facts: TaskLineage | None = None

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        from airflow.providers.openlineage.extractors import OperatorLineage  # the provider stays optional

        if self._lineage_facts is None:
            return OperatorLineage()
        inputs, outputs = lineage_datasets(self._lineage_facts)
        return OperatorLineage(inputs=inputs, outputs=outputs)


def storage_account(lake_root: str) -> str | None:
    """The Azure storage account behind an ``abfs://<conn_id>@<container>/…`` lake root, from its connection."""
    try:
        conn_id = azure_conn_id(lake_root)
        if conn_id is None:
            return None
        azure = azure_connection(conn_id)
        options = azure_storage_options(
            login=azure.login, password=azure.password, host=azure.host, extras=azure.extras
        )
    except Exception:  # lineage never fails a task: the namespace keeps the connection id instead
        return None
    return options.get("account_name")


def table_dataset(sink: Sink[Any, Any], lake_root: str, **facts: Any) -> DatasetFacts:
    """A lake table (report or gold) as a dataset with what the task knows of the partition it touched."""
    spec = sink.spec
    return DatasetFacts(
        lake_dataset(lake_root, spec.table, storage_account(lake_root)),
        schema=spec.schema,
        file_format=sink.table_format,
        **facts,
    )


def extract_lineage(sink: ReportSink, lake_root: str, manifest: Manifest, graph_root: str) -> TaskLineage:
    """Graph function → the report's table (the committed day's rows, bytes, sha256)."""
    return TaskLineage(
        inputs=(DatasetFacts(graph_dataset(graph_root, sink.spec.function_path)),),
        outputs=(
            table_dataset(sink, lake_root, rows=manifest.rows, bytes=manifest.file.bytes, version=manifest.file.sha256),
        ),
    )


def quality_lineage(
    sink: Sink[Any, Any],
    lake_root: str,
    *,
    rows: int | None,
    size: int | None,
    sha256: str | None,
    results: list[CheckResult] | tuple[CheckResult, ...],
) -> TaskLineage:
    """The checked table as an input carrying the checks as data-quality assertions."""
    checked = table_dataset(sink, lake_root, rows=rows, bytes=size, version=sha256, assertions=tuple(results))
    return TaskLineage(inputs=(checked,))


def report_lineage(sink: Sink[Any, Any], lake_root: str, report: QualityReport) -> TaskLineage:
    """``quality_lineage`` of a table's quality report."""
    return quality_lineage(
        sink, lake_root, rows=report.rows, size=report.file_bytes, sha256=report.file_sha256, results=report.results
    )


def gold_lineage(
    source: Sink[Any, Any], gold: Sink[Any, Any], lake_root: str, day: date, manifest: GoldManifest
) -> TaskLineage:
    """Source table → gold table (the gold partition's rows, bytes, sha256)."""
    origin = manifest.sources[0] if manifest.sources else None
    return TaskLineage(
        inputs=(
            table_dataset(
                source,
                lake_root,
                rows=origin.rows if origin else None,
                version=origin.sha256 if origin else None,
            ),
        ),
        outputs=(
            table_dataset(gold, lake_root, rows=manifest.rows, bytes=manifest.file.bytes, version=manifest.file.sha256),
        ),
    )
