"""Trunk health's schema-version-2 figures, the hourly table, the monthly rollup's new columns and the SBC view,
each against a second, independent method: DuckDB SQL over the source partitions, never the pipeline's code.

The days come from the Graph emulator (its calls last up to 2 h, so late-evening calls hold their trunk past
midnight; it produces forked calls, 487 with sub-reason 540200). Every test runs in both table formats: Parquet
partitions read with ``read_parquet``, and Delta tables read through an independent ``deltalake.DeltaTable``
dataset. The SQL follows the definitions of the module docstrings (``outcomes.py``'s table, ``concurrency.py``,
``trunk_health.py``, ``hourly.py``, ``monthly.py``, ``sbc_health.py``):

- a call's NER outcome is a ``CASE`` whose branches are ``outcomes.py``'s rules in order (the first that matches);
- a call is up from ``coalesce(inviteDateTime, startDateTime)`` until ``coalesce(endDateTime, failureDateTime,
  startDateTime)``, in every minute it is up at any moment of, the end instant excluded (a zero-length call counts
  in its start minute): the minutes ``[first, last]`` joined to ``generate_series`` over the day's 1,440 minutes,
  with the previous day's calls (those not up after midnight join no minute of the day); a trunk with no call of
  its own that day has no row; every minute without a call is a 0 in the 95th percentile;
- direction from ``callType``'s prefix (``ByotIn``/``dr_in`` inbound, ``ByotOut``/``dr_out`` outbound, any case);
- talk time ``endDateTime - startDateTime`` and setup delay ``startDateTime - inviteDateTime`` of the calls whose
  final SIP code is 0 or 200 and that have both timestamps; quantiles with ``quantile_cont``.

The emulator never sends some of what those definitions must handle (no final SIP code, ``dr_in``/``dr_out`` call
types, zero-length calls, ends on a minute's first instant, no trunk...): the last test takes its days and makes
every 23rd call awkward, and adds a quiet trunk whose figures hang on those edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import duckdb
import pytest
from call_logs.extract import extract_day
from call_logs.gold.hourly import build_hourly_day
from call_logs.gold.monthly import build_month
from call_logs.gold.sbc_health import build_sbc_day
from call_logs.gold.store import read_day
from call_logs.gold.table import SBC_HEALTH, TRUNK, TRUNK_HEALTH, TRUNK_HEALTH_HOURLY, TRUNK_HEALTH_MONTHLY
from call_logs.gold.trunk_health import build_day
from call_logs.graph.client import PullStats
from call_logs.graph.window import Window
from call_logs.lake.layout import DATA_FILE
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.utc import day_window, days_of_month
from deltalake import DeltaTable
from graph_emulator import TenantConfig

from tests.helpers import emulator_client
from tests.rows import SENTINEL, commit_rows, pages_of
from tests.sinks import gold_table_sink, report_sink

# Monday to Wednesday: full weekday volumes. The first day's previous day is never pulled.
DAYS = [date(2026, 3, 2) + timedelta(days=i) for i in range(3)]
MONTH = date(2026, 2, 1)
REL = 1e-9  # floats: the two methods add and interpolate in their own order

# --- the second method: SQL over the source partitions -----------------------------------------------------

# outcomes.py's table, rule by rule, in its order (the first rule a call matches decides).
OUTCOMES = [
    "answered",
    "completed_elsewhere",
    "user_busy",
    "ring_no_answer",
    "terminal_reject",
    "unknown",
    "network_failure",
]
OUTCOME = """CASE
    WHEN successfulCall IS TRUE OR finalSipCode IN (0, 200) THEN 'answered'
    WHEN finalSipCode = 487 AND callEndSubReason = 540200 THEN 'completed_elsewhere'
    WHEN finalSipCode IN (486, 600) THEN 'user_busy'
    WHEN finalSipCode IN (480, 408, 487) THEN 'ring_no_answer'
    WHEN finalSipCode IN (403, 404, 410, 484, 603, 604) THEN 'terminal_reject'
    WHEN finalSipCode IS NULL THEN 'unknown'
    ELSE 'network_failure'
