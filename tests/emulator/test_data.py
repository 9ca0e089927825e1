"""The data endpoint: URL forms, validation, paging, row shape, determinism, windows and retention."""

from __future__ import annotations

import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest
from graph_emulator import EmulatorConfig, GraphEmulator

from .conftest import DATA, DAY, Client, at

UTC = UTC
V1_FIELDS = {
    "id",
    "correlationId",
    "userId",
    "userPrincipalName",
    "userDisplayName",
    "startDateTime",
    "inviteDateTime",
    "failureDateTime",
    "endDateTime",
    "duration",
    "callType",
    "successfulCall",
    "callerNumber",
    "calleeNumber",
    "mediaPathLocation",
    "signalingLocation",
    "finalSipCode",
    "callEndSubReason",
    "finalSipCodePhrase",
    "trunkFullyQualifiedDomainName",
    "mediaBypassEnabled",
}
BETA_FIELDS = {"userCountryCode", "otherPartyCountryCode", "transferorCorrelationId", "administrativeUnitInfos"}
SENTINEL = "0001-01-01T00:00:00Z"


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp)


def test_three_page_day_equals_expected_rows(emu, client):
    rows, pages = client.pull(DAY, "2024-03-05")
    assert pages == 3 and len(rows) == 2500
    assert rows == emu.expected_rows(at(DAY), at("2024-03-05"))
    assert emu.expected_count(at(DAY), at("2024-03-05")) == 2500
    starts = [row["startDateTime"] for row in rows]
    assert starts == sorted(starts) and len({row["id"] for row in rows}) == 2500


def test_page_shape_and_next_link(emu, client):
    page = client.get(client.window(DAY, "2024-03-05")).json()
    assert page["@odata.context"] == (
        f"{emu.graph_root}/v1.0/$metadata#Collection(microsoft.graph.callRecords.directRoutingLogRow)"
    )
    assert page["@odata.count"] == 1000
    assert page["@odata.nextLink"] == f"{emu.graph_root}{client.window(DAY, '2024-03-05')}?$skip=1000"
    last = client.get(page["@odata.nextLink"].replace("1000", "2000")).json()
    assert last["@odata.count"] == 500 and "@odata.nextLink" not in last


@pytest.mark.parametrize(
    "path",
    [
        f"{DATA}(fromDateTime=2024-03-04T00:00:00Z,toDateTime=2024-03-05T00:00:00Z)",
        f"{DATA}(fromDateTime=2024-03-04T00:00:00.000Z,toDateTime=2024-03-05T01:00:00+01:00)",
        "/v1.0/communications/callRecords/microsoft.graph.callRecords.getDirectRoutingCalls"
        "(fromDateTime=2024-03-04,toDateTime=2024-03-05)",
        f"{DATA}%28fromDateTime%3D2024-03-04%2CtoDateTime%3D2024-03-05%29",
    ],
)
def test_url_forms_address_the_same_rows(client, path):
    reference = client.get(client.window(DAY, "2024-03-05")).json()["value"]
    response = client.get(path)
    assert response.status_code == 200, response.text
    assert response.json()["value"] == reference


def test_next_link_keeps_the_client_text(emu, client):
    page = client.get(f"{DATA}(fromDateTime=2024-03-04T00:00:00.000Z,toDateTime=2024-03-05T01:00:00+01:00)").json()
    assert page["@odata.nextLink"].endswith(
        "getDirectRoutingCalls(fromDateTime=2024-03-04T00:00:00.000Z,toDateTime=2024-03-05T01:00:00+01:00)?$skip=1000"
    )


@pytest.mark.parametrize(
    ("path", "status", "code", "message"),
    [
        (
            f"{DATA}(fromDateTime=,toDateTime=)",
            400,
            "BadRequest",
            "Expression expected at position 13 in 'fromDateTime=,toDateTime='.",
        ),
        (f"{DATA}(fromDateTime=yesterday,toDateTime=2024-03-05)", 400, "BadRequest", "DateTimeOffset text 'yesterday'"),
        (f"{DATA}(fromDateTime=2024-03-04 toDateTime=2024-03-05)", 400, "BadRequest", ""),
        (f"{DATA}(fromDateTime=2024-03-05,toDateTime=2024-03-04)", 400, "BadRequest", "earlier"),
        (f"{DATA}(fromDateTime=2024-03-04,toDateTime=2024-03-04)", 400, "BadRequest", "earlier"),
        (f"{DATA}(fromDateTime=2024-01-01,toDateTime=2024-04-01)", 406, "NotAcceptable", "90 days"),
        (
            "/v1.0/communications/callRecords/getPstnCallz(fromDateTime=2024-01-01,toDateTime=2024-01-02)",
            404,
            "ResourceNotFound",
            "",
        ),
    ],
)
def test_bad_requests(client, path, status, code, message):
    response = client.get(path)
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code and message in error["message"]


def test_ninety_days_exactly_is_fine(client):
    assert client.get(client.window("2024-01-01", "2024-03-31")).status_code == 200


def test_beta_adds_fields_only_on_beta(emu, client):
    v1 = client.get(client.window(DAY, "2024-03-05")).json()["value"]
    beta = client.get(client.window(DAY, "2024-03-05", "beta")).json()["value"]
    assert all(set(row) == V1_FIELDS for row in v1)
    assert all(set(row) == V1_FIELDS | BETA_FIELDS for row in beta)
    assert [{k: r[k] for k in V1_FIELDS} for r in beta] == v1
    assert any(r["administrativeUnitInfos"] for r in beta) and all(
        isinstance(r["administrativeUnitInfos"], list) for r in beta
    )
    assert emu.expected_rows(at(DAY), at("2024-03-04T01:00:00"), api_version="beta")[0].keys() >= BETA_FIELDS


