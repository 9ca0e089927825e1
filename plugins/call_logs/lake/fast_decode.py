"""A Graph page's raw row JSON straight to an Arrow record batch, falling back to the row path when in doubt.

The client hands over each row's JSON text unparsed (``RawPage.value``). Here the rows are joined into NDJSON
and parsed by ``pyarrow.json`` against the report's own types (timestamps as text first), then the row path's
Arrow steps run on whole columns: sentinel and 7-digit timestamps, pseudonymisation. No Python object per row
or value is built.

``pyarrow.json`` is at least as strict as ``rows_to_batch`` for every type the reports use (a fraction, an
out-of-range number, a string or a boolean in an integer column fail; so does any non-string in a text or
timestamp column), with one exception checked separately: it reads a JSON *string* into a decimal column, which
the row path refuses. So the fast path gives up, and the page goes through ``rows_to_batch`` from its decoded
rows (exact ``SchemaViolation`` messages, unknown-property accounting and ``additionalProperties`` text), when:

- ``pyarrow.json`` refuses the page (any ``ArrowInvalid``: a wrong type, a duplicate key, a fraction in an
  integer column, a decimal with more places than the column's scale, a row that is not an object);
- a decimal has more digits than the column's precision (``pyarrow.json`` does not check it);
- a column comes back with another type than the report's (an unknown property, nested ones included, adds a
  column or a struct field): unknown properties are only ever handled by the row path;
- a decimal column holds anything but a number or null;
- a timestamp does not parse.

Both paths give equal batches for any page the fast path accepts (``tests/lake/test_fast_decode.py``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from decimal import Decimal
from typing import Protocol

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json

from call_logs.lake.convert import (
    ConversionStats,
    _BadValue,
    rows_to_batch,
    spill_schema,
    timestamp_from_strings,
)
from call_logs.lake.pseudonymise import Pseudonymiser
from call_logs.reports.spec import ADDITIONAL_PROPERTIES, TIMESTAMP, ReportSpec

_NEWLINE = ord("\n")


class Page(Protocol):
    """What the client yields per Graph page (``call_logs.graph.client.RawPage``): its rows' JSON texts, and
    where it came from (its place in its window's chain of nextLinks, the function and window)."""

    @property
    def value(self) -> Sequence[msgspec.Raw]: ...

    @property
    def number(self) -> int: ...

    @property
    def source(self) -> str: ...

    def rows(self) -> list[dict]: ...

    def __len__(self) -> int: ...


class _Plan:
    """Per report: the schema ``pyarrow.json`` parses with, and the check that decimals arrived as numbers."""

    def __init__(self, spec: ReportSpec):
        known = spec.column_names
        fields = [f for f in spec.schema if f.name in known]
        self.parse_schema = pa.schema(
            [pa.field(f.name, pa.string() if f.type == TIMESTAMP else f.type) for f in fields]
        )
        decimals = [f.name for f in fields if pa.types.is_decimal(f.type)]
        self.numbers: msgspec.json.Decoder | None = None
        if decimals:
            # Strict (the default): a string or a boolean fails; the values themselves come from pyarrow.json.
            check = msgspec.defstruct("DecimalsAreNumbers", [(name, int | float | None, None) for name in decimals])
            self.numbers = msgspec.json.Decoder(list[check])  # type: ignore[valid-type]


_PLANS: dict[int, tuple[ReportSpec, _Plan]] = {}


def _plan(spec: ReportSpec) -> _Plan:
    cached = _PLANS.get(id(spec))
    if cached is None or cached[0] is not spec:
        cached = _PLANS[id(spec)] = (spec, _Plan(spec))
    return cached[1]


def read_rows(raws: Sequence[msgspec.Raw], spec: ReportSpec) -> pa.Table:
    """The rows as ``pyarrow.json`` reads them against the report's types (timestamps as text); raises when it cannot.

    The parsing step of the fast path on its own (``bench/run.py`` measures a pull's floor with it).
    """
    text = b"\n".join(raws)
    # Pretty-printed rows: more line breaks than the joins. numpy counts them at twice the speed of bytes.count.
    newlines = int(np.count_nonzero(np.frombuffer(text, np.uint8) == _NEWLINE))
    multiline = newlines != len(raws) - 1 or b"\r" in text
    return pa_json.read_json(
        io.BytesIO(text),
        read_options=pa_json.ReadOptions(use_threads=False, block_size=max(len(text) + 1, 1 << 16)),
        parse_options=pa_json.ParseOptions(
            explicit_schema=_plan(spec).parse_schema,
            unexpected_field_behavior="infer",
            newlines_in_values=multiline,
        ),
    )


def _fits_precision(column: pa.Array, kind: pa.Decimal128Type) -> bool:
    """Whether every value has at most ``kind.precision`` digits: ``pyarrow.json`` does not check it."""
    if column.null_count == len(column):
        return True
    wide = pa.decimal128(38, kind.scale)
    bound = pa.scalar(Decimal(10) ** (kind.precision - kind.scale), wide)
    return not pc.any(pc.greater_equal(pc.abs(column.cast(wide)), bound)).as_py()


def _fast_columns(
    raws: Sequence[msgspec.Raw], spec: ReportSpec, pseudonymiser: Pseudonymiser | None
) -> tuple[list[pa.Array], list[pa.Array], ConversionStats] | None:
    """The page's columns and sentinel flags, or ``None`` when the row path must decide."""
    plan = _plan(spec)
    if pseudonymiser is not None and any(pseudonymiser.covers(f.name) and f.type != pa.string() for f in spec.schema):
        return None  # the row path raises the one-sentence error
    if plan.numbers is not None:
        try:
            plan.numbers.decode(b"[" + b",".join(raws) + b"]")
        except msgspec.DecodeError:  # ValidationError included
            return None
    try:
        table = read_rows(raws, spec)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    if table.num_rows != len(raws) or not table.schema.equals(plan.parse_schema):
        return None  # an unknown property (a column, or a field inside a struct) or rows not one per line
    stats = ConversionStats()
    columns: list[pa.Array] = []
    flags: list[pa.Array] = []
    try:
        for field in spec.schema:
            if field.name == ADDITIONAL_PROPERTIES:
                columns.append(pa.nulls(len(raws), pa.string()))  # no row had an unknown property
                continue
            column = table.column(field.name).combine_chunks()
            if pa.types.is_decimal(field.type) and not _fits_precision(column, field.type):
                return None
            if field.type == TIMESTAMP:
                column, flag = timestamp_from_strings(column, field.name, stats)
                flags.append(flag)
            if pseudonymiser is not None and pseudonymiser.covers(field.name):
                column = pseudonymiser.array(column)
            columns.append(column)
    except _BadValue:
        return None
    return columns, flags, stats


def page_to_batch(
    page: Page,
    spec: ReportSpec,
    stats: ConversionStats,
    *,
    sentinel_flags: bool = False,
    pseudonymiser: Pseudonymiser | None = None,
    where: str = "page",
) -> pa.RecordBatch:
    """``rows_to_batch(page.rows(), ...)``, equal batch and stats, without Python rows when the page allows."""
    fast = _fast_columns(page.value, spec, pseudonymiser) if len(page) else None
    if fast is None:
        return rows_to_batch(
            page.rows(), spec, stats, sentinel_flags=sentinel_flags, pseudonymiser=pseudonymiser, where=where
        )
    columns, flags, page_stats = fast
    stats.sentinels.update(page_stats.sentinels)
    if sentinel_flags:
        return pa.RecordBatch.from_arrays(columns + flags, schema=spill_schema(spec))
    return pa.RecordBatch.from_arrays(columns, schema=spec.schema)
