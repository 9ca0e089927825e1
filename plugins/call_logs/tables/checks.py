"""How a table declares its quality checks: each check has a name, a severity, what it needs and a group.

A check is a function of the partition as stored (``Partition``) and the thresholds, returning an ``Outcome``;
``Check`` turns that into a ``CheckResult``. Lake-integrity checks (``quality/lake_checks.py``) apply to every
report table, a report's own rules live in its spec module (``ReportSpec.rules``), a gold table's in
``gold/quality.py``. The quality engine (``quality/engine.py``) runs them and stores the report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any, Literal, Protocol

import pyarrow as pa

from call_logs import defaults

Severity = Literal["error", "warning"]
Need = Literal["data", "manifest", "history"]
Group = Literal["integrity", "schema", "identity", "sentinel", "outcome", "volume", "bounds", "source"]
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
    :param quarantine_severity: ``error`` (the default) or ``warning`` for a day with rows in its quarantine (rows
        Graph sent that could not become rows of the day).
    :param earliest_valid: any timestamp before it is a leaked ``0001-01-01`` sentinel or garbage.
    :param regression_drop: a trunk-day's NER or answer-seizure ratio this far (absolute share) below the median of
        its previous ``regression_days`` is a regression (gold trunk health).
    :param regression_min_calls: the calls a trunk-day needs to be judged or to count in that median.
    :param regression_min_history: such days of history needed before a trunk is judged.
    """

    volume_deviation: float = defaults.VOLUME_DEVIATION
    history_days: int = defaults.HISTORY_DAYS
    min_history: int = defaults.MIN_HISTORY
    zero_rows_severity: Severity = "warning"
    quarantine_severity: Severity = "error"
    earliest_valid: date = date(1900, 1, 1)
    regression_drop: float = defaults.REGRESSION_DROP
    regression_min_calls: int = defaults.REGRESSION_MIN_CALLS
    regression_days: int = defaults.REGRESSION_DAYS
    regression_min_history: int = defaults.REGRESSION_MIN_HISTORY

    def __post_init__(self) -> None:
        for name in ("zero_rows_severity", "quarantine_severity"):
            if getattr(self, name) not in _SEVERITIES:
                raise ValueError(f"{name} is {getattr(self, name)!r}; use 'warning' or 'error'.")
        if self.volume_deviation <= 0:
            raise ValueError(f"volume_deviation is {self.volume_deviation}; use a positive fraction such as 0.5.")
        if not 0 < self.regression_drop < 1:
            raise ValueError(f"regression_drop is {self.regression_drop}; use a share such as 0.1 (10 points).")
        if self.regression_min_calls < 1:
            raise ValueError(f"regression_min_calls is {self.regression_min_calls}; use a number of calls ≥ 1.")
        if self.history_days < 1 or self.min_history < 1:
            raise ValueError(f"history_days ({self.history_days}) and min_history ({self.min_history}) must be ≥ 1.")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``sample_ids`` holds up to 20 keys of offending rows."""

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
    """What a check function found; ``Check`` turns it into a ``CheckResult``."""

    ok: bool
    observed: Any
    expected: Any
    message: str
    sample_ids: list[str] = field(default_factory=list)


class Uncheckable(Exception):
    """The stored data lacks what a check needs (a column, a type); the check fails with this message."""


class Partition(Protocol):
    """A committed partition as a check sees it (``quality/reading.py``'s ``CommittedPartition``)."""

    @property
    def day(self) -> date: ...

    @property
    def rows(self) -> int | None: ...

    @property
    def manifest(self) -> Any:
        """The facts committed with the partition (``Manifest`` or ``GoldManifest``), None when unreadable."""
        ...

    def batches(self, columns: list[str]) -> Iterator[pa.Table]:
        """The key column plus ``columns``, in the table schema's types, one batch at a time."""
        ...

    def scan(self, columns: list[str], violates: Callable[[pa.Table], pa.Array]) -> tuple[int, list[str]]:
        """Rows where ``violates`` is true, and the keys of the first of them."""
        ...


Evaluate = Callable[[Any, QualityThresholds], Outcome]


@dataclass(frozen=True)
class Check:
    """One quality check.

    :param severity: ``error`` fails the run, ``warning`` is recorded; None takes the thresholds' attribute
        ``severity_setting`` names (a severity the user tunes).
    :param needs: ``data`` (a readable data file or table snapshot), ``manifest`` (the commit's facts), ``history``
        (earlier partitions' facts); a check whose needs are missing is listed as skipped, because the presence
        check has failed already.
    :param group: what it guards; the lake report counts failed ``sentinel`` checks per day.
    """

    name: str
    severity: Severity | None
    needs: frozenset[Need]
    group: Group
    evaluate: Evaluate
    doc: str = ""
    severity_setting: str = "zero_rows_severity"

    def __call__(self, partition: Partition, thresholds: QualityThresholds) -> CheckResult:
        try:
            outcome = self.evaluate(partition, thresholds)
        except Uncheckable as problem:
            outcome = Outcome(False, str(problem), "a checkable file", f"Cannot be checked: {problem}.")
        return CheckResult(
            self.name,
            self.severity or getattr(thresholds, self.severity_setting),
            "pass" if outcome.ok else "fail",
            outcome.observed,
            outcome.expected,
            outcome.message,
            outcome.sample_ids[:MAX_SAMPLE_IDS],
        )


def check(
    name: str,
    severity: Severity | None,
    *,
    needs: Iterable[Need] = ("data",),
    group: Group = "integrity",
    severity_setting: str = "zero_rows_severity",
) -> Callable[[Evaluate], Check]:
    """Declare a check from a function returning an ``Outcome``."""

    def declare(function: Evaluate) -> Check:
        doc = (function.__doc__ or "").strip()
        return Check(name, severity, frozenset(needs), group, function, doc, severity_setting)

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

    def evaluate(p: Partition, t: QualityThresholds) -> Outcome:
        count, samples = p.scan(columns, violates)
        message = f"{count:,} rows are {meaning}." if count else f"No row is {meaning}."
        return Outcome(count == 0, count, 0, message, samples)

    return Check(name, severity, frozenset({"data"}), group, evaluate, f"No row is {meaning}.")
