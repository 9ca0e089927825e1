"""Quality checks as data: each declares its name, severity, what it needs and its group.

Lake-integrity checks (``quality/lake_checks.py``) apply to every report; a report's own row rules live in its
spec module (``ReportSpec.rules``). The runner, the list of skipped checks and the lake report's grouping all
derive from these declarations.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import pyarrow as pa

from call_logs.quality.results import MAX_SAMPLE_IDS, CheckResult, Outcome, QualityThresholds, Severity

if TYPE_CHECKING:
    from call_logs.quality.reading import CommittedPartition

Need = Literal["data", "manifest", "history"]
Group = Literal["integrity", "schema", "identity", "sentinel", "outcome", "volume"]
Evaluate = Callable[["CommittedPartition", QualityThresholds], Outcome]


class Uncheckable(Exception):
    """The stored data lacks what a check needs (a column, a type); the check fails with this message."""


@dataclass(frozen=True)
class Check:
    """One quality check.

    :param severity: ``error`` fails the run, ``warning`` is recorded; None takes the thresholds'
        ``zero_rows_severity``.
    :param needs: ``data`` (a readable data file or table snapshot), ``manifest`` (the commit's facts); a check
        whose needs are missing is listed as skipped, because the presence check has failed already.
    :param group: what it guards; the lake report counts failed ``sentinel`` checks per day.
    """

    name: str
    severity: Severity | None
    needs: frozenset[Need]
    group: Group
    evaluate: Evaluate
    doc: str = ""

    def __call__(self, partition: CommittedPartition, thresholds: QualityThresholds) -> CheckResult:
        try:
            outcome = self.evaluate(partition, thresholds)
        except Uncheckable as problem:
            outcome = Outcome(False, str(problem), "a checkable file", f"Cannot be checked: {problem}.")
        return CheckResult(
            self.name,
            self.severity or thresholds.zero_rows_severity,
            "pass" if outcome.ok else "fail",
            outcome.observed,
            outcome.expected,
            outcome.message,
            outcome.sample_ids[:MAX_SAMPLE_IDS],
        )


def check(
    name: str, severity: Severity | None, *, needs: Iterable[Need] = ("data",), group: Group = "integrity"
) -> Callable[[Evaluate], Check]:
    """Declare a check from a function returning an ``Outcome``."""

    def declare(function: Evaluate) -> Check:
        return Check(name, severity, frozenset(needs), group, function, (function.__doc__ or "").strip())

    return declare


def row_rule(
    name: str,
    severity: Severity,
    columns: list[str],
    violates: Callable[[pa.Table], pa.Array],
    meaning: str,
    *,
    group: Group = "outcome",
) -> Check:
    """A check that fails on every row where ``violates`` holds; ``meaning`` says what such a row is."""

    def evaluate(p: CommittedPartition, t: QualityThresholds) -> Outcome:
        count, samples = p.scan(columns, violates)
        message = f"{count:,} rows are {meaning}." if count else f"No row is {meaning}."
        return Outcome(count == 0, count, 0, message, samples)

    return Check(name, severity, frozenset({"data"}), group, evaluate, f"No row is {meaning}.")
