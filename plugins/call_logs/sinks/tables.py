"""What a sink needs to know about a table it stores, whether a Graph report or a table derived from one.

A Graph report's ``ReportSpec`` satisfies ``PartitionedTable``; so does a gold table's ``GoldTable``
(``call_logs/gold/table.py``). ``DayRows`` is what a sink stages (a prepared Graph day, or a computed gold day)
and ``DayFacts`` what it commits beside the data as ``_manifest.json``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, TypeVar

import pyarrow as pa


class PartitionedTable(Protocol):
    """A table stored one partition per day: its name, its partition column and its one Arrow schema."""

    @property
    def table(self) -> str: ...

    @property
    def partition_column(self) -> str: ...

    @property
    def schema(self) -> pa.Schema: ...

    @property
    def schema_version_key(self) -> bytes:
        """The key of the schema version in the table's Arrow (and Parquet) schema metadata."""
        ...


TableT = TypeVar("TableT", bound=PartitionedTable)


class DayRows(Protocol):
    """A day's rows, in order, as Arrow tables of the table's schema."""

    def tables(self) -> Iterable[pa.Table]: ...


class DayFacts(Protocol):
    """The facts committed with a day (its manifest), as a JSON document."""

    def to_dict(self) -> dict[str, Any]: ...
