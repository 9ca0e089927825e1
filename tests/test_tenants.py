"""The tenants file: read and checked once, one sentence naming the entry for any mistake, and the DAGs it makes.

A file that cannot be used fails every DAG file's import (never a half-loaded set of DAGs); without a file the
deployment keeps its DAG ids exactly.
"""

from __future__ import annotations

from datetime import date

import pytest
from call_logs.tenants import TenantsFileError, load_tenants

from tests.helpers import ROOT

GOOD = """
tenants:
  - slug: contoso
    tenant_id: 3F7A2C1E-0000-4000-8000-000000000001
    settings:
      settle_hours: 24
      pstn_calls: {retention_days: 365}
  - slug: fabrikam-eu
    tenant_id: 3f7a2c1e-0000-4000-8000-000000000002
    msgraph_conn_id: msgraph_shared
    reports: [direct_routing_calls]
    start_date: 2026-06-01
    time_zone: Europe/Paris
    pseudonymised_columns: [userPrincipalName, callerNumber]
"""
ENTRY = "  - {{slug: {slug}, tenant_id: 3f7a2c1e-0000-4000-8000-00000000000{n}}}\n"


def write(tmp_path, text: str):
    path = tmp_path / "tenants.yaml"
    path.write_text(text)
    return path


def test_a_file_reads_with_its_defaults_and_overrides(tmp_path):
    tenants = load_tenants(write(tmp_path, GOOD))
    assert tenants is not None and [t.slug for t in tenants] == ["contoso", "fabrikam-eu"]
    contoso, fabrikam = tenants
    assert contoso.tenant_id == "3f7a2c1e-0000-4000-8000-000000000001"  # a GUID, however it was written
    assert contoso.msgraph_conn_id == "msgraph_contoso" and contoso.reports == ("direct_routing_calls", "pstn_calls")
    assert contoso.setting("pstn_calls", "settle_hours") == "24" and contoso.setting("pstn_calls", "retention_days")
    assert contoso.setting("direct_routing_calls", "retention_days") is None
    assert fabrikam.msgraph_conn_id == "msgraph_shared" and fabrikam.start_date == date(2026, 6, 1)
    assert fabrikam.pseudonymised_columns == "userPrincipalName,callerNumber"
    assert [t.slug for t in tenants.pulling("pstn_calls")] == ["contoso"]


def test_no_file_means_one_tenant(tmp_path):
    assert load_tenants(tmp_path / "tenants.yaml") is None


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("tenants: [", ["is not valid YAML"]),
        ("- slug: a\n", ["must hold one key, tenants"]),
        (ENTRY.format(slug="Contoso", n=1), ["tenant 1 ('Contoso')", "upper case"]),
        (ENTRY.format(slug="'a/b'", n=1), ["tenant 1 ('a/b')", "no '/', '=', '|', '.'"]),
        (ENTRY.format(slug="'a=b'", n=1), ["tenant 1 ('a=b')"]),
        (ENTRY.format(slug="'a|b'", n=1), ["tenant 1 ('a|b')"]),
        (ENTRY.format(slug="'..'", n=1), ["tenant 1 ('..')"]),
        (ENTRY.format(slug="a", n=1) + ENTRY.format(slug="a", n=2), ["tenants 'a' and 'a' share the slug a"]),
        (ENTRY.format(slug="a", n=1) + ENTRY.format(slug="b", n=1), ["'a' and 'b' share the tenant_id"]),
        ("  - {slug: a, tenant_id: contoso}\n", ["tenant 1 ('a')", "is not an Entra directory id"]),
        (
            "  - {slug: a, tenant_id: 3f7a2c1e-0000-4000-8000-000000000001, colour: red}\n",
            ["tenant 1 ('a') has unknown keys ['colour']"],
        ),
        (
            "  - {slug: a, tenant_id: 3f7a2c1e-0000-4000-8000-000000000001, reports: [sms_logs]}\n",
            ["there is no report 'sms_logs'"],
        ),
        (
            "  - {slug: a, tenant_id: 3f7a2c1e-0000-4000-8000-000000000001, settings: {lake_root: x}}\n",
            ["'lake_root' is not a setting a tenant may override"],
        ),
        (
            "  - {slug: a, tenant_id: 3f7a2c1e-0000-4000-8000-000000000001, settings: {graph_concurrency: 0}}\n",
            ["graph_concurrency is 0; use a int of at least 1"],
        ),
        (
            "  - {slug: a, tenant_id: 3f7a2c1e-0000-4000-8000-000000000001, time_zone: Mars/Olympus}\n",
            ["is not an IANA time zone"],
        ),
    ],
    ids=lambda value: None,
)
def test_a_mistake_is_one_sentence_naming_the_entry(tmp_path, text, words):
    body = text if text.startswith(("tenants", "- ")) else "tenants:\n" + text
    with pytest.raises(TenantsFileError) as caught:
        load_tenants(write(tmp_path, body))
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "tenants.yaml"))
    for word in words:
        assert word in message, message
    assert message.endswith(".") and ". " not in message.replace(str(tmp_path), ""), message


