"""The DAGs through Airflow itself (dag.test) with ``direct_routing_table_format = delta``, against the emulator.

Every table is read back with an independent ``deltalake.DeltaTable``, never through the pipeline's own code.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pytest
from deltalake import DeltaTable
from graph_emulator import PSTN_CALLS, Fault

from tests.pipeline.conftest import ROOT, run_for_day, task_states

TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=6), TODAY - timedelta(days=5)]


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def truth_ids(emu, day: date, report: str | None = None) -> list[str]:
    kwargs = {"report": report} if report else {}
    return sorted(row["id"] for row in emu.expected_rows(day_start(day), day_start(day) + timedelta(days=1), **kwargs))


def ids_by_day(table: DeltaTable) -> dict[date, list[str]]:
    read = table.to_pyarrow_table(columns=["call_date", "id"])
    found: dict[date, list[str]] = {}
    for day, id_ in zip(read["call_date"].to_pylist(), read["id"].to_pylist(), strict=True):
        found.setdefault(day, []).append(id_)
    return {day: sorted(ids) for day, ids in found.items()}


def day_commits(table: DeltaTable) -> dict[int, dict]:
    """version -> the pipeline's commit document, for every commit that has one."""
    found = {}
    for entry in table.history():
        document = json.loads(entry.get("userMetadata") or "null")
        if isinstance(document, dict) and document.get("kind") == "call_logs.day_commit":
            found[entry["version"]] = document
    return found


def day_files(table: DeltaTable, day: date) -> list[str]:
    return sorted(table.file_uris(partition_filters=[("call_date", "=", day.isoformat())]))


def dag_named(dag_id: str):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    return bag.get_dag(dag_id)


@pytest.fixture
def pstn_dag(airflow_db):
    return dag_named("pstn_calls")


@pytest.fixture
def maintenance_dag(airflow_db):
    return dag_named("call_logs_maintenance")


def test_two_days_then_a_rerun_of_the_first_read_back_exactly(dag, maintenance_dag, emulator, pipeline_env, tmp_path):
    emu = emulator(rows_per_day=2500, seed=31)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri(), direct_routing_table_format="delta")
    requests = {}
    for day in DAYS:
        emu.reset_stats()
        run = run_for_day(dag, day)
        assert str(run.state) == "success", task_states(run)
        requests[day] = emu.stats()["data_requests"]
    uri = str(lake / "direct_routing_calls")
    before = DeltaTable(uri)
    version, second_files = before.version(), day_files(before, DAYS[1])
    assert ids_by_day(before) == {day: truth_ids(emu, day) for day in DAYS}

    emu.reset_stats()
    rerun = run_for_day(dag, DAYS[0])
    assert str(rerun.state) == "success", task_states(rerun)

    table = DeltaTable(uri)
    assert table.version() == version + 1  # the re-run is exactly one new version
    assert ids_by_day(table) == {day: truth_ids(emu, day) for day in DAYS}
    assert day_files(table, DAYS[1]) == second_files  # the other day is intact
    protocol = table.protocol()
    assert (protocol.min_reader_version, protocol.min_writer_version) == (1, 2)

    commits = day_commits(table)
    assert sorted(commits) == [version - 1, version, version + 1]  # version 0 creates the table
    latest = commits[version + 1]["metadata"]
    assert latest["call_date"] == DAYS[0].isoformat() and latest["rows"] == len(truth_ids(emu, DAYS[0]))
    assert latest["run"]["dag_id"] == "direct_routing_calls" and latest["run"]["run_id"] == rerun.run_id
    assert latest["run"]["task_id"] == "extract" and latest["run"]["try_number"] >= 1
    assert latest["graph"]["requests"] == emu.stats()["data_requests"] > 0
    assert commits[version]["metadata"]["graph"]["requests"] == requests[DAYS[1]]

    for day in DAYS:  # the quality reports sit in _dq/, which Delta readers ignore
        report = json.loads((lake / f"direct_routing_calls/_dq/call_date={day}.json").read_text())
        assert report["status"] == "pass", report
        assert report["file"]["rows"] == len(truth_ids(emu, day))

    # Maintenance runs in its own DAG: vacuum (168 h: nothing is old enough yet) and a checkpoint; no rows change.
    run = maintenance_dag.test(logical_date=day_start(TODAY))
    assert str(run.state) == "success", task_states(run)
    after = DeltaTable(uri)
    assert ids_by_day(after) == ids_by_day(table)
    assert list((lake / "direct_routing_calls/_delta_log").glob("*.checkpoint.parquet"))
    assert day_files(after, DAYS[1]) == second_files


