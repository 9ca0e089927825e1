"""Parquet partitions: ``<root>/<table>/call_date=YYYY-MM-DD/part-0.parquet`` + ``_manifest.json`` + ``_dq.json``
(+ ``_quarantine.parquet`` when rows could not become rows of the day).

The first table format, and the lake contract consumers already read (Spark, Synapse, DuckDB, pandas):
- stage: the partition's ordered tables become one local Parquet file in row groups of ``ROWS_PER_BATCH`` rows;
- commit: the data file is published atomically (Azure: one blob commit; a folder: hidden temporary + rename),
  then the quarantine (or a stale one is removed), then ``_manifest.json``, then the stale ``_dq.json`` is removed.
  Until the data file is published nothing in the lake changes; a failure after it leaves a file whose manifest
  (old, or none) does not match its checksum, which the quality check reports.
- read: the data file is streamed once to a local copy (hashed on the way) and read back batch by batch.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any, Generic

import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from call_logs import defaults
from call_logs.lake.layout import DATA_FILE, MANIFEST_FILE, QUALITY_FILE, QUARANTINE_FILE, TableLayout
from call_logs.lake.storage import publish_file, publish_json, read_json, remove_stale_temp_files, stream_digest
from call_logs.sinks.base import ParseFacts, StoredDay, parse_or_problem
from call_logs.tables.partitioned import DayRows, FactsT, StagedDay, StagedFile, StoredFile, TableT


class _RowGroupWriter:
    """Appends tables to a Parquet file in row groups of exactly ``rows_per_group`` (the last may be smaller)."""

    def __init__(self, path: str, schema: pa.Schema, rows_per_group: int):
        self._schema = schema
        self._writer = pq.ParquetWriter(path, schema, compression="snappy", write_statistics=True)
        self._rows_per_group = rows_per_group
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def append(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self._rows_per_group:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        combined = pa.concat_tables(self._pending) if self._pending else self._schema.empty_table()
        full = combined.num_rows if final else combined.num_rows - combined.num_rows % self._rows_per_group
        if full:
            self._writer.write_table(combined.slice(0, full), row_group_size=self._rows_per_group)
        rest = combined.slice(full)
        self._pending, self._pending_rows = ([rest], rest.num_rows) if rest.num_rows else ([], 0)

    def close(self) -> None:
        """Write what is pending; a day without rows becomes a valid file with the schema and no row group."""
        self._flush(final=True)
        self._writer.close()


def _described(local_path: str) -> StagedFile:
    row_groups = pq.ParquetFile(local_path).metadata.num_row_groups
    with open(local_path, "rb") as handle:
        size, sha256 = stream_digest(handle)
    return StagedFile(local_path, StoredFile(os.path.basename(local_path), size, sha256, row_groups))


def stage_parquet(rows: DayRows, schema: pa.Schema, local_path: str, row_group_rows: int) -> StagedDay:
    """Write a partition's ordered tables to one local Parquet file, then its quarantine (if any rows) beside it
    as ``quarantine.parquet``, and describe their bytes (both sinks)."""
    writer = _RowGroupWriter(local_path, schema, row_group_rows)
    for table in rows.tables():
        writer.append(table)
    writer.close()
    data = _described(local_path)
    quarantine, quarantine_writer = os.path.join(os.path.dirname(local_path), "quarantine.parquet"), None
    for table in rows.quarantine():
        if table.num_rows:
            quarantine_writer = quarantine_writer or pq.ParquetWriter(quarantine, table.schema, compression="snappy")
            quarantine_writer.write_table(table)
    if quarantine_writer is None:
        return StagedDay(data.local_path, data.stored)
    quarantine_writer.close()
    return StagedDay(data.local_path, data.stored, _described(quarantine))


def read_quarantine_file(fs: AbstractFileSystem, path: str) -> tuple[pa.Table, str] | None:
    """A quarantine file's rows and the sha256 of its bytes, or None when there is none (both sinks)."""
    try:
        with fs.open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        return None
    return pq.read_table(pa.BufferReader(data)), hashlib.sha256(data).hexdigest()


