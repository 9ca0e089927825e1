"""Unknown properties are kept with their row (additionalProperties), counted by name, flagged when new; a
schema version bump (the column itself, a later promotion) leaves older partitions valid and readable by name."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta
from decimal import Decimal

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest
from call_logs.lake.convert import ConversionStats, rows_to_batch
from call_logs.lake.layout import DATA_FILE
from call_logs.quality.engine import check_report_day
from call_logs.quality.report import lake_report
from call_logs.reports import REPORTS
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.reports.spec import ADDITIONAL_PROPERTIES, Column
from call_logs.sinks.parquet_partitions import ParquetPartitionSink

from tests.reports.test_pstn import pstn_row
from tests.rows import call_rows, commit_rows, pages_of
from tests.sinks import report_sink

D1, D2, D3 = date(2026, 3, 2), date(2026, 3, 3), date(2026, 3, 4)
V1 = dataclasses.replace(DIRECT_ROUTING, schema_version=1)  # the schema before additionalProperties
# A later promotion: futureField becomes a typed column in version 3.
V3 = dataclasses.replace(
    DIRECT_ROUTING, columns=(*DIRECT_ROUTING.columns, Column("futureField", pa.string(), since=3)), schema_version=3
)


def sink_of(root, spec) -> ParquetPartitionSink:
    return report_sink(str(root), spec)


def with_extras(rows: list[dict], every: int = 3) -> set[str]:
    """Give every ``every``-th row unknown properties; returns the ids of the rows that carry them."""
    carried = set()
    for i, row in enumerate(rows):
        if i % every == 0:
            row["futureField"] = f"v{i}"
            row["zNested"] = {"b": [1, Decimal("2.50")], "a": None}
            carried.add(row["id"])
    return carried


@pytest.mark.parametrize("spec", REPORTS.values(), ids=REPORTS.keys())
def test_every_report_gets_the_column_last_and_version_two(spec):
    assert spec.schema_version == 2
    assert spec.schema.names[-1] == ADDITIONAL_PROPERTIES
    assert spec.schema.field(ADDITIONAL_PROPERTIES).type == pa.string()
    assert ADDITIONAL_PROPERTIES not in spec.column_names
    v1 = spec.schema_for(1)
    assert v1.names == spec.schema.names[:-1]
    assert v1.metadata == {spec.schema_version_key: b"1"}


def test_unknown_properties_are_kept_for_exactly_the_rows_that_carried_them(tmp_path):
    rows = call_rows(50, day=D1)
    carried = with_extras(rows)
    manifest = commit_rows(sink_of(tmp_path, DIRECT_ROUTING), D1, pages_of(rows, 7))
    table = pq.read_table(tmp_path / f"direct_routing_calls/call_date={D1}" / DATA_FILE)
    assert table.schema.equals(DIRECT_ROUTING.schema, check_metadata=True)
    kept = {r["id"]: r[ADDITIONAL_PROPERTIES] for r in table.select(["id", ADDITIONAL_PROPERTIES]).to_pylist()}
    assert {i for i, text in kept.items() if text is not None} == carried
    i = int(sorted(carried)[1].rsplit("-", 1)[1])
    # Sorted keys, compact, numbers exactly as Graph wrote them, nested values kept as they came.
    assert kept[f"call-{i:06d}"] == f'{{"futureField":"v{i}","zNested":{{"a":null,"b":[1,2.50]}}}}'
    assert json.loads(kept[f"call-{i:06d}"])["zNested"]["b"] == [1, 2.5]
    assert manifest.source.unknown_fields == {"futureField": len(carried), "zNested": len(carried)}


def test_the_json_text_does_not_depend_on_key_order():
    a = call_rows(1, day=D1)[0] | {"x": 1, "y": {"q": 1, "p": 2}}
    b = dict(reversed(list(a.items()))) | {"y": {"p": 2, "q": 1}}
    texts = [
        rows_to_batch([row], DIRECT_ROUTING, ConversionStats()).column(ADDITIONAL_PROPERTIES)[0].as_py()
        for row in (a, b)
    ]
    assert texts[0] == texts[1] == '{"x":1,"y":{"p":2,"q":1}}'


def test_the_pstn_report_keeps_them_too():
    stats = ConversionStats()
    rows = [pstn_row(1, datetime(2026, 3, 2, 1), newCharge=Decimal("0.0100")), pstn_row(2, datetime(2026, 3, 2, 2))]
    batch = rows_to_batch(rows, REPORTS["pstn_calls"], stats)
    assert batch.column(ADDITIONAL_PROPERTIES).to_pylist() == ['{"newCharge":0.0100}', None]
    assert stats.unknown_fields == {"newCharge": 1}


def test_a_spec_before_the_column_still_drops_and_counts(tmp_path):
    rows = call_rows(10, day=D1)
    with_extras(rows)
    manifest = commit_rows(sink_of(tmp_path, V1), D1, [rows])
    table = pq.read_table(tmp_path / f"direct_routing_calls/call_date={D1}" / DATA_FILE)
    assert ADDITIONAL_PROPERTIES not in table.schema.names
    assert manifest.schema_version == 1 and manifest.source.unknown_fields == {"futureField": 4, "zNested": 4}


def write_three_versions(root) -> dict[date, set[str]]:
    """D1 by version 1 (no column), D2 by version 2 (futureField in additionalProperties), D3 by version 3
    (futureField promoted to a typed column). Returns the ids carrying futureField per day."""
    carried = {}
    for day, spec in ((D1, V1), (D2, DIRECT_ROUTING), (D3, V3)):
        rows = call_rows(40, day=day, prefix=f"c{day:%d}")
        carried[day] = with_extras(rows, every=4)
        commit_rows(sink_of(root, spec), day, pages_of(rows, 16))
    return carried


def test_old_days_pass_the_schema_check_and_the_lake_report(tmp_path):
    write_three_versions(tmp_path)
    sink = sink_of(tmp_path, V3)
    for day, version in ((D1, 1), (D2, 2), (D3, 3)):
        report = check_report_day(sink, day)
        schema = next(c for c in report.results if c.name == "schema")
        assert schema.status == "pass", schema.message
        assert schema.observed == f"version {version}"
        assert report.status in ("pass", "warn"), [c.message for c in report.results if c.failed]
    assert [(line.day, line.rows) for line in lake_report(sink)] == [(D1, 40), (D2, 40), (D3, 40)]


def test_a_file_whose_columns_do_not_match_its_own_version_still_fails(tmp_path):
    write_three_versions(tmp_path)
    path = tmp_path / f"direct_routing_calls/call_date={D1}" / DATA_FILE
    table = pq.read_table(path)  # version 1 columns ...
    pq.write_table(table.replace_schema_metadata({DIRECT_ROUTING.schema_version_key: b"2"}), path)  # ... claiming 2
    schema = next(c for c in check_report_day(sink_of(tmp_path, DIRECT_ROUTING), D1).results if c.name == "schema")
    assert schema.status == "fail" and "additionalProperties is missing" in schema.message


def test_mixed_versions_read_together_by_name(tmp_path):
    carried = write_three_versions(tmp_path)
    folder = tmp_path / "direct_routing_calls"

    # pyarrow: one dataset over every day with the newest schema; older days read null in the newer columns.
    table = ds.dataset(folder, format="parquet", partitioning="hive", schema=V3.schema).to_table()
    assert table.num_rows == 120
    rows = table.select(["id", "futureField", ADDITIONAL_PROPERTIES]).to_pylist()
    d1 = [r for r in rows if r["id"].startswith("c02")]
    assert all(r["futureField"] is None and r[ADDITIONAL_PROPERTIES] is None for r in d1)

    # DuckDB: union_by_name merges the three schemas; the promoted value comes from either place.
    query = f"""
        SELECT call_date, id,
               coalesce(futureField, json_extract_string({ADDITIONAL_PROPERTIES}, '$.futureField')) AS future
        FROM read_parquet('{folder}/*/*.parquet', hive_partitioning = true, union_by_name = true)
        WHERE coalesce(futureField, json_extract_string({ADDITIONAL_PROPERTIES}, '$.futureField')) IS NOT NULL
    """
    found: dict[date, set[str]] = {}
    for call_date, call_id, future in duckdb.sql(query).fetchall():
        found.setdefault(call_date, set()).add(call_id)
        assert future == f"v{int(call_id.rsplit('-', 1)[1])}"
    assert found == {D2: carried[D2], D3: carried[D3]}  # version 1 dropped them: they were never stored
    merged = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{folder}/*/*.parquet', union_by_name = true)")
    assert {"futureField", ADDITIONAL_PROPERTIES} <= {name for name, *_ in merged.fetchall()}


def test_a_new_property_is_a_warning_on_the_day_it_first_appears(tmp_path):
    sink = sink_of(tmp_path, DIRECT_ROUTING)
    for offset in range(3):
        rows = call_rows(30, day=D1 + timedelta(days=offset), prefix=f"d{offset}")
        if offset:
            with_extras(rows)
        commit_rows(sink, D1 + timedelta(days=offset), [rows])
    results = {
        offset: next(
            c for c in check_report_day(sink, D1 + timedelta(days=offset)).results if c.name == "unknown_properties"
        )
        for offset in range(3)
    }
    assert results[0].status == "pass" and results[0].observed == {}
    assert results[1].status == "fail" and results[1].severity == "warning"
    assert f"first seen on {D2}" in results[1].message and "futureField (10 rows)" in results[1].message
    assert results[1].observed["futureField"] == {"rows": 10, "first_seen": D2.isoformat()}
    assert results[2].status == "pass" and f"futureField (since {D2})" in results[2].message
