"""A re-check pulls a settled day again from the emulator and keeps the new version only if it changed.

Real client over TLS, real preparation, real Parquet and Delta sinks: late calls added, corrected and removed in
the emulator show up as exactly those rows in the manifest's ``recheck`` (by hour); an unchanged day is not
written again (the same bytes, no new Delta version); every re-check lands in the ledger that quality reads.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import fsspec
import pyarrow as pa
import pytest
from call_logs.extract import extract_day
from call_logs.lake.day_diff import diff_days, row_digests
from call_logs.recheck import RecheckLedger, recheck_day, recheck_skip_reason
from call_logs.reports.direct_routing import DIRECT_ROUTING

from tests.helpers import emulator_client
from tests.sinks import report_sink

DAY = date(2026, 3, 3)
END = datetime(2026, 3, 4, tzinfo=UTC)


def lake_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def ids(sink) -> set[str]:
    return set(sink.read_columns(DAY, ["id"])["id"].to_pylist())


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_late_calls_are_folded_in_and_an_unchanged_day_is_left_alone(emulator, tmp_path, table_format):
    emu = emulator(rows_per_day=2500, seed=5)
    sink = report_sink(tmp_path / "lake", table_format=table_format)
    first = extract_day(emulator_client(emu), sink, DAY, concurrency=2)
    before = lake_bytes(tmp_path / "lake")
    version = sink.table_version(DAY)

    record, manifest = recheck_day(emulator_client(emu), sink, DAY, first, concurrency=2)
    assert manifest is None and not record.changed and record.diff.unchanged
    assert (record.rows_before, record.rows_after) == (2500, 2500)
    assert lake_bytes(tmp_path / "lake") == before and sink.table_version(DAY) == version

    stored = sorted(sink.read_columns(DAY, ["id", "startDateTime"]).to_pylist(), key=lambda r: r["startDateTime"])
    changed, gone = stored[10]["id"], stored[2000]["id"]
    late = emu.add_late_calls(DAY.isoformat(), 3, changed=[changed], removed=[gone], change_s=90)
    record, manifest = recheck_day(emulator_client(emu), sink, DAY, first, concurrency=2, run={"run_id": "r2"})
    assert manifest is not None and record.changed
    assert (record.diff.added, record.diff.removed, record.diff.changed) == (3, 1, 1)
    assert sum(sum(counts.values()) for counts in record.diff.by_hour.values()) == 5
    assert stored[2000]["startDateTime"].hour in record.diff.by_hour  # the removed call counts in its own hour
    assert manifest.rows == 2502 and manifest.recheck is not None
    assert manifest.recheck["previous"]["sha256"] == first.file.sha256
    assert (manifest.recheck["added"], manifest.recheck["removed"], manifest.recheck["changed"]) == (3, 1, 1)
    assert ids(sink) == (ids_before := {r["id"] for r in stored}) - {gone} | {r["id"] for r in late["added"]}
    assert len(ids_before) == 2500
    stored_manifest = sink.read_manifest(DAY)
    assert stored_manifest is not None and stored_manifest.recheck == manifest.recheck  # read back as written
    if table_format == "delta":
        assert sink.table_version(DAY) == version + 1  # one new version for the changed day

    after = lake_bytes(tmp_path / "lake")
    record, manifest = recheck_day(emulator_client(emu), sink, DAY, stored_manifest, concurrency=2)
    assert manifest is None and record.diff.unchanged and lake_bytes(tmp_path / "lake") == after


def test_the_ledger_keeps_each_days_latest_recheck_and_sums_them(emulator, tmp_path):
    emu = emulator(rows_per_day=300, seed=9)
    sink = report_sink(tmp_path / "lake")
    ledger = RecheckLedger(fsspec.filesystem("file"), str(tmp_path / "lake"))
    first = extract_day(emulator_client(emu), sink, DAY, concurrency=1)
    unchanged, _ = recheck_day(emulator_client(emu), sink, DAY, first)
    ledger.record(sink.spec.table, None, unchanged)
    emu.add_late_calls(DAY.isoformat(), 2)
    changed, _ = recheck_day(emulator_client(emu), sink, DAY, first)
    ledger.record(sink.spec.table, None, changed)
    assert ledger.read(sink.spec.table, None, DAY) == changed  # the latest re-check of the day
    summary = ledger.summary(sink.spec.table, None, DAY, limit=28)
    assert (summary.rechecked, summary.changed, summary.rows_added) == (1, 1, 2)
    assert "1 of the last 1 re-checked days changed after settling (100%): 2 rows added" in summary.sentence(48)
    assert ledger.summary(sink.spec.table, "contoso", DAY, limit=28).rechecked == 0  # another tenant's ledger


def test_which_days_are_due_for_a_recheck(emulator, tmp_path):
    emu = emulator(rows_per_day=10, seed=1)
    sink = report_sink(tmp_path / "lake")
    first = extract_day(emulator_client(emu), sink, DAY, concurrency=1)
    now = first.finished_at
    assert "has not landed" in recheck_skip_reason(DAY, 7, None, 150, now)
    assert "older than the 5-day retention" in recheck_skip_reason(DAY, 7, first, 5, now)
    # A version pulled just now (a backfill, a re-run) is not pulled again; one pulled a week ago is.
    assert "last pulled 0.0 days ago" in recheck_skip_reason(DAY, 7, first, 10_000, now)
    assert recheck_skip_reason(DAY, 7, first, 10_000, now + timedelta(days=6, hours=13)) is None
    assert "last pulled 6.4 days ago" in recheck_skip_reason(DAY, 7, first, 10_000, now + timedelta(days=6, hours=10))


def test_a_null_and_an_empty_text_are_different_values():
    def day(value):
        batch = pa.record_batch(
            {
                "id": ["a", "b"],
                "startDateTime": pa.array(
                    [datetime(2026, 3, 3, 1), datetime(2026, 3, 3, 5)], pa.timestamp("us", "UTC")
                ),
                "callerNumber": [value, "x"],
                "trunks": pa.array([[{"id": "t1"}], None], pa.list_(pa.struct([("id", pa.string())]))),
            }
        )
        return row_digests([batch], "id", "startDateTime")

    assert diff_days(day(""), day("")).unchanged
    diff = diff_days(day(""), day(None))
    assert (diff.added, diff.removed, diff.changed, diff.by_hour) == (
        0,
        0,
        1,
        {1: {"added": 0, "removed": 0, "changed": 1}},
    )


def test_a_day_stored_under_an_older_schema_version_is_compared_on_its_columns_and_rewritten(emulator, tmp_path):
    v1 = dataclasses.replace(DIRECT_ROUTING, schema_version=1)  # before additionalProperties
    emu = emulator(rows_per_day=200, seed=3)
    first = extract_day(emulator_client(emu), report_sink(tmp_path / "lake", v1), DAY, concurrency=1)
    assert first.schema_version == 1
    sink = report_sink(tmp_path / "lake")
    record, manifest = recheck_day(emulator_client(emu), sink, DAY, first)
    assert record.diff.unchanged  # the same calls, value for value, on the columns version 1 had
    assert manifest is not None and manifest.schema_version == 2 and manifest.recheck["added"] == 0
    assert sink.read_manifest(DAY).schema_version == 2  # rewritten in the current schema all the same
