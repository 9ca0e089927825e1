"""The Graph client against the emulator over TLS: every row, whatever Graph throws at it."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
from call_logs.graph.client import PullStats
from call_logs.graph.errors import (
    GraphAuthError,
    GraphDeadlineError,
    GraphPermissionError,
    GraphRequestError,
    GraphRetryAfterTooLongError,
    GraphUnavailableError,
    UnsafeNextLinkError,
)
from call_logs.graph.settings import GraphSettings
from call_logs.graph.throttle import RateLimiter, RetryPolicy
from call_logs.graph.window import Window
from call_logs.reports.direct_routing import DIRECT_ROUTING
from graph_emulator import Fault

from tests.helpers import emulator_client, emulator_connection

DAY = datetime(2026, 3, 3, tzinfo=UTC)  # a Tuesday
WINDOW = Window(DAY, DAY + timedelta(days=1))


def pull(client, window=WINDOW):
    stats = PullStats()
    rows = [row for page in client.iter_pages(window, stats) for row in page.rows()]
    return rows, stats


def test_a_multi_page_day_returns_exactly_the_ground_truth(emulator):
    emu = emulator(rows_per_day=3500, seed=1)
    rows, stats = pull(emulator_client(emu))
    assert rows == emu.expected_rows(WINDOW.start, WINDOW.end)
    assert stats.pages == 4 and stats.rows == 3500 and stats.retries == 0


def test_an_hour_window_and_beta_fields(emulator):
    emu = emulator(rows_per_day=2000, seed=2)
    hour = Window(DAY + timedelta(hours=10), DAY + timedelta(hours=11))
    rows, _ = pull(emulator_client(emu, api_version="beta"), hour)
    assert rows == emu.expected_rows(hour.start, hour.end, api_version="beta")
    assert rows and "userCountryCode" in rows[0]


@pytest.mark.parametrize(
    "fault",
    [
        Fault("throttle", on_request=2, retry_after=0.25),
        Fault("throttle", on_request=2),
        Fault("unavailable", on_request=3, retry_after=0.1),
        Fault("unavailable", on_request=3),
        Fault("gateway_timeout", on_request=2),
        Fault("reset", on_request=2),
        Fault("truncate", on_request=3),
        Fault("invalid_json", on_request=2),
        Fault("expire_token", on_request=3),
    ],
    ids=lambda fault: f"{fault.kind}-{fault.retry_after}",
)
def test_each_transient_fault_is_retried_and_no_row_is_lost(emulator, fault):
    emu = emulator(rows_per_day=4000, seed=3, faults=[fault])
    rows, stats = pull(emulator_client(emu))
    assert rows == emu.expected_rows(WINDOW.start, WINDOW.end)
    assert emu.stats()["faults_served"].get(fault.kind) == 1
    if fault.kind != "expire_token":
        assert stats.retries == 1
    assert stats.requests == stats.pages + 1


def test_duplicated_rows_and_unknown_fields_are_passed_on_for_the_writer(emulator):
    emu = emulator(
        rows_per_day=3000,
        seed=4,
        faults=[Fault("duplicate_rows", on_request=2, rows=7), Fault("extra_field", on_request=3)],
    )
    rows, _ = pull(emulator_client(emu))
    truth = emu.expected_rows(WINDOW.start, WINDOW.end)
    assert len(rows) == len(truth) + 7
    assert {r["id"] for r in rows} == {r["id"] for r in truth}
    assert sum(1 for r in rows if "futureField" in r) == 1000


def test_a_fractional_retry_after_is_honoured(emulator):
    emu = emulator(rows_per_day=1500, seed=5, faults=[Fault("throttle", on_request=2, retry_after=0.75)])
    rows, stats = pull(emulator_client(emu))
    assert len(rows) == 1500
    assert stats.throttled == 1 and stats.throttle_wait_s >= 0.75


def test_giving_up_after_bounded_retries_says_so(emulator):
    emu = emulator(rows_per_day=1500, seed=6, faults=[Fault("unavailable", rate=1.0)])
    client = emulator_client(emu, retry=RetryPolicy(max_attempts=3, backoff_base_s=0.01, backoff_cap_s=0.02))
    with pytest.raises(GraphUnavailableError, match="after 3 attempts"):
        pull(client)
    assert emu.stats()["data_requests"] == 3


def test_a_huge_retry_after_fails_the_try_at_once_instead_of_holding_the_worker(emulator):
    emu = emulator(rows_per_day=1500, seed=6, faults=[Fault("throttle", on_request=2, retry_after=86400)])

    def no_wait(seconds: float) -> None:  # a 429's wait is the request budget's (pause_for, then sleep)
        raise AssertionError(f"the pull waited {seconds} s for Graph instead of failing the try")

    client = emulator_client(emu, limiter=RateLimiter(50, 60.0, sleep=no_wait))
    stats = PullStats()
    with pytest.raises(GraphRetryAfterTooLongError, match=r"Retry-After 86400 s, longer than the 120 s"):
        for _ in client.iter_pages(WINDOW, stats):
            pass
    assert emu.stats()["data_requests"] == 2  # the throttled request was the last one Graph saw
    assert (stats.retries, stats.throttled, stats.throttle_wait_s) == (0, 0, 0.0)  # no wait was even counted


def test_retries_stop_before_the_tasks_deadline(emulator):
    import time

    emu = emulator(rows_per_day=1500, seed=6, faults=[Fault("unavailable", rate=1.0, retry_after=0.4)])
    granted: list[float] = []

    class RecordedRetry(RetryPolicy):
        def wait_before_retry(self, *args):
            granted.append(super().wait_before_retry(*args))
            return granted[-1]

    # The policy's clock moves by the waits it granted and nothing else: what the client decides does not
    # depend on how fast a loaded machine runs the requests in between.
    start = time.time()
    retry = RecordedRetry(deadline=start + 1.0, clock=lambda: start + sum(granted))
    with pytest.raises(GraphDeadlineError, match=r"Waiting 0.4 s more .* execution_timeout \(0.2 s left\)"):
        pull(emulator_client(emu, retry=retry))
    assert granted == [0.4, 0.4]  # Graph's Retry-After each time, until a third wait would end after the deadline
    assert start + sum(granted) <= retry.deadline  # gave up before the deadline, not after it
    assert emu.stats()["data_requests"] == 3  # one retry per granted wait, none after the refused one


def test_tokens_are_renewed_across_a_pull_longer_than_their_lifetime(emulator):
    emu = emulator(rows_per_day=5000, seed=7, token_lifetime_s=1, latency_s=0.3)
    rows, _ = pull(emulator_client(emu))
    assert len(rows) == 5000
    assert emu.stats()["token_requests"] >= 2


def test_a_foreign_next_link_is_refused_and_the_foreign_host_hears_nothing(emulator):
    foreign = emulator(rows_per_day=10, seed=8)
    emu = emulator(
        rows_per_day=3000, seed=8, faults=[Fault("foreign_next_link", on_request=1, target=foreign.graph_root)]
    )
    with pytest.raises(UnsafeNextLinkError, match="refusing"):
        pull(emulator_client(emu))
    assert foreign.stats()["data_requests"] == 0
    assert foreign.stats()["token_requests"] == 0


def test_the_limiter_keeps_a_pull_under_the_budget(emulator):
    emu = emulator(rows_per_day=30_000, seed=9, page_size=1000, budget_requests=10, budget_window_s=1.0)
    client = emulator_client(emu, limiter=RateLimiter(9, 1.0))
    rows, stats = pull(client)
    assert len(rows) == 30_000
    assert emu.stats()["throttled"] == 0
    assert emu.max_requests_in_any(1.0) <= 10


def test_without_the_limiter_the_same_pull_is_throttled_but_complete(emulator):
    emu = emulator(rows_per_day=30_000, seed=9, page_size=1000, budget_requests=10, budget_window_s=1.0)
    client = emulator_client(emu, limiter=RateLimiter(10_000, 1.0))
    rows, stats = pull(client)
    assert len(rows) == 30_000
    assert emu.stats()["throttled"] >= 1 and stats.throttled >= 1


def test_missing_permission_names_the_permission_and_consent(emulator):
    emu = emulator(rows_per_day=10, grant_permission=False)
    with pytest.raises(GraphPermissionError) as caught:
        pull(emulator_client(emu))
    assert "CallRecords.Read.All" in str(caught.value) and "admin consent" in str(caught.value)


def test_a_wrong_secret_points_at_the_secret(emulator):
    emu = emulator(rows_per_day=10)
    conn = emulator_connection(emu)
    settings = GraphSettings.from_connection(
        login=conn["login"], password="not-the-secret", host=conn["host"], extras=conn["extra"]
    )
    with pytest.raises(GraphAuthError, match="AADSTS7000215") as caught:
        pull(settings.build_client(DIRECT_ROUTING.function_path))
    assert "not-the-secret" not in str(caught.value)
    assert emu.stats()["data_requests"] == 0


def test_a_401_that_survives_a_refresh_points_at_credentials_and_cloud(emulator):
    emu = emulator(rows_per_day=10, faults=[Fault("expire_token", on_request=1), Fault("expire_token", on_request=2)])
    with pytest.raises(GraphAuthError, match="national cloud"):
        pull(emulator_client(emu))


def test_a_bad_request_shows_graphs_code_message_and_request_id(emulator):
    emu = emulator(rows_per_day=10)
    client = emulator_client(emu)
    url = f"{emu.graph_root}/v1.0/communications/callRecords/getDirectRoutingCalls(fromDateTime=,toDateTime=)"
    with pytest.raises(GraphRequestError) as caught:
        client._fetch_page(url, PullStats())
    message = str(caught.value)
    assert "400 BadRequest" in message and "request-id" in message and "Expression expected" in message


def test_no_secret_or_token_in_any_log_line(emulator, caplog):
    emu = emulator(
        rows_per_day=2500,
        seed=10,
        token_lifetime_s=1,
        latency_s=0.2,
        faults=[Fault("expire_token", on_request=2), Fault("throttle", on_request=3, retry_after=0.1)],
    )
    tokens: list[str] = []
    conn = emulator_connection(emu)
    settings = GraphSettings.from_connection(
        login=conn["login"], password=conn["password"], host=conn["host"], extras=conn["extra"]
    )
    client = settings.build_client(
        DIRECT_ROUTING.function_path,
        on_new_token=tokens.append,
        retry=RetryPolicy(backoff_base_s=0.05, backoff_cap_s=0.2),
    )
    with caplog.at_level(logging.DEBUG):
        rows, _ = pull(client)
    assert len(rows) == 2500 and len(tokens) >= 2
    text = "\n".join(record.getMessage() for record in caplog.records) + caplog.text
    assert "Graph page" in text  # progress was logged
    assert emu.config.client_secret not in text
    for token in tokens:
        assert token not in text


def test_the_hook_reads_an_airflow_msgraph_connection(emulator, monkeypatch):
    import json

    from call_logs.hooks.graph_calls import CallLogsHook

    emu = emulator(rows_per_day=1200, seed=11)
    monkeypatch.setenv("AIRFLOW_CONN_MSGRAPH_EMULATOR", json.dumps(emulator_connection(emu)))
    hook = CallLogsHook("msgraph_emulator")
    rows = [row for page in hook.iter_pages(DIRECT_ROUTING, WINDOW.start, WINDOW.end) for row in page.rows()]
    assert rows == emu.expected_rows(WINDOW.start, WINDOW.end)
    assert hook.test_connection() == (True, "Got a Graph token for this connection.")


def test_a_certificate_credential_works(emulator, tmp_path):
    import trustme

    rsa = trustme.KeyType.RSA  # Entra ID signs client assertions with RS256
    cert = trustme.CA(key_type=rsa).issue_cert("app.example", key_type=rsa)
    pem = cert.private_key_pem.bytes() + cert.cert_chain_pems[0].bytes()
    emu = emulator(rows_per_day=1000, seed=12, client_certificate_pem=cert.cert_chain_pems[0].bytes())
    conn = emulator_connection(emu, certificate_data=pem.decode())
    settings = GraphSettings.from_connection(
        login=conn["login"], password=None, host=conn["host"], extras=conn["extra"]
    )
    rows, _ = pull(settings.build_client(DIRECT_ROUTING.function_path))
    assert len(rows) == 1000


def test_the_acceptance_day_with_every_fault_at_once(emulator):
    """5,000 rows with 429s, 503s, a reset and a token expiry injected: exactly the emulator's rows."""
    emu = emulator(
        rows_per_day=5000,
        seed=13,
        faults=[
            Fault("throttle", on_request=1, retry_after=0.2),
            Fault("unavailable", on_request=3),
            Fault("reset", on_request=5),
            Fault("expire_token", on_request=6),
            Fault("throttle", on_request=8, retry_after=0.1),
            Fault("unavailable", on_request=9, retry_after=0.1),
        ],
    )
    rows, stats = pull(emulator_client(emu))
    assert rows == emu.expected_rows(WINDOW.start, WINDOW.end)
    assert stats.throttled == 2 and stats.retries == 5


