"""The seam between a prepared day and a table format: what every sink does.

A sink stores a report's days in one table format under one lake root: stage a prepared day locally (nothing
visible yet), commit it atomically with its manifest, and open committed days for reading (quality checks,
volume history, the lake report). Extract and quality code talk to this protocol only; adding a format is one
module in this package.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol

import pyarrow as pa

from call_logs.lake.manifest import Manifest, StoredFile
from call_logs.lake.prepare import PreparedDay
from call_logs.reports.spec import ReportSpec


class DataReader(Protocol):
    """A committed day's rows, read column subset by column subset, batch by batch."""

    @property
    def num_rows(self) -> int: ...

    @property
    def schema(self) -> pa.Schema: ...

    def iter_batches(self, columns: list[str], batch_size: int) -> Iterator[pa.RecordBatch]: ...


@dataclass
class StoredDay:
    """A committed day as read back: its manifest and its data, or why either cannot be used.

    ``fingerprint`` describes the stored bytes as read (size and sha256), to compare with ``manifest.file``.
    """

    day: date
    manifest: Manifest | None
    manifest_problem: str | None
    data: DataReader | None
    data_problem: str | None
    data_name: str
    fingerprint: dict[str, Any]


@dataclass(frozen=True)
class StagedDay:
    """A day written locally by ``Sink.stage``: nothing in the lake has changed yet."""

    local_path: str
    stored: StoredFile


class Sink(Protocol):
    """Stores one report's days in one table format under one lake root."""

    spec: ReportSpec
    table_format: str

    def location(self, day: date) -> str:
        """Where the day lives, for logs and XCom."""
        ...

    def stage(self, day: date, prepared: PreparedDay, workdir: str) -> StagedDay:
        """Write the prepared day's rows locally under ``workdir``; the lake is untouched."""
        ...

    def commit(self, day: date, staged: StagedDay, manifest: Manifest) -> str:
        """Replace the day atomically with the staged rows and their manifest; returns ``location(day)``."""
        ...

    def committed_days(self) -> list[date]:
        """Days that have been committed (or half-committed), oldest first."""
        ...

    def table_version(self, day: date) -> int | None:
        """The table version that committed the day, for formats that version their table (else None)."""
        ...

    def read_facts(self, day: date) -> dict[str, Any] | None:
        """The facts committed with the day (its manifest document, unparsed), or None when there are none."""
        ...

    def read_manifest(self, day: date) -> Manifest | None:
        """The day's manifest, or None when there is none or it cannot be read."""
        ...

    def open_day(self, day: date) -> AbstractContextManager[StoredDay]:
        """The day as stored, readable until the context exits."""
        ...

    def read_columns(self, day: date, columns: list[str]) -> pa.Table | None:
        """A few columns of the day in one read (the lake report), or None when they cannot be read."""
        ...

    def write_quality(self, day: date, document: dict[str, Any]) -> str:
        """Store the day's quality report; returns where."""
        ...

    def read_quality(self, day: date) -> dict[str, Any] | None:
        """The day's stored quality report, if any."""
        ...
