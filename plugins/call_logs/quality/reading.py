"""One committed partition as the quality checks see it: read back through its sink, exactly as consumers will.

Columns come cast to the table schema's types, batch by batch: a day of a million calls never needs all its
columns in memory at once. A partition that lacks a column, or whose column cannot be cast, raises
``Uncheckable``, so the check that needed it fails instead of passing. The same reader serves Graph report
tables and gold tables (``tables/checks.py``'s ``Partition`` is what a check may use).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Generic

import pyarrow as pa
import pyarrow.compute as pc

from call_logs import defaults
from call_logs.quality.history import VolumeHistory
from call_logs.sinks.base import Sink, StoredDay
from call_logs.tables.checks import MAX_SAMPLE_IDS, Uncheckable
from call_logs.tables.partitioned import FactsT, TableT


@dataclass
class CommittedPartition(Generic[TableT, FactsT]):
    """A committed partition as read back, its table's spec, (loaded on first use) its volume history and its
    quarantine (rows and sha256, None without one), where that quarantine lives, and the sinks of the tables it was
    derived from, by table name (a gold table's checks compare it with its source)."""

    spec: TableT
    stored: StoredDay[FactsT]
    history: Callable[[], VolumeHistory]
    sources: Mapping[str, Sink[Any, Any]] = field(default_factory=dict)
    quarantine: Callable[[], tuple[pa.Table, str] | None] = lambda: None
    quarantine_location: str = ""

    @property
    def day(self) -> date:
        return self.stored.day

    @property
    def manifest(self) -> FactsT | None:
        return self.stored.manifest

    @property
    def rows(self) -> int | None:
        return self.stored.data.num_rows if self.stored.data is not None else None

    def source(self, table: str) -> Sink[Any, Any]:
        """The sink of a table this one is derived from; ``Uncheckable`` when the engine was not given it."""
        try:
            return self.sources[table]
        except KeyError:
            raise Uncheckable(f"the source table {table} was not opened for this check") from None

    def batches(self, columns: list[str]) -> Iterator[pa.Table]:
        """The key column plus ``columns``, cast to the table schema's types, one batch at a time."""
        data = self.stored.data
        assert data is not None, "checks that read rows declare needs=('data',)"
        key = self.spec.key_column
        wanted = [key, *(c for c in columns if c != key)]
        missing = [c for c in wanted if c not in data.schema.names]
        if missing:
            raise Uncheckable(f"the file has no column {', '.join(missing)}")
        for batch in data.iter_batches(wanted, defaults.ROWS_PER_BATCH):
            yield self._conformed(pa.Table.from_batches([batch]))

    def table(self, columns: list[str]) -> pa.Table:
        """The key column plus ``columns`` of the whole partition in one table (small partitions: gold tables)."""
        schema = pa.schema([self.spec.schema.field(name) for name in dict.fromkeys([self.spec.key_column, *columns])])
        return pa.Table.from_batches([b for t in self.batches(columns) for b in t.to_batches()], schema=schema)

    def scan(self, columns: list[str], violates: Callable[[pa.Table], pa.Array]) -> tuple[int, list[str]]:
        """Rows where ``violates`` is true (null counts as false), and the keys of the first 20 of them."""
        count, samples = 0, list[str]()
        for table in self.batches(columns):
            hits = table.filter(pc.fill_null(violates(table), False))
            count += hits.num_rows
            samples.extend(self.first_keys(hits, MAX_SAMPLE_IDS - len(samples)))
        return count, samples

    def first_keys(self, table: pa.Table, limit: int) -> list[str]:
        """The first ``limit`` non-null keys of ``table``."""
        if limit <= 0:
            return []
        return table[self.spec.key_column].drop_null().slice(0, limit).to_pylist()

    def _conformed(self, table: pa.Table) -> pa.Table:
        for index, name in enumerate(table.column_names):
            expected = self.spec.schema.field(name).type
            if table.schema.field(name).type != expected:
                try:
                    table = table.set_column(index, name, table[name].cast(expected))
                except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                    raise Uncheckable(
                        f"column {name} is {table.schema.field(name).type}, not {expected}: {error}"
                    ) from None
        return table
