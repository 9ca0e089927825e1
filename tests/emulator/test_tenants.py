"""Several Entra tenants of one multi-tenant app: the bearer token decides whose rows, consent and budgets apply."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
import requests
from call_logs.graph.client import PullStats
from call_logs.graph.errors import GraphAuthError, GraphPermissionError
from call_logs.graph.window import Window
from graph_emulator import EmulatorConfig, Fault, TenantConfig
from graph_emulator.__main__ import config_from_args, parse_args
from graph_emulator.config import tenant_seed
from graph_emulator.connection import msgraph_connection, msgraph_connection_env
from graph_emulator.process import EmulatorProcess
from graph_emulator.protocol import DataRequest
from graph_emulator.state import EmulatorState
from graph_emulator.throttle import max_overlap

from tests.helpers import emulator_client

from .conftest import DAY, DIRECT_ROUTING, PSTN, Client, at

NEXT_DAY = "2024-03-05"
HOME = EmulatorConfig().tenant_id  # the default tenant
CONTOSO = "3f7a2c1e-0000-4000-8000-000000000001"
FABRIKAM = "3f7a2c1e-0000-4000-8000-000000000002"
NOWHERE = "3f7a2c1e-0000-4000-8000-000000000009"
WINDOW = Window(at(DAY), at(NEXT_DAY))


def tenant_client(emu, tenant: str) -> Client:
    client = Client(emu)
    response = client.fetch_token(tenant)
    assert response.status_code == 200, response.text
    client.token = response.json()["access_token"]
    return client


def pull(client, window: Window = WINDOW) -> list[dict]:
    """Every row of ``window`` through the project's Graph client."""
    return [row for page in client.iter_pages(window, PullStats()) for row in page.rows()]


def statuses(client: Client, times: int, report: str = DIRECT_ROUTING) -> list[int]:
    path = client.window(DAY, NEXT_DAY, report=report)
    return [client.get(path).status_code for _ in range(times)]


@pytest.fixture
def tenants(make_emulator):
    """The default tenant, Contoso (its own seed) and Fabrikam (its own volume)."""
    return make_emulator(
        rows_per_day=2500, tenants=(TenantConfig(CONTOSO), {"tenant_id": FABRIKAM, "rows_per_day": 1200})
    )


# --- configuration ---------------------------------------------------------------------------------------


def test_tenants_are_declared_in_python_or_json_and_resolve_their_defaults():
    config = EmulatorConfig(
        rows_per_day=900,
        tenants=[{"tenant_id": CONTOSO}, TenantConfig(FABRIKAM, rows_per_day=10, seed=3, grant_permission=False)],
    )
    assert config.tenant_ids == (HOME, CONTOSO, FABRIKAM)
    assert isinstance(config.tenants, tuple) and all(isinstance(t, TenantConfig) for t in config.tenants)
    assert config.tenant() == config.tenant(HOME) == TenantConfig(HOME, 900, 7, True)
    assert config.tenant(CONTOSO) == TenantConfig(CONTOSO, 900, tenant_seed(CONTOSO), True)
    assert config.tenant(FABRIKAM) == TenantConfig(FABRIKAM, 10, 3, False)
    assert tenant_seed(CONTOSO) != tenant_seed(FABRIKAM)
    assert config.replace(rows_per_day=50).tenant(CONTOSO).rows_per_day == 50  # follows the config's volume

    revoked = config.with_tenant(CONTOSO, grant_permission=False)
    assert not revoked.tenant(CONTOSO).grant_permission and revoked.tenant(HOME).grant_permission
    assert config.with_tenant(HOME, grant_permission=False).grant_permission is False
    assert config.with_tenant(FABRIKAM, rows_per_day=None).tenant(FABRIKAM).rows_per_day == 900

    with pytest.raises(ValueError, match="declared twice"):
        EmulatorConfig(tenants=[{"tenant_id": CONTOSO}, {"tenant_id": CONTOSO}])
    with pytest.raises(ValueError, match="default tenant"):
        EmulatorConfig(tenants=[{"tenant_id": HOME}])
    with pytest.raises(ValueError, match="no directory"):
        TenantConfig("common")
    with pytest.raises(TypeError):
        EmulatorConfig(tenants=[{"tenant_id": CONTOSO, "colour": "red"}])
    with pytest.raises(ValueError, match="unknown tenant"):
        config.tenant(NOWHERE)
    with pytest.raises(TypeError, match="not a tenant's setting"):
        config.with_tenant(CONTOSO, latency_s=1.0)
    with pytest.raises(ValueError, match="cannot be None"):
        config.with_tenant(HOME, seed=None)


