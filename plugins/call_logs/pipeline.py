"""The daily DAG every report gets: wait_for_settled_data → extract → data_quality, then recheck → recheck_quality
(late calls of an older day, off by default), its settings from Variables.

A run with logical date D covers ``[D, D+1)`` UTC (``CronDataIntervalTimetable``); a DAG file names its report
and calls ``daily_call_log_dags``: one DAG, or one per tenant when a tenants file lies beside the DAG files.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import DAG, Asset, CronDataIntervalTimetable, TriggerRule, get_parsing_context

from call_logs import defaults
from call_logs.assets import checked_asset_name
from call_logs.config import PSEUDONYMISED_COLUMNS, settled_at, template, tenants_file
from call_logs.operators.alerting import day_deadline, on_task_failure
from call_logs.operators.extract import CallLogToLakeOperator
from call_logs.operators.quality import CallLogQualityOperator
from call_logs.operators.recheck import CallLogRecheckOperator
from call_logs.operators.wait import SettledDataSensor
from call_logs.reports.spec import ReportSpec
from call_logs.tenants import Tenant, load_tenants

START = datetime(2025, 1, 1, tzinfo=UTC)
DEFAULT_ARGS = {
    "retries": 3,
    "retry_delay": timedelta(minutes=5),
    "retry_exponential_backoff": True,
    "max_retry_delay": timedelta(hours=1),
    "on_failure_callback": on_task_failure,  # after the last retry only: one alert (operators/alerting.py)
}


def tenant_dag_id(table: str, slug: str) -> str:
    """The DAG of one tenant's report: ``<table>__<slug>`` (``direct_routing_calls__contoso``)."""
    return f"{table}__{slug}"


def daily_call_log_dags(spec: ReportSpec, *, description: str, doc_md: str | None, beside: Path) -> dict[str, DAG]:
    """The report's DAGs, by id: its one DAG (id = its table) without a tenants file beside the DAG files, as
    deployments of one tenant have always had; one per tenant that pulls the report with one (``tenants.py``).

    A task's own parse (``get_parsing_context().dag_id`` set) builds only its DAG: 500 tenants cost the scheduler's
    DAG processor one parse, not every task.
    """
    tenants = load_tenants(tenants_file(beside))
    if tenants is None:
        return {spec.table: daily_call_log_dag(spec, description=description, doc_md=doc_md)}
    wanted = get_parsing_context().dag_id
    dags = {}
    for tenant in tenants.pulling(spec.table):
        dag_id = tenant_dag_id(spec.table, tenant.slug)
        if wanted is None or wanted == dag_id:
            dags[dag_id] = daily_call_log_dag(spec, description=description, doc_md=doc_md, tenant=tenant)
    return dags


def daily_call_log_dag(
    spec: ReportSpec, *, description: str, doc_md: str | None = None, tenant: Tenant | None = None
) -> DAG:
    """The report's DAG (id = its table name) writing its table and emitting its asset; with ``tenant``, the DAG of
    that tenant's days (``tenant_dag_id``), its settings overridden where the tenants file says so.

    A tenant's pulls run beside other tenants' (Graph's budgets are per tenant): not in the report's one-slot pool,
    which would queue every tenant behind one, but one at a time per tenant and report (``max_active_tis_per_dag``).
    """

    def setting(name: str) -> str:
        own = tenant.setting(spec.table, name) if tenant else None
        return template(spec.variable(name)) if own is None else own

    lake_root = template(spec.variable("lake_root"))
    table_format = template(spec.variable("table_format"))
    columns = tenant.pseudonymised_columns if tenant else None
    with DAG(
        dag_id=spec.table if tenant is None else tenant_dag_id(spec.table, tenant.slug),
        dag_display_name=spec.table if tenant is None else f"{spec.table} · {tenant.slug}",
        description=description if tenant is None else f"{description}: tenant {tenant.slug}",
        schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
        start_date=START if tenant is None or tenant.start_date is None else _midnight(tenant.start_date),
        catchup=False,
        max_active_runs=4,
        default_args=DEFAULT_ARGS,
        deadline=day_deadline(
            spec, tenant.setting(spec.table, "settle_hours") if tenant else None, tenant.slug if tenant else None
        ),
        doc_md=doc_md,
        tags=["msgraph", "teams", "lake", *([f"tenant:{tenant.slug}"] if tenant else [])],
    ) as dag:
        wait_for_settled_data = SettledDataSensor(
            task_id="wait_for_settled_data",
            target_time=settled_at(spec, tenant.setting(spec.table, "settle_hours") if tenant else None),
        )
        pull: dict[str, Any] = {
            "report": spec.table,
            "lake_root": lake_root,
            "msgraph_conn_id": template(spec.variable("msgraph_conn_id")) if tenant is None else tenant.msgraph_conn_id,
            "api_version": setting("api_version"),
            "retention_days": setting("retention_days"),
            "concurrency": setting("graph_concurrency"),
            "table_format": table_format,
            "pseudonymised_columns": template(PSEUDONYMISED_COLUMNS) if columns is None else columns,
            "bad_rows": setting("bad_rows"),
            "tenant": tenant.slug if tenant else None,
            "tenant_id": tenant.tenant_id if tenant else None,
            "time_zone": tenant.time_zone if tenant else None,
            "execution_timeout": timedelta(hours=defaults.EXTRACT_TIMEOUT_HOURS),
            "outlets": [Asset(name=spec.table)],
            **({"pool": spec.pool} if tenant is None else {"max_active_tis_per_dag": 1}),
        }
        extract = CallLogToLakeOperator(task_id="extract", **pull)
        quality: dict[str, Any] = {
            "report": spec.table,
            "lake_root": lake_root,
            "volume_deviation": setting("dq_volume_deviation"),
            "zero_rows_severity": setting("dq_zero_rows_severity"),
            "quarantine_severity": setting("dq_quarantine_severity"),
            "table_format": table_format,
            "tenant": tenant.slug if tenant else None,
            "retries": 0,
            "outlets": [Asset(name=checked_asset_name(spec.table))],  # only days that passed: consumers wait on it
        }
        data_quality = CallLogQualityOperator(task_id="data_quality", **quality)
        # Late calls: the day recheck_days before this one, pulled again once its stored version is that old; a
        # changed day is replaced and checked again (its gold rebuilds), an unchanged one skips both tasks.
        recheck = CallLogRecheckOperator(
            task_id="recheck",
            recheck_days=setting("recheck_days"),
            settle_hours=setting("settle_hours"),
            trigger_rule=TriggerRule.ALL_DONE,  # after the run's own pull, whatever its outcome: never beside it
            **pull,
        )
        recheck_quality = CallLogQualityOperator(
            task_id="recheck_quality", days_back=setting("recheck_days"), **quality
        )
        wait_for_settled_data >> extract >> data_quality
        extract >> recheck >> recheck_quality
    return dag


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
