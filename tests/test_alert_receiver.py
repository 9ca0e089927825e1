"""The local alert receiver: what apprise, Airflow's AppriseHook and the project's alert hook send arrives there."""

from __future__ import annotations

import json
import threading

import apprise
import pytest
import requests

from tests.alert_receiver import AlertReceiver


@pytest.fixture
def receiver():
    with AlertReceiver() as receiver:
        yield receiver


@pytest.fixture(autouse=True)
def no_proxy_for_localhost(monkeypatch):
    """A proxy from the environment must not stand between the senders and 127.0.0.1."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


def test_it_records_every_request_and_answers_200(receiver):
    answer = requests.post(f"{receiver.url}?source=test", json={"text": "hello"}, headers={"X-Tag": "t"}, timeout=10)
    assert answer.status_code == 200
    requests.post(f"http://127.0.0.1:{receiver.port}/elsewhere", data="plain words", timeout=10)
    first, second = receiver.wait_for(2)
    assert (first.method, first.path, first.query, first.status) == ("POST", "/alerts", {"source": "test"}, 200)
    assert first.payload == {"text": "hello"} and json.loads(first.text) == first.payload
    assert first.headers["x-tag"] == "t" and first.headers["content-type"] == "application/json"
    assert first.title is None and first.type is None
    assert (second.path, second.payload, second.text, second.body) == ("/elsewhere", None, "plain words", "plain words")
    receiver.clear()
    assert receiver.messages == []


def test_apprise_json_webhook_arrives_with_title_body_and_type(receiver):
    assert receiver.apprise_url == f"json://127.0.0.1:{receiver.port}/alerts"
    destinations = apprise.Apprise()
    assert destinations.add(receiver.apprise_url)
    assert destinations.notify(
        body="3 rows share an id.", title="Call logs: quality", notify_type=apprise.NotifyType.FAILURE
    )
    [message] = receiver.wait_for(1)
    assert (message.title, message.body, message.type) == ("Call logs: quality", "3 rows share an id.", "failure")
    # apprise's generic JSON webhook (plugins/custom_json.py): this exact payload, as JSON.
    assert message.payload == {
        "version": "1.0",
        "title": "Call logs: quality",
        "message": "3 rows share an id.",
        "attachments": [],
        "type": "failure",
    }
    assert message.path == "/alerts" and message.headers["content-type"] == "application/json"
    assert message.headers["user-agent"].lower().startswith("apprise")


def test_a_failing_webhook_is_seen_as_failing_by_apprise(receiver):
    destinations = apprise.Apprise()
    destinations.add(receiver.apprise_url)
    receiver.status = 500
    assert not destinations.notify(body="refused", title="t")  # apprise 2.3: a falsy AppriseResult
    receiver.status = 200
    receiver.fail_next(1, status=429)
    assert not destinations.notify(body="throttled", title="t")
    assert destinations.notify(body="accepted", title="t")
    assert [(m.body, m.status) for m in receiver.wait_for(3)] == [
        ("refused", 500),
        ("throttled", 429),
        ("accepted", 200),
    ]
    assert AlertReceiver(status=503).status == 503


def test_the_connection_has_the_apprise_providers_shape(receiver):
    conn = receiver.airflow_connection()
    assert conn == {"conn_type": "apprise", "extra": {"config": {"path": receiver.apprise_url, "tag": "alerts"}}}
    env = receiver.airflow_connection_env("alerts_webhook", tag="oncall")
    assert list(env) == ["AIRFLOW_CONN_ALERTS_WEBHOOK"]
    assert json.loads(env["AIRFLOW_CONN_ALERTS_WEBHOOK"])["extra"]["config"]["tag"] == "oncall"


def test_airflows_apprise_hook_posts_to_the_receiver_through_an_env_connection(receiver, monkeypatch):
    from airflow.providers.apprise.hooks.apprise import AppriseHook

    monkeypatch.setenv(*receiver.airflow_connection_env("alerts_webhook").popitem())
    hook = AppriseHook(apprise_conn_id="alerts_webhook")
    hook.notify(body="The day 2026-03-10 failed.", title="Call logs alert", tag="alerts")
    hook.notify(body="Every service, whatever its tag.", title="To all")  # the hook's default tag is "all"
    hook.notify(body="Nobody listens to this tag.", title="Not sent", tag="nobody")
    first, second = receiver.wait_for(2)
    assert (first.title, first.body, first.type) == ("Call logs alert", "The day 2026-03-10 failed.", "info")
    assert (second.title, second.body) == ("To all", "Every service, whatever its tag.")
    assert len(receiver.messages) == 2


def test_the_projects_alert_hook_sends_an_alert_through_the_connection(receiver, monkeypatch):
    from call_logs.alerts import Alert
    from call_logs.hooks.alerts import notify_apprise

    monkeypatch.setenv(*receiver.airflow_connection_env("call_logs_alerts").popitem())
    alert = Alert(
        cause="quality_error",
        table="direct_routing_calls",
        partition="2026-03-10",
        summary="direct_routing_calls 2026-03-10 FAIL: 1 error",
        tenant="contoso",
        details=("no_duplicate_ids: 3 rows share an id.",),
    )
    assert notify_apprise("call_logs_alerts", alert) is True
    [message] = receiver.wait_for(1)
    assert (message.title, message.body, message.type) == (alert.title, alert.body, "failure")
    receiver.status = 502
    assert notify_apprise("call_logs_alerts", alert) is False  # the hook sees the refusal


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")  # verify=no: what arrives matters
def test_it_stands_in_for_teams_workflows_over_https():
    with AlertReceiver(tls=True) as receiver:
        assert receiver.apprise_url.startswith("jsons://") and receiver.ca_path
        destinations = apprise.Apprise()
        assert destinations.add(receiver.workflows_url) and destinations.add(receiver.apprise_url)
        assert destinations.notify(body="Body text", title="Card title", notify_type=apprise.NotifyType.WARNING)
        messages = sorted(receiver.wait_for(2), key=lambda m: m.card is None)
        teams, plain = messages
        assert teams.card is not None and teams.card["type"] == "AdaptiveCard"
        assert (teams.title, teams.body, teams.type) == ("Card title", "Body text", None)
        assert teams.path.endswith("/triggers/manual/paths/invoke") and teams.query["sig"]
        assert (plain.title, plain.body, plain.type) == ("Card title", "Body text", "warning")
        answer = requests.post(receiver.url, json={}, verify=receiver.ca_path, timeout=10)  # a real certificate
        assert answer.status_code == 200
    with AlertReceiver() as plain_receiver, pytest.raises(RuntimeError, match="HTTPS"):
        _ = plain_receiver.workflows_url


def test_wait_for_times_out_and_messages_are_thread_safe(receiver):
    with pytest.raises(TimeoutError, match="got 0 of 1"):
        receiver.wait_for(1, timeout=0.2)

    def post(number: int) -> None:
        requests.post(receiver.url, json={"title": f"t{number}", "message": f"m{number}"}, timeout=10)

    threads = [threading.Thread(target=post, args=(number,)) for number in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    messages = receiver.wait_for(20, timeout=10)
    assert sorted(m.body for m in messages) == sorted(f"m{n}" for n in range(20))
    assert {m.title for m in messages} == {f"t{n}" for n in range(20)}


def test_it_stops_and_frees_its_port():
    receiver = AlertReceiver().start()
    port = receiver.port
    receiver.stop()
    with pytest.raises(requests.ConnectionError):
        requests.post(f"http://127.0.0.1:{port}/alerts", json={}, timeout=2)
    with pytest.raises(RuntimeError, match="not started"):
        _ = receiver.port
