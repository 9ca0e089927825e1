"""The Delta sink through the real prepare → stage → commit path, on a local folder and on Azurite.

Every table is checked with an independent ``deltalake.DeltaTable`` read, not through the sink under test.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import signal
import subprocess
import sys
import textwrap
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import fsspec
import pyarrow as pa
import pytest
from call_logs.lake.delta_storage import AzureConnection
from call_logs.lake.delta_table import vacuum
from call_logs.lake.errors import LakeConfigError
from call_logs.lake.root import LakeRoot
from call_logs.quality.engine import check_report_day, write_report
from call_logs.quality.report import lake_report
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.reports.pstn import PSTN
from call_logs.sinks import open_report
from call_logs.sinks.delta import DeltaTableSink
from deltalake import DeltaTable, write_deltalake

from tests.rows import call_rows, commit_rows, pages_of

ROOT_DIR = Path(__file__).resolve().parents[2]
D1, D2 = date(2026, 3, 1), date(2026, 3, 2)
RUN = {"dag_id": "direct_routing_calls", "run_id": "manual__r1", "task_id": "extract", "try_number": 1}


@pytest.fixture(params=["local", "azurite"])
def lake(request, tmp_path) -> dict:
    """An empty lake: the fs + root the sink stores quality reports in, and the lake root's Delta location."""
    if request.param == "local":
        root = str(tmp_path / "lake")
        return {"fs": fsspec.filesystem("file"), "root": root, "lake_root": Path(root).as_uri(), "connection": None}
    azurite = request.getfixturevalue("azurite")
    fs, container = request.getfixturevalue("blob_container")
    return {
        "fs": fs,
        "root": f"{container}/lake",
        "lake_root": f"abfs://azure_lake@{container}/lake",
        "connection": azurite,
    }


def sink_of(lake: dict, spec=DIRECT_ROUTING) -> DeltaTableSink:
    azure = AzureConnection(extras={"connection_string": lake["connection"]}) if lake["connection"] else None
    sink = open_report("delta", LakeRoot(lake["lake_root"], lake["fs"], lake["root"], azure), spec)
    assert isinstance(sink, DeltaTableSink)
    return sink


def table_of(sink: DeltaTableSink) -> DeltaTable:
    return DeltaTable(sink.delta.uri, storage_options=sink.delta.storage_options or None)


def ids_by_day(sink: DeltaTableSink) -> dict[date, list[str]]:
    """The whole current snapshot, read independently: sorted ids per call_date."""
    table = table_of(sink).to_pyarrow_table(columns=["call_date", "id"])
    found: dict[date, list[str]] = {}
    for day, id_ in zip(table["call_date"].to_pylist(), table["id"].to_pylist(), strict=True):
        found.setdefault(day, []).append(id_)
    return {day: sorted(ids) for day, ids in found.items()}


def day_files(sink: DeltaTableSink, day: date) -> list[str]:
    return sorted(table_of(sink).file_uris(partition_filters=[("call_date", "=", day.isoformat())]))


def rows(day: date, count: int, prefix: str) -> list[dict]:
    return call_rows(count, day=day, prefix=prefix)


def ids(graph_rows: list[dict]) -> list[str]:
    return sorted(row["id"] for row in graph_rows)


def commit_metadata(sink: DeltaTableSink, version: int) -> dict:
    entry = next(item for item in table_of(sink).history() if item["version"] == version)
    return json.loads(entry["userMetadata"])["metadata"]


def test_two_days_then_a_rerun_of_the_first_adds_one_version_and_leaves_the_second_alone(lake):
    sink = sink_of(lake)
    first, second, rerun = rows(D1, 2500, "a"), rows(D2, 1800, "b"), rows(D1, 2600, "c")
    commit_rows(sink, D1, pages_of(first), run=RUN)
    commit_rows(sink, D2, pages_of(second), run=RUN)
    before, d2_files = table_of(sink).version(), day_files(sink, D2)

    manifest = commit_rows(sink, D1, pages_of(rerun), run={**RUN, "run_id": "manual__r2", "try_number": 2})

    table = table_of(sink)
    assert table.version() == before + 1 == sink.last_version
    assert ids_by_day(sink) == {D1: ids(rerun), D2: ids(second)}
    assert day_files(sink, D2) == d2_files
    assert [entry["operation"] for entry in table.history(1)] == ["WRITE"]
    assert table.protocol().min_reader_version == 1 and table.protocol().min_writer_version == 2
    metadata = commit_metadata(sink, before + 1)
    assert metadata == manifest.to_dict()
    assert metadata["run"]["run_id"] == "manual__r2" and metadata["run"]["try_number"] == 2
    assert metadata["graph"]["requests"] == manifest.graph["requests"] and metadata["rows"] == 2600
    assert sink.read_manifest(D1) == manifest
    assert sink.committed_days() == [D1, D2]


