"""The gold operators on a Delta lake (``direct_routing_table_format = delta``): the trunk-health day and its monthly
rollup become Delta tables beside the source, their checks pass, their asset events name the table version, and the
maintenance DAG's tasks vacuum and checkpoint them. Tables are read back with an independent ``deltalake.DeltaTable``.
"""

from __future__ import annotations

from datetime import date
from types import SimpleNamespace

from airflow.sdk import Asset
from airflow.sdk.execution_time.context import OutletEventAccessors
from call_logs.extract import extract_day
from call_logs.gold.table import TRUNK_HEALTH, TRUNK_HEALTH_MONTHLY
from call_logs.operators.gold import GoldQualityOperator, TrunkHealthMonthlyOperator, TrunkHealthOperator
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.utc import days_of_month
from deltalake import DeltaTable

from tests.helpers import emulator_client
from tests.sinks import report_sink

MONTH = date(2026, 2, 1)


def context(key: str, task_id: str) -> dict:
    ti = SimpleNamespace(dag_id="gold", task_id=task_id, try_number=1)
    return {"partition_key": key, "ti": ti, "run_id": "test", "outlet_events": OutletEventAccessors()}


def test_gold_days_and_months_are_delta_tables_checked_and_announced_with_their_version(emulator, tmp_path):
    lake = tmp_path / "lake"
    root = lake.as_uri()
    source = report_sink(lake, DIRECT_ROUTING, "delta")
    client = emulator_client(emulator(rows_per_day=120, seed=61))
    days = days_of_month(MONTH)
    for day in days:
        extract_day(client, source, day, concurrency=1)

    for day in days:
        built = TrunkHealthOperator(task_id="build", lake_root=root, table_format="delta").execute(
            context(day.isoformat(), "build")  # type: ignore[arg-type]
        )
        ctx = context(day.isoformat(), "check")
        checked = GoldQualityOperator(task_id="check", table=TRUNK_HEALTH.table, lake_root=root, table_format="delta")
        # The month's first day has no previous day in the lake: its concurrency is null, which is a warning.
        expected = "warn" if day == days[0] else "pass"
        assert checked.execute(ctx)["status"] == expected  # type: ignore[arg-type]
    event = ctx["outlet_events"][Asset(name=TRUNK_HEALTH.table)]
    assert event.partition_keys == {days[-1].isoformat()}
    table = DeltaTable(str(lake / TRUNK_HEALTH.table))
    assert event.extra["table_format"] == "delta" and event.extra["table_version"] == table.version()
    assert event.extra["rows"] == built["rows"] == len(table.to_pyarrow_table(filters=[("call_date", "=", days[-1])]))
    assert table.metadata().partition_columns == ["call_date"]
    daily = table.to_pyarrow_table()
    calls = DeltaTable(str(lake / DIRECT_ROUTING.table)).to_pyarrow_table(columns=["call_date"])
    assert (
        daily.group_by("call_date").aggregate([("calls", "sum")]).sort_by("call_date").to_pylist()
        == (
            calls.group_by("call_date")
            .aggregate([("call_date", "count")])
            .sort_by("call_date")
            .rename_columns(["call_date", "calls_sum"])
        ).to_pylist()
    )  # every source row counted once, on its day

    month_key = f"{MONTH:%Y-%m}"
    TrunkHealthMonthlyOperator(
        task_id="build", table=TRUNK_HEALTH_MONTHLY.table, lake_root=root, table_format="delta"
    ).execute(context(month_key, "build"))  # type: ignore[arg-type]
    ctx = context(month_key, "check")
    checked = GoldQualityOperator(
        task_id="check", table=TRUNK_HEALTH_MONTHLY.table, lake_root=root, table_format="delta"
    )
    assert checked.execute(ctx)["status"] == "pass"  # type: ignore[arg-type]
    monthly = DeltaTable(str(lake / TRUNK_HEALTH_MONTHLY.table)).to_pyarrow_table()
    assert monthly["month"].to_pylist() == [MONTH] * monthly.num_rows
    assert sum(monthly["calls"].to_pylist()) == sum(daily["calls"].to_pylist())
    assert ctx["outlet_events"][Asset(name=TRUNK_HEALTH_MONTHLY.table)].partition_keys == {month_key}


def test_the_maintenance_dag_vacuums_and_checkpoints_the_gold_delta_tables(emulator, tmp_path):
    import call_logs_maintenance

    lake = tmp_path / "lake"
    day = date(2026, 3, 3)
    source = report_sink(lake, DIRECT_ROUTING, "delta")
    extract_day(emulator_client(emulator(rows_per_day=50, seed=62)), source, day, concurrency=1)
    build = TrunkHealthOperator(task_id="build", lake_root=lake.as_uri(), table_format="delta")
    build.execute(context(day.isoformat(), "build"))  # type: ignore[arg-type]

    task_ids = {t.task_id for t in _maintenance_dag().tasks}
    assert {f"maintain_{TRUNK_HEALTH.table}", f"maintain_{TRUNK_HEALTH_MONTHLY.table}"} <= task_ids
    done = call_logs_maintenance.maintain.function(TRUNK_HEALTH.table, lake.as_uri(), "delta")
    assert done is not None and done["checkpoint_version"] == DeltaTable(str(lake / TRUNK_HEALTH.table)).version()
    assert list((lake / TRUNK_HEALTH.table / "_delta_log").glob("*.checkpoint.parquet"))
    assert call_logs_maintenance.maintain.function(TRUNK_HEALTH_MONTHLY.table, lake.as_uri(), "delta") is None


def _maintenance_dag():
    import call_logs_maintenance
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=call_logs_maintenance.__file__).dags["call_logs_maintenance"]
