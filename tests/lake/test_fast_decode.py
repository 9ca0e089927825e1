"""The fast path (raw row JSON straight to Arrow) gives exactly what the row path gives, or hands the page to it.

Every page is converted both ways: ``page_to_batch(page)`` and ``rows_to_batch(page.rows())`` must give equal
record batches (values and types) and equal stats, or the same ``SchemaViolation`` message.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
from call_logs.graph.client import GraphReportClient, RawPage
from call_logs.lake.convert import ConversionStats, SchemaViolation, rows_to_batch
from call_logs.lake.fast_decode import _fast_columns, page_to_batch
from call_logs.lake.pseudonymise import Pseudonymiser, json_text
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.reports.pstn import PSTN
from graph_emulator.data import DirectRoutingLog, PstnLog

DAY = 20_516  # 2026-03-04, days since 1970-01-01
LOGS = [(DIRECT_ROUTING, DirectRoutingLog), (PSTN, PstnLog)]


def page_of(texts: list[str]) -> RawPage:
    return GraphReportClient._decode(('{"value":[' + ",".join(texts) + "]}").encode())


def emulator_rows(log_type, seed: int, count: int, *, beta: bool, extra: str = "") -> list[str]:
    log = log_type(seed, count, False)
    units = 86_400 * log.UNITS_PER_SECOND
    return log.rows(DAY * units, (DAY + 1) * units, 0, count, beta=beta, extra=extra)


def both_ways(page: RawPage, spec, pseudonymiser=None):
    """(batch or violation message, stats) of the fast path and of the row path."""
    outcomes = []
    for convert in (
        lambda stats: page_to_batch(page, spec, stats, sentinel_flags=True, pseudonymiser=pseudonymiser),
        lambda stats: rows_to_batch(page.rows(), spec, stats, sentinel_flags=True, pseudonymiser=pseudonymiser),
    ):
        stats = ConversionStats()
        try:
            outcomes.append((convert(stats), stats))
        except SchemaViolation as violation:
            outcomes.append((str(violation), stats))
    return outcomes


def assert_same(page: RawPage, spec, pseudonymiser=None) -> None:
    (fast, fast_stats), (rows, row_stats) = both_ways(page, spec, pseudonymiser)
    if isinstance(rows, str):
        assert fast == rows
    else:
        assert not isinstance(fast, str), fast
        assert fast.schema.equals(rows.schema, check_metadata=True)
        assert fast.equals(rows), (fast.to_pylist()[:3], rows.to_pylist()[:3])
        assert fast_stats == row_stats


@pytest.mark.parametrize("spec,log_type", LOGS, ids=["direct_routing", "pstn"])
@pytest.mark.parametrize("beta", [False, True], ids=["v1.0", "beta"])
@pytest.mark.parametrize("seed", [1, 7, 42])
def test_emulator_pages_take_the_fast_path_and_equal_the_row_path(spec, log_type, beta, seed):
    texts = emulator_rows(log_type, seed, 2500, beta=beta)
    pseudonymiser = Pseudonymiser("k", ["userPrincipalName", "callerNumber", "calleeNumber"])
    for lo in range(0, len(texts), 1000):
        page = page_of(texts[lo : lo + 1000])
        assert _fast_columns(page.value, spec, None) is not None  # the emulator's pages never fall back
        assert_same(page, spec)
        assert_same(page, spec, pseudonymiser)


@pytest.mark.parametrize("spec,log_type", LOGS, ids=["direct_routing", "pstn"])
def test_a_page_with_an_unknown_property_goes_the_row_path(spec, log_type):
    texts = emulator_rows(log_type, 3, 300, beta=True)
    texts[5] = texts[5][:-1] + ',"futureField":"x"}'
    page = page_of(texts)
    assert _fast_columns(page.value, spec, None) is None
    assert_same(page, spec)
    assert_same(page, spec, Pseudonymiser("k", ["futureField", "userPrincipalName"]))
    fast_stats = ConversionStats()
    page_to_batch(page, spec, fast_stats)
    assert fast_stats.unknown_fields == {"futureField": 1}


def with_value(text: str, name: str, value: str) -> str:
    """``text`` (one row) with property ``name`` set to the raw JSON ``value`` (no duplicate key)."""
    row = page_of([text]).rows()[0]
    row.pop(name, None)
    rest = json_text(row)
    return rest[:-1] + ("," if len(rest) > 2 else "") + f'"{name}":{value}' + "}"


EDGE_CASES = {
    DIRECT_ROUTING: {
        "duration": [
            "1.5",
            "1.0",
            "1e3",
            "3000000000",
            "-2147483649",
            "2147483647",
            "-2147483648",
            "-0",
            '"5"',
            "true",
            "null",
        ],
        "finalSipCode": ["200", "2.5", "false"],
        "successfulCall": ['"true"', "1", "null", "false"],
        "callerNumber": ["5", "true", '{"a":1}', '["x"]', "null", '""', '"caf\\u00e9 \\ud83d\\ude00"'],
        "startDateTime": [
            '"0001-01-01T00:00:00Z"',
            '"2026-03-04T10:00:00.1234567Z"',
            '"2026-03-04T10:00:00Z"',
            '"not a time"',
            "5",
            "null",
        ],
        "inviteDateTime": ['"0001-01-01T00:00:00Z"', '"0001-01-01T00:00:00.0000000Z"', '"2026-03-04T10:00:00.1+02:00"'],
        "administrativeUnitInfos": [
            "[]",
            "null",
            '[{"id":"x"},{"id":null}]',
            '[{"id":"x","z":1}]',
            "[{}]",
            "[null]",
            "[1]",
            '{"id":"x"}',
            '[{"id":5}]',
            '"x"',
        ],
        "zz": ["null", "1", '"x"', '{"b":2,"a":1}'],
        "additionalProperties": ['"x"'],
    },
    PSTN: {
        "charge": [
            "0.015",
            "12",
            '"0.5"',
            "1.1234567",
            "1.1234560",
            "1e-3",
            "1E2",
            "1e20",
            "true",
            "null",
            "-0.0",
            "123456789012345678901234567890",
            "999999999999.999999",
            "-999999999999.999999",
            "1000000000000",
        ],
        "connectionCharge": ["0", '"1"', "0.1", "false"],
        "duration": ["1.5", '"60"'],
        "currency": ["1", "null"],
        "endDateTime": ['"2026-03-04T10:00:00.1234567Z"', '"2026-03-04"', '"0001-01-01T00:00:00Z"'],
    },
}


@pytest.mark.parametrize(
    "spec,name,value",
    [(spec, name, value) for spec, cases in EDGE_CASES.items() for name, values in cases.items() for value in values],
    ids=lambda v: v.table if hasattr(v, "table") else str(v),
)
def test_crafted_values_give_the_row_paths_batch_or_its_exact_violation(spec, name, value):
    log_type = DirectRoutingLog if spec is DIRECT_ROUTING else PstnLog
    texts = emulator_rows(log_type, 5, 40, beta=True)
    texts[17] = with_value(texts[17], name, value)
    page = page_of(texts)
    assert_same(page, spec)
    assert_same(page, spec, Pseudonymiser("k", ["userPrincipalName", "callerNumber", "zz"]))


def test_pretty_printed_rows_and_a_one_row_page():
    texts = emulator_rows(DirectRoutingLog, 8, 30, beta=True)
    pretty = [text.replace(",", ",\n  ").replace("{", "{\r\n") if i % 3 == 0 else text for i, text in enumerate(texts)]
    page = page_of(pretty)
    assert _fast_columns(page.value, DIRECT_ROUTING, None) is not None
    assert_same(page, DIRECT_ROUTING)
    assert_same(page_of(texts[:1]), DIRECT_ROUTING)


def test_a_decimal_column_keeps_every_digit():
    texts = emulator_rows(PstnLog, 9, 3, beta=False)
    texts = [with_value(texts[0], "charge", "0.000001"), with_value(texts[1], "charge", "999999999999.999999")]
    batch = page_to_batch(page_of(texts), PSTN, ConversionStats())
    assert batch.column("charge").to_pylist() == [Decimal("0.000001"), Decimal("999999999999.999999")]
