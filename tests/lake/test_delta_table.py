"""Delta tables written one UTC day per transaction: replace, fail, race, evolve, read back, maintain.

Every test that can runs on a local folder and on Azurite (a real Azure Blob endpoint), and checks the
table with an independent ``deltalake.DeltaTable`` read, not through the module under test.
"""

from __future__ import annotations

import json
import multiprocessing
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow as pa
import pytest
from call_logs.lake.delta_storage import AzureConnection, DeltaLocation, delta_location
from call_logs.lake.delta_table import (
    DayCommitConflict,
    DeltaSchemaChangeRefused,
    checkpoint,
    committed_days,
    day_commit,
    read_day,
    replace_day,
    table_protocol,
    table_version,
    vacuum,
)
from call_logs.lake.errors import LakeSchemaError
from deltalake import DeltaTable

TIMESTAMP = pa.timestamp("us", tz="UTC")
UNITS = pa.list_(pa.field("element", pa.struct([("id", pa.string())])))
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("startDateTime", TIMESTAMP),
        pa.field("charge", pa.decimal128(12, 4)),
        pa.field("administrativeUnitInfos", UNITS),
    ]
)
D1, D2, D3, D4 = (date(2026, 3, 1) + timedelta(days=i) for i in range(4))


@pytest.fixture(params=["local", "azurite"])
def location(request, tmp_path) -> DeltaLocation:
    """Where a fresh table goes: a local folder, or a new Azurite container through an Airflow-style connection."""
    if request.param == "local":
        return delta_location(tmp_path.as_uri(), "calls")
    azurite = request.getfixturevalue("azurite")
    _, container = request.getfixturevalue("blob_container")
    return delta_location(
        f"abfs://azure_lake@{container}/lake", "calls", AzureConnection(extras={"connection_string": azurite})
    )


@pytest.fixture
def local(tmp_path) -> DeltaLocation:
    return delta_location(tmp_path.as_uri(), "calls")


