"""The seam between a table's partitions and a table format: what every sink does, and the one way to write a day.

A sink stores one table's partitions (a Graph report's days, or a gold table's days or months) in one table format
under one lake root: stage a partition's rows locally (nothing visible yet), commit them atomically with their
facts (the manifest), and open committed partitions for reading (quality checks, volume history, the lake report,
gold tables). A sink is generic over its table and over its facts: a report table's are a ``Manifest``, a gold
table's a ``GoldManifest``; the sink is told how to read them back (``parse_facts``). Extract, gold and quality code
talk to this protocol only; adding a format is one module in this package.

``replace_day`` is the one place the write sequence lives: stage the rows, describe the staged file in the day's
facts, commit both.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any, Generic, Protocol

import pyarrow as pa

from call_logs.lake.errors import ManifestError
from call_logs.tables.partitioned import DayRows, FactsT, StagedDay, TableT

ParseFacts = Callable[[Any], FactsT]
"""Reads a stored facts document back (``Manifest.from_dict``); raises ``ManifestError`` when it is malformed."""


class DataReader(Protocol):
    """A committed partition's rows, read column subset by column subset, batch by batch."""

    @property
    def num_rows(self) -> int: ...

    @property
    def schema(self) -> pa.Schema: ...

    def iter_batches(self, columns: list[str], batch_size: int) -> Iterator[pa.RecordBatch]: ...


@dataclass
class StoredDay(Generic[FactsT]):
    """A committed partition as read back: its facts and its data, or why either cannot be used.

    ``fingerprint`` describes the stored bytes as read (size and sha256), to compare with ``manifest.file``.
    """

    day: date
    manifest: FactsT | None
    manifest_problem: str | None
    data: DataReader | None
    data_problem: str | None
    data_name: str
    fingerprint: dict[str, Any]


def parse_or_problem(document: Any, parse_facts: ParseFacts[FactsT]) -> tuple[FactsT | None, str | None]:
    """(facts, None) from a stored document, else (None, why not): ``missing`` when there is none."""
    if document is None:
        return None, "missing"
    try:
        return parse_facts(document), None
    except ManifestError as error:
        return None, str(error)


class Sink(Protocol[TableT, FactsT]):
    """Stores one table's partitions, with their facts, in one table format under one lake root."""

    spec: TableT
    table_format: str
    tenant: str | None  # the tenant whose partitions the sink holds, in a lake of many tenants

    def location(self, day: date) -> str:
        """Where the partition lives, for logs and XCom."""
        ...

    def stage(self, day: date, rows: DayRows, workdir: str) -> StagedDay:
        """Write the partition's rows locally under ``workdir``; the lake is untouched."""
        ...

    def commit(self, day: date, staged: StagedDay, facts: FactsT) -> str:
        """Replace the partition atomically with the staged rows and their facts; returns ``location(day)``."""
        ...

    def committed_days(self) -> list[date]:
        """Partitions that have been committed (or half-committed), oldest first."""
        ...

    def table_version(self, day: date) -> int | None:
        """The table version that committed the partition, for formats that version their table (else None)."""
        ...

    def read_manifest(self, day: date) -> FactsT | None:
        """The partition's facts, or None when there are none or they cannot be read."""
        ...

    def open_day(self, day: date) -> AbstractContextManager[StoredDay[FactsT]]:
        """The partition as stored, readable until the context exits."""
        ...

    def read_columns(self, day: date, columns: list[str]) -> pa.Table | None:
        """A few columns of the partition in one read, or None when they cannot be read."""
        ...

    def quarantine_location(self, day: date) -> str:
        """Where the partition's quarantine lives (a Parquet file readers of the table ignore)."""
        ...

    def read_quarantine(self, day: date) -> tuple[pa.Table, str] | None:
        """The partition's quarantine and the sha256 of its bytes, or None when there is none."""
        ...

    def write_quality(self, day: date, document: dict[str, Any]) -> str:
        """Store the partition's quality report; returns where."""
        ...

    def read_quality(self, day: date) -> dict[str, Any] | None:
        """The partition's stored quality report, if any."""
        ...


def replace_day(
    sink: Sink[TableT, FactsT], day: date, rows: DayRows, facts_for: Callable[[StagedDay], FactsT]
) -> FactsT:
    """Stage ``rows`` locally, describe the staged files in the partition's facts, and commit them atomically.

    ``facts_for`` gets the staged day (the data file's size, sha256, row groups; the quarantine's) once every row
    has been staged, so counts gathered while streaming are final; until the commit nothing in the lake changes.
    Returns the facts.
    """
    with tempfile.TemporaryDirectory(prefix="call-logs-stage-") as workdir:
        staged = sink.stage(day, rows, workdir)
        facts = facts_for(staged)
        sink.commit(day, staged, facts)
    return facts


def replace_day_if_changed(
    sink: Sink[TableT, FactsT], day: date, rows: DayRows, facts_for: Callable[[StagedDay], FactsT | None]
) -> FactsT | None:
    """``replace_day`` for a day pulled again: ``facts_for`` compares the staged rows with the stored partition and
    returns None when they are the same, and then nothing is committed (no new file, no new table version)."""
    with tempfile.TemporaryDirectory(prefix="call-logs-stage-") as workdir:
        staged = sink.stage(day, rows, workdir)
        facts = facts_for(staged)
        if facts is not None:
            sink.commit(day, staged, facts)
    return facts
