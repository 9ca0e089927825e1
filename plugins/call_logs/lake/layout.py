"""Where a table's day lives in a Parquet lake: ``<root>/<table>/call_date=YYYY-MM-DD/``.

Readers (Spark, DuckDB globs, pyarrow datasets) ignore names starting with ``_`` or ``.``, so in a Parquet
partition only ``part-0.parquet`` is data; the manifest, the quality report and the quarantine sit beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DATA_FILE = "part-0.parquet"
MANIFEST_FILE = "_manifest.json"
QUALITY_FILE = "_dq.json"
QUARANTINE_FILE = "_quarantine.parquet"  # rows that could not become rows of the day, with why
TEMP_SUFFIX = ".inprogress"


@dataclass(frozen=True)
class TableLayout:
    """The folders of one table under a lake root (an fsspec path, no trailing slash)."""

    root: str
    table: str
    partition_column: str = "call_date"

    @property
    def table_path(self) -> str:
        return f"{self.root.rstrip('/')}/{self.table}"

    def partition_path(self, day: date) -> str:
        return f"{self.table_path}/{self.partition_column}={day.isoformat()}"

    def day_of_partition(self, name: str) -> date | None:
        """The date of a ``call_date=YYYY-MM-DD`` folder name, or None for anything else."""
        prefix = f"{self.partition_column}="
        base = name.rstrip("/").rsplit("/", 1)[-1]
        if not base.startswith(prefix):
            return None
        try:
            return date.fromisoformat(base[len(prefix) :])
        except ValueError:
            return None
