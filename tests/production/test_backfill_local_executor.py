"""A real Airflow on PostgreSQL with the LocalExecutor backfills 14 days from a throttled, faulty Graph into Azurite.

Scheduler, dag-processor, triggerer and api-server run as subprocesses with their own AIRFLOW_HOME; the Graph
emulator is a subprocess with a scaled budget (20 requests / 5 s) and random 503/504/429/connection resets;
the msgraph connection's limiter allows 20 / 5 s, the budget itself, as the default ``requests_per_minute`` (50)
is Graph's 50 / 60 s: no request may reach the emulator over its budget. Then the same backfill is reprocessed
while a reader loops over the lake.
"""

from __future__ import annotations

import pytest

from tests.helpers import free_port
from tests.production.backfill import (
    backfill_days,
    create_backfill,
    non_backfill_runs,
    not_as_expected,
    wait_backfill,
    wait_backfill_completed,
)
from tests.production.conftest import wall_time
from tests.production.lake import LakeReader, check_lake, read_lake, snapshot
from tests.production.processes import log
from tests.production.scenario import EMULATOR_BUDGET, budget_problems, lake_env
from tests.production.stack import start_stack, stop_stack

DAYS = backfill_days()
BACKFILL_TIMEOUT_S = 420
SCENARIO = "LocalExecutor"


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory, graph_emulator_process, lake_container, azurite, postgres_server):
    fs, container = lake_container
    env = lake_env(graph_emulator_process, azurite, container, client_limit=EMULATOR_BUDGET[0])
    with wall_time("1. backfill, LocalExecutor (incl. start/stop)"):
        stack = start_stack(
            tmp_path_factory.mktemp("airflow-local"), "LocalExecutor", free_port, env, postgres=postgres_server
        )
    try:
        yield stack
    finally:
        with wall_time("1. backfill, LocalExecutor (incl. start/stop)"):
            stop_stack(stack)


@pytest.mark.timeout(900)
def test_backfill_local_executor(local_stack, graph_emulator_process, lake_container, lake_results):
    stack, emulator = local_stack, graph_emulator_process
    fs, container = lake_container
    with wall_time("1. backfill, LocalExecutor (incl. start/stop)"):
        emulator.reset_stats()
        backfill_id = create_backfill(stack, DAYS[0], DAYS[-1], max_active_runs=4)
        states = wait_backfill(stack, backfill_id, len(DAYS), BACKFILL_TIMEOUT_S)
        stats = emulator.stats()
        log(f"emulator after the backfill: {stats}")
        lake = read_lake(fs, container)
        counts = {day: emulator.count_day(day) for day in DAYS}
        lake_results[SCENARIO] = {"snapshot": snapshot(lake), "lake": lake, "counts": counts}

        assert sorted(states.values()) == ["success"] * len(DAYS), states
        not_success = not_as_expected(stack, backfill_id)
        assert not not_success, not_success
        assert non_backfill_runs(stack) == [], "only backfill runs may exist (no scheduled run, no 15th day)"
        assert check_lake(lake, DAYS, counts) == []
        assert sum(stats["faults_served"].values()) > 0, "the emulator was configured to inject faults"
        for other, result in lake_results.items():  # same emulator seed and config: the very same bytes
            if other != SCENARIO:
                assert snapshot(lake) == result["snapshot"], f"lake differs from the {other} run's"
        problems = budget_problems(stats)  # getDirectRoutingCalls' collection and the app
        assert not problems, "\n".join(problems)
        secret = emulator.info["client_secret"]
        leaks = [str(p) for p in stack.home.rglob("*") if p.is_file() and secret in p.read_text(errors="replace")]
        assert leaks == [], f"the client secret appears in {leaks}"


@pytest.mark.timeout(900)
def test_reprocess_completed_is_atomic_for_readers(local_stack, graph_emulator_process, lake_container, lake_results):
    first = lake_results.get(SCENARIO)
    if first is None:
        pytest.skip("needs the lake of test_backfill_local_executor")
    stack, emulator = local_stack, graph_emulator_process
    fs, container = lake_container
    with wall_time("2. reprocess completed + concurrent reader"):
        previous = stack.query("SELECT max(id) FROM backfill")[0][0]
        wait_backfill_completed(stack, previous)
        emulator.reset_stats()
        expected = {day: part["rows"] for day, part in first["snapshot"].items()}
        reader = LakeReader(fs, container, expected)
        reader.start()
        try:
            backfill_id = create_backfill(stack, DAYS[0], DAYS[-1], reprocess="completed", max_active_runs=4)
            states = wait_backfill(stack, backfill_id, len(DAYS), BACKFILL_TIMEOUT_S)
        finally:
            reader.stop()
        stats = emulator.stats()
        lake = read_lake(fs, container)
        replaced = sorted(str(day) for day, etags in reader.etags.items() if len(etags) > 1)
        log(f"reader: {reader.passes} passes, {reader.reads} whole-object reads, saw replaced blobs for {replaced}")
        log(f"emulator after the reprocessing: {stats}")

        assert sorted(states.values()) == ["success"] * len(DAYS), states
        assert reader.violations == [], reader.violations[:10]
        assert reader.passes >= 5, f"the reader made only {reader.passes} passes"
        assert replaced, "the reader never saw a partition being replaced: it did not overlap the reprocessing"
        assert check_lake(lake, DAYS, first["counts"]) == []
        assert snapshot(lake) == first["snapshot"], "reprocessing must rewrite byte-identical files"
        rewritten = [
            day for day in DAYS if lake[day]["manifest"]["started_at"] != first["lake"][day]["manifest"]["started_at"]
        ]
        assert rewritten == DAYS, "every day must have been pulled and committed again"
        problems = budget_problems(stats)  # getDirectRoutingCalls' collection and the app
        assert not problems, "\n".join(problems)
