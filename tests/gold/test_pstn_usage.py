"""PSTN cost per user and month, and the minute pools, against DuckDB over the source partitions: counts, seconds,
and charges summed exactly per currency (decimals compared as decimals); pseudonymised users stay tokens; the checks
refuse a month that lost a cent or outlived its source days. Both table formats.

And on a small month summed by hand (charges a float gets wrong, a renamed user, two currencies), which also lands
under its tenant, refuses a day that cannot be read, and makes every check fail once."""

from __future__ import annotations

import os
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from call_logs.extract import extract_day
from call_logs.gold.monthly import MonthIncomplete
from call_logs.gold.pstn_usage import USAGE_KEYS, build_pstn_month
from call_logs.gold.quality import check_gold
from call_logs.gold.source_days import SourceDayUnusable
from call_logs.gold.store import read_day, write_day
from call_logs.gold.table import PSTN_MINUTE_POOLS_MONTHLY, PSTN_USAGE_MONTHLY
from call_logs.lake.layout import DATA_FILE
from call_logs.lake.pseudonymise import Pseudonymiser
from call_logs.lake.storage import publish_file
from call_logs.reports.pstn import PSTN
from call_logs.utc import day_window, days_of_month
from deltalake import DeltaTable
from graph_emulator import PSTN_CALLS

from tests.helpers import emulator_client
from tests.reports.test_pstn import pstn_row
from tests.rows import commit_rows
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


# --- A small month by hand: what finance is owed, summed on paper --------------------------------------------------
# Charges a float gets wrong (0.0012 + 1.999999 + 0.1, 0.7 + 0.2), a user renamed mid-month, calls with no
# destinationContext, two currencies, a bot call with no user and no charge; every other day of February is empty.

ANN = {"userId": "u-ann", "userPrincipalName": "ann@contoso.com", "userDisplayName": "Ann Lee"}
ANN_RENAMED = ANN | {"userPrincipalName": "ann.li@contoso.com", "userDisplayName": "Ann Li"}
ANN_PLAN = {"licenseCapability": "MCOPSTN1", "usageCountryCode": "US", "currency": "USD", "callType": "user_out"}
BEN = {"userId": "u-ben", "userPrincipalName": "ben@contoso.com", "userDisplayName": "Ben Roy"}
BEN_PLAN = {"licenseCapability": "MCOPSTNEAU2", "usageCountryCode": "FR", "callType": "user_out"}
BOT = {"userId": None, "userPrincipalName": None, "userDisplayName": None, "callType": "ucap_in"}
BOT_PLAN = {"licenseCapability": "MCOPSTNU", "usageCountryCode": "US", "currency": "USD"}
D = Decimal
HAND_CALLS = [  # (day of February, UTC time, the call)
    (1, "00:00:00", BEN | BEN_PLAN | {"currency": "EUR", "destinationContext": "Domestic", "duration": 600,
                                      "charge": D("0.2"), "connectionCharge": D("0.02")}),
    (2, "09:00:00", ANN | ANN_PLAN | {"destinationContext": "International", "duration": 61,
                                      "charge": D("0.0012"), "connectionCharge": D("0.01")}),
    (2, "10:00:00", ANN | ANN_PLAN | {"destinationContext": "International", "duration": 119,
                                      "charge": D("1.999999"), "connectionCharge": D("0.01")}),
    (3, "08:00:00", ANN | ANN_PLAN | {"destinationContext": None, "duration": 45,
                                      "charge": D("0.3"), "connectionCharge": D("0.01")}),
    (15, "08:00:00", ANN_RENAMED | ANN_PLAN | {"destinationContext": "International", "duration": 30,
                                               "charge": D("0.1"), "connectionCharge": D("0.000001")}),
    (15, "12:00:00", BOT | BOT_PLAN | {"destinationContext": None, "duration": 20,
                                       "charge": None, "connectionCharge": None}),
    (15, "13:00:00", BEN | BEN_PLAN | {"currency": "USD", "destinationContext": "International", "duration": 200,
                                       "charge": D("3.5"), "connectionCharge": None}),
    (28, "23:59:58", BEN | BEN_PLAN | {"currency": "EUR", "destinationContext": "Domestic", "duration": 1,
                                       "charge": D("0.7"), "connectionCharge": D("0.02")}),
]  # fmt: skip
# One row per user, currency, call type and destination (nulls last); the names of the row's latest call.
HAND_USAGE = [
    ("u-ann", "USD", "user_out", "International", "ann.li@contoso.com", "Ann Li", 3, 210, D("2.101199"), D("0.020001")),
    ("u-ann", "USD", "user_out", None, "ann@contoso.com", "Ann Lee", 1, 45, D("0.3"), D("0.01")),
    ("u-ben", "EUR", "user_out", "Domestic", "ben@contoso.com", "Ben Roy", 2, 601, D("0.9"), D("0.04")),
    ("u-ben", "USD", "user_out", "International", "ben@contoso.com", "Ben Roy", 1, 200, D("3.5"), None),
    (None, "USD", "ucap_in", None, None, None, 1, 20, None, None),
]  # fmt: skip
HAND_POOLS = [  # licenseCapability, usageCountryCode, calls, users, duration_s
    ("MCOPSTN1", "US", 4, 1, 255),
    ("MCOPSTNEAU2", "FR", 3, 1, 801),
    ("MCOPSTNU", "US", 1, 0, 20),
]
USAGE_COLUMNS = [
    *USAGE_KEYS,
    "userPrincipalName",
    "userDisplayName",
    "calls",
    "duration_s",
    "charge",
    "connectionCharge",
]


