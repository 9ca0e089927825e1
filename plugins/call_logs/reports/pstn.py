"""PSTN call logs (Calling Plans, Operator Connect): Graph's ``getPstnCalls`` (``pstnCallLogRow``) and its rules.

Only this log carries what calls cost. ``charge`` and ``connectionCharge`` are ``Edm.Decimal`` in Graph's schema
(the v1.0 doc page says Double): they are stored as ``decimal128(18, 6)``, which holds every value Graph has been
seen to send (2 to 4 places) exactly, fits a 64-bit integer in Spark, Parquet and Delta readers, and makes a value
with more places fail the pull instead of being rounded. ``toDateTime`` is documented as inclusive: a call starting
exactly at midnight comes back for both days, and the engine keeps it in the day it starts only.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.reports.spec import TIMESTAMP, Column, DailySums, ReportSpec
from call_logs.tables.checks import Check, row_rule

MONEY = pa.decimal128(18, 6)
BOT_CALL_TYPES = ("ucap_in", "ucap_out")  # bot calls: Graph leaves the user fields null or empty

COLUMNS = (
    Column("id", pa.string()),
    Column("callId", pa.string()),
    Column("userId", pa.string()),
    Column("userPrincipalName", pa.string()),
    Column("userDisplayName", pa.string()),
    Column("startDateTime", TIMESTAMP),
    Column("endDateTime", TIMESTAMP),
    Column("duration", pa.int32()),
    Column("charge", MONEY),
    Column("callType", pa.string()),
    Column("currency", pa.string()),
    Column("calleeNumber", pa.string()),
    Column("usageCountryCode", pa.string()),
    Column("tenantCountryCode", pa.string()),
    Column("connectionCharge", MONEY),
    Column("callerNumber", pa.string()),
    Column("destinationContext", pa.string()),
    Column("destinationName", pa.string()),
    Column("conferenceId", pa.string()),
    Column("licenseCapability", pa.string()),
    Column("inventoryType", pa.string()),
    Column("operator", pa.string()),
    Column("callDurationSource", pa.string()),
    Column("otherPartyCountryCode", pa.string(), beta_only=True),
    Column(
        "administrativeUnitInfos",
        pa.list_(pa.field("element", pa.struct([("id", pa.string())]))),
        beta_only=True,
    ),
)

DURATION_TOLERANCE_S = 1  # Graph's duration is whole seconds; its times carry 7 fractional digits


def _seconds_between(table: pa.Table) -> pa.Array:
    return pc.divide(pc.cast(pc.subtract(table["endDateTime"], table["startDateTime"]), pa.int64()), 1_000_000)


def _is_bot(table: pa.Table) -> pa.Array:
    return pc.is_in(table["callType"], value_set=pa.array(BOT_CALL_TYPES))


def _blank(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    return pc.or_(pc.is_null(column), pc.equal(pc.utf8_length(pc.fill_null(column, "")), 0))


RULES: tuple[Check, ...] = (
    row_rule(
        "end_not_before_start",
        "error",
        ["startDateTime", "endDateTime"],
        lambda b: pc.less(b["endDateTime"], b["startDateTime"]),
        "calls that end before they start",
    ),
    row_rule(
        "duration_matches_times",
        "warning",
        ["startDateTime", "endDateTime", "duration"],
        lambda b: pc.greater(pc.abs(pc.subtract(_seconds_between(b), b["duration"])), DURATION_TOLERANCE_S),
        f"calls whose duration differs from endDateTime − startDateTime by more than {DURATION_TOLERANCE_S} s",
    ),
    row_rule(
        "charges_not_negative",
        "error",
        ["charge", "connectionCharge"],
        lambda b: pc.or_kleene(pc.less(b["charge"], 0), pc.less(b["connectionCharge"], 0)),
        "calls with a negative charge or connectionCharge",
    ),
    row_rule(
        "charge_has_currency",
        "error",
        ["charge", "connectionCharge", "currency"],
        lambda b: pc.and_(
            pc.or_(pc.is_valid(b["charge"]), pc.is_valid(b["connectionCharge"])),
            _blank(b["currency"]),
        ),
        "calls with a charge but no currency",
    ),
    row_rule(
        "user_fields_only_empty_for_bots",
        "warning",
        ["userId", "userPrincipalName", "callType"],
        lambda b: pc.and_(_blank(b["userId"]), pc.invert(pc.fill_null(_is_bot(b), False))),
        f"calls without a user that are not bot calls ({', '.join(BOT_CALL_TYPES)})",
        group="identity",
    ),
)


PSTN = ReportSpec(
    table="pstn_calls",
    function="getPstnCalls",
    row_type="pstnCallLogRow",
    columns=COLUMNS,
    # 2: the additionalProperties column (Graph's properties the columns do not know); version-1 days stay valid.
    schema_version=2,
    additional_properties_since=2,
    namespace="pstn_calls",
    inclusive_end=True,
    settle_hours=48,
    # Calling Plan logs are kept 365 days in most countries (150 in some, e.g. CA): the safe common default.
    retention_days=150,
    pool="msgraph_callrecords_pstn",
    rules=RULES,
    daily_sums=DailySums("currency", ("charge", "connectionCharge"), title="cost per day and currency"),
)
