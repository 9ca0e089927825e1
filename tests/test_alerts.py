"""Alerts as data: one short message naming the table, tenant and day; sent once per cause; cleared by a success.
And the trunk-regression check that raises one: a trunk's NER below its 28-day median, never for a quiet trunk."""

from __future__ import annotations

from datetime import date, timedelta

import fsspec
import pytest
from call_logs.alerts import MAX_DETAILS, Alert, AlertLedger
from call_logs.gold.quality import check_gold
from call_logs.gold.table import TRUNK_HEALTH
from call_logs.gold.trunk_health import build_day
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.tables.checks import QualityThresholds

from tests.rows import call_rows, commit_rows, pages_of
from tests.sinks import gold_table_sink, report_sink

ALERT = Alert(
    cause="quality_error",
    table="direct_routing_calls",
    partition="2026-03-10",
    summary="direct_routing_calls 2026-03-10 FAIL: 1 error",
    tenant="contoso",
    details=("no_duplicate_ids: 3 rows share an id.",),
    log_url="https://airflow.example/dags/direct_routing_calls__contoso/runs/r/tasks/data_quality",
)


def test_an_alert_says_what_where_and_links_the_log():
    assert ALERT.title == (
        "Call logs: direct_routing_calls · tenant contoso 2026-03-10: the partition failed its quality checks"
    )
    assert ALERT.body.splitlines() == [
        "direct_routing_calls 2026-03-10 FAIL: 1 error",
        "- no_duplicate_ids: 3 rows share an id.",
        "Log: https://airflow.example/dags/direct_routing_calls__contoso/runs/r/tasks/data_quality",
    ]
    many = Alert("quality_warning", "t", "2026-03-10", "s", details=tuple(f"d{i}" for i in range(MAX_DETAILS + 3)))
    assert many.body.splitlines()[-1] == "- … and 3 more" and "contoso" not in many.title


def test_the_ledger_sends_once_per_cause_and_a_success_clears_failures(tmp_path):
    ledger = AlertLedger(fsspec.filesystem("file"), str(tmp_path / "lake"))
    assert not ledger.already_sent(ALERT)
    ledger.record(ALERT)
    assert ledger.already_sent(ALERT)
    other_day = Alert(**{**ALERT.__dict__, "partition": "2026-03-11"})
    other_cause = Alert(**{**ALERT.__dict__, "cause": "trunk_regression"})
    other_tenant = Alert(**{**ALERT.__dict__, "tenant": "fabrikam"})
    assert not any(ledger.already_sent(a) for a in (other_day, other_cause, other_tenant))
    assert (tmp_path / "lake/_alerts/direct_routing_calls/tenant=contoso/2026-03-10.json").exists()
    ledger.record(other_cause)
    ledger.clear("direct_routing_calls", "contoso", "2026-03-10")  # the day passed later: failures are news again
    assert not ledger.already_sent(ALERT) and ledger.already_sent(other_cause)  # a regression is not a failure


DAYS = [date(2026, 3, 1) + timedelta(days=i) for i in range(9)]


def network_failures(rows: list[dict], every: int) -> list[dict]:
    """Every ``every``-th call failed with 503 (a network failure in NER)."""
    for i, row in enumerate(rows):
        if i % every == 1:
            row.update(successfulCall=False, finalSipCode=503, finalSipCodePhrase="Service Unavailable")
    return rows


@pytest.fixture
def lake(tmp_path):
    root = tmp_path / "lake"
    source, gold = report_sink(root, DIRECT_ROUTING), gold_table_sink(root, TRUNK_HEALTH)
    for day in DAYS[:-1]:  # eight ordinary days: 1 call in 20 a network failure, NER 0.95
        commit_rows(source, day, pages_of(network_failures(call_rows(120, day=day, prefix=f"c{day}"), 20)))
        build_day(source, gold, day)
    return source, gold


def regression(source, gold, day, thresholds=None) -> list[str]:
    build_day(source, gold, day)
    result = next(r for r in check_gold(gold, day, {DIRECT_ROUTING.table: source}, thresholds).results
                  if r.name == "trunk_regression")  # fmt: skip
    return result.observed if result.failed else []


def test_a_trunk_whose_ner_fell_below_its_median_is_a_regression(lake):
    source, gold = lake
    day = DAYS[-1]
    commit_rows(source, day, pages_of(network_failures(call_rows(120, day=day, prefix="bad"), 3)))  # NER 0.67
    fell = regression(source, gold, day)
    assert fell == [
        "tll-audiocodes01.adatum.biz: NER 66.7% against its 8-day median 95.0% (120 calls)",
        "tll-audiocodes01.adatum.biz: answer-seizure ratio 50.0% against its 8-day median 70.0% (120 calls)",
    ]
    assert regression(source, gold, day, QualityThresholds(regression_drop=0.5)) == []  # within a wider drop


def test_a_quiet_trunk_or_a_short_history_pages_nobody(lake):
    source, gold = lake
    day = DAYS[-1]
    commit_rows(source, day, pages_of(network_failures(call_rows(60, day=day, prefix="quiet"), 2)))  # 60 calls
    assert regression(source, gold, day) == []
    assert regression(source, gold, day, QualityThresholds(regression_min_calls=50, regression_min_history=9)) == []
    assert regression(source, gold, day, QualityThresholds(regression_min_calls=50)) != []


