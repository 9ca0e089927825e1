"""The msgraph connection → cloud, scope, window URL; no network needed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from call_logs.graph.clouds import GLOBAL, US_GOV_L4, US_GOV_L5, resolve_cloud
from call_logs.graph.errors import GraphConfigError, UnsupportedCloudError
from call_logs.graph.settings import GraphSettings
from call_logs.graph.window import Window
from call_logs.reports.direct_routing import DIRECT_ROUTING

UTC = UTC


@pytest.mark.parametrize(
    ("host", "authority", "root", "login", "scope"),
    [
        (
            None,
            None,
            "https://graph.microsoft.com",
            "https://login.microsoftonline.com",
            "https://graph.microsoft.com/.default",
        ),
        ("graph.microsoft.com", None, "https://graph.microsoft.com", "https://login.microsoftonline.com", None),
        (
            "https://graph.microsoft.us",
            None,
            "https://graph.microsoft.us",
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us/.default",
        ),
        (
            "dod-graph.microsoft.us",
            None,
            "https://dod-graph.microsoft.us",
            "https://login.microsoftonline.us",
            "https://dod-graph.microsoft.us/.default",
        ),
        (
            None,
            "https://login.microsoftonline.us",
            "https://graph.microsoft.us",
            "https://login.microsoftonline.us",
            None,
        ),
        (None, "login.microsoftonline.com", "https://graph.microsoft.com", "https://login.microsoftonline.com", None),
        (
            "https://127.0.0.1:8443",
            "https://127.0.0.1:8443",
            "https://127.0.0.1:8443",
            "https://127.0.0.1:8443",
            "https://127.0.0.1:8443/.default",
        ),
    ],
)
def test_cloud_table(host, authority, root, login, scope):
    cloud = resolve_cloud(host, authority)
    assert (cloud.graph_root, cloud.authority) == (root, login)
    if scope:
        assert cloud.scope == scope


def test_supported_clouds_are_the_three_with_the_api():
    assert {c.graph_root for c in (GLOBAL, US_GOV_L4, US_GOV_L5)} == {
        "https://graph.microsoft.com",
        "https://graph.microsoft.us",
        "https://dod-graph.microsoft.us",
    }


@pytest.mark.parametrize(
    ("host", "authority"),
    [
        ("microsoftgraph.chinacloudapi.cn", None),
        ("https://microsoftgraph.chinacloudapi.cn/v1.0", None),
        (None, "https://login.chinacloudapi.cn"),
        ("graph.microsoft.com", "https://login.chinacloudapi.cn"),
    ],
)
def test_china_is_refused_with_one_sentence(host, authority):
    with pytest.raises(UnsupportedCloudError) as caught:
        resolve_cloud(host, authority)
    message = str(caught.value)
    assert "China (21Vianet)" in message and "call-log report" in message
    assert message.count(". ") == 0 and message.endswith(".")


def test_china_refused_before_any_request_from_a_connection():
    with pytest.raises(UnsupportedCloudError):
        GraphSettings.from_connection(
            login="app", password="secret", host="microsoftgraph.chinacloudapi.cn", extras={"tenant_id": "t"}
        )


def test_connection_extras_are_read_like_the_provider_does():
    settings = GraphSettings.from_connection(
        login="app-id",
        password="s3cret-value",
        extras={
            "tenantId": "tenant",
            "base_url": "https://graph.microsoft.us/beta/",
            "verify": "false",
            "proxies": '{"https": "http://proxy:3128"}',
            "allowed_hosts": "a.example, b.example",
            "requests_per_minute": "30",
        },
    )
    assert settings.cloud.graph_root == "https://graph.microsoft.us"
    assert settings.api_version == "beta"
    assert settings.verify is False
    assert settings.proxies == {"https": "http://proxy:3128"}
    assert settings.allowed_hosts == ("a.example", "b.example")
    assert settings.requests_per_minute == 30
    assert settings.credentials.tenant_id == "tenant"
    assert "s3cret-value" not in repr(settings)


def test_verify_may_be_a_ca_bundle_path(tmp_path):
    import trustme

    bundle = str(tmp_path / "ca.pem")
    trustme.CA().cert_pem.write_to_path(bundle)
    settings = GraphSettings.from_connection(login="a", password="b", extras={"tenant_id": "t", "verify": bundle})
    assert settings.verify == bundle


@pytest.mark.parametrize(
    ("login", "password", "extras", "missing"),
    [
        ("", "secret", {"tenant_id": "t"}, "client_id"),
        ("app", "", {"tenant_id": "t"}, "client secret"),
        ("app", "secret", {}, "tenant_id"),
    ],
)
def test_incomplete_connection_says_what_is_missing(login, password, extras, missing):
    with pytest.raises(GraphConfigError, match=missing):
        GraphSettings.from_connection(login=login, password=password, extras=extras)


def test_unknown_api_version_is_refused():
    with pytest.raises(GraphConfigError, match="v1.0"):
        GraphSettings.from_connection(login="a", password="b", extras={"tenant_id": "t", "api_version": "v2"})


def test_window_url_is_absolute_with_unquoted_utc_values():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    url = Window(start, start + timedelta(days=1)).url(
        "https://graph.microsoft.com", "v1.0", DIRECT_ROUTING.function_path
    )
    assert url == (
        "https://graph.microsoft.com/v1.0/communications/callRecords/getDirectRoutingCalls"
        "(fromDateTime=2024-01-01T00:00:00Z,toDateTime=2024-01-02T00:00:00Z)"
    )


def test_window_url_converts_other_offsets_to_utc():
    tz = timezone(timedelta(hours=2))
    url = Window(datetime(2024, 1, 1, 2, tzinfo=tz), datetime(2024, 1, 1, 3, 0, 0, 500000, tzinfo=tz)).url(
        "https://g", "beta", DIRECT_ROUTING.function_path
    )
    assert url.endswith("(fromDateTime=2024-01-01T00:00:00Z,toDateTime=2024-01-01T01:00:00.500000Z)")


def test_the_wire_url_keeps_its_commas_and_parentheses():
    import requests

    start = datetime(2024, 1, 1, tzinfo=UTC)
    url = Window(start, start + timedelta(days=1)).url(
        "https://graph.microsoft.com", "v1.0", DIRECT_ROUTING.function_path
    )
    assert requests.Request("GET", url).prepare().url == url


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (datetime(2024, 1, 1), datetime(2024, 1, 2, tzinfo=UTC), "timezone-aware"),
        (datetime(2024, 1, 2, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), "before its end"),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC), "before its end"),
        (datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC), "90-day"),
    ],
)
def test_bad_windows_are_refused(start, end, message):
    with pytest.raises(GraphConfigError, match=message):
        Window(start, end)


def test_split_covers_the_window_exactly():
    start = datetime(2024, 1, 1, tzinfo=UTC)
    pieces = Window(start, start + timedelta(hours=25)).split(timedelta(hours=6))
    assert [p.start for p in pieces][0] == start and pieces[-1].end == start + timedelta(hours=25)
    assert all(a.end == b.start for a, b in zip(pieces, pieces[1:], strict=False))
    assert len(pieces) == 5


TENANT = ("contoso", "3f7a2c1e-0000-4000-8000-000000000001")


def test_a_connection_without_a_tenant_takes_the_tenants_files():
    settings = GraphSettings.from_connection(login="app", password="secret", extras={}, tenant=TENANT)
    assert settings.credentials.tenant_id == TENANT[1]
    assert ("tenant_id", TENANT[1], "the tenants file (tenant contoso)") in settings.describe()


def test_a_connection_for_another_tenant_is_refused_before_any_request():
    extras = {"tenant_id": "3f7a2c1e-0000-4000-8000-0000000000ff"}
    with pytest.raises(GraphConfigError) as caught:
        GraphSettings.from_connection(
            login="app", password="s", extras=extras, conn_id="msgraph_contoso", tenant=TENANT
        )
    message = str(caught.value)
    assert message.startswith("The msgraph connection 'msgraph_contoso' is for the Entra tenant 3f7a2c1e-")
    assert "the tenants file says tenant 'contoso' is 3f7a2c1e-0000-4000-8000-000000000001" in message
    same = GraphSettings.from_connection(
        login="app", password="s", extras={"tenant_id": TENANT[1].upper()}, tenant=TENANT
    )
    assert same.credentials.tenant_id == TENANT[1].upper()
