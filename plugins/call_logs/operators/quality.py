"""Airflow operator: check the run's committed partition as read back from the lake."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from call_logs.operators._context import lake_location, quiet_azure_sdk, run_day


class DirectRoutingCallsQualityOperator(BaseOperator):
    """Run the quality checks on the day's partition, write ``_dq.json`` beside it, fail on any error.

    Errors fail the task without retries (the data will not change by itself) after the report is written;
    warnings are logged and recorded. XCom carries the report's summary.

    :param lake_root: the same ObjectStoragePath URL the extract task wrote to.
    :param volume_deviation: warn when the day's rows differ from the recent median by more than this fraction.
    :param history_days: how many previous partitions form that median.
    :param zero_rows_severity: ``warning`` or ``error`` for a zero-row day whose history has calls.
    """

    template_fields: Sequence[str] = ("lake_root", "volume_deviation", "history_days", "zero_rows_severity")

    def __init__(
        self,
        *,
        lake_root: str,
        volume_deviation: float | str = 0.5,
        history_days: int | str = 28,
        zero_rows_severity: str = "warning",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lake_root = lake_root
        self.volume_deviation = volume_deviation
        self.history_days = history_days
        self.zero_rows_severity = zero_rows_severity

    def execute(self, context: Any) -> dict[str, Any]:
        from call_logs.quality.checks import QualityThresholds, check_partition, write_report

        quiet_azure_sdk()
        day = run_day(context)
        fs, root = lake_location(self.lake_root)
        thresholds = QualityThresholds(
            volume_deviation=float(self.volume_deviation),
            history_days=int(self.history_days),
            zero_rows_severity=self.zero_rows_severity,
        )
        report = check_partition(fs, root, day, thresholds=thresholds)
        write_report(fs, root, day, report)
        summary = report.summary_line()
        for result in report.warnings:
            self.log.warning("%s: %s", result.name, result.message)
        if report.status == "fail":
            for result in report.errors:
                self.log.error("%s: %s", result.name, result.message)
            raise AirflowFailException(summary)
        self.log.info(summary)
        document = report.to_dict()
        return {key: document[key] for key in ("call_date", "status", "counts")}