END"""
DELIVERED = "('answered', 'completed_elsewhere', 'user_busy', 'ring_no_answer', 'terminal_reject')"

# Every call of the day with what the figures need; ``answered``: final SIP code 0 or 200 (null code: not).
CLASSIFIED = f"""
CREATE OR REPLACE TEMP VIEW classified AS
SELECT trunkFullyQualifiedDomainName AS trunk, {OUTCOME} AS outcome,
       coalesce(finalSipCode IN (0, 200), false) AS answered,
       finalSipCode AS code, callEndSubReason AS sub_reason, finalSipCodePhrase AS phrase,
       date_trunc('hour', startDateTime) AS hour,
       (epoch_us(endDateTime) - epoch_us(startDateTime)) / 1e6 AS talk_s,
       (epoch_us(startDateTime) - epoch_us(inviteDateTime)) / 1e6 AS setup_s
FROM source_calls WHERE call_date = DATE '{{day}}'
"""

# Calls up per trunk (of the day's trunks) and minute of the day, idle minutes included: the day's calls and the
# previous day's. ``e > b``: the end instant is no moment up; otherwise (zero length) the call's start minute.
MINUTES = """
CREATE OR REPLACE TEMP TABLE minutes AS
WITH day_trunks AS (SELECT DISTINCT trunkFullyQualifiedDomainName AS trunk FROM source_calls
                    WHERE call_date = DATE '{day}'),
sessions AS (
  SELECT trunkFullyQualifiedDomainName AS trunk,
         coalesce(inviteDateTime, startDateTime) AS b,
         coalesce(endDateTime, failureDateTime, startDateTime) AS e,
         starts_with(lower(callType), 'byotin') OR starts_with(lower(callType), 'dr_in') AS inbound,
         starts_with(lower(callType), 'byotout') OR starts_with(lower(callType), 'dr_out') AS outbound
  FROM source_calls WHERE call_date IN (DATE '{day}', DATE '{previous}')),
spans AS (
  SELECT trunk, inbound, outbound, date_trunc('minute', b) AS first_minute,
         date_trunc('minute', CASE WHEN e > b THEN e - INTERVAL 1 MICROSECOND ELSE b END) AS last_minute
  FROM sessions),
day_minutes AS (
  SELECT unnest(generate_series(TIMESTAMPTZ '{day} 00:00:00+00', TIMESTAMPTZ '{day} 23:59:00+00',
                                INTERVAL 1 MINUTE)) AS minute),
busy AS (
  SELECT s.trunk, m.minute, count(*) AS calls, count(*) FILTER (WHERE s.inbound) AS inbound,
         count(*) FILTER (WHERE s.outbound) AS outbound
  FROM spans s JOIN day_minutes m ON m.minute BETWEEN s.first_minute AND s.last_minute
  GROUP BY s.trunk, m.minute)
SELECT t.trunk, m.minute, coalesce(b.calls, 0) AS calls, coalesce(b.inbound, 0) AS inbound,
       coalesce(b.outbound, 0) AS outbound
FROM day_trunks t CROSS JOIN day_minutes m
LEFT JOIN busy b ON b.trunk IS NOT DISTINCT FROM t.trunk AND b.minute = m.minute
"""

DAILY = f"""
WITH by_outcome AS (
  SELECT trunk, list(struct_pack(value := outcome, calls := n) ORDER BY list_position({OUTCOMES}, outcome))
           AS calls_by_outcome
  FROM (SELECT trunk, outcome, count(*) AS n FROM classified GROUP BY trunk, outcome) GROUP BY trunk),
figures AS (
  SELECT trunk,
         count(*) FILTER (WHERE outcome IN {DELIVERED}) AS delivered_calls,
         count(*) FILTER (WHERE outcome <> 'unknown') AS ner_calls,
         avg(talk_s) FILTER (WHERE answered AND talk_s IS NOT NULL) AS average_call_duration_s,
         count(talk_s) FILTER (WHERE answered) AS average_call_duration_calls,
         avg(CASE WHEN talk_s < 15 THEN 1.0 ELSE 0.0 END) FILTER (WHERE answered AND talk_s IS NOT NULL)
           AS short_call_share,
         quantile_cont(setup_s, 0.5) FILTER (WHERE answered AND setup_s IS NOT NULL) AS setup_delay_p50_s,
         quantile_cont(setup_s, 0.95) FILTER (WHERE answered AND setup_s IS NOT NULL) AS setup_delay_p95_s
  FROM classified GROUP BY trunk)
