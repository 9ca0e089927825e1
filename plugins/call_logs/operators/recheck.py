"""Airflow operator: pull a settled day again, ``recheck_days`` before the run's day, and fold in what changed.

The run of day D re-checks day D - N (``<report>_recheck_days`` = N, 0 or empty: off) once its stored version is
N days old (``call_logs/recheck.py``): a changed day is replaced like a re-run (one new version) and its event on
``<table>`` is emitted again, so the re-check's quality task and then the gold tables follow; an unchanged day is
left alone and the task ends skipped (no write, no event). Either way the outcome goes to the lake's re-check
ledger (``_rechecks/``) and the log says how often the table's days changed after settling.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from call_logs import defaults
from call_logs.hooks.lake import open_lake
from call_logs.operators._context import airflow_errors, quiet_azure_sdk, run_day
from call_logs.operators._events import emit_committed_day
from call_logs.operators._lineage import extract_lineage
from call_logs.operators.extract import CallLogToLakeOperator
from call_logs.recheck import RecheckLedger, recheck_day, recheck_skip_reason
from call_logs.reports import REPORTS


class CallLogRecheckOperator(CallLogToLakeOperator):
    """Re-check the day ``recheck_days`` before the run's day: pull it again and replace it only if it changed.

    Takes every parameter of ``CallLogToLakeOperator`` (the same pull, budget and guarantees), and:

    :param recheck_days: how many days after a day's scheduled pull it is pulled again; 0 or empty: re-checks off.
    :param settle_hours: the report's settle hours, quoted in the log's advice on how often days change.
    """

    template_fields: Sequence[str] = (*CallLogToLakeOperator.template_fields, "recheck_days", "settle_hours")

    def __init__(self, *, recheck_days: int | str = "", settle_hours: float | str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.recheck_days = recheck_days
        self.settle_hours = settle_hours
        self.alert_partition: str | None = None

    def execute(self, context: Context) -> dict[str, Any]:
        quiet_azure_sdk()
        days = self._recheck_days()
        day = run_day(context) - timedelta(days=days)
        self.alert_partition = day.isoformat()  # a failure alert names the day re-checked, not the run's
        with airflow_errors():
            sink, pseudonymiser = self._sink()
            spec = sink.spec
            previous = sink.read_manifest(day)
            retention = int(self.retention_days or spec.retention_days)
            skip = recheck_skip_reason(day, days, previous, retention, datetime.now(UTC))
            if skip:
                raise AirflowSkipException(skip)
            assert previous is not None  # recheck_skip_reason skips a day without one
            lake = open_lake(self.lake_root)
            ledger = RecheckLedger(lake.fs, lake.path)
            with self._graph(context, spec) as (client, run):
                record, manifest = recheck_day(
                    client, sink, day, previous, run=run, pseudonymiser=pseudonymiser, **self._pull_options()
                )
            ledger.record(spec.table, self.tenant, record)
            summary = ledger.summary(spec.table, self.tenant, day, defaults.RECHECK_SUMMARY_DAYS)
        settle = float(self.settle_hours) if str(self.settle_hours).strip() else None
        self.log.info("%s", summary.sentence(settle))
        if manifest is None:
            raise AirflowSkipException(
                f"call_date={day} is unchanged {record.age_days:g} days after it ended ({record.rows_after} rows): "
                "nothing was written, no event emitted."
            )
        self.log.warning(
            "call_date=%s changed %g days after it ended: %s; the new version replaced it",
            day,
            record.age_days,
            record.diff.summary(),
        )
        emit_committed_day(context, sink, self.lake_root, day, manifest)  # gold rebuilds the day (assets.py)
        self._lineage_facts = extract_lineage(sink, self.lake_root, manifest, client.graph_root)
        return {**self._summary(sink, day, manifest), "recheck": manifest.recheck}

    def _recheck_days(self) -> int:
        """The re-check age in whole days; 0 (off) skips the task."""
        text = str(self.recheck_days).strip()
        variable = REPORTS[self.report].variable("recheck_days")
        try:
            days = int(text or 0)
        except ValueError:
            days = -1
        if days < 0:
            raise AirflowFailException(
                f"The Variable {variable} is {text!r}; use a whole number of days (e.g. 7), or 0 to turn re-checks off."
            )
        if days == 0:
            raise AirflowSkipException(f"Re-checks are off (the Variable {variable} is {text or 'empty'!r}).")
        return days
