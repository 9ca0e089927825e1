"""Prepare one day from Graph pages: spill, deduplicate, window-filter and sort, with flat memory.

Pages are converted to Arrow as they arrive and spilled to local Arrow IPC files, one per time bucket of the
window (15 minutes by default). ``PreparedDay.tables()`` then yields each bucket, in time order, deduplicated by
the report's key and sorted by (time column, key): ordered Arrow tables that a sink stores. Memory follows the
largest bucket, not the day. Duplicates of a key share their start time and so their bucket; a key seen with two
different start times is left for the quality check to report, not silently resolved.

Nothing Graph sent is dropped without a trace. Rows outside the window are counted (``out_of_window_dropped``:
Graph's inclusive ends and slice edges send them). Everything else that cannot become a row of the day goes to the
day's **quarantine** (``PreparedDay.quarantine()``, stored beside the partition), with why, where it came from
(page and index) and the row's JSON:

- ``no_start``: a row whose time column is null or absent cannot be placed in any day (always quarantined);
- ``not_an_object`` / ``unconvertible``: an element of ``value`` that is not an object, a value of the wrong type:
  the day fails (``RowsRejected``), unless ``bad_rows="quarantine"`` asks to keep the rest of the day;
- ``conflicting_duplicate``: a key that came back with different content: the version fetched last (the later
  page, then the later index in it) is kept, the others are quarantined. Identical repeats, Graph's known paging
  quirk, are dropped and counted (``duplicates_dropped``).

The JSON of a quarantined row is Graph's own text, except for a conflicting duplicate (the losing version as the
lake would have stored it) and for pseudonymised properties, which are tokens there too.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from call_logs.lake.convert import (
    ConversionStats,
    RowNotAnObject,
    SchemaViolation,
    rows_to_batch,
    sentinel_flag_column,
    spill_schema,
)
from call_logs.lake.fast_decode import Page, page_to_batch
from call_logs.lake.pseudonymise import Pseudonymiser, check_pseudonymisable, json_text
from call_logs.reports.spec import ReportSpec
from call_logs.utc import format_utc

DEFAULT_BUCKET = timedelta(minutes=15)
BadRows = Literal["fail", "quarantine"]
BAD_ROWS = ("fail", "quarantine")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_PAGE, _POSITION = "__page", "__position"  # where a spilled row came from: its page in the chain, its index there

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("reason", pa.string()),  # no_start, not_an_object, unconvertible, conflicting_duplicate
        pa.field("detail", pa.string()),  # one sentence
        pa.field("key", pa.string()),  # the row's key (its token when the key is pseudonymised), if it has one
        pa.field("page_source", pa.string()),  # the Graph function and window of the page
        pa.field("page", pa.int32()),  # the page's place in its window's chain of nextLinks (1 = the first)
        pa.field("position", pa.int32()),  # the row's index in the page's value list
        pa.field("row", pa.string()),  # the row's JSON
    ]
)


def _micros(moment: datetime) -> int:
    return (moment - _EPOCH) // timedelta(microseconds=1)


class _Spill:
    """A local Arrow IPC file appended to batch by batch, read back once."""

    def __init__(self, path: str, schema: pa.Schema):
        self.path, self.schema = path, schema
        self._writer: pa.ipc.RecordBatchFileWriter | None = None

    def add(self, batch: pa.RecordBatch | pa.Table) -> None:
        if self._writer is None:
            self._writer = pa.ipc.new_file(self.path, self.schema)
        self._writer.write(batch)

    def close(self) -> bool:
        """Close the file; whether anything was written."""
        if self._writer is None:
            return False
        self._writer.close()
        return True

    def read(self) -> pa.Table:
        with pa.memory_map(self.path) as source:
            table = pa.ipc.open_file(source).read_all().combine_chunks()
        os.remove(self.path)
        return table


class _BucketSpill:
    """One ``_Spill`` per time bucket, appended to page by page."""

    def __init__(self, folder: str, schema: pa.Schema):
        self.folder = folder
        self.schema = schema
        self._spills: dict[int, _Spill] = {}

    def _path(self, bucket: int) -> str:
        return os.path.join(self.folder, f"bucket-{bucket:05d}.arrow")

    def add(self, bucket: int, batch: pa.RecordBatch) -> None:
        spill = self._spills.get(bucket)
        if spill is None:
            spill = self._spills[bucket] = _Spill(self._path(bucket), self.schema)
        spill.add(batch)

    def close(self) -> list[int]:
        for spill in self._spills.values():
            spill.close()
        return sorted(self._spills)

    def read(self, bucket: int) -> pa.Table:
        return self._spills.pop(bucket).read()


class Quarantine:
    """The rows of a day that could not become rows of it, with why (``QUARANTINE_SCHEMA``), spilled locally."""

    def __init__(self, folder: str):
        self._spill = _Spill(os.path.join(folder, "quarantine.arrow"), QUARANTINE_SCHEMA)
        self.reasons: Counter[str] = Counter()
        self._closed = False

    @property
    def rows(self) -> int:
        return sum(self.reasons.values())

    def add(self, records: list[dict[str, Any]]) -> None:
        if records:
            self.reasons.update(record["reason"] for record in records)
            self._spill.add(pa.Table.from_pylist(records, schema=QUARANTINE_SCHEMA))

    def tables(self) -> Iterator[pa.Table]:
        """The quarantined rows, once (after the day's rows were read: conflicting duplicates are found then)."""
        if not self._closed:
            self._closed = True
            if self._spill.close():
                yield self._spill.read()


def _key_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _jsonable(value: Any) -> Any:
    """A stored Arrow value as JSON: timestamps as Graph writes them, decimals exact, nested values alike."""
    if isinstance(value, datetime):
        return format_utc(value)
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_jsonable(v) for v in value]
    return value


