"""Graph page rows (JSON dicts) to Arrow record batches of a report's schema, column by column.

- The ``0001-01-01`` sentinel, null and an absent key all become null timestamps; sentinels are counted.
- Unknown properties (Graph adds fields over time) are kept with their row in the ``additionalProperties``
  column, one JSON object text with sorted keys (null when the row had none), and counted by name; missing
  properties are null.
- With a ``Pseudonymiser``, the values of its columns (and of unknown properties of those names) are replaced
  by keyed tokens here, before anything is spilled: raw values never reach disk, and a ``SchemaViolation`` never
  quotes one.
- A value of the wrong type raises ``SchemaViolation`` naming the field and the row's key.
- Decimals (money) arrive as ``decimal.Decimal`` (the client decodes JSON numbers with a fraction that way) and
  must fit the column's scale exactly: a value that would be rounded is a violation, never a silent change.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.lake.errors import RowsRejected
from call_logs.lake.pseudonymise import Pseudonymiser, check_pseudonymisable, json_text
from call_logs.reports.spec import ADDITIONAL_PROPERTIES, TIMESTAMP, ReportSpec

SENTINEL_PREFIX = "0001-01-01"
_INTEGER_TYPES = (pa.int8(), pa.int16(), pa.int32(), pa.int64(), pa.uint8(), pa.uint16(), pa.uint32())


class SchemaViolation(RowsRejected):
    """A Graph row does not fit the lake schema; the partition must not be written."""


class RowNotAnObject(RowsRejected):
    """An element of a page's ``value`` list is not a JSON object (a string, a number, a list, null)."""

    def __init__(self, where: str, position: int, value: object):
        kind = "null" if value is None else {str: "string", list: "list", bool: "boolean"}.get(type(value), "number")
        super().__init__(
            f"Graph's {where} has a {kind} at index {position} of its value list, not a row object: the window was "
            "not written; re-run later, and report it if it repeats."
        )
        self.position, self.kind = position, kind


@dataclass
class ConversionStats:
    """Per-window tallies of what conversion had to normalise."""

    sentinels: Counter = field(default_factory=Counter)  # column -> fetched values that were 0001-01-01
    unknown_fields: Counter = field(default_factory=Counter)  # property -> fetched rows that carried it


class _BadValue(Exception):
    """A column does not fit its type; ``rows_to_batch`` names the first offending row by the report's key."""

    def __init__(self, name: str, expected: str, accept: Callable[[object], bool]):
        super().__init__(name)
        self.name, self.expected, self.accept = name, expected, accept

    def violation(self, rows: list[dict], key: str, pseudonymiser: Pseudonymiser | None = None) -> SchemaViolation:
        index = next(
            (i for i, row in enumerate(rows) if row.get(self.name) is not None and not self.accept(row[self.name])),
            -1,
        )
        if index < 0:
            return SchemaViolation(f"Field '{self.name}' does not fit {self.expected} in this page.")
        value, row_key = rows[index][self.name], rows[index].get(key)
        kind = "number" if isinstance(value, Decimal) else type(value).__name__
        if pseudonymiser is not None and pseudonymiser.covers(key):
            row_key = pseudonymiser.value(row_key)  # the key as the lake would hold it, never the raw one
        if pseudonymiser is not None and pseudonymiser.covers(self.name):
            return SchemaViolation(
                f"Field '{self.name}' of the row with {key} {row_key!r} is a {kind} (value withheld: the column is "
                f"pseudonymised), not {self.expected}; the partition was not written."
            )
        shown = str(value) if isinstance(value, Decimal) else repr(value)
        return SchemaViolation(
            f"Field '{self.name}' of the row with {key} {row_key!r} is {shown} ({kind}), "
            f"not {self.expected}; the partition was not written."
        )


def _timestamp_column(rows: list[dict], name: str, stats: ConversionStats) -> tuple[pa.Array, pa.Array]:
    raw = [row.get(name) for row in rows]
    try:
        strings = pa.array(raw, pa.string())
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        raise _BadValue(name, "an ISO-8601 timestamp string", lambda v: isinstance(v, str)) from None
    return timestamp_from_strings(strings, name, stats)


def timestamp_from_strings(strings: pa.Array, name: str, stats: ConversionStats) -> tuple[pa.Array, pa.Array]:
    """A column of Graph's timestamp texts as ``TIMESTAMP`` values and its sentinel flags (see the module doc).

    Raises ``_BadValue`` when a text does not parse; the row path and the fast path (``fast_decode``) share it.
    """
    sentinel = pc.fill_null(pc.starts_with(strings, SENTINEL_PREFIX), False)
    count = pc.sum(sentinel).as_py() or 0
    if count:
        stats.sentinels[name] += count
        strings = pc.if_else(sentinel, pa.scalar(None, pa.string()), strings)
    try:
        return strings.cast(TIMESTAMP), sentinel
    except pa.ArrowInvalid:
        pass
    try:
        return _trimmed(strings).cast(TIMESTAMP), sentinel
    except pa.ArrowInvalid:
        raise _BadValue(
            name,
            "an ISO-8601 timestamp",
            lambda v: isinstance(v, str) and (v.startswith(SENTINEL_PREFIX) or _parses_as_timestamp(v)),
        ) from None


