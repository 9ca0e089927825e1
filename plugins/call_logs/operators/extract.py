"""Airflow operator: one run's day of a Graph call-log report, from Graph into its lake table."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

from call_logs import defaults
from call_logs.assets import partition_url
from call_logs.config import PSEUDONYMISATION_CONN_ID
from call_logs.extract import extract_day, retention_skip_reason
from call_logs.graph.client import GraphReportClient
from call_logs.graph.ledger import budget_handover
from call_logs.hooks.budget_ledger import VariableLedgerStore
from call_logs.hooks.graph_calls import CallLogsHook
from call_logs.lake.manifest import Manifest
from call_logs.lake.prepare import BAD_ROWS
from call_logs.lake.pseudonymise import Pseudonymiser, check_pseudonymisable
from call_logs.operators._context import (
    airflow_errors,
    pseudonymiser_for,
    quiet_azure_sdk,
    report_sink,
    run_day,
    run_info,
)
from call_logs.operators._events import emit_committed_day
from call_logs.operators._lineage import LineageMixin, extract_lineage
from call_logs.reports import REPORTS
from call_logs.reports.spec import ReportSpec
from call_logs.sinks import ReportSink


class CallLogToLakeOperator(LineageMixin, BaseOperator):
    """Pull the run's data interval (one UTC day) of ``report`` from Graph and replace that day atomically.

    Idempotent: the same day always lands in the same place (``call_date=YYYY-MM-DD/``); a failure anywhere
    leaves the previous day as it was. XCom carries the manifest's summary, never rows.

    :param report: the report's table name, a key of ``call_logs.reports.REPORTS``.
    :param lake_root: ObjectStoragePath URL of the lake: ``file:///…`` or ``abfs://<conn_id>@<container>/<path>``.
    :param msgraph_conn_id: the azure provider ``msgraph`` connection.
    :param api_version: ``v1.0`` or ``beta``; None takes the connection's.
    :param concurrency: sub-windows paged side by side, all under the connection's one request budget.
    :param retention_days: days Graph keeps; older windows are skipped, never written (Graph answers them
        empty, which would be indistinguishable from a day without calls). None takes the report's default.
    :param table_format: ``parquet`` (Hive-style partitions) or ``delta`` (one Delta table, a version per day).
    :param pseudonymised_columns: comma-separated columns written as keyed tokens (empty: none); the key is the
        password of the connection ``pseudonymisation_conn_id`` and a missing one fails the task before any request.
    :param pseudonymisation_conn_id: the connection holding that key.
    :param bad_rows: what a row Graph sent that does not convert does: ``fail`` the day (the default), or
        ``quarantine`` it beside the day and keep the others (``lake/prepare.py``).
    :param tenant: in a deployment of many tenants, the tenant's slug (its days go under ``tenant=<slug>/``, its
        events are keyed ``<slug>|YYYY-MM-DD``) ...
    :param tenant_id: ... and its Entra tenant id, which the connection must be for (``tenants.py``).
    :param time_zone: ... and the IANA zone its working day follows, which shapes a first run's slices.
    """

    template_fields: Sequence[str] = (
        "lake_root",
        "msgraph_conn_id",
        "api_version",
        "retention_days",
        "concurrency",
        "table_format",
        "pseudonymised_columns",
        "bad_rows",
    )

    def __init__(
        self,
        *,
        report: str,
        lake_root: str,
        msgraph_conn_id: str = defaults.MSGRAPH_CONN_ID,
        api_version: str | None = None,
        retention_days: int | str | None = None,
        concurrency: int | str = defaults.GRAPH_CONCURRENCY,
        table_format: str = defaults.TABLE_FORMAT,
        pseudonymised_columns: str = "",
        pseudonymisation_conn_id: str = PSEUDONYMISATION_CONN_ID,
        bad_rows: str = defaults.BAD_ROWS,
        tenant: str | None = None,
        tenant_id: str | None = None,
        time_zone: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.report = report
        self.lake_root = lake_root
        self.msgraph_conn_id = msgraph_conn_id
        self.api_version = api_version
        self.retention_days = retention_days
        self.concurrency = concurrency
        self.table_format = table_format
        self.pseudonymised_columns = pseudonymised_columns
        self.pseudonymisation_conn_id = pseudonymisation_conn_id
        self.bad_rows = bad_rows
        self.tenant = tenant
        self.tenant_id = tenant_id
        self.time_zone = time_zone

    def execute(self, context: Context) -> dict[str, Any]:
        quiet_azure_sdk()
        day = run_day(context)
        with airflow_errors():  # call_logs/failures.py: fail at once unless a retry can help
            sink, pseudonymiser = self._sink()
            retention = int(self.retention_days or sink.spec.retention_days)
            skip = retention_skip_reason(day, retention, datetime.now(UTC).date())
            if skip:
                raise AirflowSkipException(skip)
            with self._graph(context, sink.spec) as (client, run):
                manifest = extract_day(client, sink, day, run=run, pseudonymiser=pseudonymiser, **self._pull_options())
        emit_committed_day(context, sink, self.lake_root, day, manifest)  # partition key = the day (assets.py)
        self._lineage_facts = extract_lineage(sink, self.lake_root, manifest, client.graph_root)  # OpenLineage
        return self._summary(sink, day, manifest)

    def _sink(self) -> tuple[ReportSink, Pseudonymiser | None]:
        """The report's sink and the run's pseudonymiser; a wrong setting fails the task before any request."""
        sink = report_sink(self.report, self.lake_root, self.table_format, self.tenant)
        if self.bad_rows not in BAD_ROWS:
            raise AirflowFailException(
                f"The Variable {sink.spec.variable('bad_rows')} is {self.bad_rows!r}; use 'fail' or 'quarantine'."
            )
        return sink, self._pseudonymiser(sink.spec)

    @contextmanager
    def _graph(self, context: Context, spec: ReportSpec) -> Iterator[tuple[GraphReportClient, dict[str, Any]]]:
        """A Graph client of the report under the connection's budget, handed over between tasks (``budget_handover``),
        and the run's description for the manifest."""
        run = run_info(context)
        ledger = VariableLedgerStore(self.msgraph_conn_id, spec.budget_collection, self.tenant)
        hook = CallLogsHook(
            self.msgraph_conn_id,
            api_version=self.api_version or None,
            api_version_origin=f"the task's api_version (Variable {spec.variable('api_version')})",
            tenant=(self.tenant, self.tenant_id) if self.tenant and self.tenant_id else None,
        )
        client = hook.client_for(spec)
        assert client.limiter is not None  # the hook always gives its clients the connection's budget
        with budget_handover(client.limiter, ledger, str(run["run_id"])):
            yield client, run

    def _pull_options(self) -> dict[str, Any]:
        return {
            "concurrency": int(self.concurrency),
            "bad_rows": self.bad_rows,  # checked against BAD_ROWS by _sink
            "tenant": {"slug": self.tenant, "tenant_id": self.tenant_id or ""} if self.tenant else None,
            "time_zone": self.time_zone,
        }

    def _summary(self, sink: ReportSink, day: date, manifest: Manifest) -> dict[str, Any]:
        """The task's XCom: where the day went and what it cost, never rows."""
        return {
            "call_date": day.isoformat(),
            "partition": partition_url(self.lake_root, sink.spec.table, sink.spec.partition_column, day, self.tenant),
            "table_format": sink.table_format,
            "rows": manifest.rows,
            "pages": manifest.graph["pages"],
            "requests": manifest.graph["requests"],
            "sha256": manifest.file.sha256,
        }

    def _pseudonymiser(self, spec: ReportSpec) -> Pseudonymiser | None:
        """The run's pseudonymiser (None when no column is listed); fails the task on a missing key or a listed
        non-text column, before any request."""
        pseudonymiser = pseudonymiser_for(self.pseudonymised_columns, self.pseudonymisation_conn_id, self.tenant)
        if pseudonymiser is None:
            return None
        check_pseudonymisable(spec, pseudonymiser)
        known = {name for report in REPORTS.values() for name in report.schema.names}
        for name in sorted(pseudonymiser.columns - known):
            self.log.warning(
                "The pseudonymised column %r is in no report's schema: it is pseudonymised only where Graph sends it "
                "as an unknown property (in additionalProperties); check its spelling.",
                name,
            )
        self.log.info(
            "Pseudonymising %s of %s (key fingerprint %s)",
            ", ".join(sorted(pseudonymiser.columns & set(spec.schema.names))) or "no column",
            spec.table,
            pseudonymiser.fingerprint,
        )
        return pseudonymiser