def calls(day: date, count: int, prefix: str, schema: pa.Schema = SCHEMA) -> pa.Table:
    """``count`` calls on ``day``, one a minute apart, every column filled (nested and decimal ones too)."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    columns = {
        "id": pa.array([f"{prefix}-{i:06d}" for i in range(count)]),
        "startDateTime": pa.array([start + timedelta(seconds=20 * i) for i in range(count)], TIMESTAMP),
        "charge": pa.array([Decimal(i % 97) / 4 for i in range(count)], pa.decimal128(12, 4)),
        "administrativeUnitInfos": pa.array([[{"id": f"unit-{i % 3}"}] for i in range(count)], UNITS),
    }
    for extra in schema.names[len(SCHEMA) :]:
        columns[extra] = pa.array([f"{extra}-{i}" for i in range(count)], schema.field(extra).type)
    return pa.table(columns, schema=schema)


def batches(table: pa.Table, rows_per_batch: int = 250) -> Iterator[pa.RecordBatch]:
    yield from table.to_batches(max_chunksize=rows_per_batch)


def write(location: DeltaLocation, day: date, table: pa.Table, **kwargs) -> int:
    return replace_day(location.uri, location.storage_options, batches(table), table.schema, day=day, **kwargs)


def open_table(location: DeltaLocation) -> DeltaTable:
    return DeltaTable(location.uri, storage_options=location.storage_options)


def ids_by_day(location: DeltaLocation) -> dict[date, list[str]]:
    """An independent read of the whole current snapshot: sorted ids per call_date."""
    table = open_table(location).to_pyarrow_table(columns=["call_date", "id"])
    found: dict[date, list[str]] = {}
    for day, id_ in zip(table["call_date"].to_pylist(), table["id"].to_pylist(), strict=True):
        found.setdefault(day, []).append(id_)
    return {day: sorted(ids) for day, ids in found.items()}


def ids(table: pa.Table) -> list[str]:
    return sorted(table["id"].to_pylist())


def test_a_rerun_replaces_its_day_in_one_version_and_leaves_the_other_day_alone(location):
    first, second, rerun = calls(D1, 300, "a"), calls(D2, 200, "b"), calls(D1, 120, "c")
    v1 = write(location, D1, first)
    v2 = write(location, D2, second)
    d2_files = sorted(open_table(location).file_uris(file_pruning_predicate=[("call_date", "=", D2.isoformat())]))
    v3 = write(location, D1, rerun)

    assert (v2, v3) == (v1 + 1, v2 + 1) and table_version(location.uri, location.storage_options) == v3
    assert ids_by_day(location) == {D1: ids(rerun), D2: ids(second)}
    after = open_table(location)
    assert sorted(after.file_uris(file_pruning_predicate=[("call_date", "=", D2.isoformat())])) == d2_files
    assert [entry["operation"] for entry in after.history(1)] == ["WRITE"]

    read = pa.Table.from_batches(list(read_day(location.uri, location.storage_options, D2)))
    assert read.schema == SCHEMA.append(pa.field("call_date", pa.date32()))
    assert read.sort_by("id").drop_columns(["call_date"]).equals(second)
    assert set(read["call_date"].to_pylist()) == {D2}
    only_ids = list(read_day(location.uri, location.storage_options, D1, columns=["id"]))
    assert {tuple(batch.schema.names) for batch in only_ids} == {("id",)}
    assert sorted(i for batch in only_ids for i in batch["id"].to_pylist()) == ids(rerun)
    assert table_protocol(location.uri, location.storage_options) == (1, 2)
    assert committed_days(location.uri, location.storage_options) == [D1, D2]


def test_a_write_that_fails_mid_stream_leaves_version_and_rows_unchanged(location):
    write(location, D1, calls(D1, 500, "old"))
    before_version, before_rows = open_table(location).version(), ids_by_day(location)

    def failing_pages():
        # Enough rows for the Parquet writer to flush row groups before the failure.
        yield from calls(D1, 150_000, "new").to_batches(max_chunksize=50_000)
        raise RuntimeError("Graph failed on page 4")

    with pytest.raises(RuntimeError, match="Graph failed on page 4"):
        replace_day(location.uri, location.storage_options, failing_pages(), SCHEMA, day=D1)
    assert open_table(location).version() == before_version
    assert ids_by_day(location) == before_rows
    # The unfinished file was a multipart upload that was never completed: no stray data file either.
    assert vacuum(location.uri, location.storage_options, 0, dry_run=True, enforce_retention_duration=False) == []


def write_after_barrier(location, day, count, prefix, barrier, results) -> None:
    """One writer process: stream the day's rows, wait until every writer has, then commit."""

    def rows_then_wait() -> Iterator[pa.RecordBatch]:
        yield from batches(calls(day, count, prefix))
        barrier.wait(timeout=60)  # every writer has read the table and streamed its rows: the commits race

    try:
        version = replace_day(location.uri, location.storage_options, rows_then_wait(), SCHEMA, day=day)
        results.put((prefix, version, None))
    except Exception as error:
        results.put((prefix, None, f"{type(error).__name__}: {error}"))


def race(location: DeltaLocation, writers: list[tuple[date, int, str]]) -> dict[str, tuple[int | None, str | None]]:
    """Run each (day, rows, prefix) writer in its own process (as Airflow runs tasks); {prefix: (version, error)}.

    Processes, not threads: delta-rs pulls a Python stream on its runtime's worker threads (one per core), so
    writers whose streams block in one process wait for each other instead of racing.
    """
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(writers)), context.Queue()
    processes = [
        context.Process(target=write_after_barrier, args=(location, day, count, prefix, barrier, results))
        for day, count, prefix in writers
    ]
    for process in processes:
        process.start()
    outcome = {}
    for _ in writers:
        prefix, version, error = results.get(timeout=120)
        outcome[prefix] = (version, error)
    for process in processes:
        process.join(timeout=30)
    return outcome


def test_writers_of_different_days_commit_at_the_same_time(location):
    write(location, D1, calls(D1, 50, "seed"))
    base = open_table(location).version()
    writers = [(day, 400, f"w{day.day}") for day in (D1, D2, D3, D4)]

    outcome = race(location, writers)

    assert sorted(version for version, _ in outcome.values()) == [base + 1, base + 2, base + 3, base + 4], outcome
    assert ids_by_day(location) == {day: ids(calls(day, count, prefix)) for day, count, prefix in writers}
    # All four read version `base` before any committed: three found newer commits, checked them against their
    # own predicate (another day: no conflict) and committed on top, inside delta-rs.
    for day, _, prefix in writers:
        assert day_commit(location.uri, location.storage_options, day)["version"] == outcome[prefix][0]


