"""Throttling, every fault kind, the admin endpoints and the CLI."""

from __future__ import annotations

import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from graph_emulator import Fault

from .conftest import DAY, Client, at

ROOT = Path(__file__).resolve().parents[2]
NEXT_DAY = "2024-03-05"


def test_budget_answers_429_with_fractional_retry_after(make_emulator):
    emu = make_emulator(budget_requests=3, budget_window_s=1.0)
    client = Client(emu).login()
    path = client.window(DAY, NEXT_DAY)
    assert [client.get(path).status_code for _ in range(3)] == [200] * 3
    refused = client.get(path)
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "TooManyRequests"
    retry_after = float(refused.headers["Retry-After"])
    assert 0 < retry_after <= 1.0 and "." in refused.headers["Retry-After"]
    assert len(refused.headers["Retry-After"].split(".")[1]) <= 3
    time.sleep(retry_after + 0.02)
    assert client.get(path).status_code == 200
    stats = emu.stats()
    assert stats["throttled"] == 1 and stats["data_requests"] == 5
    assert emu.max_requests_in_any(1.0) == 4 and stats["max_in_window"] == 4
    assert emu.max_requests_in_any(0.0001) == 1


def test_configure_changes_the_budget_at_runtime(emu, client):
    emu.configure(budget_requests=1, budget_window_s=30.0)
    path = client.window(DAY, NEXT_DAY)
    assert [client.get(path).status_code for _ in range(2)] == [200, 429]
    emu.configure(budget_requests=None)
    assert client.get(path).status_code == 200


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("throttle", 429, "TooManyRequests"),
        ("unavailable", 503, "serviceNotAvailable"),
        ("gateway_timeout", 504, "gatewayTimeout"),
    ],
)
def test_error_faults_fire_once_on_their_request(emu, client, kind, status, code):
    emu.configure(faults=[Fault(kind, on_request=2, retry_after=1.5)])
    path = client.window(DAY, NEXT_DAY)
    answers = [client.get(path) for _ in range(3)]
    assert [a.status_code for a in answers] == [200, status, 200]
    assert answers[1].json()["error"]["code"] == code and answers[1].headers["Retry-After"] == "1.5"
    assert emu.stats()["faults_served"] == {kind: 1}


def test_error_fault_without_retry_after_has_no_header(emu, client):
    emu.configure(faults=[Fault("throttle", on_request=1)])
    response = client.get(client.window(DAY, NEXT_DAY))
    assert response.status_code == 429 and "Retry-After" not in response.headers


