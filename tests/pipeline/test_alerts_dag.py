"""Alerts through Airflow running the DAG (``dag.test``) against the Graph emulator, delivered by apprise to a local
JSON webhook standing in for a Teams Workflows one: exactly one alert for a day that fails for good across its
retries and its re-runs, a quality error with its failed checks, warnings only when asked, nothing without the
Variable, and never a secret in what is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from graph_emulator import Fault

from tests.alert_receiver import AlertReceiver
from tests.pipeline.conftest import run_for_day, task_states

DAY = datetime.now(UTC).date() - timedelta(days=5)
CONN_ID = "call_logs_alerts"
# A budget of one second: a try does not wait out the requests of the tries and tests before it (the ledger).
QUICK_BUDGET = {"requests_per_minute": 1000, "rate_limit_window_s": 1}


@pytest.fixture
def receiver():
    with AlertReceiver() as receiver:
        yield receiver


@pytest.fixture
def alerts_on(monkeypatch, receiver):
    """Alerts go to the receiver, as a deployment sets them up: an apprise connection and one Variable."""
    for name, value in receiver.airflow_connection_env(CONN_ID).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AIRFLOW_VAR_CALL_LOGS_ALERT_CONN_ID", CONN_ID)
    return receiver


def quick_retries(dag, retries: int) -> None:
    extract = dag.get_task("extract")
    extract.retries, extract.retry_delay, extract.retry_exponential_backoff = retries, timedelta(0), False


def test_a_day_that_fails_for_good_sends_one_alert_across_its_retries_and_reruns(
    dag, emulator, pipeline_env, tmp_path, alerts_on
):
    emu = emulator(rows_per_day=200, faults=[Fault("unavailable", rate=1.0, retry_after=0.01)])
    pipeline_env(emu, (tmp_path / "lake").as_uri(), conn_extras=QUICK_BUDGET)
    quick_retries(dag, 2)
    run = run_for_day(dag, DAY)
    assert task_states(run)["extract"] == "failed"
    [alert] = alerts_on.messages  # three tries, one alert: the callback runs after the last retry only
    assert alert.title == f"Call logs: direct_routing_calls {DAY}: a task failed after its retries"
    assert alert.body.startswith("direct_routing_calls.extract: Graph kept failing") and alert.type == "failure"
    assert emu.config.client_secret not in alert.text  # nor the token: the sentence never carries one
    ledger = tmp_path / "lake" / "_alerts" / "direct_routing_calls" / f"{DAY}.json"
    assert ledger.exists()

    run = run_for_day(dag, DAY)  # cleared and failed again: the same cause of the same day, no second alert
    assert task_states(run)["extract"] == "failed" and len(alerts_on.messages) == 1


def test_a_quality_error_names_its_failed_checks_and_a_passing_day_clears_it(
    dag, emulator, pipeline_env, tmp_path, alerts_on
):
    emu = emulator(rows_per_day=300, faults=[Fault("null_start", on_request=1, position=3)])
    pipeline_env(emu, (tmp_path / "lake").as_uri(), conn_extras=QUICK_BUDGET)
    run = run_for_day(dag, DAY)
    assert task_states(run)["data_quality"] == "failed"
    [alert] = alerts_on.messages
    assert alert.title == f"Call logs: direct_routing_calls {DAY}: the partition failed its quality checks"
    lines = alert.body.splitlines()
    assert lines[0].startswith(f"direct_routing_calls.data_quality: call_date={DAY} FAIL: 1 error (quarantined_rows)")
    assert lines[1].startswith("- quarantined_rows: ")

    emu.configure(faults=[])  # the day is pulled again without the bad row: it passes, the failure is forgotten
    run = run_for_day(dag, DAY)
    assert task_states(run)["data_quality"] == "success" and len(alerts_on.messages) == 1
    assert "quality_error" not in (tmp_path / "lake/_alerts/direct_routing_calls" / f"{DAY}.json").read_text()


@pytest.mark.parametrize("asked", [False, True])
def test_warnings_alert_only_when_asked(dag, emulator, pipeline_env, tmp_path, alerts_on, monkeypatch, asked):
    emu = emulator(rows_per_day=300, faults=[Fault("null_start", on_request=1, position=3)])
    pipeline_env(
        emu, (tmp_path / "lake").as_uri(), conn_extras=QUICK_BUDGET, direct_routing_dq_quarantine_severity="warning"
    )
    if asked:
        monkeypatch.setenv("AIRFLOW_VAR_CALL_LOGS_ALERT_ON_WARNINGS", "true")
    run = run_for_day(dag, DAY)
    assert task_states(run)["data_quality"] == "success"
    if not asked:
        assert alerts_on.messages == []
        return
    [alert] = alerts_on.messages
    assert alert.title == f"Call logs: direct_routing_calls {DAY}: the partition passed with quality warnings"
    assert alert.type == "warning" and "- quarantined_rows: " in alert.body


def test_without_the_variable_nothing_is_sent(dag, emulator, pipeline_env, tmp_path, receiver, monkeypatch):
    for name, value in receiver.airflow_connection_env(CONN_ID).items():
        monkeypatch.setenv(name, value)  # a connection alone does not turn alerts on
    emu = emulator(rows_per_day=200, faults=[Fault("unavailable", rate=1.0, retry_after=0.01)])
    pipeline_env(emu, (tmp_path / "lake").as_uri(), conn_extras=QUICK_BUDGET)
    quick_retries(dag, 0)
    assert task_states(run_for_day(dag, DAY))["extract"] == "failed"
    assert receiver.messages == [] and not (tmp_path / "lake" / "_alerts").exists()