SELECT f.trunk AS {TRUNK}, o.calls_by_outcome, f.delivered_calls, f.ner_calls,
       f.delivered_calls::DOUBLE / nullif(f.ner_calls, 0) AS ner,
       f.average_call_duration_s, f.average_call_duration_calls, f.short_call_share,
       f.setup_delay_p50_s, f.setup_delay_p95_s
FROM figures f JOIN by_outcome o ON o.trunk IS NOT DISTINCT FROM f.trunk
ORDER BY f.trunk NULLS LAST
"""

CONCURRENCY = f"""
WITH peaks AS (
  SELECT trunk, max(calls) AS peak, max(inbound) AS inbound, max(outbound) AS outbound,
         quantile_cont(calls, 0.95) AS p95, count(*) AS minutes
  FROM minutes GROUP BY trunk),
carried AS (
  SELECT t.trunk, count(p.startDateTime) AS calls
  FROM peaks t LEFT JOIN source_calls p
    ON p.call_date = DATE '{{previous}}' AND p.trunkFullyQualifiedDomainName IS NOT DISTINCT FROM t.trunk
   AND coalesce(p.endDateTime, p.failureDateTime, p.startDateTime) > TIMESTAMPTZ '{{day}} 00:00:00+00'
  GROUP BY t.trunk)
SELECT p.trunk AS {TRUNK}, c.calls AS calls_from_previous_day, p.peak AS peak_concurrent_calls,
       min(m.minute) FILTER (WHERE m.calls = p.peak) AS peak_concurrent_minute,
       p.inbound AS peak_concurrent_inbound, p.outbound AS peak_concurrent_outbound,
       p.p95 AS p95_concurrent_calls, p.minutes
FROM peaks p JOIN carried c ON c.trunk IS NOT DISTINCT FROM p.trunk
JOIN minutes m ON m.trunk IS NOT DISTINCT FROM p.trunk
GROUP BY ALL ORDER BY p.trunk NULLS LAST
"""
CONCURRENCY_COLUMNS = (
    "calls_from_previous_day",
    "peak_concurrent_calls",
    "peak_concurrent_minute",
    "peak_concurrent_inbound",
    "peak_concurrent_outbound",
    "p95_concurrent_calls",
)

HOURLY = f"""
WITH cells AS (
  SELECT trunk, hour, count(*) AS calls,
         count(*) FILTER (WHERE outcome IN {DELIVERED}) AS delivered_calls,
         count(*) FILTER (WHERE outcome <> 'unknown') AS ner_calls,
         count(*) FILTER (WHERE answered) AS answered_calls
  FROM classified GROUP BY trunk, hour),
reasons AS (
  SELECT trunk, hour, code, sub_reason, phrase, calls,
         row_number() OVER (PARTITION BY trunk, hour
                            ORDER BY calls DESC, code ASC NULLS LAST, sub_reason ASC NULLS LAST) AS rank
  FROM (SELECT trunk, hour, code, sub_reason, min(phrase) AS phrase, count(*) AS calls
        FROM classified WHERE outcome <> 'answered' GROUP BY trunk, hour, code, sub_reason)),
top AS (
  SELECT trunk, hour,
         list(struct_pack(code := code, sub_reason := sub_reason, phrase := phrase, calls := calls) ORDER BY rank)
           AS top_call_end_reasons
  FROM reasons WHERE rank <= 5 GROUP BY trunk, hour),
hourly_peaks AS ({{peaks}})
SELECT c.trunk AS {TRUNK}, c.hour, c.calls, c.delivered_calls, c.ner_calls,
       c.delivered_calls::DOUBLE / nullif(c.ner_calls, 0) AS ner, c.answered_calls,
       c.answered_calls::DOUBLE / c.calls AS answer_seizure_ratio, p.peak AS peak_concurrent_calls,
       coalesce(t.top_call_end_reasons, []) AS top_call_end_reasons
