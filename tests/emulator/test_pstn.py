"""getPstnCalls: paging, the inclusive toDateTime, row shape (bots, charges, numbers), determinism, admin."""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import requests
from graph_emulator import EmulatorConfig, Fault, GraphEmulator

from .conftest import DAY, PSTN, Client, at

NEXT_DAY, DAY_AFTER = "2024-03-05", "2024-03-06"
MIDNIGHT = "2024-03-05T00:00:00.0000000Z"
V1_FIELDS = {
    "id",
    "callId",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "startDateTime",
    "endDateTime",
    "duration",
    "charge",
    "callType",
    "currency",
    "calleeNumber",
    "usageCountryCode",
    "tenantCountryCode",
    "connectionCharge",
    "callerNumber",
    "destinationContext",
    "destinationName",
    "conferenceId",
    "licenseCapability",
    "inventoryType",
    "operator",
    "callDurationSource",
}
BETA_FIELDS = {"otherPartyCountryCode", "administrativeUnitInfos"}
STAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{7}Z$")
E164 = re.compile(r"^\+\d{8,15}$|^\+\d{5,12}\*\*\*$")
USER_FIELDS = ("userId", "userPrincipalName", "userDisplayName")


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def truth(emu: GraphEmulator, start: str, end: str, version: str = "v1.0") -> list[dict]:
    return emu.expected_rows(at(start), at(end), version, report=PSTN)


@pytest.fixture
def day_rows(emu) -> list[dict]:
    return truth(emu, DAY, NEXT_DAY)


def test_paging_returns_exactly_the_ground_truth_for_a_day(emu, client):
    # toDateTime is inclusive: ending one microsecond before midnight asks for exactly one day.
    rows, pages = client.pull(DAY, "2024-03-04T23:59:59.999999Z", report=PSTN)
    assert pages == 3 and len(rows) == 2500 == emu.expected_count(at(DAY), at(NEXT_DAY), report=PSTN)
    assert rows == truth(emu, DAY, NEXT_DAY)
    starts = [row["startDateTime"] for row in rows]
    assert starts == sorted(starts) and len({row["id"] for row in rows}) == 2500


def test_page_shape_and_next_link(emu, client):
    path = client.window(DAY, NEXT_DAY, report=PSTN)
    page = client.get(path).json()
    row_type = "microsoft.graph.callRecords.pstnCallLogRow"
    assert page["@odata.context"] == f"{emu.graph_root}/v1.0/$metadata#Collection({row_type})"
    assert page["@odata.count"] == 1000
    assert page["@odata.nextLink"] == f"{emu.graph_root}{path}?$skip=1000"
    last = client.get(page["@odata.nextLink"].replace("1000", "2000")).json()
    assert last["@odata.count"] == 501 and "@odata.nextLink" not in last  # 2,500 calls + the next midnight's


def test_inclusive_end_returns_the_midnight_call_to_both_days(emu, client):
    day, _ = client.pull(DAY, NEXT_DAY, report=PSTN)
    next_day, _ = client.pull(NEXT_DAY, DAY_AFTER, report=PSTN)
    midnight = [row for row in day if row["startDateTime"] == MIDNIGHT]
    assert len(midnight) == 1 and day[-1] == midnight[0] == next_day[0]
    # The ground truth is half-open: the midnight call belongs to D+1's partition only.
    assert day == truth(emu, DAY, NEXT_DAY) + midnight
    assert midnight[0] not in truth(emu, DAY, NEXT_DAY)
    assert truth(emu, NEXT_DAY, DAY_AFTER)[0] == midnight[0]
    assert emu.expected_count(at(DAY), at(NEXT_DAY), report=PSTN) == len(day) - 1


def test_direct_routing_keeps_an_exclusive_end(emu, client):
    rows, _ = client.pull(DAY, NEXT_DAY)
    assert rows == emu.expected_rows(at(DAY), at(NEXT_DAY))
    assert all(parse(row["startDateTime"]) < at(NEXT_DAY) for row in rows)


def test_inclusive_end_is_exact_to_the_tick(emu, client, day_rows):
    """A toDateTime naming a call's 7-digit start returns that call; one tick earlier does not."""
    call = next(row for row in day_rows[1200:] if not row["startDateTime"].endswith("0Z"))
    stamp = call["startDateTime"]
    one_tick_earlier = stamp[:-2] + str(int(stamp[-2]) - 1) + "Z"
    hour_before = (parse(stamp) - timedelta(hours=1)).isoformat()
    assert client.pull(hour_before, stamp, report=PSTN)[0][-1] == call
    assert call not in client.pull(hour_before, one_tick_earlier, report=PSTN)[0]
    assert client.pull(stamp, (parse(stamp) + timedelta(hours=1)).isoformat(), report=PSTN)[0][0] == call


