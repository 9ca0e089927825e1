"""Six tenants backfill side by side on a CeleryExecutor stack; one tenant's revoked consent fails that tenant alone.

A real Airflow (scheduler, dag-processor, triggerer, api-server and **two Celery workers**; PostgreSQL metadata
database and result backend, Redis broker) runs the DAGs a tenants file makes: ``direct_routing_calls__<slug>`` for
six customer tenants of one carrier, each with its own ``msgraph_<slug>`` connection (same multi-tenant app, its
own Entra tenant id). One Graph emulator process serves the six tenants, each with its own rows, seed and budgets
(20 requests / 5 s per collection and tenant; every client limiter 18 / 5 s), 0.2 s a page and random 503/504s and
connection resets (no injected 429: every 429 would be a budget's). Before the run, one tenant's admin consent is
revoked (Graph answers its data requests 403). Every tenant's DAG backfills the same 4 days, all created at once.

What proves what:
- the revoked tenant: each of its runs fails, its extract at the first try (a 403 is not retried: no retry can
  grant consent) with the permission sentence in the task log, its data_quality never runs, and no blob is written
  under its ``tenant=`` folder;
- the other five: every run succeeds, and each tenant-day holds exactly the emulator's calls of that tenant (ids
  compared, not only counts), its manifest names the tenant; the tenants' ids are disjoint in the lake (no row of
  one tenant in another's folder);
- budgets per tenant: no tenant was answered a 429 by any budget, and none received more than its limit in a window;
  each tenant's request ledger is its own;
- one pull at a time per tenant: what the pipeline guarantees is ``max_active_tis_per_dag=1`` on each tenant's
  extract (not a pool slot, which would queue every tenant behind one), so a tenant's extract task instances never
  overlap; a pull itself pages time slices with up to ``graph_concurrency`` (4) threads under one limiter, so the
  emulator may see up to 4 of one tenant's requests in flight at once, never more;
- tenants side by side, on both workers: extracts of different tenants ran at the same time on different Celery
  workers (each task instance's Celery task id found in the worker log that received it), and the emulator saw
  requests of different tenants in flight at the same moment.
"""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor

import pytest
from graph_emulator.config import TenantConfig
from graph_emulator.process import EmulatorProcess
from graph_emulator.reports import DIRECT_ROUTING_CALLS

from tests.helpers import free_port
from tests.production.backfill import (
    backfill_days,
    create_backfill,
    non_backfill_runs,
    overlapping,
    task_instances,
    wait_backfills,
)
from tests.production.conftest import wall_time
from tests.production.lake import check_lake, days_folder, lake_tenants, read_lake
from tests.production.processes import log
from tests.production.scenario import (
    CLIENT_LIMIT,
    EMULATOR_BUDGET,
    EMULATOR_FAULTS,
    EMULATOR_SEED,
    day_count,
    day_ids,
    lake_env,
    tenants_env,
)
from tests.production.stack import AirflowStack, start_stack, stop_stack

TABLE = "direct_routing_calls"
# slug -> Entra tenant id: six customers of one carrier.
TENANTS = {
    "contoso": "3f7a2c1e-0000-4000-8000-000000000001",
    "fabrikam": "3f7a2c1e-0000-4000-8000-000000000002",
    "northwind": "3f7a2c1e-0000-4000-8000-000000000003",
    "tailspin": "3f7a2c1e-0000-4000-8000-000000000004",
    "wingtip": "3f7a2c1e-0000-4000-8000-000000000005",
    "litware": "3f7a2c1e-0000-4000-8000-000000000006",
}
REVOKED = "northwind"  # its admin consent is revoked before the run
PULLING = [slug for slug in TENANTS if slug != REVOKED]
DAG_IDS = {slug: f"{TABLE}__{slug}" for slug in TENANTS}
# Modest days (2 to 5 pages of 1,000 rows, each tenant its own volume) keep the test to a few minutes.
ROWS_PER_DAY = {slug: 1_500 + 700 * number for number, slug in enumerate(TENANTS)}
LATENCY_S = 0.2  # a page is in flight for a while, as on Graph, so that overlapping pulls show at the emulator
FAULTS = [fault for fault in EMULATOR_FAULTS if fault["kind"] != "throttle"]  # every 429 would be a budget's
GRAPH_CONCURRENCY = 4  # the Variable direct_routing_graph_concurrency's default: threads per pull
CELERY_WORKERS = 2
DAYS = backfill_days(days=4)
MAX_ACTIVE_RUNS = 4
BACKFILL_TIMEOUT_S = 360
LEDGER = "call_logs_graph_request_ledger"
PERMISSION_SENTENCE = "Graph answered 403 Forbidden: the app registration needs the Microsoft Graph application"
WALL = "6. six tenants, CeleryExecutor (incl. start/stop)"


