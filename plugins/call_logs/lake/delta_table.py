"""Delta Lake I/O for call-log tables with delta-rs (no Spark): one UTC day replaced per transaction.

- **Layout.** The table is partitioned by ``call_date``, typed ``date`` (Arrow ``date32``), added to every
  row while the batches stream through. Files therefore sit under ``call_date=YYYY-MM-DD/`` as in the
  Parquet lake, and Spark, Fabric, Databricks and DuckDB, which take partition types from the Delta
  schema, see a DATE they can compare and prune with date ranges (a string would need casts and sort
  only by luck of the ISO format).
- **One run, one version.** ``replace_day`` is a single ``WRITE`` (overwrite with the predicate
  ``call_date = 'YYYY-MM-DD'``): readers see the old day or the new day, and other days are untouched.
  delta-rs checks that every written row matches the predicate. No checkpoint and no log cleanup run as
  post-commit hooks; ``checkpoint`` and ``vacuum`` are separate maintenance calls. A new table is created
  by its own commit (version 0: schema, partitioning and ``delta.logRetentionDuration``, no data) before
  the first day is written; see "Concurrency" for why.
- **Day facts.** Each commit's ``userMetadata`` (the commitInfo field Spark's ``DESCRIBE HISTORY`` shows) is
  a JSON document ``{"kind": "call_logs.day_commit", "format": 1, "partition_column": ..., "day": ...,
  "metadata": {...}}``, where ``metadata`` is the caller's dict (run ids, Graph request counts, schema
  version, ...); delta-rs adds ``operationMetrics.num_added_rows``. A day without rows is still one
  commit (it removes the day's old files, adds none), so "committed empty" has a commit and "never
  pulled" has none. Each commit also records an app transaction (``txn``) ``call_logs.day/<column>=<day>``
  whose version counts the day's commits; it lives in the snapshot and its checkpoints, so "committed"
  stays known even after old commit files are cleaned up (the table keeps them 10 years, by its
  ``delta.logRetentionDuration``, unless someone changes that).
- **Protocol.** Reader 1 / writer 2: timestamps must be timezone-aware (``timestamp[us, UTC]``), because a
  naive timestamp turns on ``timestampNtz`` (reader 3 / writer 7) that older readers refuse.
- **Schema evolution.** Columns may be added (``schema_mode="merge"``); dropping, renaming or retyping one
  is refused before anything is written.
- **Concurrency** (seen with deltalake 1.6.6, local folders and Azurite): writers of *different* days
  commit together; delta-rs retries a commit that lost the race after checking the winner's files
  against this write's predicate (``num_retries`` in the commit's metrics), so no retry is needed here.
  Two writers of the *same* day conflict: one fails with ``DayCommitConflict``, nothing of it is
  committed. delta-rs retries a *table creation* that lost the race as a plain commit at version 1,
  without a conflict check, which replaces the table's metadata (a new table id); creating the table in
  a commit of its own that is never retried avoids that. delta-rs pulls the Python stream on its
  runtime's worker threads (one per core): in one process, a stream that waits (on Graph, say) holds one,
  so more concurrent ``replace_day`` calls than cores in one process queue behind each other. Airflow
  runs each task in its own process; feed ``replace_day`` from local data when a process writes many days.

Errors raised by delta-rs pass through ``secrets_redacted``: no storage secret reaches a message.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc

from call_logs import defaults
from call_logs.lake.delta_storage import secrets_redacted
from call_logs.lake.errors import CommitConflict, LakeSchemaError, PartitionUnusable
from call_logs.lake.layout import TENANT_COLUMN, TENANT_SLUG

if TYPE_CHECKING:
    from deltalake import DeltaTable

log = logging.getLogger(__name__)

PARTITION_COLUMN = "call_date"
PARTITION_TYPE = pa.date32()
EXPECTED_PROTOCOL = (1, 2)
METADATA_KIND = "call_logs.day_commit"
METADATA_FORMAT = 1
APP_ID_PREFIX = "call_logs.day/"
# Delta's (and Spark's) default: files a commit removed stay readable by older snapshots for 7 days.
DEFAULT_VACUUM_RETENTION_HOURS = 168
# A commit that lost a race is checked and retried once per competing commit: room for a 16-run backfill and more.
COMMIT_RETRIES = 64
# Commit files carry the day facts: keep them (one small JSON a day) when a checkpoint cleans up the log.
TABLE_CONFIGURATION = {"delta.logRetentionDuration": "interval 3650 days"}
_HISTORY_FIRST_LIMIT = 32
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*")


class DeltaSchemaChangeRefused(LakeSchemaError):
    """The new schema drops, renames or retypes a column of the table (only added columns are allowed)."""


class DayCommitConflict(CommitConflict):
    """Another writer committed the same day while this one wrote it; this write committed nothing."""


class DeltaTableMissing(PartitionUnusable):
    """There is no Delta table where one was to be read."""


def replace_day(
    uri: str,
    storage_options: Mapping[str, str] | None,
    data: pa.RecordBatchReader | Iterable[pa.RecordBatch],
    schema: pa.Schema,
    *,
    day: date,
    partition_column: str = PARTITION_COLUMN,
    metadata: Mapping[str, Any] | None = None,
    tenant: str | None = None,
) -> int:
    """Replace the rows of ``day`` with ``data`` in one transaction (creating the table if needed); the new version.

    ``data`` streams through once: batches with exactly ``schema``'s columns (cast to it), to which the
    ``date32`` partition column is added; a batch that already has that column must hold only ``day``.
    ``metadata`` (JSON values, dates and datetimes) is stored in the commit and read back by ``day_commit``.
    With ``tenant`` the table is partitioned by ``tenant`` then the day, and only that tenant's day is replaced
    (commits of different tenants never conflict). An exception raised by ``data`` is re-raised as it is, with
    nothing committed.
    """
    from deltalake import CommitProperties, PostCommitHookProperties, Transaction, WriterProperties, write_deltalake
    from deltalake.exceptions import CommitFailedError

    _check_day(day)
    _check_column(partition_column)
    _check_tenant(tenant)
    batches = _DayBatches(data, schema, partition_column, day, tenant)
    user_metadata = json.dumps(
        {
            "kind": METADATA_KIND,
            "format": METADATA_FORMAT,
            "partition_column": partition_column,
            "day": day.isoformat(),
            "metadata": dict(metadata or {}),
            **({"tenant": tenant} if tenant is not None else {}),
        },
        sort_keys=True,
        separators=(",", ":"),
        default=_json_value,
    )
    options = dict(storage_options or {})
    app_id = _app_id(partition_column, day, tenant)
    partition_by = _partition_by(partition_column, tenant)
    with secrets_redacted(options):
        table = _open_or_create(uri, options, batches.table_schema, partition_by)
        schema_mode = _schema_mode(table, batches.table_schema)
        commits = (table.transaction_version(app_id) or 0) + 1
        try:
            write_deltalake(
                table,
                batches.reader(),
                mode="overwrite",
                predicate=" AND ".join(f"{name} = '{value}'" for name, value in _where(partition_column, day, tenant)),
                partition_by=partition_by,
                schema_mode=schema_mode,
                writer_properties=WriterProperties(max_row_group_size=defaults.ROWS_PER_BATCH, compression="SNAPPY"),
                commit_properties=CommitProperties(
                    custom_metadata={"userMetadata": user_metadata},
                    max_commit_retries=COMMIT_RETRIES,
                    app_transactions=[Transaction(app_id=app_id, version=commits, last_updated=_now_ms())],
                ),
                post_commithook_properties=PostCommitHookProperties(
                    create_checkpoint=False, cleanup_expired_logs=False
                ),
            )
        except Exception as error:
            if batches.error is not None:
                raise batches.error from None
            if isinstance(error, CommitFailedError):
                raise DayCommitConflict(
                    f"A concurrent commit to {uri} conflicted with this run's {_label(partition_column, day, tenant)} "
                    "(most likely another run of the same day), so this run committed nothing: run the day again "
                    "once the other run has finished."
                ) from error
            raise
        version = table.version()
        protocol = table.protocol()
    if (protocol.min_reader_version, protocol.min_writer_version) != EXPECTED_PROTOCOL:
        log.warning(
            "Delta table %s now needs reader %s / writer %s (expected %s / %s): older readers may refuse it.",
            uri,
            protocol.min_reader_version,
            protocol.min_writer_version,
            *EXPECTED_PROTOCOL,
        )
    log.info("Committed %s to %s as version %s.", _label(partition_column, day, tenant), uri, version)
    return version


def read_day(
    uri: str,
    storage_options: Mapping[str, str] | None,
    day: date,
    columns: list[str] | None = None,
    *,
    partition_column: str = PARTITION_COLUMN,
    tenant: str | None = None,
) -> Iterator[pa.RecordBatch]:
    """The rows of ``day`` (of ``tenant``) in the table's current snapshot, batch by batch (only its files are read)."""
    _check_day(day)
    options = dict(storage_options or {})
    with secrets_redacted(options):
        table = _require_table(uri, options)
        dataset = table.to_pyarrow_dataset(file_pruning_predicate=pruning(partition_column, day, tenant))
        yield from dataset.to_batches(columns=columns)


