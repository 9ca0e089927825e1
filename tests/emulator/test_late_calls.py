"""Late arrivals: calls that reach a day's report after it was first pulled, corrected calls, removed calls.

Graph's call-log reports usually settle within 48 h, not always. The emulator adds calls to a day that become
visible later (at once, after N data requests, or from an instant), corrects or removes calls, per report and
tenant; pages and ground truth serve what is visible when they answer, and nothing changes for anyone who
does not ask for late calls.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests
from call_logs.graph.client import PullStats
from call_logs.graph.window import Window
from call_logs.reports.pstn import PSTN as PSTN_SPEC
from graph_emulator import EmulatorConfig, GraphEmulator, LateCalls, TenantConfig
from graph_emulator.__main__ import config_from_args, parse_args
from graph_emulator.process import EmulatorProcess

from tests.helpers import emulator_client

from .conftest import DAY, DIRECT_ROUTING, PSTN, Client, at

NEXT_DAY = "2024-03-05"
DAY_AFTER = "2024-03-06"
HOME = EmulatorConfig().tenant_id
CONTOSO = "3f7a2c1e-0000-4000-8000-000000000001"
WINDOW = Window(at(DAY), at(NEXT_DAY))


def pull(emu, window: Window = WINDOW, **connection) -> list[dict]:
    """Every row of ``window`` through the project's Graph client (direct routing unless ``report=``)."""
    client = emulator_client(emu, **connection)
    return [row for page in client.iter_pages(window, PullStats()) for row in page.rows()]


def truth(emu, start: str = DAY, end: str = NEXT_DAY, **kwargs) -> list[dict]:
    return emu.expected_rows(at(start), at(end), **kwargs)


def by_id(rows: list[dict]) -> dict[str, dict]:
    index = {row["id"]: row for row in rows}
    assert len(index) == len(rows)
    return index


def recheck(before: list[dict], after: list[dict]) -> tuple[set[str], set[str], set[str]]:
    """What a re-check of a day reports: ids added, changed and removed since the first pull."""
    old, new = by_id(before), by_id(after)
    changed = {call for call in old.keys() & new.keys() if old[call] != new[call]}
    return new.keys() - old.keys(), changed, old.keys() - new.keys()


def in_start_order(rows: list[dict]) -> bool:
    starts = [row["startDateTime"] for row in rows]
    return starts == sorted(starts)


# --- configuration ---------------------------------------------------------------------------------------


def test_late_calls_are_declared_in_python_or_json():
    entry = LateCalls.coerce(
        {
            "day": "2024-03-04",
            "calls": 5,
            "changed": ["some-id", 3],
            "removed": [7],
            "report": PSTN,
            "tenant": CONTOSO,
            "after_requests": 12,
            "visible_from": "2024-03-06T06:00:00Z",
        }
    )
    assert entry.day == date(2024, 3, 4) and entry.changed == ("some-id", 3) and entry.removed == (7,)
    assert entry.visible_from == datetime(2024, 3, 6, 6, tzinfo=UTC) and entry.change_s == 60
    assert LateCalls.coerce(json.loads(json.dumps(entry.as_json()))) == entry
    assert LateCalls(date(2024, 3, 4)) == LateCalls("2024-03-04")
    assert LateCalls("2024-03-04", visible_from="2024-03-06T06:00:00").visible_from == entry.visible_from

    config = EmulatorConfig(tenants=[{"tenant_id": CONTOSO}], late_calls=[entry.as_json(), LateCalls(date(2024, 3, 5))])
    assert config.late_calls == (entry, LateCalls(date(2024, 3, 5)))
    assert EmulatorConfig().late_calls == () and EmulatorConfig() == EmulatorConfig(late_calls=[])

    for bad in (
        {"day": "yesterday"},
        {"day": DAY, "calls": -1},
        {"day": DAY, "report": "getGroupCalls"},
        {"day": DAY, "removed": [-1]},
        {"day": DAY, "changed": "some-id"},
        {"day": DAY, "after_requests": -2},
    ):
        with pytest.raises(ValueError):
            LateCalls.coerce(bad)
    with pytest.raises(TypeError):
        LateCalls.coerce({"day": DAY, "colour": "red"})
    with pytest.raises(ValueError, match="unknown tenant"):
        EmulatorConfig(late_calls=[{"day": DAY, "tenant": CONTOSO}])


