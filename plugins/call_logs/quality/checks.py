"""Run a report's quality checks on one committed day, read back through its sink, and store the report.

The checks are the lake-integrity ones (``lake_checks``) plus the report's own rules (``ReportSpec.rules``);
a check whose needs (data, manifest) are missing is listed as skipped: its presence check has failed already.
"""

from __future__ import annotations

import functools
from datetime import UTC, date, datetime

from call_logs.quality.history import load_history
from call_logs.quality.lake_checks import LAKE_CHECKS
from call_logs.quality.reading import CommittedPartition
from call_logs.quality.registry import Check
from call_logs.quality.results import QualityReport, QualityThresholds
from call_logs.reports.spec import ReportSpec
from call_logs.sinks.base import Sink


def checks_for(spec: ReportSpec) -> tuple[Check, ...]:
    """Every check that applies to ``spec``'s table: the lake's, then the report's own."""
    return LAKE_CHECKS + spec.rules


def check_partition(sink: Sink, day: date, thresholds: QualityThresholds | None = None) -> QualityReport:
    """Check the day as stored (data and manifest read back through ``sink``)."""
    thresholds = thresholds or QualityThresholds()
    history = functools.cache(lambda: load_history(sink, day, thresholds.history_days))
    with sink.open_day(day) as stored:
        partition = CommittedPartition(sink.spec, stored, history)
        present = {"data"} if stored.data is not None else set()
        present |= {"manifest"} if stored.manifest is not None else set()
        present |= {"history"}
        results, skipped = [], []
        for check in checks_for(sink.spec):
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
    )


def write_report(sink: Sink, day: date, report: QualityReport) -> str:
    """Store the report beside the day (``_dq.json`` for Parquet partitions); returns where."""
    return sink.write_quality(day, report.to_dict())
