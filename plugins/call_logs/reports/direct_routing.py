"""Direct Routing call logs: Graph's ``getDirectRoutingCalls`` (``directRoutingLogRow``) and its quality rules.

Column names stay Graph's property names, so Graph's docs describe the table. The four beta-only fields are in
the schema too (null under v1.0), so switching API versions never changes the schema.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.reports.spec import TIMESTAMP, Column, DailyRate, ReportSpec
from call_logs.tables.checks import Check, Outcome, check, row_rule

COLUMNS = (
    Column("id", pa.string()),
    Column("correlationId", pa.string()),
    Column("userId", pa.string()),
    Column("userPrincipalName", pa.string()),
    Column("userDisplayName", pa.string()),
    Column("startDateTime", TIMESTAMP),
    Column("inviteDateTime", TIMESTAMP),
    Column("failureDateTime", TIMESTAMP),
    Column("endDateTime", TIMESTAMP),
    Column("duration", pa.int32()),
    Column("callType", pa.string()),
    Column("successfulCall", pa.bool_()),
    Column("callerNumber", pa.string()),
    Column("calleeNumber", pa.string()),
    Column("mediaPathLocation", pa.string()),
    Column("signalingLocation", pa.string()),
    Column("finalSipCode", pa.int32()),
    Column("callEndSubReason", pa.int32()),
    Column("finalSipCodePhrase", pa.string()),
    Column("trunkFullyQualifiedDomainName", pa.string()),
    Column("mediaBypassEnabled", pa.bool_()),
    Column("userCountryCode", pa.string(), beta_only=True),
    Column("otherPartyCountryCode", pa.string(), beta_only=True),
    Column("transferorCorrelationId", pa.string(), beta_only=True),
    # "element" is the item name Parquet gives lists; using it keeps the schema identical after a round trip.
    Column(
        "administrativeUnitInfos",
        pa.list_(pa.field("element", pa.struct([("id", pa.string())]))),
        beta_only=True,
    ),
)


def _is(table: pa.Table, column: str, value: bool) -> pa.Array:
    return pc.equal(table[column], value)


# --- the report's own rules: a call either succeeded (end time, no failure time) or failed (failure time) ---------

RULES: tuple[Check, ...] = (
    row_rule(
        "successful_call_has_no_failure_time",
        "error",
        ["successfulCall", "failureDateTime"],
        lambda b: pc.and_kleene(_is(b, "successfulCall", True), pc.is_valid(b["failureDateTime"])),
        "successful calls with a failureDateTime",
        group="sentinel",
    ),
    row_rule(
        "successful_call_has_end_time",
        "error",
        ["successfulCall", "endDateTime"],
        lambda b: pc.and_kleene(_is(b, "successfulCall", True), pc.is_null(b["endDateTime"])),
        "successful calls without an endDateTime",
        group="sentinel",
    ),
    row_rule(
        "failed_call_has_failure_time",
        "error",
        ["successfulCall", "failureDateTime", "inviteDateTime"],
        lambda b: pc.and_kleene(
            _is(b, "successfulCall", False),
            pc.or_kleene(pc.is_null(b["failureDateTime"]), pc.less(b["failureDateTime"], b["inviteDateTime"])),
        ),
        "failed calls without a failureDateTime at or after their inviteDateTime",
        group="sentinel",
    ),
    row_rule(
        "call_outcome_known",
        "warning",
        ["successfulCall"],
        lambda b: pc.is_null(b["successfulCall"]),
        "calls whose successfulCall is null",
        group="outcome",
    ),
)


@check("sentinel_counts", "error", needs=("data", "manifest"), group="sentinel")
def check_sentinel_counts(p, t) -> Outcome:
    """Sentinels only replace failureDateTime on successful calls and endDateTime on failed ones.

    Calls of unknown outcome may carry either (``call_outcome_known`` warns about them).
    """
    assert p.manifest is not None
    sentinels = p.manifest.source.sentinels
    outcomes = {True: 0, False: 0}
    for table in p.batches(["successfulCall"]):
        for value in outcomes:
            outcomes[value] += pc.sum(pc.fill_null(_is(table, "successfulCall", value), False)).as_py() or 0
    unknown = (p.rows or 0) - outcomes[True] - outcomes[False]
    limits = dict.fromkeys(p.spec.timestamp_columns, p.rows) | {
        "failureDateTime": outcomes[True] + unknown,
        "endDateTime": outcomes[False] + unknown,
    }
    over = {
        name: {"sentinels": sentinels.get(name, 0), "limit": limit}
        for name, limit in limits.items()
        if sentinels.get(name, 0) > limit
    }
    observed = {
        "sentinels": sentinels,
        "successful_calls": outcomes[True],
        "failed_calls": outcomes[False],
        "unknown_outcome_calls": unknown,
    }
    expected = (
        "failureDateTime sentinels ≤ successful calls, endDateTime sentinels ≤ failed calls "
        "(each plus calls of unknown outcome), all ≤ rows"
    )
    if over:
        return Outcome(
            False,
            observed,
            expected,
            f"More sentinels than calls that may carry them ({over}): the success/failure split is inconsistent.",
        )
    return Outcome(True, observed, expected, "The manifest's sentinel counts fit the calls' outcomes.")


def _failed_calls(table: pa.Table) -> int:
    return int(pc.sum(pc.fill_null(pc.invert(table["successfulCall"]), False)).as_py() or 0)


DIRECT_ROUTING = ReportSpec(
    table="direct_routing_calls",
    function="getDirectRoutingCalls",
    row_type="directRoutingLogRow",
    columns=COLUMNS,
    # 2: the additionalProperties column (Graph's properties the columns do not know); version-1 days stay valid.
    schema_version=2,
    additional_properties_since=2,
    namespace="direct_routing",
    inclusive_end=False,
    settle_hours=48,
    retention_days=150,  # Direct Routing logs are kept 150 days in most countries
    rules=(*RULES, check_sentinel_counts),
    daily_rate=DailyRate(("successfulCall",), _failed_calls, label="failed_rate", legend="failed-call rate"),
)
