"""PSTN cost per user and month, and the minute pools, against DuckDB over the source partitions: counts, seconds,
and charges summed exactly per currency (decimals compared as decimals); pseudonymised users stay tokens; the checks
refuse a month that lost a cent or outlived its source days. Both table formats."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest
from call_logs.extract import extract_day
from call_logs.gold.monthly import MonthIncomplete
from call_logs.gold.pstn_usage import build_pstn_month
from call_logs.gold.quality import check_gold
from call_logs.gold.store import read_day, write_day
from call_logs.gold.table import PSTN_MINUTE_POOLS_MONTHLY, PSTN_USAGE_MONTHLY
from call_logs.lake.pseudonymise import Pseudonymiser
from call_logs.reports.pstn import PSTN
from call_logs.utc import day_window, days_of_month
from deltalake import DeltaTable
from graph_emulator import PSTN_CALLS

from tests.helpers import emulator_client
from tests.sinks import gold_table_sink, report_sink

MONTH = date(2026, 2, 1)
USAGE_SQL = """
SELECT userId, currency, callType, destinationContext, count(*), coalesce(sum(duration), 0)::BIGINT,
       sum(charge), sum(connectionCharge)
FROM {source} GROUP BY ALL ORDER BY 1 NULLS LAST, 2 NULLS LAST, 3 NULLS LAST, 4 NULLS LAST
"""
LATEST_NAME_SQL = """
SELECT userId, currency, callType, destinationContext, arg_max(userPrincipalName, startDateTime)
FROM {source} WHERE userPrincipalName IS NOT NULL GROUP BY ALL
"""
POOLS_SQL = """
SELECT licenseCapability, usageCountryCode, count(*), count(DISTINCT userId), coalesce(sum(duration), 0)::BIGINT
FROM {source} GROUP BY ALL ORDER BY 1 NULLS LAST, 2 NULLS LAST
"""
CURRENCY_SQL = "SELECT currency, sum(charge), sum(connectionCharge) FROM {source} GROUP BY ALL"


@pytest.fixture(params=["parquet", "delta"])
def month(request, emulator, tmp_path):
    """Every day of February 2026 of PSTN calls (a few a day), pulled from the emulator; the source's sink."""
    emu = emulator(rows_per_day=40, seed=71)
    root = tmp_path / "lake"
    source = report_sink(root, PSTN, request.param)
    client = emulator_client(emu, report=PSTN)
    for day in days_of_month(MONTH):
        extract_day(client, source, day, concurrency=1)
    return root, request.param, source


def duck(root, table_format: str, sql: str) -> list[tuple]:
    connection = duckdb.connect()
    if table_format == "delta":
        connection.register("calls", DeltaTable(f"{root}/pstn_calls").to_pyarrow_dataset())
    else:
        connection.sql(f"CREATE VIEW calls AS SELECT * FROM read_parquet('{root}/pstn_calls/*/*.parquet')")
    return connection.sql(sql.format(source="calls")).fetchall()


def test_usage_per_user_and_month_matches_duckdb_to_the_last_decimal(month):
    root, table_format, source = month
    gold = gold_table_sink(root, PSTN_USAGE_MONTHLY, table_format)
    manifest = build_pstn_month(source, gold, MONTH)
    assert [s.partition for s in manifest.sources] == days_of_month(MONTH)
    rows = read_day(gold, MONTH)
    assert rows is not None and rows.schema.field("charge").type == pa.decimal128(38, 6)
    got = [
        (r["userId"], r["currency"], r["callType"], r["destinationContext"], r["calls"], r["duration_s"],
         r["charge"], r["connectionCharge"])
        for r in rows.to_pylist()
    ]  # fmt: skip
    assert got == duck(root, table_format, USAGE_SQL)
    assert any(isinstance(r[6], Decimal) and r[6] > 0 for r in got)  # real charges, summed as decimals
    latest = {tuple(row[:4]): row[4] for row in duck(root, table_format, LATEST_NAME_SQL)}
    names = {(r["userId"], r["currency"], r["callType"], r["destinationContext"]): r for r in rows.to_pylist()}
    assert {key: names[key]["userPrincipalName"] for key in latest} == latest
    assert all(r["minutes"] == pytest.approx(r["duration_s"] / 60) for r in rows.to_pylist())
    report = check_gold(gold, MONTH, {PSTN.table: source})
    assert report.status == "pass", [r.message for r in report.results if r.failed]
    assert {r.name for r in report.results} == {
        "file_matches_manifest",
        "every_day_of_the_month",
        "one_row_per_grain",
        "calls_match_source_days",
        "computed_from_current_days",
        "cost_matches_source",
    }


