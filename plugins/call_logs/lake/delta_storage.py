"""Where a Delta table lives for delta-rs: a table URI plus the storage options its object store needs.

The lake root is an Airflow ``ObjectStoragePath`` URL, as everywhere in this project:

- ``file:///<folder>`` (or a plain path): a local folder; delta-rs takes the path, no options.
- ``abfs[s]://<conn_id>@<container>/<path>``: the azure provider's form, whose userinfo is an Airflow
  connection id. delta-rs wants ``abfss://<container>@<account>.dfs.core.windows.net/<path>`` and
  credentials as options, so the account and credentials come from the connection, read exactly as the
  provider's ``abfs`` filesystem reads it (``airflow/providers/microsoft/azure/fs/adls.py``): a
  ``connection_string`` extra overrides everything; with a ``tenant_id`` extra, login and password are a
  service principal's client id and secret; otherwise the password is the account key; extras
  ``account_name``, ``account_key``, ``sas_token``, ``account_host``, ``managed_identity_client_id``,
  ``workload_identity_client_id`` / ``workload_identity_tenant_id`` and ``anon`` refine that.

A blob endpoint that is not ``https://<account>.blob.core.windows.net`` (Azurite on loopback, a private
endpoint, a national cloud) becomes an explicit ``endpoint`` option; Azurite's path-style endpoint
(``http://127.0.0.1:<port>/<account>``) works that way on any port, without delta-rs's ``use_emulator``,
which only knows port 10000 or a process-wide environment variable. ``UseDevelopmentStorage=true`` maps
to ``use_emulator``.

Plain Python: the connection's fields arrive as an ``AzureConnection`` (read from Airflow by
``call_logs/hooks/lake.py``, which also registers the derived secrets with Airflow's log masker). Nothing here
logs, and no message carries a connection string, key, token or secret: ``DeltaLocation``'s repr names option
keys only, and ``secrets_redacted`` scrubs them from errors raised by delta-rs calls.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlsplit

from call_logs.lake.errors import LakeConfigError

SECRET_OPTIONS = frozenset({"account_key", "sas_token", "client_secret", "bearer_token"})
_AZURE_SCHEMES = ("abfs", "abfss")
_DEFAULT_BLOB_SUFFIX = "core.windows.net"
_REDACTED = "***"


class LakeLocationError(LakeConfigError):
    """The lake root or its connection cannot name a Delta table (the message says which setting to fix)."""


@dataclass(frozen=True)
class AzureConnection:
    """The fields of an Airflow connection that locate and authorise Azure storage."""

    login: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    extras: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class DeltaLocation:
    """A table URI and storage options, ready for ``deltalake`` (``DeltaTable(uri, storage_options=...)``)."""

    uri: str
    storage_options: dict[str, str] = field(default_factory=dict)

    def __repr__(self) -> str:
        return f"DeltaLocation(uri={self.uri!r}, storage_options=<{', '.join(sorted(self.storage_options))}>)"


def delta_location(lake_root: str, table: str, connection: AzureConnection | None = None) -> DeltaLocation:
    """The Delta location of ``table`` under ``lake_root``; ``connection`` is required for ``abfs`` roots."""
    if not re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.-]*", table):
        raise LakeLocationError(f"Table name {table!r} is not a plain folder name.")
    parts = urlsplit(lake_root)
    if parts.scheme in ("", "file"):
        folder = unquote(parts.path) if parts.scheme else lake_root
        return DeltaLocation(uri=str(Path(folder).resolve() / table))
    if parts.scheme not in _AZURE_SCHEMES:
        raise LakeLocationError(
            f"Lake root scheme '{parts.scheme}://' is not supported for Delta tables; use file:// or "
            "abfs://<conn_id>@<container>/<path>."
        )
    conn_id, container = _conn_id_and_container(parts.netloc)
    if connection is None:
        raise LakeLocationError(
            f"A Delta table under the Azure lake root {lake_root} needs the fields of the Airflow connection "
            f"'{conn_id}': open the lake through call_logs.hooks.lake (tasks do), or pass the connection."
        )
    options = azure_storage_options(
        login=connection.login, password=connection.password, host=connection.host, extras=connection.extras
    )
    path = "/".join(segment for segment in [*parts.path.split("/"), table] if segment)
    account = options["account_name"]
    return DeltaLocation(uri=f"abfss://{container}@{account}.dfs.core.windows.net/{path}", storage_options=options)


def azure_conn_id(lake_root: str) -> str | None:
    """The Airflow connection id an ``abfs[s]://<conn_id>@<container>/…`` lake root names; None for other roots."""
    parts = urlsplit(lake_root)
    if parts.scheme not in _AZURE_SCHEMES:
        return None
    return _conn_id_and_container(parts.netloc)[0]


