"""One committed day as the quality checks see it: read back through its sink, exactly as consumers will.

Columns come cast to the report schema's types, batch by batch: a day of a million calls never needs all its
columns in memory at once. A day that lacks a column, or whose column cannot be cast, raises ``Uncheckable``,
so the check that needed it fails instead of passing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.lake.manifest import Manifest
from call_logs.quality.history import VolumeHistory
from call_logs.quality.registry import Uncheckable
from call_logs.quality.results import MAX_SAMPLE_IDS
from call_logs.reports.spec import ReportSpec
from call_logs.sinks.base import StoredDay

BATCH_ROWS = 65_536


@dataclass
class CommittedPartition:
    """A committed day as read back, its report's spec and (loaded on first use) its volume history."""

    spec: ReportSpec
    stored: StoredDay
    history: Callable[[], VolumeHistory]

    @property
    def day(self) -> date:
        return self.stored.day

    @property
    def manifest(self) -> Manifest | None:
        return self.stored.manifest

    @property
    def rows(self) -> int | None:
        return self.stored.data.num_rows if self.stored.data is not None else None

    def batches(self, columns: list[str]) -> Iterator[pa.Table]:
        """The key column plus ``columns``, cast to the report schema's types, one batch at a time."""
        data = self.stored.data
        assert data is not None, "checks that read rows declare needs=('data',)"
        key = self.spec.key_column
        wanted = [key, *(c for c in columns if c != key)]
        missing = [c for c in wanted if c not in data.schema.names]
        if missing:
            raise Uncheckable(f"the file has no column {', '.join(missing)}")
        for batch in data.iter_batches(wanted, BATCH_ROWS):
            yield self._conformed(pa.Table.from_batches([batch]))

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
