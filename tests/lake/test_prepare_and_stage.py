"""Graph pages → a prepared day (``lake/prepare.py``) → one staged Parquet file (the Parquet sink's ``stage``):
schema, sentinels, dedupe, window filter, order, row groups, bad input."""

from __future__ import annotations

import random
from datetime import timedelta

import fsspec
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from call_logs import defaults
from call_logs.lake.convert import SchemaViolation
from call_logs.lake.manifest import Manifest
from call_logs.lake.prepare import prepare_day
from call_logs.reports.direct_routing import DIRECT_ROUTING
from call_logs.sinks.parquet_partitions import ParquetPartitionSink

from tests.lake.conftest import DAY, graph_rows, pages_of

END = DAY + timedelta(days=1)


SCHEMA = DIRECT_ROUTING.schema
TIMESTAMP_COLUMNS = DIRECT_ROUTING.timestamp_columns


class Built:
    """A prepared day staged as a local Parquet file by the Parquet sink: its counts and its file."""

    def __init__(self, prepared, staged):
        self.prepared, self.staged = prepared, staged
        self.local_path = staged.local_path

    def __getattr__(self, name):
        return getattr(self.prepared, name)


def build(workdir, pages, *, row_group_rows: int = defaults.ROWS_PER_BATCH, **kwargs) -> Built:
    workdir.mkdir(parents=True, exist_ok=True)
    prepared = prepare_day(pages, DIRECT_ROUTING, DAY, END, str(workdir), **kwargs)
    sink = ParquetPartitionSink(
        fsspec.filesystem("file"),
        str(workdir / "lake"),
        DIRECT_ROUTING,
        Manifest.from_dict,
        row_group_rows=row_group_rows,
    )
    return Built(prepared, sink.stage(DAY.date(), prepared, str(workdir)))


def test_rows_land_typed_sorted_and_sentinel_free(tmp_path):
    rows = graph_rows(2500)
    random.Random(3).shuffle(rows)  # Graph's order is not documented
    built = build(tmp_path, pages_of(rows))
    table = pq.read_table(built.local_path)
    assert table.schema.equals(SCHEMA, check_metadata=True)
    assert built.rows == table.num_rows == 2500
    assert table["id"].to_pylist() == sorted(table["id"].to_pylist())  # start order = id order in this factory
    starts = table["startDateTime"].to_pylist()
    assert starts == sorted(starts)
    for name in TIMESTAMP_COLUMNS:
        values = pc.drop_null(table[name])
        assert len(values) == 0 or pc.min(values).as_py().year >= 1900
    failed = table.filter(pc.invert(table["successfulCall"]))
    assert failed["endDateTime"].null_count == failed.num_rows == 500
    ok = table.filter(table["successfulCall"])
    assert ok["failureDateTime"].null_count == ok.num_rows == 2000
    assert built.sentinels["failureDateTime"] == 2000 and built.sentinels["endDateTime"] == 500


def test_duplicates_across_pages_and_out_of_window_rows_are_dropped_and_counted(tmp_path):
    rows = graph_rows(3000)
    outside = graph_rows(7, day=DAY + timedelta(days=1), prefix="late") + graph_rows(
        4, day=DAY - timedelta(days=1), prefix="early"
    )
    pages = pages_of(rows)
    pages[1] = rows[990:1000] + pages[1]  # the same rows on two consecutive pages (offset paging shifted)
    pages.append(outside)
    built = build(tmp_path, pages)
    assert built.rows_fetched == 3000 + 10 + 11
    assert built.duplicates_dropped == 10
    assert built.out_of_window_dropped == 11
    table = pq.read_table(built.local_path)
    assert table.num_rows == 3000 and len(pc.unique(table["id"])) == 3000


def test_the_same_rows_give_the_same_bytes_whatever_the_page_order(tmp_path):
    rows = graph_rows(1500)
    first = build(tmp_path / "a", pages_of(rows, 400))
    shuffled = list(rows)
    random.Random(9).shuffle(shuffled)
    second = build(tmp_path / "b", pages_of(shuffled, 700))
    assert first.staged.stored.sha256 == second.staged.stored.sha256


def test_an_empty_day_is_a_valid_file_with_the_full_schema(tmp_path):
    built = build(tmp_path, [[]])
    table = pq.read_table(built.local_path)
    assert built.rows == table.num_rows == 0
    assert table.schema.equals(SCHEMA, check_metadata=True)


def test_row_groups_are_bounded(tmp_path):
    built = build(tmp_path, pages_of(graph_rows(5000)), row_group_rows=1024)
    meta = pq.ParquetFile(built.local_path).metadata
    assert meta.num_row_groups == 5
    assert max(meta.row_group(i).num_rows for i in range(meta.num_row_groups)) == 1024


def test_unknown_fields_are_kept_aside_and_counted_missing_fields_are_null(tmp_path):
    rows = graph_rows(10)
    for row in rows[:4]:
        row["futureField"] = "x"
    del rows[5]["calleeNumber"]
    built = build(tmp_path, [rows])
    table = pq.read_table(built.local_path)
    assert built.conversion.unknown_fields == {"futureField": 4}
    assert "futureField" not in table.schema.names  # kept in additionalProperties (tests/lake/test_extra_properties.py)
    assert table["additionalProperties"].to_pylist().count('{"futureField":"x"}') == 4
    assert table["calleeNumber"].null_count == 1


def test_beta_fields_are_kept(tmp_path):
    rows = graph_rows(3)
    rows[0].update(
        userCountryCode="US",
        otherPartyCountryCode="CA",
        transferorCorrelationId="t",
        administrativeUnitInfos=[{"id": "au-1"}],
    )
    table = pq.read_table(build(tmp_path, [rows]).local_path)
    first = table.slice(0, 1).to_pylist()[0]
    assert first["userCountryCode"] == "US" and first["administrativeUnitInfos"] == [{"id": "au-1"}]


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("duration", "60", "int32"),
        ("duration", 1.5, "int32"),
        ("duration", 2**40, "int32"),
        ("successfulCall", "true", "bool"),
        ("callerNumber", 12345, "string"),
        ("startDateTime", "yesterday", "ISO-8601"),
        ("failureDateTime", 17, "ISO-8601"),
    ],
)
def test_a_value_of_the_wrong_type_names_the_field_and_the_row(tmp_path, field, value, expected):
    rows = graph_rows(20)
    rows[13][field] = value
    with pytest.raises(SchemaViolation) as caught:
        build(tmp_path, [rows])
    message = str(caught.value)
    assert f"'{field}'" in message and rows[13]["id"] in message and expected in message


def test_seven_digit_fractions_from_dotnet_are_accepted(tmp_path):
    rows = graph_rows(2)
    rows[0]["startDateTime"] = rows[0]["startDateTime"][:-1] + "4567Z"
    table = pq.read_table(build(tmp_path, [rows]).local_path)
    assert table.num_rows == 2
    assert table["startDateTime"].type == pa.timestamp("us", tz="UTC")