def test_no_declared_tenant_is_the_single_tenant_emulator_of_before():
    config = EmulatorConfig()
    assert config.tenants == () and config.tenant_ids == (HOME,)
    assert config == EmulatorConfig(tenants=[])


def test_cli_tenants_option():
    tenants = json.dumps([{"tenant_id": CONTOSO, "rows_per_day": 800}, {"tenant_id": FABRIKAM, "seed": 3}])
    config = config_from_args(parse_args(["serve", "--tenants", tenants]))
    assert config.tenants == (TenantConfig(CONTOSO, rows_per_day=800), TenantConfig(FABRIKAM, seed=3))
    assert config_from_args(parse_args(["serve"])).tenants == ()


# --- tokens and rows -------------------------------------------------------------------------------------


def test_each_tenants_token_reads_that_tenants_rows(tenants):
    emu = tenants
    rows = {}
    for tenant in emu.tenant_ids:
        rows[tenant], _ = tenant_client(emu, tenant).pull(DAY, NEXT_DAY)
        assert rows[tenant] == emu.expected_rows(at(DAY), at(NEXT_DAY), tenant=tenant)
    assert rows[HOME] == emu.expected_rows(at(DAY), at(NEXT_DAY))  # no tenant: the default one
    assert [len(rows[t]) for t in (HOME, CONTOSO, FABRIKAM)] == [2500, 2500, 1200]
    ids = {tenant: {row["id"] for row in rows[tenant]} for tenant in rows}
    assert not ids[HOME] & ids[CONTOSO] and not ids[HOME] & ids[FABRIKAM] and not ids[CONTOSO] & ids[FABRIKAM]
    pstn = {t: tenant_client(emu, t).pull(DAY, NEXT_DAY, report=PSTN)[0] for t in (HOME, CONTOSO)}
    # toDateTime is inclusive for PSTN: the day's rows, then the call starting exactly at the next midnight.
    assert pstn[CONTOSO][:-1] == emu.expected_rows(at(DAY), at(NEXT_DAY), report=PSTN, tenant=CONTOSO)
    assert pstn[HOME] != pstn[CONTOSO]


def test_the_token_decides_whose_rows_whatever_the_caller_meant(tenants):
    emu = tenants
    home, contoso = tenant_client(emu, HOME), tenant_client(emu, CONTOSO)
    first = contoso.get(contoso.window(DAY, NEXT_DAY)).json()
    next_link = first["@odata.nextLink"]  # Contoso's second page, as Contoso's pull was told to ask for it
    expected = {t: emu.expected_rows(at(DAY), at(NEXT_DAY), tenant=t) for t in (HOME, CONTOSO)}
    assert first["value"] == expected[CONTOSO][:1000]
    assert home.get(next_link).json()["value"] == expected[HOME][1000:2000]  # the default tenant's token
    assert contoso.get(next_link).json()["value"] == expected[CONTOSO][1000:2000]


def test_the_projects_client_reads_each_tenants_rows_from_its_connection(tenants):
    emu = tenants
    for tenant in emu.tenant_ids:
        assert pull(emulator_client(emu, tenant=tenant)) == emu.expected_rows(WINDOW.start, WINDOW.end, tenant=tenant)
    # A connection that names Contoso gets Contoso's rows, whichever tenant the task was meant for.
    assert pull(emulator_client(emu, tenant_id=CONTOSO)) == emu.expected_rows(WINDOW.start, WINDOW.end, tenant=CONTOSO)


def test_an_unknown_tenant_is_refused_at_the_token_endpoint(tenants):
    emu = tenants
    response = Client(emu).fetch_token(NOWHERE)
    body = response.json()
    assert response.status_code == 400 and body["error"] == "invalid_request" and body["error_codes"] == [90002]
    assert NOWHERE in body["error_description"]
    discovery = f"{emu.authority}/{{}}/v2.0/.well-known/openid-configuration"
    assert requests.get(discovery.format(NOWHERE), verify=emu.ca_path, timeout=10).status_code == 400
    document = requests.get(discovery.format(FABRIKAM), verify=emu.ca_path, timeout=10).json()
    assert document["token_endpoint"] == f"{emu.authority}/{FABRIKAM}/oauth2/v2.0/token"
    with pytest.raises(GraphAuthError):
        pull(emulator_client(emu, tenant=NOWHERE))
    stats = emu.stats()
    assert stats["data_requests"] == 0 and NOWHERE not in stats["tenants"]


