"""Partitioned assets on a real scheduler (PostgreSQL, LocalExecutor): a 7-day backfill of direct_routing_calls
runs direct_routing_trunk_health once per day partition, and the monthly rollup only for the month that is complete.

The seven days straddle a month boundary: the last four days of month M and the first three of M+1. The earlier
days of M are already in the lake (written here by the same plain-Python code the tasks run, and announced as
asset events on ``direct_routing_trunk_health`` exactly as its quality task would), so the backfill completes M
but not M+1: the rollup must run once, for M, and never for M+1. The gold rows are compared with DuckDB queries
over the source partitions.

The stack runs with ``[scheduler] use_job_schedule = True`` (the other stacks turn it off): on 3.3.2 it also
gates asset-triggered runs, partitioned ones included. The latest interval's scheduled run then exists too; a
10-day settle time keeps it waiting (deferred) so it writes nothing, while the backfilled days, older than that,
pass straight through.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from call_logs.gold.quality import check_gold
from call_logs.gold.store import read_day
from call_logs.gold.table import TRUNK, TRUNK_HEALTH, TRUNK_HEALTH_MONTHLY
from call_logs.gold.trunk_health import build_day
from call_logs.quality.engine import write_report
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.utc import days_of_month
from graph_emulator.connection import msgraph_connection_env
from graph_emulator.process import EmulatorProcess

from tests.gold.test_trunk_health import approx_rows
from tests.helpers import free_port
from tests.production.backfill import create_backfill, wait_backfill
from tests.production.conftest import wall_time
from tests.production.processes import log
from tests.production.stack import start_stack, stop_stack
from tests.rows import call_rows, commit_rows, pages_of
from tests.sinks import gold_table_sink, report_sink

GOLD_DAG, MONTHLY_DAG = TRUNK_HEALTH.table, TRUNK_HEALTH_MONTHLY.table
SETTLE_HOURS = 240
TIMEOUT_S = 600


def straddling_days(today: date) -> tuple[date, list[date], list[date]]:
    """(month M, M's days already in the lake, the 7 backfilled days: M's last four and M+1's first three)."""
    month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    if today - (month + timedelta(days=40)).replace(day=3) < timedelta(days=SETTLE_HOURS / 24 + 1):
        month = (month - timedelta(days=1)).replace(day=1)  # M+1's third day must be older than the settle time
    days = days_of_month(month)
    following = days[-1] + timedelta(days=1)
    return month, days[:-4], [*days[-4:], following, following + timedelta(days=1), following + timedelta(days=2)]


MONTH, SEEDED, BACKFILL = straddling_days(datetime.now(UTC).date())


def seed_month(lake: Path) -> None:
    """The earlier days of M: source day, trunk-health day and its quality report, as the DAGs would leave them."""
    source = report_sink(str(lake), DIRECT_ROUTING)
    gold = gold_table_sink(str(lake), TRUNK_HEALTH)
    for day in SEEDED:
        commit_rows(source, day, pages_of(call_rows(60, day=day, prefix=f"seed{day:%d}")))
        build_day(source, gold, day, run={"seeded": True})
        write_report(gold, day, check_gold(gold, day, {source.spec.table: source}))


SEED_EVENTS = """
import json, sys
from airflow.assets.manager import asset_manager
from airflow.models.asset import AssetModel
from airflow.utils.session import create_session
from sqlalchemy import select
with create_session() as session:
    asset = session.scalar(select(AssetModel).where(AssetModel.name == sys.argv[1]))
    for key in json.loads(sys.argv[2]):
        asset_manager.register_asset_change(asset=asset, partition_key=key, extra={"seeded": True}, session=session)
"""


def announce(stack, keys: list[str]) -> None:
    """Asset events on the trunk-health asset, registered the way a task's outlet is (AssetManager)."""
    subprocess.run(
        [sys.executable, "-c", SEED_EVENTS, GOLD_DAG, json.dumps(keys)], env=stack.env, check=True, capture_output=True
    )


def runs(stack, dag_id: str) -> list[tuple[str, str, str]]:
    return stack.query(
        "SELECT partition_key, state, run_type FROM dag_run WHERE dag_id = %s ORDER BY partition_key", (dag_id,)
    )


def wait_runs(stack, dag_id: str, count: int, timeout: float) -> list[tuple[str, str, str]]:
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        found = runs(stack, dag_id)
        if len(found) >= count and all(state in ("success", "failed") for _, state, _ in found):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{dag_id}: {found} after {timeout} s (expected {count} finished runs)")
        time.sleep(2)


def pending_rollups(stack) -> dict[str, int]:
    """The rollup's provisional runs (AssetPartitionDagRun) not created yet: month -> days announced for it."""
    return dict(
        stack.query(
            "SELECT r.partition_key, count(DISTINCT k.source_partition_key) FROM asset_partition_dag_run r "
            "JOIN partitioned_asset_key_log k ON k.asset_partition_dag_run_id = r.id "
            "WHERE r.target_dag_id = %s AND r.created_dag_run_id IS NULL GROUP BY r.partition_key",
            (MONTHLY_DAG,),
        )
    )


def wait_scheduler_loop_after(stack, moment: datetime, timeout: float) -> None:
    """Wait until the scheduler has run a whole loop that began after ``moment``.

    Each loop of the 3.3 scheduler first creates the runs that pending asset events call for (it evaluates every
    pending AssetPartitionDagRun), and heartbeats at its end. The first heartbeat after ``moment`` may end a loop
    that began before it; a later one of the same scheduler job ends a loop that began after it, and so saw every
    asset event committed before ``moment``: a run that loop did not create is one the scheduler decided against.
    """
    deadline = time.monotonic() + timeout
    first: dict[int, datetime] = {}  # scheduler job -> its first heartbeat after moment
    while True:
        stack.check_alive()
        beats = stack.query(
            "SELECT id, latest_heartbeat FROM job WHERE job_type = 'SchedulerJob' AND state = 'running'"
        )
        for job_id, beat in beats:
            if beat is not None and beat > moment and beat > first.setdefault(job_id, beat):
                return
        if time.monotonic() > deadline:
            raise TimeoutError(f"no scheduler loop began after {moment} within {timeout} s: heartbeats {beats}")
        time.sleep(2)


@pytest.fixture(scope="module")
def emulator_process(tmp_path_factory):
    emulator = EmulatorProcess(
        rows_per_day=2500, seed=20261129, budget=None, workdir=tmp_path_factory.mktemp("graph-emulator")
    ).start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.mark.timeout(1200)
def test_backfill_triggers_trunk_health_per_day_and_the_rollup_per_complete_month(
    tmp_path_factory, emulator_process, postgres_server
):
    lake = tmp_path_factory.mktemp("lake") / "lake"
    seed_month(lake)
    env = {
        **msgraph_connection_env(emulator_process),
        "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": lake.as_uri(),
        "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": str(SETTLE_HOURS),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
    }
    with wall_time("3. partitioned assets: trunk health (incl. start/stop)"):
        stack = start_stack(
            tmp_path_factory.mktemp("airflow-partitions"), "LocalExecutor", free_port, env, postgres=postgres_server
        )
        try:
            for dag_id in (GOLD_DAG, MONTHLY_DAG):
                stack.wait_dag(dag_id)
                stack.cli("dags", "unpause", dag_id)
            announce(stack, [day.isoformat() for day in SEEDED])
            announced = datetime.now(UTC)
            # The events reached the rollup: one provisional run for M, waiting on its other days.
            assert pending_rollups(stack) == {f"{MONTH:%Y-%m}": len(SEEDED)}, pending_rollups(stack)
            wait_scheduler_loop_after(stack, announced, TIMEOUT_S)
            # A whole scheduler loop has weighed it since: no rollup run, and the provisional one still waits.
            assert runs(stack, MONTHLY_DAG) == [], f"{MONTH:%Y-%m} has {len(SEEDED)} days only"
            assert pending_rollups(stack) == {f"{MONTH:%Y-%m}": len(SEEDED)}, pending_rollups(stack)

            backfill_id = create_backfill(stack, BACKFILL[0], BACKFILL[-1], max_active_runs=4)
            states = wait_backfill(stack, backfill_id, len(BACKFILL), TIMEOUT_S)
            assert sorted(states.values()) == ["success"] * len(BACKFILL), states
            gold_runs = wait_runs(stack, GOLD_DAG, len(BACKFILL), TIMEOUT_S)
            monthly_runs = wait_runs(stack, MONTHLY_DAG, 1, TIMEOUT_S)
            # Every trunk-health run has finished, so M+1's three days are announced: the scheduler holds
            # M+1's rollup for the days it lacks, as it held M's.
            finished = datetime.now(UTC)
            assert pending_rollups(stack) == {f"{BACKFILL[-1]:%Y-%m}": 3}, pending_rollups(stack)
            wait_scheduler_loop_after(stack, finished, TIMEOUT_S)
            gold_runs, monthly_runs = runs(stack, GOLD_DAG), runs(stack, MONTHLY_DAG)
            pending = pending_rollups(stack)
            scheduled = stack.query(
                "SELECT ti.task_id, ti.state FROM task_instance ti JOIN dag_run dr ON dr.run_id = ti.run_id "
                "AND dr.dag_id = ti.dag_id WHERE dr.dag_id = 'direct_routing_calls' AND dr.backfill_id IS NULL "
                "ORDER BY ti.task_id"
            )
            events = stack.query(
                "SELECT e.partition_key, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                "WHERE a.name = 'direct_routing_calls' ORDER BY e.partition_key"
            )
        except BaseException:
            print(stack.diagnosis(), flush=True)
            raise
        finally:
            stop_stack(stack)
    log(f"trunk health runs: {gold_runs}; monthly runs: {monthly_runs}")

    # The latest interval's scheduled run waits for its data to settle (deferred), while the backfill went through.
    assert scheduled == [
        ("data_quality", None),
        ("extract", None),
        ("recheck", None),
        ("recheck_quality", None),
        ("wait_for_settled_data", "deferred"),
    ], scheduled
    assert gold_runs == [(day.isoformat(), "success", "asset_triggered") for day in BACKFILL]
    assert monthly_runs == [(f"{MONTH:%Y-%m}", "success", "asset_triggered")]
    assert pending == {f"{BACKFILL[-1]:%Y-%m}": 3}, pending  # M+1 still waits for its other days
    extras = {key: extra if isinstance(extra, dict) else json.loads(extra) for key, extra in events}
    assert sorted(extras) == [day.isoformat() for day in BACKFILL]
    source_glob = f"read_parquet('{lake}/direct_routing_calls/*/*.parquet', hive_partitioning = true)"
    for day in BACKFILL:
        rows = duckdb.sql(f"SELECT count(*) FROM {source_glob} WHERE call_date = DATE '{day}'").fetchall()[0][0]
        assert extras[day.isoformat()]["rows"] == rows == emulator_process.count_day(day) > 0

    gold = gold_table_sink(str(lake), TRUNK_HEALTH)
    for day in BACKFILL:
        got = [
            (
                r[TRUNK],
                r["calls"],
                r["successful_calls"],
                r["answered_calls"],
                r["media_bypass_calls"],
                r["duration_p95_s"],
            )
            for r in read_day(gold, day).to_pylist()
        ]
        expected = duckdb.sql(
            f"""SELECT trunkFullyQualifiedDomainName, count(*), count(*) FILTER (WHERE successfulCall),
                       count(*) FILTER (WHERE finalSipCode IN (0, 200)), count(*) FILTER (WHERE mediaBypassEnabled),
                       quantile_cont(duration, 0.95) FILTER (WHERE successfulCall)
                FROM {source_glob} WHERE call_date = DATE '{day}' GROUP BY 1 ORDER BY 1 NULLS LAST"""
        ).fetchall()
        assert got == approx_rows(expected), day
        assert json.loads((lake / f"{GOLD_DAG}/call_date={day}/_dq.json").read_text())["status"] == "pass"

    monthly = read_day(gold_table_sink(str(lake), TRUNK_HEALTH_MONTHLY), MONTH)
    expected_month = duckdb.sql(
        f"""SELECT trunkFullyQualifiedDomainName, count(DISTINCT call_date)::INT, count(*)
            FROM {source_glob} WHERE date_trunc('month', call_date) = DATE '{MONTH}' GROUP BY 1 ORDER BY 1 NULLS LAST"""
    ).fetchall()
    assert [(r[TRUNK], r["days"], r["calls"]) for r in monthly.to_pylist()] == [tuple(r) for r in expected_month]
    assert not (lake / f"{MONTHLY_DAG}/month={BACKFILL[-1]:%Y-%m}-01").exists()
