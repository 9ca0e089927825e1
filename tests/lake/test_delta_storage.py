"""Lake roots → delta-rs URIs and storage options; secrets stay out of reprs and messages; Azurite for real."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote

import pyarrow as pa
import pytest
from call_logs.hooks.lake import open_lake
from call_logs.lake.delta_storage import (
    AzureConnection,
    DeltaLocation,
    LakeLocationError,
    azure_storage_options,
    delta_location,
    redact,
    secrets_redacted,
)

from tests.helpers import AZURITE_ACCOUNT, AZURITE_KEY

KEY = "c2VjcmV0LWtleS1ub3QtcmVhbA=="  # shaped like an account key; not a real one
SAS = "sv=2024-11-04&ss=b&srt=co&sp=rwdlac&se=2030-01-01T00%3A00%3A00Z&sig=Zm9vYmFyYmF6c2lnbmF0dXJl%2B%3D"
SECRET = "client-secret-value-1234"


def options_of(**connection) -> dict[str, str]:
    connection.setdefault("login", None)
    connection.setdefault("password", None)
    connection.setdefault("host", None)
    connection.setdefault("extras", {})
    return azure_storage_options(**connection)


def test_a_local_root_is_a_plain_path_without_options(tmp_path):
    for root in (tmp_path.as_uri(), str(tmp_path)):
        location = delta_location(root, "calls")
        assert location == DeltaLocation(uri=str(tmp_path / "calls"), storage_options={})


def test_an_azurite_connection_string_becomes_an_explicit_http_endpoint():
    connection_string = (
        f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
        f"BlobEndpoint=http://127.0.0.1:10123/{AZURITE_ACCOUNT};"
    )
    location = delta_location(
        "abfs://azure_lake@lake-box/bronze/teams",
        "calls",
        AzureConnection(extras={"connection_string": connection_string}),
    )
    assert location.uri == "abfss://lake-box@devstoreaccount1.dfs.core.windows.net/bronze/teams/calls"
    assert location.storage_options == {
        "account_name": AZURITE_ACCOUNT,
        "account_key": AZURITE_KEY,
        "endpoint": f"http://127.0.0.1:10123/{AZURITE_ACCOUNT}",
        "allow_http": "true",
    }


def test_development_storage_uses_delta_rs_emulator_defaults():
    options = options_of(extras={"connection_string": "UseDevelopmentStorage=true"})
    assert options == {"use_emulator": "true", "account_name": "devstoreaccount1"}


def test_a_national_cloud_connection_string_with_a_sas_token():
    connection_string = (
        f"DefaultEndpointsProtocol=https;AccountName=callsacct;SharedAccessSignature={SAS};"
        "EndpointSuffix=core.chinacloudapi.cn"
    )
    assert options_of(extras={"connection_string": connection_string}) == {
        "account_name": "callsacct",
        "endpoint": "https://callsacct.blob.core.chinacloudapi.cn",
        "sas_token": SAS,
    }


def test_login_and_password_are_the_account_and_its_key():
    assert options_of(login="callsacct", password=KEY) == {"account_name": "callsacct", "account_key": KEY}
    # The provider's legacy prefixed extra names work too, and the account URL in the host names the account.
    assert options_of(
        password=KEY, host="https://callsacct.blob.core.windows.net/", extras={"extra__wasb__sas_token": SAS}
    ) == {"account_name": "callsacct", "account_key": KEY, "sas_token": SAS}


def test_a_tenant_id_makes_login_and_password_a_service_principal():
    options = options_of(
        login="app-client-id",
        password=SECRET,
        host="https://callsacct.blob.core.windows.net",
        extras={"tenant_id": "tenant-guid"},
    )
    assert options == {
        "account_name": "callsacct",
        "tenant_id": "tenant-guid",
        "client_id": "app-client-id",
        "client_secret": SECRET,
    }


def test_sas_managed_identity_private_endpoint_and_anonymous_extras():
    assert options_of(extras={"account_name": "callsacct", "sas_token": f"?{SAS}"}) == {
        "account_name": "callsacct",
        "sas_token": SAS,
    }
    assert options_of(extras={"account_name": "callsacct", "managed_identity_client_id": "mi-client"}) == {
        "account_name": "callsacct",
        "client_id": "mi-client",
    }
    assert options_of(login="callsacct", extras={"account_host": "callsacct.privatelink.blob.core.windows.net"}) == {
        "account_name": "callsacct",
        "endpoint": "https://callsacct.privatelink.blob.core.windows.net",
    }
    assert options_of(login="callsacct", extras={"anon": True}) == {
        "account_name": "callsacct",
        "skip_signature": "true",
    }


@pytest.mark.parametrize(
    ("root", "connection", "expected"),
    [
        ("s3://bucket/lake", None, "not supported"),
        ("abfs://lake-box/path", None, "abfs://<conn_id>@<container>/<path>"),
        ("abfs://lake-box@callsacct.dfs.core.windows.net/path", None, "adlfs form"),
        ("abfs://azure_lake@lake-box/path", None, "connection 'azure_lake'"),
        ("abfs://azure_lake@lake-box/path", AzureConnection(password=KEY), "names no storage account"),
        (
            "abfs://azure_lake@lake-box/path",
            AzureConnection(extras={"connection_string": f"AccountName=callsacct;{SECRET}"}),
            "part without '='",
        ),
    ],
)
def test_a_root_or_connection_that_cannot_work_says_what_to_fix_without_secrets(root, connection, expected):
    with pytest.raises(LakeLocationError, match=expected) as caught:
        delta_location(root, "calls", connection)
    assert KEY not in str(caught.value) and SECRET not in str(caught.value)


def test_reprs_name_no_secret():
    connection = AzureConnection(login="app", password=SECRET, extras={"connection_string": f"AccountKey={KEY}"})
    location = delta_location("abfs://c@lake-box/x", "calls", AzureConnection(login="acct", password=KEY))
    for text in (repr(connection), repr(location), str(location)):
        assert SECRET not in text and KEY not in text
    assert "account_key" in repr(location)


def test_redact_scrubs_keys_sas_tokens_and_signatures_in_any_encoding():
    options = {"account_key": KEY, "sas_token": SAS, "account_name": "callsacct"}
    text = f"GET https://callsacct.blob.core.windows.net/c/x?{SAS} failed; key {KEY}, encoded {quote(KEY, safe='')}"
    clean = redact(text, options)
    for secret in (KEY, quote(KEY, safe=""), SAS, "Zm9vYmFy"):
        assert secret not in clean
    assert "callsacct" in clean
    assert redact("...&sig=abc%2Bdef&se=...", None) == "...&sig=***&se=..."


def test_secrets_redacted_reraises_the_same_type_and_leaves_clean_errors_alone():
    options = {"client_secret": SECRET}
    with pytest.raises(OSError, match=r"token request with \*\*\* refused") as caught, secrets_redacted(options):
        raise OSError(f"token request with {SECRET} refused")
    assert SECRET not in str(caught.value) and caught.value.__suppress_context__
    original = KeyError("no secret here")
    with pytest.raises(KeyError) as caught, secrets_redacted(options):
        raise original
    assert caught.value is original


def small_table() -> pa.Table:
    return pa.table({"id": ["a", "b"], "call_date": pa.array([date(2026, 3, 1)] * 2)})


def test_the_lake_hook_reads_the_airflow_connection_named_in_the_root_and_reaches_azurite(
    azurite, blob_container, monkeypatch
):
    from deltalake import DeltaTable, write_deltalake

    _, container = blob_container
    monkeypatch.setenv(
        "AIRFLOW_CONN_AZURE_DELTA", json.dumps({"conn_type": "wasb", "extra": {"connection_string": azurite}})
    )
    location = open_lake(f"abfs://azure_delta@{container}/lake").delta_location("calls")
    assert location.uri == f"abfss://{container}@{AZURITE_ACCOUNT}.dfs.core.windows.net/lake/calls"
    write_deltalake(location.uri, small_table(), partition_by=["call_date"], storage_options=location.storage_options)
    assert DeltaTable(location.uri, storage_options=location.storage_options).to_pyarrow_table().num_rows == 2


def test_the_lake_hook_says_in_one_sentence_that_the_named_connection_is_missing(monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_LAKE", raising=False)
    with pytest.raises(LakeLocationError, match="There is no Airflow connection 'no_such_lake'"):
        open_lake("abfs://no_such_lake@lake-box/lake")


def test_a_container_sas_token_alone_is_enough_on_azurite(azurite, blob_container):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas
    from deltalake import DeltaTable, write_deltalake

    _, container = blob_container
    sas = generate_container_sas(
        AZURITE_ACCOUNT,
        container,
        account_key=AZURITE_KEY,
        permission=ContainerSasPermissions(read=True, add=True, create=True, write=True, delete=True, list=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    endpoint = azurite.split("BlobEndpoint=")[1].rstrip(";")
    location = delta_location(
        f"abfs://sas_lake@{container}/lake", "calls", AzureConnection(host=endpoint, extras={"sas_token": sas})
    )
    assert "account_key" not in location.storage_options
    write_deltalake(location.uri, small_table(), partition_by=["call_date"], storage_options=location.storage_options)
    assert DeltaTable(location.uri, storage_options=location.storage_options).version() == 0


def test_a_wrong_key_fails_without_putting_the_key_in_the_message(azurite, blob_container):
    from call_logs.lake.delta_table import table_version

    _, container = blob_container
    wrong_key = "AAAA" + AZURITE_KEY[4:]
    location = delta_location(
        f"abfs://azure_lake@{container}/lake",
        f"calls_{uuid.uuid4().hex[:6]}",
        AzureConnection(extras={"connection_string": azurite.replace(AZURITE_KEY, wrong_key)}),
    )
    with pytest.raises(Exception) as caught:  # noqa: B017 - delta-rs reports auth failures as OSError or DeltaError
        table_version(location.uri, location.storage_options)
    assert "403" in str(caught.value) and wrong_key not in str(caught.value)
