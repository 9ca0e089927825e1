"""Graph's nested budgets across reports: each report's collection on its own, the app's over all of them."""

from __future__ import annotations

import json
import time

import pytest
import requests
from graph_emulator import EmulatorConfig
from graph_emulator.__main__ import config_from_args, parse_args
from graph_emulator.protocol import DataRequest
from graph_emulator.state import EmulatorState
from graph_emulator.throttle import Throttle

from .conftest import DAY, DIRECT_ROUTING, PSTN, Client

NEXT_DAY = "2024-03-05"


def statuses(client: Client, report: str, times: int) -> list[int]:
    path = client.window(DAY, NEXT_DAY, report=report)
    return [client.get(path).status_code for _ in range(times)]


def test_each_report_has_its_own_collection_budget(make_emulator):
    emu = make_emulator(budget_requests=2, budget_window_s=30.0, app_budget_requests=100)
    client = Client(emu).login()
    assert statuses(client, DIRECT_ROUTING, 3) == [200, 200, 429]
    assert statuses(client, PSTN, 3) == [200, 200, 429]  # direct routing's full bucket does not matter here
    stats = emu.stats()
    for name in (DIRECT_ROUTING, PSTN):
        assert stats["collections"][name] == {"requests": 3, "max_in_window": 3, "throttled": 1, "limit": 2}
    assert stats["app"] == {"requests": 6, "max_in_window": 6, "throttled": 0, "limit": 100}
    assert stats["throttled"] == 2 and stats["data_requests"] == 6 and stats["max_in_window"] == 6
    assert stats["window_s"] == 30.0
    assert emu.max_requests_in_any(30.0, PSTN) == 3 and emu.max_requests_in_any(30.0) == 6


def test_the_app_budget_covers_both_reports(make_emulator):
    emu = make_emulator(budget_requests=3, budget_window_s=30.0, app_budget_requests=4)
    client = Client(emu).login()
    assert statuses(client, DIRECT_ROUTING, 3) == [200] * 3
    assert statuses(client, PSTN, 1) == [200]
    refused = client.get(client.window(DAY, NEXT_DAY, report=PSTN))  # PSTN's collection has room; the app not
    assert refused.status_code == 429 and refused.json()["error"]["code"] == "TooManyRequests"
    assert 0 < float(refused.headers["Retry-After"]) <= 30
    assert statuses(client, DIRECT_ROUTING, 1) == [429]  # its own collection is full as well
    stats = emu.stats()
    assert stats["app"]["throttled"] == 1 and stats["app"]["limit"] == 4
    assert stats["collections"][PSTN]["throttled"] == 0 and stats["collections"][DIRECT_ROUTING]["throttled"] == 1
    assert stats["throttled"] == 2


def test_a_client_within_both_budgets_is_never_throttled_and_the_stats_prove_it(make_emulator):
    window = 0.5
    emu = make_emulator(budget_requests=3, budget_window_s=window, app_budget_requests=4)
    client = Client(emu).login()
    for _ in range(3):  # per window: 2 + 2 requests, within 3 per collection and 4 for the app
        assert statuses(client, DIRECT_ROUTING, 2) + statuses(client, PSTN, 2) == [200] * 4
        time.sleep(window + 0.05)
    stats = emu.stats()
    assert stats["throttled"] == 0 and stats["data_requests"] == 12
    assert stats["app"]["max_in_window"] <= stats["app"]["limit"]
    for bucket in stats["collections"].values():
        assert bucket["max_in_window"] <= bucket["limit"] and bucket["throttled"] == 0


def test_a_shared_collection_is_configurable(make_emulator):
    emu = make_emulator(budget_requests=2, budget_window_s=30.0, shared_collection=True)
    client = Client(emu).login()
    assert statuses(client, DIRECT_ROUTING, 1) + statuses(client, PSTN, 2) == [200, 200, 429]
    assert list(emu.stats()["collections"]) == ["callRecords"]
    assert emu.stats()["collections"]["callRecords"]["throttled"] == 1