def test_the_gold_quality_task_alerts_a_regression_once(lake, monkeypatch, tmp_path):
    from types import SimpleNamespace

    from airflow.sdk.execution_time.context import OutletEventAccessors
    from call_logs.operators.gold import GoldQualityOperator

    from tests.alert_receiver import AlertReceiver

    source, gold = lake
    day = DAYS[-1]
    commit_rows(source, day, pages_of(network_failures(call_rows(120, day=day, prefix="bad"), 3)))
    build_day(source, gold, day)
    root = (tmp_path / "lake").as_uri()
    with AlertReceiver() as receiver:
        for name, value in receiver.airflow_connection_env("alerts").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AIRFLOW_VAR_CALL_LOGS_ALERT_CONN_ID", "alerts")
        for _ in range(2):  # the task re-run: the same regression of the same day is not sent twice
            context = {
                "partition_key": day.isoformat(),
                "ti": SimpleNamespace(dag_id="gold", task_id="data_quality", try_number=1, log_url=None),
                "outlet_events": OutletEventAccessors(),
            }
            task = GoldQualityOperator(task_id="data_quality", table=TRUNK_HEALTH.table, lake_root=root)
            assert task.execute(context)["status"] == "warn"  # type: ignore[arg-type]
        [alert] = receiver.messages
    assert alert.title == (
        f"Call logs: direct_routing_trunk_health {day}: a trunk's network effectiveness or answer-seizure ratio "
        "fell below its 28-day median"
    )
    assert alert.type == "warning"
    assert "- tll-audiocodes01.adatum.biz: NER 66.7% against its 8-day median 95.0% (120 calls)" in alert.body


def test_a_daily_dag_gets_a_deadline_of_settle_hours_plus_grace_only_when_asked(monkeypatch):
    from call_logs.operators.alerting import DEADLINE_GRACE_ENV, deadline_missed
    from call_logs.pipeline import daily_call_log_dag
    from call_logs.tenants import Tenant

    monkeypatch.delenv(DEADLINE_GRACE_ENV, raising=False)
    assert not daily_call_log_dag(DIRECT_ROUTING, description="d").deadline  # off unless asked
    monkeypatch.setenv(DEADLINE_GRACE_ENV, "12")
    [deadline] = daily_call_log_dag(DIRECT_ROUTING, description="d").deadline
    assert deadline.interval == timedelta(hours=48 + 12)  # the report's settle hours, then the grace
    monkeypatch.setenv("AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS", "72")  # the Variable the wait sensor reads too
    [deadline] = daily_call_log_dag(DIRECT_ROUTING, description="d").deadline
    assert deadline.interval == timedelta(hours=72 + 12)
    assert deadline.reference.reference_name == "DagRunQueuedAtDeadline"
    assert deadline.callback.path == f"{deadline_missed.__module__}.deadline_missed"
    tenant = Tenant(
        slug="contoso",
        tenant_id="3f7a2c1e-0000-4000-8000-000000000001",
        msgraph_conn_id="msgraph_contoso",
        reports=(DIRECT_ROUTING.table,),
        settings={DIRECT_ROUTING.table: {"settle_hours": "6"}},
    )
    [own] = daily_call_log_dag(DIRECT_ROUTING, description="d", tenant=tenant).deadline
    assert own.interval == timedelta(hours=6 + 12) and own.callback.kwargs["tenant"] == "contoso"
    monkeypatch.setenv(DEADLINE_GRACE_ENV, "half a day")
    with pytest.raises(ValueError, match="CALL_LOGS_DEADLINE_GRACE_HOURS is 'half a day'"):
        daily_call_log_dag(DIRECT_ROUTING, description="d")


def test_a_missed_deadline_says_which_run_and_a_failed_run_is_not_announced_twice(monkeypatch, tmp_path):
    from call_logs.operators.alerting import deadline_missed

    from tests.alert_receiver import AlertReceiver

    monkeypatch.setenv("AIRFLOW__API__BASE_URL", "https://airflow.contoso.com")
    monkeypatch.setenv("AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT", (tmp_path / "lake").as_uri())  # the alert ledger's
    # What Airflow 3.3 hands a deadline callback: the API's run document, whose run id is "dag_run_id".
    run = {
        "dag_run_id": "scheduled__2026-03-10T00:00:00+00:00",
        "dag_id": "direct_routing_calls",
        "data_interval_start": "2026-03-10T00:00:00Z",
        "state": "running",
    }
    deadline = {"deadline_time": "2026-03-13T12:00:00+00:00"}
    with AlertReceiver() as receiver:
        for name, value in receiver.airflow_connection_env("alerts").items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AIRFLOW_VAR_CALL_LOGS_ALERT_CONN_ID", "alerts")
        deadline_missed({"dag_run": run, "deadline": deadline}, table="direct_routing_calls")
        deadline_missed({"dag_run": {**run, "state": "failed"}, "deadline": deadline}, table="direct_routing_calls")
        [alert] = receiver.messages  # the failed run's failure alert already told: no second one
    assert alert.title == "Call logs: direct_routing_calls 2026-03-10: the day has not landed by its deadline"
    assert alert.body.startswith("The run scheduled__2026-03-10T00:00:00+00:00 of direct_routing_calls has not")
    assert (
        "https://airflow.contoso.com/dags/direct_routing_calls/runs/scheduled__2026-03-10T00:00:00+00:00" in alert.body
    )