def table_version(uri: str, storage_options: Mapping[str, str] | None) -> int | None:
    """The table's current version, or None when there is no table at ``uri``."""
    options = dict(storage_options or {})
    with secrets_redacted(options):
        table = _open(uri, options)
        return None if table is None else table.version()


def table_protocol(uri: str, storage_options: Mapping[str, str] | None) -> tuple[int, int]:
    """(minimum reader version, minimum writer version) of the table."""
    options = dict(storage_options or {})
    with secrets_redacted(options):
        protocol = _require_table(uri, options).protocol()
    return protocol.min_reader_version, protocol.min_writer_version


def committed_days(
    uri: str,
    storage_options: Mapping[str, str] | None,
    *,
    partition_column: str = PARTITION_COLUMN,
    tenant: str | None = None,
) -> list[date]:
    """Days (of ``tenant``) that have rows or a ``replace_day`` commit in the log (empty days included), oldest first.

    Reads every commit's commitInfo (one small object per commit): a report's call, not a per-run one.
    """
    options = dict(storage_options or {})
    with secrets_redacted(options):
        table = _open(uri, options)
        if table is None:
            return []
        days = {
            date.fromisoformat(p[partition_column])
            for p in table.partitions()
            if p.get(partition_column) and p.get(TENANT_COLUMN) == tenant
        }
        for commit in _history(table, None):
            document = _day_document(commit, partition_column, tenant)
            if document is not None:
                days.add(date.fromisoformat(document["day"]))
    return sorted(days)