def _dedupe_and_sort(table: pa.Table, spec: ReportSpec) -> tuple[pa.Table, pa.Table]:
    """One row per key (rows without a key are all kept), in (time column, key) order; and the losers of keys that
    came back with different content.

    Of several rows with one key, the one fetched last is kept: the later page of its window's chain, then the later
    index in the page. That does not depend on arrival order (pages come from several threads; a key's rows share
    their start time and so their slice and chain): the same pull gives the same rows.
    """
    key, time = spec.key_column, spec.time_column
    order = [(time, "ascending"), (key, "ascending")]
    ids = table[key]
    if pc.count_distinct(ids, mode="only_valid").as_py() == len(ids) - ids.null_count:
        return table.sort_by(order), table.slice(0, 0)  # the usual case: nothing to drop
    latest_first = table.sort_by([(key, "ascending"), (_PAGE, "descending"), (_POSITION, "descending")])
    latest_first = latest_first.append_column("__row", pa.array(np.arange(latest_first.num_rows, dtype=np.int64)))
    keyed = latest_first.filter(pc.is_valid(latest_first[key]))
    kept_rows = keyed.group_by(key, use_threads=False).aggregate([("__row", "min")])["__row_min"]
    keep = np.zeros(latest_first.num_rows, dtype=bool)
    keep[kept_rows.to_numpy()] = True
    keep[pc.is_null(latest_first[key]).to_numpy(zero_copy_only=False)] = True
    kept = latest_first.filter(pa.array(keep)).drop_columns(["__row"])
    dropped = latest_first.filter(pa.array(~keep)).drop_columns(["__row"])
    content = [name for name in table.column_names if name not in (_PAGE, _POSITION)]
    contested = kept.filter(pc.is_in(kept[key], value_set=dropped[key].combine_chunks()))
    winners = {row[key]: row for row in contested.select(content).to_pylist()}
    differs = [row != winners[row[key]] for row in dropped.select(content).to_pylist()]
    return kept.sort_by(order), dropped.filter(pa.array(differs, pa.bool_()))