def test_an_unreachable_token_authority_is_a_network_error_not_a_credentials_one():
    from call_logs.graph.errors import GraphConfigError

    from tests.helpers import free_port

    root = f"https://127.0.0.1:{free_port()}"  # nothing listens there
    settings = GraphSettings.from_connection(
        login="app", password="secret", host=root, extras={"tenant_id": "t", "authority": root}
    )
    with pytest.raises(GraphUnavailableError, match="Could not reach the token authority") as caught:
        settings.token_provider().token()
    assert not isinstance(caught.value, GraphConfigError)  # a later try may reach it


def test_the_environment_decides_proxies_and_ca_bundle_once_per_host(monkeypatch):
    """Without proxies on the connection, HTTPS_PROXY / NO_PROXY / REQUESTS_CA_BUNDLE apply as requests applies them."""
    from call_logs.graph.client import GraphReportClient

    def client(**kwargs):
        return GraphReportClient(
            graph_root="https://graph.microsoft.com", function_path=DIRECT_ROUTING.function_path, tokens=None, **kwargs
        )

    for name in ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    url = "https://graph.microsoft.com/v1.0/x"
    transport = client()._transport(url)
    assert transport["proxies"]["https"] == "http://proxy.example:3128"
    assert transport["verify"] == "/etc/ssl/corporate.pem"
    assert client(verify="/own/ca.pem")._transport(url)["verify"] == "/own/ca.pem"  # the connection's wins
    assert client(proxies={"https": "http://mine:8080"})._transport(url)["proxies"] == {"https": "http://mine:8080"}

    monkeypatch.setenv("NO_PROXY", "graph.microsoft.com")
    assert not client()._transport(url)["proxies"]
