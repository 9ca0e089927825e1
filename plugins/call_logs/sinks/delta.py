"""Delta Lake: one table's days in one Delta table ``<root>/<table>/``, partitioned by its day column (a DATE).

The table is a Graph report (partitioned by ``call_date``) or a gold table derived from one (``call_date``, or
``month`` for a monthly rollup, keyed by the month's first day); a commit's metadata is the partition's facts
document either way (``Manifest`` or ``GoldManifest``), read back with the sink's ``parse_facts``.

The second table format, over ``lake/delta_table.py`` (delta-rs, no Spark). Fabric, Databricks, Synapse Spark,
Spark with Delta, DuckDB's ``delta_scan`` and delta-rs read it natively.

- **stage**: the partition's ordered tables become one local Parquet file (the same writer and row groups as
  the Parquet sink). Its size and sha256 are the manifest's ``file`` facts, final before anything is committed,
  and a failed commit can be retried from it without pulling Graph again.
- **commit**: one ``replace_day`` transaction (overwrite with the predicate ``call_date = 'D'``) streams the staged
  rows into the table. The whole manifest (``to_dict()``: run ids, Graph request counts, source counts,
  rows per hour, the staged file's sha256) is that commit's metadata, so a day's facts and its rows become visible
  together or not at all: a run that dies before the commit leaves the table at its previous version. A re-run
  adds exactly one version; other days are untouched. No checkpoint or vacuum runs here (maintenance DAG).
- **manifest**: rebuilt from the day's latest ``replace_day`` commit (``day_commit``), so history and slicing
  read it as they read ``_manifest.json``.
- **read**: every read of a day goes through one snapshot of the table (the current version when the day is
  opened). The fingerprint the quality check compares with the manifest's ``file`` is the manifest's own
  ``sha256``/``bytes`` only if the day's data files in that snapshot are exactly the files the day's commit left
  (nobody deleted, appended, rewrote or compacted the day since); otherwise ``sha256`` is None and the check
  fails. Delta's log, not a checksum of re-encoded bytes, is what proves the data is the committed data.
- **quality reports**: ``<root>/<table>/_dq/call_date=YYYY-MM-DD.json``. Delta readers and delta-rs's vacuum
  ignore folders starting with ``_``; the commit removes the day's stale report, as the Parquet sink does.
- **quarantine** (rows that could not become rows of the day): ``<root>/<table>/_quarantine/call_date=D.parquet``,
  published just before the day's commit (a stale one removed), its sha256 in the commit's manifest.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any, Generic

import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from call_logs import defaults
from call_logs.lake import delta_table
from call_logs.lake.delta_storage import DeltaLocation, redact, secrets_redacted
from call_logs.lake.errors import LakeError
from call_logs.lake.layout import TENANT_COLUMN
from call_logs.lake.storage import publish_file, publish_json, read_json
from call_logs.sinks.base import ParseFacts, StoredDay, parse_or_problem
from call_logs.sinks.parquet_partitions import read_quarantine_file, stage_parquet
from call_logs.tables.partitioned import DayRows, FactsT, PartitionedTable, StagedDay, TableT

if TYPE_CHECKING:
    from deltalake import DeltaTable

STAGED_FILE = "staged.parquet"  # the manifest's file.name: the local bytes the commit streamed into the table
QUALITY_FOLDER = "_dq"
QUARANTINE_FOLDER = "_quarantine"


class _DeltaData:
    """``DataReader`` over one day of one pinned snapshot, columns conformed to the table schema's Arrow types.

    A column whose Delta type is the table schema's (the same logical type, which Arrow can spell in more than
    one way) is presented with the schema's Arrow type; any other column keeps the type the table gives it, so
    the schema check sees the drift.
    """

    def __init__(
        self, table: DeltaTable, spec: PartitionedTable, day: date, schema_version: int | None, tenant: str | None
    ):
        from deltalake import Schema

        column = spec.partition_column
        pruning = delta_table.pruning(column, day, tenant)
        self._dataset = table.to_pyarrow_dataset(file_pruning_predicate=pruning)
        self._rows: int | None = None
        expected = {f.name: f for f in spec.schema}
        fields = []
        for stored in self._dataset.schema:
            if stored.name in (column, TENANT_COLUMN):
                continue  # the partition columns are the day and tenant, as folder names are for Parquet partitions
            wanted = expected.get(stored.name)
            if wanted is not None and _delta_type(Schema, wanted) == _delta_type(Schema, stored):
                fields.append(wanted)
            else:
                fields.append(stored)
        metadata = {spec.schema_version_key: str(schema_version)} if schema_version is not None else None
        self._schema = pa.schema(fields, metadata=metadata)

    @property
    def num_rows(self) -> int:
        if self._rows is None:
            self._rows = self._dataset.count_rows()
        return self._rows

    @property
    def schema(self) -> pa.Schema:
        return self._schema

    def iter_batches(self, columns: list[str], batch_size: int) -> Iterator[pa.RecordBatch]:
        target = pa.schema([self._schema.field(name) for name in columns])
        for batch in self._dataset.to_batches(columns=columns, batch_size=batch_size):
            yield batch if batch.schema.equals(target) else batch.cast(target)


def _delta_type(schema_class: Any, field: pa.Field) -> Any:
    try:
        return json.loads(schema_class.from_arrow(pa.schema([field])).fields[0].to_json())["type"]
    except Exception:  # a type Delta cannot hold: never equal to a stored column's
        return None


class DeltaTableSink(Generic[TableT, FactsT]):
    """One table's partitions in one Delta table; quality reports beside it in ``_dq/`` (an fsspec filesystem)."""

    table_format = "delta"

    def __init__(
        self,
        fs: AbstractFileSystem,
        root: str,
        spec: TableT,
        location: DeltaLocation,
        parse_facts: ParseFacts[FactsT],
        *,
        tenant: str | None = None,
        row_group_rows: int = defaults.ROWS_PER_BATCH,
    ):
        self.fs = fs
        self.spec = spec
        self.delta = location
        self.parse_facts = parse_facts
        self.tenant = tenant
        self.table_path = f"{root.rstrip('/')}/{spec.table}"
        self.row_group_rows = row_group_rows
        self.last_version: int | None = None  # the version the last commit of this sink created

    @property
    def _uri(self) -> str:
        return self.delta.uri

    @property
    def _options(self) -> dict[str, str]:
        return self.delta.storage_options

    def _partition(self, day: date) -> str:
        """``call_date=D``, or ``tenant=<slug>/call_date=D``: the day's folder in the table and beside it."""
        day_part = f"{self.spec.partition_column}={day.isoformat()}"
        return day_part if self.tenant is None else f"{TENANT_COLUMN}={self.tenant}/{day_part}"

    def location(self, day: date) -> str:
        return f"{self._uri}/{self._partition(day)}"

    def quality_path(self, day: date) -> str:
        return f"{self.table_path}/{QUALITY_FOLDER}/{self._partition(day)}.json"

    def quarantine_location(self, day: date) -> str:
        return f"{self.table_path}/{QUARANTINE_FOLDER}/{self._partition(day)}.parquet"

    def read_quarantine(self, day: date) -> tuple[pa.Table, str] | None:
        return read_quarantine_file(self.fs, self.quarantine_location(day))

    # --- writing -----------------------------------------------------------------------------------------------

    def stage(self, day: date, rows: DayRows, workdir: str) -> StagedDay:
        return stage_parquet(rows, self.spec.schema, os.path.join(workdir, STAGED_FILE), self.row_group_rows)

    def commit(self, day: date, staged: StagedDay, facts: FactsT) -> str:
        quarantine = self.quarantine_location(day)
        if staged.quarantine is not None:
            publish_file(self.fs, staged.quarantine.local_path, quarantine)
        elif self.fs.exists(quarantine):
            self.fs.rm_file(quarantine)  # it belonged to the previous commit of the day
        staged_file = pq.ParquetFile(staged.local_path)
        try:
            self.last_version = delta_table.replace_day(
                self._uri,
                self._options,
                staged_file.iter_batches(batch_size=self.row_group_rows),
                self.spec.schema,
                day=day,
                partition_column=self.spec.partition_column,
                metadata=facts.to_dict(),
                tenant=self.tenant,
            )
        finally:
            staged_file.close()
        if self.fs.exists(self.quality_path(day)):
            self.fs.rm_file(self.quality_path(day))  # it judged the previous commit of the day
        return self.location(day)

    # --- reading -----------------------------------------------------------------------------------------------

    def committed_days(self) -> list[date]:
        return delta_table.committed_days(
            self._uri, self._options, partition_column=self.spec.partition_column, tenant=self.tenant
        )

    def _commit(self, day: date) -> dict[str, Any] | None:
        return delta_table.day_commit(
            self._uri, self._options, day, partition_column=self.spec.partition_column, tenant=self.tenant
        )

    def _manifest(self, commit: dict[str, Any] | None) -> tuple[FactsT | None, str | None]:
        if commit is not None and commit["metadata"] is None:
            return None, f"the facts of its commit ({commit['commits']} so far) were cleaned out of the Delta log"
        return parse_or_problem(None if commit is None else commit["metadata"], self.parse_facts)

    def read_manifest(self, day: date) -> FactsT | None:
        return self._manifest(self._commit(day))[0]

    def table_version(self, day: date) -> int | None:
        commit = self._commit(day)
        return None if commit is None else commit["version"]

    @contextmanager
    def open_day(self, day: date) -> Iterator[StoredDay[FactsT]]:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        column = self.spec.partition_column
        name = f"Delta table {self.spec.table}, {column}={day.isoformat()}"
        fingerprint: dict[str, Any] = {"sha256": None, "bytes": None}
        data, problem = None, None
        with secrets_redacted(self._options):
            try:
                table = DeltaTable(self._uri, storage_options=self._options or None)
            except TableNotFoundError:
                table, problem = None, f"there is no Delta table at {self._uri}"
            # The day's commit is looked up after the snapshot is pinned: a commit that lands in between is not in
            # the snapshot and is found as the day's commit, so the day fails instead of passing on stale facts.
            commit = self._commit(day) if table is not None else None
            manifest, manifest_problem = self._manifest(commit)
            if table is not None:
                name = f"{name} at version {table.version()}"
                data = _DeltaData(table, self.spec, day, manifest.schema_version if manifest else None, self.tenant)
                fingerprint = self._fingerprint(table, day, commit, manifest)
        yield StoredDay(day, manifest, manifest_problem, data, problem, name, fingerprint)

    def _fingerprint(
        self, table: DeltaTable, day: date, commit: dict[str, Any] | None, manifest: FactsT | None
    ) -> dict[str, Any]:
        """The manifest's file facts when the snapshot holds exactly the day's committed files, else unknown ones."""
        from deltalake import DeltaTable

        current = _day_files(table, self.spec.partition_column, day, self.tenant)
        observed: dict[str, Any] = {"sha256": None, "bytes": None}
        if commit is None or manifest is None or commit["version"] is None or commit["version"] > table.version():
            return observed
        try:
            committed_table = DeltaTable(self._uri, version=commit["version"], storage_options=self._options or None)
        except Exception as error:  # that version's log cannot be read (cleaned up, say): nothing proves the files
            reason = redact(f"{type(error).__name__}: {error}", self._options)
            return observed | {"committed_version_unreadable": reason}
        committed = _day_files(committed_table, self.spec.partition_column, day, self.tenant)
        if current == committed:
            return {"sha256": manifest.file.sha256, "bytes": manifest.file.bytes}
        return observed | {"changed_since_version": commit["version"], "files": len(current)}

    def read_columns(self, day: date, columns: list[str]) -> pa.Table | None:
        try:
            batches = list(
                delta_table.read_day(
                    self._uri,
                    self._options,
                    day,
                    columns,
                    partition_column=self.spec.partition_column,
                    tenant=self.tenant,
                )
            )
        except (LakeError, OSError, KeyError, ValueError, pa.ArrowInvalid):
            return None
        if not batches:
            fields = [self.spec.schema.field(name) for name in columns]
            return pa.schema(fields).empty_table()
        return pa.Table.from_batches(batches)

    # --- maintenance (its own DAG, never inside a day's run) ----------------------------------------------------

    def maintain(self, retention_hours: int = delta_table.DEFAULT_VACUUM_RETENTION_HOURS) -> dict[str, Any] | None:
        """Vacuum files older than ``retention_hours`` that no snapshot since needs, then checkpoint.

        Returns what was done, or None when the table does not exist yet. Vacuum adds its own commits (no data
        change); the checkpoint, taken after it, adds none. Quality reports in ``_dq/`` are not table files and stay.
        """
        if delta_table.table_version(self._uri, self._options) is None:
            return None
        deleted = delta_table.vacuum(self._uri, self._options, retention_hours)
        version = delta_table.checkpoint(self._uri, self._options)
        return {"table": self._uri, "vacuumed_files": len(deleted), "checkpoint_version": version}

    # --- quality reports ---------------------------------------------------------------------------------------

    def write_quality(self, day: date, document: dict[str, Any]) -> str:
        path = self.quality_path(day)
        publish_json(self.fs, document, path)
        return path

    def read_quality(self, day: date) -> dict[str, Any] | None:
        return read_json(self.fs, self.quality_path(day))


def _day_files(table: DeltaTable, column: str, day: date, tenant: str | None) -> dict[str, int]:
    """The data files of ``day`` (of ``tenant``) in the table's snapshot: path -> size."""
    actions = pa.table(table.get_add_actions(flatten=True))
    rows = len(actions)
    wanted = {f"partition.{name}": value for name, _, value in delta_table.pruning(column, day, tenant)}
    if any(key not in actions.column_names for key in wanted):
        return {}
    values = {key: [None if v is None else str(v) for v in actions[key].to_pylist()] for key in wanted}
    return {
        actions["path"][i].as_py(): actions["size_bytes"][i].as_py()
        for i in range(rows)
        if all(values[key][i] == value for key, value in wanted.items())
    }
