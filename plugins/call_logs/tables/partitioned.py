"""A table stored one partition per day (or per month, keyed by its first day), and what a sink commits with one.

A Graph report's ``ReportSpec`` and a gold table's ``GoldTable`` are both ``PartitionedTable``s. A sink stages a
partition's ``DayRows`` locally, describes the staged file (``StoredFile``) in the partition's ``DayFacts`` (its
manifest: ``Manifest`` for a Graph day, ``GoldManifest`` for a gold one) and commits both together.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import pyarrow as pa


class PartitionedTable(Protocol):
    """A table stored one partition per day: its name, partition column, key column and one Arrow schema."""

    @property
    def table(self) -> str: ...

    @property
    def partition_column(self) -> str: ...

    @property
    def key_column(self) -> str:
        """The column that identifies a row (quality samples name rows by it)."""
        ...

    @property
    def schema(self) -> pa.Schema: ...

    @property
    def schema_version_key(self) -> bytes:
        """The key of the schema version in the table's Arrow (and Parquet) schema metadata."""
        ...


@dataclass(frozen=True)
class StoredFile:
    """The bytes a commit stored: name, size, sha256 and Parquet row groups."""

    name: str
    bytes: int
    sha256: str
    row_groups: int


@dataclass(frozen=True)
class StagedFile:
    """A file written locally, and the facts that describe its bytes."""

    local_path: str
    stored: StoredFile


@dataclass(frozen=True)
class StagedDay:
    """A partition written locally by a sink's ``stage``: nothing in the lake has changed yet.

    ``quarantine`` is the staged quarantine (rows that could not become rows of the partition), None when empty.
    """

    local_path: str
    stored: StoredFile
    quarantine: StagedFile | None = None


class DayRows(Protocol):
    """A partition's rows, in order, as Arrow tables of the table's schema; and, once they have been read, the rows
    that could not become rows of the partition, with why (``lake/prepare.py``'s ``QUARANTINE_SCHEMA``)."""

    def tables(self) -> Iterable[pa.Table]: ...

    def quarantine(self) -> Iterable[pa.Table]: ...


class DayFacts(Protocol):
    """The facts committed with a partition (its manifest): its rows, the file they were staged as, the schema
    version, and the JSON document a sink stores (``_manifest.json``, or a Delta commit's metadata)."""

    @property
    def rows(self) -> int: ...

    @property
    def file(self) -> StoredFile: ...

    @property
    def schema_version(self) -> int: ...

    def to_dict(self) -> dict[str, Any]: ...


TableT = TypeVar("TableT", bound=PartitionedTable)
FactsT = TypeVar("FactsT", bound=DayFacts)
