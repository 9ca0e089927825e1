"""What the quality checks are tuned by and what they produce: thresholds, one result per check, the report.

``QualityReport.to_dict`` is the ``_dq.json`` document written beside each partition, and
``QualityReport.summary_line`` the one line the task logs.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any, Literal

from call_logs import defaults
from call_logs.graph.window import format_utc

Severity = Literal["error", "warning"]
MAX_SAMPLE_IDS = 20
_SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class QualityThresholds:
    """The tunable limits of the checks.

    :param volume_deviation: warn when ``|rows - median| / median`` of the recent history exceeds it (0.5 = 50%).
    :param history_days: how many calendar days before the checked one form that history.
    :param min_history: partitions of history needed before the volume check applies (a median of one or
        two days is noise).
    :param zero_rows_severity: ``warning`` or ``error`` for a day with no rows while its history has calls
        (Graph returns old windows empty, which is not the same as a quiet day).
    :param earliest_valid: any timestamp before it is a leaked ``0001-01-01`` sentinel or garbage.
    """

    volume_deviation: float = defaults.VOLUME_DEVIATION
    history_days: int = defaults.HISTORY_DAYS
    min_history: int = defaults.MIN_HISTORY
    zero_rows_severity: Severity = "warning"
    earliest_valid: date = date(1900, 1, 1)

    def __post_init__(self) -> None:
        if self.zero_rows_severity not in _SEVERITIES:
            raise ValueError(f"zero_rows_severity is {self.zero_rows_severity!r}; use 'warning' or 'error'.")
        if self.volume_deviation <= 0:
            raise ValueError(f"volume_deviation is {self.volume_deviation}; use a positive fraction such as 0.5.")
        if self.history_days < 1 or self.min_history < 1:
            raise ValueError(f"history_days ({self.history_days}) and min_history ({self.min_history}) must be ≥ 1.")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``sample_ids`` holds up to 20 ids of offending rows."""

    name: str
    severity: Severity
    status: Literal["pass", "fail"]
    observed: Any
    expected: Any
    message: str
    sample_ids: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Outcome:
    """What a check function found; the decorator in ``checks`` turns it into a ``CheckResult``."""

    ok: bool
    observed: Any
    expected: Any
    message: str
    sample_ids: list[str] = field(default_factory=list)


@dataclass
class QualityReport:
    """All check results of one partition, and what was checked."""

    call_date: date
    checked_at: datetime
    file_sha256: str | None
    file_bytes: int | None
    rows: int | None
    data_name: str
    thresholds: QualityThresholds
    results: list[CheckResult]
    skipped: list[str] = field(default_factory=list)

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
        """The ``_dq.json`` document."""
        return {
            "call_date": self.call_date.isoformat(),
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
        return f"call_date={self.call_date.isoformat()} {self.status.upper()}: {', '.join(parts)}; {rows}"


def _counted(count: int, noun: str, results: list[CheckResult]) -> str:
    text = f"{count} {noun}{'' if count == 1 else 's'}"
    return f"{text} ({', '.join(r.name for r in results)})" if results else text
