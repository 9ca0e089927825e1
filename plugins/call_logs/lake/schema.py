"""The one Arrow schema of every partition (versioned): Graph's property names, real types, UTC microseconds.

Microseconds, not nanoseconds: Spark 3 cannot read ``TIMESTAMP(NANOS)``. Every column is nullable
because Graph documents every property as nullable. Beta-only fields are here too, null under v1.0, so
that switching API versions never changes the schema.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 1
TABLE_NAME = "direct_routing_calls"
PARTITION_KEY = "call_date"

TIMESTAMP = pa.timestamp("us", tz="UTC")

_V1_FIELDS = [
    ("id", pa.string()),
    ("correlationId", pa.string()),
    ("userId", pa.string()),
    ("userPrincipalName", pa.string()),
    ("userDisplayName", pa.string()),
    ("startDateTime", TIMESTAMP),
    ("inviteDateTime", TIMESTAMP),
    ("failureDateTime", TIMESTAMP),
    ("endDateTime", TIMESTAMP),
    ("duration", pa.int32()),
    ("callType", pa.string()),
    ("successfulCall", pa.bool_()),
    ("callerNumber", pa.string()),
    ("calleeNumber", pa.string()),
    ("mediaPathLocation", pa.string()),
    ("signalingLocation", pa.string()),
    ("finalSipCode", pa.int32()),
    ("callEndSubReason", pa.int32()),
    ("finalSipCodePhrase", pa.string()),
    ("trunkFullyQualifiedDomainName", pa.string()),
    ("mediaBypassEnabled", pa.bool_()),
]
_BETA_FIELDS = [
    ("userCountryCode", pa.string()),
    ("otherPartyCountryCode", pa.string()),
    ("transferorCorrelationId", pa.string()),
    # "element" is the item name Parquet gives lists; using it keeps the schema identical after a round trip.
    ("administrativeUnitInfos", pa.list_(pa.field("element", pa.struct([("id", pa.string())])))),
]

SCHEMA = pa.schema(
    [pa.field(name, kind, nullable=True) for name, kind in _V1_FIELDS + _BETA_FIELDS],
    metadata={b"direct_routing.schema_version": str(SCHEMA_VERSION).encode()},
)
COLUMN_NAMES = tuple(SCHEMA.names)
TIMESTAMP_COLUMNS = tuple(f.name for f in SCHEMA if f.type == TIMESTAMP)
V1_COLUMNS = tuple(name for name, _ in _V1_FIELDS)
