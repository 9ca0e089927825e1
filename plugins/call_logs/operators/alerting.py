"""When the pipeline raises an alert: a task failed for good, a quality report, a missed deadline.

- ``on_task_failure`` is every task's ``on_failure_callback`` (``pipeline.DEFAULT_ARGS``): Airflow calls it once
  the task has failed for good, after its last retry (never on a retry). A quality task's failure is a
  ``quality_error`` alert listing the failed checks; any other is ``task_failed`` with the sentence it logged.
- ``quality_outcome`` is called by the quality operators with their report: warnings alert when the Variable
  ``call_logs_alert_on_warnings`` is true, a trunk regression always, and a day that passed clears its past failures.
- ``deadline_missed`` is the DAG's deadline callback (``day_deadline``): the run of a day has not finished by
  the time the day has settled in Graph plus a grace (``CALL_LOGS_DEADLINE_GRACE_HOURS``, e.g. 12; unset or 0:
  no deadline). A parse-time setting, as Airflow computes a run's deadline from the DAG as parsed; off by default
  because Airflow 3.3.2's ``dag.test()`` fails at the end of a successful run of a DAG with a deadline.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from airflow.sdk.definitions.callback import SyncCallback
from airflow.sdk.definitions.deadline import DeadlineAlert, DeadlineReference

from call_logs.alerts import Alert, Cause
from call_logs.assets import split_tenant
from call_logs.config import variable_value
from call_logs.hooks.alerts import alerts_on_warnings, ledger_of, send_alert
from call_logs.quality.results import QualityReport
from call_logs.reports import REPORTS
from call_logs.reports.spec import ReportSpec

DEADLINE_GRACE_ENV = "CALL_LOGS_DEADLINE_GRACE_HOURS"
REGRESSION_CHECK = "trunk_regression"

log = logging.getLogger(__name__)


def _table_of(task: Any, dag_id: str) -> str:
    return getattr(task, "report", None) or getattr(task, "table", None) or dag_id.split("__", 1)[0]


def _partition_of(context: Any) -> tuple[str | None, str]:
    """(tenant, partition) of a run: a gold run's partition key (``<slug>|…``), else its day."""
    key = context.get("partition_key") or getattr(context.get("dag_run"), "partition_key", None)
    if key:
        return split_tenant(str(key))
    start = context.get("data_interval_start") or context.get("logical_date")
    return None, start.date().isoformat() if start else "unknown day"


def _first_line(error: BaseException | None) -> str:
    text = str(error or "").strip()
    return (text.splitlines() or ["The task failed without a message; see its log."])[0]


def on_task_failure(context: Any) -> None:
    """Every task's ``on_failure_callback``: one alert, after the last retry."""
    task, ti = context["task"], context["ti"]
    tenant, partition = _partition_of(context)
    partition = getattr(task, "alert_partition", None) or partition  # a re-check's day, not its run's
    details: tuple[str, ...] = tuple(getattr(task, "alert_details", ()) or ())
    cause: Cause = "quality_error" if details or task.task_id.endswith("data_quality") else "task_failed"
    alert = Alert(
        cause=cause,
        table=_table_of(task, ti.dag_id),
        partition=partition,
        summary=f"{ti.dag_id}.{ti.task_id}: {_first_line(context.get('exception'))}",
        tenant=getattr(task, "tenant", None) or tenant,
        details=details,
        log_url=getattr(ti, "log_url", None),
    )
    send_alert(alert, getattr(task, "lake_root", None))


def quality_outcome(
    task: Any, context: Any, report: QualityReport, table: str, tenant: str | None, partition: str
) -> None:
    """After a quality report that did not fail: alert on a trunk regression, on warnings if asked; a passing
    partition clears its earlier failure alerts (a new failure is news again)."""
    lake_root = getattr(task, "lake_root", None)
    ledger = ledger_of(lake_root)
    log_url = getattr(context.get("ti"), "log_url", None)
    warnings = [r for r in report.warnings if r.name != REGRESSION_CHECK]
    regression = [r for r in report.warnings if r.name == REGRESSION_CHECK]
    if regression:
        sentences = _details(regression[0].observed)
        _send(
            "trunk_regression", regression[0].message, sentences, table, tenant, partition, log_url, lake_root, ledger
        )
    if warnings and alerts_on_warnings():
        sentences = [f"{r.name}: {r.message}" for r in warnings]
        summary = f"{report.summary_line()}"
        _send("quality_warning", summary, sentences, table, tenant, partition, log_url, lake_root, ledger)
    if ledger is not None:
        try:
            ledger.clear(table, tenant, partition)
        except OSError as error:
            log.warning("The alert ledger could not be cleared (%s).", error)