def dag_bag(monkeypatch, tenants_file):
    from airflow.dag_processing.dagbag import DagBag

    if tenants_file is None:
        monkeypatch.delenv("CALL_LOGS_TENANTS_FILE", raising=False)
    else:
        monkeypatch.setenv("CALL_LOGS_TENANTS_FILE", str(tenants_file))
    return DagBag(dag_folder=str(ROOT / "dags"))


def test_without_a_file_the_dag_ids_are_todays(monkeypatch):
    bag = dag_bag(monkeypatch, None)
    assert not bag.import_errors
    assert sorted(bag.dag_ids) == [
        "call_logs_maintenance",
        "direct_routing_calls",
        "direct_routing_trunk_health",
        "direct_routing_trunk_health_hourly",
        "direct_routing_trunk_health_monthly",
        "pstn_calls",
        "pstn_minute_pools_monthly",
        "pstn_usage_monthly",
    ]
    assert bag.dags["direct_routing_calls"].get_task("extract").pool == "msgraph_callrecords"


def test_a_file_makes_a_dag_per_tenant_and_report(monkeypatch, tmp_path):
    bag = dag_bag(monkeypatch, write(tmp_path, GOOD))
    assert not bag.import_errors
    assert sorted(bag.dag_ids) == [
        "call_logs_maintenance",
        "direct_routing_calls__contoso",
        "direct_routing_calls__fabrikam-eu",
        "direct_routing_sbc_health",
        "direct_routing_trunk_health",
        "direct_routing_trunk_health_hourly",
        "direct_routing_trunk_health_monthly",
        "pstn_calls__contoso",
        "pstn_minute_pools_monthly",
        "pstn_usage_monthly",
    ]
    pstn = bag.dags["pstn_calls__contoso"]
    extract = pstn.get_task("extract")
    assert (extract.tenant, extract.tenant_id, extract.msgraph_conn_id) == (
        "contoso",
        "3f7a2c1e-0000-4000-8000-000000000001",
        "msgraph_contoso",
    )
    # Tenants pull side by side: not the report's one-slot pool, but one pull at a time per tenant and report.
    assert extract.pool == "default_pool" and extract.max_active_tis_per_dag == 1
    assert extract.retention_days == "365" and "'24'" in pstn.get_task("wait_for_settled_data").target_time
    assert "tenant:contoso" in pstn.tags
    fabrikam = bag.dags["direct_routing_calls__fabrikam-eu"]
    assert fabrikam.start_date.date() == date(2026, 6, 1)
    assert fabrikam.get_task("extract").pseudonymised_columns == "userPrincipalName,callerNumber"
    assert fabrikam.get_task("extract").time_zone == "Europe/Paris"  # shapes its first run's slices
    assert bag.dags["direct_routing_calls__contoso"].get_task("extract").time_zone is None
    assert "{{" in bag.dags["direct_routing_calls__contoso"].get_task("extract").retention_days  # the Variable's


def test_a_task_parse_builds_only_its_own_dag(monkeypatch, tmp_path):
    monkeypatch.setenv("_AIRFLOW_PARSING_CONTEXT_DAG_ID", "direct_routing_calls__contoso")
    bag = dag_bag(monkeypatch, write(tmp_path, GOOD))
    assert "direct_routing_calls__contoso" in bag.dag_ids and "direct_routing_calls__fabrikam-eu" not in bag.dag_ids


def test_a_bad_file_fails_every_dag_import_with_its_sentence(monkeypatch, tmp_path):
    bag = dag_bag(monkeypatch, write(tmp_path, "tenants:\n" + ENTRY.format(slug="Contoso", n=1)))
    files = {path.rsplit("/", 1)[-1] for path in bag.import_errors}
    assert files == {
        "direct_routing_calls.py",
        "pstn_calls.py",
        "direct_routing_trunk_health.py",
        "direct_routing_trunk_health_hourly.py",
        "direct_routing_trunk_health_monthly.py",
        "direct_routing_sbc_health.py",
        "pstn_usage_monthly.py",
        "pstn_minute_pools_monthly.py",
    }
    assert all("tenant 1 ('Contoso')" in error for error in bag.import_errors.values())
    assert not any("__" in dag_id for dag_id in bag.dag_ids)  # never a half-loaded set