def test_minute_pools_match_duckdb(month):
    root, table_format, source = month
    gold = gold_table_sink(root, PSTN_MINUTE_POOLS_MONTHLY, table_format)
    build_pstn_month(source, gold, MONTH)
    got = [
        (r["licenseCapability"], r["usageCountryCode"], r["calls"], r["users"], r["duration_s"])
        for r in read_day(gold, MONTH).to_pylist()
    ]
    assert got == duck(root, table_format, POOLS_SQL) and len(got) > 1
    assert check_gold(gold, MONTH, {PSTN.table: source}).status == "pass"


def test_a_month_that_lost_a_cent_or_outlived_a_day_fails_its_checks(month, emulator):
    root, table_format, source = month
    gold = gold_table_sink(root, PSTN_USAGE_MONTHLY, table_format)
    manifest = build_pstn_month(source, gold, MONTH)
    rows = read_day(gold, MONTH)
    charged = next(i for i, value in enumerate(rows["charge"].to_pylist()) if value)
    cents = rows["charge"].to_pylist()
    cents[charged] -= Decimal("0.000001")  # one millionth of a unit less
    changed = rows.set_column(rows.schema.get_field_index("charge"), "charge", pa.array(cents, pa.decimal128(38, 6)))
    write_day(gold, MONTH, changed, list(manifest.sources))
    failed = {r.name for r in check_gold(gold, MONTH, {PSTN.table: source}).results if r.failed}
    assert failed == {"cost_matches_source"}

    build_pstn_month(source, gold, MONTH)
    extract_day(emulator_client(emulator(rows_per_day=25, seed=72), report=PSTN), source, MONTH, concurrency=1)
    failed = {r.name for r in check_gold(gold, MONTH, {PSTN.table: source}).results if r.failed}
    assert {"calls_match_source_days", "computed_from_current_days", "cost_matches_source"} <= failed


def test_an_incomplete_month_is_refused(tmp_path, emulator):
    source = report_sink(tmp_path / "lake", PSTN)
    client = emulator_client(emulator(rows_per_day=5, seed=73), report=PSTN)
    for day in days_of_month(MONTH)[:-1]:
        extract_day(client, source, day, concurrency=1)
    gold = gold_table_sink(tmp_path / "lake", PSTN_USAGE_MONTHLY)
    with pytest.raises(MonthIncomplete, match="2026-02-28"):
        build_pstn_month(source, gold, MONTH)
    assert gold.read_manifest(MONTH) is None


def test_pseudonymised_users_stay_tokens(tmp_path, emulator):
    emu = emulator(rows_per_day=15, seed=74)
    source = report_sink(tmp_path / "lake", PSTN)
    client = emulator_client(emu, report=PSTN)
    columns = ["userId", "userPrincipalName", "userDisplayName"]
    pseudonymiser = Pseudonymiser("k3y-for-tests-only", columns)
    for day in days_of_month(MONTH):
        extract_day(client, source, day, concurrency=1, pseudonymiser=pseudonymiser)
    gold = gold_table_sink(tmp_path / "lake", PSTN_USAGE_MONTHLY)
    build_pstn_month(source, gold, MONTH)
    rows = read_day(gold, MONTH).to_pylist()
    start, end = day_window(MONTH)[0], day_window(days_of_month(MONTH)[-1])[1]
    raw = {row[c] for row in emu.expected_rows(start, end, report=PSTN_CALLS) for c in columns}
    stored = {r[c] for r in rows for c in columns} - {None, ""}
    assert stored and not stored & raw  # every user value is a token, none is a raw one
    assert check_gold(gold, MONTH, {PSTN.table: source}).status == "pass"
