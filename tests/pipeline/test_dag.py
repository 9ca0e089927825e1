"""The DAG through Airflow itself (dag.test) against the Graph emulator, a local lake and Azurite."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from call_logs.lake.layout import DATA_FILE, MANIFEST_FILE, QUALITY_FILE, TableLayout
from graph_emulator import Fault

from tests.pipeline.conftest import run_for_day, task_states

TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=6 - i) for i in range(3)]


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def test_the_dag_imports_and_is_wired_as_documented(dag):
    from airflow.sdk import CronDataIntervalTimetable

    assert isinstance(dag.timetable, CronDataIntervalTimetable)
    assert [t.task_id for t in dag.topological_sort()] == [
        "wait_for_settled_data",
        "extract",
        "data_quality",
        "recheck",
        "recheck_quality",
    ]
    extract = dag.get_task("extract")
    assert extract.pool == "msgraph_callrecords"
    assert [asset.name for asset in extract.outlets] == ["direct_routing_calls"]
    assert dag.get_task("data_quality").retries == 0
    # The re-check follows the run's own pull whatever its outcome, in the same pool (one pull at a time).
    recheck = dag.get_task("recheck")
    assert recheck.upstream_task_ids == {"extract"} and recheck.trigger_rule == "all_done"
    assert recheck.pool == "msgraph_callrecords" and [a.name for a in recheck.outlets] == ["direct_routing_calls"]
    assert dag.get_task("recheck_quality").upstream_task_ids == {"recheck"}


def scheduler_timetable(dag):
    """The timetable as the scheduler sees it (after serialization), not the authoring-side object."""
    from airflow.serialization.serialized_objects import DagSerialization

    return DagSerialization.from_dict(DagSerialization.to_dict(dag)).timetable


def test_a_scheduled_or_backfill_run_for_d_covers_d_to_d_plus_one(dag):
    from airflow.timetables.base import DataInterval, TimeRestriction

    d = day_start(date(2026, 5, 10))
    info = scheduler_timetable(dag).next_dagrun_info(
        last_automated_data_interval=DataInterval(d - timedelta(days=1), d),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert info.logical_date == d
    assert (info.data_interval.start, info.data_interval.end) == (d, d + timedelta(days=1))


def test_a_manual_run_covers_the_last_complete_day_before_its_date(dag):
    d = day_start(date(2026, 5, 10))
    interval = scheduler_timetable(dag).infer_manual_data_interval(run_after=d + timedelta(days=1, hours=5))
    assert (interval.start, interval.end) == (d, d + timedelta(days=1))


def test_a_run_without_a_data_interval_fails_at_once_with_a_clear_message():
    from airflow.sdk.exceptions import AirflowFailException
    from call_logs.operators._context import run_day

    with pytest.raises(AirflowFailException, match="no data interval"):
        run_day({"data_interval_start": None, "data_interval_end": None})
    with pytest.raises(AirflowFailException, match="not one UTC day"):
        run_day({"data_interval_start": day_start(TODAY), "data_interval_end": day_start(TODAY) + timedelta(hours=1)})


def test_three_days_into_a_local_lake_match_the_ground_truth(dag, emulator, pipeline_env, tmp_path):
    emu = emulator(rows_per_day=2500, seed=21)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri())
    for day in DAYS:
        run = run_for_day(dag, day)
        assert str(run.state) == "success", task_states(run)
    counts = dict(
        duckdb.sql(
            f"SELECT call_date, count(*) FROM read_parquet('{lake}/direct_routing_calls/*/*.parquet', "
            "hive_partitioning = true) GROUP BY 1"
        ).fetchall()
    )
    assert counts == {day: emu.expected_count(day_start(day), day_start(day) + timedelta(days=1)) for day in DAYS}
    oldest = duckdb.sql(
        f"SELECT least(min(startDateTime), min(inviteDateTime), min(failureDateTime), min(endDateTime)) "
        f"FROM read_parquet('{lake}/direct_routing_calls/*/*.parquet')"
    ).fetchall()[0][0]
    assert oldest.year >= 1900
    schemas = {pq.read_schema(path).to_string() for path in lake.glob("direct_routing_calls/*/part-0.parquet")}
    assert len(schemas) == 1
    for day in DAYS:
        folder = lake / f"direct_routing_calls/call_date={day}"
        assert json.loads((folder / QUALITY_FILE).read_text())["status"] == "pass"


def test_a_rerun_gives_the_same_rows_in_one_file(dag, emulator, pipeline_env, tmp_path):
    emu = emulator(rows_per_day=1800, seed=22)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri())
    folder = lake / f"direct_routing_calls/call_date={DAYS[0]}"
    assert str(run_for_day(dag, DAYS[0]).state) == "success"
    first = (folder / DATA_FILE).read_bytes()
    assert str(run_for_day(dag, DAYS[0]).state) == "success"
    assert (folder / DATA_FILE).read_bytes() == first
    assert sorted(p.name for p in folder.iterdir() if not p.name.startswith(("_", "."))) == [DATA_FILE]


def test_end_to_end_into_azurite(dag, emulator, pipeline_env, azurite, blob_container, monkeypatch):
    fs, container = blob_container
    monkeypatch.setenv(
        "AIRFLOW_CONN_AZURE_LAKE", json.dumps({"conn_type": "wasb", "extra": {"connection_string": azurite}})
    )
    emu = emulator(
        rows_per_day=3200,
        seed=23,
        faults=[Fault("throttle", on_request=2, retry_after=0.2), Fault("reset", on_request=4)],
    )
    pipeline_env(emu, f"abfs://azure_lake@{container}/lake")
    day = DAYS[1]
    run = run_for_day(dag, day)
    assert str(run.state) == "success", task_states(run)
    folder = TableLayout(f"{container}/lake", "direct_routing_calls").partition_path(day)
    table = pq.read_table(pa.BufferReader(fs.cat_file(f"{folder}/{DATA_FILE}")))
    truth = emu.expected_rows(day_start(day), day_start(day) + timedelta(days=1))
    assert sorted(table["id"].to_pylist()) == sorted(row["id"] for row in truth)
    manifest = json.loads(fs.cat_file(f"{folder}/{MANIFEST_FILE}"))
    assert manifest["rows"] == len(truth) and manifest["graph"]["retries"] == 2
    assert json.loads(fs.cat_file(f"{folder}/{QUALITY_FILE}"))["status"] == "pass"


def test_a_failure_mid_window_leaves_the_partition_byte_identical(dag, emulator, pipeline_env, tmp_path):
    lake = tmp_path / "lake"
    emu = emulator(rows_per_day=4000, seed=24)
    pipeline_env(emu, lake.as_uri(), direct_routing_graph_concurrency=1)
    day = DAYS[2]
    assert str(run_for_day(dag, day).state) == "success"
    folder = lake / f"direct_routing_calls/call_date={day}"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    # A rerun whose third page is refused (a nextLink to another host): nothing may change.
    emu.configure(faults=[Fault("foreign_next_link", on_request=3, target="https://127.0.0.2:9")], rows_per_day=4100)
    emu.reset_stats()
    for task in dag.tasks:
        task.retries = 0
    run = run_for_day(dag, day)
    assert str(run.state) == "failed" and task_states(run)["extract"] == "failed"
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


def test_a_missing_permission_fails_without_retries_and_writes_nothing(dag, emulator, pipeline_env, tmp_path):
    lake = tmp_path / "lake"
    emu = emulator(rows_per_day=100, grant_permission=False)
    pipeline_env(emu, lake.as_uri())
    run = run_for_day(dag, DAYS[0])
    states = task_states(run)
    assert states["extract"] == "failed"  # AirflowFailException: no up_for_retry despite retries=3
    assert not lake.exists() or not any(lake.rglob("*.parquet"))


def test_a_day_past_retention_is_skipped_not_written_empty(dag, emulator, pipeline_env, tmp_path):
    lake = tmp_path / "lake"
    emu = emulator(rows_per_day=100, retention_days=150)
    pipeline_env(emu, lake.as_uri())
    run = run_for_day(dag, TODAY - timedelta(days=200))
    states = task_states(run)
    assert states["extract"] == "skipped" and states["data_quality"] == "skipped"
    assert not lake.exists() or not any(lake.rglob("*.parquet"))
    assert emu.stats()["data_requests"] == 0


def test_no_secret_or_token_leaves_a_dag_test_run(dag, emulator, pipeline_env, tmp_path, capfd, caplog):
    """Under dag.test() Airflow's masking is off: nothing of ours may print the secret or a token."""
    import logging

    emu = emulator(
        rows_per_day=2200,
        seed=25,
        weekday_profile=False,
        # Long enough that a refreshed token outlives a loaded machine's stall (at 1 s the refresh itself expired
        # under load: "refused even after a refresh"); the fault still forces one refresh, so two tokens.
        token_lifetime_s=5,
        latency_s=0.2,
        faults=[Fault("expire_token", on_request=2)],
    )
    pipeline_env(emu, (tmp_path / "lake").as_uri(), direct_routing_graph_concurrency=1)
    with caplog.at_level(logging.DEBUG):
        run = run_for_day(dag, DAYS[0])
    assert str(run.state) == "success"
    captured = capfd.readouterr()
    text = captured.out + captured.err + caplog.text
    xcom_and_files = "".join(p.read_text(errors="replace") for p in (tmp_path / "lake").rglob("*.json"))
    tokens = emu.issued_tokens()
    assert len(tokens) >= 2
    for secret in [emu.config.client_secret, *tokens]:
        assert secret not in text
        assert secret not in xcom_and_files