def tenants(uri: str, storage_options: Mapping[str, str] | None) -> list[str]:
    """The tenants with partitions in the table's current snapshot, sorted; [] for a table of one tenant."""
    options = dict(storage_options or {})
    with secrets_redacted(options):
        table = _open(uri, options)
        if table is None or TENANT_COLUMN not in table.metadata().partition_columns:
            return []
        return sorted({p[TENANT_COLUMN] for p in table.partitions() if p.get(TENANT_COLUMN)})


def day_commit(
    uri: str,
    storage_options: Mapping[str, str] | None,
    day: date,
    *,
    partition_column: str = PARTITION_COLUMN,
    tenant: str | None = None,
) -> dict[str, Any] | None:
    """The latest ``replace_day`` commit of ``day`` (of ``tenant``), or None when the day was never committed.

    Keys: ``day``, ``version``, ``timestamp`` (UTC datetime), ``rows`` (rows that commit added),
    ``metadata`` (the caller's dict) and ``commits`` (how many times the day was committed). If the
    commit's file has been cleaned out of the log, ``version``, ``timestamp``, ``rows`` and ``metadata``
    are None: the day is known to be committed, its facts are gone.
    """
    _check_day(day)
    options = dict(storage_options or {})
    with secrets_redacted(options):
        table = _open(uri, options)
        if table is None:
            return None
        commits = table.transaction_version(_app_id(partition_column, day, tenant))
        if commits is None:
            return None
        for commit in _commits_newest_first(table):
            document = _day_document(commit, partition_column, tenant)
            if document is not None and document["day"] == day.isoformat():
                return {
                    "day": day,
                    "version": commit["version"],
                    "timestamp": datetime.fromtimestamp(commit["timestamp"] / 1000, UTC),
                    "rows": (commit.get("operationMetrics") or {}).get("num_added_rows"),
                    "metadata": document.get("metadata", {}),
                    "commits": commits,
                }
    return {"day": day, "version": None, "timestamp": None, "rows": None, "metadata": None, "commits": commits}