def test_row_realism(emu):
    rows = emu.expected_rows(at(DAY), at("2024-03-05"))
    ok = [r for r in rows if r["successfulCall"]]
    failed = [r for r in rows if not r["successfulCall"]]
    assert 0.80 <= len(ok) / len(rows) <= 0.88
    for r in ok:
        assert r["failureDateTime"] == SENTINEL and r["finalSipCode"] == 0 and r["finalSipCodePhrase"] == "BYE"
        assert parse(r["endDateTime"]) == parse(r["startDateTime"]) + timedelta(seconds=r["duration"])
        assert parse(r["inviteDateTime"]) < parse(r["startDateTime"])
    for r in failed:
        assert r["endDateTime"] == SENTINEL and r["duration"] == 0 and r["finalSipCode"] >= 400
        assert parse(r["failureDateTime"]) >= parse(r["inviteDateTime"])
    bots = [r for r in rows if r["userId"] is None]
    assert 0.01 < len(bots) / len(rows) < 0.06
    assert all(r["userPrincipalName"] is None and r["userDisplayName"] is None for r in bots)
    assert len(Counter(r["callType"] for r in rows)) >= 4
    numbers = [r["callerNumber"] for r in rows] + [r["calleeNumber"] for r in rows]
    assert any(n.endswith("***") for n in numbers) and any(not n.startswith("+") for n in numbers)
    assert rows[0]["startDateTime"].endswith("Z") and len(rows[0]["startDateTime"]) == len("2019-11-01T00:00:25.105Z")


def test_same_seed_gives_byte_identical_pages(make_emulator):
    first, second, other = make_emulator(seed=3), make_emulator(seed=3), make_emulator(seed=4)
    path = Client(first).window(DAY, "2024-03-05") + "?$skip=1000"
    # Compare the "value" bytes: context and nextLink differ by port.
    values = [
        Client(emu).login().get(path).content.split(b'"value":')[1].split(b',"@odata.nextLink"')[0]
        for emu in (first, second, other)
    ]
    assert values[0] == values[1] != values[2]


def test_weekday_profile(make_emulator):
    flat, weekly = make_emulator(rows_per_day=1000), make_emulator(rows_per_day=1000, weekday_profile=True)
    days = [at("2024-03-04") + timedelta(days=k) for k in range(7)]  # Monday..Sunday
    assert [flat.expected_count(d, d + timedelta(days=1)) for d in days] == [1000] * 7
    assert [weekly.expected_count(d, d + timedelta(days=1)) for d in days] == [1000] * 5 + [350, 250]


def test_business_hours_peak(emu):
    rows = emu.expected_rows(at(DAY), at("2024-03-05"))
    hours = Counter(parse(r["startDateTime"]).hour for r in rows)
    assert hours[10] > 5 * hours[3]


@pytest.mark.parametrize(
    ("start", "end"),
    [
        ("2024-03-04T09:00:00", "2024-03-04T10:00:00"),
        ("2024-03-04T23:00:00", "2024-03-05T01:00:00"),
        ("2024-03-04T09:17:03.250", "2024-03-04T09:17:41.999"),
    ],
)
def test_sub_windows_hold_exactly_the_rows_starting_in_them(emu, client, start, end):
    whole = emu.expected_rows(at(DAY), at("2024-03-06"))
    wanted = [r for r in whole if at(start) <= parse(r["startDateTime"]) < at(end)]
    assert wanted and emu.expected_rows(at(start), at(end)) == wanted
    assert client.pull(start + "Z", end + "Z")[0] == wanted


def test_empty_window_is_one_empty_page(emu, client):
    start = at("2024-03-04T03:00:00")
    while emu.expected_count(start, start + timedelta(seconds=1)):
        start += timedelta(seconds=1)
    end = start + timedelta(seconds=1)
    response = client.get(client.window(start.isoformat(), end.isoformat()))
    assert response.json()["value"] == [] and response.json()["@odata.count"] == 0
    assert "@odata.nextLink" not in response.json()


def test_retention_hides_old_windows(make_emulator):
    emu = make_emulator(retention_days=150)
    client = Client(emu).login()
    today = datetime.now(UTC).date()
    old, recent = today - timedelta(days=200), today - timedelta(days=3)
    assert client.pull(old.isoformat(), (old + timedelta(days=1)).isoformat()) == ([], 1)
    rows, _ = client.pull(recent.isoformat(), (recent + timedelta(days=1)).isoformat())
    assert len(rows) == 2500
    assert emu.expected_count(at(old.isoformat()), at((old + timedelta(days=1)).isoformat())) == 0


def test_page_timing(emu):
    """A 1,000-row page of a million-row day: generation + serialization, printed for the record."""
    big = GraphEmulator(EmulatorConfig(rows_per_day=1_000_000, weekday_profile=False, budget_requests=None))
    start, end = at(DAY), at("2024-03-05")
    from graph_emulator.data import to_ticks

    log = big.state.log("getDirectRoutingCalls")
    lo, hi = log.bounds(to_ticks(start), to_ticks(end))
    log.count(lo, hi)

    started = time.thread_time()  # CPU of this thread: time spent waiting for a core on a busy machine is not in it
    for k in range(20):
        rows = log.rows(lo, hi, 400_000 + k * 1000, 1000, beta=False)
        ("[" + ",".join(rows) + "]").encode()
        assert len(rows) == 1000
    per_page = (time.thread_time() - started) / 20
    print(f"\n1000-row page: {per_page * 1000:.1f} ms CPU")
    assert per_page < 0.05
