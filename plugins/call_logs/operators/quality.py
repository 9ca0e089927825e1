"""Airflow operator: check the run's committed day of a report as read back from the lake."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException

from call_logs import defaults
from call_logs.operators._context import airflow_errors, quiet_azure_sdk, report_sink, run_day
from call_logs.operators._events import emit_checked_day
from call_logs.operators._lineage import LineageMixin, report_lineage
from call_logs.operators.alerting import quality_outcome
from call_logs.quality.engine import check_report_day, write_report
from call_logs.tables.checks import QualityThresholds


class CallLogQualityOperator(LineageMixin, BaseOperator):
    """Run the report's quality checks on the day, store the report beside it (``_dq.json``), fail on any error.

    Errors fail the task without retries (the data will not change by itself) after the report is stored;
    warnings are logged and recorded. XCom carries the report's summary.

    :param report: the report's table name, a key of ``call_logs.reports.REPORTS``.
    :param lake_root: the same ObjectStoragePath URL the extract task wrote to.
    :param volume_deviation: warn when the day's rows differ from the recent median by more than this fraction.
    :param history_days: how many previous days form that median.
    :param zero_rows_severity: ``warning`` or ``error`` for a zero-row day whose history has calls.
    :param quarantine_severity: ``error`` or ``warning`` for a day with rows in its quarantine.
    :param table_format: the format the extract task wrote.
    :param tenant: in a deployment of many tenants, the tenant whose day it checks.
    :param days_back: check the day this many days before the run's day (a re-check's, ``operators/recheck.py``).
    """

    template_fields: Sequence[str] = (
        "lake_root",
        "volume_deviation",
        "history_days",
        "zero_rows_severity",
        "quarantine_severity",
        "table_format",
        "days_back",
    )

    def __init__(
        self,
        *,
        report: str,
        lake_root: str,
        volume_deviation: float | str = defaults.VOLUME_DEVIATION,
        history_days: int | str = defaults.HISTORY_DAYS,
        zero_rows_severity: str = defaults.ZERO_ROWS_SEVERITY,
        quarantine_severity: str = defaults.QUARANTINE_SEVERITY,
        table_format: str = defaults.TABLE_FORMAT,
        tenant: str | None = None,
        days_back: int | str = 0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.lake_root = lake_root
        self.volume_deviation = volume_deviation
        self.history_days = history_days
        self.zero_rows_severity = zero_rows_severity
        self.quarantine_severity = quarantine_severity
        self.table_format = table_format
        self.tenant = tenant
        self.days_back = days_back
        self.alert_partition: str | None = None  # the day checked, for the failure alert
        self.alert_details: list[str] = []  # the failed checks, for the failure alert (operators/alerting.py)

    def execute(self, context: Context) -> dict[str, Any]:
        quiet_azure_sdk()
        day = run_day(context) - timedelta(days=int(str(self.days_back).strip() or 0))
        self.alert_partition = day.isoformat()
        try:
            thresholds = QualityThresholds(
                volume_deviation=float(self.volume_deviation),
                history_days=int(self.history_days),
                zero_rows_severity=self.zero_rows_severity,  # type: ignore[arg-type]  # validated by the class
                quarantine_severity=self.quarantine_severity,  # type: ignore[arg-type]  # validated by the class
            )
        except ValueError as error:
            raise AirflowFailException(f"The quality settings are wrong: {error}") from None
        with airflow_errors():
            sink = report_sink(self.report, self.lake_root, self.table_format, self.tenant)
            report = check_report_day(sink, day, thresholds)
            write_report(sink, day, report)
        self._lineage_facts = report_lineage(sink, self.lake_root, report)  # OpenLineage: checks as assertions
        summary = report.summary_line()
        for result in report.warnings:
            self.log.warning("%s: %s", result.name, result.message)
        if report.status == "fail":
            for result in report.errors:
                self.log.error("%s: %s", result.name, result.message)
            self.alert_details = [f"{r.name}: {r.message}" for r in report.errors]
            raise AirflowFailException(summary)
        self.log.info(summary)
        quality_outcome(self, context, report, self.report, self.tenant, day.isoformat())
        document = report.to_dict()
        emit_checked_day(context, sink, self.lake_root, day, document)  # on <table>_checked (assets.py)
        return {key: document[key] for key in ("call_date", "status", "counts")}