def test_cli_late_calls_option():
    late = json.dumps([{"day": DAY, "calls": 3, "report": PSTN, "after_requests": 4}])
    config = config_from_args(parse_args(["serve", "--late-calls", late]))
    assert config.late_calls == (LateCalls(date(2024, 3, 4), 3, report=PSTN, after_requests=4),)
    assert config_from_args(parse_args(["serve"])).late_calls == ()


# --- nothing changes for those who do not ask ----------------------------------------------------------------


def test_rows_are_byte_identical_where_no_late_call_shows(make_emulator):
    """Entries for another day, report or tenant, or not visible yet, leave every served byte as it was."""
    plain = make_emulator(tenants=[{"tenant_id": CONTOSO}])
    late = make_emulator(
        tenants=[{"tenant_id": CONTOSO}],
        late_calls=[
            {"day": NEXT_DAY, "calls": 4, "removed": [0]},
            {"day": DAY, "calls": 4, "report": PSTN, "changed": [1]},
            {"day": DAY, "calls": 4, "tenant": CONTOSO, "removed": [2]},
            {"day": DAY, "calls": 4, "after_requests": 1_000},
            {"day": DAY, "calls": 4, "visible_from": "2999-01-01T00:00:00Z"},
        ],
    )
    for version in ("v1.0", "beta"):
        assert late.expected_rows_json(at(DAY), at(NEXT_DAY), version) == plain.expected_rows_json(
            at(DAY), at(NEXT_DAY), version
        )
    assert late.expected_rows_json(at(DAY), at(NEXT_DAY), tenant=CONTOSO, report=PSTN) == plain.expected_rows_json(
        at(DAY), at(NEXT_DAY), tenant=CONTOSO, report=PSTN
    )
    first, second = Client(plain).login(), Client(late).login()
    for skip in (0, 1000, 2000):
        path = first.window(DAY, NEXT_DAY) + f"?$skip={skip}"
        served = [c.get(path).content.replace(c.emu.graph_root.encode(), b"ROOT") for c in (first, second)]
        assert served[0] == served[1]
    assert [entry["visible"] for entry in late.stats()["late_calls"]] == [True, True, True, False, False]
    assert plain.stats()["late_calls"] == []


# --- pull, late calls arrive, pull again --------------------------------------------------------------------


def test_a_second_pull_sees_the_old_rows_plus_the_late_ones(emu):
    first = pull(emu)
    assert first == truth(emu) and len(first) == 2500
    added = emu.add_late_calls(DAY, 5)
    assert [len(added[name]) for name in ("added", "changed", "removed")] == [5, 0, 0]
    second = pull(emu)
    assert second == truth(emu) and emu.expected_count(at(DAY), at(NEXT_DAY)) == 2505
    assert in_start_order(second)
    new_ids = {row["id"] for row in added["added"]}
    assert [row for row in second if row["id"] not in new_ids] == first  # exactly the old rows, in their order
    assert [row for row in second if row["id"] in new_ids] == sorted(added["added"], key=lambda r: r["startDateTime"])
    assert all(row["startDateTime"].startswith(DAY) for row in added["added"])
    assert recheck(first, second) == (new_ids, set(), set())
    assert pull(emu, Window(at(NEXT_DAY), at(DAY_AFTER))) == truth(emu, NEXT_DAY, DAY_AFTER)  # other days: as before


def test_a_recheck_reports_calls_added_changed_and_removed(emu):
    first = pull(emu)
    longer, failed, gone = (
        next(row for row in first if row["duration"] > 0),
        next(row for row in first if not row["successfulCall"]),
        first[42],
    )
    late = emu.add_late_calls(DAY, 3, changed=[longer["id"], failed["id"]], removed=[gone["id"]], change_s=90)
    second = pull(emu)
    assert second == truth(emu) and len(second) == 2500 + 3 - 1 and in_start_order(second)
    added, changed, removed = recheck(first, second)
    assert added == {row["id"] for row in late["added"]}
    assert changed == {longer["id"], failed["id"]} and removed == {gone["id"]}
    assert late["removed"] == [gone]

    now = by_id(second)
    assert late["changed"] == [now[longer["id"]], now[failed["id"]]]
    corrected = now[longer["id"]]
    assert corrected["duration"] == longer["duration"] + 90
    assert at(corrected["endDateTime"][:19]) - at(longer["endDateTime"][:19]) == timedelta(seconds=90)
    assert {k for k in corrected if corrected[k] != longer[k]} == {"duration", "endDateTime"}
    refailed = now[failed["id"]]  # a failed call has no end: its failure time moves
    assert {k for k in refailed if refailed[k] != failed[k]} == {"failureDateTime"}
    assert refailed["endDateTime"] == failed["endDateTime"] == "0001-01-01T00:00:00Z"


