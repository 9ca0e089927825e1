"""Airflow operator: one run's day of a Graph call-log report, from Graph into its lake table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from airflow.sdk import BaseOperator, Context
from airflow.sdk.exceptions import AirflowSkipException

from call_logs import defaults
from call_logs.operators._context import lake_sink, quiet_azure_sdk, run_day, run_info
from call_logs.operators._events import emit_committed_day
from call_logs.operators._lineage import LineageMixin, extract_lineage


class CallLogToLakeOperator(LineageMixin, BaseOperator):
    """Pull the run's data interval (one UTC day) of ``report`` from Graph and replace that day atomically.

    Idempotent: the same day always lands in the same place (``call_date=YYYY-MM-DD/``); a failure anywhere
    leaves the previous day as it was. XCom carries the manifest's summary, never rows.

    :param report: the report's table name (``direct_routing_calls``); see ``call_logs.reports``.
    :param lake_root: ObjectStoragePath URL of the lake: ``file:///…`` or ``abfs://<conn_id>@<container>/<path>``.
    :param msgraph_conn_id: the azure provider ``msgraph`` connection.
    :param api_version: ``v1.0`` or ``beta``; None takes the connection's.
    :param concurrency: sub-windows paged side by side, all under the connection's one request budget.
    :param retention_days: days Graph keeps; older windows are skipped, never written (Graph answers them
        empty, which would be indistinguishable from a day without calls). None takes the report's default.
    :param table_format: ``parquet`` (Hive-style partitions).
    """

    template_fields: Sequence[str] = (
        "lake_root",
        "msgraph_conn_id",
        "api_version",
        "retention_days",
        "concurrency",
        "table_format",
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

    def execute(self, context: Context) -> dict[str, Any]:
        from call_logs.extract import extract_day, retention_skip_reason
        from call_logs.failures import to_airflow
        from call_logs.graph.ledger import budget_handover
        from call_logs.hooks.budget_ledger import VariableLedgerStore
        from call_logs.hooks.graph_calls import CallLogsHook

        quiet_azure_sdk()
        day = run_day(context)
        sink = lake_sink(self.report, self.lake_root, self.table_format)
        retention = int(self.retention_days or sink.spec.retention_days)
        skip = retention_skip_reason(day, retention, datetime.now(UTC).date())
        if skip:
            raise AirflowSkipException(skip)
        run = run_info(context)
        ledger = VariableLedgerStore(self.msgraph_conn_id, sink.spec.budget_collection)
        try:
            client = CallLogsHook(self.msgraph_conn_id, api_version=self.api_version or None).client_for(sink.spec)
            assert client.limiter is not None  # the hook always gives its clients the connection's budget
            with budget_handover(client.limiter, ledger, str(run["run_id"])):
                manifest = extract_day(client, sink, day, run=run, concurrency=int(self.concurrency))
        except Exception as error:
            raise to_airflow(error) from None  # call_logs/failures.py: fail at once unless a retry can help
        emit_committed_day(context, sink, self.lake_root, day, manifest)  # partition key = the day (assets.py)
        self._lineage_facts = extract_lineage(sink, self.lake_root, manifest, client.graph_root)  # OpenLineage
        return {
            "call_date": day.isoformat(),
            "partition": f"{self.lake_root.rstrip('/')}/{sink.spec.table}/{sink.spec.partition_column}={day}",
            "rows": manifest.rows,
            "pages": manifest.graph["pages"],
            "requests": manifest.graph["requests"],
            "sha256": manifest.file.sha256,
        }
