"""Airflow operator: one run's day of direct-routing call logs, from Graph into a lake partition."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowSkipException

from call_logs.operators._context import lake_location, quiet_azure_sdk, run_day


class DirectRoutingCallsToLakeOperator(BaseOperator):
    """Pull the run's data interval (one UTC day) from Graph and replace its Parquet partition atomically.

    Idempotent: the same day always lands in ``call_date=YYYY-MM-DD/part-0.parquet``; a failure anywhere leaves
    the previous partition as it was. XCom carries the manifest's summary, never rows.

    :param lake_root: ObjectStoragePath URL of the lake: ``file:///…`` or ``abfs://<conn_id>@<container>/<path>``.
    :param msgraph_conn_id: the azure provider ``msgraph`` connection.
    :param api_version: ``v1.0`` or ``beta``; None takes the connection's.
    :param concurrency: sub-windows (hours) paged side by side, all under the connection's one request budget.
    :param retention_days: windows older than this are skipped, never written: Graph returns them empty, which
        would be indistinguishable from a day without calls.
    """

    template_fields: Sequence[str] = ("lake_root", "msgraph_conn_id", "api_version", "retention_days", "concurrency")

    def __init__(
        self,
        *,
        lake_root: str,
        msgraph_conn_id: str = "msgraph_default",
        api_version: str | None = None,
        retention_days: int | str = 150,
        concurrency: int | str = 4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.lake_root = lake_root
        self.msgraph_conn_id = msgraph_conn_id
        self.api_version = api_version
        self.retention_days = retention_days
        self.concurrency = concurrency

    def execute(self, context: Any) -> dict[str, Any]:
        from call_logs.extract import extract_day
        from call_logs.failures import to_airflow
        from call_logs.graph.ledger import budget_handover
        from call_logs.hooks.budget_ledger import VariableLedgerStore
        from call_logs.hooks.graph_calls import DirectRoutingCallsHook
        from call_logs.lake.layout import partition_path
        from call_logs.lake.partition import read_manifest

        quiet_azure_sdk()
        day = run_day(context)
        oldest = datetime.now(UTC).date() - timedelta(days=int(self.retention_days))
        if day < oldest:
            raise AirflowSkipException(
                f"call_date={day} is older than the {self.retention_days}-day retention of Graph's call records "
                f"(oldest kept: {oldest}); Graph would answer with an empty day, so nothing is written."
            )
        fs, root = lake_location(self.lake_root)
        hook = DirectRoutingCallsHook(self.msgraph_conn_id, api_version=self.api_version or None)
        ti = context.get("ti")
        run = {
            "dag_id": getattr(ti, "dag_id", None),
            "run_id": context.get("run_id"),
            "task_id": getattr(ti, "task_id", None),
            "try_number": getattr(ti, "try_number", None),
        }
        previous = read_manifest(fs, root, day - timedelta(days=1)) or {}
        try:
            client = hook.get_conn()
            with budget_handover(client.limiter, VariableLedgerStore(self.msgraph_conn_id), str(run["run_id"])):
                manifest = extract_day(
                    client,
                    day,
                    fs,
                    root,
                    run=run,
                    concurrency=int(self.concurrency),
                    expected_rows_per_hour=previous.get("source", {}).get("rows_per_hour"),
                )
        except Exception as error:
            raise to_airflow(error) from None  # call_logs/failures.py: fail at once unless a retry can help
        return {
            "call_date": day.isoformat(),
            "partition": f"{self.lake_root.rstrip('/')}/{partition_path('', day).lstrip('/')}",
            "rows": manifest["rows"],
            "pages": manifest["graph"]["pages"],
            "requests": manifest["graph"]["requests"],
            "sha256": manifest["file"]["sha256"],
        }
