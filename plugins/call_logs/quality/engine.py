"""Run a table's quality checks on one committed partition, read back through its sink, and store the report.

One engine for every table: a Graph report's day gets the lake-integrity checks (``lake_checks``) plus the report's
own rules (``ReportSpec.rules``), a gold table's day or month its own checks (``gold/quality.py``). A check whose
needs (data, manifest) are missing is listed as skipped: its presence check has failed already.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from typing import Any

from call_logs.quality.history import load_history
from call_logs.quality.lake_checks import LAKE_CHECKS
from call_logs.quality.reading import CommittedPartition
from call_logs.quality.results import QualityReport
from call_logs.reports.spec import ReportSpec
from call_logs.sinks import ReportSink
from call_logs.sinks.base import Sink
from call_logs.tables.checks import Check, QualityThresholds


def checks_for(spec: ReportSpec) -> tuple[Check, ...]:
    """Every check that applies to a Graph report's table: the lake's, then the report's own."""
    return LAKE_CHECKS + spec.rules


def check_partition(
    sink: Sink[Any, Any],
    day: date,
    checks: Sequence[Check],
    thresholds: QualityThresholds | None = None,
    *,
    sources: Mapping[str, Sink[Any, Any]] | None = None,
) -> QualityReport:
    """Run ``checks`` on the partition as stored (data and facts read back through ``sink``).

    ``sources`` are the sinks of the tables the checked one is derived from (by table name), for checks that
    compare the two; the volume history is read only if a check asks for it.
    """
    thresholds = thresholds or QualityThresholds()
    history = functools.cache(lambda: load_history(sink, day, thresholds.history_days))
    quarantine = functools.cache(lambda: sink.read_quarantine(day))
    with sink.open_day(day) as stored:
        partition = CommittedPartition(
            sink.spec, stored, history, dict(sources or {}), quarantine, sink.quarantine_location(day)
        )
        present = {"data"} if stored.data is not None else set()
        present |= {"manifest"} if stored.manifest is not None else set()
        present |= {"history"}
        results, skipped = [], []
        for check in checks:
            if check.needs <= present:
                results.append(check(partition, thresholds))
            else:
                skipped.append(check.name)
        rows = partition.rows
    return QualityReport(
        day,
        datetime.now(UTC),
        stored.fingerprint.get("sha256"),
        stored.fingerprint.get("bytes"),
        rows,
        stored.data_name,
        thresholds,
        results,
        skipped,
        sink.spec.partition_column,
    )


def check_report_day(sink: ReportSink, day: date, thresholds: QualityThresholds | None = None) -> QualityReport:
    """Check a Graph report's day with every check that applies to its table (``checks_for``)."""
    return check_partition(sink, day, checks_for(sink.spec), thresholds)


def write_report(sink: Sink[Any, Any], day: date, report: QualityReport) -> str:
    """Store the report beside the partition (``_dq.json`` for Parquet partitions); returns where."""
    return sink.write_quality(day, report.to_dict())
