"""Alerts on a real scheduler (PostgreSQL, LocalExecutor): a day held back past its deadline, a day failing for good.

A real Airflow (scheduler, dag-processor, triggerer, api-server) runs the DAGs a tenants file makes for two tenants
of ``direct_routing_calls``, each pulling from a Graph emulator process of its own over TLS; alerts go through the
Variable ``call_logs_alert_conn_id`` and an apprise connection (``json://``) to a local webhook (``AlertReceiver``,
the stand-in for a Teams Workflows one), exactly as a deployment sets them up, in the environment.

Why tenant DAGs: the deadline is a parse-time ``DeadlineAlert`` of DAGRUN_QUEUED_AT + settle hours + the grace
``CALL_LOGS_DEADLINE_GRACE_HOURS`` (a float: ``0.003`` h = 10.8 s here), and a tenant's own ``settle_hours``
(tenants file) gives each tenant its deadline in one stack; the callback and the alert are the same code as for the
one DAG ``direct_routing_calls`` (whose settle hours are the Variable's, read when the DAG is parsed).

- ``contoso`` (held back): its Graph holds the first data request 20 s, so the run is still running when its
  deadline (queued + 0 h + 10.8 s) passes. Exactly one ``deadline_missed`` alert arrives, naming the table, the
  tenant and the day, saying the run is running; the run then lands (success) and nothing more is sent.
- ``fabrikam`` (Graph down): its Graph answers 503 to every data request. The DAG's own 3 retries run (4 tries);
  the deployment-wide ``[core] max_task_retry_delay = 2`` caps the DAG's 5-minute exponential retry delay so the
  tries follow each other in seconds. Exactly one ``task_failed`` alert arrives, after the last try: the earlier
  tries' logs say nothing about alerts (``on_failure_callback`` runs once, not merely de-duplicated by the ledger).
  Its settle hours are 1, so its own deadline (an hour away) stays out of the picture (Airflow keeps a failed
  run's deadline; ``deadline_missed`` stays silent for a run that failed, which ``tests/test_alerts.py`` shows).

Neither alert carries the client secret of the msgraph connections.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
import yaml
from graph_emulator.config import TenantConfig
from graph_emulator.connection import msgraph_connection_env
from graph_emulator.process import EmulatorProcess

from tests.alert_receiver import AlertReceiver, ReceivedMessage
from tests.helpers import free_port
from tests.production.backfill import create_backfill
from tests.production.conftest import wall_time
from tests.production.processes import log
from tests.production.stack import AirflowStack, start_stack, stop_stack

TABLE = "direct_routing_calls"
HELD, DOWN = "contoso", "fabrikam"  # the day held back past its deadline; the day whose Graph is down
TENANTS = {HELD: "5d1c0b7e-0000-4000-8000-00000000c051", DOWN: "5d1c0b7e-0000-4000-8000-00000000fab1"}
DAG_IDS = {slug: f"{TABLE}__{slug}" for slug in TENANTS}
SETTLE_HOURS = {HELD: 0, DOWN: 1}
GRACE_HOURS = 0.003  # 10.8 s: CALL_LOGS_DEADLINE_GRACE_HOURS is parsed as a float
HOLD_S = 20  # the held tenant's Graph answers its first data request after this long
DAY = datetime.now(UTC).date() - timedelta(days=5)
TRIES = 4  # pipeline.DEFAULT_ARGS: retries=3
MAX_RETRY_DELAY_S = 2
CONN_ID = "call_logs_alerts"
QUICK_BUDGET = {"requests_per_minute": 1000, "rate_limit_window_s": 1}  # no client-side wait between tries
TIMEOUT_S = 240
WALL = "7. alerts: deadline + failed day, LocalExecutor (incl. start/stop)"


@pytest.fixture(scope="module")
def receiver():
    with AlertReceiver() as receiver:
        yield receiver


@pytest.fixture(scope="module")
def emulators(tmp_path_factory):
    """One Graph emulator per tenant: ``contoso``'s holds its first data request, ``fabrikam``'s answers 503."""
    faults = {
        HELD: [{"kind": "latency", "on_request": 1, "seconds": HOLD_S}],
        DOWN: [{"kind": "unavailable", "rate": 1.0, "retry_after": 0.01}],
    }
    started: dict[str, EmulatorProcess] = {}
    try:
        for slug, tenant_id in TENANTS.items():
            started[slug] = EmulatorProcess(
                rows_per_day=300,
                seed=20261201,
                budget=None,
                faults=faults[slug],
                tenants=[TenantConfig(tenant_id)],
                workdir=tmp_path_factory.mktemp(f"graph-emulator-{slug}"),
            ).start()
        yield started
    finally:
        for emulator in started.values():
            emulator.stop()


@pytest.fixture(scope="module")
def lake(tmp_path_factory):
    return tmp_path_factory.mktemp("alerts-lake") / "lake"


@pytest.fixture(scope="module")
def alerts_stack(tmp_path_factory, emulators, receiver, lake, postgres_server):
    tenants_file = tmp_path_factory.mktemp("alerts-tenants") / "tenants.yaml"
    tenants_file.write_text(
        yaml.safe_dump(
            {
                "tenants": [
                    {"slug": s, "tenant_id": t, "reports": [TABLE], "settings": {"settle_hours": SETTLE_HOURS[s]}}
                    for s, t in TENANTS.items()
                ]
            },
            sort_keys=False,
        )
    )
    env = {
        "CALL_LOGS_TENANTS_FILE": str(tenants_file),
        "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": lake.as_uri(),
        "AIRFLOW_VAR_CALL_LOGS_ALERT_CONN_ID": CONN_ID,
        **receiver.airflow_connection_env(CONN_ID),
        # Parse time (dag-processor) and the scheduler: every tenant DAG gets a deadline of settle hours + grace.
        "CALL_LOGS_DEADLINE_GRACE_HOURS": str(GRACE_HOURS),
        # Airflow's global cap on a retry's delay; the DAG keeps its retries=3 and its 5-minute exponential delay.
        "AIRFLOW__CORE__MAX_TASK_RETRY_DELAY": str(MAX_RETRY_DELAY_S),
    }
    for slug, tenant_id in TENANTS.items():
        env |= msgraph_connection_env(emulators[slug], f"msgraph_{slug}", tenant=tenant_id, **QUICK_BUDGET)
    with wall_time(WALL):
        stack = start_stack(
            tmp_path_factory.mktemp("airflow-alerts"),
            "LocalExecutor",
            free_port,
            env,
            postgres=postgres_server,
            dag_ids=tuple(DAG_IDS.values()),
        )
    try:
        yield stack
    finally:
        with wall_time(WALL):
            stop_stack(stack)


def runs(stack: AirflowStack, backfills: dict[str, int]) -> dict[str, tuple]:
    """slug -> (run id, state, queued_at, end_date, dag_run.id) of its one backfilled run."""
    found = {}
    for slug, backfill_id in backfills.items():
        rows = stack.query(
            "SELECT run_id, state, queued_at, end_date, id FROM dag_run WHERE backfill_id = %s", (backfill_id,)
        )
        if rows:
            [found[slug]] = rows
    return found


def wait_runs_finished(stack: AirflowStack, backfills: dict[str, int], timeout: float) -> dict[str, tuple]:
    deadline, last_report = time.monotonic() + timeout, 0.0
    while True:
        stack.check_alive()
        found = runs(stack, backfills)
        if len(found) == len(backfills) and all(run[1] in ("success", "failed") for run in found.values()):
            return found
        if time.monotonic() - last_report > 15:
            tis = stack.query(
                "SELECT dag_id, task_id, state, try_number FROM task_instance WHERE dag_id = ANY(%s) ORDER BY 1, 2",
                (list(DAG_IDS.values()),),
            )
            log(f"runs {[(s, r[1]) for s, r in found.items()]}; tasks {tis}")
            last_report = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"runs not finished after {timeout} s: {found}")
        time.sleep(1)


def extract_attempt_logs(stack: AirflowStack, dag_id: str) -> list[str]:
    folder = stack.home / "logs" / f"dag_id={dag_id}"
    paths = sorted(folder.glob("run_id=*/task_id=extract/attempt=*.log"), key=lambda p: int(p.stem.split("=")[1]))
    return [path.read_text(errors="replace") for path in paths]


def wait_alert_of(receiver: AlertReceiver, stack: AirflowStack, slug: str, timeout: float) -> ReceivedMessage:
    """The first alert about ``slug``'s table and day, once it arrives."""
    deadline = time.monotonic() + timeout
    while not (found := of_tenant(receiver.messages, slug)):
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no alert about tenant {slug} in {timeout} s: {[m.title for m in receiver.messages]}")
        time.sleep(0.5)
    return found[0]