def test_tokens_are_revoked_per_tenant_and_die_with_their_tenant(tenants):
    emu = tenants
    home, contoso, fabrikam = (tenant_client(emu, t) for t in (HOME, CONTOSO, FABRIKAM))
    emu.revoke_tokens(CONTOSO)
    assert statuses(home, 1) + statuses(contoso, 1) + statuses(fabrikam, 1) == [200, 401, 200]
    emu.configure(tenants=(TenantConfig(CONTOSO),))  # Fabrikam is no longer served: its token is worthless
    assert statuses(fabrikam, 1) == [401]
    assert Client(emu).fetch_token(FABRIKAM).json()["error_codes"] == [90002]
    emu.revoke_tokens()
    assert statuses(home, 1) == [401]


# --- consent ---------------------------------------------------------------------------------------------


def test_a_tenant_whose_consent_is_revoked_gets_403_while_the_others_get_rows(tenants):
    emu = tenants
    home, contoso, fabrikam = (tenant_client(emu, t) for t in (HOME, CONTOSO, FABRIKAM))
    assert statuses(home, 1) + statuses(contoso, 1) + statuses(fabrikam, 1) == [200, 200, 200]
    emu.configure(tenant=CONTOSO, grant_permission=False)  # mid-test, tokens already issued
    refused = contoso.get(contoso.window(DAY, NEXT_DAY))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "Forbidden"
    assert refused.json()["error"]["message"] == ""
    assert statuses(home, 1) + statuses(fabrikam, 1) == [200, 200]
    assert tenant_client(emu, CONTOSO).get(contoso.window(DAY, NEXT_DAY)).status_code == 403  # tokens still issue
    with pytest.raises(GraphPermissionError):
        pull(emulator_client(emu, tenant=CONTOSO))
    assert pull(emulator_client(emu, tenant=FABRIKAM)) == emu.expected_rows(WINDOW.start, WINDOW.end, tenant=FABRIKAM)
    assert emu.stats()["tenants"][CONTOSO]["grant_permission"] is False

    # The admin endpoint takes the same change in its JSON form.
    change = {"tenant": FABRIKAM, "grant_permission": False}
    answer = requests.post(f"{emu.graph_root}/_emulator/config", json=change, verify=emu.ca_path, timeout=10)
    assert answer.status_code == 200
    assert statuses(fabrikam, 1) + statuses(home, 1) == [403, 200]
    emu.configure(tenant=CONTOSO, grant_permission=True)
    assert statuses(contoso, 1) == [200]
    unknown = {"tenant": NOWHERE, "grant_permission": False}
    answer = requests.post(f"{emu.graph_root}/_emulator/config", json=unknown, verify=emu.ca_path, timeout=10)
    assert answer.status_code == 400 and "unknown tenant" in answer.json()["error"]


def test_a_tenant_never_consented_is_forbidden_from_the_start(make_emulator):
    emu = make_emulator(tenants=[{"tenant_id": CONTOSO, "grant_permission": False}])
    assert statuses(tenant_client(emu, CONTOSO), 1) == [403]
    assert statuses(tenant_client(emu, HOME), 1) == [200]


def test_a_tenants_data_settings_change_while_serving(tenants):
    emu = tenants
    before = emu.expected_rows(at(DAY), at(NEXT_DAY), tenant=FABRIKAM)
    emu.configure(tenant=FABRIKAM, rows_per_day=300, seed=11)
    rows, _ = tenant_client(emu, FABRIKAM).pull(DAY, NEXT_DAY)
    assert len(rows) == 300 and rows == emu.expected_rows(at(DAY), at(NEXT_DAY), tenant=FABRIKAM) != before[:300]
    assert emu.expected_count(at(DAY), at(NEXT_DAY), tenant=CONTOSO) == 2500  # the others keep theirs
    assert emu.expected_count(at(DAY), at(NEXT_DAY)) == 2500


# --- budgets ---------------------------------------------------------------------------------------------