def test_a_pull_that_fails_mid_day_leaves_version_and_rows_unchanged(lake):
    sink = sink_of(lake)
    commit_rows(sink, D1, pages_of(rows(D1, 1500, "old")))
    version, before = table_of(sink).version(), ids_by_day(sink)

    def failing_pages():
        yield from pages_of(rows(D1, 4000, "new"))[:3]
        raise RuntimeError("Graph failed on page 4")

    with pytest.raises(RuntimeError, match="page 4"):
        commit_rows(sink, D1, failing_pages())
    assert table_of(sink).version() == version and ids_by_day(sink) == before


KILLED_PULL = textwrap.dedent(
    """
    import sys, time
    import fsspec
    from call_logs.lake.delta_storage import AzureConnection
    from call_logs.lake.root import LakeRoot
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.sinks import open_report
    from tests.rows import call_rows, commit_rows, pages_of

    lake_root, connection_string, day = sys.argv[1], sys.argv[2], __import__("datetime").date.fromisoformat(sys.argv[3])
    azure = AzureConnection(extras={"connection_string": connection_string}) if connection_string else None
    sink = open_report("delta", LakeRoot(lake_root, fsspec.filesystem("memory"), "/unused", azure), DIRECT_ROUTING)

    def pages():
        yield from pages_of(call_rows(3000, day=day, prefix="killed"))[:2]
        print("mid-pull", flush=True)
        time.sleep(600)  # SIGKILL arrives here: pages pulled and spilled, nothing staged or committed

    commit_rows(sink, day, pages())
    """
)


def test_a_rerun_killed_mid_pull_leaves_version_and_rows_unchanged(lake):
    sink = sink_of(lake)
    commit_rows(sink, D1, pages_of(rows(D1, 1200, "kept")))
    commit_rows(sink, D2, pages_of(rows(D2, 900, "other")))
    version, before, manifest = table_of(sink).version(), ids_by_day(sink), sink.read_manifest(D1)

    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT_DIR), str(ROOT_DIR / "plugins")]))
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_PULL, lake["lake_root"], lake["connection"] or "", D1.isoformat()],
        env=env,
        stdout=subprocess.PIPE,
    )
    try:
        assert child.stdout.readline().strip() == b"mid-pull"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()

    assert table_of(sink).version() == version
    assert ids_by_day(sink) == before
    assert sink.read_manifest(D1) == manifest


def commit_after_barrier(lake: dict, day: date, count: int, prefix: str, barrier, results) -> None:
    """One writer process: pull and stage the day, wait until the other writer has too, then commit."""
    try:
        sink = sink_of(lake)
        # commit_rows' facts are made once the day is staged, just before the commit: both writers meet there
        commit_rows(
            sink,
            day,
            pages_of(rows(day, count, prefix)),
            run={"run_id": prefix},
            before_commit=lambda: barrier.wait(timeout=60),
        )
        results.put((prefix, sink.last_version, None))
    except Exception as error:
        results.put((prefix, None, f"{type(error).__name__}: {error}"))


def test_concurrent_commits_of_two_days_both_land(lake):
    sink = sink_of(lake)
    commit_rows(sink, D1, pages_of(rows(D1, 100, "seed")))
    base = table_of(sink).version()
    writers = [(D1, 2000, "w1"), (D2, 1500, "w2")]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(len(writers)), context.Queue()
    processes = [
        context.Process(target=commit_after_barrier, args=(lake, day, count, prefix, barrier, results))
        for day, count, prefix in writers
    ]
    for process in processes:
        process.start()
    outcome = {}
    for _ in writers:
        prefix, version, error = results.get(timeout=180)
        outcome[prefix] = (version, error)
    for process in processes:
        process.join(timeout=30)

    assert sorted(version for version, _ in outcome.values()) == [base + 1, base + 2], outcome
    assert ids_by_day(sink) == {day: ids(rows(day, count, prefix)) for day, count, prefix in writers}
    for day, _, prefix in writers:
        manifest = sink.read_manifest(day)
        assert manifest is not None and manifest.run == {"run_id": prefix}


def test_quality_passes_on_a_clean_day_and_fails_when_the_day_is_tampered_with(lake):
    sink = sink_of(lake)
    commit_rows(sink, D1, pages_of(rows(D1, 3000, "q")))
    commit_rows(sink, D2, pages_of(rows(D2, 500, "r")))
    report = check_report_day(sink, D1)
    assert report.status == "pass", [(r.name, r.message) for r in report.results if r.failed]
    manifest = sink.read_manifest(D1)
    document = report.to_dict()
    assert document["file"]["sha256"] == manifest.file.sha256 and document["file"]["rows"] == 3000
    where = write_report(sink, D1, report)
    assert where.endswith("/direct_routing_calls/_dq/call_date=2026-03-01.json")
    assert sink.read_quality(D1)["status"] == "pass"
    assert [line.status for line in lake_report(sink)] == ["pass", "unchecked"]

    # Someone deletes a call of the day behind the pipeline's back: a new version without our commit metadata.
    table_of(sink).delete("id = 'q-000007'")
    tampered = check_report_day(sink, D1)
    failed = {r.name for r in tampered.results if r.failed}
    assert {"manifest_matches_file", "row_count"} <= failed and tampered.status == "fail"
    # The other day is untouched and still passes.
    assert check_report_day(sink, D2).status == "pass"