FROM cells c LEFT JOIN top t ON t.trunk IS NOT DISTINCT FROM c.trunk AND t.hour = c.hour
LEFT JOIN hourly_peaks p ON p.trunk IS NOT DISTINCT FROM c.trunk AND p.hour = c.hour
ORDER BY c.trunk NULLS LAST, c.hour
"""
HOURLY_PEAKS = "SELECT trunk, date_trunc('hour', minute) AS hour, max(calls) AS peak FROM minutes GROUP BY ALL"
NO_PEAKS = "SELECT NULL::VARCHAR AS trunk, NULL::TIMESTAMPTZ AS hour, NULL::BIGINT AS peak WHERE false"


@dataclass
class Lake:
    """A lake root in one table format; ``tenants`` lists the tenants of a lake of many (empty: one tenant)."""

    table_format: str
    root: str
    tenants: list[str] = field(default_factory=list)

    def source(self, tenant: str | None = None):
        return report_sink(self.root, DIRECT_ROUTING, self.table_format, tenant=tenant)

    def gold(self, table=TRUNK_HEALTH):
        return gold_table_sink(self.root, table, self.table_format)

    def duckdb(self) -> duckdb.DuckDBPyConnection:
        """A connection whose ``source_calls`` view is the source table, read without the pipeline's sinks."""
        connection = duckdb.connect()
        connection.execute("SET TimeZone = 'UTC'")  # minutes and hours are UTC's
        table = f"{self.root}/{DIRECT_ROUTING.table}"
        if self.table_format == "delta":
            connection.register("delta_calls", DeltaTable(table).to_pyarrow_dataset())
            connection.execute("CREATE VIEW source_calls AS SELECT * FROM delta_calls")
        else:
            levels = "*/*" if self.tenants else "*"
            connection.execute(
                "CREATE VIEW source_calls AS SELECT * FROM "
                f"read_parquet('{table}/{levels}/{DATA_FILE}', hive_partitioning = true)"
            )
        return connection