def test_each_tenant_has_its_own_collection_budget(make_emulator):
    emu = make_emulator(
        budget_requests=2, budget_window_s=600.0, app_budget_requests=100, tenants=[{"tenant_id": CONTOSO}]
    )
    home, contoso = tenant_client(emu, HOME), tenant_client(emu, CONTOSO)
    assert statuses(home, 3) == [200, 200, 429]
    assert statuses(contoso, 2) == [200, 200]  # the same window: the default tenant's full bucket is not Contoso's
    assert statuses(contoso, 1) + statuses(home, 1) == [429, 429]
    stats = emu.stats()
    assert stats["throttled"] == 3 and stats["data_requests"] == 7  # the totals count every tenant together
    for tenant, requests_, throttled in ((HOME, 4, 2), (CONTOSO, 3, 1)):
        mine = stats["tenants"][tenant]
        assert mine["data_requests"] == requests_ and mine["throttled"] == throttled
        assert mine["collections"][DIRECT_ROUTING] == {
            "requests": requests_,
            "max_in_window": requests_,
            "throttled": throttled,
            "limit": 2,
            "max_in_flight": 1,
            "in_flight": 0,
        }
        assert mine["app"] == {"requests": requests_, "max_in_window": requests_, "throttled": 0, "limit": 100}
    assert emu.max_requests_in_any(600.0, tenant=HOME) == 4
    assert emu.max_requests_in_any(600.0, DIRECT_ROUTING, tenant=CONTOSO) == 3
    assert emu.max_requests_in_any(600.0, PSTN, tenant=CONTOSO) == 0
    assert emu.max_requests_in_any(600.0) == 7  # no tenant: every request, as the totals
    with pytest.raises(ValueError, match="unknown tenant"):
        emu.max_requests_in_any(600.0, tenant=NOWHERE)


def test_each_tenant_has_its_own_app_budget(make_emulator):
    emu = make_emulator(
        budget_requests=3, budget_window_s=600.0, app_budget_requests=3, tenants=[{"tenant_id": CONTOSO}]
    )
    home, contoso = tenant_client(emu, HOME), tenant_client(emu, CONTOSO)
    assert statuses(home, 2) + statuses(home, 1, PSTN) == [200] * 3
    assert statuses(home, 1, PSTN) == [429]  # PSTN's collection has room, the default tenant's app budget not
    assert statuses(contoso, 2, PSTN) + statuses(contoso, 1) == [200] * 3
    stats = emu.stats()["tenants"]
    assert stats[HOME]["app"]["throttled"] == 1 and stats[CONTOSO]["app"]["throttled"] == 0


def test_a_tenant_at_its_budget_never_slows_another_tenants_pull(make_emulator):
    emu = make_emulator(budget_requests=3, budget_window_s=600.0, tenants=[{"tenant_id": CONTOSO}])
    home = tenant_client(emu, HOME)
    assert statuses(home, 4) == [200, 200, 200, 429]
    stats = PullStats()
    rows = [row for page in emulator_client(emu, tenant=CONTOSO).iter_pages(WINDOW, stats) for row in page.rows()]
    assert rows == emu.expected_rows(WINDOW.start, WINDOW.end, tenant=CONTOSO)
    assert stats.pages == 3 and stats.throttled == 0  # in the same window: Contoso's own budget holds its 3 pages
    assert statuses(home, 1) == [429]  # the default tenant's window is still full
    mine = emu.stats()["tenants"]
    assert mine[CONTOSO]["throttled"] == 0 and mine[HOME]["throttled"] == 2


# --- faults ----------------------------------------------------------------------------------------------


def test_faults_are_numbered_over_every_tenants_requests(tenants):
    emu = tenants
    home, contoso = tenant_client(emu, HOME), tenant_client(emu, CONTOSO)
    emu.configure(faults=[Fault("unavailable", on_request=2), Fault("throttle", on_request=3)])
    assert statuses(home, 1) + statuses(contoso, 1) + statuses(home, 1) + statuses(contoso, 1) == [200, 503, 429, 200]
    stats = emu.stats()
    assert stats["faults_served"] == {"unavailable": 1, "throttle": 1} and stats["throttled"] == 1
    assert stats["tenants"][HOME]["throttled"] == 1 and stats["tenants"][CONTOSO]["throttled"] == 0


# --- stats and flights -----------------------------------------------------------------------------------


