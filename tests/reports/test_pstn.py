"""The PSTN report through the real engine: decimals kept exact, the inclusive end filtered, its own rules."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from call_logs.lake.convert import SchemaViolation
from call_logs.quality.engine import check_report_day
from call_logs.reports.pstn import PSTN

from tests.rows import commit_rows
from tests.sinks import report_sink

DAY = date(2026, 3, 2)
MIDNIGHT = datetime(2026, 3, 3)


def pstn_row(i: int, start: datetime, **overrides) -> dict:
    """A row shaped like Microsoft's getPstnCalls example, as the client decodes it (numbers with a fraction
    arrive as Decimal)."""
    end = start + timedelta(seconds=219)
    row = {
        "id": f"pstn-{i:05d}",
        "callId": f"1835317186_{i // 2}@61.221.3.176",  # not unique
        "userId": f"user-{i % 7}",
        "userPrincipalName": f"user{i % 7}@contoso.com",
        "userDisplayName": f"User {i % 7}",
        "startDateTime": start.strftime("%Y-%m-%dT%H:%M:%S.%f") + "5Z",
        "endDateTime": end.strftime("%Y-%m-%dT%H:%M:%S.%f") + "5Z",
        "duration": 219,
        "charge": Decimal("0.1234") if i % 3 else Decimal("0.0"),
        "callType": "user_out",
        "currency": "USD",
        "calleeNumber": "+1234567890",
        "usageCountryCode": "US",
        "tenantCountryCode": "US",
        "connectionCharge": Decimal("0.01"),
        "callerNumber": "+0123456***",
        "destinationContext": None,
        "destinationName": "United States",
        "conferenceId": None,
        "licenseCapability": "MCOPSTNU",
        "inventoryType": "Subscriber",
        "operator": "Microsoft",
        "callDurationSource": "microsoft",
    }
    return row | overrides


def day_rows(count: int = 20) -> list[dict]:
    base = datetime(2026, 3, 2)
    rows = [pstn_row(i, base + timedelta(hours=i)) for i in range(count)]
    bot = pstn_row(count, base + timedelta(hours=1), callType="ucap_in", userId=None, userPrincipalName=None)
    # Graph's toDateTime is inclusive: the request for D also returns the call starting exactly at D+1 00:00.
    return [*rows, bot | {"userDisplayName": None}, pstn_row(count + 1, MIDNIGHT)]


@pytest.fixture
def sink(tmp_path):
    return report_sink(str(tmp_path / "lake"), PSTN)


def test_charges_land_as_exact_decimals_and_the_midnight_call_only_in_its_own_day(sink):
    rows = day_rows()
    manifest = commit_rows(sink, DAY, [rows])
    table = pq.read_table(f"{sink.location(DAY)}/part-0.parquet")
    assert table.schema.equals(PSTN.schema, check_metadata=True)
    assert manifest.rows == table.num_rows == 21 and manifest.source.out_of_window_dropped == 1
    assert "pstn-00021" not in table["id"].to_pylist()  # the midnight call belongs to D+1
    charges = dict(zip(table["id"].to_pylist(), table["charge"].to_pylist(), strict=True))
    assert charges["pstn-00001"] == Decimal("0.1234") and charges["pstn-00000"] == Decimal("0")
    assert set(table["connectionCharge"].to_pylist()) == {Decimal("0.01")}

    next_day = commit_rows(sink, DAY + timedelta(days=1), [[pstn_row(21, MIDNIGHT)]])
    assert next_day.rows == 1


def test_a_charge_with_more_places_than_the_column_holds_fails_instead_of_rounding(sink):
    rows = day_rows(3)
    rows[1]["charge"] = Decimal("0.12345678")
    with pytest.raises(SchemaViolation, match=r"Field 'charge' of the row with id 'pstn-00001' is 0.12345678"):
        commit_rows(sink, DAY, [rows])
    assert sink.committed_days() == []


def test_clean_pstn_day_passes_every_check(sink):
    commit_rows(sink, DAY, [day_rows()])
    report = check_report_day(sink, DAY)
    assert report.status == "pass", report.summary_line()
    assert {r.name for r in report.results} >= {"charges_not_negative", "charge_has_currency", "duplicate_ids"}


@pytest.mark.parametrize(
    ("override", "check"),
    [
        ({"charge": Decimal("-0.5")}, "charges_not_negative"),
        ({"currency": None}, "charge_has_currency"),
        ({"currency": ""}, "charge_has_currency"),
        ({"userId": None, "userPrincipalName": None}, "user_fields_only_empty_for_bots"),
        ({"duration": 5}, "duration_matches_times"),
    ],
)
def test_each_pstn_rule_finds_its_row(sink, override, check):
    rows = day_rows()
    rows[4] |= override
    commit_rows(sink, DAY, [rows])
    report = check_report_day(sink, DAY)
    failed = {r.name: r for r in report.results if r.failed}
    assert set(failed) == {check}
    assert failed[check].sample_ids == ["pstn-00004"]


def test_a_call_that_ends_before_it_starts_is_an_error(sink):
    rows = day_rows()
    rows[2]["endDateTime"] = "2026-03-02T01:00:00.0000000Z"  # starts 02:00
    rows[2]["duration"] = 0
    commit_rows(sink, DAY, [rows])
    failed = {r.name for r in check_report_day(sink, DAY).results if r.failed}
    assert "end_not_before_start" in failed


def test_the_lake_report_sums_cost_per_day_and_currency_and_charts_it(sink, tmp_path):
    from call_logs.charts import TableSection, write_chart
    from call_logs.quality.report import daily_sums, lake_report

    rows = day_rows()
    for i, row in enumerate(rows):
        row["currency"] = "EUR" if i % 2 else "USD"
    commit_rows(sink, DAY, [rows])
    kept = [row for row in rows if row["id"] != "pstn-00021"]  # the midnight call is D+1's
    expected = {
        currency: {
            column: float(sum(row[column] for row in kept if row["currency"] == currency))
            for column in ("charge", "connectionCharge")
        }
        for currency in ("EUR", "USD")
    }
    assert daily_sums(sink) == {DAY: expected}

    chart = tmp_path / "report.html"
    write_chart([TableSection(PSTN, lake_report(sink), daily_sums(sink))], str(chart), "PSTN")
    page = chart.read_text()
    assert "pstn_calls: cost per day and currency" in page and "charge EUR" in page and "connectionCharge USD" in page