def test_every_day_has_a_call_exactly_at_midnight(make_emulator):
    emu = make_emulator(weekday_profile=True, rows_per_day=500)
    for k in range(7):
        start = at(DAY) + timedelta(days=k)
        first = emu.expected_rows(start, start + timedelta(microseconds=1), report=PSTN)
        assert [row["startDateTime"] for row in first] == [start.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")]


@pytest.mark.parametrize(
    "path",
    [
        "/v1.0/communications/callRecords/getPstnCalls(fromDateTime=2024-03-04T00:00:00Z,toDateTime=2024-03-05T00:00:00Z)",
        "/v1.0/communications/callRecords/microsoft.graph.callRecords.getPstnCalls"
        "(fromDateTime=2024-03-04,toDateTime=2024-03-05)",
        "/v1.0/communications/callRecords/getPstnCalls%28fromDateTime%3D2024-03-04%2CtoDateTime%3D2024-03-05%29",
    ],
)
def test_url_forms_address_the_same_rows(client, path):
    reference = client.get(client.window(DAY, NEXT_DAY, report=PSTN)).json()["value"]
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.json()["value"] == reference


@pytest.mark.parametrize(
    ("args", "status", "code", "message"),
    [
        ("(fromDateTime=,toDateTime=)", 400, "BadRequest", "Expression expected at position 13"),
        ("(fromDateTime=2024-03-05,toDateTime=2024-03-04)", 400, "BadRequest", "earlier"),
        ("(fromDateTime=2024-01-01,toDateTime=2024-04-01)", 406, "NotAcceptable", "90 days"),
        ("", 400, "BadRequest", "required"),
    ],
)
def test_bad_requests(client, args, status, code, message):
    response = client.get(f"/v1.0/communications/callRecords/getPstnCalls{args}")
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and message in error["message"]


def test_row_shape_v1_and_beta(emu, client):
    v1 = client.get(client.window(DAY, NEXT_DAY, report=PSTN)).json()["value"]
    beta = client.get(client.window(DAY, NEXT_DAY, "beta", report=PSTN)).json()["value"]
    assert all(set(row) == V1_FIELDS for row in v1)
    assert all(set(row) == V1_FIELDS | BETA_FIELDS for row in beta)
    assert [{k: r[k] for k in V1_FIELDS} for r in beta] == v1
    assert any(r["administrativeUnitInfos"] for r in beta)
    assert all(isinstance(r["administrativeUnitInfos"], list) for r in beta)
    assert all(re.fullmatch(r"[A-Z]{2}", r["otherPartyCountryCode"]) for r in beta)
    assert truth(emu, DAY, "2024-03-04T01:00:00", "beta")[0].keys() == V1_FIELDS | BETA_FIELDS


def test_bot_rows_have_null_user_fields(day_rows):
    bots = [row for row in day_rows if row["callType"] in ("ucap_in", "ucap_out")]
    assert 0.05 < len(bots) / len(day_rows) < 0.2
    assert all(row[field] is None for row in bots for field in USER_FIELDS)
    people = [row for row in day_rows if row["callType"] not in ("ucap_in", "ucap_out")]
    assert all(row[field] for row in people for field in USER_FIELDS)


def test_charges_are_json_numbers_with_at_most_four_decimals(emu, client):
    raw = client.get(client.window(DAY, NEXT_DAY, report=PSTN)).text
    texts = re.findall(r'"(?:charge|connectionCharge)":([^,}]*)', raw)
    assert len(texts) == 2000
    assert all(re.fullmatch(r"\d+\.\d{1,4}", text) for text in texts), Counter(texts).most_common(3)
    rows = json.loads(raw, parse_float=Decimal)["value"]
    for row in rows:
        for name in ("charge", "connectionCharge"):
            value = row[name]
            assert isinstance(value, Decimal) and value >= 0 and -value.as_tuple().exponent <= 4
        assert re.fullmatch(r"[A-Z]{3}", row["currency"])
    charges = [row["charge"] for row in rows]
    places = Counter(-charge.as_tuple().exponent for charge in charges if charge)
    assert set(places) == {2, 3, 4}
    assert sum(charge == 0 for charge in charges) > len(charges) / 2 and max(charges) < 100
    assert sorted(charges)[len(charges) * 9 // 10] < 5  # mostly small
    assert {row["currency"] for row in rows} >= {"USD", "EUR", "GBP"}


def test_row_realism(day_rows):
    rows = day_rows
    for row in rows:
        assert STAMP.match(row["startDateTime"]) and STAMP.match(row["endDateTime"])
        assert parse(row["endDateTime"]) - parse(row["startDateTime"]) == timedelta(seconds=row["duration"])
        assert isinstance(row["duration"], int) and row["duration"] > 0
        assert E164.match(row["callerNumber"]) and E164.match(row["calleeNumber"]), row
        assert row["callDurationSource"] in ("microsoft", "operator")
        assert (row["operator"] == "Microsoft") == (row["callDurationSource"] == "microsoft")
        assert row["destinationContext"] in ("Domestic", "International", None)
        assert re.fullmatch(r"[A-Z]{2}", row["usageCountryCode"]) and row["tenantCountryCode"] == "US"
    assert len({row["id"] for row in rows}) == len(rows)
    assert len({row["callId"] for row in rows}) < len(rows)  # callId is not unique
    assert len(Counter(row["callType"] for row in rows)) >= 6
    assert len({row["operator"] for row in rows}) >= 4
    assert {row["licenseCapability"] for row in rows} >= {"MCOPSTNU", "MCOPSTN1", "MCOEV"}
    assert {row["inventoryType"] for row in rows} >= {"Subscriber", "Service"}
    numbers = [row["callerNumber"] for row in rows] + [row["calleeNumber"] for row in rows]
    assert any(number.endswith("***") for number in numbers)
    conferences = [row for row in rows if row["conferenceId"] is not None]
    assert 0 < len(conferences) < len(rows) / 5 and all(row["callType"].startswith("conf") for row in conferences)
    hours = Counter(parse(row["startDateTime"]).hour for row in rows)
    assert hours[10] > 5 * hours[3]  # the working-day profile


def test_same_seed_same_rows_and_reports_differ(make_emulator):
    first, second, other = make_emulator(seed=3), make_emulator(seed=3), make_emulator(seed=4)
    rows = [emu.expected_rows_json(at(DAY), at(NEXT_DAY), report=PSTN) for emu in (first, second, other)]
    assert rows[0] == rows[1] != rows[2]
    pstn_ids = {row["id"] for row in json.loads(rows[0])}
    assert not pstn_ids & {row["id"] for row in first.expected_rows(at(DAY), at(NEXT_DAY))}


def test_weekday_profile(make_emulator):
    weekly = make_emulator(rows_per_day=1000, weekday_profile=True)
    days = [at(DAY) + timedelta(days=k) for k in range(7)]  # Monday..Sunday
    counts = [weekly.expected_count(d, d + timedelta(days=1), report=PSTN) for d in days]
    assert counts == [1000] * 5 + [350, 250]


def test_faults_apply_to_the_pstn_report(emu, client):
    emu.configure(faults=[Fault("unavailable", on_request=1), Fault("duplicate_rows", on_request=3, rows=5)])
    path = client.window(DAY, NEXT_DAY, report=PSTN)
    assert client.get(path).status_code == 503
    rows, pages = client.pull(DAY, "2024-03-04T23:59:59.999999Z", report=PSTN)
    assert pages == 3 and len(rows) == 2505
    assert list({row["id"]: row for row in rows}.values()) == truth(emu, DAY, NEXT_DAY)
    assert emu.stats()["faults_served"] == {"unavailable": 1, "duplicate_rows": 1}


def test_retention_hides_old_windows(make_emulator):
    emu = make_emulator(retention_days=150)
    old = (datetime.now().date() - timedelta(days=200)).isoformat()
    later = (datetime.now().date() - timedelta(days=199)).isoformat()
    assert Client(emu).login().pull(old, later, report=PSTN) == ([], 1)


def test_admin_rows_and_count_per_report(emu, client):
    base, verify = f"{emu.graph_root}/_emulator", emu.ca_path
    window = {"from": "2024-03-04T09:00:00Z", "to": "2024-03-04T10:00:00Z", "report": PSTN}
    rows = requests.get(f"{base}/rows", params=window, verify=verify, timeout=10).json()
    count = requests.get(f"{base}/count", params=window, verify=verify, timeout=10).json()["count"]
    assert len(rows) == count > 0 and rows == truth(emu, "2024-03-04T09:00:00", "2024-03-04T10:00:00")
    assert "callId" in rows[0]
    wrong = requests.get(f"{base}/count", params=window | {"report": "getNothing"}, verify=verify, timeout=10)
    assert wrong.status_code == 400 and "getPstnCalls" in wrong.json()["error"]


def test_page_timing():
    """A 1,000-row PSTN page of a million-row day: generation + serialization, printed for the record."""
    from graph_emulator.data import to_ticks

    big = GraphEmulator(EmulatorConfig(rows_per_day=1_000_000, weekday_profile=False, budget_requests=None))
    log = big.state.log(PSTN)
    lo, hi = log.bounds(to_ticks(at(DAY)), to_ticks(at(NEXT_DAY)))
    log.count(lo, hi)
    started = time.thread_time()  # CPU of this thread: time spent waiting for a core on a busy machine is not in it
    for k in range(20):
        rows = log.rows(lo, hi, 400_000 + k * 1000, 1000, beta=True)
        ("[" + ",".join(rows) + "]").encode()
        assert len(rows) == 1000
    per_page = (time.thread_time() - started) / 20
    print(f"\n1000-row PSTN page: {per_page * 1000:.1f} ms CPU")
    assert per_page < 0.05
