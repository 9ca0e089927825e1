"""Late calls on a real scheduler (PostgreSQL, LocalExecutor): the run of day D + N re-checks day D, replaces it
with the late calls folded in, and the asset-triggered gold DAG rebuilds D's trunk health from the new version.

A real Airflow (scheduler, dag-processor, triggerer, api-server) runs ``direct_routing_calls`` with
``direct_routing_recheck_days`` = N and the partitioned-asset gold DAG ``direct_routing_trunk_health``:

1. A backfill of D lands the day; ``data_quality``'s event on ``direct_routing_calls_checked`` makes the scheduler
   run the gold DAG for partition D (its ``recheck`` skips: D - N never landed).
2. The stored version of D is aged N days (its manifest's ``started_at``/``finished_at`` move back, what N days
   of waiting would do) and the Graph emulator process adds late calls to D and removes one.
3. A backfill of D + N: its ``recheck`` pulls D again, finds the difference and replaces D; its manifest's
   ``recheck`` section counts what changed, the raw day equals the emulator's ground truth again, and
   ``recheck_quality``'s event on ``direct_routing_calls_checked`` (partition D) makes the scheduler run the gold
   DAG for D a second time: D's gold day is rebuilt from the new version (its manifest names the new source file,
   its per-trunk calls moved exactly by the late and removed calls' trunks).
4. The same day D + N again (``--reprocess-behavior completed``): D's new version was pulled moments ago, so both
   re-check tasks skip, D's files stay byte for byte, and the gold DAG gets no third run for D.

Runs are backfills, as in the other production tests: ``airflow dags trigger`` infers a manual run's data interval
from the moment it runs (the last complete day), not from a logical date. The stack runs with
``[scheduler] use_job_schedule = True``, which on 3.3.2 also gates asset-triggered runs; a 10-day settle time
keeps the latest interval's scheduled run waiting (deferred), while D and D + N, older than that, pass straight
through (as in ``test_trunk_health_partitions.py``).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pytest
from call_logs.gold.store import read_day
from call_logs.gold.table import TRUNK, TRUNK_HEALTH
from graph_emulator.connection import msgraph_connection_env
from graph_emulator.process import EmulatorProcess

from tests.gold.test_trunk_health import approx_rows
from tests.helpers import free_port
from tests.production.backfill import create_backfill, task_states, wait_backfill, wait_backfill_completed
from tests.production.conftest import wall_time
from tests.production.processes import log
from tests.production.scenario import day_ids
from tests.production.stack import DAG_ID, AirflowStack, start_stack, stop_stack
from tests.sinks import gold_table_sink

GOLD_DAG = TRUNK_HEALTH.table
N = 3  # direct_routing_recheck_days
SETTLE_HOURS = 240
DAY = datetime.now(UTC).date() - timedelta(days=20)  # D
LATER = DAY + timedelta(days=N)  # D + N, older than the settle time too
ADDED, REMOVED = 5, [7]  # late calls of D; the call at position 7 of D vanishes
ROWS_PER_DAY = 600
TIMEOUT_S = 240
WALL = "8. re-check of late calls + gold rebuild, LocalExecutor (incl. start/stop)"


@pytest.fixture(scope="module")
def emulator(tmp_path_factory):
    emulator = EmulatorProcess(
        rows_per_day=ROWS_PER_DAY, seed=20261203, budget=None, workdir=tmp_path_factory.mktemp("graph-emulator")
    ).start()
    try:
        yield emulator
    finally:
        emulator.stop()


def source_folder(lake: Path) -> Path:
    return lake / f"{DAG_ID}/call_date={DAY}"


def gold_folder(lake: Path) -> Path:
    return lake / f"{GOLD_DAG}/call_date={DAY}"


def manifest(folder: Path) -> dict:
    return json.loads((folder / "_manifest.json").read_text())


def files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def age_stored_version(lake: Path, days: int) -> None:
    """Make D's stored version look pulled ``days`` earlier (only its manifest's times move)."""
    path = source_folder(lake) / "_manifest.json"
    document = json.loads(path.read_text())
    for name in ("started_at", "finished_at"):
        moved = datetime.fromisoformat(document[name].replace("Z", "+00:00")) - timedelta(days=days)
        document[name] = moved.isoformat().replace("+00:00", "Z")
    path.write_text(json.dumps(document))


def raw_ids(lake: Path) -> list[str]:
    """The sorted call ids of D as stored in the lake (what a reader of the table sees)."""
    glob = f"read_parquet('{lake}/{DAG_ID}/*/*.parquet', hive_partitioning = true)"
    return [r[0] for r in duckdb.sql(f"SELECT id FROM {glob} WHERE call_date = DATE '{DAY}' ORDER BY id").fetchall()]


def gold_calls(lake: Path) -> dict[str | None, int]:
    """D's trunk-health gold day: trunk -> calls."""
    return {r[TRUNK]: r["calls"] for r in read_day(gold_table_sink(str(lake), TRUNK_HEALTH), DAY).to_pylist()}


