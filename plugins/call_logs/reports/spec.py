"""A Graph call-log report as data: everything the generic engine needs to pull, store and check it.

The engine (client, windowing, conversion, preparation, sinks, quality engine, lake report) takes a
``ReportSpec`` and never names a report. Adding a report is one spec module (plus its quality rules, DAG and
emulator data) listed in ``reports/__init__.py``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import pyarrow as pa

from call_logs.tables.checks import Check

TIMESTAMP = pa.timestamp("us", tz="UTC")
"""Every timestamp in the lake: microseconds (Spark 3 cannot read nanoseconds), UTC-aware (no timestampNtz)."""

ADDITIONAL_PROPERTIES = "additionalProperties"
"""The column every report gets last: the properties Graph sent that the report's columns do not know, as one
JSON object text (keys sorted, so equal rows give equal bytes), null when a row had none."""


@dataclass(frozen=True)
class Column:
    """One Graph property stored under its own name; ``beta_only`` ones are null under v1.0.

    ``since`` is the schema version that added the column (1 for the original ones). Columns are only ever added
    (a promotion from ``additionalProperties`` is a new column and a version bump), so every older version's
    schema is this one without the newer columns and old partitions stay readable by name.
    """

    name: str
    type: pa.DataType
    beta_only: bool = False
    since: int = 1


@dataclass(frozen=True)
class DailyRate:
    """A share of each day's rows that the lake report prints and charts (e.g. failed calls).

    ``count`` gets a table of ``columns`` for one day and returns how many of its rows count.
    """

    columns: tuple[str, ...]
    count: Callable[[pa.Table], int]
    label: str  # the report's column header, e.g. failed_rate
    legend: str  # the chart's legend, e.g. failed-call rate


@dataclass(frozen=True)
class DailySums:
    """Per day, the sums of ``columns`` for each value of ``by`` (e.g. charges per currency), charted per value."""

    by: str
    columns: tuple[str, ...]
    title: str


@dataclass(frozen=True)
class ReportSpec:
    """One Graph call-log report.

    :param table: the lake table, its asset and its DAG id.
    :param function: the Graph function (e.g. ``getPstnCalls``), under ``communications/callRecords/``.
    :param row_type: the OData row type, as Graph names it in ``@odata.context``.
    :param api_versions: the Graph versions that serve the function.
    :param inclusive_end: whether Graph's ``toDateTime`` is inclusive; the engine filters ``[start, end)`` anyway.
    :param columns: Graph's properties with their Arrow types, in lake order.
    :param schema_version: bumped whenever ``columns`` change; stored in every file and manifest.
    :param additional_properties_since: the schema version that added the ``additionalProperties`` column.
    :param namespace: prefix of the report's Airflow Variables and of its schema metadata key.
    :param budget_collection: requests sharing one Graph budget (50 / 60 s per collection) share this key.
    :param pool: the Airflow pool (one slot) that serializes the pulls of that collection.
    :param settle_hours: default wait after a day ends before it is pulled.
    :param retention_days: default age beyond which Graph answers empty, so a day is skipped, not written.
    :param rules: the report's own quality checks (lake-integrity checks apply to every report).
    :param daily_rate: the share of each day's rows the lake report shows besides volume.
    :param daily_sums: per-group sums of each day the lake report charts (e.g. cost per currency).
    """

    table: str
    function: str
    row_type: str
    columns: tuple[Column, ...]
    schema_version: int
    namespace: str
    inclusive_end: bool
    api_versions: tuple[str, ...] = ("v1.0", "beta")
    key_column: str = "id"
    time_column: str = "startDateTime"
    partition_column: str = "call_date"
    budget_collection: str = ""
    pool: str = "msgraph_callrecords"
    settle_hours: int = 48
    retention_days: int = 150
    rules: tuple[Check, ...] = ()
    daily_rate: DailyRate | None = None
    daily_sums: DailySums | None = None
    additional_properties_since: int = 1
    schema: pa.Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        for required in (self.key_column, self.time_column):
            if required not in names:
                raise ValueError(f"The {self.table} spec has no column {required!r}.")
        if ADDITIONAL_PROPERTIES in names:
            raise ValueError(
                f"The {self.table} spec may not name a column {ADDITIONAL_PROPERTIES!r}: the engine adds it."
            )
        object.__setattr__(self, "schema", self.schema_for(self.schema_version))
        if not self.budget_collection:
            object.__setattr__(self, "budget_collection", self.function)

    @property
    def function_path(self) -> str:
        return f"communications/callRecords/{self.function}"

    @property
    def schema_version_key(self) -> bytes:
        return f"{self.namespace}.schema_version".encode()

    def schema_for(self, version: int) -> pa.Schema:
        """The lake schema as version ``version`` wrote it: the columns that existed then, in lake order.

        Version ``schema_version`` is ``schema``; older ones are what partitions written before a change hold.
        """
        if not 1 <= version <= self.schema_version:
            raise ValueError(f"The {self.table} schema has no version {version} (1 to {self.schema_version}).")
        columns = [c for c in self.columns if c.since <= version]
        if self.additional_properties_since <= version:
            columns.append(Column(ADDITIONAL_PROPERTIES, pa.string(), since=self.additional_properties_since))
        return pa.schema(
            [pa.field(c.name, c.type, nullable=True) for c in columns],
            metadata={self.schema_version_key: str(version).encode()},
        )

    @property
    def column_names(self) -> tuple[str, ...]:
        """Graph's properties the report stores in typed columns (``additionalProperties`` holds the others)."""
        return tuple(c.name for c in self.columns if c.since <= self.schema_version)

    @property
    def timestamp_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.type == TIMESTAMP)

    @property
    def v1_columns(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if not c.beta_only)

    def variable(self, setting: str) -> str:
        """The Airflow Variable name of one of this report's settings: ``<namespace>_<setting>``."""
        return f"{self.namespace}_{setting}"
