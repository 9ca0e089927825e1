"""The trunk-health operator's OpenLineage: the source table in, the gold table out, named by the naming spec."""

from __future__ import annotations

import json
from datetime import date
from types import SimpleNamespace

from call_logs.extract import extract_day
from call_logs.lineage import DatasetName, graph_dataset, lake_dataset
from call_logs.operators._lineage import storage_account
from call_logs.operators.gold import TrunkHealthOperator
from call_logs.reports.direct_routing import DIRECT_ROUTING

from tests.helpers import AZURITE_ACCOUNT, AZURITE_KEY, emulator_client
from tests.sinks import report_sink

DAY = date(2026, 3, 9)


def test_lake_tables_and_graph_functions_are_named_by_the_naming_spec(monkeypatch):
    assert lake_dataset("file:///data/lake", "direct_routing_calls") == DatasetName(
        "file", "/data/lake/direct_routing_calls"
    )
    assert lake_dataset("abfss://lake@acct.dfs.core.windows.net/bronze", "t") == DatasetName(
        "abfss://lake@acct.dfs.core.windows.net", "bronze/t"
    )
    connection = f"DefaultEndpointsProtocol=https;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
    conn = {"conn_type": "wasb", "extra": {"connection_string": connection}}
    monkeypatch.setenv("AIRFLOW_CONN_AZURE_LAKE", json.dumps(conn))
    root = "abfs://azure_lake@calls/lake"  # the ObjectStoragePath form names the Airflow connection, not the account
    assert lake_dataset(root, "t", storage_account(root)) == DatasetName(
        f"abfss://calls@{AZURITE_ACCOUNT}.dfs.core.windows.net", "lake/t"
    )
    assert graph_dataset("https://graph.microsoft.us", DIRECT_ROUTING.function_path) == DatasetName(
        "msgraph://graph.microsoft.us", "communications/callRecords/getDirectRoutingCalls"
    )


def test_trunk_health_lineage_names_source_and_gold_with_schema_and_statistics(emulator, tmp_path):
    lake = tmp_path / "lake"
    source = report_sink(lake, DIRECT_ROUTING)
    manifest = extract_day(emulator_client(emulator(rows_per_day=700, seed=71)), source, DAY, concurrency=1)
    operator = TrunkHealthOperator(task_id="build", lake_root=lake.as_uri())
    context = {"partition_key": DAY.isoformat(), "ti": SimpleNamespace(dag_id="d", task_id="build", try_number=1)}
    result = operator.execute(context)  # type: ignore[arg-type]

    lineage = operator.get_openlineage_facets_on_complete(None)
    [source_in] = lineage.inputs
    assert (source_in.namespace, source_in.name) == ("file", f"{lake}/direct_routing_calls")
    assert source_in.facets["version"].datasetVersion == manifest.file.sha256
    [gold_out] = lineage.outputs
    assert (gold_out.namespace, gold_out.name) == ("file", f"{lake}/direct_routing_trunk_health")
    fields = [f.name for f in gold_out.facets["schema"].fields]
    assert fields[:3] == ["trunkFullyQualifiedDomainName", "calls", "successful_calls"]
    stats = gold_out.outputFacets["outputStatistics"]
    assert stats.rowCount == result["rows"] > 0 and stats.size > 0
    assert gold_out.facets["version"].datasetVersion == result["sha256"]
