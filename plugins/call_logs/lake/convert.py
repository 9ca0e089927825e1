"""Graph page rows (JSON dicts) to Arrow record batches of ``SCHEMA``, column by column.

- The ``0001-01-01`` sentinel, null and an absent key all become null timestamps; sentinels are counted.
- Unknown properties are dropped and counted (Graph adds fields over time); missing ones are null.
- A value of the wrong type raises ``SchemaViolation`` naming the field and the row's ``id``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.lake.schema import COLUMN_NAMES, SCHEMA, TIMESTAMP, TIMESTAMP_COLUMNS

SENTINEL_PREFIX = "0001-01-01"
_KNOWN = frozenset(COLUMN_NAMES)
_INTEGER_TYPES = (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32())


class SchemaViolation(ValueError):
    """A Graph row does not fit the lake schema; the partition must not be written."""


@dataclass
class ConversionStats:
    """Per-window tallies of what conversion had to normalise."""

    sentinels: Counter = field(default_factory=Counter)  # column -> fetched values that were 0001-01-01
    unknown_fields: Counter = field(default_factory=Counter)  # property -> rows that carried it


def _row_id(rows: list[dict], index: int) -> str:
    value = rows[index].get("id")
    return repr(value) if value is not None else "<no id>"


def _first_bad(rows: list[dict], name: str, accept) -> int:
    for index, row in enumerate(rows):
        value = row.get(name)
        if value is not None and not accept(value):
            return index
    return -1


def _violation(rows: list[dict], name: str, expected: str, accept) -> SchemaViolation:
    index = _first_bad(rows, name, accept)
    if index < 0:
        return SchemaViolation(f"Field '{name}' does not fit {expected} in this page.")
    value = rows[index].get(name)
    return SchemaViolation(
        f"Field '{name}' of the row with id {_row_id(rows, index)} is {value!r} ({type(value).__name__}), "
        f"not {expected}; the partition was not written."
    )


def _timestamp_column(rows: list[dict], name: str, stats: ConversionStats) -> tuple[pa.Array, pa.Array]:
    raw = [row.get(name) for row in rows]
    try:
        strings = pa.array(raw, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise _violation(rows, name, "an ISO-8601 timestamp string", lambda v: isinstance(v, str)) from None
    sentinel = pc.fill_null(pc.starts_with(strings, SENTINEL_PREFIX), False)
    count = pc.sum(sentinel).as_py() or 0
    if count:
        stats.sentinels[name] += count
        strings = pc.if_else(sentinel, pa.scalar(None, pa.string()), strings)
    try:
        return strings.cast(TIMESTAMP), sentinel
    except pa.ArrowInvalid:
        pass
    # .NET writes up to 7 fractional digits; Arrow parses at most 9 but only for its own unit: trim to 6.
    trimmed = pc.replace_substring_regex(strings, r"(\.\d{6})\d+", r"\1")
    try:
        return trimmed.cast(TIMESTAMP), sentinel
    except pa.ArrowInvalid:

        def parses(value: str) -> bool:
            try:
                pa.array([value]).cast(TIMESTAMP)
            except pa.ArrowInvalid:
                return False
            return True

        raise _violation(
            rows,
            name,
            "an ISO-8601 timestamp",
            lambda v: isinstance(v, str) and (v.startswith(SENTINEL_PREFIX) or parses(v)),
        ) from None


def _int_column(rows: list[dict], name: str, kind: pa.DataType) -> pa.Array:
    raw = [row.get(name) for row in rows]
    accept = lambda v: isinstance(v, int) and not isinstance(v, bool) and -(2**31) <= v < 2**31  # noqa: E731
    try:
        inferred = pa.array(raw)  # inference first: a typed build would silently truncate 1.5 to 1
        if inferred.type == pa.null():
            return pa.nulls(len(raw), kind)
        if inferred.type not in _INTEGER_TYPES:
            raise pa.ArrowInvalid(name)
        return inferred.cast(kind)  # safe cast: overflow raises
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        raise _violation(rows, name, f"an {kind} integer", accept) from None


def _plain_column(rows: list[dict], name: str, kind: pa.DataType) -> pa.Array:
    raw = [row.get(name) for row in rows]
    try:
        return pa.array(raw, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        accept = {
            pa.string(): lambda v: isinstance(v, str),
            pa.bool_(): lambda v: isinstance(v, bool),
        }.get(kind, lambda v: False)
        raise _violation(rows, name, str(kind), accept) from None


def sentinel_flag_column(name: str) -> str:
    """Name of the spill-only column that marks rows whose ``name`` was the sentinel."""
    return f"__sentinel__{name}"


SENTINEL_FLAG_FIELDS = [pa.field(sentinel_flag_column(name), pa.bool_()) for name in TIMESTAMP_COLUMNS]


def rows_to_batch(rows: list[dict], stats: ConversionStats, *, sentinel_flags: bool = False) -> pa.RecordBatch:
    """Convert one page of Graph rows; raises ``SchemaViolation`` on a value of the wrong type.

    With ``sentinel_flags`` the batch also carries one boolean column per timestamp column, true where the
    source held the sentinel, so counts can be taken after deduplication (the writer drops them).
    """
    for row in rows:
        if len(row.keys() - _KNOWN):
            stats.unknown_fields.update(row.keys() - _KNOWN)
    columns, flags = [], []
    for column in SCHEMA:
        if column.name in TIMESTAMP_COLUMNS:
            values, flag = _timestamp_column(rows, column.name, stats)
            columns.append(values)
            flags.append(flag)
        elif pa.types.is_integer(column.type):
            columns.append(_int_column(rows, column.name, column.type))
        else:
            columns.append(_plain_column(rows, column.name, column.type))
    if sentinel_flags:
        return pa.RecordBatch.from_arrays(columns + flags, schema=pa.schema(list(SCHEMA) + SENTINEL_FLAG_FIELDS))
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)
