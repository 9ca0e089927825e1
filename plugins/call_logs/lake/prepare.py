"""Prepare one day from Graph pages: spill, deduplicate, window-filter and sort, with flat memory.

Pages are converted to Arrow as they arrive and spilled to local Arrow IPC files, one per time bucket of the
window (15 minutes by default). ``PreparedDay.tables()`` then yields each bucket, in time order, deduplicated by
the report's key and sorted by (time column, key): ordered Arrow tables that a sink stores. Memory follows the
largest bucket, not the day. Duplicates of a key share their start time and so their bucket; a key seen with two
different start times is left for the quality check to report, not silently resolved.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from call_logs.lake.convert import ConversionStats, rows_to_batch, sentinel_flag_column, spill_schema
from call_logs.lake.fast_decode import Page, page_to_batch
from call_logs.lake.pseudonymise import Pseudonymiser, check_pseudonymisable
from call_logs.reports.spec import ReportSpec

DEFAULT_BUCKET = timedelta(minutes=15)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


class _BucketSpill:
    """Local Arrow IPC files, one per time bucket, appended to page by page."""

    def __init__(self, folder: str, schema: pa.Schema):
        self.folder = folder
        self.schema = schema
        self._writers: dict[int, pa.ipc.RecordBatchFileWriter] = {}

    def _path(self, bucket: int) -> str:
        return os.path.join(self.folder, f"bucket-{bucket:05d}.arrow")

    def add(self, bucket: int, batch: pa.RecordBatch) -> None:
        writer = self._writers.get(bucket)
        if writer is None:
            writer = self._writers[bucket] = pa.ipc.new_file(self._path(bucket), self.schema)
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


def _dedupe_and_sort(table: pa.Table, spec: ReportSpec) -> pa.Table:
    """One row per key (rows without a key are all kept), in (time column, key) order.

    Which copy of a duplicated key survives does not depend on arrival order (pages may come from several
    threads): when there are duplicates, rows are first sorted on every sortable column and the first of each
    key is kept.
    """
    key, time = spec.key_column, spec.time_column
    keys = [(time, "ascending"), (key, "ascending")]
    ids = table[key]
    if pc.count_distinct(ids, mode="only_valid").as_py() == len(ids) - ids.null_count:
        return table.sort_by(keys)  # the usual case: nothing to drop
    tiebreak = [f.name for f in spec.schema if not pa.types.is_nested(f.type) and f.name not in (time, key)]
    table = table.sort_by(keys + [(name, "ascending") for name in tiebreak])
    table = table.append_column("__row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    first = table.filter(pc.is_valid(table[key])).group_by(key, use_threads=False).aggregate([("__row", "min")])
    without_id = table.filter(pc.is_null(table[key]))["__row"]
    rows = pa.chunked_array(first["__row_min"].chunks + without_id.chunks, pa.int64())
    keep = rows.take(pc.sort_indices(rows))  # ascending positions: the order of the full sort
    return table.take(keep).drop_columns(["__row"])


@dataclass
class PreparedDay:
    """A day's rows spilled locally, ready to be yielded in order; what it took to get them.

    The fetch-side counts are final when ``prepare_day`` returns; ``rows``, ``duplicates_dropped``,
    ``sentinels`` and ``rows_per_hour`` are final once ``tables()`` has been read to the end (``complete``).
    """

    spec: ReportSpec
    start: datetime
    end: datetime
    bucket: timedelta
    spill: _BucketSpill
    rows_fetched: int = 0
    out_of_window_dropped: int = 0
    conversion: ConversionStats = field(default_factory=ConversionStats)
    rows: int = 0
    duplicates_dropped: int = 0
    sentinels: Counter = field(default_factory=Counter)  # in written rows, per timestamp column
    rows_per_hour: list[int] = field(default_factory=list)  # written rows per hour of the window (plans slicing)
    complete: bool = False
    pseudonymisation: dict | None = None  # columns and key fingerprint when values were pseudonymised (no key)

    def tables(self) -> Iterator[pa.Table]:
        """The day's rows in (time column, key) order, bucket by bucket, in the report's schema; read once."""
        if self.complete:
            raise RuntimeError("A prepared day can be read only once.")
        self.rows_per_hour = [0] * -(-(self.end - self.start) // timedelta(hours=1))
        for bucket_id in self.spill.close():
            table = self.spill.read(bucket_id)
            unique = _dedupe_and_sort(table, self.spec)
            self.duplicates_dropped += table.num_rows - unique.num_rows
            for name in self.spec.timestamp_columns:
                self.sentinels[name] += pc.sum(unique[sentinel_flag_column(name)]).as_py() or 0
            self.rows += unique.num_rows
            self.rows_per_hour[bucket_id * self.bucket // timedelta(hours=1)] += unique.num_rows
            yield unique.select(self.spec.schema.names).cast(self.spec.schema)
        self.complete = True


def prepare_day(
    pages: Iterable[Page | list[dict]],
    spec: ReportSpec,
    start: datetime,
    end: datetime,
    workdir: str,
    *,
    bucket: timedelta = DEFAULT_BUCKET,
    pseudonymiser: Pseudonymiser | None = None,
) -> PreparedDay:
    """Fetch every page, keeping the rows whose time column is in ``[start, end)``, spilled under ``workdir``.

    With a ``pseudonymiser`` its columns are tokenised as each page is converted, before the spill. A page is
    the client's ``RawPage`` (rows read straight into Arrow by ``fast_decode``) or a list of row dicts.
    """
    check_pseudonymisable(spec, pseudonymiser)
    prepared = PreparedDay(spec, start, end, bucket, _BucketSpill(workdir, spill_schema(spec)))
    if pseudonymiser is not None:
        prepared.pseudonymisation = pseudonymiser.describe()
    start_us, end_us, bucket_us = _micros(start), _micros(end), bucket // timedelta(microseconds=1)
    time = spec.time_column
    for page in pages:
        prepared.rows_fetched += len(page)
        if not len(page):
            continue
        if isinstance(page, list):
            batch = rows_to_batch(page, spec, prepared.conversion, sentinel_flags=True, pseudonymiser=pseudonymiser)
        else:
            batch = page_to_batch(page, spec, prepared.conversion, sentinel_flags=True, pseudonymiser=pseudonymiser)
        micros = batch.column(time).cast(pa.int64())
        inside = pc.fill_null(pc.and_(pc.greater_equal(micros, start_us), pc.less(micros, end_us)), False)
        kept = batch
        if not pc.all(inside).as_py():  # filtering copies every column: ~10x the cost of the rest of this loop
            kept = batch.filter(inside)
            prepared.out_of_window_dropped += batch.num_rows - kept.num_rows
            if not kept.num_rows:
                continue
            micros = kept.column(time).cast(pa.int64())
        buckets = (micros.to_numpy() - start_us) // bucket_us
        if (np.diff(buckets) < 0).any():  # Graph's order is not documented: group the page by bucket once
            order = np.argsort(buckets, kind="stable")
            kept, buckets = kept.take(pa.array(order)), buckets[order]
        edges = np.flatnonzero(np.diff(buckets)) + 1
        for lo, hi in zip(np.r_[0, edges], np.r_[edges, len(buckets)], strict=True):
            prepared.spill.add(int(buckets[lo]), kept.slice(lo, hi - lo))
    return prepared