def vacuum(
    uri: str,
    storage_options: Mapping[str, str] | None,
    retention_hours: int = DEFAULT_VACUUM_RETENTION_HOURS,
    *,
    dry_run: bool = False,
    full: bool = True,
    enforce_retention_duration: bool = True,
) -> list[str]:
    """Delete data files that no snapshot younger than ``retention_hours`` needs; the files (to be) deleted.

    ``full`` also deletes files no commit ever named (left by writes that failed), once they are older
    than the retention. A retention below the table's ``delta.deletedFileRetentionDuration`` (7 days by
    default) is refused unless ``enforce_retention_duration`` is False: it can pull files from under a
    reader of an older snapshot, or from a writer that has not committed yet.
    """
    from deltalake import PostCommitHookProperties

    options = dict(storage_options or {})
    with secrets_redacted(options):
        return _require_table(uri, options).vacuum(
            retention_hours=retention_hours,
            dry_run=dry_run,
            enforce_retention_duration=enforce_retention_duration,
            full=full,
            post_commithook_properties=PostCommitHookProperties(create_checkpoint=False, cleanup_expired_logs=False),
        )


def checkpoint(uri: str, storage_options: Mapping[str, str] | None) -> int:
    """Write a checkpoint of the current version (readers then skip replaying older commits); that version.

    Old commit files are not deleted (delta-rs's ``cleanup_metadata`` would do that, by the table's
    ``delta.logRetentionDuration``).
    """
    options = dict(storage_options or {})
    with secrets_redacted(options):
        table = _require_table(uri, options)
        table.create_checkpoint()
        return table.version()