def of_tenant(messages: list[ReceivedMessage], slug: str) -> list[ReceivedMessage]:
    return [m for m in messages if f"{TABLE} · tenant {slug} " in (m.title or "")]


@pytest.mark.timeout(600)
def test_a_late_day_and_a_failed_day_alert_once_each(alerts_stack, emulators, receiver, lake):
    stack = alerts_stack
    secrets = {emulator.info["client_secret"] for emulator in emulators.values()}
    with wall_time(WALL):
        backfills = {slug: create_backfill(stack, DAY, DAY, dag_id=DAG_IDS[slug]) for slug in (DOWN, HELD)}
        log(f"backfills {backfills} of {DAY}")

        # The held day: the deadline passes while the run waits on Graph; its alert says the run is running.
        deadline_alert = wait_alert_of(receiver, stack, HELD, TIMEOUT_S)
        arrived = datetime.fromtimestamp(deadline_alert.received_at, UTC)
        log(f"first alert at {arrived:%H:%M:%S.%f}: {deadline_alert.title!r}\n{deadline_alert.body}")
        late = "the day has not landed by its deadline"
        assert deadline_alert.title == f"Call logs: {TABLE} · tenant {HELD} {DAY}: {late}", deadline_alert.title
        assert deadline_alert.type == "failure"
        assert f" of {DAG_IDS[HELD]} has not finished by its deadline (" in deadline_alert.body, deadline_alert.body
        assert "The run None" not in deadline_alert.body and "/runs/None" not in deadline_alert.body
        assert "the day has not landed in the lake. It is running;" in deadline_alert.body, deadline_alert.body

        finished = wait_runs_finished(stack, backfills, TIMEOUT_S)
        time.sleep(5)  # anything sent late (a callback per try, a second deadline callback) would show by now
        messages = receiver.messages
        log("alerts received:\n" + "\n".join(f"  {m.title}\n    {m.body.splitlines()[0]}" for m in messages))
        deadlines = stack.query(
            "SELECT d.dagrun_id, d.deadline_time, d.missed, c.state FROM deadline d JOIN callback c "
            "ON c.id = d.callback_id ORDER BY d.deadline_time"
        )
        log(f"deadlines: {deadlines}")
        extracts = {
            dag_id: (state, tries)
            for dag_id, state, tries in stack.query(
                "SELECT dag_id, state, try_number FROM task_instance WHERE task_id = 'extract' AND dag_id = ANY(%s)",
                (list(DAG_IDS.values()),),
            )
        }
        down_logs = extract_attempt_logs(stack, DAG_IDS[DOWN])
        down_stats = emulators[DOWN].stats()

        # Two alerts in all: the held day's deadline, the failed day's last try. Never a secret.
        assert len(messages) == 2, [(m.title, m.body) for m in messages]
        assert of_tenant(messages, HELD) == [deadline_alert]
        for message in messages:
            assert not any(secret in message.text for secret in secrets), "an alert carries the client secret"

        # The held day missed its deadline of queued + 0 h + grace while running, then landed: its deadline alone.
        held_run_id, held_state, queued_at, held_end, held_id = finished[HELD]
        assert held_state == "success", finished[HELD]
        assert deadline_alert.body.startswith(f"The run {held_run_id} of {DAG_IDS[HELD]} "), deadline_alert.body
        assert f"/dags/{DAG_IDS[HELD]}/runs/{held_run_id}" in deadline_alert.body, deadline_alert.body
        [(deadline_time, missed, callback_state)] = [d[1:] for d in deadlines if d[0] == held_id]
        interval = timedelta(hours=SETTLE_HOURS[HELD] + GRACE_HOURS)
        assert deadline_time - queued_at == interval, (queued_at, deadline_time)
        assert missed and callback_state == "success", deadlines
        assert deadline_time < arrived < held_end, (deadline_time, arrived, held_end)
        assert f"by its deadline ({deadline_time})" in deadline_alert.body, (deadline_time, deadline_alert.body)

        # The failed day: every try failed on Graph's 503s, one alert after the last, none about the earlier ones.
        _, down_state, _, _, down_id = finished[DOWN]
        assert down_state == "failed", finished[DOWN]
        assert extracts == {DAG_IDS[DOWN]: ("failed", TRIES), DAG_IDS[HELD]: ("success", 1)}, extracts
        assert len(down_logs) == TRIES, f"{len(down_logs)} attempt logs"
        assert all("Graph kept failing" in text for text in down_logs)
        assert [("Alert sent" in text) for text in down_logs] == [False] * (TRIES - 1) + [True]
        assert not any("Alert already sent" in text for text in down_logs)
        assert down_stats["faults_served"]["unavailable"] >= TRIES, down_stats["faults_served"]
        [failure_alert] = of_tenant(messages, DOWN)
        failed = "a task failed after its retries"
        assert failure_alert.title == f"Call logs: {TABLE} · tenant {DOWN} {DAY}: {failed}", failure_alert.title
        assert failure_alert.type == "failure"
        assert failure_alert.body.startswith(f"{DAG_IDS[DOWN]}.extract: Graph kept failing (HTTP 503"), (
            failure_alert.body
        )
        ledger = lake / "_alerts" / TABLE / f"tenant={DOWN}" / f"{DAY}.json"
        assert '"task_failed"' in ledger.read_text()
        # Its own deadline is an hour away (settle 1 h): not missed while the test ran.
        assert not any(d[2] for d in deadlines if d[0] == down_id), deadlines