def test_per_tenant_stats_leave_the_totals_as_they_were(tenants):
    emu = tenants
    home, contoso = tenant_client(emu, HOME), tenant_client(emu, CONTOSO)
    statuses(home, 2)
    statuses(contoso, 1, PSTN)
    statuses(Client(emu, "made-up"), 1)  # no good token: counted in the totals, in no tenant
    stats = emu.stats()
    assert stats["data_requests"] == 4 and stats["token_requests"] == 2
    assert stats["collections"][DIRECT_ROUTING]["requests"] == 3 and stats["app"]["requests"] == 4
    assert list(stats["tenants"]) == [HOME, CONTOSO, FABRIKAM]
    mine = stats["tenants"]
    assert [mine[t]["data_requests"] for t in (HOME, CONTOSO, FABRIKAM)] == [2, 1, 0]
    assert [mine[t]["token_requests"] for t in (HOME, CONTOSO, FABRIKAM)] == [1, 1, 0]
    assert mine[CONTOSO]["collections"][PSTN]["requests"] == 1
    assert mine[CONTOSO]["collections"][DIRECT_ROUTING]["requests"] == 0
    assert all(mine[t]["grant_permission"] for t in mine)
    emu.reset_stats()
    assert all(emu.stats()["tenants"][t]["data_requests"] == 0 for t in emu.tenant_ids)
    assert emu.request_intervals(CONTOSO) == []


def test_flights_are_recorded_per_tenant_and_collection_without_http():
    """Two requests of one tenant's collection open at once are caught; other tenants' never count with them."""
    state = EmulatorState(EmulatorConfig(rows_per_day=500, budget_requests=None, tenants=[{"tenant_id": CONTOSO}]))
    root = "https://graph.example"

    def bearer(tenant: str) -> str:
        form = f"grant_type=client_credentials&client_id={state.config.client_id}"
        form += f"&client_secret={state.config.client_secret}&scope={root}/.default"
        return "Bearer " + json.loads(state.grant_token(tenant, form.encode(), root=root).body)["access_token"]

    def request(tenant: str, report: str = DIRECT_ROUTING):
        args = f"fromDateTime={DAY},toDateTime={NEXT_DAY}"
        answer = state.answer_data(DataRequest(root, "v1.0", report, args, {}, bearer(tenant)))
        assert answer.status == 200 and answer.sent is not None
        return answer.sent

    home_one = request(HOME)
    contoso_one = request(CONTOSO)  # the default tenant's request is still in flight
    home_one()
    home_two = request(HOME)
    home_pstn = request(HOME, PSTN)
    home_three = request(HOME)  # overlaps home_two
    for sent in (contoso_one, home_two, home_pstn, home_three):
        sent()
    home_three()  # a second call changes nothing

    assert state.max_in_flight(HOME, DIRECT_ROUTING) == 2 and state.max_in_flight(CONTOSO, DIRECT_ROUTING) == 1
    assert state.max_in_flight(HOME) == 3  # every collection of the tenant together
    assert state.max_in_flight(CONTOSO, PSTN) == 0
    home, contoso = state.request_intervals(HOME, DIRECT_ROUTING), state.request_intervals(CONTOSO)
    assert len(home) == 3 and len(contoso) == 1 and all(end is not None for _, end in home + contoso)
    assert max_overlap(home[:1] + contoso) == 2  # tenants overlapped
    assert state.request_intervals() == state.request_intervals(HOME)
    assert state.stats()["tenants"][HOME]["collections"][DIRECT_ROUTING]["max_in_flight"] == 2
    unauthenticated = state.answer_data(DataRequest(root, "v1.0", DIRECT_ROUTING, "x", {}, None))
    assert unauthenticated.status == 401 and unauthenticated.sent is None


