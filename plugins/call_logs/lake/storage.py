"""Atomic publication of whole files into an fsspec filesystem (local folder or Azure Blob / ADLS).

A reader must see the old complete file or the new complete one, never a partial one:
- Azure Blob: an upload becomes visible only when its block list is committed, so ``put_file`` of a
  finished local file replaces the blob atomically (an interrupted upload leaves only uncommitted blocks).
- Local folders: copy to a hidden temporary name beside the target, then ``rename`` (atomic on POSIX).
Never stream into an fsspec file object: it commits on close, and ``with`` closes on an exception too.
``stream_digest`` gives the size and sha256 that describe such a file, both when it is written and when
it is read back.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
import uuid
from typing import Any, BinaryIO

from fsspec import AbstractFileSystem

from call_logs.lake.layout import TEMP_SUFFIX

STALE_TEMP_AGE_S = 3600.0


def is_local(fs: AbstractFileSystem) -> bool:
    protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
    return "file" in protocols or "local" in protocols


def stream_digest(source: BinaryIO, copy_to: BinaryIO | None = None) -> tuple[int, str]:
    """Size and sha256 of all ``source`` yields, read in 1 MiB chunks, each also written to ``copy_to`` if given."""
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: source.read(1 << 20), b""):
        digest.update(chunk)
        size += len(chunk)
        if copy_to is not None:
            copy_to.write(chunk)
    return size, digest.hexdigest()


def publish_file(fs: AbstractFileSystem, local_path: str, dest: str) -> None:
    """Make ``dest`` hold exactly the bytes of ``local_path``, atomically."""
    parent = dest.rsplit("/", 1)[0]
    fs.makedirs(parent, exist_ok=True)
    if not is_local(fs):
        fs.put_file(local_path, dest)
        return
    temp = f"{parent}/.{dest.rsplit('/', 1)[1]}.{uuid.uuid4().hex}{TEMP_SUFFIX}"
    try:
        fs.put_file(local_path, temp)
        os.replace(temp, dest)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


def publish_json(fs: AbstractFileSystem, document: dict[str, Any], dest: str) -> None:
    """Write a small JSON document atomically (same guarantees as ``publish_file``)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False, encoding="utf-8") as handle:
        json.dump(document, handle, indent=2, sort_keys=True, default=str)
        handle.write("\n")
    try:
        publish_file(fs, handle.name, dest)
    finally:
        os.remove(handle.name)


def read_json(fs: AbstractFileSystem, path: str) -> dict[str, Any] | None:
    """The JSON document at ``path``, or None when there is none."""
    try:
        with fs.open(path, "rb") as handle:
            return json.loads(handle.read())
    except FileNotFoundError:
        return None


def remove_stale_temp_files(fs: AbstractFileSystem, folder: str) -> None:
    """Delete hidden temporaries left by a killed writer (only local folders have them)."""
    if not is_local(fs) or not fs.exists(folder):
        return
    for entry in fs.ls(folder, detail=True):
        name = entry["name"].rsplit("/", 1)[-1]
        if (
            name.startswith(".")
            and name.endswith(TEMP_SUFFIX)
            and time.time() - entry.get("mtime", 0) > STALE_TEMP_AGE_S
        ):
            fs.rm_file(entry["name"])