def test_no_budget_means_no_throttling_at_all(make_emulator):
    emu = make_emulator(budget_requests=None, app_budget_requests=1)
    client = Client(emu).login()
    assert statuses(client, DIRECT_ROUTING, 2) + statuses(client, PSTN, 2) == [200] * 4
    assert emu.stats()["app"]["limit"] is None and emu.stats()["throttled"] == 0


def test_budgets_change_at_runtime_through_the_admin_endpoint(emu, client):
    config = {"budget_requests": 5, "app_budget_requests": 1, "budget_window_s": 30.0}
    answer = requests.post(f"{emu.graph_root}/_emulator/config", json=config, verify=emu.ca_path, timeout=10)
    assert answer.status_code == 200
    assert statuses(client, PSTN, 1) + statuses(client, DIRECT_ROUTING, 1) == [200, 429]
    stats = requests.get(f"{emu.graph_root}/_emulator/stats", verify=emu.ca_path, timeout=10).json()
    assert stats["app"]["throttled"] == 1 and stats["collections"][DIRECT_ROUTING]["requests"] == 1
    emu.reset_stats()
    assert emu.stats()["collections"][PSTN] == {"requests": 0, "max_in_window": 0, "throttled": 0, "limit": 5}


def test_throttle_retry_after_is_the_wait_of_the_fuller_budget():
    now = [0.0]
    throttle = Throttle(clock=lambda: now[0])
    assert throttle.admit("a", 2, 3, 10.0) is None
    now[0] = 4.0
    assert throttle.admit("a", 2, 3, 10.0) is None
    refusal = throttle.admit("a", 2, 3, 10.0)
    assert refusal.scope == "collection" and refusal.retry_after == pytest.approx(6.0)
    assert throttle.admit("b", 2, 3, 10.0) is None  # another collection, app now at 3
    refusal = throttle.admit("b", 2, 3, 10.0)
    assert refusal.scope == "app" and refusal.retry_after == pytest.approx(6.0)
    now[0] = 10.0  # the request of t=0 leaves the window: one slot in "a" and in the app
    assert throttle.admit("a", 2, 3, 10.0) is None
    refusal = throttle.admit("b", 2, 3, 10.0)  # "b" has room, the app is full again until t=14
    assert refusal.scope == "app" and refusal.retry_after == pytest.approx(4.0)
    now[0] = 14.0
    assert throttle.admit("b", 2, 3, 10.0) is None


def test_cli_budget_options():
    config = config_from_args(parse_args(["serve", "--budget", "20/5", "--app-budget", "80", "--shared-collection"]))
    assert (config.budget_requests, config.budget_window_s, config.app_budget_requests) == (20, 5.0, 80)
    assert config.shared_collection
    defaults = config_from_args(parse_args(["serve"]))
    assert (defaults.budget_requests, defaults.app_budget_requests, defaults.shared_collection) == (50, 200, False)
    assert config_from_args(parse_args(["serve", "--app-budget", "none"])).app_budget_requests is None


def test_the_state_answers_without_any_http():
    """The state is usable on its own: the handler is only a translator to and from HTTP."""
    state = EmulatorState(EmulatorConfig(rows_per_day=1500, weekday_profile=False, budget_requests=1))
    root = "https://graph.example"
    form = f"grant_type=client_credentials&client_id={state.config.client_id}"
    form += f"&client_secret={state.config.client_secret}&scope={root}/.default"
    token = state.grant_token(state.config.tenant_id, form.encode(), root=root)
    assert token.status == 200
    bearer = "Bearer " + json.loads(token.body)["access_token"]
    request = DataRequest(root, "v1.0", PSTN, f"fromDateTime={DAY},toDateTime={NEXT_DAY}", {}, bearer)
    page = state.answer_data(request)
    assert page.status == 200 and b"pstnCallLogRow" in page.body and f"{root}/v1.0/".encode() in page.body
    assert state.answer_data(request).status == 429
    assert state.stats()["collections"][PSTN]["throttled"] == 1
    assert state.answer_data(DataRequest(root, "v1.0", "getNothing", None)).status == 404