def gold_matches_source(lake: Path) -> None:
    """D's gold rows are exactly what DuckDB computes from D's stored source rows."""
    source = f"read_parquet('{lake}/{DAG_ID}/*/*.parquet', hive_partitioning = true)"
    got = [
        (r[TRUNK], r["calls"], r["successful_calls"], r["answered_calls"], r["media_bypass_calls"], r["duration_p95_s"])
        for r in read_day(gold_table_sink(str(lake), TRUNK_HEALTH), DAY).to_pylist()
    ]
    expected = duckdb.sql(
        f"""SELECT trunkFullyQualifiedDomainName, count(*), count(*) FILTER (WHERE successfulCall),
                   count(*) FILTER (WHERE finalSipCode IN (0, 200)), count(*) FILTER (WHERE mediaBypassEnabled),
                   quantile_cont(duration, 0.95) FILTER (WHERE successfulCall)
            FROM {source} WHERE call_date = DATE '{DAY}' GROUP BY 1 ORDER BY 1 NULLS LAST"""
    ).fetchall()
    assert got == approx_rows(expected)


def gold_runs(stack: AirflowStack) -> list[tuple[str, str, str]]:
    """(partition key, state, run type) of every gold run, in the order they were created."""
    return stack.query("SELECT partition_key, state, run_type FROM dag_run WHERE dag_id = %s ORDER BY id", (GOLD_DAG,))


def wait_gold_runs(stack: AirflowStack, expected: Counter, timeout: float) -> list[tuple[str, str, str]]:
    """Until the gold DAG has at least ``expected`` runs per partition key, all finished."""
    deadline = time.monotonic() + timeout
    while True:
        stack.check_alive()
        found = gold_runs(stack)
        keys = Counter(key for key, _, _ in found)
        if all(keys[k] >= n for k, n in expected.items()) and all(s in ("success", "failed") for _, s, _ in found):
            return found
        if time.monotonic() > deadline:
            raise TimeoutError(f"{GOLD_DAG}: runs {found} after {timeout} s, expected {dict(expected)} finished")
        time.sleep(1)


def tasks_of(stack: AirflowStack, backfill_id: int) -> dict[str, str]:
    return {task: state for _, task, state, _, _ in task_states(stack, backfill_id)}


def backfill_day(
    stack: AirflowStack, day: date, previous: int | None, reprocess: str | None = None
) -> tuple[int, dict[str, str]]:
    """A backfill of the one ``day`` (once the previous one is marked complete): its id and its task states."""
    if previous is not None:
        wait_backfill_completed(stack, previous)
    backfill_id = create_backfill(stack, day, day, reprocess=reprocess)
    states = wait_backfill(stack, backfill_id, 1, TIMEOUT_S)
    assert list(states.values()) == ["success"], (states, task_states(stack, backfill_id))
    return backfill_id, tasks_of(stack, backfill_id)


