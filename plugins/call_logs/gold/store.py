"""Writing and reading gold partitions through a sink, with a manifest of their own.

A gold partition's manifest is a ``GoldManifest``: the stored file (size, sha256), the rows, and the source
partitions it was computed from (their rows and sha256), so a consumer or a check can tell whether a gold day is
current without recomputing it. (A Graph day's ``Manifest`` describes a pull; none of that applies here.) The sinks
are the reports' own, generic over their facts: Parquet partitions (the manifest is ``_manifest.json``) or a Delta
table (the manifest is the partition's commit metadata, and the commit replaces its rows and facts together).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pyarrow as pa

from call_logs.gold.table import GoldTable
from call_logs.lake.errors import ManifestError
from call_logs.lake.root import LakeRoot
from call_logs.sinks import open_table
from call_logs.sinks.base import Sink, replace_day
from call_logs.tables.partitioned import StoredFile
from call_logs.utc import format_utc

GOLD_MANIFEST_VERSION = 1


@dataclass(frozen=True)
class SourcePartition:
    """One partition a gold partition was computed from, as it was when read (of ``tenant``, in a lake of many)."""

    table: str
    partition: date
    rows: int
    sha256: str | None
    tenant: str | None = None


@dataclass(frozen=True)
class MissingPartition:
    """A partition a gold partition would have read but could not (and why): its figures that need it are null."""

    table: str
    partition: date
    reason: str
    tenant: str | None = None


@dataclass(frozen=True)
class GoldManifest:
    table: str
    partition: date
    schema_version: int
    rows: int
    file: StoredFile
    sources: tuple[SourcePartition, ...]
    run: dict[str, Any] = field(default_factory=dict)
    computed_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    tenant: str | None = None  # the tenant's slug, in a lake of many tenants (a table across tenants: None)
    missing_sources: tuple[MissingPartition, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "gold_manifest_version": GOLD_MANIFEST_VERSION,
            "table": self.table,
            "tenant": self.tenant,
            "partition": self.partition.isoformat(),
            "schema_version": self.schema_version,
            "rows": self.rows,
            "file": asdict(self.file),
            "sources": [asdict(s) | {"partition": s.partition.isoformat()} for s in self.sources],
            "missing_sources": [asdict(m) | {"partition": m.partition.isoformat()} for m in self.missing_sources],
            "run": self.run,
            "computed_at": format_utc(self.computed_at),
        }

    @classmethod
    def from_dict(cls, document: Any) -> GoldManifest:
        """Read a stored gold manifest; ``ManifestError`` says what is missing or malformed."""
        try:
            if document.get("gold_manifest_version") != GOLD_MANIFEST_VERSION:
                raise ManifestError(f"its gold_manifest_version is {document.get('gold_manifest_version')!r}")
            return cls(
                table=document["table"],
                partition=date.fromisoformat(document["partition"]),
                schema_version=int(document["schema_version"]),
                rows=int(document["rows"]),
                file=StoredFile(**document["file"]),
                sources=tuple(
                    SourcePartition(
                        s["table"], date.fromisoformat(s["partition"]), int(s["rows"]), s["sha256"], s.get("tenant")
                    )
                    for s in document["sources"]
                ),
                run=document.get("run", {}),
                computed_at=datetime.fromisoformat(document["computed_at"].replace("Z", "+00:00")),
                tenant=document.get("tenant"),
                missing_sources=tuple(
                    MissingPartition(m["table"], date.fromisoformat(m["partition"]), m["reason"], m.get("tenant"))
                    for m in document.get("missing_sources", ())
                ),
            )
        except ManifestError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ManifestError(f"it is malformed ({type(error).__name__}: {error})") from None


GoldSink = Sink[GoldTable, GoldManifest]


class _OneTable:
    """``DayRows`` of a table computed in memory (a gold partition is small: one row per key)."""

    def __init__(self, table: pa.Table):
        self._table = table

    def tables(self) -> Iterator[pa.Table]:
        yield self._table

    def quarantine(self) -> Iterator[pa.Table]:
        return iter(())  # computed from checked rows: nothing to set aside


def gold_sink(table_format: str, lake: LakeRoot, table: GoldTable, *, tenant: str | None = None) -> GoldSink:
    """The sink of a gold table in the lake's table format, beside its source (``sinks.open_table``); with
    ``tenant``, of that tenant's partitions."""
    return open_table(table_format, lake, table, GoldManifest.from_dict, tenant=tenant)


def write_day(
    sink: GoldSink,
    day: date,
    rows: pa.Table,
    sources: list[SourcePartition],
    run: dict[str, Any] | None = None,
    missing: tuple[MissingPartition, ...] = (),
) -> GoldManifest:
    """Replace the gold partition with ``rows`` (cast to the table's schema) and its manifest, atomically."""
    table = sink.spec
    data = rows.select(list(table.column_names)).cast(table.schema)
    return replace_day(
        sink,
        day,
        _OneTable(data),
        lambda staged: GoldManifest(
            table=table.table,
            partition=day,
            schema_version=table.schema_version,
            rows=data.num_rows,
            file=staged.stored,
            sources=tuple(sources),
            run=run or {},
            tenant=sink.tenant,
            missing_sources=missing,
        ),
    )


def read_day(sink: GoldSink, day: date) -> pa.Table | None:
    """The whole gold partition in the table's schema, or None when it is missing, unreadable or of another schema.

    A partition written by an earlier schema version reads with the columns added since as nulls (columns are only
    ever added), so rollups and the report read old and new days alike.
    """
    rows = sink.read_columns(day, list(sink.spec.column_names))
    if rows is None:
        rows = _read_earlier_version(sink, day)
    if rows is None:
        return None
    try:  # a Delta table hands back its own spelling of the types (large strings, its list item names)
        return rows.cast(sink.spec.schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, ValueError):
        return None


def _read_earlier_version(sink: GoldSink, day: date) -> pa.Table | None:
    """A partition of an earlier schema version, with the columns it lacks as nulls (None: not one of those)."""
    with sink.open_day(day) as stored:
        stored_names = set(stored.data.schema.names) if stored.data is not None else set()
    present = [name for name in sink.spec.column_names if name in stored_names]
    if not present or len(present) == len(sink.spec.column_names):
        return None
    rows = sink.read_columns(day, present)
    if rows is None:
        return None
    for name in sink.spec.column_names:
        if name not in stored_names:
            rows = rows.append_column(name, pa.nulls(rows.num_rows, sink.spec.schema.field(name).type))
    return rows.select(list(sink.spec.column_names))