class _ParquetData:
    """``DataReader`` over a local Parquet file."""

    def __init__(self, file: pq.ParquetFile):
        self._file = file

    @property
    def num_rows(self) -> int:
        return self._file.metadata.num_rows

    @property
    def schema(self) -> pa.Schema:
        return self._file.schema_arrow

    def iter_batches(self, columns: list[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        return self._file.iter_batches(batch_size=batch_size, columns=columns)


class ParquetPartitionSink(Generic[TableT, FactsT]):
    """One table's partitions as Hive-style Parquet partitions in an fsspec filesystem (a folder or Azure Blob).

    The table is a Graph report's ``ReportSpec`` or a gold table; ``_manifest.json`` holds its facts, read back with
    ``parse_facts`` (``Manifest.from_dict``, ``GoldManifest.from_dict``). With ``tenant`` the sink holds that
    tenant's partitions, under ``tenant=<slug>/``.
    """

    table_format = "parquet"

    def __init__(
        self,
        fs: AbstractFileSystem,
        root: str,
        spec: TableT,
        parse_facts: ParseFacts[FactsT],
        *,
        tenant: str | None = None,
        row_group_rows: int = defaults.ROWS_PER_BATCH,
    ):
        self.fs = fs
        self.spec = spec
        self.parse_facts = parse_facts
        self.tenant = tenant
        self.layout = TableLayout(root.rstrip("/"), spec.table, spec.partition_column, tenant)
        self.row_group_rows = row_group_rows

    def location(self, day: date) -> str:
        return self.layout.partition_path(day)

    def stage(self, day: date, rows: DayRows, workdir: str) -> StagedDay:
        return stage_parquet(rows, self.spec.schema, os.path.join(workdir, DATA_FILE), self.row_group_rows)

    def commit(self, day: date, staged: StagedDay, facts: FactsT) -> str:
        folder = self.location(day)
        remove_stale_temp_files(self.fs, folder)
        publish_file(self.fs, staged.local_path, f"{folder}/{DATA_FILE}")
        quarantine = self.quarantine_location(day)
        if staged.quarantine is not None:
            publish_file(self.fs, staged.quarantine.local_path, quarantine)
        elif self.fs.exists(quarantine):
            self.fs.rm_file(quarantine)  # it belonged to the previous file
        publish_json(self.fs, facts.to_dict(), f"{folder}/{MANIFEST_FILE}")
        if self.fs.exists(f"{folder}/{QUALITY_FILE}"):
            self.fs.rm_file(f"{folder}/{QUALITY_FILE}")  # it judged the previous file
        return folder

    def table_version(self, day: date) -> int | None:
        return None  # Hive partitions have no table version: the file's sha256 identifies a day's bytes

    def committed_days(self) -> list[date]:
        base = self.layout.days_path
        if not self.fs.exists(base):
            return []
        days = (self.layout.day_of_partition(entry) for entry in self.fs.ls(base, detail=False))
        return sorted(day for day in days if day is not None)

    def _manifest(self, day: date) -> tuple[FactsT | None, str | None]:
        try:
            document = read_json(self.fs, f"{self.location(day)}/{MANIFEST_FILE}")
        except ValueError as error:  # not JSON: a torn or foreign file
            return None, f"it is not JSON ({error})"
        return parse_or_problem(document, self.parse_facts)

    def read_manifest(self, day: date) -> FactsT | None:
        return self._manifest(day)[0]

    @contextmanager
    def open_day(self, day: date) -> Iterator[StoredDay[FactsT]]:
        manifest, manifest_problem = self._manifest(day)
        with tempfile.TemporaryDirectory(prefix="call-logs-read-") as workdir:
            local = os.path.join(workdir, DATA_FILE)
            fingerprint: dict[str, Any] = {"sha256": None, "bytes": None}
            data, problem, file = None, None, None
            try:
                with self.fs.open(f"{self.location(day)}/{DATA_FILE}", "rb") as source, open(local, "wb") as target:
                    size, sha256 = stream_digest(source, copy_to=target)
                fingerprint = {"sha256": sha256, "bytes": size}
                file = pq.ParquetFile(local)
                data = _ParquetData(file)
            except FileNotFoundError:
                problem = f"{DATA_FILE} is missing"
            except (pa.ArrowInvalid, OSError) as error:
                problem = f"{DATA_FILE} is not a readable Parquet file ({error})"
            try:
                yield StoredDay(day, manifest, manifest_problem, data, problem, DATA_FILE, fingerprint)
            finally:
                if file is not None:
                    file.close()

    def read_columns(self, day: date, columns: list[str]) -> pa.Table | None:
        try:
            with self.fs.open(f"{self.location(day)}/{DATA_FILE}", "rb") as handle:
                return pq.read_table(handle, columns=columns)
        except (FileNotFoundError, OSError, KeyError, ValueError):
            return None

    def quarantine_location(self, day: date) -> str:
        return f"{self.location(day)}/{QUARANTINE_FILE}"

    def read_quarantine(self, day: date) -> tuple[pa.Table, str] | None:
        return read_quarantine_file(self.fs, self.quarantine_location(day))

    def write_quality(self, day: date, document: dict[str, Any]) -> str:
        path = f"{self.location(day)}/{QUALITY_FILE}"
        publish_json(self.fs, document, path)
        return path

    def read_quality(self, day: date) -> dict[str, Any] | None:
        return read_json(self.fs, f"{self.location(day)}/{QUALITY_FILE}")