def test_reset_closes_the_connection_with_a_tcp_reset(emu, client):
    emu.configure(faults=[Fault("reset", on_request=1), Fault("reset", on_request=2)])
    with pytest.raises(requests.ConnectionError):
        client.get(client.window(DAY, NEXT_DAY))
    # Underneath TLS (which reports a reset as a bare EOF): the TCP stream ends in RST, after any TLS records.
    tls = ssl.create_default_context(cafile=emu.ca_path).wrap_socket(
        socket.create_connection(("127.0.0.1", emu.port)), server_hostname="127.0.0.1"
    )
    with tls:
        tls.sendall(f"GET {client.window(DAY, NEXT_DAY)} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        time.sleep(0.2)
        with socket.socket(fileno=socket.dup(tls.fileno())) as tcp, pytest.raises(ConnectionResetError):
            while tcp.recv(65536):
                pass
    assert client.get(client.window(DAY, NEXT_DAY)).status_code == 200


def test_truncate_sends_half_the_announced_body(emu, client):
    emu.configure(faults=[Fault("truncate", on_request=1)])
    with pytest.raises(requests.RequestException):
        client.get(client.window(DAY, NEXT_DAY))
    assert emu.stats()["faults_served"] == {"truncate": 1}


def test_invalid_json_has_a_matching_content_length(emu, client):
    emu.configure(faults=[Fault("invalid_json", on_request=1)])
    response = client.get(client.window(DAY, NEXT_DAY))
    assert response.status_code == 200 and int(response.headers["Content-Length"]) == len(response.content)
    with pytest.raises(ValueError):
        response.json()


def test_foreign_next_link(emu, client):
    emu.configure(faults=[Fault("foreign_next_link", on_request=1, target="https://127.0.0.1:1")])
    link = client.get(client.window(DAY, NEXT_DAY)).json()["@odata.nextLink"]
    assert link == f"https://127.0.0.1:1{client.window(DAY, NEXT_DAY)}?$skip=1000"


def test_duplicate_rows_repeat_the_previous_page_tail(emu, client):
    emu.configure(faults=[Fault("duplicate_rows", on_request=2, rows=7)])
    rows, pages = client.pull(DAY, NEXT_DAY)
    assert pages == 3 and len(rows) == 2507
    assert rows[1000:1007] == rows[993:1000]
    unique = list({row["id"]: row for row in rows}.values())
    assert unique == emu.expected_rows(at(DAY), at(NEXT_DAY))


def test_extra_field_on_every_row_of_the_page(emu, client):
    emu.configure(faults=[Fault("extra_field", on_request=1)])
    path = client.window(DAY, NEXT_DAY)
    assert all(row["futureField"] == "x" for row in client.get(path).json()["value"])
    assert all("futureField" not in row for row in client.get(path).json()["value"])


def test_expire_token_revokes_every_token(emu, client):
    emu.configure(faults=[Fault("expire_token", on_request=1)])
    path = client.window(DAY, NEXT_DAY)
    first = client.get(path)
    assert first.status_code == 401
    assert first.json()["error"]["message"] == "Access token has expired or is not yet valid."
    assert client.get(path).status_code == 401
    assert client.login().get(path).status_code == 200


def test_latency_fault_and_config_latency(emu, client):
    """The answer is the same page, later. Only lower bounds on time: the server sleeps before it answers, so
    no load can make the client see the answer sooner (and no upper bound is asserted: load can delay it)."""
    emu.configure(faults=[Fault("latency", on_request=1, seconds=0.3)])
    path = client.window(DAY, NEXT_DAY)
    started = time.monotonic()
    delayed = client.get(path)
    assert time.monotonic() - started >= 0.3
    assert delayed.status_code == 200 and len(delayed.json()["value"]) == 1000
    assert emu.stats()["faults_served"] == {"latency": 1}
    emu.configure(latency_s=0.2)
    started = time.monotonic()
    slowed = client.get(path)
    assert time.monotonic() - started >= 0.2
    assert slowed.json() == delayed.json()  # latency changes when the page comes, not what it says
    stats = emu.stats()
    assert stats["data_requests"] == 2 and stats["faults_served"] == {"latency": 1}  # configured, not a fault


def test_random_faults_are_seeded(emu, client):
    emu.configure(faults=[Fault("unavailable", rate=0.5)])
    path = client.window(DAY, NEXT_DAY)
    first = [client.get(path).status_code for _ in range(12)]
    emu.reset_stats()
    assert [client.get(path).status_code for _ in range(12)] == first
    assert 0 < first.count(503) < 12


def test_reset_stats_counts_from_one_again(emu, client):
    path = client.window(DAY, NEXT_DAY)
    client.get(path)
    emu.configure(faults=[Fault("unavailable", on_request=1)])
    assert client.get(path).status_code == 200  # request 2: too late
    emu.reset_stats()
    assert emu.stats()["data_requests"] == 0
    assert client.get(path).status_code == 503


def test_admin_endpoints(emu, client):
    base, verify = f"{emu.graph_root}/_emulator", emu.ca_path
    client.get(client.window(DAY, NEXT_DAY))
    assert requests.get(f"{base}/stats", verify=verify, timeout=10).json()["data_requests"] == 1
    config = {"faults": [{"kind": "unavailable", "on_request": 2}], "latency_s": 0.0}
    assert requests.post(f"{base}/config", json=config, verify=verify, timeout=10).status_code == 200
    assert client.get(client.window(DAY, NEXT_DAY)).status_code == 503
    assert requests.post(f"{base}/config", json={"nope": 1}, verify=verify, timeout=10).status_code == 400
    assert requests.post(f"{base}/reset_stats", verify=verify, timeout=10).json() == {"ok": True}
    assert emu.stats()["data_requests"] == 0
    window = {"from": "2024-03-04T09:00:00Z", "to": "2024-03-04T10:00:00+00:00"}
    rows = requests.get(f"{base}/rows", params=window, verify=verify, timeout=10).json()
    count = requests.get(f"{base}/count", params=window, verify=verify, timeout=10).json()["count"]
    assert len(rows) == count > 0
    assert rows == client.pull(window["from"], "2024-03-04T10:00:00Z")[0]
    beta = requests.get(f"{base}/rows", params=window | {"api_version": "beta"}, verify=verify, timeout=10).json()
    assert "userCountryCode" in beta[0]


def test_cli_serves_until_sigterm(tmp_path):
    info_file = tmp_path / "info.json"
    env = os.environ | {"PYTHONPATH": str(ROOT / "include")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "graph_emulator",
            "serve",
            "--port",
            "0",
            "--rows-per-day",
            "1500",
            "--seed",
            "7",
            "--budget",
            "50/60",
            "--no-weekday-profile",
            "--info-file",
            str(info_file),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        info = json.loads(process.stdout.readline())
        assert json.loads(info_file.read_text()) == info
        assert Path(info["ca_path"]).exists()
        token = requests.post(
            f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
            verify=info["ca_path"],
            timeout=10,
            data={
                "grant_type": "client_credentials",
                "client_id": info["client_id"],
                "client_secret": info["client_secret"],
                "scope": f"{info['graph_root']}/.default",
            },
        ).json()["access_token"]
        url = f"{info['graph_root']}{Client.window(DAY, NEXT_DAY)}?$skip=1000"
        page = requests.get(url, headers={"Authorization": f"Bearer {token}"}, verify=info["ca_path"], timeout=10)
        assert page.json()["@odata.count"] == 500
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
        assert not Path(info["ca_path"]).exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
