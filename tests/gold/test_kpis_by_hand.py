"""The Health Dashboard's figures (NER, concurrency, talk time, setup delay) and the hourly drill-down on a small day
whose every figure was worked out by hand in the comments, in both table formats.

The day, 2026-03-10, on two trunks; the previous day holds one call still up after midnight on sbc-a (and one on a
trunk without calls of its own on the day, which has no row to count in). Minutes are the day's, from 00:00 UTC.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from call_logs.gold.hourly import build_hourly_day
from call_logs.gold.monthly import monthly_rows
from call_logs.gold.quality import check_gold
from call_logs.gold.store import read_day, write_day
from call_logs.gold.table import TRUNK, TRUNK_HEALTH, TRUNK_HEALTH_HOURLY, GoldTable
from call_logs.gold.trunk_health import build_day, complete_successor
from call_logs.reports.direct_routing import DIRECT_ROUTING

from tests.rows import FIXTURE, SENTINEL, commit_rows
from tests.sinks import gold_table_sink, report_sink

DAY = date(2026, 3, 10)
PREVIOUS = DAY - timedelta(days=1)
MIDNIGHT = datetime(2026, 3, 10, tzinfo=UTC)
SAMPLE = json.loads(FIXTURE.read_text())["value"][0]


def at(clock: str, day: date = DAY) -> datetime:
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return datetime(day.year, day.month, day.day, hours, minutes, seconds, tzinfo=UTC)


def stamp(moment: datetime | None) -> str:
    return SENTINEL if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def call(
    ident, trunk, call_type, invite, start, *, end=None, failure=None, code=0, sub=540000, phrase="BYE", ok=True
) -> dict:
    return dict(
        SAMPLE,
        id=ident,
        trunkFullyQualifiedDomainName=trunk,
        callType=call_type,
        inviteDateTime=stamp(invite),
        startDateTime=stamp(start),
        endDateTime=stamp(end),
        failureDateTime=stamp(failure),
        finalSipCode=code,
        callEndSubReason=sub,
        finalSipCodePhrase=phrase,
        successfulCall=ok,
        duration=int(((end or failure) - invite).total_seconds()),
    )


def failed(ident, trunk, call_type, invite, until, code, sub, phrase, start=None) -> dict:
    return call(
        ident, trunk, call_type, invite, start or invite, failure=until, code=code, sub=sub, phrase=phrase, ok=False
    )


PREVIOUS_DAY = [
    # Up after midnight on sbc-a: minutes 0, 1 and 2 (it ends at 00:02:30), outbound.
    call("p1", "sbc-a", "ByotOut", at("23:58:50", PREVIOUS), at("23:59:00", PREVIOUS), end=at("00:02:30")),
    call("p2", "sbc-a", "ByotIn", at("23:29:58", PREVIOUS), at("23:30:00", PREVIOUS), end=at("23:40:00", PREVIOUS)),
    # Up after midnight on a trunk without calls of its own on the day: it has no row.
    call("p3", "sbc-c", "ByotIn", at("23:00:00", PREVIOUS), at("23:00:01", PREVIOUS), end=at("01:00:00")),
]
A_DAY = [
    # answered: talk 240 s, setup 2 s; up in minutes 0-4 (its INVITE at 00:00:58; its end 00:05:00 is not a moment up)
    call("a1", "sbc-a", "ByotIn", at("00:00:58"), at("00:01:00"), end=at("00:05:00")),
    # answered (200): talk 7 s, a short call; setup 3 s; minute 2
    call("a2", "sbc-a", "ByotOut", at("00:02:00"), at("00:02:03"), end=at("00:02:10"), code=200, phrase="OK"),
    # minute 600: busy, a forked call answered elsewhere, a caller who hung up while it rang: 3 up at once
    failed("a3", "sbc-a", "ByotIn", at("10:00:00"), at("10:00:20"), 486, 540486, "Busy Here"),
    failed("a4", "sbc-a", "ByotIn", at("10:00:10"), at("10:00:30"), 487, 540200, "Call completed elsewhere"),
    failed("a5", "sbc-a", "ByotIn", at("10:00:15"), at("10:00:59"), 487, 540487, "Request Terminated"),
    # minute 1439: an SBC failure (503), a network failure in NER
    failed("a6", "sbc-a", "ByotOut", at("23:59:30"), at("23:59:31"), 503, 560503, "Service Unavailable"),
    # minute 720: a call without a final SIP code (unknown: not in NER), and a rejected number (404) that failed at
    # the instant it started (up in that minute only)
    call(
        "a7",
        "sbc-a",
        "ByotIn",
        at("12:00:00"),
        at("12:00:00"),
        failure=at("12:00:05"),
        code=None,
        sub=None,
        phrase=None,
        ok=False,
    ),  # fmt: skip
    failed("a8", "sbc-a", "ByotOut", at("12:00:00"), at("12:00:00"), 404, 560404, "Not Found"),
    # answered, ends after midnight: talk 1,195 s, setup 5 s; minutes 1430-1439
    call("a9", "sbc-a", "ByotIn", at("23:50:00"), at("23:50:05"), end=at("00:10:00", DAY + timedelta(days=1))),
]
B_DAY = [  # set up at once (their INVITE is their start)
    # minutes 360-1079 (720 minutes), outbound
    call("b1", "sbc-b", "ByotOut", at("06:00:00"), at("06:00:00"), end=at("18:00:00")),
    # minutes 720-791 (72 minutes), outbound
    call("b2", "sbc-b", "ByotOut", at("12:00:00"), at("12:00:00"), end=at("13:12:00")),
    # minute 730, inbound by its dr_in prefix: 3 up at once
    call("b3", "sbc-b", "dr_in", at("12:10:00"), at("12:10:00"), end=at("12:10:30")),
]


@pytest.fixture(params=["parquet", "delta"])
def lake(request, tmp_path):
    root = tmp_path / "lake"
    source = report_sink(root, DIRECT_ROUTING, request.param)
    commit_rows(source, PREVIOUS, [PREVIOUS_DAY])
    commit_rows(source, DAY, [A_DAY + B_DAY])
    return root, request.param, source


def rows_by_trunk(gold) -> dict:
    return {row[TRUNK]: row for row in read_day(gold, DAY).to_pylist()}


def test_ner_concurrency_talk_time_and_setup_delay_of_a_small_day(lake):
    root, table_format, source = lake
    gold = gold_table_sink(root, TRUNK_HEALTH, table_format)
    manifest = build_day(source, gold, DAY)
    assert [(s.partition, s.rows) for s in manifest.sources] == [(DAY, 12), (PREVIOUS, 3)]
    assert manifest.missing_sources == ()
    a, b = (rows := rows_by_trunk(gold))["sbc-a"], rows["sbc-b"]
    assert set(rows) == {"sbc-a", "sbc-b"}  # sbc-c's crossing call has no row to count in

    # sbc-a: 9 calls. answered a1 a2 a9; delivered too: busy a3, elsewhere a4, ring no answer a5, reject a8;
    # network failure a6; unknown a7 (no code) is left out of NER: 7 delivered of 8 judged.
    assert a["calls_by_outcome"] == [
        {"value": "answered", "calls": 3},
        {"value": "completed_elsewhere", "calls": 1},
        {"value": "user_busy", "calls": 1},
        {"value": "ring_no_answer", "calls": 1},
        {"value": "terminal_reject", "calls": 1},
        {"value": "unknown", "calls": 1},
        {"value": "network_failure", "calls": 1},
    ]
    assert (a["delivered_calls"], a["ner_calls"], a["ner"]) == (7, 8, 0.875)
    assert (a["answered_calls"], a["answer_seizure_ratio"]) == (3, pytest.approx(3 / 9))
    # Minute 2: p1 (carried over), a1 and a2; minute 600: a3, a4, a5. The first is the peak's minute.
    assert a["calls_from_previous_day"] == 1
    assert (a["peak_concurrent_calls"], a["peak_concurrent_minute"]) == (3, MIDNIGHT + timedelta(minutes=2))
    # Inbound: 3 in minute 600. Outbound: p1 and a2 in minute 2.
    assert (a["peak_concurrent_inbound"], a["peak_concurrent_outbound"]) == (3, 2)
    assert a["p95_concurrent_calls"] == 0.0  # 17 busy minutes of 1,440: the 95th percentile minute is idle
    # Talk: 240, 7 and 1,195 s; setup: 2, 3 and 5 s (p95 = 3 + 0.9 x (5 - 3)).
    assert (a["average_call_duration_s"], a["average_call_duration_calls"]) == (pytest.approx(1442 / 3), 3)
    assert a["short_call_share"] == pytest.approx(1 / 3)
    assert (a["setup_delay_p50_s"], a["setup_delay_p95_s"]) == (3.0, pytest.approx(4.8))

    # sbc-b: 1 call up in 648 minutes, 2 in 71, 3 in minute 730, none in 720: sorted, the 95th percentile's
    # position 0.95 x 1,439 = 1,367.05 lies between the last 1 (index 1,367) and the first 2: 1.05.
    assert (b["calls_from_previous_day"], b["peak_concurrent_calls"]) == (0, 3)
    assert b["peak_concurrent_minute"] == MIDNIGHT + timedelta(minutes=730)
    assert (b["peak_concurrent_inbound"], b["peak_concurrent_outbound"]) == (1, 2)
    assert b["p95_concurrent_calls"] == pytest.approx(1.05)
    assert (b["ner"], b["average_call_duration_s"], b["short_call_share"]) == (1.0, 15850.0, 0.0)
    assert (b["setup_delay_p50_s"], b["setup_delay_p95_s"]) == (0.0, 0.0)

    report = check_gold(gold, DAY, {DIRECT_ROUTING.table: source})
    assert report.status == "pass", [r.message for r in report.results if r.failed]


def test_the_hourly_drill_down_of_a_small_day(lake):
    root, table_format, source = lake
    gold = gold_table_sink(root, TRUNK_HEALTH_HOURLY, table_format)
    build_hourly_day(source, gold, DAY)
    got = [
        (r[TRUNK], r["hour"].hour, r["calls"], r["delivered_calls"], r["ner_calls"], r["ner"], r["answered_calls"],
         r["peak_concurrent_calls"])
        for r in read_day(gold, DAY).to_pylist()
    ]  # fmt: skip
    assert got == [
        ("sbc-a", 0, 2, 2, 2, 1.0, 2, 3),  # a1, a2 (peak: minute 2 with p1)
        ("sbc-a", 10, 3, 3, 3, 1.0, 0, 3),  # a3, a4, a5
        ("sbc-a", 12, 2, 1, 1, 1.0, 0, 2),  # a7 (unknown), a8
        ("sbc-a", 23, 2, 1, 2, 0.5, 1, 2),  # a6 (503), a9 (peak: minute 1439)
        ("sbc-b", 6, 1, 1, 1, 1.0, 1, 1),
        ("sbc-b", 12, 2, 2, 2, 1.0, 2, 3),
    ]
    reasons = {(r[TRUNK], r["hour"].hour): r["top_call_end_reasons"] for r in read_day(gold, DAY).to_pylist()}
    assert [(x["code"], x["sub_reason"], x["phrase"], x["calls"]) for x in reasons[("sbc-a", 10)]] == [
        (486, 540486, "Busy Here", 1),
        (487, 540200, "Call completed elsewhere", 1),
        (487, 540487, "Request Terminated", 1),
    ]
    assert [(x["code"], x["calls"]) for x in reasons[("sbc-a", 12)]] == [(404, 1), (None, 1)]  # null last
    assert check_gold(gold, DAY, {DIRECT_ROUTING.table: source}).status == "pass"


def test_without_the_previous_day_concurrency_is_null_and_a_warning_names_it_until_that_day_is_built(tmp_path):
    root = tmp_path / "lake"
    source = report_sink(root, DIRECT_ROUTING)
    commit_rows(source, DAY, [A_DAY + B_DAY])
    gold = gold_table_sink(root, TRUNK_HEALTH)
    manifest = build_day(source, gold, DAY)
    assert [(m.table, m.partition, m.reason) for m in manifest.missing_sources] == [
        ("direct_routing_calls", PREVIOUS, "it is not in the lake")
    ]
    a = rows_by_trunk(gold)["sbc-a"]
    concurrency = ["calls_from_previous_day", "peak_concurrent_calls", "peak_concurrent_minute", "p95_concurrent_calls"]
    assert [a[c] for c in concurrency] == [None] * 4  # never a silently low peak
    assert (a["ner"], a["average_call_duration_calls"]) == (0.875, 3)  # the rest does not need the previous day
    report = check_gold(gold, DAY, {DIRECT_ROUTING.table: source})
    assert report.status == "warn" and [r.name for r in report.results if r.failed] == ["concurrency_complete"]
    assert (
        "direct_routing_calls 2026-03-09: it is not in the lake"
        in next(r for r in report.results if r.name == "concurrency_complete").message
    )

    # The previous day arrives (a backfill finished it later): building it completes the day after.
    commit_rows(source, PREVIOUS, [PREVIOUS_DAY])
    build_day(source, gold, PREVIOUS)
    completed = complete_successor(source, gold, PREVIOUS)
    assert completed is not None and completed.partition == DAY and completed.missing_sources == ()
    a = rows_by_trunk(gold)["sbc-a"]
    assert (a["calls_from_previous_day"], a["peak_concurrent_outbound"]) == (1, 2)
    assert check_gold(gold, DAY, {DIRECT_ROUTING.table: source}).status == "pass"
    assert complete_successor(source, gold, PREVIOUS) is None  # nothing left to complete

    # The previous day is pulled again with other rows: the day after is stale until completed again.
    commit_rows(source, PREVIOUS, [PREVIOUS_DAY[1:]])
    failed = {r.name for r in check_gold(gold, DAY, {DIRECT_ROUTING.table: source}).results if r.failed}
    assert failed == {"computed_from_current_source"}
    assert complete_successor(source, gold, PREVIOUS) is not None
    assert rows_by_trunk(gold)["sbc-a"]["calls_from_previous_day"] == 0


def test_checks_catch_impossible_figures(tmp_path):
    root = tmp_path / "lake"
    source = report_sink(root, DIRECT_ROUTING)
    commit_rows(source, PREVIOUS, [PREVIOUS_DAY])
    commit_rows(source, DAY, [A_DAY + B_DAY])
    gold = gold_table_sink(root, TRUNK_HEALTH)
    manifest = build_day(source, gold, DAY)
    rows = read_day(gold, DAY)

    def rewrite(column: str, values: list) -> set[str]:
        changed = rows.set_column(rows.schema.get_field_index(column), column, pa.array(values, rows[column].type))
        write_day(gold, DAY, changed, list(manifest.sources))
        return {r.name for r in check_gold(gold, DAY, {DIRECT_ROUTING.table: source}).results if r.failed}

    assert rewrite("ner", [0.875, 1.5]) == {"rates_in_unit_interval", "outcomes_add_up"}
    assert rewrite("delivered_calls", [9, 3]) == {"outcomes_add_up"}
    assert rewrite("peak_concurrent_calls", [11, 3]) == {"peak_within_possible_calls"}  # 9 calls + 1 carried
    assert rewrite("peak_concurrent_calls", [3, 2]) == {"peak_at_least_busiest_minute"}  # sbc-b's minute 730: 3


def test_the_monthly_rollup_sums_ner_and_keeps_the_busiest_day():
    def day_rows(delivered, judged, peak):
        row = dict.fromkeys(TRUNK_HEALTH.column_names, None)
        calls = judged + 1
        row |= {TRUNK: "sbc-a", "calls": calls, "successful_calls": 0, "answered_calls": 0, "media_bypass_calls": 0}
        row |= {"delivered_calls": delivered, "ner_calls": judged, "peak_concurrent_calls": peak}
        return pa.Table.from_pylist([row], schema=TRUNK_HEALTH.schema)

    month = monthly_rows([day_rows(7, 8, 3), day_rows(1, 4, None), day_rows(2, 2, 5)]).to_pylist()
    assert len(month) == 1
    assert (month[0]["delivered_calls"], month[0]["ner_calls"], month[0]["ner"]) == (10, 14, pytest.approx(10 / 14))
    assert (month[0]["peak_concurrent_calls"], month[0]["concurrency_days"], month[0]["days"]) == (5, 2, 3)


def test_a_day_of_the_first_schema_version_reads_with_the_added_columns_as_nulls(tmp_path):
    root = tmp_path / "lake"
    source = report_sink(root, DIRECT_ROUTING)
    commit_rows(source, DAY, [A_DAY + B_DAY])
    first_version = GoldTable(
        table=TRUNK_HEALTH.table,
        source=TRUNK_HEALTH.source,
        partition_column="call_date",
        fields=TRUNK_HEALTH.fields[:13],  # the columns of schema version 1
        schema_version=1,
        key_column=TRUNK,
    )
    old = gold_table_sink(root, first_version)
    build_day(source, gold_table_sink(root, TRUNK_HEALTH), DAY)
    write_day(old, DAY, read_day(gold_table_sink(root, TRUNK_HEALTH), DAY), [])  # as release 1 wrote it
    rows = read_day(gold_table_sink(root, TRUNK_HEALTH), DAY)
    assert rows is not None and rows.schema.equals(TRUNK_HEALTH.schema)
    assert rows["calls"].to_pylist() == [9, 3] and rows["ner"].null_count == 2