def _trimmed(strings: pa.Array) -> pa.Array:
    """.NET writes up to 7 fractional digits; Arrow parses at most 9 but only for its own unit: trim to 6."""
    return pc.replace_substring_regex(strings, r"(\.\d{6})\d+", r"\1")


def _parses_as_timestamp(value: str) -> bool:
    """Whether one text converts as its column does (trimmed the same way), so the faulty row is the one named."""
    try:
        _trimmed(pa.array([value], pa.string())).cast(TIMESTAMP)
    except pa.ArrowInvalid:
        return False
    return True


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
        raise _BadValue(name, f"an {kind} integer", accept) from None


def _decimal_column(rows: list[dict], name: str, kind: pa.Decimal128Type) -> pa.Array:
    raw = [row.get(name) for row in rows]
    try:
        return pa.array(raw, kind)  # a Decimal with more places than the scale raises: nothing is rounded
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):

        def fits(value: object) -> bool:
            if isinstance(value, bool) or not isinstance(value, int | Decimal):
                return False
            try:
                pa.array([value], kind)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                return False
            return True

        raise _BadValue(name, f"a number that fits {kind} exactly", fits) from None


def _plain_column(rows: list[dict], name: str, kind: pa.DataType) -> pa.Array:
    raw = [row.get(name) for row in rows]
    try:
        return pa.array(raw, kind)
    except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
        accept = {
            pa.string(): lambda v: isinstance(v, str),
            pa.bool_(): lambda v: isinstance(v, bool),
        }.get(kind, lambda v: False)
        raise _BadValue(name, str(kind), accept) from None


def sentinel_flag_column(name: str) -> str:
    """Name of the spill-only column that marks rows whose ``name`` was the sentinel."""
    return f"__sentinel__{name}"


def spill_schema(spec: ReportSpec) -> pa.Schema:
    """The report's schema plus one sentinel flag per timestamp column (see ``rows_to_batch``)."""
    flags = [pa.field(sentinel_flag_column(name), pa.bool_()) for name in spec.timestamp_columns]
    return pa.schema(list(spec.schema) + flags)


def _additional_properties(
    rows: list[dict], known: frozenset[str], stats: ConversionStats, pseudonymiser: Pseudonymiser | None
) -> pa.Array:
    """Each row's unknown properties as one JSON object text (sorted keys), null when it had none."""
    texts: list[str | None] = []
    for row in rows:
        unknown = row.keys() - known
        if not unknown:
            texts.append(None)
            continue
        stats.unknown_fields.update(unknown)
        extra = {name: row[name] for name in unknown}
        if pseudonymiser is not None:
            extra = {name: pseudonymiser.value(v) if pseudonymiser.covers(name) else v for name, v in extra.items()}
        texts.append(json_text(extra))
    return pa.array(texts, pa.string())


def rows_to_batch(
    rows: list[dict],
    spec: ReportSpec,
    stats: ConversionStats,
    *,
    sentinel_flags: bool = False,
    pseudonymiser: Pseudonymiser | None = None,
    where: str = "page",
) -> pa.RecordBatch:
    """Convert one page of Graph rows; raises ``SchemaViolation`` on a value of the wrong type and
    ``RowNotAnObject`` on an element that is not an object (``where`` names the page in that sentence).

    With ``sentinel_flags`` the batch also carries one boolean column per timestamp column, true where the
    source held the sentinel, so counts can be taken after deduplication (the writer drops them). With a
    ``pseudonymiser`` its columns hold tokens (see ``lake/pseudonymise.py``).
    """
    for position, row in enumerate(rows):
        if not isinstance(row, dict):
            raise RowNotAnObject(where, position, row)
    known = frozenset(spec.column_names)
    keeps_extra = ADDITIONAL_PROPERTIES in spec.schema.names
    if not keeps_extra:  # a schema before the column existed: unknown properties are only counted
        for row in rows:
            if len(row.keys() - known):
                stats.unknown_fields.update(row.keys() - known)
    columns, flags = [], []
    try:
        for column in spec.schema:
            if column.name == ADDITIONAL_PROPERTIES and keeps_extra:
                columns.append(_additional_properties(rows, known, stats, pseudonymiser))
            elif column.type == TIMESTAMP:
                values, flag = _timestamp_column(rows, column.name, stats)
                columns.append(values)
                flags.append(flag)
            elif pa.types.is_integer(column.type):
                columns.append(_int_column(rows, column.name, column.type))
            elif pa.types.is_decimal(column.type):
                columns.append(_decimal_column(rows, column.name, column.type))
            else:
                columns.append(_plain_column(rows, column.name, column.type))
            if pseudonymiser is not None and pseudonymiser.covers(column.name):
                if column.type != pa.string():
                    check_pseudonymisable(spec, pseudonymiser)
                columns[-1] = pseudonymiser.array(columns[-1])
    except _BadValue as bad:
        raise bad.violation(rows, spec.key_column, pseudonymiser) from None
    if sentinel_flags:
        return pa.RecordBatch.from_arrays(columns + flags, schema=spill_schema(spec))
    return pa.RecordBatch.from_arrays(columns, schema=spec.schema)
