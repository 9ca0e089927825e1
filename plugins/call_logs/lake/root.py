"""A lake root as plain values: where the tables live, how to reach them, and, on Azure, the connection's fields.

Tasks open it through ``call_logs/hooks/lake.py`` (which reads the Airflow connection an ``abfs://<conn_id>@…``
root names); the command line and tests build one directly. Sinks take it to place a table (a Parquet folder under
``path`` in ``fs``, or a Delta table at ``delta_location(table)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from call_logs.lake.delta_storage import AzureConnection, DeltaLocation, delta_location


@dataclass(frozen=True)
class LakeRoot:
    """The lake under ``url``: its fsspec filesystem and root path, and the Azure connection of an ``abfs`` root.

    :param url: the lake root as the user wrote it (an ObjectStoragePath URL, or a local path).
    :param fs: the filesystem Parquet partitions, manifests and quality reports are written to.
    :param path: the root's path in ``fs`` (no trailing slash).
    :param azure: the fields of the connection an ``abfs://<conn_id>@<container>/…`` root names (Delta tables need
        its account and credentials); None elsewhere.
    """

    url: str
    fs: AbstractFileSystem
    path: str
    azure: AzureConnection | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", self.path.rstrip("/") or "/")

    @classmethod
    def from_url(cls, url: str, azure: AzureConnection | None = None) -> LakeRoot:
        """A lake root from a local path or an fsspec URL (``file:///…``, or adlfs's ``abfs://<container>/…``)."""
        fs, path = url_to_fs(url)
        return cls(url, fs, path, azure)

    def delta_location(self, table: str) -> DeltaLocation:
        """Where delta-rs finds ``table`` under this root, with the storage options it needs."""
        return delta_location(self.url, table, self.azure)
