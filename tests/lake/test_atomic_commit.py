"""A partition is replaced atomically: old complete file or new complete file, never anything else.

Run against a local folder and against Azurite (a real Azure Blob endpoint).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from datetime import timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from call_logs.lake.layout import DATA_FILE, MANIFEST_FILE, TableLayout
from call_logs.reports.direct_routing import DIRECT_ROUTING

from tests.lake.conftest import DAY, graph_rows, pages_of
from tests.rows import commit_rows
from tests.sinks import report_sink

END = DAY + timedelta(days=1)
ROOT_DIR = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["local", "azurite"])
def lake(request, tmp_path):
    """(fs, root) of an empty lake on each kind of storage."""
    if request.param == "local":
        import fsspec

        return fsspec.filesystem("file"), str(tmp_path / "lake")
    fs, container = request.getfixturevalue("blob_container")
    return fs, f"{container}/lake"


def partition_path(root: str, day) -> str:
    return TableLayout(root, DIRECT_ROUTING.table).partition_path(day)


def table_path(root: str) -> str:
    return TableLayout(root, DIRECT_ROUTING.table).table_path


def commit(fs, root, workdir: Path, pages) -> dict:
    return commit_rows(report_sink(root, DIRECT_ROUTING, fs=fs), DAY.date(), pages, run={}).to_dict()


def snapshot(fs, root) -> dict[str, bytes]:
    folder = partition_path(root, DAY.date())
    return {path.rsplit("/", 1)[1]: fs.cat_file(path) for path in fs.find(folder)}


def visible_data_files(fs, root) -> list[str]:
    return [p for p in fs.find(table_path(root)) if not p.rsplit("/", 1)[1].startswith((".", "_"))]


def test_a_failure_on_a_later_page_leaves_the_previous_partition_byte_identical(lake, tmp_path):
    fs, root = lake
    commit(fs, root, tmp_path / "first", pages_of(graph_rows(3000)))
    before = snapshot(fs, root)

    def failing_pages():
        yield from pages_of(graph_rows(5000, prefix="new"))[:3]
        raise RuntimeError("Graph failed on page 4")

    with pytest.raises(RuntimeError, match="page 4"):
        commit(fs, root, tmp_path / "second", failing_pages())
    assert snapshot(fs, root) == before
    assert visible_data_files(fs, root) == [f"{partition_path(root, DAY.date())}/{DATA_FILE}"]


def test_a_rerun_replaces_the_partition_with_one_file(lake, tmp_path):
    fs, root = lake
    commit(fs, root, tmp_path / "a", pages_of(graph_rows(1200)))
    manifest = commit(fs, root, tmp_path / "b", pages_of(graph_rows(1200)))
    files = visible_data_files(fs, root)
    assert len(files) == 1
    with fs.open(files[0], "rb") as handle:
        assert pq.read_table(handle).num_rows == manifest["rows"] == 1200
    assert fs.exists(f"{partition_path(root, DAY.date())}/{MANIFEST_FILE}")


def test_a_storage_error_leaves_the_lake_as_it_was(azurite, blob_container, tmp_path):
    from adlfs import AzureBlobFileSystem

    fs, container = blob_container
    root = f"{container}/lake"
    commit(fs, root, tmp_path / "a", pages_of(graph_rows(500)))
    before = snapshot(fs, root)
    wrong_key = azurite.replace("AccountKey=Eby8", "AccountKey=AAAA")
    broken = AzureBlobFileSystem(connection_string=wrong_key, skip_instance_cache=True)
    with pytest.raises(Exception):  # noqa: B017 - the SDK's auth error type varies; what matters is the lake
        commit(broken, root, tmp_path / "b", pages_of(graph_rows(900)))
    assert snapshot(fs, root) == before


KILLED_WRITER = textwrap.dedent(
    """
    import sys
    from call_logs.lake.storage import publish_file
    if sys.argv[1] == "local":
        import fsspec
        fs = fsspec.filesystem("file")
    else:
        from adlfs import AzureBlobFileSystem
        fs = AzureBlobFileSystem(connection_string=sys.argv[4])
    print("ready", flush=True)
    while True:
        publish_file(fs, sys.argv[2], sys.argv[3])
    """
)


def test_a_writer_killed_mid_upload_never_leaves_a_partial_file(lake, tmp_path, request):
    fs, root = lake
    kind = "azurite" if "azurite" in request.node.callspec.params.get("lake", "") else "local"
    old, new = os.urandom(6 << 20), os.urandom(9 << 20)
    (tmp_path / "new.bin").write_bytes(new)
    (tmp_path / "old.bin").write_bytes(old)
    target = f"{partition_path(root, DAY.date())}/{DATA_FILE}"
    connection = request.getfixturevalue("azurite") if kind == "azurite" else ""
    env = dict(os.environ, PYTHONPATH=f"{ROOT_DIR / 'plugins'}")
    for attempt in range(4):
        from call_logs.lake.storage import publish_file

        publish_file(fs, str(tmp_path / "old.bin"), target)
        child = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, kind, str(tmp_path / "new.bin"), target, connection],
            env=env,
            stdout=subprocess.PIPE,
        )
        assert child.stdout.readline().strip() == b"ready"
        time.sleep(0.05 + 0.1 * attempt)
        child.send_signal(signal.SIGKILL)
        child.wait()
        fs.invalidate_cache()
        assert fs.cat_file(target) in (old, new), f"partial file after kill {attempt}"
        assert visible_data_files(fs, root) == [target]


def test_a_concurrent_reader_never_sees_a_partial_partition(lake, tmp_path):
    fs, root = lake
    versions = {1000: pages_of(graph_rows(1000, prefix="a")), 2500: pages_of(graph_rows(2500, prefix="b"))}
    commit(fs, root, tmp_path / "init", versions[1000])
    seen, problems, stop = [], [], threading.Event()

    def reader():
        from adlfs import AzureBlobFileSystem

        reader_fs = (
            fs
            if not isinstance(fs, AzureBlobFileSystem)
            else AzureBlobFileSystem(connection_string=fs.connection_string, skip_instance_cache=True)
        )
        while not stop.is_set():
            try:
                reader_fs.invalidate_cache()
                files = [p for p in reader_fs.glob(f"{table_path(root)}/**/*.parquet")]
                rows = 0
                for path in files:
                    # One GET per object: a consistent version. (A reader that fetches byte ranges must pin the
                    # blob's ETag across them, as Spark's ABFS driver does, or it can mix two versions.)
                    rows += pq.read_table(pa.BufferReader(reader_fs.cat_file(path)), columns=["id"]).num_rows
                seen.append(rows)
            except Exception as error:  # any read failure is a visible partial state
                problems.append(repr(error))

    thread = threading.Thread(target=reader)
    thread.start()
    try:
        for i in range(8):
            commit(fs, root, tmp_path / f"w{i}", versions[2500 if i % 2 == 0 else 1000])
    finally:
        stop.set()
        thread.join()
    assert not problems
    assert len(seen) >= 5 and set(seen) <= {1000, 2500}