@pytest.fixture(scope="module")
def tenants_emulator(tmp_path_factory):
    """One Graph emulator process serving the six tenants (beside its default tenant, which nobody pulls)."""
    emulator = EmulatorProcess(
        rows_per_day=1_000,
        seed=EMULATOR_SEED,
        budget=EMULATOR_BUDGET,
        latency_s=LATENCY_S,
        faults=FAULTS,
        tenants=[TenantConfig(tenant_id, rows_per_day=ROWS_PER_DAY[slug]) for slug, tenant_id in TENANTS.items()],
        workdir=tmp_path_factory.mktemp("graph-emulator-tenants"),
    )
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def tenants_stack(tmp_path_factory, tenants_emulator, lake_container, azurite, postgres_server, redis_server):
    fs, container = lake_container
    env = lake_env(tenants_emulator, azurite, container)
    env |= tenants_env(tenants_emulator, TENANTS, tmp_path_factory.mktemp("tenants") / "tenants.yaml")
    with wall_time(WALL):
        stack = start_stack(
            tmp_path_factory.mktemp("airflow-tenants-celery"),
            "CeleryExecutor",
            free_port,
            env,
            postgres=postgres_server,
            redis=redis_server,
            celery_workers=CELERY_WORKERS,
            dag_ids=tuple(DAG_IDS.values()),
        )
    try:
        yield stack
    finally:
        with wall_time(WALL):
            stop_stack(stack)


def extract_logs(stack: AirflowStack, dag_id: str) -> dict[str, str]:
    """The extract task's attempt logs of ``dag_id``, by their path under the logs folder."""
    folder = stack.home / "logs" / f"dag_id={dag_id}"
    return {
        str(path.relative_to(folder)): path.read_text(errors="replace")
        for path in sorted(folder.glob("run_id=*/task_id=extract/attempt=*.log"))
    }


def tenants_in_flight_at_once(intervals: dict[str, list[tuple[float, float | None]]]) -> int:
    """The most tenants that had a data request in flight at the same instant (an end before a start at a tie)."""
    events = sorted(
        (moment, step, slug)
        for slug, flights in intervals.items()
        for start, end in flights
        for moment, step in ((start, 1), (float("inf") if end is None else end, -1))
    )
    open_requests = dict.fromkeys(intervals, 0)
    best = 0
    for _moment, step, slug in events:
        open_requests[slug] += step
        best = max(best, sum(1 for count in open_requests.values() if count > 0))
    return best


