"""OpenLineage descriptions of what a task read and wrote: datasets named by the OpenLineage naming spec.

- The Graph function a pull reads is a dataset in the namespace ``msgraph://<graph host>`` (``msgraph://
  graph.microsoft.com``, ``msgraph://graph.microsoft.us``, …) named by its path, e.g.
  ``communications/callRecords/<function>``: the naming spec has no entry for Graph, so the namespace
  follows its ``scheme://authority`` rule with a scheme of our own (one namespace per Graph cloud).
- A lake table is the folder holding its partitions: ``file`` + absolute path locally; on Azure
  ``abfss://<container>@<account>.dfs.core.windows.net`` + the path inside the container (the spec's ABFSS form,
  whatever URL scheme the lake root uses). One dataset per table (its days are versions of it: the
  ``version`` facet is the committed file's sha256), so lineage graphs stay one node per table.

Plain Python: the OpenLineage client is imported only when lineage is built (the provider calls the operators'
``get_openlineage_facets_on_complete`` only when a transport is configured); ``operators/_lineage.py`` hands the
datasets to the provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa

from call_logs.tables.checks import CheckResult

GRAPH_SCHEME = "msgraph"
AZURE_SCHEMES = ("abfs", "abfss", "adl")


@dataclass(frozen=True)
class DatasetName:
    namespace: str
    name: str


def graph_dataset(graph_root: str, function_path: str) -> DatasetName:
    """The Graph function a pull reads, e.g. ``msgraph://graph.microsoft.com`` / ``communications/…``."""
    host = urlsplit(graph_root).netloc or graph_root
    return DatasetName(f"{GRAPH_SCHEME}://{host.lower()}", function_path.strip("/"))


def lake_dataset(lake_root: str, table: str, account: str | None = None) -> DatasetName:
    """A lake table under an ObjectStoragePath URL, named by the OpenLineage naming spec.

    ``account`` is the Azure storage account of an ``abfs://<conn_id>@<container>/…`` root (the URL names the
    Airflow connection, not the account); without it the namespace keeps the connection id in its place.
    """
    url = urlsplit(lake_root)
    path = url.path.rstrip("/")
    if url.scheme in ("", "file", "local"):
        return DatasetName("file", f"{path or lake_root.rstrip('/')}/{table}")
    if url.scheme in AZURE_SCHEMES:
        user, _, host = url.netloc.rpartition("@")
        if url.scheme == "abfss" and host.endswith(".dfs.core.windows.net"):
            return DatasetName(f"abfss://{url.netloc}", f"{path.lstrip('/')}/{table}")
        container = host  # abfs://<conn_id>@<container>/<path>: the ObjectStoragePath form
        return DatasetName(
            f"abfss://{container}@{account or user}.dfs.core.windows.net", f"{path.lstrip('/')}/{table}".lstrip("/")
        )
    return DatasetName(f"{url.scheme}://{url.netloc}", f"{path}/{table}")


@dataclass(frozen=True)
class DatasetFacts:
    """What a task knows about one dataset it read or wrote."""

    dataset: DatasetName
    schema: pa.Schema | None = None
    rows: int | None = None
    bytes: int | None = None
    version: str | None = None  # the committed file's sha256 (a Delta sink: the table version)
    file_format: str | None = None
    assertions: tuple[CheckResult, ...] = ()


@dataclass(frozen=True)
class TaskLineage:
    inputs: tuple[DatasetFacts, ...] = ()
    outputs: tuple[DatasetFacts, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


def _facets(facts: DatasetFacts) -> dict[str, Any]:
    from openlineage.client.facet_v2 import dataset_version_dataset, schema_dataset, storage_dataset

    facets: dict[str, Any] = {}
    if facts.schema is not None:
        facets["schema"] = schema_dataset.SchemaDatasetFacet(
            fields=[
                schema_dataset.SchemaDatasetFacetFields(name=f.name, type=str(f.type), ordinal_position=i)
                for i, f in enumerate(facts.schema, start=1)
            ]
        )
    if facts.version:
        facets["version"] = dataset_version_dataset.DatasetVersionDatasetFacet(datasetVersion=facts.version)
    if facts.file_format:
        facets["storage"] = storage_dataset.StorageDatasetFacet(storageLayer="default", fileFormat=facts.file_format)
    return facets


def _input(facts: DatasetFacts) -> Any:
    from openlineage.client.event_v2 import InputDataset
    from openlineage.client.facet_v2 import data_quality_assertions_dataset as dqa
    from openlineage.client.facet_v2 import data_quality_metrics_input_dataset as dqm

    input_facets: dict[str, Any] = {}
    if facts.assertions:
        input_facets["dataQualityAssertions"] = dqa.DataQualityAssertionsDatasetFacet(
            assertions=[
                dqa.Assertion(
                    assertion=result.name,
                    success=not result.failed,
                    severity=result.severity,
                    name=result.name,
                    description=result.message,
                    expected=_text(result.expected),
                    actual=_text(result.observed),
                )
                for result in facts.assertions
            ]
        )
    if facts.rows is not None:
        input_facets["dataQualityMetrics"] = dqm.DataQualityMetricsInputDatasetFacet(
            columnMetrics={}, rowCount=facts.rows, bytes=facts.bytes, fileCount=1
        )
    return InputDataset(facts.dataset.namespace, facts.dataset.name, facets=_facets(facts), inputFacets=input_facets)


def _output(facts: DatasetFacts) -> Any:
    from openlineage.client.event_v2 import OutputDataset
    from openlineage.client.facet_v2 import output_statistics_output_dataset as stats

    output_facets: dict[str, Any] = {
        "outputStatistics": stats.OutputStatisticsOutputDatasetFacet(rowCount=facts.rows, size=facts.bytes, fileCount=1)
    }
    return OutputDataset(facts.dataset.namespace, facts.dataset.name, facets=_facets(facts), outputFacets=output_facets)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


def lineage_datasets(lineage: TaskLineage) -> tuple[list[Any], list[Any]]:
    """OpenLineage's input and output datasets (with their facets) for what a task recorded."""
    return [_input(facts) for facts in lineage.inputs], [_output(facts) for facts in lineage.outputs]
