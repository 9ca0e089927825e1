"""A gold table as data: its name, the table it is derived from, its partition column and its one schema.

The counterpart of a Graph report's ``ReportSpec`` for tables computed from the lake: sinks and the quality
engine take either (``tables/partitioned.py``'s ``PartitionedTable``). Column names are snake_case, except the
source columns kept as keys (``trunkFullyQualifiedDomainName``), so a gold row joins back to its source rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa


@dataclass(frozen=True)
class GoldTable:
    """One derived table, one partition per day (or per month, keyed by its first day).

    :param table: the lake table, its asset and its DAG id.
    :param source: the table its partitions are computed from.
    :param partition_column: ``call_date`` (daily) or ``month`` (the first day of the month).
    :param fields: its columns, in order.
    :param schema_version: bumped whenever ``fields`` change; stored in every file and manifest.
    :param key_column: the column that identifies a row within a partition (quality samples name rows by it).
    :param grain: the columns that together identify a row, when the key column alone does not.
    """

    table: str
    source: str
    partition_column: str
    fields: tuple[pa.Field, ...]
    schema_version: int
    key_column: str
    grain: tuple[str, ...] = ()
    schema: pa.Schema = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        schema = pa.schema(list(self.fields), metadata={self.schema_version_key: str(self.schema_version).encode()})
        object.__setattr__(self, "schema", schema)

    @property
    def schema_version_key(self) -> bytes:
        return b"gold.schema_version"

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def row_key(self) -> tuple[str, ...]:
        """The columns that identify a row within a partition."""
        return self.grain or (self.key_column,)


TRUNK = "trunkFullyQualifiedDomainName"
_TIMESTAMP = pa.timestamp("us", tz="UTC")
_COUNTED = pa.list_(pa.field("element", pa.struct([("value", pa.string()), ("calls", pa.int64())])))
_SIP_CODES = pa.list_(
    pa.field("element", pa.struct([("code", pa.int32()), ("phrase", pa.string()), ("calls", pa.int64())]))
)

TRUNK_HEALTH = GoldTable(
    table="direct_routing_trunk_health",
    source="direct_routing_calls",
    partition_column="call_date",
    fields=(
        pa.field(TRUNK, pa.string()),  # null: calls Graph reported without a trunk
        pa.field("calls", pa.int64()),
        pa.field("successful_calls", pa.int64()),
        pa.field("success_rate", pa.float64()),
        pa.field("answered_calls", pa.int64()),  # final SIP code 0 (BYE after an answer) or 200
        pa.field("answer_seizure_ratio", pa.float64()),  # answered / calls (every call seized the trunk)
        pa.field("top_final_sip_codes", _SIP_CODES),  # the five most frequent codes, most frequent first
        pa.field("media_bypass_calls", pa.int64()),
        pa.field("media_bypass_share", pa.float64()),
        pa.field("duration_p50_s", pa.float64()),  # over successful calls, linear interpolation; null: none
        pa.field("duration_p95_s", pa.float64()),
        pa.field("calls_by_signaling_location", _COUNTED),  # sorted by location
        pa.field("calls_by_media_location", _COUNTED),
        # schema version 2: the Health Dashboard's and CQD's figures (definitions in trunk_health.py and the README)
        pa.field("calls_by_outcome", _COUNTED),  # NER outcomes (outcomes.py) with calls, in the table's order
        pa.field("delivered_calls", pa.int64()),
        pa.field("ner_calls", pa.int64()),  # the calls NER is based on: every call but those of unknown outcome
        pa.field("ner", pa.float64()),  # delivered / ner_calls in [0, 1] (the dashboard shows x 100); null: none
        pa.field("calls_from_previous_day", pa.int64()),  # still up after midnight; null: that day was missing
        pa.field("peak_concurrent_calls", pa.int64()),  # the most calls up in a minute; null: previous day missing
        pa.field("peak_concurrent_minute", _TIMESTAMP),  # the first minute it peaked
        pa.field("peak_concurrent_inbound", pa.int64()),  # the inbound calls' own peak (callType ByotIn*/dr_in*)
        pa.field("peak_concurrent_outbound", pa.int64()),  # the outbound calls' own peak (ByotOut*/dr_out*)
        pa.field("p95_concurrent_calls", pa.float64()),  # over the day's 1,440 minutes, idle ones too
        pa.field("average_call_duration_s", pa.float64()),  # talk time of answered calls: end - start
        pa.field("average_call_duration_calls", pa.int64()),  # the answered calls it is based on
        pa.field("short_call_share", pa.float64()),  # of those, the share under 15 s
        pa.field("setup_delay_p50_s", pa.float64()),  # start - invite of answered calls
        pa.field("setup_delay_p95_s", pa.float64()),
    ),
    schema_version=2,
    key_column=TRUNK,
)

TRUNK_HEALTH_MONTHLY = GoldTable(
    table="direct_routing_trunk_health_monthly",
    source=TRUNK_HEALTH.table,
    partition_column="month",  # the month's first day: month=2026-10-01
    fields=(
        pa.field(TRUNK, pa.string()),
        pa.field("days", pa.int32()),  # days of the month on which the trunk had calls
        pa.field("calls", pa.int64()),
        pa.field("successful_calls", pa.int64()),
        pa.field("success_rate", pa.float64()),
        pa.field("answered_calls", pa.int64()),
        pa.field("answer_seizure_ratio", pa.float64()),
        pa.field("media_bypass_calls", pa.int64()),
        pa.field("media_bypass_share", pa.float64()),
        # schema version 2
        pa.field("delivered_calls", pa.int64()),
        pa.field("ner_calls", pa.int64()),
        pa.field("ner", pa.float64()),
        pa.field("peak_concurrent_calls", pa.int64()),  # the month's busiest minute over its days with a figure
        pa.field("concurrency_days", pa.int32()),  # the days with a concurrency figure (of ``days``)
    ),
    schema_version=2,
    key_column=TRUNK,
)

# The Health Dashboard's hourly drill-down: per day, trunk and hour of the day (UTC).
TOP_END_REASONS = 5
_END_REASONS = pa.list_(
    pa.field(
        "element",
        pa.struct([("code", pa.int32()), ("sub_reason", pa.int32()), ("phrase", pa.string()), ("calls", pa.int64())]),
    )
)
TRUNK_HEALTH_HOURLY = GoldTable(
    table="direct_routing_trunk_health_hourly",
    source="direct_routing_calls",
    partition_column="call_date",
    fields=(
        pa.field(TRUNK, pa.string()),
        pa.field("hour", _TIMESTAMP),  # the hour's first instant (UTC); a row per hour in which calls started
        pa.field("calls", pa.int64()),  # calls that started in the hour
        pa.field("delivered_calls", pa.int64()),
        pa.field("ner_calls", pa.int64()),
        pa.field("ner", pa.float64()),
        pa.field("answered_calls", pa.int64()),
        pa.field("answer_seizure_ratio", pa.float64()),
        pa.field("peak_concurrent_calls", pa.int64()),  # in any minute of the hour; null: previous day missing
        pa.field("top_call_end_reasons", _END_REASONS),  # the five most frequent (code, sub-reason), most first
    ),
    schema_version=1,
    key_column=TRUNK,
    grain=(TRUNK, "hour"),
)

# The carrier's view, in a lake of many tenants: per day and SBC (trunk FQDN), every tenant that used it.
SBC_HEALTH = GoldTable(
    table="direct_routing_sbc_health",
    source="direct_routing_calls",
    partition_column="call_date",
    fields=(
        TRUNK_HEALTH.fields[0],
        pa.field("tenants", pa.int32()),  # tenants with calls on the trunk that day
        *TRUNK_HEALTH.fields[1:],
    ),
    schema_version=2,
    key_column=TRUNK,
)

# PSTN cost per user and month, and the minute pools (pstn_usage.py says how they are summed).
_MONEY_SUM = pa.decimal128(38, 6)  # the source's six places, the widest precision: sums stay exact
PSTN_USAGE_MONTHLY = GoldTable(
    table="pstn_usage_monthly",
    source="pstn_calls",
    partition_column="month",
    fields=(
        pa.field("userId", pa.string()),  # null: bot calls (ucap_*)
        pa.field("currency", pa.string()),
        pa.field("callType", pa.string()),
        pa.field("destinationContext", pa.string()),
        pa.field("userPrincipalName", pa.string()),  # of the user's latest call in the month
        pa.field("userDisplayName", pa.string()),
        pa.field("calls", pa.int64()),
        pa.field("duration_s", pa.int64()),  # Graph's whole seconds, summed
        pa.field("minutes", pa.float64()),  # duration_s / 60
        pa.field("charge", _MONEY_SUM),  # summed exactly; null: no call of the row had a charge
        pa.field("connectionCharge", _MONEY_SUM),
    ),
    schema_version=1,
    key_column="userId",
    grain=("userId", "currency", "callType", "destinationContext"),
)
PSTN_MINUTE_POOLS_MONTHLY = GoldTable(
    table="pstn_minute_pools_monthly",
    source="pstn_calls",
    partition_column="month",
    fields=(
        pa.field("licenseCapability", pa.string()),
        pa.field("usageCountryCode", pa.string()),
        pa.field("calls", pa.int64()),
        pa.field("users", pa.int64()),  # distinct userId (bot calls have none)
        pa.field("duration_s", pa.int64()),
        pa.field("minutes", pa.float64()),
    ),
    schema_version=1,
    key_column="licenseCapability",
    grain=("licenseCapability", "usageCountryCode"),
)

GOLD_TABLES: dict[str, GoldTable] = {
    t.table: t
    for t in (
        TRUNK_HEALTH,
        TRUNK_HEALTH_MONTHLY,
        TRUNK_HEALTH_HOURLY,
        SBC_HEALTH,
        PSTN_USAGE_MONTHLY,
        PSTN_MINUTE_POOLS_MONTHLY,
    )
}


def report_of(table: GoldTable) -> str:
    """The Graph report a gold table is computed from, through other gold tables: its Variables place the table."""
    source = table.source
    while source in GOLD_TABLES:
        source = GOLD_TABLES[source].source
    return source
