"""A lake of many tenants: every table gains a tenant level that readers see as a column, and one tenant's day
never touches another's (Parquet folders; Delta commits partitioned by tenant and day, with a predicate on both)."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from call_logs.lake.errors import LakeSchemaError
from call_logs.quality.engine import check_report_day
from call_logs.reports.direct_routing import DIRECT_ROUTING
from deltalake import DeltaTable

from tests.rows import call_rows, commit_rows, pages_of
from tests.sinks import report_sink

DAY = date(2026, 3, 2)


def commit(lake, tenant, count, table_format, prefix=None):
    sink = report_sink(lake, DIRECT_ROUTING, table_format, tenant=tenant)
    rows = call_rows(count, day=DAY, prefix=prefix or tenant)
    manifest = commit_rows(sink, DAY, pages_of(rows), run={"tenant": tenant})
    return sink, manifest


def test_parquet_days_of_two_tenants_live_side_by_side_under_tenant_folders(tmp_path):
    lake = tmp_path / "lake"
    a, _ = commit(lake, "contoso", 30, "parquet")
    b, _ = commit(lake, "fabrikam", 20, "parquet")
    assert a.location(DAY).endswith("/direct_routing_calls/tenant=contoso/call_date=2026-03-02")
    assert a.committed_days() == b.committed_days() == [DAY]
    assert report_sink(lake, DIRECT_ROUTING, "parquet", tenant="other").committed_days() == []
    assert check_report_day(a, DAY).status == "pass" and check_report_day(b, DAY).status == "pass"
    counts = duckdb.sql(
        f"SELECT tenant, call_date, count(*) FROM read_parquet('{lake}/direct_routing_calls/*/*/*.parquet', "
        "hive_partitioning = true) GROUP BY ALL ORDER BY tenant"
    ).fetchall()
    assert counts == [("contoso", DAY, 30), ("fabrikam", DAY, 20)]


def test_delta_commits_one_tenant_day_at_a_time_and_leaves_the_others_alone(tmp_path):
    lake = tmp_path / "lake"
    a, first = commit(lake, "contoso", 30, "delta")
    b, _ = commit(lake, "fabrikam", 20, "delta")
    table = DeltaTable(a.delta.uri)
    assert table.metadata().partition_columns == ["tenant", "call_date"]
    version, fabrikam_before = table.version(), b.read_columns(DAY, ["id"])
    again, rerun = commit(lake, "contoso", 25, "delta", prefix="again")
    table = DeltaTable(a.delta.uri)
    assert table.version() == version + 1  # a re-run of one tenant-day: exactly one version
    assert b.read_columns(DAY, ["id"]).equals(fabrikam_before)
    assert a.read_manifest(DAY).rows == 25 and b.read_manifest(DAY).rows == 20
    assert a.table_version(DAY) == version + 1 and b.table_version(DAY) == version
    rows = table.to_pyarrow_table(columns=["tenant", "id"]).group_by("tenant").aggregate([("id", "count")])
    assert sorted(rows.to_pylist(), key=lambda r: r["tenant"]) == [
        {"tenant": "contoso", "id_count": 25},
        {"tenant": "fabrikam", "id_count": 20},
    ]
    assert check_report_day(a, DAY).status == "pass" and check_report_day(b, DAY).status == "pass"
    assert a.committed_days() == [DAY] and report_sink(lake, DIRECT_ROUTING, "delta", tenant="x").committed_days() == []
    assert a.quality_path(DAY).endswith("/_dq/tenant=contoso/call_date=2026-03-02.json")


def test_a_lake_of_one_tenant_refuses_a_tenants_day_with_the_way_out(tmp_path):
    lake = tmp_path / "lake"
    commit_rows(report_sink(lake, DIRECT_ROUTING, "delta"), DAY, pages_of(call_rows(5, day=DAY)))
    with pytest.raises(LakeSchemaError, match=r"partitioned by \['call_date'\], not by \['tenant', 'call_date'\]"):
        commit(lake, "contoso", 5, "delta")


@pytest.mark.parametrize("table_format", ["parquet", "delta"])
def test_a_lake_of_one_tenant_moves_under_a_tenant_day_by_day(tmp_path, table_format):
    from call_logs.rewrite import move_day_to_tenant

    old_root, new_root = tmp_path / "old", tmp_path / "new"
    old = report_sink(old_root, DIRECT_ROUTING, table_format)
    rows = call_rows(30, day=DAY)
    rows[4] = {**rows[4], "startDateTime": None}  # a quarantined row moves with its day
    before = commit_rows(old, DAY, pages_of(rows))
    new = report_sink(new_root, DIRECT_ROUTING, table_format, tenant="contoso")
    moved = move_day_to_tenant(old, new, DAY, "3f7a2c1e-0000-4000-8000-000000000001")
    assert moved.tenant == {"slug": "contoso", "tenant_id": "3f7a2c1e-0000-4000-8000-000000000001"}
    assert (moved.rows, moved.source, moved.graph) == (before.rows, before.source, before.graph)
    assert new.read_manifest(DAY) == moved and new.read_quarantine(DAY)[0].num_rows == 1
    assert new.read_columns(DAY, ["id"]).equals(old.read_columns(DAY, ["id"]))
    report = check_report_day(new, DAY)
    assert {r.name for r in report.results if r.failed} == {"quarantined_rows"}  # as it was before the move