@pytest.mark.timeout(900)
def test_six_tenants_on_two_celery_workers(tenants_stack, tenants_emulator, lake_container):
    stack, emulator = tenants_stack, tenants_emulator
    fs, container = lake_container
    with wall_time(WALL):
        emulator.configure(tenant=TENANTS[REVOKED], grant_permission=False)
        emulator.reset_stats()
        with ThreadPoolExecutor(len(DAG_IDS)) as executor:  # every tenant's backfill created at the same moment
            futures = {
                slug: executor.submit(
                    create_backfill, stack, DAYS[0], DAYS[-1], max_active_runs=MAX_ACTIVE_RUNS, dag_id=dag_id
                )
                for slug, dag_id in DAG_IDS.items()
            }
            backfills = {slug: future.result() for slug, future in futures.items()}
        log(f"backfills created: {backfills}")
        states = wait_backfills(
            stack,
            dict.fromkeys(backfills.values(), len(DAYS)),
            BACKFILL_TIMEOUT_S,
            may_fail=[backfills[REVOKED]],
        )
        stats = emulator.stats()
        intervals = {
            slug: emulator.request_intervals(tenant=TENANTS[slug], collection=DIRECT_ROUTING_CALLS) for slug in TENANTS
        }
        extracts = task_instances(stack, list(backfills.values()), "extract")
        quality = task_instances(stack, list(backfills.values()), "data_quality")
        worker_of = stack.celery_tasks_received()
        ledgers = stack.variables(LEDGER)
        revoked_logs = extract_logs(stack, DAG_IDS[REVOKED])
        lake = {
            slug: read_lake(fs, container, TABLE, tenant=slug, with_ids=True) for slug in lake_tenants(fs, container)
        }
        revoked_blobs = fs.find(days_folder(container, TABLE, REVOKED))
        truth = {
            slug: {day: day_ids(emulator, day, DIRECT_ROUTING_CALLS, tenant=TENANTS[slug]) for day in DAYS}
            for slug in TENANTS
        }
        counts = {
            slug: {day: day_count(emulator, day, DIRECT_ROUTING_CALLS, tenant=TENANTS[slug]) for day in DAYS}
            for slug in TENANTS
        }
        by_tenant = {slug: [ti for ti in extracts if ti["dag_id"] == DAG_IDS[slug]] for slug in TENANTS}
        for ti in extracts:
            ti["worker"] = worker_of.get(ti["external_executor_id"] or "")
        log(f"emulator per tenant after the backfills: {json.dumps(stats['tenants'], indent=None)}")

        # The revoked tenant: every run failed at its extract's first try, with the permission sentence; no blob.
        assert sorted(states[backfills[REVOKED]].values()) == ["failed"] * len(DAYS), states[backfills[REVOKED]]
        assert [(ti["state"], ti["try_number"]) for ti in by_tenant[REVOKED]] == [("failed", 1)] * len(DAYS), by_tenant[
            REVOKED
        ]
        revoked_quality = [ti["state"] for ti in quality if ti["dag_id"] == DAG_IDS[REVOKED]]
        assert revoked_quality == ["upstream_failed"] * len(DAYS), revoked_quality
        assert len(revoked_logs) == len(DAYS), f"one attempt per day, no retry: {sorted(revoked_logs)}"
        for name, text in revoked_logs.items():
            assert PERMISSION_SENTENCE in text and "CallRecords.Read.All with admin consent" in text, (name, text)
        assert revoked_blobs == [], f"the revoked tenant's folder got blobs: {revoked_blobs}"
        revoked_stats = stats["tenants"][TENANTS[REVOKED]]
        assert revoked_stats["grant_permission"] is False, revoked_stats
        assert revoked_stats["data_requests"] >= len(DAYS), "each of its days asked Graph and was refused"

        # The five others: every run and task succeeded, nothing but the backfills ran.
        for slug in PULLING:
            assert sorted(states[backfills[slug]].values()) == ["success"] * len(DAYS), (slug, states[backfills[slug]])
            assert [(ti["state"], ti["try_number"]) for ti in by_tenant[slug]] == [("success", 1)] * len(DAYS), (
                slug,
                by_tenant[slug],
            )
            assert [ti["state"] for ti in quality if ti["dag_id"] == DAG_IDS[slug]] == ["success"] * len(DAYS), slug
        assert non_backfill_runs(stack, tuple(DAG_IDS.values())) == [], "only backfill runs may exist"

        # The lake: a folder per pulling tenant, each day exactly that tenant's calls, ids disjoint across tenants.
        assert sorted(lake) == sorted(PULLING), f"tenant folders {sorted(lake)}"
        for slug in PULLING:
            assert check_lake(lake[slug], DAYS, counts[slug], truth[slug]) == [], slug
            named = {part["manifest"]["tenant"]["slug"] for part in lake[slug].values()}
            ids_named = {part["manifest"]["tenant"]["tenant_id"] for part in lake[slug].values()}
            assert (named, ids_named) == ({slug}, {TENANTS[slug]}), (slug, named, ids_named)
        truth_ids = {slug: {i for day in DAYS for i in truth[slug][day]} for slug in TENANTS}
        lake_ids = {slug: {i for part in lake[slug].values() for i in part["ids"]} for slug in PULLING}
        for first, second in itertools.combinations(TENANTS, 2):
            assert not truth_ids[first] & truth_ids[second], f"the emulator gave {first} and {second} shared ids"
        for first, second in itertools.combinations(PULLING, 2):
            shared = lake_ids[first] & lake_ids[second]
            assert not shared, f"{len(shared)} calls are in both {first}'s and {second}'s folders"
        log(f"lake rows per tenant: { {s: sum(p['rows'] for p in lake[s].values()) for s in PULLING} }")

        # Budgets per tenant: no 429 from any budget (none injected), none over its limit in any window.
        assert stats["throttled"] == 0 and stats["faults_served"].get("throttle", 0) == 0, stats
        for slug, tenant_id in TENANTS.items():
            figures = stats["tenants"][tenant_id]
            collection = figures["collections"][DIRECT_ROUTING_CALLS]
            assert figures["throttled"] == 0 and collection["throttled"] == 0, (slug, figures)
            assert figures["app"]["throttled"] == 0, (slug, figures)
            assert collection["limit"] == EMULATOR_BUDGET[0], (slug, collection)
            assert collection["max_in_window"] <= collection["limit"], (slug, collection)
        windows = {
            slug: stats["tenants"][tenant_id]["collections"][DIRECT_ROUTING_CALLS]["max_in_window"]
            for slug, tenant_id in TENANTS.items()
        }
        log(
            f"BUDGETS per {EMULATOR_BUDGET[1]:g} s window and tenant (limit {EMULATOR_BUDGET[0]}, client limiter "
            f"{CLIENT_LIMIT}): most requests in a window {windows}; all tenants together "
            f"{stats['collections'][DIRECT_ROUTING_CALLS]['max_in_window']}; faults served {stats['faults_served']}"
        )
        # Each tenant hands its own budget over between its pulls (the refused one too), every ledger closed.
        expected = {f"{LEDGER}__{DIRECT_ROUTING_CALLS}__msgraph_{slug}__{slug}" for slug in TENANTS}
        assert set(ledgers) == expected, sorted(ledgers)
        assert all(json.loads(value)["open"] is False for value in ledgers.values()), ledgers

        # One pull at a time per tenant: its extracts never overlapped (max_active_tis_per_dag=1, the default
        # pool); a pull's own time-sliced paging keeps at most graph_concurrency requests in flight.
        in_flight = {
            slug: emulator.max_in_flight(tenant=TENANTS[slug], collection=DIRECT_ROUTING_CALLS) for slug in TENANTS
        }
        log(f"most requests of one tenant in flight at once: {in_flight} (threads per pull: {GRAPH_CONCURRENCY})")
        for slug in TENANTS:
            assert {ti["pool"] for ti in by_tenant[slug]} == {"default_pool"}, (slug, by_tenant[slug])
            same_time = overlapping(by_tenant[slug])
            assert same_time == [], f"{slug}: two extracts of one tenant ran at the same time: {same_time}"
            assert 1 <= in_flight[slug] <= GRAPH_CONCURRENCY, (slug, in_flight[slug])

        # Tenants side by side on both workers: task instances, then the emulator's own clock.
        workers = {ti["worker"] for ti in extracts}
        log(
            "extracts per worker: "
            f"{ {w: sum(1 for ti in extracts if ti['worker'] == w) for w in sorted(workers, key=str)} }; "
            f"hostnames {sorted({str(ti['hostname']) for ti in extracts})}"
        )
        assert None not in workers, [ti for ti in extracts if ti["worker"] is None]
        assert len(workers) == CELERY_WORKERS, f"extracts ran on {workers}, not on both workers"
        across = [
            (a["dag_id"], a["worker"], b["dag_id"], b["worker"])
            for a, b in overlapping(extracts)
            if a["dag_id"] != b["dag_id"] and a["worker"] != b["worker"]
        ]
        log(f"{len(across)} pairs of extracts of two tenants ran at once on the two workers: {across[:6]}")
        assert across, "no two tenants' extracts ran at the same time on different workers"
        together = tenants_in_flight_at_once({slug: intervals[slug] for slug in PULLING})
        log(f"most pulling tenants with a request in flight at the same instant: {together}")
        assert together >= 2, "the emulator never had two tenants' requests in flight at once"