def test_writers_of_the_same_day_conflict_and_the_loser_commits_nothing(location):
    write(location, D1, calls(D1, 10, "seed"))
    base = open_table(location).version()

    outcome = race(location, [(D1, 300, "x"), (D1, 200, "y")])

    (winner,) = [prefix for prefix, (version, _) in outcome.items() if version == base + 1]
    (loser,) = [prefix for prefix, (version, _) in outcome.items() if version is None]
    assert outcome[loser][1].startswith(f"{DayCommitConflict.__name__}: ") and "run the day again" in outcome[loser][1]
    rows = {"x": 300, "y": 200}[winner]
    assert ids_by_day(location) == {D1: ids(calls(D1, rows, winner))}
    assert day_commit(location.uri, location.storage_options, D1)["rows"] == rows
    assert open_table(location).version() == base + 1


def test_first_writers_racing_to_create_the_table_share_one_table(location):
    barrier = threading.Barrier(2)
    outcome: dict[date, int | BaseException] = {}

    def run(day: date) -> None:
        barrier.wait(timeout=60)
        try:
            outcome[day] = write(location, day, calls(day, 100, f"first{day.day}"))
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome[day] = error

    threads = [threading.Thread(target=run, args=(day,)) for day in (D1, D2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert sorted(outcome.values()) == [1, 2], outcome
    assert set(ids_by_day(location)) == {D1, D2}
    table = open_table(location)
    history = table.history()
    assert [entry["operation"] for entry in reversed(history)] == ["CREATE TABLE", "WRITE", "WRITE"]
    table_id = table.metadata().id
    table.load_as_version(0)
    assert table.metadata().id == table_id  # no writer replaced the table's metadata


def test_a_day_without_rows_is_committed_and_told_apart_from_a_day_never_pulled(location):
    write(location, D1, calls(D1, 40, "a"))
    write(location, D2, calls(D2, 30, "b"))
    version = write(location, D1, calls(D1, 0, "none"), metadata={"graph_requests": 3})

    assert ids_by_day(location) == {D2: ids(calls(D2, 30, "b"))}
    assert list(read_day(location.uri, location.storage_options, D1)) == []
    empty = day_commit(location.uri, location.storage_options, D1)
    assert empty["version"] == version and empty["rows"] == 0 and empty["commits"] == 2
    assert empty["metadata"] == {"graph_requests": 3}
    assert day_commit(location.uri, location.storage_options, D3) is None
    assert committed_days(location.uri, location.storage_options) == [D1, D2]


def test_an_empty_first_day_creates_a_queryable_table(local):
    version = replace_day(local.uri, local.storage_options, [], SCHEMA, day=D3)
    assert version == 1
    assert open_table(local).to_pyarrow_table().num_rows == 0
    assert open_table(local).schema().to_arrow() is not None
    assert day_commit(local.uri, local.storage_options, D3)["rows"] == 0
    assert committed_days(local.uri, local.storage_options) == [D3]
    assert table_protocol(local.uri, local.storage_options) == (1, 2)


def test_each_commit_carries_the_run_metadata_and_it_reads_back_per_day(location):
    started = datetime(2026, 3, 2, 0, 30, tzinfo=UTC)
    run = {
        "dag_id": "direct_routing_calls",
        "run_id": "scheduled__2026-03-01T00:00:00+00:00",
        "try_number": 2,
        "graph": {"requests": 12, "retries": 1, "throttled": 0},
        "rows": 250,
        "schema_version": 1,
        "started_at": started,
    }
    before = datetime.now(UTC)
    version = write(location, D1, calls(D1, 250, "m"), metadata=run)
    write(location, D2, calls(D2, 10, "n"), metadata={"run_id": "other"})

    commit = day_commit(location.uri, location.storage_options, D1)
    assert commit["version"] == version and commit["rows"] == 250 and commit["commits"] == 1
    assert commit["metadata"] == {**run, "started_at": started.isoformat()}
    assert before - timedelta(seconds=5) <= commit["timestamp"] <= datetime.now(UTC) + timedelta(seconds=5)
    # The document is the commit's userMetadata: what Spark's DESCRIBE HISTORY shows.
    entry = next(item for item in open_table(location).history() if item["version"] == version)
    document = json.loads(entry["userMetadata"])
    assert (document["kind"], document["day"], document["metadata"]["run_id"]) == (
        "call_logs.day_commit",
        D1.isoformat(),
        run["run_id"],
    )


def test_the_protocol_stays_reader_1_writer_2_and_naive_timestamps_are_refused(local):
    write(local, D1, calls(D1, 20, "p"))
    assert table_protocol(local.uri, local.storage_options) == (1, 2)
    configuration = open_table(local).metadata().configuration
    assert configuration == {"delta.logRetentionDuration": "interval 3650 days"}

    naive = pa.schema([pa.field("id", pa.string()), pa.field("startDateTime", pa.timestamp("us"))])
    with pytest.raises(LakeSchemaError, match=r"startDateTime.*timestamp\[us, UTC\]"):
        replace_day(local.uri, local.storage_options, [], naive, day=D2)
    assert table_protocol(local.uri, local.storage_options) == (1, 2)
    assert open_table(local).version() == 1


def test_columns_may_be_added_but_not_dropped_or_retyped(location):
    write(location, D1, calls(D1, 30, "old"))
    wider = SCHEMA.append(pa.field("userCountryCode", pa.string()))
    version = write(location, D2, calls(D2, 20, "new", schema=wider))

    table = open_table(location)
    assert table.version() == version and "userCountryCode" in table.schema().to_arrow().names
    read = table.to_pyarrow_table(columns=["call_date", "userCountryCode"])
    old_rows = read.filter(pa.compute.equal(read["call_date"], pa.scalar(D1, pa.date32())))
    assert old_rows["userCountryCode"].null_count == 30

    narrower = pa.schema([f for f in wider if f.name != "charge"])
    with pytest.raises(DeltaSchemaChangeRefused, match=r"missing: \['charge'\]"):
        replace_day(location.uri, location.storage_options, [], narrower, day=D3)
    retyped = pa.schema([f if f.name != "charge" else pa.field("charge", pa.float64()) for f in wider])
    with pytest.raises(DeltaSchemaChangeRefused, match=r"other type: \['charge'\]"):
        replace_day(location.uri, location.storage_options, [], retyped, day=D3)
    assert open_table(location).version() == version


def test_rows_for_another_day_are_refused_before_anything_is_committed(local):
    write(local, D1, calls(D1, 5, "ok"))
    stray = calls(D2, 5, "stray").append_column("call_date", pa.array([D2] * 5, pa.date32()))
    with pytest.raises(LakeSchemaError, match="another call_date than 2026-03-01"):
        replace_day(local.uri, local.storage_options, stray.to_batches(), stray.schema, day=D1)
    assert open_table(local).version() == 1 and ids_by_day(local) == {D1: ids(calls(D1, 5, "ok"))}


def test_read_day_streams_batches(local):
    write(local, D1, calls(D1, 3000, "s"))
    stream = read_day(local.uri, local.storage_options, D1, columns=["id", "charge"])
    assert not isinstance(stream, list | pa.Table)
    first = next(stream)
    assert isinstance(first, pa.RecordBatch) and first.schema.names == ["id", "charge"]
    assert first.num_rows + sum(batch.num_rows for batch in stream) == 3000


def test_vacuum_keeps_what_the_retention_protects_and_checkpoints_keep_day_facts(location):
    write(location, D1, calls(D1, 100, "v1"))
    write(location, D1, calls(D1, 80, "v2"))
    write(location, D2, calls(D2, 10, "w"))
    live = set(open_table(location).file_uris())

    assert vacuum(location.uri, location.storage_options) == []  # the replaced file is younger than 7 days
    with pytest.raises(Exception, match="retention"):  # noqa: B017 - delta-rs raises its own error type
        vacuum(location.uri, location.storage_options, 0)
    would_delete = vacuum(location.uri, location.storage_options, 0, dry_run=True, enforce_retention_duration=False)
    assert len(would_delete) == 1 and "call_date=2026-03-01" in would_delete[0]
    deleted = vacuum(location.uri, location.storage_options, 0, enforce_retention_duration=False)
    assert deleted == would_delete
    assert set(open_table(location).file_uris()) == live
    assert ids_by_day(location) == {D1: ids(calls(D1, 80, "v2")), D2: ids(calls(D2, 10, "w"))}

    version = checkpoint(location.uri, location.storage_options)
    assert version == open_table(location).version()
    assert day_commit(location.uri, location.storage_options, D1)["commits"] == 2
    assert committed_days(location.uri, location.storage_options) == [D1, D2]