def records(connection: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    relation = connection.sql(sql)
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def approx(record: dict[str, Any]) -> dict[str, Any]:
    return {k: pytest.approx(v, rel=REL) if isinstance(v, float) else v for k, v in record.items()}


def expected_days(lake: Lake, day: date, previous_in_lake: bool) -> list[dict[str, Any]]:
    """The day's schema-version-2 columns per trunk by SQL (concurrency null without the previous day)."""
    connection = lake.duckdb()
    connection.execute(CLASSIFIED.format(day=day))
    rows = records(connection, DAILY)
    if not previous_in_lake:
        return [row | dict.fromkeys(CONCURRENCY_COLUMNS) for row in rows]
    connection.execute(MINUTES.format(day=day, previous=day - timedelta(days=1)))
    concurrency = records(connection, CONCURRENCY.format(day=day, previous=day - timedelta(days=1)))
    assert [c[TRUNK] for c in concurrency] == [r[TRUNK] for r in rows]
    assert {c.pop("minutes") for c in concurrency} == {1440}
    return [row | c for row, c in zip(rows, concurrency, strict=True)]


def expected_hours(lake: Lake, day: date, previous_in_lake: bool) -> list[dict[str, Any]]:
    connection = lake.duckdb()
    connection.execute(CLASSIFIED.format(day=day))
    if previous_in_lake:
        connection.execute(MINUTES.format(day=day, previous=day - timedelta(days=1)))
    return records(connection, HOURLY.format(peaks=HOURLY_PEAKS if previous_in_lake else NO_PEAKS))


def gold_rows(gold, day: date, columns) -> list[dict[str, Any]]:
    rows = read_day(gold, day)
    assert rows is not None
    return [{c: r[c] for c in columns} for r in rows.to_pylist()]


def assert_rows_match(got: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    assert [g[TRUNK] for g in got] == [e[TRUNK] for e in expected]
    for g, e in zip(got, expected, strict=True):
        assert g == approx(e), g[TRUNK]


# --- the lakes ---------------------------------------------------------------------------------------------


@pytest.fixture(params=["parquet", "delta"])
def lake(request, emulator, tmp_path):
    """Three weekdays of one tenant's calls pulled from the emulator (the first day's previous day is not)."""
    emu = emulator(rows_per_day=1500, seed=61)
    lake = Lake(request.param, str(tmp_path / "lake"))
    client, source = emulator_client(emu), lake.source()
    for day in DAYS:
        extract_day(client, source, day, concurrency=1)
    return lake


def test_new_trunk_health_columns_match_duckdb(lake):
    source, gold = lake.source(), lake.gold()
    columns = ["calls", *TRUNK_HEALTH.column_names[TRUNK_HEALTH.column_names.index("calls_by_outcome") :]]
    carried = 0
    for day in DAYS:
        build_day(source, gold, day)
        previous_in_lake = day != DAYS[0]
        expected = expected_days(lake, day, previous_in_lake)
        got = gold_rows(gold, day, [TRUNK, *columns])
        assert_rows_match([{k: v for k, v in g.items() if k != "calls"} for g in got], expected)
        if previous_in_lake:
            carried += sum(g["calls_from_previous_day"] for g in got)
            # the figures are not trivial: several calls up at once, a p95 above idle
            assert all(g["peak_concurrent_calls"] >= 3 and g["p95_concurrent_calls"] > 0 for g in got)
        else:
            assert all(g[c] is None for g in got for c in CONCURRENCY_COLUMNS)
        outcomes = {o["value"] for g in got for o in g["calls_by_outcome"]}
        assert {"answered", "completed_elsewhere", "network_failure"} <= outcomes
        assert sum(g["calls"] for g in got) == source.read_manifest(day).rows
    assert carried > 0  # late-evening calls were still up after midnight


def test_hourly_table_matches_duckdb(lake):
    source, gold = lake.source(), lake.gold(TRUNK_HEALTH_HOURLY)
    for day in DAYS:
        build_hourly_day(source, gold, day)
        expected = expected_hours(lake, day, day != DAYS[0])
        got = gold_rows(gold, day, TRUNK_HEALTH_HOURLY.column_names)
        assert [(g[TRUNK], g["hour"]) for g in got] == [(e[TRUNK], e["hour"]) for e in expected]
        for g, e in zip(got, expected, strict=True):
            assert g == approx(e), (g[TRUNK], g["hour"])
        assert sum(g["calls"] for g in got) == source.read_manifest(day).rows
        assert any(len(g["top_call_end_reasons"]) == 5 for g in got)  # the cut at five is exercised


MONTHLY = f"""
WITH calls AS (
  SELECT trunkFullyQualifiedDomainName AS trunk, call_date, {OUTCOME} AS outcome
  FROM source_calls WHERE call_date BETWEEN DATE '{{first}}' AND DATE '{{last}}'),
with_figure AS (  -- the (trunk, day) pairs whose day has a concurrency figure: its previous day is in the lake
  SELECT DISTINCT trunk, call_date FROM calls
  WHERE call_date - 1 IN (SELECT DISTINCT call_date FROM source_calls)),
sessions AS (
  SELECT trunkFullyQualifiedDomainName AS trunk,
         date_trunc('minute', coalesce(inviteDateTime, startDateTime)) AS first_minute,
         date_trunc('minute', CASE
           WHEN coalesce(endDateTime, failureDateTime, startDateTime) > coalesce(inviteDateTime, startDateTime)
           THEN coalesce(endDateTime, failureDateTime, startDateTime) - INTERVAL 1 MICROSECOND
           ELSE coalesce(inviteDateTime, startDateTime) END) AS last_minute
  FROM source_calls),
month_minutes AS (
  SELECT unnest(generate_series(TIMESTAMPTZ '{{first}} 00:00:00+00', TIMESTAMPTZ '{{last}} 23:59:00+00',
                                INTERVAL 1 MINUTE)) AS minute),
busy AS (  -- calls up per trunk and minute, in the days on which the trunk has calls and a figure
  SELECT s.trunk, m.minute, count(*) AS calls
  FROM sessions s JOIN month_minutes m ON m.minute BETWEEN s.first_minute AND s.last_minute
  JOIN with_figure w ON w.trunk IS NOT DISTINCT FROM s.trunk AND w.call_date = m.minute::DATE
  GROUP BY s.trunk, m.minute)
SELECT c.trunk AS {TRUNK}, count(DISTINCT c.call_date)::INT AS days,
       count(*) FILTER (WHERE outcome IN {DELIVERED}) AS delivered_calls,
       count(*) FILTER (WHERE outcome <> 'unknown') AS ner_calls,
       (count(*) FILTER (WHERE outcome IN {DELIVERED}))::DOUBLE
         / nullif(count(*) FILTER (WHERE outcome <> 'unknown'), 0) AS ner,
       (SELECT max(calls) FROM busy b WHERE b.trunk IS NOT DISTINCT FROM c.trunk) AS peak_concurrent_calls,
       (SELECT count(*) FROM with_figure w WHERE w.trunk IS NOT DISTINCT FROM c.trunk)::INT AS concurrency_days
FROM calls c GROUP BY c.trunk ORDER BY c.trunk NULLS LAST
"""


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_monthly_rollup_new_columns_match_duckdb(table_format, emulator, tmp_path):
    """A full month at a small volume (weekend days hold a handful of calls, so a trunk may miss a day); the month's
    first day has no previous day in the lake, so it has no concurrency figure."""
    lake = Lake(table_format, str(tmp_path / "lake"))
    emu = emulator(rows_per_day=40, seed=62)
    client, source = emulator_client(emu), lake.source()
    gold, monthly = lake.gold(), lake.gold(TRUNK_HEALTH_MONTHLY)
    days = days_of_month(MONTH)
    for day in days:
        extract_day(client, source, day, concurrency=1)
        build_day(source, gold, day)
    build_month(gold, monthly, MONTH)
    columns = [TRUNK, "days", "delivered_calls", "ner_calls", "ner", "peak_concurrent_calls", "concurrency_days"]
    expected = records(lake.duckdb(), MONTHLY.format(first=days[0], last=days[-1]))
    assert_rows_match(gold_rows(monthly, MONTH, columns), expected)
    assert all(e["concurrency_days"] < len(days) for e in expected)  # the first day counts in none


# --- the carrier's view: every tenant's calls --------------------------------------------------------------

CONTOSO = "3f7a2c1e-0000-4000-8000-000000000001"
FABRIKAM = "3f7a2c1e-0000-4000-8000-000000000002"


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_sbc_view_new_columns_across_tenants_match_duckdb(table_format, emulator, tmp_path):
    """Three tenants of the carrier's SBCs; fabrikam's first day is the second: on that day its previous day is
    missing, and every concurrency figure of the view is null (never a silently low peak)."""
    emu = emulator(
        rows_per_day=700,
        seed=63,
        tenants=(TenantConfig(CONTOSO), TenantConfig(FABRIKAM, rows_per_day=400)),
    )
    lake = Lake(table_format, str(tmp_path / "lake"), tenants=["adatum", "contoso", "fabrikam"])
    pulls = {"adatum": (None, DAYS), "contoso": (CONTOSO, DAYS), "fabrikam": (FABRIKAM, DAYS[1:])}
    sources = {}
    for slug, (tenant_id, days) in pulls.items():
        sources[slug] = lake.source(slug)
        client = emulator_client(emu) if tenant_id is None else emulator_client(emu, tenant=tenant_id)
        for day in days:
            extract_day(client, sources[slug], day, concurrency=1)
    gold = lake.gold(SBC_HEALTH)
    columns = ["tenants", "calls", *SBC_HEALTH.column_names[SBC_HEALTH.column_names.index("calls_by_outcome") :]]
    for day, complete in ((DAYS[1], False), (DAYS[2], True)):
        manifest = build_sbc_day(sources, gold, day)
        missing = [(m.tenant, m.partition) for m in manifest.missing_sources]
        assert missing == ([] if complete else [("fabrikam", DAYS[0])])
        expected = expected_days(lake, day, complete)
        totals = records(
            lake.duckdb(),
            f"""SELECT trunkFullyQualifiedDomainName AS {TRUNK}, count(DISTINCT tenant)::INT AS tenants,
                       count(*) AS calls
                FROM source_calls WHERE call_date = DATE '{day}' GROUP BY 1 ORDER BY 1 NULLS LAST""",
        )
        got = gold_rows(gold, day, [TRUNK, *columns])
        assert_rows_match(got, [t | e for t, e in zip(totals, expected, strict=True)])
        assert all(g["tenants"] == 3 for g in got)  # the emulator's tenants share its SBCs
        if complete:
            assert sum(g["calls_from_previous_day"] for g in got) > 0
        else:
            assert all(g[c] is None for g in got for c in CONCURRENCY_COLUMNS)


# --- the emulator's days, made awkward: what Graph may send but the emulator does not --------------------------

AWKWARD_CODES = [(600, "Busy Everywhere"), (410, "Gone"), (484, "Address Incomplete"), (604, "Does Not Exist"),
                 (403, "Forbidden"), (500, "Server Internal Error"), (502, "Bad Gateway"), (504, "Server Time-out"),
                 (200, "OK")]  # fmt: skip
AWKWARD_TYPES = ["dr_in", "DR_OUT_transfer", "BYOTIN", "Dr_In_pstn", "conference"]


def _parse(stamp: str | None) -> datetime | None:
    return None if stamp in (None, SENTINEL) else datetime.fromisoformat(stamp)


def _stamp(moment: datetime | None) -> str:
    if moment is None:
        return SENTINEL
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def awkward(rows: list[dict], day: date, *, crossing: bool = False) -> list[dict]:
    """The emulator's rows of ``day`` with every 23rd one changed in its own way: no final SIP code, a success flag
    that disagrees with the code, codes of the outcome table the emulator never sends, ``dr_in``/``dr_out`` and
    mixed-case call types, zero-length calls, ends on a minute's first instant, no INVITE, neither end nor failure,
    no trunk, an end before the start. ``crossing``: the evening's last calls are held past midnight, one on a trunk
    without calls the next day, one ending at midnight exactly."""
    changed = []
    for i, source in enumerate(rows):
        row = dict(source)
        start = _parse(row["startDateTime"])
        assert start is not None
        kind = i % 23
        if kind == 1:
            row |= {"finalSipCode": None, "finalSipCodePhrase": None, "callEndSubReason": None, "successfulCall": False}
        elif kind == 2:
            row |= {"finalSipCode": None, "finalSipCodePhrase": None, "successfulCall": True}
        elif kind == 3:
            row |= {"finalSipCode": 487, "callEndSubReason": 540200, "successfulCall": True}
        elif kind == 4:
            code, phrase = AWKWARD_CODES[i // 23 % len(AWKWARD_CODES)]
            row |= {"finalSipCode": code, "finalSipCodePhrase": phrase, "callEndSubReason": 560000 + code}
        elif kind == 5:
            row["callType"] = AWKWARD_TYPES[i // 23 % len(AWKWARD_TYPES)]
        elif kind == 6:  # zero length
            row |= {"inviteDateTime": _stamp(start), "failureDateTime": SENTINEL, "endDateTime": _stamp(start)}
        elif kind == 7:  # its end is a minute's first instant, which is not a moment up
            minute = start.replace(second=0, microsecond=0)
            row |= {"failureDateTime": SENTINEL, "endDateTime": _stamp(minute + timedelta(minutes=2))}
        elif kind == 8:
            row["inviteDateTime"] = SENTINEL
        elif kind == 9:
            row |= {"failureDateTime": SENTINEL, "endDateTime": SENTINEL}
        elif kind == 10:
            row["trunkFullyQualifiedDomainName"] = None
        elif kind == 11:
            row |= {"finalSipCode": 200, "finalSipCodePhrase": "OK", "callEndSubReason": 540000}
        elif kind == 12:
            row |= {"failureDateTime": SENTINEL, "endDateTime": _stamp(start - timedelta(seconds=3))}
        elif kind == 13:  # INVITE and start on a minute's first instant
            minute = start.replace(second=0, microsecond=0)
            row |= {"inviteDateTime": _stamp(minute), "startDateTime": _stamp(minute)}
        changed.append(row)
    if crossing:
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
        late = changed[-6:]
        for k, row in enumerate(late):
            row |= {"failureDateTime": SENTINEL, "endDateTime": _stamp(midnight + timedelta(minutes=10 + 7 * k))}
        late[0]["trunkFullyQualifiedDomainName"] = "sbc-yesterday-only.example"
        late[1]["trunkFullyQualifiedDomainName"] = None
        late[2] |= {"endDateTime": _stamp(midnight)}
    return changed


EDGE_TRUNK = "sbc-edge.example"
EDGE_HOURS = range(2, 20)
EDGE_TYPES = ["Dr_In_pstn", "DR_OUT", "DR_IN", "dr_Out_transfer"]  # dr_ prefixes in mixed case only


def edge_trunk_rows(template: dict, day: date) -> list[dict]:
    """A quiet trunk whose figures hang on the definitions' edges, four busy minutes an hour for 18 hours (72 of
    1,440: the 95th percentile falls between an idle and a busy minute, 0.05, as no other quantile would). Every
    hour h (its INVITE 5 s before, none in odd hours) a call starts at h:00:25 and ends on a minute's first instant;
    the next starts at that instant and talks for exactly 15 s (not a short call): an end instant is no moment up,
    so no minute has two calls. Then, by h mod 3:

    0. a zero-length call at h:30:00.000 (up in h:30; the chain is up in h:00, h:01, h:02);
    1. a call whose end is 3 s before its INVITE and start at h:30:00.000 (as 0);
    2. a call with neither end nor failure, its INVITE at h:29:50 and its start at h:30:10 (up in h:29 and h:30;
       the chain ends a minute earlier: up in h:00 and h:01).
    """
    rows = []
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)

    def call(name: str, invite, start, end, n: int) -> None:
        rows.append(
            dict(
                template,
                id=f"edge-{name}",
                trunkFullyQualifiedDomainName=EDGE_TRUNK,
                callType=EDGE_TYPES[n % len(EDGE_TYPES)],
                inviteDateTime=_stamp(invite),
                startDateTime=_stamp(start),
                endDateTime=_stamp(end),
                failureDateTime=SENTINEL,
                successfulCall=True,
                finalSipCode=0,
                finalSipCodePhrase="BYE",
                callEndSubReason=540000,
                duration=int(((end or start) - (invite or start)).total_seconds()),
            )
        )

    for h in EDGE_HOURS:
        hour = midnight + timedelta(hours=h)
        second = hour + timedelta(minutes=1 if h % 3 == 2 else 2)
        start = hour + timedelta(seconds=25)
        call(f"{h}-a", start - timedelta(seconds=5) if h % 2 == 0 else None, start, second, h)
        call(f"{h}-b", second, second, second + timedelta(seconds=15), h + 1)
        half = hour + timedelta(minutes=30)
        if h % 3 == 0:
            call(f"{h}-c", half, half, half, h + 2)
        elif h % 3 == 1:
            call(f"{h}-c", half, half, half - timedelta(seconds=3), h + 2)
        else:
            call(f"{h}-c", half - timedelta(seconds=10), half + timedelta(seconds=10), None, h + 2)
    return rows


def pulled_rows(client, day: date) -> list[dict]:
    start, end = day_window(day)
    return [row for page in client.iter_pages(Window(start, end), PullStats()) for row in page.rows()]


@pytest.fixture(params=["parquet", "delta"])
def awkward_lake(request, emulator, tmp_path):
    """Two days of the emulator's calls made awkward (``awkward``), committed through the pipeline's own prepare."""
    emu = emulator(rows_per_day=800, seed=64)
    lake = Lake(request.param, str(tmp_path / "lake"))
    client, source = emulator_client(emu), lake.source()
    for day in DAYS[:2]:
        rows = awkward(pulled_rows(client, day), day, crossing=day == DAYS[0])
        if day == DAYS[1]:
            rows += edge_trunk_rows(rows[0], day)
        commit_rows(source, day, pages_of(rows))
    return lake


def test_awkward_days_match_duckdb(awkward_lake):
    lake, day = awkward_lake, DAYS[1]
    source = lake.source()
    gold, hourly = lake.gold(), lake.gold(TRUNK_HEALTH_HOURLY)
    build_day(source, gold, day)
    columns = TRUNK_HEALTH.column_names[TRUNK_HEALTH.column_names.index("calls_by_outcome") :]
    got = gold_rows(gold, day, [TRUNK, *columns])
    assert_rows_match(got, expected_days(lake, day, True))
    assert got[-1][TRUNK] is None and got[-1]["calls_from_previous_day"] == 1
    assert {o["value"] for g in got for o in g["calls_by_outcome"]} == set(OUTCOMES)
    edge = next(g for g in got if g[TRUNK] == EDGE_TRUNK)
    peaks = ("peak_concurrent_calls", "peak_concurrent_inbound", "peak_concurrent_outbound")
    assert [edge[c] for c in peaks] == [1, 1, 1]  # never two calls in a minute; dr_ prefixes in any case
    assert edge["p95_concurrent_calls"] == pytest.approx(0.05)
    # talk: 95 s (35 s when h mod 3 = 2) and exactly 15 s (not short) every hour; 0 s or -3 s (short) in 12 hours
    assert edge["average_call_duration_calls"] == 48
    assert (edge["short_call_share"], edge["average_call_duration_s"]) == (0.25, pytest.approx(1602 / 48))
    build_hourly_day(source, hourly, day)
    hours = gold_rows(hourly, day, TRUNK_HEALTH_HOURLY.column_names)
    expected = expected_hours(lake, day, True)
    assert [(g[TRUNK], g["hour"]) for g in hours] == [(e[TRUNK], e["hour"]) for e in expected]
    for g, e in zip(hours, expected, strict=True):
        assert g == approx(e), (g[TRUNK], g["hour"])