def test_calls_are_named_by_position_and_late_calls_can_change_later(emu):
    first = truth(emu)
    position = next(i for i, row in enumerate(first) if row["duration"] > 0 and i != 1)
    late = emu.add_late_calls(DAY, 4, changed=[position], removed=[1])
    assert late["changed"][0]["id"] == first[position]["id"] and late["removed"] == [first[1]]
    newcomer = next(row for row in late["added"] if row["duration"] > 0)
    leaver = next(row for row in late["added"] if row is not newcomer)
    again = emu.add_late_calls(DAY, changed=[newcomer["id"], position], removed=[leaver["id"]])
    rows = by_id(truth(emu))
    assert len(rows) == 2500 + 4 - 1 - 1 and first[1]["id"] not in rows and leaver["id"] not in rows
    assert rows[newcomer["id"]]["duration"] == newcomer["duration"] + 60
    corrected = rows[first[position]["id"]]
    assert corrected["duration"] == first[position]["duration"] + 120  # two corrections of 60 s
    assert again["changed"] == [rows[newcomer["id"]], corrected] and again["removed"] == [leaver]


def test_paging_windows_and_beta_agree_with_the_late_rows(make_emulator):
    emu = make_emulator(page_size=400)
    emu.add_late_calls(DAY, 25, removed=list(range(0, 2500, 100)), changed=list(range(5, 2500, 50)))
    client = Client(emu).login()
    rows, pages = client.pull(DAY, NEXT_DAY)
    assert rows == truth(emu) and len(rows) == 2500 and pages == 7
    beta, _ = client.pull(DAY, NEXT_DAY, version="beta")
    assert beta == truth(emu, api_version="beta") and [row["id"] for row in beta] == [row["id"] for row in rows]
    hours = [at(DAY) + timedelta(hours=h) for h in range(25)]
    by_hour = [emu.expected_rows(a, b) for a, b in zip(hours, hours[1:], strict=False)]
    assert [row for hour in by_hour for row in hour] == rows  # every late call falls in exactly one hour
    assert sum(emu.expected_count(a, b) for a, b in zip(hours, hours[1:], strict=False)) == 2500
    two_days, _ = client.pull(DAY, DAY_AFTER)
    assert two_days == rows + truth(emu, NEXT_DAY, DAY_AFTER)


def test_late_calls_are_deterministic(make_emulator):
    """The same entries give the same rows, whenever they show."""
    at_once = make_emulator(late_calls=[{"day": DAY, "calls": 6, "changed": [9]}])
    later = make_emulator(late_calls=[{"day": DAY, "calls": 6, "changed": [9], "after_requests": 1}])
    assert truth(at_once) != truth(later)
    Client(later).login().get(Client.window(DAY, NEXT_DAY))
    assert truth(at_once) == truth(later)
    added = make_emulator().add_late_calls(DAY, 6, changed=[9])
    assert by_id(truth(at_once)).keys() >= {row["id"] for row in added["added"]}  # the same new calls


def test_a_day_without_calls_can_get_late_ones(make_emulator):
    emu = make_emulator(tenants=[TenantConfig(CONTOSO, rows_per_day=0)])
    assert truth(emu, tenant=CONTOSO) == []
    late = emu.add_late_calls(DAY, 4, tenant=CONTOSO)
    assert (
        pull(emu, tenant=CONTOSO)
        == truth(emu, tenant=CONTOSO)
        == sorted(late["added"], key=lambda row: row["startDateTime"])
    )


# --- per report and per tenant --------------------------------------------------------------------------------


