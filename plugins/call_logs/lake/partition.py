"""Commit a built partition into the lake, and find committed ones."""

from __future__ import annotations

from datetime import date
from typing import Any

from fsspec import AbstractFileSystem

from call_logs.lake.layout import (
    DATA_FILE,
    MANIFEST_FILE,
    QUALITY_FILE,
    day_of_partition,
    partition_path,
    table_path,
)
from call_logs.lake.storage import publish_file, publish_json, read_json, remove_stale_temp_files
from call_logs.lake.writer import BuiltPartition


def commit_partition(
    fs: AbstractFileSystem, root: str, day: date, built: BuiltPartition, manifest: dict[str, Any]
) -> str:
    """Replace the day's partition: data file first (atomically), then its manifest; returns the folder.

    Until the data file is published nothing in the lake changes; a failure after it leaves a new file
    whose manifest (old, or none) does not match its checksum, which the quality check reports.
    """
    folder = partition_path(root, day)
    remove_stale_temp_files(fs, folder)
    publish_file(fs, built.local_path, f"{folder}/{DATA_FILE}")
    publish_json(fs, manifest, f"{folder}/{MANIFEST_FILE}")
    if fs.exists(f"{folder}/{QUALITY_FILE}"):
        fs.rm_file(f"{folder}/{QUALITY_FILE}")  # it judged the previous file
    return folder


def read_manifest(fs: AbstractFileSystem, root: str, day: date) -> dict[str, Any] | None:
    return read_json(fs, f"{partition_path(root, day)}/{MANIFEST_FILE}")


def committed_days(fs: AbstractFileSystem, root: str) -> list[date]:
    """Days that have a partition folder, oldest first."""
    base = table_path(root)
    if not fs.exists(base):
        return []
    days = (day_of_partition(entry) for entry in fs.ls(base, detail=False))
    return sorted(day for day in days if day is not None)