def hand_calls_of(day: date, calls=HAND_CALLS) -> list[dict]:
    rows = []
    for i, (of_month, at, call) in enumerate(calls):
        if of_month == day.day:
            rows.append(pstn_row(i, datetime.fromisoformat(f"{day.isoformat()}T{at}"), **call))
    return rows


def commit_hand_month(source, calls=HAND_CALLS) -> None:
    for day in days_of_month(MONTH):
        commit_rows(source, day, [hand_calls_of(day, calls)])


@pytest.fixture
def hand(tmp_path):
    """The small month committed through the real pipeline code; the source's sink and both gold sinks (Parquet)."""
    root = tmp_path / "lake"
    source = report_sink(root, PSTN)
    commit_hand_month(source)
    return root, source, gold_table_sink(root, PSTN_USAGE_MONTHLY), gold_table_sink(root, PSTN_MINUTE_POOLS_MONTHLY)


def usage_tuples(rows: pa.Table) -> list[tuple]:
    return [tuple(r[c] for c in USAGE_COLUMNS) for r in rows.to_pylist()]


def pool_tuples(rows: pa.Table) -> list[tuple]:
    columns = ["licenseCapability", "usageCountryCode", "calls", "users", "duration_s"]
    return [tuple(r[c] for c in columns) for r in rows.to_pylist()]


def failed_checks(gold, source) -> set[str]:
    return {r.name for r in check_gold(gold, MONTH, {PSTN.table: source}).results if r.failed}


def test_a_small_month_by_hand_sums_every_charge_exactly(hand):
    _, source, usage, pools = hand
    assert 0.0012 + 1.999999 + 0.1 != 2.101199 and 0.7 + 0.2 != 0.9  # what floats would have written
    manifest = build_pstn_month(source, usage, MONTH)
    assert manifest.partition == MONTH and manifest.rows == len(HAND_USAGE)
    assert [(s.table, s.partition, s.tenant) for s in manifest.sources] == [
        (PSTN.table, day, None) for day in days_of_month(MONTH)
    ]
    current = {day: source.read_manifest(day) for day in days_of_month(MONTH)}
    assert all(
        s.rows == current[s.partition].rows and s.sha256 == current[s.partition].file.sha256 for s in manifest.sources
    )
    rows = read_day(usage, MONTH)
    assert usage_tuples(rows) == HAND_USAGE
    assert rows.schema.field("charge").type == rows.schema.field("connectionCharge").type == pa.decimal128(38, 6)
    assert rows["minutes"].to_pylist() == [3.5, 0.75, 601 / 60, 200 / 60, 20 / 60]
    assert failed_checks(usage, source) == set()

    build_pstn_month(source, pools, MONTH)
    pooled = read_day(pools, MONTH)
    assert pool_tuples(pooled) == HAND_POOLS
    assert pooled["minutes"].to_pylist() == [4.25, 801 / 60, 20 / 60]
    assert failed_checks(pools, source) == set()