def test_one_tenants_pulls_never_overlap_while_different_tenants_do(make_emulator):
    """A sequential pull per tenant, run side by side: the record shows both facts from what was served."""
    emu = make_emulator(rows_per_day=4000, page_size=500, latency_s=0.1, tenants=[{"tenant_id": CONTOSO}])
    window = WINDOW  # eight pages of 500 rows each
    rows: dict[str, list[dict]] = {}
    start = threading.Barrier(2)

    def run(tenant: str) -> None:
        client = emulator_client(emu, tenant=tenant)
        start.wait()
        rows[tenant] = pull(client, window)

    threads = [threading.Thread(target=run, args=(tenant,)) for tenant in (HOME, CONTOSO)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for tenant in (HOME, CONTOSO):
        assert rows[tenant] == emu.expected_rows(window.start, window.end, tenant=tenant)
        intervals = emu.request_intervals(tenant, DIRECT_ROUTING)
        assert len(intervals) >= 2 and all(end is not None for _, end in intervals)
        assert emu.max_in_flight(tenant, DIRECT_ROUTING) == 1  # one pull of the collection at a time
        assert emu.stats()["tenants"][tenant]["collections"][DIRECT_ROUTING]["max_in_flight"] == 1
    together = emu.request_intervals(HOME) + emu.request_intervals(CONTOSO)
    assert max_overlap(together) == 2  # the two tenants' pulls did run at the same time
    admin = requests.get(
        f"{emu.graph_root}/_emulator/intervals",
        params={"tenant": CONTOSO, "collection": DIRECT_ROUTING},
        verify=emu.ca_path,
        timeout=10,
    ).json()
    assert [tuple(interval) for interval in admin["intervals"]] == emu.request_intervals(CONTOSO, DIRECT_ROUTING)


# --- connections and the emulator in a process of its own -------------------------------------------------


def test_connection_builders_take_a_tenant(tenants):
    emu = tenants
    home, contoso = msgraph_connection(emu), msgraph_connection(emu, tenant=CONTOSO)
    assert home["extra"]["tenant_id"] == HOME and contoso["extra"]["tenant_id"] == CONTOSO
    assert (home["login"], home["password"], home["host"]) == (contoso["login"], contoso["password"], contoso["host"])
    assert {k: v for k, v in home["extra"].items() if k != "tenant_id"} == {
        k: v for k, v in contoso["extra"].items() if k != "tenant_id"
    }
    assert msgraph_connection(emu, tenant_id=CONTOSO) == contoso  # the extra, as before
    with pytest.raises(TypeError, match="not both"):
        msgraph_connection(emu, tenant=CONTOSO, tenant_id=FABRIKAM)
    env = msgraph_connection_env(emu, "msgraph_contoso", tenant=CONTOSO, requests_per_minute=20)
    extra = json.loads(env["AIRFLOW_CONN_MSGRAPH_CONTOSO"])["extra"]
    assert extra["tenant_id"] == CONTOSO and extra["requests_per_minute"] == 20


def test_the_emulator_process_serves_its_tenants():
    tenants = [TenantConfig(CONTOSO, rows_per_day=800), {"tenant_id": FABRIKAM, "rows_per_day": 600}]
    with EmulatorProcess(rows_per_day=1000, budget=None, weekday_profile=False, tenants=tenants) as emu:
        day = at(DAY).date()
        assert [emu.count_day(day), emu.count_day(day, CONTOSO), emu.count_day(day, FABRIKAM)] == [1000, 800, 600]
        conn = msgraph_connection(emu, tenant=FABRIKAM)
        assert conn["extra"]["tenant_id"] == FABRIKAM
        rows = emu.rows(at(DAY), at(DAY) + timedelta(hours=1), tenant=CONTOSO)
        assert rows and rows != emu.rows(at(DAY), at(DAY) + timedelta(hours=1))
        emu.configure(tenant=CONTOSO, grant_permission=False)
        assert emu.stats()["tenants"][CONTOSO]["grant_permission"] is False
        emu.configure(tenants=[TenantConfig(CONTOSO)])
        assert list(emu.stats()["tenants"]) == [HOME, CONTOSO]
        assert emu.count_day(day, CONTOSO) == 1000
        assert emu.request_intervals(CONTOSO) == [] and emu.max_in_flight(CONTOSO) == 0
        emu.revoke_tokens(CONTOSO)
        with pytest.raises(RuntimeError, match="unknown tenant"):
            emu.count_day(day, FABRIKAM)


def test_ground_truth_for_an_unknown_tenant_is_an_error(tenants):
    with pytest.raises(ValueError, match="unknown tenant"):
        tenants.expected_rows(at(DAY), at(NEXT_DAY), tenant=NOWHERE)
    answer = requests.get(
        f"{tenants.graph_root}/_emulator/count",
        params={"from": DAY, "to": NEXT_DAY, "tenant": NOWHERE},
        verify=tenants.ca_path,
        timeout=10,
    )
    assert answer.status_code == 400 and "unknown tenant" in answer.json()["error"]
