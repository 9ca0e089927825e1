"""Each committed day is an asset event whose partition key is the day, with what a consumer needs in its extra."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.pipeline.conftest import run_for_day, task_states

TODAY = datetime.now(UTC).date()
DAY = TODAY - timedelta(days=5)


def events_of(run) -> dict[str, list[tuple[str | None, dict]]]:
    """asset name -> [(partition_key, extra)] of the events this run emitted, from Airflow's metadata DB."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        rows = session.execute(
            select(AssetModel.name, AssetEvent.partition_key, AssetEvent.extra)
            .join(AssetModel, AssetModel.id == AssetEvent.asset_id)
            .where(AssetEvent.source_dag_id == run.dag_id, AssetEvent.source_run_id == run.run_id)
        ).all()
    events: dict[str, list[tuple[str | None, dict]]] = {}
    for name, key, extra in rows:
        events.setdefault(name, []).append((key, extra))
    return events


def test_a_committed_day_leaves_events_keyed_by_the_day_with_its_facts(dag, emulator, pipeline_env, tmp_path):
    emu = emulator(rows_per_day=1500, seed=41)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri())
    run = run_for_day(dag, DAY)  # logical date D+1: the run covers [D, D+1)
    assert str(run.state) == "success", task_states(run)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    rows = emu.expected_count(start, start + timedelta(days=1))
    manifest = (lake / f"direct_routing_calls/call_date={DAY}/_manifest.json").read_text()

    events = events_of(run)
    assert sorted(events) == ["direct_routing_calls", "direct_routing_calls_checked"]
    [(key, committed)] = events["direct_routing_calls"]
    assert key == DAY.isoformat()
    assert committed["rows"] == rows > 0
    assert committed["pages"] >= 2 and committed["sha256"] in manifest
    assert committed["table_format"] == "parquet" and committed["quality_status"] == "unchecked"
    assert committed["table_version"] is None  # Hive partitions: the sha256 identifies the bytes
    assert committed["location"] == f"{lake.as_uri()}/direct_routing_calls/call_date={DAY}"

    [(key, checked)] = events["direct_routing_calls_checked"]
    assert key == DAY.isoformat()
    assert checked["quality_status"] == "pass" and checked["warnings"] == []
    for fact in ("rows", "pages", "sha256", "bytes", "table_format", "location"):
        assert checked[fact] == committed[fact], fact


def test_a_day_that_fails_its_checks_is_committed_but_never_checked(dag, emulator, pipeline_env, tmp_path):
    emu = emulator(rows_per_day=400, seed=42)
    lake = tmp_path / "lake"
    # Zero rows with a history of calls is an error under this setting: the quality task fails.
    pipeline_env(emu, lake.as_uri(), direct_routing_dq_zero_rows_severity="error")
    assert str(run_for_day(dag, DAY - timedelta(days=1)).state) == "success"
    emu.configure(rows_per_day=0)  # Graph now answers the day empty
    run = run_for_day(dag, DAY)
    assert task_states(run)["data_quality"] == "failed"
    events = events_of(run)
    assert [key for key, _ in events.get("direct_routing_calls", [])] == [DAY.isoformat()]
    assert "direct_routing_calls_checked" not in events


def test_a_delta_day_names_the_table_version_that_committed_it(dag, emulator, pipeline_env, tmp_path):
    from deltalake import DeltaTable

    emu = emulator(rows_per_day=1200, seed=43)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri(), direct_routing_table_format="delta")
    for _ in range(2):  # a day and its re-run: two versions, each event names its own
        run = run_for_day(dag, DAY)
        assert str(run.state) == "success", task_states(run)
        [(key, committed)] = events_of(run)["direct_routing_calls"]
        assert key == DAY.isoformat() and committed["table_format"] == "delta"
        assert committed["table_version"] == DeltaTable(str(lake / "direct_routing_calls")).version()
    assert committed["table_version"] >= 2
