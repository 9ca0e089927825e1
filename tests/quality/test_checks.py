"""Each check, on partitions committed by the real writer and then broken in one precise way."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pytest
from call_logs.lake.layout import DATA_FILE, MANIFEST_FILE
from call_logs.quality.engine import check_report_day, write_report
from call_logs.quality.results import QualityReport
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.tables.checks import QualityThresholds

from tests.quality.conftest import DAY, SENTINEL, call_rows

ALL_CHECKS = {
    "data_file_present",
    "manifest_present",
    "manifest_matches_file",
    "row_count",
    "quarantine_matches_manifest",
    "quarantined_rows",
    "conflicting_duplicates",
    "schema",
    "unknown_properties",
    "null_ids",
    "duplicate_ids",
    "window_bounds",
    "successful_call_has_no_failure_time",
    "successful_call_has_end_time",
    "failed_call_has_failure_time",
    "call_outcome_known",
    "sentinel_leak",
    "sentinel_counts",
    "volume_vs_history",
    "zero_rows",
    "settled_day_unchanged",
}


def failing(report: QualityReport) -> set[str]:
    return {r.name for r in report.results if r.failed}


def result(report: QualityReport, name: str):
    return next(r for r in report.results if r.name == name)


def replace_value(table: pa.Table, column: str, index: int, value) -> pa.Table:
    values = table[column].to_pylist()
    values[index] = value
    return table.set_column(
        table.schema.get_field_index(column), column, pa.array(values, table.schema.field(column).type)
    )


def test_a_clean_partition_passes_every_check(lake):
    manifest = lake.commit(DAY, call_rows(40))
    report = check_report_day(lake.sink, DAY)
    assert {r.name for r in report.results} == ALL_CHECKS and report.skipped == []
    assert report.status == "pass" and failing(report) == set()
    assert report.rows == 40 and report.file_sha256 == manifest["file"]["sha256"]
    assert result(report, "sentinel_counts").observed == {
        "sentinels": {"endDateTime": 10, "failureDateTime": 30, "inviteDateTime": 0, "startDateTime": 0},
        "successful_calls": 30,
        "failed_calls": 10,
        "unknown_outcome_calls": 0,
    }
    assert report.summary_line() == "call_date=2024-01-02 PASS: 0 errors, 0 warnings; 40 rows"


def test_an_empty_day_without_history_passes(lake):
    lake.commit(DAY, [])
    report = check_report_day(lake.sink, DAY)
    assert report.status == "pass", report.summary_line()
    assert result(report, "volume_vs_history").observed == "no history"


def test_a_successful_call_with_a_real_failure_time_is_an_error(lake):
    rows = call_rows(20)
    rows[5]["failureDateTime"] = rows[5]["endDateTime"]
    lake.commit(DAY, rows)
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"successful_call_has_no_failure_time"}
    assert report.status == "fail"
    bad = result(report, "successful_call_has_no_failure_time")
    assert (bad.severity, bad.observed, bad.sample_ids) == ("error", 1, ["call-000005"])


def test_a_successful_call_without_an_end_time_is_an_error(lake):
    rows = call_rows(20)
    rows[6]["endDateTime"] = SENTINEL
    lake.commit(DAY, rows)
    report = check_report_day(lake.sink, DAY)
    # the sentinel on the wrong kind of call also breaks the manifest's sentinel split
    assert failing(report) == {"successful_call_has_end_time", "sentinel_counts"}
    assert result(report, "successful_call_has_end_time").sample_ids == ["call-000006"]


def test_a_failed_call_with_the_sentinel_as_failure_time_is_an_error(lake):
    rows = call_rows(20)
    rows[4]["failureDateTime"] = SENTINEL
    lake.commit(DAY, rows)
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"failed_call_has_failure_time", "sentinel_counts"}
    assert result(report, "failed_call_has_failure_time").sample_ids == ["call-000004"]
    counts = result(report, "sentinel_counts")
    assert counts.observed["sentinels"]["failureDateTime"] == 16 and counts.observed["successful_calls"] == 15


@pytest.mark.parametrize("failure", [None, "2024-01-01T23:00:00.000Z"], ids=["null", "before-invite"])
def test_a_failed_call_without_a_usable_failure_time_is_an_error(lake, failure):
    rows = call_rows(20)
    rows[8]["failureDateTime"] = failure
    lake.commit(DAY, rows)
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"failed_call_has_failure_time"}
    assert result(report, "failed_call_has_failure_time").sample_ids == ["call-000008"]


def test_an_unknown_call_outcome_is_a_warning(lake):
    rows = call_rows(20)
    rows[3]["successfulCall"] = None
    lake.commit(DAY, rows)
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"call_outcome_known"} and report.status == "warn"
    assert result(report, "call_outcome_known").sample_ids == ["call-000003"]


def test_a_duplicated_id_is_found_with_its_id(lake):
    lake.commit(DAY, call_rows(20))
    table = lake.table(DAY)
    lake.rewrite(DAY, pa.concat_tables([table, table.slice(7, 1)]))
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"duplicate_ids"}
    bad = result(report, "duplicate_ids")
    assert bad.observed == {"duplicated_ids": 1, "extra_rows": 1} and bad.sample_ids == ["call-000007"]


def test_rows_without_an_id_are_an_error(lake):
    lake.commit(DAY, call_rows(20))
    lake.rewrite(DAY, replace_value(lake.table(DAY), "id", 2, None))
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"null_ids"} and result(report, "null_ids").observed == 1


def test_a_row_outside_the_window_is_found_with_its_id(lake):
    lake.commit(DAY, call_rows(20))
    table = lake.table(DAY)
    lake.rewrite(DAY, replace_value(table, "startDateTime", 19, datetime(2024, 1, 3, 0, 0, tzinfo=UTC)))
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"window_bounds"}
    bad = result(report, "window_bounds")
    assert bad.observed["rows_outside"] == 1 and bad.sample_ids == ["call-000019"]


def test_a_manifest_window_that_is_not_the_day_is_an_error(lake):
    lake.commit(DAY, call_rows(20))
    manifest = lake.manifest(DAY)
    manifest["window"]["end"] = "2024-01-04T00:00:00Z"
    lake.write_manifest(DAY, manifest)
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"window_bounds"}
    assert "manifest's window" in result(report, "window_bounds").message


def test_a_row_deleted_after_the_manifest_was_written_is_caught(lake):
    lake.commit(DAY, call_rows(20))
    table = lake.table(DAY)
    lake.rewrite(DAY, pa.concat_tables([table.slice(0, 10), table.slice(11)]), fix_manifest=False)
    report = check_report_day(lake.sink, DAY)
    # the deleted call carried a sentinel, so the manifest's sentinel count now exceeds the calls left
    assert failing(report) == {"manifest_matches_file", "row_count", "sentinel_counts"}
    assert result(report, "row_count").observed == {"file": 19, "manifest": 20, "fetched_minus_dropped": 20}
    assert result(report, "manifest_matches_file").observed["bytes"] != lake.manifest(DAY)["file"]["bytes"]


def test_a_manifest_whose_source_counts_do_not_add_up_is_an_error(lake):
    lake.commit(DAY, call_rows(20))
    manifest = lake.manifest(DAY)
    manifest["source"]["rows_fetched"] = 25
    lake.write_manifest(DAY, manifest)
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"row_count"}


def test_a_year_0001_value_in_the_file_is_a_sentinel_leak(lake):
    lake.commit(DAY, call_rows(20))
    lake.rewrite(DAY, replace_value(lake.table(DAY), "inviteDateTime", 9, datetime(1, 1, 1, tzinfo=UTC)))
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"sentinel_leak"}
    bad = result(report, "sentinel_leak")
    assert bad.observed == {"inviteDateTime": 1} and bad.sample_ids == ["call-000009"]


def test_earliest_valid_is_a_threshold(lake):
    lake.commit(DAY, call_rows(20))
    lake.rewrite(DAY, replace_value(lake.table(DAY), "inviteDateTime", 9, datetime(1950, 1, 1, tzinfo=UTC)))
    assert failing(check_report_day(lake.sink, DAY)) == set()
    strict = QualityThresholds(earliest_valid=date(2000, 1, 1))
    assert failing(check_report_day(lake.sink, DAY, thresholds=strict)) == {"sentinel_leak"}


def test_a_drifted_column_type_fails_the_schema_check(lake):
    lake.commit(DAY, call_rows(20))
    drifted = pa.schema(
        [f.with_type(pa.int64()) if f.name == "duration" else f for f in DIRECT_ROUTING.schema],
        metadata=DIRECT_ROUTING.schema.metadata,
    )
    lake.rewrite(DAY, lake.table(DAY), schema=drifted)
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"schema"}
    assert result(report, "schema").observed == ["duration is int64"]


def test_a_manifest_of_another_schema_version_fails_the_schema_check(lake):
    lake.commit(DAY, call_rows(20))
    manifest = lake.manifest(DAY)
    manifest["schema_version"] = 99
    lake.write_manifest(DAY, manifest)
    assert failing(check_report_day(lake.sink, DAY)) == {"schema"}


def test_a_missing_column_fails_every_check_that_needs_it(lake):
    lake.commit(DAY, call_rows(20))
    table = lake.table(DAY).drop_columns(["successfulCall"])
    lake.rewrite(
        DAY,
        table,
        schema=pa.schema(
            [f for f in DIRECT_ROUTING.schema if f.name != "successfulCall"], metadata=DIRECT_ROUTING.schema.metadata
        ),
    )
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {
        "schema",
        "successful_call_has_no_failure_time",
        "successful_call_has_end_time",
        "failed_call_has_failure_time",
        "call_outcome_known",
        "sentinel_counts",
    }
    assert result(report, "sentinel_counts").message == "Cannot be checked: the file has no column successfulCall."


def test_a_partition_without_a_manifest_fails_and_skips_what_needs_it(lake):
    lake.commit(DAY, call_rows(20))
    lake.fs.rm_file(f"{lake.folder(DAY)}/{MANIFEST_FILE}")
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"manifest_present"}
    assert report.skipped == [
        "manifest_matches_file",
        "row_count",
        "quarantine_matches_manifest",
        "quarantined_rows",
        "conflicting_duplicates",
        "unknown_properties",
        "settled_day_unchanged",
        "sentinel_counts",
    ]


def test_a_partition_without_a_data_file_fails_and_skips_every_row_check(lake):
    lake.commit(DAY, call_rows(20))
    lake.fs.rm_file(f"{lake.folder(DAY)}/{DATA_FILE}")
    report = check_report_day(lake.sink, DAY)
    # Only what needs the manifest alone still runs: the presence checks, the quarantine's and the re-check's.
    assert failing(report) == {"data_file_present"} and len(report.skipped) == len(ALL_CHECKS) - 6
    assert (
        report.summary_line()
        == "call_date=2024-01-02 FAIL: 1 error (data_file_present), 0 warnings; no readable data file"
    )


def test_a_data_file_that_is_not_parquet_fails(lake):
    lake.commit(DAY, call_rows(20))
    with lake.fs.open(f"{lake.folder(DAY)}/{DATA_FILE}", "wb") as handle:
        handle.write(b"not parquet")
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"data_file_present"}
    assert "not a readable Parquet file" in result(report, "data_file_present").message


# --- volume against history --------------------------------------------------------------------------------------


def history_before(day: date, counts: list[int]) -> dict[date, int]:
    return {day - timedelta(days=len(counts) - i): count for i, count in enumerate(counts)}


def test_a_volume_spike_against_history_is_a_warning(lake):
    lake.commit_history(history_before(DAY, [40, 44, 36, 40, 42]))
    lake.commit(DAY, call_rows(100))
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"volume_vs_history"} and report.status == "warn"
    bad = result(report, "volume_vs_history")
    assert (bad.severity, bad.observed) == ("warning", {"rows": 100, "median": 40, "deviation": 1.5})
    assert report.summary_line() == ("call_date=2024-01-02 WARN: 0 errors, 1 warning (volume_vs_history); 100 rows")


def test_a_volume_within_the_deviation_passes(lake):
    lake.commit_history(history_before(DAY, [40, 44, 36, 40, 42]))
    lake.commit(DAY, call_rows(55))
    assert check_report_day(lake.sink, DAY).status == "pass"
    loose = QualityThresholds(volume_deviation=0.2)
    assert failing(check_report_day(lake.sink, DAY, thresholds=loose)) == {"volume_vs_history"}


def test_history_counts_only_earlier_days_within_history_days(lake):
    lake.commit_history(history_before(DAY - timedelta(days=10), [400, 400, 400]))  # too old for history_days=7
    lake.commit_history({DAY + timedelta(days=i): 400 for i in range(1, 4)})  # after the day: never history
    lake.commit_history(history_before(DAY, [40, 40]))
    lake.commit(DAY, call_rows(100))
    report = check_report_day(lake.sink, DAY, thresholds=QualityThresholds(history_days=7))
    assert report.status == "pass"
    assert result(report, "volume_vs_history").observed.startswith("median 40.0 rows over 2 partitions")
    report = check_report_day(lake.sink, DAY, thresholds=QualityThresholds(history_days=7, min_history=2))
    assert failing(report) == {"volume_vs_history"}


def test_a_zero_day_against_a_history_with_calls_is_flagged_with_the_configured_severity(lake):
    lake.commit_history(history_before(DAY, [40, 44, 36]))
    lake.commit(DAY, [])
    report = check_report_day(lake.sink, DAY)
    assert failing(report) == {"zero_rows"} and report.status == "warn"
    report = check_report_day(lake.sink, DAY, thresholds=QualityThresholds(zero_rows_severity="error"))
    assert report.status == "fail" and [r.name for r in report.errors] == ["zero_rows"]


def test_thresholds_reject_nonsense_with_one_sentence():
    with pytest.raises(ValueError, match="use 'warning' or 'error'"):
        QualityThresholds(zero_rows_severity="fatal")
    with pytest.raises(ValueError, match="positive fraction"):
        QualityThresholds(volume_deviation=0)
    with pytest.raises(ValueError, match="must be ≥ 1"):
        QualityThresholds(history_days=0)


# --- the published report ----------------------------------------------------------------------------------------


def test_write_report_publishes_the_dq_document_beside_the_partition(lake):
    rows = call_rows(20)
    rows[5]["failureDateTime"] = rows[5]["endDateTime"]
    manifest = lake.commit(DAY, rows)
    lake.commit_history(history_before(DAY, [60, 60, 60]))
    report = check_report_day(lake.sink, DAY)
    path = write_report(lake.sink, DAY, report)
    assert path == f"{lake.folder(DAY)}/_dq.json"
    document = lake.quality_report(DAY)
    assert document == report.to_dict()
    assert document["call_date"] == "2024-01-02" and document["status"] == "fail"
    assert document["file"] == {
        "name": DATA_FILE,
        "sha256": manifest["file"]["sha256"],
        "bytes": manifest["file"]["bytes"],
        "rows": 20,
    }
    assert document["counts"] == {"errors": 1, "warnings": 1}
    assert datetime.fromisoformat(document["checked_at"]).tzinfo is not None
    assert document["thresholds"]["earliest_valid"] == "1900-01-01"
    checks = {c["name"]: c for c in document["checks"]}
    assert set(checks) == ALL_CHECKS
    assert checks["successful_call_has_no_failure_time"] | {"message": ""} == {
        "name": "successful_call_has_no_failure_time",
        "severity": "error",
        "status": "fail",
        "observed": 1,
        "expected": 0,
        "sample_ids": ["call-000005"],
        "message": "",
    }
    assert checks["volume_vs_history"]["status"] == "fail" and checks["volume_vs_history"]["severity"] == "warning"
    assert report.summary_line() == (
        "call_date=2024-01-02 FAIL: 1 error (successful_call_has_no_failure_time), "
        "1 warning (volume_vs_history); 20 rows"
    )


def test_sample_ids_stop_at_twenty(lake):
    lake.commit(DAY, call_rows(100))
    table = lake.table(DAY)
    starts = [
        moment + timedelta(days=1) if i < 30 else moment for i, moment in enumerate(table["startDateTime"].to_pylist())
    ]
    lake.rewrite(
        DAY, table.set_column(5, "startDateTime", pa.array(starts, DIRECT_ROUTING.schema.field("startDateTime").type))
    )
    bad = result(check_report_day(lake.sink, DAY), "window_bounds")
    assert bad.observed["rows_outside"] == 30
    assert bad.sample_ids == [f"call-{i:06d}" for i in range(20)]


def test_volume_is_judged_against_the_same_weekday_once_there_are_enough_of_them(lake):
    saturday = date(2024, 1, 27)
    history = {saturday - timedelta(days=n): 0 for n in range(1, 29)}
    for day in history:
        history[day] = 10 if day.weekday() >= 5 else 40  # quiet weekends, as in most tenants
    lake.commit_history(history)
    lake.commit(saturday, call_rows(11, day=saturday))
    report = check_report_day(lake.sink, saturday)
    assert report.status == "pass"  # against every day's median (40) it would look 72% short
    assert "previous Saturdays" in result(report, "volume_vs_history").message