def test_late_calls_belong_to_one_report_of_one_tenant(make_emulator):
    emu = make_emulator(tenants=[{"tenant_id": CONTOSO}])
    before = {(t, r): truth(emu, tenant=t, report=r) for t in (HOME, CONTOSO) for r in (DIRECT_ROUTING, PSTN)}
    late = emu.add_late_calls(DAY, 7, report=PSTN, tenant=CONTOSO, removed=[before[CONTOSO, PSTN][3]["id"]])
    for key, rows in before.items():
        assert (truth(emu, tenant=key[0], report=key[1]) == rows) is (key != (CONTOSO, PSTN))
    after = truth(emu, tenant=CONTOSO, report=PSTN)
    assert len(after) == 2506 and recheck(before[CONTOSO, PSTN], after)[0] == {r["id"] for r in late["added"]}
    # Contoso's token reads Contoso's late rows, over the raw API (inclusive toDateTime: the next midnight's call
    # comes last) and through the project's client with the PSTN report's window.
    contoso = Client(emu)
    contoso.token = contoso.fetch_token(CONTOSO).json()["access_token"]
    served, _ = contoso.pull(DAY, NEXT_DAY, report=PSTN)
    assert served[:-1] == after and served[-1]["startDateTime"] == f"{NEXT_DAY}T00:00:00.0000000Z"
    client = emulator_client(emu, tenant=CONTOSO, report=PSTN_SPEC)
    raw = b"[" + b",".join(value for page in client.iter_pages(WINDOW, PullStats()) for value in page.value) + b"]"
    pulled = [row for row in json.loads(raw, parse_float=Decimal) if row["startDateTime"] < NEXT_DAY]
    exact = emu.expected_rows_json(at(DAY), at(NEXT_DAY), report=PSTN, tenant=CONTOSO)
    assert pulled == json.loads(exact, parse_float=Decimal)
    home = Client(emu).login()
    assert home.pull(DAY, NEXT_DAY, report=PSTN)[0][:-1] == before[HOME, PSTN]
    entries = emu.stats()["late_calls"]
    assert [(e["tenant"], e["report"], e["calls"], e["visible"]) for e in entries] == [(CONTOSO, PSTN, 7, True)]


def test_configure_with_a_tenant_replaces_that_tenants_late_calls(make_emulator):
    emu = make_emulator(tenants=[{"tenant_id": CONTOSO}], late_calls=[{"day": DAY, "calls": 2}])
    emu.configure(tenant=CONTOSO, late_calls=[{"day": DAY, "calls": 3}, {"day": DAY, "calls": 1, "report": PSTN}])
    assert [(e.tenant, e.calls, e.report) for e in emu.config.late_calls] == [
        (None, 2, DIRECT_ROUTING),
        (CONTOSO, 3, DIRECT_ROUTING),
        (CONTOSO, 1, PSTN),
    ]
    assert emu.expected_count(at(DAY), at(NEXT_DAY), tenant=CONTOSO) == 2503
    emu.configure(tenant=CONTOSO, late_calls=[])
    assert emu.expected_count(at(DAY), at(NEXT_DAY), tenant=CONTOSO) == 2500
    assert emu.expected_count(at(DAY), at(NEXT_DAY)) == 2502
    emu.configure(late_calls=[])
    assert truth(emu) == make_emulator().expected_rows(at(DAY), at(NEXT_DAY))


# --- when late calls show -----------------------------------------------------------------------------------


def test_late_calls_show_after_a_number_of_data_requests_and_stay(make_emulator):
    emu = make_emulator(late_calls=[{"day": DAY, "calls": 5, "after_requests": 3}])
    client = Client(emu).login()
    first, pages = client.pull(DAY, NEXT_DAY)  # requests 1-3: the day as it stood
    assert pages == 3 and len(first) == 2500
    assert emu.stats()["late_calls"][0]["visible"] is True  # three received: the next one sees them
    assert emu.expected_count(at(DAY), at(NEXT_DAY)) == 2505
    second, _ = client.pull(DAY, NEXT_DAY)
    assert len(second) == 2505 and second == truth(emu) and len(recheck(first, second)[0]) == 5
    emu.reset_stats()  # request numbers restart; what has shown stays
    assert emu.expected_count(at(DAY), at(NEXT_DAY)) == 2505 and emu.stats()["late_calls"][0]["visible"]
    emu.add_late_calls(DAY, 2, after_requests=1)
    assert emu.expected_count(at(DAY), at(NEXT_DAY)) == 2505
    assert len(client.pull(DAY, NEXT_DAY)[0]) == 2507


