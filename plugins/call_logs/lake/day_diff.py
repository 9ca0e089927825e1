"""What changed in a day between two versions of it: rows added, removed and changed, by hour of the call's start.

A re-check pulls a settled day again (``call_logs/recheck.py``) and keeps the new version only if it differs. Rows
are matched by the report's key; a row is changed when any of its values differ (a per-row digest over every
column). Memory follows the rows' keys and digests, not their values: batches are digested and let go.
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
_KEY, _HOUR, _DIGEST = "key", "hour", "digest"


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


def row_digests(batches: Iterable[pa.RecordBatch], key: str, time: str) -> pa.Table:
    """(key, hour of ``time``, digest of every value) per row; the batches must hold every column of the table."""
    parts = []
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
        digest = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
        parts.append(
            pa.table(
                {
                    _KEY: batch.column(key).cast(pa.string()),
                    _HOUR: pc.hour(batch.column(time)).cast(pa.int8()),
                    _DIGEST: pa.array(digest, pa.uint64()),
                }
            )
        )
    if not parts:
        return pa.table(
            {_KEY: pa.array([], pa.string()), _HOUR: pa.array([], pa.int8()), _DIGEST: pa.array([], pa.uint64())}
        )
    return pa.concat_tables(parts)


def diff_days(before: pa.Table, after: pa.Table) -> DayDiff:
    """Compare two ``row_digests`` tables of one day."""
    joined = before.join(after, _KEY, join_type="full outer", left_suffix="_before", right_suffix="_after")
    in_before = pc.is_valid(joined["digest_before"])
    in_after = pc.is_valid(joined["digest_after"])
    kinds = {
        "added": (pc.invert(in_before), "hour_after"),
        "removed": (pc.invert(in_after), "hour_before"),
        "changed": (
            pc.and_(pc.and_(in_before, in_after), pc.not_equal(joined["digest_before"], joined["digest_after"])),
            "hour_after",
        ),
    }
    counts: dict[str, int] = {}
    by_hour: dict[int, dict[str, int]] = {}
    for kind, (mask, hour_column) in kinds.items():
        mask = pc.fill_null(mask, False)
        counts[kind] = int(pc.sum(mask.cast(pa.int64())).as_py() or 0)
        if counts[kind]:
            hours = pc.filter(joined[hour_column], mask)
            for item in pc.value_counts(hours).to_pylist():
                by_hour.setdefault(int(item["values"]), dict.fromkeys(KINDS, 0))[kind] = int(item["counts"])
    return DayDiff(counts["added"], counts["removed"], counts["changed"], dict(sorted(by_hour.items())))


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