def test_a_quality_warning_is_recorded_but_an_error_fails_the_run(dag, emulator, pipeline_env, tmp_path):
    lake = tmp_path / "lake"
    emu = emulator(rows_per_day=1000, seed=26, weekday_profile=False)
    pipeline_env(emu, lake.as_uri(), direct_routing_dq_zero_rows_severity="error")
    history = [TODAY - timedelta(days=d) for d in (9, 8, 7)]
    for day in history:
        assert str(run_for_day(dag, day).state) == "success"

    emu.configure(rows_per_day=5000)  # five times the usual volume: a warning, not a failure
    spike = TODAY - timedelta(days=6)
    assert str(run_for_day(dag, spike).state) == "success"
    report = json.loads((lake / f"direct_routing_calls/call_date={spike}" / QUALITY_FILE).read_text())
    assert report["status"] == "warn"
    assert [c["name"] for c in report["checks"] if c["status"] == "fail"] == ["volume_vs_history"]

    emu.configure(rows_per_day=0)  # Graph says "no calls" against a history of calls: configured as an error
    quiet = TODAY - timedelta(days=5)
    run = run_for_day(dag, quiet)
    assert str(run.state) == "failed" and task_states(run)["data_quality"] == "failed"
    report = json.loads((lake / f"direct_routing_calls/call_date={quiet}" / QUALITY_FILE).read_text())
    assert report["status"] == "fail"
    assert "zero_rows" in [c["name"] for c in report["checks"] if c["status"] == "fail"]
    assert pq.read_table(lake / f"direct_routing_calls/call_date={quiet}" / DATA_FILE).num_rows == 0


def test_a_missing_connection_fails_once_with_one_sentence(dag, emulator, pipeline_env, tmp_path, capfd):
    emu = emulator(rows_per_day=100)
    pipeline_env(emu, (tmp_path / "lake").as_uri(), direct_routing_msgraph_conn_id="msgraph_typo")
    run = run_for_day(dag, DAYS[0])
    assert task_states(run)["extract"] == "failed"  # a configuration error: no up_for_retry
    captured = capfd.readouterr()
    assert "AirflowFailException: There is no Airflow connection 'msgraph_typo'" in captured.out + captured.err
    assert emu.stats()["data_requests"] == 0
