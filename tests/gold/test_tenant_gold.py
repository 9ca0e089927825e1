"""Gold in a lake of many tenants: trunk health per tenant, the partition mappers that roll tenant keys up, and the
carrier's SBC view across tenants checked against DuckDB over every tenant's source day."""

from __future__ import annotations

from datetime import date

import duckdb
import pytest
from call_logs.gold.quality import check_gold, source_key
from call_logs.gold.sbc_health import build_sbc_day
from call_logs.gold.store import read_day
from call_logs.gold.table import SBC_HEALTH, TRUNK, TRUNK_HEALTH
from call_logs.gold.trunk_health import build_day
from call_logs.partitions import DueTenantsWindow, TenantDayMapper, TenantMonthMapper, TenantMonthWindow
from call_logs.reports.direct_routing import DIRECT_ROUTING

from tests.rows import call_rows, commit_rows, pages_of
from tests.sinks import gold_table_sink, report_sink

DAY = date(2026, 3, 2)
TRUNKS = ["sbc1.carrier.example", "sbc2.carrier.example", None]


def tenant_rows(tenant: str, count: int, trunks: list) -> list[dict]:
    rows = call_rows(count, day=DAY, prefix=tenant)
    for i, row in enumerate(rows):
        row["trunkFullyQualifiedDomainName"] = trunks[i % len(trunks)]
        row["duration"] = (i * 7) % 300
    return rows


@pytest.fixture
def lake(tmp_path):
    """Three tenants' checked days: contoso and fabrikam share the carrier's SBCs, northwind uses one of them."""
    root = tmp_path / "lake"
    sources = {}
    for tenant, count, trunks in (("contoso", 40, TRUNKS), ("fabrikam", 25, TRUNKS[:2]), ("northwind", 9, TRUNKS[1:2])):
        sources[tenant] = report_sink(root, DIRECT_ROUTING, tenant=tenant)
        commit_rows(sources[tenant], DAY, pages_of(tenant_rows(tenant, count, trunks)))
    return root, sources


def test_the_mappers_roll_a_tenants_days_into_its_month_and_every_due_tenant_into_the_day():
    assert TenantMonthMapper().to_downstream("contoso|2026-02-14") == "contoso|2026-02"
    days = list(TenantMonthWindow().to_upstream("contoso|2026-02"))
    assert days[0] == "contoso|2026-02-01" and days[-1] == "contoso|2026-02-28" and len(days) == 28
    assert TenantDayMapper().to_downstream("fabrikam|2026-03-02") == "2026-03-02"
    window = DueTenantsWindow({"contoso": None, "fabrikam": "2026-03-02", "northwind": "2026-04-01"})
    assert list(window.to_upstream("2026-03-02")) == ["contoso|2026-03-02", "fabrikam|2026-03-02"]
    assert list(window.to_upstream("2026-03-01")) == ["contoso|2026-03-01"]
    assert DueTenantsWindow.deserialize(window.serialize()).tenants == window.tenants
    with pytest.raises(ValueError, match="names no tenant"):
        TenantMonthMapper().to_downstream("2026-02-14")


def test_trunk_health_is_per_tenant(lake):
    root, sources = lake
    for tenant, source in sources.items():
        gold = gold_table_sink(root, TRUNK_HEALTH, tenant=tenant)
        manifest = build_day(source, gold, DAY)
        assert manifest.tenant == tenant and manifest.sources[0].tenant == tenant
        report = check_gold(gold, DAY, {DIRECT_ROUTING.table: source})
        # No previous day in the lake: the concurrency figures are null, and a warning names the tenant's day.
        assert report.status == "warn" and {r.name for r in report.results if r.failed} == {"concurrency_complete"}
        assert (
            f"direct_routing_calls 2026-03-01 (tenant {tenant}): it is not in the lake"
            in next(r for r in report.results if r.name == "concurrency_complete").message
        )
    paths = sorted(p.relative_to(root).parts[:3] for p in root.glob("direct_routing_trunk_health/*/*/part-0.parquet"))
    assert paths == [("direct_routing_trunk_health", f"tenant={t}", f"call_date={DAY}") for t in sorted(sources)]


def test_the_sbc_view_sums_every_tenant_and_counts_them_per_trunk(lake):
    root, sources = lake
    gold = gold_table_sink(root, SBC_HEALTH)
    manifest = build_sbc_day(sources, gold, DAY)
    assert [s.tenant for s in manifest.sources] == ["contoso", "fabrikam", "northwind"]
    rows = read_day(gold, DAY)
    glob = f"{root}/direct_routing_calls/*/*/part-0.parquet"
    expected = duckdb.sql(
        f"""SELECT trunkFullyQualifiedDomainName, count(DISTINCT tenant)::INT, count(*),
                   count(*) FILTER (WHERE successfulCall),
                   quantile_cont(duration, 0.5) FILTER (WHERE successfulCall)
            FROM read_parquet('{glob}', hive_partitioning = true) GROUP BY 1 ORDER BY 1 NULLS LAST"""
    ).fetchall()
    got = [(r[TRUNK], r["tenants"], r["calls"], r["successful_calls"], r["duration_p50_s"]) for r in rows.to_pylist()]
    assert got == [tuple(pytest.approx(v) if isinstance(v, float) else v for v in row) for row in expected]
    sbc2 = next(r for r in rows.to_pylist() if r[TRUNK] == "sbc2.carrier.example")
    assert sbc2["tenants"] == 3

    checked = {source_key(DIRECT_ROUTING.table, t): s for t, s in sources.items()}
    report = check_gold(gold, DAY, checked)
    assert report.status == "warn" and {r.name for r in report.results if r.failed} == {"concurrency_complete"}
    # One tenant's day pulled again with other rows: the view no longer matches it.
    commit_rows(sources["northwind"], DAY, pages_of(tenant_rows("northwind-again", 4, TRUNKS[1:2])))
    failed = {r.name for r in check_gold(gold, DAY, checked).results if r.failed}
    assert failed == {"calls_match_tenant_days", "computed_from_current_tenant_days", "concurrency_complete"}


def test_the_lake_report_speaks_per_tenant(lake, tmp_path, capsys):
    from call_logs.__main__ import main

    root, sources = lake
    for tenant, source in sources.items():
        build_day(source, gold_table_sink(root, TRUNK_HEALTH, tenant=tenant), DAY)
    chart = tmp_path / "report.html"
    assert main(["report", "--lake-root", str(root), "--chart", str(chart)]) == 0
    out = capsys.readouterr().out
    for tenant, count in (("contoso", 40), ("fabrikam", 25), ("northwind", 9)):
        heading = f"direct_routing_calls · tenant {tenant}\n"
        assert heading in out
        assert out.split(heading, 1)[1].splitlines()[1].split()[:2] == [DAY.isoformat(), str(count)]
    page = chart.read_text()
    assert "trunk health: contoso · sbc1.carrier.example" in page and "trunk health: northwind · sbc2" in page
