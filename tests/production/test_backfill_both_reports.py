"""Both reports backfill side by side on a real scheduler, and Graph's budgets are never exceeded.

A real Airflow (scheduler, dag-processor, triggerer, api-server; LocalExecutor on PostgreSQL) backfills
``direct_routing_calls`` and ``pstn_calls`` over the same 7 days at once (4 active runs each) from a Graph emulator
process with random 503/504/429/connection resets, into Azurite. The emulator's budgets are scaled: 20 requests /
5 s per collection (each report function), and 38 / 5 s for the app over both. The msgraph connection's limiter
allows 18 / 5 s per pull.

Why 38 for the app: the two collection budgets together allow 40, so an app budget of 40 could never refuse a
request both collection budgets accepted, and "app at most 40" would follow from "each collection at most 20":
it would prove nothing of its own. 38 binds whenever the two reports together use more than their limiters allow
(two pulls at 18 each, plus the same 2-request allowance for arrival jitter that 20 gives one pull of 18), even
with each collection inside its own budget.

What proves what:
- per collection at most 20 requests *received* in any 5 s window (429s and retries included) while up to 4 runs
  of each DAG are active: the one-slot pool per collection serializes the pulls and the ledger
  ``call_logs_graph_request_ledger__<function>__<conn_id>`` hands the window over from one pull to the next (a
  pull starting with a fresh limiter right after another would put up to 36 into one window);
- app at most 38, and more than 20: the observed app maximum above one collection's limit shows the two reports
  really did pull in the same windows (else the app check would prove nothing);
- no 429 from either budget (the emulator counts those apart from the injected 429 faults);
- the extract task instances ran in their report's pool, never two of one report at once, and those of the two
  reports overlapped in time.
Each day of each table holds exactly the emulator's calls of that report (ids compared, not only counts).
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from graph_emulator.reports import DIRECT_ROUTING_CALLS, PSTN_CALLS

from tests.helpers import free_port
from tests.production.backfill import (
    backfill_days,
    create_backfill,
    non_backfill_runs,
    not_as_expected,
    overlapping,
    seconds_together,
    task_instances,
    wait_backfills,
)
from tests.production.conftest import wall_time
from tests.production.lake import check_lake, read_lake
from tests.production.processes import log
from tests.production.scenario import (
    CLIENT_LIMIT,
    EMULATOR_BUDGET,
    budget_problems,
    day_count,
    day_ids,
    lake_env,
    start_graph_emulator,
)
from tests.production.stack import start_stack, stop_stack

DAYS = backfill_days(days=7)
MAX_ACTIVE_RUNS = 4
BACKFILL_TIMEOUT_S = 360
# Below what the two collection budgets allow together (40), above what the two pulls' limiters send (36): see above.
APP_BUDGET = 2 * CLIENT_LIMIT + (EMULATOR_BUDGET[0] - CLIENT_LIMIT)
assert 2 * CLIENT_LIMIT < APP_BUDGET < 2 * EMULATOR_BUDGET[0]
CONN_ID = "msgraph_default"
# DAG id (= table) -> (Graph function, pool): the deployment's names, spelled out rather than read from the specs.
REPORTS = {
    "direct_routing_calls": (DIRECT_ROUTING_CALLS, "msgraph_callrecords"),
    "pstn_calls": (PSTN_CALLS, "msgraph_callrecords_pstn"),
}
LEDGER = "call_logs_graph_request_ledger"
WALL = "5. both reports side by side, LocalExecutor (incl. start/stop)"


@pytest.fixture(scope="module")
def both_reports_emulator(tmp_path_factory):
    """A Graph emulator of its own: the session's has Graph's default app budget (200), which never binds here."""
    emulator = start_graph_emulator(tmp_path_factory.mktemp("graph-emulator-both"), app_budget=APP_BUDGET)
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def both_stack(tmp_path_factory, both_reports_emulator, lake_container, azurite, postgres_server):
    fs, container = lake_container
    env = lake_env(both_reports_emulator, azurite, container)
    with wall_time(WALL):
        stack = start_stack(
            tmp_path_factory.mktemp("airflow-both"),
            "LocalExecutor",
            free_port,
            env,
            postgres=postgres_server,
            dag_ids=tuple(REPORTS),
        )
    try:
        yield stack
    finally:
        with wall_time(WALL):
            stop_stack(stack)


@pytest.mark.timeout(600)
def test_both_reports_backfill_side_by_side_within_graph_budgets(both_stack, both_reports_emulator, lake_container):
    stack, emulator = both_stack, both_reports_emulator
    fs, container = lake_container
    with wall_time(WALL):
        emulator.reset_stats()
        with ThreadPoolExecutor(len(REPORTS)) as executor:  # both backfills created at the same moment
            futures = {
                dag_id: executor.submit(
                    create_backfill, stack, DAYS[0], DAYS[-1], max_active_runs=MAX_ACTIVE_RUNS, dag_id=dag_id
                )
                for dag_id in REPORTS
            }
            backfills = {dag_id: future.result() for dag_id, future in futures.items()}
        log(f"backfills created: {backfills}")
        states = wait_backfills(
            stack, {backfill_id: len(DAYS) for backfill_id in backfills.values()}, BACKFILL_TIMEOUT_S
        )
        stats = emulator.stats()
        log(f"emulator after both backfills: {stats}")
        extracts = task_instances(stack, list(backfills.values()), "extract")
        ledgers = stack.variables(LEDGER)
        pools = dict(stack.query("SELECT pool, slots FROM slot_pool"))

        # Every run and task succeeded at its first try; nothing but the backfills ran.
        for dag_id, backfill_id in backfills.items():
            assert sorted(states[backfill_id].values()) == ["success"] * len(DAYS), (dag_id, states[backfill_id])
            not_success = not_as_expected(stack, backfill_id)
            assert not not_success, (dag_id, not_success)
        assert non_backfill_runs(stack, tuple(REPORTS)) == [], "only backfill runs may exist"

        # Each table holds, day by day, exactly the emulator's calls of its report.
        for table, (function, _pool) in REPORTS.items():
            lake = read_lake(fs, container, table, with_ids=True)
            counts = {day: day_count(emulator, day, function) for day in DAYS}
            ids = {day: day_ids(emulator, day, function) for day in DAYS}
            log(f"{table}: {sum(counts.values())} calls over {len(DAYS)} days, as the emulator holds them")
            assert check_lake(lake, DAYS, counts, ids) == [], table

        # Graph's budgets: the emulator was set up as intended, faults were served, no budget was exceeded.
        collections = [function for function, _pool in REPORTS.values()]
        assert {name: stats["collections"][name]["limit"] for name in collections} == dict.fromkeys(
            collections, EMULATOR_BUDGET[0]
        )
        assert stats["app"]["limit"] == APP_BUDGET and stats["window_s"] == EMULATOR_BUDGET[1]
        assert sum(stats["faults_served"].values()) > 0, "the emulator was configured to inject faults"
        figures = {name: stats["collections"][name]["max_in_window"] for name in collections}
        log(
            f"BUDGETS per {EMULATOR_BUDGET[1]:g} s window: max per collection {figures} (limit {EMULATOR_BUDGET[0]}), "
            f"app max {stats['app']['max_in_window']} (limit {APP_BUDGET}); 429s: {stats['throttled']} in all, "
            f"{stats['faults_served'].get('throttle', 0)} injected, "
            f"{sum(stats['collections'][n]['throttled'] for n in collections)} from collection budgets, "
            f"{stats['app']['throttled']} from the app budget"
        )
        problems = budget_problems(stats, collections)
        assert not problems, "\n".join(problems)
        assert stats["app"]["max_in_window"] > EMULATOR_BUDGET[0], (
            f"the app never saw more than one collection's budget ({stats['app']['max_in_window']} requests in a "
            "window): the two reports did not pull at the same time, so the app budget was not put to the test"
        )

        # One pool slot per collection: each report's extracts ran in its pool, one at a time; the reports overlapped.
        assert all(pools.get(pool) == 1 for _function, pool in REPORTS.values()), pools
        by_dag = {dag_id: [ti for ti in extracts if ti["dag_id"] == dag_id] for dag_id in REPORTS}
        for dag_id, (_function, pool) in REPORTS.items():
            assert len(by_dag[dag_id]) == len(DAYS), by_dag[dag_id]
            assert {ti["pool"] for ti in by_dag[dag_id]} == {pool}, by_dag[dag_id]
            assert {ti["try_number"] for ti in by_dag[dag_id]} == {1}, by_dag[dag_id]
            same_time = overlapping(by_dag[dag_id])
            assert same_time == [], f"{dag_id}: extracts ran at the same time despite the one-slot pool: {same_time}"
        together = seconds_together(*by_dag.values())
        pulling = {
            dag_id: sum((ti["end"] - ti["start"]).total_seconds() for ti in tis) for dag_id, tis in by_dag.items()
        }
        log(f"extract seconds per report {pulling}; both reports pulling at once for {together:.1f} s")
        assert together > 0, "the two reports' extracts never ran at the same time"

        # The ledger: one Variable per collection and connection, closed by the last pull of each.
        expected = {f"{LEDGER}__{function}__{CONN_ID}" for function, _pool in REPORTS.values()}
        assert set(ledgers) == expected, sorted(ledgers)
        for key, value in ledgers.items():
            document = json.loads(value)
            assert document["open"] is False, (key, document)
            assert len(document["sent"]) <= CLIENT_LIMIT, (key, document)
