"""Stream Graph pages into one sorted, deduplicated Parquet file on local disk, with flat memory.

Pages are converted to Arrow as they arrive and spilled to local Arrow IPC files, one per time bucket of
the window (15 minutes by default). Then each bucket, in time order, is deduplicated by ``id``, sorted by
(``startDateTime``, ``id``) and appended to the Parquet file in bounded row groups. Memory therefore
follows the largest bucket and one row group, not the day. Duplicates of an ``id`` share their
``startDateTime`` and so their bucket; an ``id`` seen with two different start times is left for the
quality check to report, not silently resolved.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from call_logs.lake.convert import SENTINEL_FLAG_FIELDS, ConversionStats, rows_to_batch, sentinel_flag_column
from call_logs.lake.schema import SCHEMA, TIMESTAMP_COLUMNS
from call_logs.lake.storage import stream_digest

DEFAULT_BUCKET = timedelta(minutes=15)
DEFAULT_ROW_GROUP_ROWS = 65_536
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SPILL_SCHEMA = pa.schema(list(SCHEMA) + SENTINEL_FLAG_FIELDS)
_TIEBREAK_COLUMNS = [f.name for f in SCHEMA if not pa.types.is_nested(f.type) and f.name not in ("startDateTime", "id")]


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclass
class BuiltPartition:
    """A finished local Parquet file and what it took to make it."""

    local_path: str
    rows: int = 0
    rows_fetched: int = 0
    duplicates_dropped: int = 0
    out_of_window_dropped: int = 0
    row_groups: int = 0
    bytes: int = 0
    sha256: str = ""
    sentinels: Counter = field(default_factory=Counter)  # in written rows, per timestamp column
    rows_per_hour: list[int] = field(default_factory=list)  # written rows per hour of the window (plans slicing)
    conversion: ConversionStats = field(default_factory=ConversionStats)


class _BucketSpill:
    """Local Arrow IPC files, one per time bucket, appended to page by page."""

    def __init__(self, folder: str):
        self.folder = folder
        self._writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}

    def _path(self, bucket: int) -> str:
        return os.path.join(self.folder, f"bucket-{bucket:05d}.arrow")

    def add(self, bucket: int, batch: pa.RecordBatch) -> None:
        writer = self._writers.get(bucket)
        if writer is None:
            writer = self._writers[bucket] = pa.ipc.new_file(self._path(bucket), _SPILL_SCHEMA)
        writer.write_batch(batch)

    def close(self) -> list[int]:
        for writer in self._writers.values():
            writer.close()
        return sorted(self._writers)

    def read(self, bucket: int) -> pa.Table:
        with pa.memory_map(self._path(bucket)) as source:
            table = pa.ipc.open_file(source).read_all().combine_chunks()
        os.remove(self._path(bucket))
        return table


def _dedupe_and_sort(table: pa.Table) -> pa.Table:
    """One row per ``id`` (rows without an id are all kept), in (``startDateTime``, ``id``) order.

    Which copy of a duplicated ``id`` survives does not depend on arrival order (pages may come from
    several threads): when there are duplicates, rows are first sorted on every sortable column and the
    first of each ``id`` is kept.
    """
    keys = [("startDateTime", "ascending"), ("id", "ascending")]
    ids = table["id"]
    if pc.count_distinct(ids, mode="only_valid").as_py() == len(ids) - ids.null_count:
        return table.sort_by(keys)  # the usual case: nothing to drop
    table = table.sort_by(keys + [(name, "ascending") for name in _TIEBREAK_COLUMNS])
    table = table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    first = table.filter(pc.is_valid(table["id"])).group_by("id", use_threads=False).aggregate([("__row", "min")])
    without_id = table.filter(pc.is_null(table["id"]))["__row"]
    rows = pa.chunked_array(first["__row_min"].chunks + without_id.chunks, pa.int64())
    keep = rows.take(pc.sort_indices(rows))  # ascending positions: the order of the full sort
    return table.take(keep).drop_columns(["__row"])


class _RowGroupWriter:
    """Appends tables to a Parquet file in row groups of exactly ``rows_per_group`` (the last may be smaller)."""

    def __init__(self, path: str, rows_per_group: int):
        self._writer = pq.ParquetWriter(path, SCHEMA, compression="snappy", write_statistics=True)
        self._rows_per_group = rows_per_group
        self._pending: list[pa.Table] = []
        self._pending_rows = 0

    def append(self, table: pa.Table) -> None:
        self._pending.append(table)
        self._pending_rows += table.num_rows
        if self._pending_rows >= self._rows_per_group:
            self._flush(final=False)

    def _flush(self, final: bool) -> None:
        combined = pa.concat_tables(self._pending) if self._pending else SCHEMA.empty_table()
        full = combined.num_rows if final else combined.num_rows - combined.num_rows % self._rows_per_group
        if full:
            self._writer.write_table(combined.slice(0, full), row_group_size=self._rows_per_group)
        rest = combined.slice(full)
        self._pending, self._pending_rows = ([rest], rest.num_rows) if rest.num_rows else ([], 0)

    def close(self) -> None:
        """Write what is pending; a day without rows becomes a valid file with the schema and no row group."""
        self._flush(final=True)
        self._writer.close()


def build_partition_file(
    pages: Iterable[list[dict]],
    start: datetime,
    end: datetime,
    workdir: str,
    *,
    bucket: timedelta = DEFAULT_BUCKET,
    row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
) -> BuiltPartition:
    """Write the rows of ``pages`` with ``startDateTime`` in ``[start, end)`` to ``workdir/part-0.parquet``."""
    result = BuiltPartition(local_path=os.path.join(workdir, "part-0.parquet"))
    spill = _BucketSpill(workdir)
    start_us, end_us, bucket_us = _micros(start), _micros(end), bucket // timedelta(microseconds=1)
    for rows in pages:
        result.rows_fetched += len(rows)
        if not rows:
            continue
        batch = rows_to_batch(rows, result.conversion, sentinel_flags=True)
        micros = batch.column("startDateTime").cast(pa.int64())
        inside = pc.fill_null(pc.and_(pc.greater_equal(micros, start_us), pc.less(micros, end_us)), False)
        kept = batch.filter(inside)
        result.out_of_window_dropped += batch.num_rows - kept.num_rows
        if not kept.num_rows:
            continue
        buckets = (kept.column("startDateTime").cast(pa.int64()).to_numpy() - start_us) // bucket_us
        if (np.diff(buckets) < 0).any():  # Graph's order is not documented: group the page by bucket once
            order = np.argsort(buckets, kind="stable")
            kept, buckets = kept.take(pa.array(order)), buckets[order]
        edges = np.flatnonzero(np.diff(buckets)) + 1
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(buckets)], strict=True):
            spill.add(int(buckets[lo]), kept.slice(lo, hi - lo))

    writer = _RowGroupWriter(result.local_path, row_group_rows)
    result.rows_per_hour = [0] * -(-(end - start) // timedelta(hours=1))
    for bucket_id in spill.close():
        table = spill.read(bucket_id)
        unique = _dedupe_and_sort(table)
        result.duplicates_dropped += table.num_rows - unique.num_rows
        for name in TIMESTAMP_COLUMNS:
            result.sentinels[name] += pc.sum(unique[sentinel_flag_column(name)]).as_py() or 0
        writer.append(unique.select(SCHEMA.names).cast(SCHEMA))
        result.rows += unique.num_rows
        result.rows_per_hour[bucket_id * bucket // timedelta(hours=1)] += unique.num_rows
    writer.close()

    result.row_groups = pq.ParquetFile(result.local_path).metadata.num_row_groups
    with open(result.local_path, "rb") as handle:
        result.bytes, result.sha256 = stream_digest(handle)
    return result