def test_rows_appended_to_a_day_fail_its_check(tmp_path):
    lake = {"fs": fsspec.filesystem("file"), "root": str(tmp_path), "lake_root": tmp_path.as_uri(), "connection": None}
    sink = sink_of(lake)
    commit_rows(sink, D1, pages_of(rows(D1, 400, "a")))
    extra = table_of(sink).to_pyarrow_table(filters=[("id", "=", "a-000001")])
    write_deltalake(sink.delta.uri, extra, mode="append")
    report = check_report_day(sink, D1)
    failed = {r.name for r in report.results if r.failed}
    assert {"manifest_matches_file", "row_count", "duplicate_ids"} <= failed


def test_a_rerun_makes_the_old_quality_report_go_away_and_vacuum_keeps_it_out_of_reach(tmp_path):
    lake = {"fs": fsspec.filesystem("file"), "root": str(tmp_path), "lake_root": tmp_path.as_uri(), "connection": None}
    sink = sink_of(lake)
    commit_rows(sink, D1, pages_of(rows(D1, 300, "a")))
    write_report(sink, D1, check_report_day(sink, D1))
    commit_rows(sink, D1, pages_of(rows(D1, 320, "b")))
    assert sink.read_quality(D1) is None  # it judged the previous commit
    write_report(sink, D1, check_report_day(sink, D1))

    deleted = vacuum(sink.delta.uri, None, 0, enforce_retention_duration=False)
    assert len(deleted) == 1 and "call_date=2026-03-01" in deleted[0]
    assert sink.read_quality(D1)["status"] == "pass"  # the _dq/ folder is not table data
    assert check_report_day(sink, D1).status == "pass"


def test_an_empty_day_is_committed_and_checked(tmp_path):
    lake = {"fs": fsspec.filesystem("file"), "root": str(tmp_path), "lake_root": tmp_path.as_uri(), "connection": None}
    sink = sink_of(lake)
    commit_rows(sink, D2, [[]])
    assert sink.committed_days() == [D2] and sink.read_manifest(D2).rows == 0
    report = check_report_day(sink, D2)
    assert report.status == "pass" and report.rows == 0
    assert sink.read_columns(D2, ["id"]).num_rows == 0


def test_the_pstn_table_keeps_its_decimals_and_passes_its_rules(tmp_path):
    from tests.reports.test_pstn import DAY, day_rows  # the PSTN tests' own rows (a bot, a midnight call)

    lake = {"fs": fsspec.filesystem("file"), "root": str(tmp_path), "lake_root": tmp_path.as_uri(), "connection": None}
    sink = sink_of(lake, PSTN)
    commit_rows(sink, DAY, [day_rows()])
    table = table_of(sink).to_pyarrow_table(columns=["charge", "connectionCharge"])
    assert table.schema.field("charge").type == pa.decimal128(18, 6)
    assert sorted(set(table["charge"].to_pylist())) == [Decimal("0.000000"), Decimal("0.123400")]
    report = check_report_day(sink, DAY)
    assert report.status == "pass", [(r.name, r.message) for r in report.results if r.failed]


def test_the_report_cli_reads_a_delta_lake(tmp_path, capsys):
    from call_logs.__main__ import main

    lake = {"fs": fsspec.filesystem("file"), "root": str(tmp_path), "lake_root": tmp_path.as_uri(), "connection": None}
    sink = sink_of(lake)
    for day, count in ((D1, 200), (D2, 0)):
        commit_rows(sink, day, pages_of(rows(day, count, "x")))
    write_report(sink, D1, check_report_day(sink, D1))

    assert main(["report", "--lake-root", str(tmp_path), "--table", "direct_routing_calls"]) == 2
    assert "add --table-format delta" in capsys.readouterr().err
    chart = tmp_path / "chart.html"
    code = main(["report", "--lake-root", str(tmp_path), "--table-format", "delta", "--chart", str(chart)])
    lines = capsys.readouterr().out.splitlines()
    assert code == 0 and chart.exists()
    assert lines[1].split()[:2] == [D1.isoformat(), "200"] and lines[1].split()[-1] == "pass"
    assert lines[2].split()[:2] == [D2.isoformat(), "0"] and lines[2].split()[-1] == "unchecked"


def test_an_unknown_table_format_is_refused(tmp_path):
    with pytest.raises(LakeConfigError, match="not one of parquet, delta"):
        open_report("iceberg", LakeRoot.from_url(str(tmp_path)), DIRECT_ROUTING)


def test_a_day_never_committed_has_no_manifest_and_no_data_problem_hidden(tmp_path):
    lake = {"fs": fsspec.filesystem("file"), "root": str(tmp_path), "lake_root": tmp_path.as_uri(), "connection": None}
    sink = sink_of(lake)
    report = check_report_day(sink, D1)  # no table at all
    assert report.status == "fail" and {"data_file_present", "manifest_present"} <= {
        r.name for r in report.results if r.failed
    }
    commit_rows(sink, D2, pages_of(rows(D2, 10, "y")))
    assert sink.read_manifest(D1 - timedelta(days=1)) is None
    assert check_report_day(sink, D1).status == "fail"  # the table exists, the day was never pulled
