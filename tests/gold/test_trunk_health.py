"""Trunk health (daily and monthly) against DuckDB queries over the source partitions, and its quality checks.

Every test runs in both table formats: Parquet partitions, and Delta tables (DuckDB then reads the source through an
independent ``deltalake.DeltaTable`` dataset, never through the pipeline's sinks).
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb
import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from call_logs.extract import extract_day
from call_logs.gold.monthly import MonthIncomplete, build_month
from call_logs.gold.quality import check_gold
from call_logs.gold.store import read_day
from call_logs.gold.table import TRUNK, TRUNK_HEALTH, TRUNK_HEALTH_MONTHLY
from call_logs.gold.trunk_health import build_day
from call_logs.lake.layout import DATA_FILE
from call_logs.lake.storage import publish_file
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.utc import days_of_month
from deltalake import DeltaTable

from tests.helpers import emulator_client
from tests.sinks import gold_table_sink, report_sink

DAYS = [date(2026, 2, 1) + timedelta(days=i) for i in range(3)]

PARQUET_SOURCE = "read_parquet('{lake}/direct_routing_calls/*/*.parquet', hive_partitioning = true)"
TOTALS = """
SELECT trunkFullyQualifiedDomainName, count(*), count(*) FILTER (WHERE successfulCall),
       count(*) FILTER (WHERE finalSipCode IN (0, 200)), count(*) FILTER (WHERE mediaBypassEnabled),
       quantile_cont(duration, 0.5) FILTER (WHERE successfulCall),
       quantile_cont(duration, 0.95) FILTER (WHERE successfulCall)
FROM {source} WHERE call_date = DATE '{day}' GROUP BY 1 ORDER BY 1 NULLS LAST
"""
TOP_CODES = """
SELECT trunk, code, phrase, calls FROM (
  SELECT trunkFullyQualifiedDomainName AS trunk, finalSipCode AS code, min(finalSipCodePhrase) AS phrase,
         count(*) AS calls,
         row_number() OVER (PARTITION BY trunkFullyQualifiedDomainName ORDER BY count(*) DESC, finalSipCode) AS rank
  FROM {source} WHERE call_date = DATE '{day}' AND finalSipCode IS NOT NULL GROUP BY 1, 2)
WHERE rank <= 5 ORDER BY trunk NULLS LAST, rank
"""
LOCATIONS = """
SELECT trunkFullyQualifiedDomainName, {column}, count(*) FROM {source} WHERE call_date = DATE '{day}'
GROUP BY 1, 2 ORDER BY 1 NULLS LAST, 2 NULLS LAST
"""


def approx_rows(rows: list[tuple]) -> list[tuple]:
    """DuckDB's rows with their floats compared approximately: a quantile's last bits depend on the arithmetic."""
    return [tuple(pytest.approx(v, rel=1e-12) if isinstance(v, float) else v for v in row) for row in rows]


@dataclass
class Lake:
    table_format: str
    root: str
    fs: fsspec.AbstractFileSystem

    def source(self):
        return report_sink(self.root, DIRECT_ROUTING, self.table_format, fs=self.fs)

    def gold(self, table=TRUNK_HEALTH):
        return gold_table_sink(self.root, table, self.table_format, fs=self.fs)


@pytest.fixture(params=["parquet", "delta"])
def lake(request, emulator, tmp_path):
    """Three days of direct-routing calls pulled from the emulator (varied trunks, codes, locations) and their sinks."""
    emu = emulator(rows_per_day=1200, seed=51)
    lake = Lake(request.param, str(tmp_path / "lake"), fsspec.filesystem("file"))
    client = emulator_client(emu)
    source = lake.source()
    for day in DAYS:
        extract_day(client, source, day, concurrency=1)
    return lake


def query(lake: Lake, sql: str, **values) -> list[tuple]:
    """Run ``sql`` with ``{source}`` bound to the lake's source table."""
    connection = duckdb.connect()
    if lake.table_format == "delta":
        connection.register("source_calls", DeltaTable(f"{lake.root}/direct_routing_calls").to_pyarrow_dataset())
        source = "source_calls"
    else:
        source = PARQUET_SOURCE.format(lake=lake.root)
    return connection.sql(sql.format(source=source, **values)).fetchall()


def test_daily_rows_match_duckdb_over_the_source_partitions(lake):
    source, gold = lake.source(), lake.gold()
    for day in DAYS:
        manifest = build_day(source, gold, day, run={"test": True})
        rows = read_day(gold, day)
        assert rows is not None and rows.schema.equals(TRUNK_HEALTH.schema)
        assert manifest.rows == rows.num_rows > 1
        assert manifest.sources[0].sha256 == source.read_manifest(day).file.sha256
        got = rows.to_pylist()
        expected = query(lake, TOTALS, day=day)
        assert [
            (
                r[TRUNK],
                r["calls"],
                r["successful_calls"],
                r["answered_calls"],
                r["media_bypass_calls"],
                r["duration_p50_s"],
                r["duration_p95_s"],
            )
            for r in got
        ] == approx_rows(expected)
        for r in got:
            assert r["success_rate"] == pytest.approx(r["successful_calls"] / r["calls"])
            assert r["answer_seizure_ratio"] == pytest.approx(r["answered_calls"] / r["calls"])
            assert r["media_bypass_share"] == pytest.approx(r["media_bypass_calls"] / r["calls"])
        codes = [(r[TRUNK], c["code"], c["phrase"], c["calls"]) for r in got for c in r["top_final_sip_codes"]]
        assert codes == [tuple(row) for row in query(lake, TOP_CODES, day=day)]
        for gold_column, column in (
            ("calls_by_signaling_location", "signalingLocation"),
            ("calls_by_media_location", "mediaPathLocation"),
        ):
            located = [(r[TRUNK], c["value"], c["calls"]) for r in got for c in r[gold_column]]
            assert located == [tuple(row) for row in query(lake, LOCATIONS, day=day, column=column)]
        assert sum(r["calls"] for r in got) == source.read_manifest(day).rows