def azure_storage_options(
    *, login: str | None, password: str | None, host: str | None, extras: Mapping[str, Any] | None
) -> dict[str, str]:
    """delta-rs (object_store) Azure options from an Airflow connection's fields; always names the account."""
    extras = extras or {}
    connection_string = _extra(extras, "connection_string")
    if connection_string:
        options = _options_from_connection_string(connection_string)
    else:
        options = {}
        tenant_id = _extra(extras, "tenant_id")
        account, endpoint = _account_and_endpoint(host)
        account = _extra(extras, "account_name") or account or (None if tenant_id else login)
        if account:
            options["account_name"] = account
        account_host = _extra(extras, "account_host")
        if account_host:
            endpoint = f"https://{account_host.strip('/')}"
        if endpoint:
            options["endpoint"] = endpoint
        if tenant_id:
            options.update(tenant_id=tenant_id, **({"client_id": login} if login else {}))
            if password:
                options["client_secret"] = password
        elif password:
            options["account_key"] = password
        for extra_name, option in (("account_key", "account_key"), ("sas_token", "sas_token")):
            value = _extra(extras, extra_name)
            if value:
                options[option] = value
        managed_identity = _extra(extras, "managed_identity_client_id")
        if managed_identity and "client_secret" not in options:
            options["client_id"] = managed_identity
        workload_client, workload_tenant = (
            _extra(extras, "workload_identity_client_id"),
            _extra(extras, "workload_identity_tenant_id"),
        )
        if workload_client and workload_tenant and "client_secret" not in options:
            options.update(client_id=workload_client, tenant_id=workload_tenant)
        if str(_extra(extras, "anon") or "").lower() in ("true", "1"):
            options["skip_signature"] = "true"
    if not options.get("account_name") and options.get("use_emulator") != "true":
        raise LakeLocationError(
            "The Azure connection names no storage account: set its connection_string extra, its login (account "
            "name), its host (https://<account>.blob.core.windows.net) or its account_name extra."
        )
    if options.get("endpoint", "").startswith("http://"):
        options["allow_http"] = "true"
    if options.get("sas_token"):
        options["sas_token"] = options["sas_token"].lstrip("?")
    return options


def redact(text: str, storage_options: Mapping[str, str] | None) -> str:
    """``text`` with every secret option value (raw or URL-encoded) and any SAS signature (``sig=``) replaced."""
    for key, value in (storage_options or {}).items():
        if key in SECRET_OPTIONS and value:
            for form in {value, value.lstrip("?"), quote(value, safe=""), unquote(value)}:
                if len(form) >= 4:
                    text = text.replace(form, _REDACTED)
    return re.sub(r"(?i)\bsig=[^&\s\"']+", f"sig={_REDACTED}", text)


@contextmanager
def secrets_redacted(storage_options: Mapping[str, str] | None) -> Iterator[None]:
    """Re-raise an error whose message holds a secret option value as the same type with it redacted."""
    try:
        yield
    except Exception as error:
        message = str(error)
        clean = redact(message, storage_options)
        if clean == message:
            raise
        try:
            replacement = type(error)(clean)
        except Exception:
            replacement = RuntimeError(clean)
        raise replacement from None


def _conn_id_and_container(netloc: str) -> tuple[str, str]:
    conn_id, at, container = netloc.rpartition("@")
    if not at or not conn_id or not container or "." in container or ":" in container:
        raise LakeLocationError(
            "An Azure lake root must read abfs://<conn_id>@<container>/<path> (the Airflow connection id, then "
            "the container); the adlfs form <container>@<account>.dfs.core.windows.net is not supported here."
        )
    return unquote(conn_id), container


def _extra(extras: Mapping[str, Any], name: str) -> Any:
    """An extra by its name or by the provider's legacy ``extra__<conn_type>__<name>`` key; '' counts as unset."""
    value = extras.get(name)
    if value in (None, ""):
        value = next((v for k, v in extras.items() if k.startswith("extra__") and k.endswith(f"__{name}")), None)
    return None if value == "" else value


def _account_and_endpoint(url: str | None) -> tuple[str | None, str | None]:
    """(account, explicit endpoint or None) of a blob account URL.

    ``http://127.0.0.1:10000/devstoreaccount1`` is path-style (Azurite): the account is the first path
    segment and stays in the endpoint. ``https://<account>.blob.core.windows.net`` needs no endpoint.
    """
    if not url:
        return None, None
    parts = urlsplit(url if "://" in url else f"https://{url}")
    hostname = parts.hostname or ""
    base = f"{parts.scheme}://{parts.netloc}"
    path_account = next((segment for segment in parts.path.split("/") if segment), None)
    if path_account:
        return path_account, f"{base}/{path_account}"
    if hostname == "localhost" or _is_ip(hostname):
        return None, base
    if "." not in hostname:
        return None, None  # a bare word: the provider ignores it too
    account, _, suffix = hostname.partition(".")
    standard = parts.scheme == "https" and suffix in (f"blob.{_DEFAULT_BLOB_SUFFIX}", f"dfs.{_DEFAULT_BLOB_SUFFIX}")
    return account, None if standard else base


def _is_ip(hostname: str) -> bool:
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def _options_from_connection_string(connection_string: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in connection_string.split(";"):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        if not sep:
            raise LakeLocationError("The Azure connection_string has a part without '='; copy it again from Azure.")
        fields[key.strip().lower()] = value.strip()
    if fields.get("usedevelopmentstorage", "").lower() == "true":
        return {"use_emulator": "true", "account_name": "devstoreaccount1"}
    options: dict[str, str] = {}
    account = fields.get("accountname")
    endpoint = fields.get("blobendpoint")
    if endpoint:
        endpoint_account, explicit = _account_and_endpoint(endpoint)
        account = account or endpoint_account
        if explicit:
            options["endpoint"] = explicit
    elif account and fields.get("endpointsuffix", _DEFAULT_BLOB_SUFFIX) != _DEFAULT_BLOB_SUFFIX:
        protocol = fields.get("defaultendpointsprotocol", "https")
        options["endpoint"] = f"{protocol}://{account}.blob.{fields['endpointsuffix']}"
    if account:
        options["account_name"] = account
    if fields.get("accountkey"):
        options["account_key"] = fields["accountkey"]
    if fields.get("sharedaccesssignature"):
        options["sas_token"] = fields["sharedaccesssignature"]
    return options