def _details(observed: Any) -> list[str]:
    return [str(item) for item in observed] if isinstance(observed, list) else []


def _send(
    cause: Cause,
    summary: str,
    details: Iterable[str],
    table: str,
    tenant: str | None,
    partition: str,
    log_url: str | None,
    lake_root: str | None,
    ledger: Any,
) -> None:
    alert = Alert(cause, table, partition, summary, tenant, tuple(details), log_url, severity="warning")
    send_alert(alert, lake_root, ledger)


def deadline_grace() -> timedelta | None:
    """The grace after a day has settled before its run is late (``CALL_LOGS_DEADLINE_GRACE_HOURS``), None: off."""
    text = os.environ.get(DEADLINE_GRACE_ENV, "").strip()
    try:
        hours = float(text) if text else 0.0
    except ValueError:
        raise ValueError(
            f"{DEADLINE_GRACE_ENV} is {text!r}; set it to hours after the settle wait (e.g. 12), or 0 to turn the "
            "deadline off."
        ) from None
    return timedelta(hours=hours) if hours > 0 else None


def day_deadline(spec: ReportSpec, settle_hours: str | None, tenant: str | None) -> DeadlineAlert | None:
    """The DAG's deadline: its run must finish within settle hours + grace of being queued (a scheduled run is
    queued as its day ends; a backfilled one when it is created, so an old day is never late at once)."""
    grace = deadline_grace()
    if grace is None:
        return None
    settle = timedelta(hours=float(settle_hours if settle_hours is not None else _settle_hours_now(spec)))
    return DeadlineAlert(
        reference=DeadlineReference.DAGRUN_QUEUED_AT,
        interval=settle + grace,
        callback=SyncCallback(
            "call_logs.operators.alerting.deadline_missed",
            kwargs={"table": spec.table, "tenant": tenant, "settle_hours": settle.total_seconds() / 3600},
        ),
        name=f"{spec.table} day landed",
    )


def _settle_hours_now(spec: ReportSpec) -> float:
    """The report's settle hours as its wait sensor will read them (the Variable), read when the DAG is parsed with
    deadlines on; the report's default when the Variable cannot be read or is not a number."""
    name = spec.variable("settle_hours")
    try:
        return float(variable_value(name))
    except Exception as error:  # noqa: BLE001 - a deadline must not break the DAG's import
        log.warning("The deadline uses %s h: the Variable %s could not be used (%s).", spec.settle_hours, name, error)
        return float(spec.settle_hours)


def deadline_missed(context: dict[str, Any], table: str, tenant: str | None = None, **_: Any) -> None:
    """The deadline callback: the day's run has not finished by its deadline. A run that has failed already sent
    its failure alert (Airflow keeps a failed run's deadline): it is not announced twice."""
    run = context.get("dag_run") or {}
    run_id = run.get("run_id") or run.get("dag_run_id")  # the callback gets the API's run document
    if str(run.get("state")) == "failed":
        log.info("The run %s of %s failed before its deadline: its failure alert was the one alert.", run_id, table)
        return
    start = str(run.get("data_interval_start") or run.get("logical_date") or "")[:10] or "unknown day"
    deadline = (context.get("deadline") or {}).get("deadline_time")
    summary = (
        f"The run {run_id} of {run.get('dag_id')} has not finished by its deadline ({deadline}): the day "
        f"has not landed in the lake. It is {run.get('state', 'unknown')}; look at its tasks (Graph down, throttled, "
        "a failed check) or clear it once the cause is fixed."
    )
    alert = Alert("deadline_missed", table, start, summary, tenant, log_url=_run_url(run))
    send_alert(alert, variable_value(REPORTS[table].variable("lake_root")))


def _run_url(run: dict[str, Any]) -> str | None:
    from airflow.sdk.configuration import conf

    base = conf.get("api", "base_url", fallback="").rstrip("/")
    if not base or not run.get("dag_id"):
        return None
    return f"{base}/dags/{run['dag_id']}/runs/{run.get('run_id') or run.get('dag_run_id')}"