def test_a_rerun_that_fails_mid_pull_leaves_the_version_and_rows_unchanged(dag, emulator, pipeline_env, tmp_path):
    emu = emulator(rows_per_day=4000, seed=32)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri(), direct_routing_table_format="delta", direct_routing_graph_concurrency=1)
    day = DAYS[0]
    assert str(run_for_day(dag, day).state) == "success"
    uri = str(lake / "direct_routing_calls")
    version, rows = DeltaTable(uri).version(), ids_by_day(DeltaTable(uri))

    emu.configure(faults=[Fault("foreign_next_link", on_request=3, target="https://127.0.0.2:9")], rows_per_day=4100)
    emu.reset_stats()  # fault numbers count from here
    for task in dag.tasks:
        task.retries = 0
    run = run_for_day(dag, day)
    assert str(run.state) == "failed" and task_states(run)["extract"] == "failed"
    table = DeltaTable(uri)
    assert table.version() == version and ids_by_day(table) == rows


def test_the_pstn_dag_writes_its_own_delta_table(pstn_dag, emulator, pipeline_env, tmp_path):
    emu = emulator(rows_per_day=2000, seed=33)
    lake = tmp_path / "lake"
    # Only the lake-wide Variable is set: pstn_calls_table_format falls back to it.
    pipeline_env(emu, lake.as_uri(), direct_routing_table_format="delta", pstn_calls_settle_hours=0)
    for day in DAYS:
        run = run_for_day(pstn_dag, day)
        assert str(run.state) == "success", task_states(run)
    table = DeltaTable(str(lake / "pstn_calls"))
    assert ids_by_day(table) == {day: truth_ids(emu, day, PSTN_CALLS) for day in DAYS}
    assert table.to_pyarrow_dataset().schema.field("charge").type == pa.decimal128(18, 6)
    for day in DAYS:
        report = json.loads((lake / f"pstn_calls/_dq/call_date={day}.json").read_text())
        assert report["status"] == "pass", report


def test_end_to_end_into_azurite(dag, emulator, pipeline_env, azurite, blob_container, monkeypatch):
    from call_logs.lake.delta_storage import AzureConnection, delta_location

    fs, container = blob_container
    monkeypatch.setenv(
        "AIRFLOW_CONN_AZURE_LAKE", json.dumps({"conn_type": "wasb", "extra": {"connection_string": azurite}})
    )
    emu = emulator(rows_per_day=1500, seed=34)
    lake_root = f"abfs://azure_lake@{container}/lake"
    pipeline_env(emu, lake_root, direct_routing_table_format="delta")
    day = DAYS[1]
    run = run_for_day(dag, day)
    assert str(run.state) == "success", task_states(run)
    location = delta_location(lake_root, "direct_routing_calls", AzureConnection(extras={"connection_string": azurite}))
    table = DeltaTable(location.uri, storage_options=location.storage_options)
    assert ids_by_day(table) == {day: truth_ids(emu, day)}
    report = json.loads(fs.cat_file(f"{container}/lake/direct_routing_calls/_dq/call_date={day}.json"))
    assert report["status"] == "pass"

    # The day's trunk health, as the gold DAG's tasks compute and check it: a Delta table beside the source.
    from airflow.sdk.execution_time.context import OutletEventAccessors
    from call_logs.operators.gold import GoldQualityOperator, TrunkHealthOperator

    context = {"partition_key": day.isoformat(), "run_id": "gold", "outlet_events": OutletEventAccessors()}
    TrunkHealthOperator(task_id="build", lake_root=lake_root, table_format="delta").execute(context)
    check = GoldQualityOperator(
        task_id="check", table="direct_routing_trunk_health", lake_root=lake_root, table_format="delta"
    )
    assert check.execute(context)["status"] == "warn"  # the day before was not pulled: no concurrency figures
    gold = delta_location(
        lake_root, "direct_routing_trunk_health", AzureConnection(extras={"connection_string": azurite})
    )
    trunks = DeltaTable(gold.uri, storage_options=gold.storage_options).to_pyarrow_table()
    assert sum(trunks["calls"].to_pylist()) == len(truth_ids(emu, day))
    gold_report = json.loads(fs.cat_file(f"{container}/lake/direct_routing_trunk_health/_dq/call_date={day}.json"))
    assert [c["name"] for c in gold_report["checks"] if c["status"] == "fail"] == ["concurrency_complete"]


def test_the_maintenance_dag_is_a_no_op_for_parquet(maintenance_dag, pipeline_env, emulator, tmp_path, caplog):
    emu = emulator(rows_per_day=10)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri())
    run = maintenance_dag.test(logical_date=day_start(TODAY))
    assert str(run.state) == "success", task_states(run)
    assert set(task_states(run)) == {
        "maintain_direct_routing_calls",
        "maintain_pstn_calls",
        "maintain_direct_routing_trunk_health",
        "maintain_direct_routing_trunk_health_monthly",
        "maintain_direct_routing_trunk_health_hourly",
        "maintain_pstn_usage_monthly",
        "maintain_pstn_minute_pools_monthly",
        "maintain_direct_routing_sbc_health",
    }
    assert not Path(lake).exists() or not any(Path(lake).rglob("*"))