def test_a_day_is_idempotent_and_passes_its_checks(lake):
    source, gold = lake.source(), lake.gold()
    day = DAYS[1]  # its previous day is in the lake: its concurrency is complete
    first = build_day(source, gold, day)
    if lake.table_format == "parquet":
        data_file = Path(gold.location(day)) / DATA_FILE
        before = data_file.read_bytes()
        build_day(source, gold, day)
        assert data_file.read_bytes() == before
    else:  # one more version, holding the same rows; the other days untouched
        build_day(source, gold, DAYS[2])
        table = DeltaTable(f"{lake.root}/{TRUNK_HEALTH.table}")
        version, other = table.version(), read_day(gold, DAYS[2])
        again = build_day(source, gold, day)
        table = DeltaTable(f"{lake.root}/{TRUNK_HEALTH.table}")
        assert table.version() == version + 1 and gold.table_version(day) == version + 1
        assert again.file.sha256 == first.file.sha256 and read_day(gold, DAYS[2]).equals(other)
        assert table.to_pyarrow_table(filters=[("call_date", "=", day)]).num_rows == first.rows
    report = check_gold(gold, day, {source.spec.table: source}).to_dict()
    assert report["status"] == "pass", [c for c in report["checks"] if c["status"] == "fail"]
    assert {c["name"] for c in report["checks"]} == {
        "file_matches_manifest",
        "one_row_per_trunk",
        "counts_within_calls",
        "rates_in_unit_interval",
        "locations_add_up_to_calls",
        "outcomes_add_up",
        "peak_within_possible_calls",
        "peak_at_least_busiest_minute",
        "calls_match_source_rows",
        "computed_from_current_source",
        "concurrency_complete",
        "trunk_regression",
    }


def test_checks_catch_a_gold_day_that_lost_a_trunk_or_outlived_its_source(lake, emulator):
    source, gold = lake.source(), lake.gold()
    day = DAYS[1]
    build_day(source, gold, day)
    rows = read_day(gold, day)
    if lake.table_format == "parquet":
        with tempfile.TemporaryDirectory() as workdir:  # a gold file (and manifest) without its first trunk
            local = os.path.join(workdir, DATA_FILE)
            pq.write_table(rows.slice(1), local)
            publish_file(lake.fs, local, f"{gold.location(day)}/{DATA_FILE}")
    else:  # somebody deletes the first trunk's row outside the pipeline
        first = rows[TRUNK][0].as_py()
        DeltaTable(f"{lake.root}/{TRUNK_HEALTH.table}").delete(
            f"call_date = '{day}' AND {TRUNK} = '{first}'" if first else f"call_date = '{day}' AND {TRUNK} IS NULL"
        )
    failed = {r.name for r in check_gold(gold, day, {source.spec.table: source}).results if r.failed}
    assert failed == {"file_matches_manifest", "calls_match_source_rows"}

    build_day(source, gold, day)
    emu = emulator(rows_per_day=900, seed=52)  # the source day is pulled again and now differs
    extract_day(emulator_client(emu), source, day, concurrency=1)
    failed = {r.name for r in check_gold(gold, day, {source.spec.table: source}).results if r.failed}
    assert failed == {"calls_match_source_rows", "computed_from_current_source"}


def test_the_monthly_rollup_sums_every_day_and_refuses_an_incomplete_month(lake, emulator, tmp_path):
    gold, monthly = lake.gold(), lake.gold(TRUNK_HEALTH_MONTHLY)
    month = date(2026, 2, 1)
    emu = emulator(rows_per_day=150, seed=53)
    client = emulator_client(emu)
    source = lake.source()
    days = days_of_month(month)
    for day in days[:-1]:
        extract_day(client, source, day, concurrency=1)
        build_day(source, gold, day)
    with pytest.raises(MonthIncomplete, match="2026-02-28"):
        build_month(gold, monthly, month)
    extract_day(client, source, days[-1], concurrency=1)
    build_day(source, gold, days[-1])
    manifest = build_month(gold, monthly, month)
    assert [s.partition for s in manifest.sources] == days
    rows = read_day(monthly, month)
    expected = query(
        lake,
        """SELECT trunkFullyQualifiedDomainName, count(DISTINCT call_date)::INT, count(*),
                   count(*) FILTER (WHERE successfulCall), count(*) FILTER (WHERE finalSipCode IN (0, 200)),
                   count(*) FILTER (WHERE mediaBypassEnabled)
            FROM {source} WHERE call_date BETWEEN DATE '{first}' AND DATE '{last}'
            GROUP BY 1 ORDER BY 1 NULLS LAST""",
        first=days[0],
        last=days[-1],
    )
    got = [
        (r[TRUNK], r["days"], r["calls"], r["successful_calls"], r["answered_calls"], r["media_bypass_calls"])
        for r in rows.to_pylist()
    ]
    assert got == [tuple(row) for row in expected]
    assert monthly.read_manifest(month).partition == month
    if lake.table_format == "delta":  # a Delta table partitioned by its month's first day, read independently
        table = DeltaTable(f"{lake.root}/{TRUNK_HEALTH_MONTHLY.table}")
        assert table.metadata().partition_columns == ["month"]
        assert table.to_pyarrow_table(filters=[("month", "=", month)]).num_rows == rows.num_rows
    report = check_gold(monthly, month, {gold.spec.table: gold}).to_dict()
    assert report["status"] == "pass", [c for c in report["checks"] if c["status"] == "fail"]
    assert pa.types.is_int32(rows.schema.field("days").type)
