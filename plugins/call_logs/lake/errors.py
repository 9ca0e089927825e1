"""Errors a lake operation can end in, each with a message a user can act on.

The lake's counterpart of ``graph/errors.py``. Which of them a retry can fix is decided in one place,
``call_logs/failures.py``; the class names here say what happened:

- ``LakeConfigError``: a setting is wrong (the lake root, its connection, the table format, the pseudonymised
  columns); nothing was written, and the same setting gives the same refusal.
- ``LakeSchemaError``: the table refuses the data's schema (a Delta table whose columns would be dropped or
  retyped, a table partitioned by another column); ``RowsRejected``: Graph sent a row that does not fit the lake.
- ``PartitionUnusable``: a partition a task reads (a source day of a gold table, a day to rewrite) is missing,
  unreadable or not the one its manifest describes; re-running the DAG that writes it is the fix.
- ``ManifestError``: a stored manifest cannot be read as one.
- ``CommitConflict``: another writer committed the same partition at the same time; this one committed nothing.
"""

from __future__ import annotations


class LakeError(Exception):
    """A lake operation failed; the message says what happened and what to do."""


class LakeConfigError(LakeError):
    """A lake setting (root, connection, table format, pseudonymisation) is wrong: fix it, retrying cannot help."""


class LakeSchemaError(LakeError):
    """The table refuses the data's schema or partitioning; the same data gives the same refusal."""


class RowsRejected(LakeError):
    """Graph sent rows that do not fit the lake schema; the partition was not written."""


class PartitionUnusable(LakeError):
    """A partition a task reads is missing, unreadable or changed since its commit."""


class ManifestError(LakeError):
    """A stored manifest that cannot be read as one; the quality check reports it."""


class CommitConflict(LakeError):
    """Another writer committed the same partition concurrently; this write committed nothing."""