@dataclass
class PreparedDay:
    """A day's rows spilled locally, ready to be yielded in order; what it took to get them.

    The fetch-side counts are final when ``prepare_day`` returns; ``rows``, ``duplicates_dropped``,
    ``conflicting_duplicates``, ``sentinels`` and ``rows_per_hour`` are final once ``tables()`` has been read to the
    end (``complete``), and so is the quarantine.
    """

    spec: ReportSpec
    start: datetime
    end: datetime
    bucket: timedelta
    spill: _BucketSpill
    quarantined: Quarantine
    pseudonymiser: Pseudonymiser | None = None
    rows_fetched: int = 0
    out_of_window_dropped: int = 0
    conversion: ConversionStats = field(default_factory=ConversionStats)
    rows: int = 0
    duplicates_dropped: int = 0
    conflicting_duplicates: int = 0
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
            unique, conflicting = _dedupe_and_sort(table, self.spec)
            self.duplicates_dropped += table.num_rows - unique.num_rows - conflicting.num_rows
            self.conflicting_duplicates += conflicting.num_rows
            self._quarantine_conflicting(conflicting)
            for name in self.spec.timestamp_columns:
                self.sentinels[name] += pc.sum(unique[sentinel_flag_column(name)]).as_py() or 0
            self.rows += unique.num_rows
            self.rows_per_hour[bucket_id * self.bucket // timedelta(hours=1)] += unique.num_rows
            yield unique.select(self.spec.schema.names).cast(self.spec.schema)
        self.complete = True

    def quarantine(self) -> Iterator[pa.Table]:
        """The rows that could not become rows of the day, with why (``QUARANTINE_SCHEMA``); after ``tables()``."""
        if not self.complete:
            raise RuntimeError("Read the prepared day's rows before its quarantine.")
        return self.quarantined.tables()

    def _quarantine_conflicting(self, losers: pa.Table) -> None:
        key, names = self.spec.key_column, self.spec.schema.names
        self.quarantined.add(
            [
                {
                    "reason": "conflicting_duplicate",
                    "detail": f"Graph sent {key} {row[key]!r} again with other values; the version fetched last "
                    "(a later page) is in the day, this one is not.",
                    "key": _key_text(row[key]),
                    "page_source": None,
                    "page": row[_PAGE],
                    "position": row[_POSITION],
                    "row": json_text({name: _jsonable(row[name]) for name in names}),
                }
                for row in losers.to_pylist()
            ]
        )


class _PageRows:
    """One page's rows as the quarantine records them: their JSON as Graph sent it (tokens where pseudonymised)."""

    def __init__(self, page: Page | list[dict], number: int, spec: ReportSpec, pseudonymiser: Pseudonymiser | None):
        self.page, self.spec, self.pseudonymiser = page, spec, pseudonymiser
        self.number = number if isinstance(page, list) else page.number or number
        self.source = "" if isinstance(page, list) else page.source
        self.where = f"page {self.number}" + (f" of {self.source}" if self.source else "")

    def decoded(self, position: int) -> Any:
        if isinstance(self.page, list):
            return self.page[position]
        return json.loads(bytes(self.page.value[position]), parse_float=Decimal)

    def text(self, position: int) -> str:
        if self.pseudonymiser is not None:
            return self.pseudonymiser.json_row(self.decoded(position))
        if isinstance(self.page, list):
            return json_text(self.page[position])
        return bytes(self.page.value[position]).decode("utf-8")

    def record(self, position: int, reason: str, detail: str) -> dict[str, Any]:
        value = self.decoded(position)
        key = value.get(self.spec.key_column) if isinstance(value, dict) else None
        if key is not None and self.pseudonymiser is not None and self.pseudonymiser.covers(self.spec.key_column):
            key = self.pseudonymiser.value(key)
        return {
            "reason": reason,
            "detail": detail,
            "key": _key_text(key),
            "page_source": self.source or None,
            "page": self.number,
            "position": position,
            "row": self.text(position),
        }


def _convert(rows: _PageRows, prepared: PreparedDay, bad_rows: BadRows) -> tuple[pa.RecordBatch, np.ndarray | None]:
    """The page's rows as a spill batch, and the page index of each (None: all of them, in order).

    With ``bad_rows="quarantine"`` a page the converter refuses is converted row by row: elements that are not
    objects and rows with a value of the wrong type go to the quarantine, the others into the day.
    """
    page, spec, pseudonymiser, stats = rows.page, prepared.spec, prepared.pseudonymiser, prepared.conversion
    where = rows.where
    try:
        if isinstance(page, list):
            return rows_to_batch(page, spec, stats, sentinel_flags=True, pseudonymiser=pseudonymiser, where=where), None
        return page_to_batch(page, spec, stats, sentinel_flags=True, pseudonymiser=pseudonymiser, where=where), None
    except (RowNotAnObject, SchemaViolation):
        if bad_rows == "fail":
            raise
    decoded = page if isinstance(page, list) else page.rows()
    good, positions, records = [], [], []
    for position, row in enumerate(decoded):
        if not isinstance(row, dict):
            records.append(rows.record(position, "not_an_object", f"Index {position} of the page is not an object."))
            continue
        try:
            rows_to_batch([row], spec, ConversionStats(), pseudonymiser=pseudonymiser)
        except SchemaViolation as violation:
            records.append(rows.record(position, "unconvertible", str(violation)))
            continue
        good.append(row)
        positions.append(position)
    prepared.quarantined.add(records)
    batch = rows_to_batch(good, spec, stats, sentinel_flags=True, pseudonymiser=pseudonymiser, where=where)
    return batch, np.array(positions, dtype=np.int32)


def prepare_day(
    pages: Iterable[Page | list[dict]],
    spec: ReportSpec,
    start: datetime,
    end: datetime,
    workdir: str,
    *,
    bucket: timedelta = DEFAULT_BUCKET,
    pseudonymiser: Pseudonymiser | None = None,
    bad_rows: BadRows = "fail",
) -> PreparedDay:
    """Fetch every page, keeping the rows whose time column is in ``[start, end)``, spilled under ``workdir``.

    With a ``pseudonymiser`` its columns are tokenised as each page is converted, before the spill. A page is
    the client's ``RawPage`` (rows read straight into Arrow by ``fast_decode``) or a list of row dicts.
    ``bad_rows`` says what a row the converter refuses does: fail the day (the default) or go to the quarantine.
    """
    check_pseudonymisable(spec, pseudonymiser)
    schema = spill_schema(spec)
    schema = schema.append(pa.field(_PAGE, pa.int32())).append(pa.field(_POSITION, pa.int32()))
    prepared = PreparedDay(
        spec, start, end, bucket, _BucketSpill(workdir, schema), Quarantine(workdir), pseudonymiser=pseudonymiser
    )
    if pseudonymiser is not None:
        prepared.pseudonymisation = pseudonymiser.describe()
    start_us, end_us, bucket_us = _micros(start), _micros(end), bucket // timedelta(microseconds=1)
    time = spec.time_column
    for number, page in enumerate(pages, start=1):
        prepared.rows_fetched += len(page)
        if not len(page):
            continue
        rows = _PageRows(page, number, spec, pseudonymiser)
        batch, positions = _convert(rows, prepared, bad_rows)
        if positions is None:
            positions = np.arange(batch.num_rows, dtype=np.int32)
        micros = batch.column(time).cast(pa.int64())
        if micros.null_count:  # a row that no day can hold: kept in the quarantine, never dropped
            no_start = pc.is_null(micros).to_numpy(zero_copy_only=False)
            detail = f"Its {time} is null or absent, so it belongs to no day."
            prepared.quarantined.add([rows.record(int(p), "no_start", detail) for p in positions[no_start]])
            batch, positions = batch.filter(pa.array(~no_start)), positions[~no_start]
            micros = batch.column(time).cast(pa.int64())
        batch = _located(batch, rows.number, positions)
        inside = pc.and_(pc.greater_equal(micros, start_us), pc.less(micros, end_us))
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


def _located(batch: pa.RecordBatch, page: int, positions: np.ndarray) -> pa.RecordBatch:
    """The batch with the page number and each row's index in the page (the deduplication's tiebreak)."""
    columns = [*batch.columns, pa.repeat(pa.scalar(page, pa.int32()), batch.num_rows), pa.array(positions)]
    return pa.RecordBatch.from_arrays(columns, names=[*batch.schema.names, _PAGE, _POSITION])
