"""Where a table's day lives in a Parquet lake: ``<root>/<table>/call_date=YYYY-MM-DD/``, or, in a lake of many
tenants, ``<root>/<table>/tenant=<slug>/call_date=YYYY-MM-DD/`` (Spark, DuckDB and pyarrow read the hive levels as
``tenant`` and ``call_date`` columns).

Readers (Spark, DuckDB globs, pyarrow datasets) ignore names starting with ``_`` or ``.``, so in a Parquet
partition only ``part-0.parquet`` is data; the manifest, the quality report and the quarantine sit beside it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

DATA_FILE = "part-0.parquet"
MANIFEST_FILE = "_manifest.json"
QUALITY_FILE = "_dq.json"
QUARANTINE_FILE = "_quarantine.parquet"  # rows that could not become rows of the day, with why
TEMP_SUFFIX = ".inprogress"
TENANT_COLUMN = "tenant"  # the hive level (Parquet) or partition column (Delta) of a lake of many tenants
# A tenant's slug: safe in folder names, hive values, partition keys (``<slug>|YYYY-MM-DD``), DAG ids and SQL literals.
TENANT_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class TableLayout:
    """The folders of one table (of one tenant, when ``tenant`` is set) under a lake root (an fsspec path)."""

    root: str
    table: str
    partition_column: str = "call_date"
    tenant: str | None = None

    @property
    def table_path(self) -> str:
        return f"{self.root.rstrip('/')}/{self.table}"

    @property
    def days_path(self) -> str:
        """The folder holding the ``call_date=`` folders: the table's, or its tenant's."""
        return self.table_path if self.tenant is None else f"{self.table_path}/{TENANT_COLUMN}={self.tenant}"

    def partition_path(self, day: date) -> str:
        return f"{self.days_path}/{self.partition_column}={day.isoformat()}"

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