def test_late_calls_show_from_an_instant(emu):
    now = datetime.now(UTC)
    emu.add_late_calls(DAY, 2, visible_from=now - timedelta(seconds=1))
    emu.add_late_calls(DAY, 3, visible_from=now + timedelta(hours=1))
    assert emu.expected_count(at(DAY), at(NEXT_DAY)) == 2502
    assert [entry["visible"] for entry in emu.stats()["late_calls"]] == [True, False]
    assert len(pull(emu)) == 2502


def test_a_call_that_is_not_there_is_refused(emu):
    with pytest.raises(ValueError, match="no call 'nope'"):
        emu.add_late_calls(DAY, 1, changed=["nope"])
    with pytest.raises(ValueError, match="has 2500 calls"):
        emu.add_late_calls(DAY, removed=[2500])
    with pytest.raises(ValueError, match="unknown tenant"):
        emu.add_late_calls(DAY, 1, tenant=CONTOSO)
    assert emu.config.late_calls == () and emu.expected_count(at(DAY), at(NEXT_DAY)) == 2500
    answer = requests.post(
        f"{emu.graph_root}/_emulator/late_calls", json={"day": DAY, "changed": ["nope"]}, verify=emu.ca_path, timeout=10
    )
    assert answer.status_code == 400 and "no call" in answer.json()["error"]
    answer = requests.post(
        f"{emu.graph_root}/_emulator/config",
        json={"late_calls": [{"day": DAY, "removed": [9999]}]},
        verify=emu.ca_path,
        timeout=10,
    )
    assert answer.status_code == 400 and emu.config.late_calls == ()


# --- out of process ---------------------------------------------------------------------------------------------


def test_admin_endpoints_take_late_calls(emu):
    answer = requests.post(
        f"{emu.graph_root}/_emulator/late_calls", json={"day": DAY, "calls": 2}, verify=emu.ca_path, timeout=10
    )
    assert answer.status_code == 200 and len(answer.json()["added"]) == 2
    rows = requests.get(
        f"{emu.graph_root}/_emulator/rows", params={"from": DAY, "to": NEXT_DAY}, verify=emu.ca_path, timeout=10
    ).json()
    assert rows == truth(emu) and len(rows) == 2502
    change = {"late_calls": [{"day": DAY, "calls": 1, "report": PSTN}]}
    assert requests.post(f"{emu.graph_root}/_emulator/config", json=change, verify=emu.ca_path, timeout=10).ok
    assert emu.expected_count(at(DAY), at(NEXT_DAY)) == 2500
    assert emu.expected_count(at(DAY), at(NEXT_DAY), report=PSTN) == 2501


def test_the_emulator_process_serves_late_calls():
    day = at(DAY).date()
    with EmulatorProcess(
        rows_per_day=1000,
        budget=None,
        weekday_profile=False,
        tenants=[{"tenant_id": CONTOSO}],
        late_calls=[LateCalls(day, 3, after_requests=1), {"day": DAY, "calls": 2, "report": PSTN}],
    ) as emu:
        assert emu.count_day(day) == 1000 and emu.count_day(day, report=PSTN) == 1002
        first = pull(emu)
        assert len(first) == 1000 and emu.count_day(day) == 1003
        late = emu.add_late_calls(day, 4, tenant=CONTOSO, changed=[5], removed=[6])
        assert [len(late[name]) for name in ("added", "changed", "removed")] == [4, 1, 1]
        assert emu.count_day(day, CONTOSO) == 1003
        contoso = emu.rows(at(DAY), at(NEXT_DAY), tenant=CONTOSO)
        assert pull(emu, tenant=CONTOSO) == contoso
        assert {row["id"] for row in late["added"]} <= {row["id"] for row in contoso}
        assert len(emu.rows(at(DAY), at(NEXT_DAY), report=PSTN)) == 1002
        assert [entry["visible"] for entry in emu.stats()["late_calls"]] == [True, True, True]
        emu.configure(late_calls=[LateCalls(day, 1)])
        assert emu.count_day(day) == 1001 and emu.count_day(day, CONTOSO) == 1000
        with pytest.raises(RuntimeError, match="no call"):
            emu.add_late_calls(DAY, changed=["nope"])


def test_an_in_process_emulator_with_late_calls_starts_like_any_other():
    with GraphEmulator(EmulatorConfig(rows_per_day=100, late_calls=[LateCalls(date(2024, 3, 4), 1)])) as emu:
        assert emu.expected_count(at(DAY), at(NEXT_DAY)) == 101
