"""A lake of real committed partitions (written by the real writer) and ways to break one for the checks to find.

Everything goes through an fsspec filesystem and a root path, so the same helpers serve a local folder
and an Azure Blob container alike.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Any

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from call_logs.lake.layout import DATA_FILE, MANIFEST_FILE, QUALITY_FILE
from call_logs.lake.storage import publish_file, publish_json, read_json
from call_logs.reports.direct_routing import DIRECT_ROUTING
from fsspec import AbstractFileSystem

from tests.rows import DAY, SENTINEL, call_rows, commit_rows  # noqa: F401 - re-exported for the test modules
from tests.sinks import report_sink

SCHEMA = DIRECT_ROUTING.schema


def _digest(path: str) -> tuple[int, str]:
    data = Path(path).read_bytes()
    return len(data), hashlib.sha256(data).hexdigest()


class QualityLake:
    """A lake root on an fsspec filesystem, with partitions committed by the real pipeline code."""

    def __init__(self, fs: AbstractFileSystem, root: str):
        self.fs, self.root = fs, root
        self.sink = report_sink(root, DIRECT_ROUTING, fs=fs)

    def commit(self, day: date, rows: list[dict], *, page_size: int = 1000) -> dict[str, Any]:
        """Write ``rows`` as Graph pages through the real pipeline and commit them; returns the manifest."""
        pages = [rows[i : i + page_size] for i in range(0, len(rows), page_size)] or [[]]
        return commit_rows(self.sink, day, pages).to_dict()

    def commit_history(self, counts: dict[date, int]) -> None:
        for day, count in counts.items():
            self.commit(day, call_rows(count, day=day, prefix=f"h{day:%m%d}"))

    def folder(self, day: date) -> str:
        return self.sink.location(day)

    def table(self, day: date) -> pa.Table:
        with self.fs.open(f"{self.folder(day)}/{DATA_FILE}", "rb") as handle:
            return pq.read_table(handle)

    def manifest(self, day: date) -> dict[str, Any]:
        manifest = read_json(self.fs, f"{self.folder(day)}/{MANIFEST_FILE}")
        assert manifest is not None
        return manifest

    def write_manifest(self, day: date, manifest: dict[str, Any]) -> None:
        publish_json(self.fs, manifest, f"{self.folder(day)}/{MANIFEST_FILE}")

    def quality_report(self, day: date) -> dict[str, Any] | None:
        return read_json(self.fs, f"{self.folder(day)}/{QUALITY_FILE}")

    def rewrite(self, day: date, table: pa.Table, *, fix_manifest: bool = True, schema: pa.Schema = SCHEMA) -> None:
        """Replace the stored data file with ``table``; with ``fix_manifest`` the manifest describes the new file."""
        with tempfile.TemporaryDirectory() as workdir:
            local = os.path.join(workdir, DATA_FILE)
            pq.write_table(table.cast(schema), local)
            publish_file(self.fs, local, f"{self.folder(day)}/{DATA_FILE}")
            size, sha256 = _digest(local)
        if fix_manifest:
            manifest = self.manifest(day)
            source = manifest["source"]
            manifest["rows"] = table.num_rows
            manifest["file"] |= {"bytes": size, "sha256": sha256}
            source["rows_fetched"] = table.num_rows + source["duplicates_dropped"] + source["out_of_window_dropped"]
            self.write_manifest(day, manifest)


@pytest.fixture(params=["local", "azurite"])
def lake(request, tmp_path) -> QualityLake:
    """The same lake on a local folder and on Azurite: checks read through the production storage path."""
    if request.param == "local":
        return QualityLake(fsspec.filesystem("file"), str(tmp_path / "lake"))
    fs, container = request.getfixturevalue("blob_container")
    return QualityLake(fs, f"{container}/lake")
