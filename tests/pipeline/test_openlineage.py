"""OpenLineage through Airflow's own CLI: `airflow dags test direct_routing_calls <D+1>` with the file transport
leaves the day's asset event (partition key D, rows in extra) and writes COMPLETE events that name the lake table
(schema, rowCount, size) and carry the quality checks as assertions; without a transport the provider stays
disabled and nothing is written."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

from graph_emulator.connection import emulator_info, msgraph_connection_env

from tests.helpers import ROOT

TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=4)
NAMESPACE = "call-logs-tests"


def airflow_env(emu, lake: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__OPENLINEAGE", "OPENLINEAGE"))}
    env.update(msgraph_connection_env(emu))
    env.update(
        {
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("plugins", "include", "dags")),
            "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": lake.as_uri(),
            "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": "0",
        }
    )
    env.update(extra)
    return env


def dags_test(env: dict[str, str]) -> subprocess.CompletedProcess:
    logical = (DAY + timedelta(days=1)).isoformat()  # the run covers [D, D+1)
    return subprocess.run(
        [sys.executable, "-m", "airflow", "dags", "test", "direct_routing_calls", logical],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def provider_disabled(env: dict[str, str]) -> bool:
    code = "from airflow.providers.openlineage.conf import is_disabled; print(is_disabled())"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return done.stdout.strip().splitlines()[-1] == "True"


def latest_event_extra(asset: str, key: str) -> dict:
    """The extra of the newest event on ``asset`` with partition ``key`` (the CLI run shares the session's DB)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        return session.scalars(
            select(AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetModel.name == asset, AssetEvent.partition_key == key)
            .order_by(AssetEvent.id.desc())
        ).first()


def completes(path: Path) -> dict[str, dict]:
    """task id -> its COMPLETE event, from the file transport's JSON lines."""
    events = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return {
        e["job"]["name"].rsplit(".", 1)[-1]: e
        for e in events
        if e["eventType"] == "COMPLETE" and "." in e["job"]["name"]
    }


def test_complete_events_name_the_lake_output_with_schema_rows_and_assertions(airflow_db, emulator, tmp_path):
    emu = emulator(rows_per_day=1300, seed=61)
    lake = tmp_path / "lake"
    lineage = tmp_path / "lineage.jsonl"
    transport = json.dumps({"type": "file", "log_file_path": str(lineage), "append": True})
    env = airflow_env(emu, lake, AIRFLOW__OPENLINEAGE__TRANSPORT=transport, AIRFLOW__OPENLINEAGE__NAMESPACE=NAMESPACE)
    assert not provider_disabled(env)
    done = dags_test(env)
    assert done.returncode == 0, done.stderr[-3000:]
    manifest = json.loads((lake / f"direct_routing_calls/call_date={DAY}/_manifest.json").read_text())
    assert latest_event_extra("direct_routing_calls", DAY.isoformat())["rows"] == manifest["rows"]  # the CLI's run
    events = completes(lineage)
    assert {"extract", "data_quality"} <= set(events), sorted(events)

    extract = events["extract"]
    assert extract["job"]["namespace"] == NAMESPACE
    [graph] = extract["inputs"]
    assert graph["namespace"] == f"msgraph://{urlsplit(emulator_info(emu)['graph_root']).netloc}"  # 127.0.0.1:<port>
    assert graph["name"] == "communications/callRecords/getDirectRoutingCalls"
    [output] = extract["outputs"]
    assert (output["namespace"], output["name"]) == ("file", f"{lake}/direct_routing_calls")
    fields = [f["name"] for f in output["facets"]["schema"]["fields"]]
    assert fields[:3] == ["id", "correlationId", "userId"] and "trunkFullyQualifiedDomainName" in fields
    assert output["facets"]["version"]["datasetVersion"] == manifest["file"]["sha256"]
    stats = output["outputFacets"]["outputStatistics"]
    assert (stats["rowCount"], stats["size"]) == (manifest["rows"], manifest["file"]["bytes"])
    assert stats["rowCount"] > 0

    quality = events["data_quality"]
    [checked] = quality["inputs"]
    assert (checked["namespace"], checked["name"]) == ("file", f"{lake}/direct_routing_calls")
    assertions = {a["assertion"]: a for a in checked["inputFacets"]["dataQualityAssertions"]["assertions"]}
    stored = json.loads((lake / f"direct_routing_calls/call_date={DAY}/_dq.json").read_text())
    assert set(assertions) == {c["name"] for c in stored["checks"]}
    assert all(a["success"] for a in assertions.values())
    assert checked["inputFacets"]["dataQualityMetrics"]["rowCount"] == manifest["rows"]


def test_without_a_transport_lineage_is_off_and_nothing_is_written(airflow_db, emulator, tmp_path):
    emu = emulator(rows_per_day=300, seed=62)
    env = airflow_env(emu, tmp_path / "lake", AIRFLOW__OPENLINEAGE__NAMESPACE=NAMESPACE)
    assert provider_disabled(env)
    before = set(Path(tmp_path).rglob("*"))
    done = dags_test(env)
    assert done.returncode == 0, done.stderr[-3000:]
    written = {p for p in Path(tmp_path).rglob("*") if p not in before and "lake" not in p.relative_to(tmp_path).parts}
    assert written == set()
