"""Bad pages end in one of the two allowed states: the day complete and exact (with every row Graph sent either in
it, counted as dropped, or in its quarantine), or the task failed with one sentence and the lake as it was.

Each case is one of the emulator's faults, pulled through the real client, preparation and sink (one slice, so the
page numbers in the sentences are the emulator's); no case may run past its bound (counted in Graph requests).
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest
from airflow.sdk.exceptions import AirflowFailException
from call_logs.extract import extract_day
from call_logs.failures import to_airflow
from call_logs.graph.client import PullStats
from call_logs.graph.errors import GraphPagingError
from call_logs.graph.window import Window
from call_logs.lake.convert import RowNotAnObject, SchemaViolation
from call_logs.lake.layout import DATA_FILE, QUARANTINE_FILE
from call_logs.lake.pseudonymise import Pseudonymiser
from call_logs.quality.engine import check_report_day
from graph_emulator import Fault

from tests.helpers import emulator_client
from tests.sinks import report_sink

DAY = date(2026, 3, 3)
START = datetime(2026, 3, 3, tzinfo=UTC)
END = START + timedelta(days=1)
ROWS = 3500  # four pages


def lake_bytes(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def committed(emulator, tmp_path):
    """A lake whose day is already committed from a clean pull, then the emulator to pull it again with a fault."""

    def start(*faults: Fault, rows: int = ROWS):
        emu = emulator(rows_per_day=rows, seed=23)
        sink = report_sink(tmp_path / "lake")
        extract_day(emulator_client(emu), sink, DAY, concurrency=1)
        emu.configure(faults=list(faults))  # request numbers (and so the faults) count from 1 again
        emu.reset_stats()
        return emu, sink, lake_bytes(tmp_path / "lake")

    return start


def refused(emu, sink, error_class, tmp_path, before, **pull) -> str:
    """Pull the day with the fault: it must fail with ``error_class``, for good, leaving the lake byte for byte."""
    with pytest.raises(error_class) as caught:
        extract_day(emulator_client(emu), sink, DAY, concurrency=1, **pull)
    assert isinstance(to_airflow(caught.value), AirflowFailException)  # no retry: the same answer again
    assert lake_bytes(tmp_path / "lake") == before
    return str(caught.value)


@pytest.mark.parametrize(
    ("fault", "words", "most_requests"),
    [
        (Fault("loop_next_link", on_request=2), "repeated page 2 of getDirectRoutingCalls for [", 2),
        (Fault("ping_pong_next_link", on_request=3), "repeated page 2 of getDirectRoutingCalls for [", 3),
        (Fault("stuck_skip", on_request=2), "did not advance ($skip=1000 after $skip=1000)", 2),
        # Past the last row the page is empty and links to itself: caught as a repeat, not after 10,000 pages.
        (Fault("endless_next_link", rate=1.0), "repeated page 5 of getDirectRoutingCalls for [", 5),
    ],
    ids=lambda value: value.kind if isinstance(value, Fault) else None,
)
def test_paging_that_cannot_end_fails_at_once_with_one_sentence(committed, tmp_path, fault, words, most_requests):
    emu, sink, before = committed(fault)
    message = refused(emu, sink, GraphPagingError, tmp_path, before)
    assert message.startswith("Graph's paging") and words in message, message
    assert message.endswith("the window was not written; re-run later, and report it if it repeats."), message
    assert emu.stats()["data_requests"] <= most_requests  # never the budget of a day spent on a loop


def test_a_pull_stops_after_its_page_bound(emulator):
    emu = emulator(rows_per_day=ROWS, seed=23)
    client = emulator_client(emu)
    client.max_pages = 3
    with pytest.raises(GraphPagingError, match="went on past 3 pages in this pull"):
        list(client.iter_pages(Window(START, END), PullStats()))
    assert emu.stats()["data_requests"] == 3


def test_a_row_that_is_not_an_object_fails_naming_its_page_and_position(committed, tmp_path):
    emu, sink, before = committed(Fault("non_object_row", on_request=2, position=17))
    message = refused(emu, sink, RowNotAnObject, tmp_path, before)
    assert message.startswith(
        "Graph's page 2 of getDirectRoutingCalls for [2026-03-03T00:00:00Z, 2026-03-04T00:00:00Z)"
    )
    assert "has a string at index 17 of its value list, not a row object: the window was not written" in message


def test_a_bad_timestamp_names_the_faulty_row_and_its_value(committed, tmp_path):
    emu, sink, before = committed(Fault("bad_timestamp", on_request=1, position=5))
    truth = emu.expected_rows(START, END)
    message = refused(emu, sink, SchemaViolation, tmp_path, before)
    assert f"of the row with id {truth[5]['id']!r} is 'yesterday at noon' (str)" in message, message
    assert truth[0]["id"] not in message  # Graph's usual 7-digit timestamps are valid: not the first row's fault


def quarantine_of(sink) -> list[dict]:
    stored = sink.read_quarantine(DAY)
    assert stored is not None
    return stored[0].to_pylist()


@pytest.mark.parametrize("kind", ["null_start", "absent_start"])
def test_a_row_without_a_start_is_quarantined_counted_and_fails_quality(emulator, tmp_path, kind):
    emu = emulator(rows_per_day=ROWS, seed=23, faults=[Fault(kind, on_request=2, position=3)])
    truth = emu.expected_rows(START, END)
    sink = report_sink(tmp_path / "lake")
    manifest = extract_day(emulator_client(emu), sink, DAY, concurrency=1)
    lost = truth[1000 + 3]
    assert manifest.rows == ROWS - 1 and manifest.source.quarantined == 1
    assert manifest.source.quarantine_reasons == {"no_start": 1} and manifest.source.out_of_window_dropped == 0
    stored_ids = set(pq.read_table(Path(sink.location(DAY)) / DATA_FILE, columns=["id"])["id"].to_pylist())
    assert stored_ids == {row["id"] for row in truth} - {lost["id"]}

    [record] = quarantine_of(sink)
    assert (record["reason"], record["key"], record["page"], record["position"]) == ("no_start", lost["id"], 2, 3)
    sent = json.loads(record["row"])  # the row as Graph sent it
    assert (
        sent["id"] == lost["id"]
        and sent.get("startDateTime") is None
        and ("startDateTime" in sent) == (kind == "null_start")
    )
    path = Path(sink.quarantine_location(DAY))
    assert path.name == QUARANTINE_FILE
    assert duckdb.sql(f"SELECT reason, key FROM read_parquet('{path}')").fetchall() == [("no_start", lost["id"])]

    report = check_report_day(sink, DAY)
    result = next(r for r in report.results if r.name == "quarantined_rows")
    assert report.status == "fail" and result.failed and result.severity == "error"
    assert "1 rows Graph sent could not become rows of the day (no_start: 1)" in result.message
    assert str(path) in result.message and result.sample_ids == [lost["id"]]
    assert {r.name for r in report.results if r.failed} == {"quarantined_rows"}  # row_count adds up


def test_rows_that_do_not_convert_can_be_quarantined_instead_of_failing_the_day(emulator, tmp_path):
    faults = [Fault("non_object_row", on_request=2, position=17), Fault("bad_timestamp", on_request=3, position=8)]
    emu = emulator(rows_per_day=ROWS, seed=23, faults=faults)
    truth = emu.expected_rows(START, END)
    sink = report_sink(tmp_path / "lake")
    manifest = extract_day(emulator_client(emu), sink, DAY, concurrency=1, bad_rows="quarantine")
    assert manifest.rows == ROWS - 2
    assert manifest.source.quarantine_reasons == {"not_an_object": 1, "unconvertible": 1}
    records = sorted(quarantine_of(sink), key=lambda r: r["page"])
    assert [(r["reason"], r["page"], r["position"], r["key"]) for r in records] == [
        ("not_an_object", 2, 17, None),
        ("unconvertible", 3, 8, truth[2008]["id"]),
    ]
    assert records[0]["row"] == '"not a row"'
    assert "'yesterday at noon'" in records[1]["detail"] and json.loads(records[1]["row"])["id"] == truth[2008]["id"]
    failed = {r.name for r in check_report_day(sink, DAY).results if r.failed}
    assert failed == {"quarantined_rows"}


def test_quarantined_rows_hold_tokens_for_pseudonymised_columns(emulator, tmp_path):
    emu = emulator(rows_per_day=ROWS, seed=23, faults=[Fault("null_start", on_request=1, position=0)])
    lost = emu.expected_rows(START, END)[0]
    columns = ["userPrincipalName", "userDisplayName", "callerNumber", "calleeNumber"]
    p = Pseudonymiser("k3y-for-tests-only", columns)
    sink = report_sink(tmp_path / "lake")
    extract_day(emulator_client(emu), sink, DAY, concurrency=1, pseudonymiser=p)
    [record] = quarantine_of(sink)
    sent = json.loads(record["row"])
    for column in columns:
        assert sent[column] in (None, "", p.value(lost[column]))
    raw = Path(sink.quarantine_location(DAY)).read_bytes()
    for column in columns:
        if lost[column]:
            assert lost[column].encode() not in raw


def test_a_key_sent_again_with_other_values_keeps_the_later_version_and_warns(emulator, tmp_path):
    emu = emulator(rows_per_day=ROWS, seed=23, faults=[Fault("conflicting_duplicate", on_request=2)])
    truth = emu.expected_rows(START, END)
    repeated = truth[999]  # the first page's last row, again at the top of the second page with another duration
    sink = report_sink(tmp_path / "lake")
    manifest = extract_day(emulator_client(emu), sink, DAY, concurrency=1)
    assert manifest.rows == ROWS and manifest.source.duplicates_dropped == 0
    assert manifest.source.conflicting_duplicates == 1 and manifest.source.quarantined == 1
    table = pq.read_table(Path(sink.location(DAY)) / DATA_FILE, columns=["id", "duration"])
    kept = dict(zip(table["id"].to_pylist(), table["duration"].to_pylist(), strict=True))
    assert kept[repeated["id"]] == repeated["duration"] + 7  # fetched last: the second page's version

    [record] = quarantine_of(sink)
    assert (record["reason"], record["key"], record["page"]) == ("conflicting_duplicate", repeated["id"], 1)
    assert json.loads(record["row"])["duration"] == repeated["duration"]
    report = check_report_day(sink, DAY)
    result = next(r for r in report.results if r.name == "conflicting_duplicates")
    assert report.status == "warn" and result.failed and result.severity == "warning"
    assert result.sample_ids == [repeated["id"]] and repeated["id"] in result.message


def test_identical_repeats_stay_graphs_quirk_dropped_and_counted(emulator, tmp_path):
    emu = emulator(rows_per_day=ROWS, seed=23, faults=[Fault("duplicate_rows", on_request=2, rows=10)])
    sink = report_sink(tmp_path / "lake")
    manifest = extract_day(emulator_client(emu), sink, DAY, concurrency=1)
    assert manifest.rows == ROWS and manifest.source.duplicates_dropped == 10
    assert manifest.source.quarantined == 0 and sink.read_quarantine(DAY) is None
    assert check_report_day(sink, DAY).status == "pass"
