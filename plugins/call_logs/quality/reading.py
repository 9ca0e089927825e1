"""One committed partition read back from the lake exactly as consumers will see it, for the quality checks.

The data file is streamed once from storage to a local temporary copy (hashing it on the way), then
read column subset by column subset, batch by batch: a day of a million calls never needs all its
columns in memory at once. Columns come cast to the lake schema's types; a file that lacks a column or
whose column cannot be cast raises ``Uncheckable``, so the check that needed it fails instead of passing.
"""

from __future__ import annotations

import functools
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from call_logs.lake.layout import DATA_FILE, partition_path
from call_logs.lake.partition import read_manifest
from call_logs.lake.schema import SCHEMA
from call_logs.lake.storage import stream_digest
from call_logs.quality.history import VolumeHistory, load_history
from call_logs.quality.results import MAX_SAMPLE_IDS

BATCH_ROWS = 65_536


class Uncheckable(Exception):
    """The file lacks what a check needs (a column, a type); the check fails with this message."""


@dataclass
class CommittedPartition:
    """A committed partition as read back: its local copy, its manifest and where it came from."""

    day: date
    manifest: dict[str, Any] | None
    file: pq.ParquetFile | None
    file_problem: str | None
    bytes: int | None
    sha256: str | None
    history: Callable[[], VolumeHistory]

    @property
    def rows(self) -> int | None:
        return self.file.metadata.num_rows if self.file is not None else None

    def batches(self, columns: list[str]) -> Iterator[pa.Table]:
        """``id`` plus ``columns``, cast to the lake schema's types, one batch at a time."""
        assert self.file is not None
        present = set(self.file.schema_arrow.names)
        wanted = ["id", *(c for c in columns if c != "id")]
        missing = [c for c in wanted if c not in present]
        if missing:
            raise Uncheckable(f"the file has no column {', '.join(missing)}")
        for batch in self.file.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
            yield _conformed(pa.Table.from_batches([batch]))

    def scan(self, columns: list[str], violates: Callable[[pa.Table], pa.Array]) -> tuple[int, list[str]]:
        """Rows where ``violates`` is true (null counts as false), and the ids of the first 20 of them."""
        count, samples = 0, []
        for table in self.batches(columns):
            hits = table.filter(pc.fill_null(violates(table), False))
            count += hits.num_rows
            samples.extend(first_ids(hits, MAX_SAMPLE_IDS - len(samples)))
        return count, samples


def _conformed(table: pa.Table) -> pa.Table:
    for index, name in enumerate(table.column_names):
        expected = SCHEMA.field(name).type
        if table.schema.field(name).type != expected:
            try:
                table = table.set_column(index, name, table[name].cast(expected))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise Uncheckable(
                    f"column {name} is {table.schema.field(name).type}, not {expected}: {error}"
                ) from None
    return table


def first_ids(table: pa.Table, limit: int) -> list[str]:
    """The first ``limit`` non-null ids of ``table``."""
    if limit <= 0:
        return []
    return table["id"].drop_null().slice(0, limit).to_pylist()


def _read_back(
    fs: AbstractFileSystem, path: str, local: str
) -> tuple[pq.ParquetFile | None, str | None, int | None, str | None]:
    """(file, problem, bytes, sha256) of the stored data file, copied to ``local`` in one pass."""
    try:
        with fs.open(path, "rb") as source, open(local, "wb") as target:
            size, sha256 = stream_digest(source, copy_to=target)
    except FileNotFoundError:
        return None, f"{DATA_FILE} is missing", None, None
    try:
        return pq.ParquetFile(local), None, size, sha256
    except (pa.ArrowInvalid, OSError) as error:
        return None, f"{DATA_FILE} is not a readable Parquet file ({error})", size, sha256


@contextmanager
def read_partition(fs: AbstractFileSystem, root: str, day: date, history_days: int) -> Iterator[CommittedPartition]:
    """The day's partition as stored, its data file copied to a temporary folder removed on exit.

    Its volume history (the ``history_days`` calendar days before it) is loaded on first use only.
    """
    manifest = read_manifest(fs, root, day)
    with tempfile.TemporaryDirectory(prefix="direct-routing-dq-") as workdir:
        local = os.path.join(workdir, DATA_FILE)
        file, problem, size, sha256 = _read_back(fs, f"{partition_path(root, day)}/{DATA_FILE}", local)
        history = functools.cache(lambda: load_history(fs, root, day, history_days))
        try:
            yield CommittedPartition(day, manifest, file, problem, size, sha256, history)
        finally:
            if file is not None:
                file.close()
