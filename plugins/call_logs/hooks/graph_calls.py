"""Airflow hook: the azure provider's ``msgraph`` connection, read for Graph's call-log reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from airflow.sdk import BaseHook

from call_logs.graph.client import GraphReportClient, PullStats
from call_logs.graph.errors import GraphConfigError
from call_logs.graph.settings import GraphSettings
from call_logs.graph.throttle import RateLimiter, RetryPolicy
from call_logs.graph.window import Window
from call_logs.reports.spec import ReportSpec


def _mask(value: str | None) -> None:
    """Register a secret with Airflow's log masker (a no-op outside a task)."""
    if not value:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        return
    mask_secret(value)


class CallLogsHook(BaseHook):
    """Pull Teams call-log reports through an ``msgraph`` connection (``msgraph_default``).

    The connection is the one the azure provider defines: login = client id, password = client secret
    (or the certificate's password), extras ``tenant_id``, ``authority``, ``api_version``, ``base_url``,
    ``certificate_path`` / ``certificate_data``, ``verify``, ``proxies``, ``allowed_hosts``, and this project's
    ``requests_per_minute``. The host (or ``base_url``) picks the national cloud.

    :param msgraph_conn_id: the Airflow connection id.
    :param api_version: overrides the connection's ``api_version`` (``v1.0`` or ``beta``).
    """

    conn_name_attr = "msgraph_conn_id"
    default_conn_name = "msgraph_default"
    conn_type = "msgraph"
    hook_name = "Microsoft Graph (call-log reports)"

    def __init__(self, msgraph_conn_id: str = default_conn_name, *, api_version: str | None = None) -> None:
        super().__init__()
        self.msgraph_conn_id = msgraph_conn_id
        self.api_version = api_version

    def get_settings(self) -> GraphSettings:
        from airflow.sdk.exceptions import AirflowNotFoundException

        try:
            conn = self.get_connection(self.msgraph_conn_id)
        except AirflowNotFoundException:
            raise GraphConfigError(
                f"There is no Airflow connection '{self.msgraph_conn_id}'; create one of type msgraph (login = client "
                "id, password = client secret, extra tenant_id) or point the DAG's *_msgraph_conn_id Variable at yours."
            ) from None
        extras: dict[str, Any] = conn.extra_dejson
        _mask(conn.password)
        _mask(extras.get("certificate_data"))
        return GraphSettings.from_connection(
            login=conn.login,
            password=conn.password,
            host=conn.host,
            schema=conn.schema,
            extras=extras,
            api_version=self.api_version,
        )

    def client_for(
        self, report: ReportSpec, *, limiter: RateLimiter | None = None, retry: RetryPolicy | None = None
    ) -> GraphReportClient:
        """A client of ``report``'s Graph function through this connection."""
        settings = self.get_settings()
        self.log.info(
            "Graph: %s cloud, %s, %s, up to %d requests per %g s",
            settings.cloud.name,
            settings.cloud.graph_root,
            settings.api_version,
            settings.requests_per_minute,
            settings.rate_limit_window_s,
        )
        return settings.build_client(report.function_path, on_new_token=_mask, limiter=limiter, retry=retry)

    def iter_pages(
        self, report: ReportSpec, start: datetime, end: datetime, stats: PullStats | None = None
    ) -> Iterator[list[dict]]:
        """Rows of ``report`` in ``[start, end)``, one Graph page at a time."""
        return self.client_for(report).iter_pages(Window(start, end), stats)

    def test_connection(self) -> tuple[bool, str]:
        """Get a token; that proves the credentials, tenant and cloud without spending the call budget."""
        try:
            self.get_settings().token_provider(on_new_token=_mask).token()
        except Exception as error:  # the UI shows the message
            return False, str(error)
        return True, "Got a Graph token for this connection."