@pytest.mark.timeout(600)
def test_a_late_call_is_folded_in_end_to_end_by_the_run_n_days_later(tmp_path_factory, emulator, postgres_server):
    lake = tmp_path_factory.mktemp("recheck-lake") / "lake"
    env = {
        **msgraph_connection_env(emulator),
        "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": lake.as_uri(),
        "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": str(SETTLE_HOURS),
        "AIRFLOW_VAR_DIRECT_ROUTING_RECHECK_DAYS": str(N),
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
    }
    with wall_time(WALL):
        stack = start_stack(
            tmp_path_factory.mktemp("airflow-recheck"),
            "LocalExecutor",
            free_port,
            env,
            postgres=postgres_server,
            dag_ids=(DAG_ID, GOLD_DAG),
        )
        try:
            # 1. D lands; the scheduler runs the gold DAG for it.
            first, tasks = backfill_day(stack, DAY, None)
            assert (tasks["recheck"], tasks["recheck_quality"]) == ("skipped", "skipped"), tasks  # D - N: none
            wait_gold_runs(stack, Counter({str(DAY): 1}), TIMEOUT_S)
            source_before, gold_before = manifest(source_folder(lake)), manifest(gold_folder(lake))
            calls_before, ids_before = gold_calls(lake), raw_ids(lake)
            log(f"{DAY} landed ({len(ids_before)} calls) and its gold day was built")

            # 2. N days pass (the stored version ages); Graph's report of D gains late calls and loses one.
            age_stored_version(lake, N)
            aged = files(source_folder(lake))
            late = emulator.add_late_calls(DAY.isoformat(), ADDED, removed=REMOVED)
            truth = day_ids(emulator, DAY)
            log(f"{DAY} aged {N} days; Graph now has {len(truth)} calls of it")

            # 3. The run of D + N re-checks D; the gold DAG rebuilds D from the new version.
            second, tasks = backfill_day(stack, LATER, first)
            assert (tasks["recheck"], tasks["recheck_quality"]) == ("success", "success"), tasks
            runs_after_recheck = wait_gold_runs(stack, Counter({str(DAY): 2, str(LATER): 1}), TIMEOUT_S)
            source_after, gold_after = manifest(source_folder(lake)), manifest(gold_folder(lake))
            calls_after, ids_after = gold_calls(lake), raw_ids(lake)
            gold_matches_source(lake)
            rechecked = files(source_folder(lake))
            gold_files = files(gold_folder(lake))
            ledger = json.loads((lake / f"_rechecks/{DAG_ID}/{DAY}.json").read_text())
            log(f"the run of {LATER} re-checked {DAY}; gold rebuilt: {runs_after_recheck}")

            # 4. D + N once more: D's new version is fresh, nothing to re-check, nothing for gold to rebuild.
            _, tasks = backfill_day(stack, LATER, second, reprocess="completed")
            assert (tasks["recheck"], tasks["recheck_quality"]) == ("skipped", "skipped"), tasks
            final_runs = wait_gold_runs(stack, Counter({str(DAY): 2, str(LATER): 2}), TIMEOUT_S)
            events = stack.query(
                "SELECT a.name, e.partition_key, count(*) FROM asset_event e JOIN asset a ON a.id = e.asset_id "
                "WHERE a.name IN (%s, %s) GROUP BY 1, 2 ORDER BY 1, 2",
                (DAG_ID, f"{DAG_ID}_checked"),
            )
        except BaseException:
            print(stack.diagnosis(), flush=True)
            raise
        finally:
            stop_stack(stack)
    log(f"gold runs: {final_runs}; events: {events}; recheck: {source_after.get('recheck')}")

    # D's stored version was replaced by the re-check, with what changed in its manifest.
    added_ids = sorted(row["id"] for row in late["added"])
    removed_ids = sorted(row["id"] for row in late["removed"])
    assert len(added_ids) == ADDED and len(removed_ids) == len(REMOVED)
    assert "recheck" not in source_before
    recheck = source_after["recheck"]
    assert (recheck["added"], recheck["removed"], recheck["changed"]) == (ADDED, len(REMOVED), 0), recheck
    assert recheck["previous"]["sha256"] == source_before["file"]["sha256"] != source_after["file"]["sha256"]
    assert recheck["previous"]["rows"] == source_before["rows"] == len(ids_before)
    late_hours = {
        datetime.fromisoformat(row["startDateTime"].replace("Z", "+00:00")).hour
        for row in late["added"] + late["removed"]
    }
    assert late_hours <= {int(hour) for hour in recheck["by_hour"]}, (late_hours, recheck["by_hour"])
    assert ledger["changed"] is True and (ledger["rows_before"], ledger["rows_after"]) == (len(ids_before), len(truth))

    # The raw day is the emulator's ground truth of D: the late calls in, the removed one out.
    assert ids_after == truth == sorted(set(ids_before) - set(removed_ids) | set(added_ids))
    assert source_after["rows"] == len(truth) == len(ids_before) + ADDED - len(REMOVED)

    # The scheduler ran the gold DAG for D twice (the day's own run, then the re-check's event) and D + N once.
    assert [r for r in runs_after_recheck if r[0] == str(DAY)] == [(str(DAY), "success", "asset_triggered")] * 2
    assert [r for r in runs_after_recheck if r[0] == str(LATER)] == [(str(LATER), "success", "asset_triggered")]
    # The gold day of D was rebuilt from the new version: its manifest names the new source file and rows.
    [source_then] = gold_before["sources"]
    [source_now] = gold_after["sources"]
    assert (source_then["sha256"], source_then["rows"]) == (source_before["file"]["sha256"], len(ids_before))
    assert (source_now["sha256"], source_now["rows"]) == (source_after["file"]["sha256"], len(truth))
    assert gold_after["computed_at"] > gold_before["computed_at"]
    assert gold_after["file"]["sha256"] != gold_before["file"]["sha256"]
    # ... and its calls per trunk moved by exactly the late calls' and the removed call's trunks.
    moved = Counter(row.get(TRUNK) for row in late["added"])
    moved.subtract(Counter(row.get(TRUNK) for row in late["removed"]))
    expected_calls = {t: calls_before.get(t, 0) + moved[t] for t in set(calls_before) | set(moved)}
    assert calls_after == {t: c for t, c in expected_calls.items() if c}, (calls_before, calls_after, moved)
    assert sum(calls_after.values()) == len(truth) == sum(calls_before.values()) + ADDED - len(REMOVED)

    # The second run of D + N left D alone: the same files, no further event for D, no third gold run for D.
    assert files(source_folder(lake)) == rechecked != aged
    assert files(gold_folder(lake)) == gold_files
    assert [r for r in final_runs if r[0] == str(DAY)] == [(str(DAY), "success", "asset_triggered")] * 2, final_runs
    assert events == [
        (DAG_ID, str(DAY), 2),
        (DAG_ID, str(LATER), 2),
        (f"{DAG_ID}_checked", str(DAY), 2),
        (f"{DAG_ID}_checked", str(LATER), 2),
    ], events