class _DayBatches:
    """The caller's batches, checked, cast to the schema and given the day's partition column (and the tenant's),
    as they stream."""

    def __init__(self, data: Any, schema: pa.Schema, column: str, day: date, tenant: str | None = None) -> None:
        if column in schema.names and schema.field(column).type != PARTITION_TYPE:
            raise LakeSchemaError(f"Column {column} must be {PARTITION_TYPE}, not {schema.field(column).type}.")
        naive = _naive_timestamps(schema)
        if naive:
            raise LakeSchemaError(
                f"Timestamp columns without a time zone ({', '.join(naive)}) would need Delta's timestampNtz feature "
                "(reader 3 / writer 7): make them timestamp[us, UTC]."
            )
        self.schema = pa.schema([f for f in schema if f.name not in (column, TENANT_COLUMN)])
        partitions = [pa.field(column, PARTITION_TYPE, nullable=True)]
        if tenant is not None:
            partitions.insert(0, pa.field(TENANT_COLUMN, pa.string(), nullable=True))
        self.table_schema = pa.schema([*self.schema, *partitions])
        self.column = column
        self.day = day
        self.tenant = tenant
        self.data = data.to_batches() if isinstance(data, pa.Table) else data
        self.error: Exception | None = None

    def reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.table_schema, self._batches())

    def _batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self.data:
                yield self._prepare(batch)
        except Exception as error:
            self.error = error
            raise

    def _prepare(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        names = set(batch.schema.names) - {self.column, TENANT_COLUMN}
        if names != set(self.schema.names):
            missing, unexpected = set(self.schema.names) - names, names - set(self.schema.names)
            raise LakeSchemaError(
                f"A batch does not have the schema's columns: missing {sorted(missing)}, "
                f"unexpected {sorted(unexpected)}."
            )
        if self.column in batch.schema.names:
            days = batch.column(self.column)
            wrong = days.null_count or not pc.all(pc.equal(days, pa.scalar(self.day, PARTITION_TYPE))).as_py()
            if batch.num_rows and wrong:
                raise LakeSchemaError(f"A batch holds rows for another {self.column} than {self.day.isoformat()}.")
        data = batch.select(self.schema.names)
        if not data.schema.equals(self.schema):
            data = data.cast(self.schema)
        partitions = [pa.repeat(pa.scalar(self.day, PARTITION_TYPE), batch.num_rows)]
        if self.tenant is not None:
            partitions.insert(0, pa.repeat(pa.scalar(self.tenant, pa.string()), batch.num_rows))
        return pa.RecordBatch.from_arrays([*data.columns, *partitions], schema=self.table_schema)


def _naive_timestamps(fields: Iterable[pa.Field], prefix: str = "") -> list[str]:
    found = []
    for item in fields:
        kind, name = item.type, f"{prefix}{item.name}"
        if pa.types.is_timestamp(kind) and kind.tz is None:
            found.append(name)
        elif pa.types.is_struct(kind):
            found += _naive_timestamps([kind.field(i) for i in range(kind.num_fields)], f"{name}.")
        elif pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            found += _naive_timestamps([kind.value_field], f"{name}[].")
        elif pa.types.is_map(kind):
            found += _naive_timestamps([kind.key_field, kind.item_field], f"{name}{{}}.")
    return found


def _open(uri: str, options: dict[str, str]) -> DeltaTable | None:
    from deltalake import DeltaTable
    from deltalake.exceptions import TableNotFoundError

    try:
        return DeltaTable(uri, storage_options=options or None)
    except TableNotFoundError:
        return None


def _require_table(uri: str, options: dict[str, str]) -> DeltaTable:
    table = _open(uri, options)
    if table is None:
        raise DeltaTableMissing(f"There is no Delta table at {uri}.")
    return table


def _open_or_create(uri: str, options: dict[str, str], schema: pa.Schema, partition_by: list[str]) -> DeltaTable:
    """The table at ``uri``, created empty first if there is none (a creation that loses a race is not retried)."""
    from deltalake import CommitProperties, DeltaTable

    table = _open(uri, options)
    if table is None:
        try:
            DeltaTable.create(
                uri,
                schema,
                mode="error",
                partition_by=partition_by,
                configuration=TABLE_CONFIGURATION,
                storage_options=options or None,
                commit_properties=CommitProperties(max_commit_retries=0),
            )
        except Exception:
            if not DeltaTable.is_deltatable(uri, options or None):
                raise
        table = _require_table(uri, options)
    partitions = table.metadata().partition_columns
    if partitions != partition_by:
        raise LakeSchemaError(
            f"The Delta table at {uri} is partitioned by {partitions}, not by {partition_by}: point the lake root at "
            "another folder, or move the table away (a lake of one tenant becomes one of many as the README says)."
        )
    return table


def _schema_mode(table: DeltaTable, schema: pa.Schema) -> Literal["merge"] | None:
    """None when ``schema`` is the table's, "merge" when it only adds columns; refuses anything else."""
    from deltalake import Schema

    current = {f.name: json.loads(f.to_json())["type"] for f in table.schema().fields}
    incoming = {f.name: json.loads(f.to_json())["type"] for f in Schema.from_arrow(schema).fields}
    missing = [name for name in current if name not in incoming]
    changed = [name for name in current if name in incoming and incoming[name] != current[name]]
    if missing or changed:
        raise DeltaSchemaChangeRefused(
            f"The data's schema would change the table's columns (missing: {missing or 'none'}, other type: "
            f"{changed or 'none'}); only added columns are allowed: keep the old columns and add new ones."
        )
    return "merge" if len(incoming) > len(current) else None


def _history(table: DeltaTable, limit: int | None) -> list[dict[str, Any]]:
    """``table.history(limit)`` with versions that match the commits.

    delta-rs numbers the listed commits down from the loaded version, but the listing also returns
    commits newer than it: list again until no commit landed meanwhile. (It also assumes every commit
    has a commitInfo, which delta-rs, Spark and Fabric always write.)
    """
    while True:
        version = table.version()
        entries = table.history(limit)
        table.update_incremental()
        if table.version() == version:
            return entries


def _commits_newest_first(table: DeltaTable) -> Iterator[dict[str, Any]]:
    """Commits from the newest back, fetched in growing pages (a recent day is found without reading the log)."""
    limit, lowest = _HISTORY_FIRST_LIMIT, None
    while True:
        entries = _history(table, limit)
        for entry in entries:
            if lowest is None or entry["version"] < lowest:
                lowest = entry["version"]
                yield entry
        if len(entries) < limit or lowest == 0:
            return
        limit *= 8


def _day_document(commit: Mapping[str, Any], column: str, tenant: str | None) -> dict[str, Any] | None:
    """The ``replace_day`` document in a commit's userMetadata, or None for any other commit."""
    raw = commit.get("userMetadata")
    if not isinstance(raw, str):
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(document, dict) or document.get("kind") != METADATA_KIND:
        return None
    if document.get("partition_column") != column or document.get("tenant") != tenant:
        return None
    return document


def _app_id(column: str, day: date, tenant: str | None) -> str:
    return APP_ID_PREFIX + "/".join(f"{name}={value}" for name, value in _where(column, day, tenant))


def _partition_by(column: str, tenant: str | None) -> list[str]:
    return [column] if tenant is None else [TENANT_COLUMN, column]


def _where(column: str, day: date, tenant: str | None) -> list[tuple[str, str]]:
    """The partition values of one day (of one tenant), outermost first."""
    return ([(TENANT_COLUMN, tenant)] if tenant is not None else []) + [(column, day.isoformat())]


def _label(column: str, day: date, tenant: str | None) -> str:
    return " ".join(f"{name}={value}" for name, value in _where(column, day, tenant))


def pruning(column: str, day: date, tenant: str | None = None) -> list[tuple[str, str, str]]:
    """delta-rs's file pruning predicate for one day (of one tenant)."""
    return [(name, "=", value) for name, value in _where(column, day, tenant)]


def _check_day(day: date) -> None:
    if isinstance(day, datetime) or not isinstance(day, date):
        raise TypeError(f"day must be a datetime.date (a UTC day), not {type(day).__name__}.")


def _check_tenant(tenant: str | None) -> None:
    if tenant is not None and not TENANT_SLUG.fullmatch(tenant):
        raise LakeSchemaError(f"Tenant slug {tenant!r} is not a lower-case slug; it cannot name a partition.")


def _check_column(column: str) -> None:
    if not _IDENTIFIER.fullmatch(column):
        raise LakeSchemaError(f"Partition column {column!r} must be a lower-case SQL identifier.")


def _json_value(value: Any) -> str:
    if isinstance(value, date | datetime):
        return value.isoformat()
    raise TypeError(f"Commit metadata values must be JSON values, dates or datetimes, not {type(value).__name__}.")


def _now_ms() -> int:
    return int(datetime.now(UTC).timestamp() * 1000)
