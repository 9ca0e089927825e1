"""The lake a task reads and writes, resolved from Airflow: the only place the lake's connection is read.

A lake root is an Airflow ``ObjectStoragePath`` URL: ``file:///…`` (or a path), or ``abfs://<conn_id>@<container>/…``
whose userinfo is an Airflow connection (``wasb`` / ``adls``). Here the URL becomes a plain ``LakeRoot``: the
filesystem Airflow's object storage gives for it and, for an ``abfs`` root, the connection's fields, which Delta
tables need (``lake/delta_storage.py`` turns them into delta-rs options). Secrets derived from the connection are
registered with Airflow's log masker. Everything below this module takes the ``LakeRoot``, never Airflow.
"""

from __future__ import annotations

from airflow.sdk import BaseHook, ObjectStoragePath
from airflow.sdk.exceptions import AirflowNotFoundException
from airflow.sdk.log import mask_secret

from call_logs.lake.delta_storage import (
    SECRET_OPTIONS,
    AzureConnection,
    LakeLocationError,
    azure_conn_id,
    azure_storage_options,
)
from call_logs.lake.errors import LakeConfigError
from call_logs.lake.root import LakeRoot


def open_lake(url: str) -> LakeRoot:
    """The lake under ``url``; a URL or connection this pipeline cannot use raises ``LakeConfigError``."""
    conn_id = azure_conn_id(url)
    azure = azure_connection(conn_id) if conn_id else None
    try:
        path = ObjectStoragePath(url)
        fs = path.fs
    except ValueError as error:
        raise LakeConfigError(
            f"The lake root {url!r} cannot be opened ({error}); use file:///<folder> or "
            "abfs://<conn_id>@<container>/<path>."
        ) from None
    return LakeRoot(url, fs, path.path, azure)


def azure_connection(conn_id: str) -> AzureConnection:
    """The fields of the Airflow connection an Azure lake root names, its secrets registered with the masker."""
    try:
        conn = BaseHook.get_connection(conn_id)
    except AirflowNotFoundException:
        raise LakeLocationError(
            f"There is no Airflow connection '{conn_id}' (named in the lake root); create it with the storage "
            "account's connection_string extra, or login = account name and password = account key."
        ) from None
    azure = AzureConnection(login=conn.login, password=conn.password, host=conn.host, extras=conn.extra_dejson)
    _mask_secrets(azure)
    return azure


def _mask_secrets(azure: AzureConnection) -> None:
    """Register the password and every secret delta-rs options would carry (keys, SAS tokens, client secrets)."""
    secrets = [azure.password]
    try:
        options = azure_storage_options(
            login=azure.login, password=azure.password, host=azure.host, extras=azure.extras
        )
    except LakeConfigError:  # no account named: opening a Delta table says so; nothing more to mask
        options = {}
    secrets += [value for key, value in options.items() if key in SECRET_OPTIONS]
    for secret in secrets:
        if secret:
            mask_secret(secret)
