"""The same 14-day backfill under the CeleryExecutor: Redis broker, PostgreSQL result backend, two workers.

Same emulator (seed, budget, faults) as the LocalExecutor scenario, so the lake must be the very same:
per-day rows and the data files' sha256 are compared with the other executor's when both ran.
"""

from __future__ import annotations

import re

import pytest

from tests.helpers import free_port
from tests.production.backfill import backfill_days, create_backfill, non_backfill_runs, not_as_expected, wait_backfill
from tests.production.conftest import wall_time
from tests.production.lake import check_lake, read_lake, snapshot
from tests.production.processes import log
from tests.production.scenario import budget_problems, lake_env
from tests.production.stack import start_stack, stop_stack

DAYS = backfill_days()
BACKFILL_TIMEOUT_S = 420
SCENARIO = "CeleryExecutor"
WALL = "3. backfill, CeleryExecutor (incl. start/stop)"


@pytest.fixture(scope="module")
def celery_stack(tmp_path_factory, graph_emulator_process, lake_container, azurite, postgres_server, redis_server):
    fs, container = lake_container
    env = lake_env(graph_emulator_process, azurite, container)
    with wall_time(WALL):
        stack = start_stack(
            tmp_path_factory.mktemp("airflow-celery"),
            "CeleryExecutor",
            free_port,
            env,
            postgres=postgres_server,
            redis=redis_server,
            celery_workers=2,
        )
    try:
        yield stack
    finally:
        with wall_time(WALL):
            stop_stack(stack)


def tasks_received(log_text: str) -> int:
    return len(re.findall(r"Task \S*execute_workload\[[0-9a-f-]+\] received", log_text))


@pytest.mark.timeout(900)
def test_backfill_celery_executor(celery_stack, graph_emulator_process, lake_container, lake_results):
    stack, emulator = celery_stack, graph_emulator_process
    fs, container = lake_container
    with wall_time(WALL):
        emulator.reset_stats()
        backfill_id = create_backfill(stack, DAYS[0], DAYS[-1], max_active_runs=4)
        states = wait_backfill(stack, backfill_id, len(DAYS), BACKFILL_TIMEOUT_S)
        stats = emulator.stats()
        log(f"emulator after the backfill: {stats}")
        lake = read_lake(fs, container)
        counts = {day: emulator.count_day(day) for day in DAYS}
        lake_results[SCENARIO] = {"snapshot": snapshot(lake), "lake": lake, "counts": counts}
        received = {
            p.name: tasks_received(p.log_path.read_text(errors="replace"))
            for p in stack.processes
            if p.name.startswith("celery-worker")
        }
        log(f"task workloads received per Celery worker: {received}")

        assert sorted(states.values()) == ["success"] * len(DAYS), states
        not_success = not_as_expected(stack, backfill_id)
        assert not not_success, not_success
        assert non_backfill_runs(stack) == [], "only backfill runs may exist (no scheduled run, no 15th day)"
        assert sum(received.values()) == 4 * len(DAYS), received  # the sensor, extract, quality, recheck (skips)
        assert all(count > 0 for count in received.values()), f"both workers should have run tasks: {received}"
        assert check_lake(lake, DAYS, counts) == []
        for other, result in lake_results.items():  # same emulator seed and config: the very same bytes
            if other != SCENARIO:
                assert snapshot(lake) == result["snapshot"], f"lake differs from the {other} run's"
        problems = budget_problems(stats)  # getDirectRoutingCalls' collection and the app
        assert not problems, "\n".join(problems)