def test_with_a_tenant_the_month_lands_under_the_tenant(tmp_path):
    root = tmp_path / "lake"
    source = report_sink(root, PSTN, tenant="contoso")
    commit_hand_month(source)
    for table, expected, tuples in (
        (PSTN_USAGE_MONTHLY, HAND_USAGE, usage_tuples),
        (PSTN_MINUTE_POOLS_MONTHLY, HAND_POOLS, pool_tuples),
    ):
        gold = gold_table_sink(root, table, tenant="contoso")
        manifest = build_pstn_month(source, gold, MONTH)
        assert manifest.tenant == "contoso" and {s.tenant for s in manifest.sources} == {"contoso"}
        assert tuples(read_day(gold, MONTH)) == expected
        files = [p.relative_to(root).parts for p in root.glob(f"{table.table}/*/*/part-0.parquet")]
        assert files == [(table.table, "tenant=contoso", "month=2026-02-01", "part-0.parquet")]
        assert failed_checks(gold, source) == set()  # the tenant's source, under the table's key as for trunk health
    assert read_day(gold_table_sink(root, PSTN_USAGE_MONTHLY), MONTH) is None  # nothing outside the tenant


def test_a_day_that_cannot_be_read_refuses_the_month_naming_it(hand):
    _, source, usage, _ = hand
    day = date(2026, 2, 15)
    (Path(source.location(day)) / DATA_FILE).write_bytes(b"not a parquet file")
    with pytest.raises(SourceDayUnusable, match=r"^pstn_calls 2026-02-15: .*; re-run the day's DAG first\.$"):
        build_pstn_month(source, usage, MONTH)
    assert usage.read_manifest(MONTH) is None


def republish(gold, rows: pa.Table) -> None:
    """Replace the stored file behind the pipeline's back (its manifest unchanged)."""
    with tempfile.TemporaryDirectory() as workdir:
        local = os.path.join(workdir, DATA_FILE)
        pq.write_table(rows.cast(gold.spec.schema), local)
        publish_file(fsspec.filesystem("file"), local, f"{gold.location(MONTH)}/{DATA_FILE}")


def with_value(rows: pa.Table, column: str, index: int, change) -> pa.Table:
    values = rows[column].to_pylist()
    values[index] = change(values[index])
    position = rows.schema.get_field_index(column)
    return rows.set_column(position, rows.schema.field(column), pa.array(values, rows.schema.field(column).type))


@pytest.mark.parametrize("table", [PSTN_USAGE_MONTHLY, PSTN_MINUTE_POOLS_MONTHLY], ids=lambda t: t.table)
def test_every_check_can_fail(hand, table):
    root, source, _, _ = hand
    gold = gold_table_sink(root, table)
    manifest = build_pstn_month(source, gold, MONTH)
    rows, sources = read_day(gold, MONTH), list(manifest.sources)
    cost = {"cost_matches_source"} if table is PSTN_USAGE_MONTHLY else set()

    republish(gold, rows.slice(1))  # the first row lost outside the pipeline: the file is not its manifest's
    assert failed_checks(gold, source) == {"file_matches_manifest", "calls_match_source_days", *cost}

    write_day(gold, MONTH, rows, sources[:-1])  # a month that claims one day fewer than it has
    assert failed_checks(gold, source) == {"every_day_of_the_month"}

    nothing = {c: None for c in ("charge", "connectionCharge") if c in rows.column_names}
    empty = pa.Table.from_pylist([rows.slice(0, 1).to_pylist()[0] | {"calls": 0, "duration_s": 0, **nothing}])
    write_day(gold, MONTH, pa.concat_tables([rows, empty.cast(rows.schema)]), sources)  # a group twice, adding 0
    assert failed_checks(gold, source) == {"one_row_per_grain"}

    write_day(gold, MONTH, with_value(rows, "calls", 0, lambda n: n + 1), sources)
    assert failed_checks(gold, source) == {"calls_match_source_days"}

    if cost:  # one row a millionth of a unit dearer than the source
        write_day(gold, MONTH, with_value(rows, "charge", 0, lambda c: c + D("0.000001")), sources)
        assert failed_checks(gold, source) == cost

    write_day(gold, MONTH, rows, sources)
    assert failed_checks(gold, source) == set()
    # Day 2 pulled again: the same calls, one of them charged 0.0013 instead of 0.0012.
    again = [
        (day, at, call | {"charge": D("0.0013")} if call["charge"] == D("0.0012") else call)
        for day, at, call in HAND_CALLS
    ]
    commit_rows(source, date(2026, 2, 2), [hand_calls_of(date(2026, 2, 2), again)])
    assert failed_checks(gold, source) == {"computed_from_current_days", *cost}
