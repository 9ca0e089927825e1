"""What changed in a day between two versions of it: rows added, removed and changed, by hour of the call's start.

A re-check pulls a settled day again (``call_logs/recheck.py``) and keeps the new version only if it differs. Rows
are matched by the report's key; a row is changed when any of its values differ (a per-row digest over every
column). Keys and values are compared as 64-bit hashes: memory follows the rows' count, not their values (batches
are digested and let go), and two different rows hash alike with a chance of about one in 10^19.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

KINDS = ("added", "removed", "changed")


@dataclass(frozen=True)
class DayDiff:
    """Rows added, removed and changed between a day's stored version and a new one; ``by_hour`` keeps the hours
    (UTC, 0-23, of the call's start) with changes: ``{hour: {"added": n, "removed": n, "changed": n}}``."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    by_hour: dict[int, dict[str, int]] = field(default_factory=dict)

    @property
    def unchanged(self) -> bool:
        return not (self.added or self.removed or self.changed)

    def summary(self) -> str:
        if self.unchanged:
            return "unchanged"
        hours = ", ".join(f"{hour:02d}:00" for hour in sorted(self.by_hour))
        return f"{self.added} added, {self.removed} removed, {self.changed} changed (hours {hours} UTC)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "added": self.added,
            "removed": self.removed,
            "changed": self.changed,
            "by_hour": {f"{hour:02d}": dict(counts) for hour, counts in sorted(self.by_hour.items())},
        }

    @classmethod
    def from_dict(cls, document: Any) -> DayDiff:
        return cls(
            added=int(document["added"]),
            removed=int(document["removed"]),
            changed=int(document["changed"]),
            by_hour={int(hour): {k: int(v) for k, v in counts.items()} for hour, counts in document["by_hour"].items()},
        )


@dataclass(frozen=True)
class RowDigests:
    """Per row of a day: a 64-bit hash of its key, the hour of its start, a 64-bit digest of all its values."""

    key: np.ndarray
    hour: np.ndarray
    digest: np.ndarray


def row_digests(batches: Iterable[pa.RecordBatch], key: str, time: str) -> RowDigests:
    """The day's ``RowDigests``; the batches must hold every column of the table. About 17 bytes a row stay in
    memory (hashes, not keys: a million calls take 17 MB), each batch's values only while it is digested."""
    keys, hours, digests = [], [], []
    for batch in batches:
        if batch.num_rows == 0:
            continue
        frame = pd.DataFrame(
            {
                # pandas digests a null and an empty text alike: the null mask tells them apart.
                f"{name}{suffix}": values.to_pandas()
                for name in sorted(batch.schema.names)
                for suffix, values in (("", _hashable(batch.column(name))), ("\0null", batch.column(name).is_null()))
            }
        )
        digests.append(pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64))
        keys.append(pd.util.hash_array(batch.column(key).cast(pa.string()).to_numpy(zero_copy_only=False)))
        hours.append(pc.hour(batch.column(time)).to_numpy(zero_copy_only=False).astype(np.int8))
    if not keys:
        return RowDigests(np.empty(0, np.uint64), np.empty(0, np.int8), np.empty(0, np.uint64))
    return RowDigests(np.concatenate(keys), np.concatenate(hours), np.concatenate(digests))


def diff_days(before: RowDigests, after: RowDigests) -> DayDiff:
    """Compare two versions of a day, row by row (matched by key)."""
    _, in_before, in_after = np.intersect1d(before.key, after.key, assume_unique=True, return_indices=True)
    added = np.ones(len(after.key), bool)
    added[in_after] = False
    removed = np.ones(len(before.key), bool)
    removed[in_before] = False
    differs = before.digest[in_before] != after.digest[in_after]
    hours_of = {
        "added": after.hour[added],
        "removed": before.hour[removed],
        "changed": after.hour[in_after[differs]],
    }
    by_hour: dict[int, dict[str, int]] = {}
    for kind, hours in hours_of.items():
        for hour, count in zip(*np.unique(hours, return_counts=True), strict=True):
            by_hour.setdefault(int(hour), dict.fromkeys(KINDS, 0))[kind] = int(count)
    return DayDiff(int(added.sum()), int(removed.sum()), int(differs.sum()), dict(sorted(by_hour.items())))


def _hashable(column: pa.Array) -> pa.Array:
    """A column as values pandas can digest stably: nested values as sorted JSON text, decimals as text."""
    kind = column.type
    if pa.types.is_nested(kind):
        return pa.array(
            [None if value is None else json.dumps(value, sort_keys=True, default=str) for value in column.to_pylist()],
            pa.string(),
        )
    if pa.types.is_decimal(kind):
        return column.cast(pa.string())
    if pa.types.is_timestamp(kind):
        return column.cast(pa.int64())
    return column
