"""What a quality run produces: the report of one partition, stored beside it as ``_dq.json``.

``QualityReport.to_dict`` is that document, the same shape for a Graph report's day and a gold table's day or
month, and ``QualityReport.summary_line`` the one line the task logs. The checks' own vocabulary (thresholds, one
result per check) is in ``tables/checks.py``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from call_logs.tables.checks import CheckResult, QualityThresholds
from call_logs.utc import format_utc


@dataclass
class QualityReport:
    """All check results of one partition, and what was checked.

    :param partition: the day (or a month's first day) checked.
    :param partition_column: the table's partition column (``call_date``, ``month``): the document's key for it.
    """

    partition: date
    checked_at: datetime
    file_sha256: str | None
    file_bytes: int | None
    rows: int | None
    data_name: str
    thresholds: QualityThresholds
    results: list[CheckResult]
    skipped: list[str] = field(default_factory=list)
    partition_column: str = "call_date"

    @property
    def errors(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed and r.severity == "error"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed and r.severity == "warning"]

    @property
    def status(self) -> Literal["pass", "warn", "fail"]:
        return "fail" if self.errors else "warn" if self.warnings else "pass"

    def to_dict(self) -> dict[str, Any]:
        """The ``_dq.json`` document: the partition under its column's name (``call_date``) and as ``partition``."""
        return {
            self.partition_column: self.partition.isoformat(),
            "partition": self.partition.isoformat(),
            "checked_at": format_utc(self.checked_at),
            "file": {"name": self.data_name, "sha256": self.file_sha256, "bytes": self.file_bytes, "rows": self.rows},
            "status": self.status,
            "counts": {"errors": len(self.errors), "warnings": len(self.warnings)},
            "thresholds": asdict(self.thresholds) | {"earliest_valid": self.thresholds.earliest_valid.isoformat()},
            "checks": [r.to_dict() for r in self.results],
            "skipped": self.skipped,
        }

    def summary_line(self) -> str:
        """One line for the task log: the verdict, the failing checks by name, and the row count."""
        parts = [
            _counted(len(self.errors), "error", self.errors),
            _counted(len(self.warnings), "warning", self.warnings),
        ]
        rows = f"{self.rows:,} rows" if self.rows is not None else "no readable data file"
        return f"{self.partition_column}={self.partition.isoformat()} {self.status.upper()}: {', '.join(parts)}; {rows}"


def _counted(count: int, noun: str, results: list[CheckResult]) -> str:
    text = f"{count} {noun}{'' if count == 1 else 's'}"
    return f"{text} ({', '.join(r.name for r in results)})" if results else text
