"""Airflow hook: the azure provider's ``msgraph`` connection, read for Graph's call-log reports."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from airflow.sdk import BaseHook

from call_logs.graph.client import GraphReportClient, PullStats, RawPage
from call_logs.graph.errors import GraphConfigError
from call_logs.graph.settings import GraphSettings
from call_logs.graph.throttle import RateLimiter, RetryPolicy
from call_logs.graph.window import Window
from call_logs.reports.spec import ReportSpec


def _task_deadline() -> float | None:
    """When the running task's execution_timeout runs out (wall-clock seconds); None outside a task or without one.

    Counted from the try's start, which is a little before Airflow starts its own timer: the client gives up
    with its own message just before Airflow would kill the task.
    """
    try:
        from airflow.sdk import get_current_context

        ti = get_current_context()["ti"]
    except Exception:  # not in a running task (a test, the CLI, test_connection)
        return None
    timeout = getattr(getattr(ti, "task", None), "execution_timeout", None)
    started = getattr(ti, "start_date", None)
    if not timeout or started is None:
        return None
    return started.timestamp() + timeout.total_seconds()


def _mask(value: str | None) -> None:
    """Register a secret with Airflow's log masker (a no-op outside a task)."""
    if not value:
        return
    try:
        from airflow.sdk.log import mask_secret
    except ImportError:
        return
    mask_secret(value)


def _proxy_password(url: object) -> str | None:
    if not isinstance(url, str):
        return None
    try:
        return urlsplit(url).password
    except ValueError:
        return None


class CallLogsHook(BaseHook):
    """Pull Teams call-log reports through an ``msgraph`` connection (``msgraph_default``).

    The connection is the one the azure provider defines: login = client id, password = client secret
    (or the certificate's password), extras ``tenant_id``, ``authority``, ``api_version``, ``base_url``,
    ``certificate_path`` / ``certificate_data``, ``verify``, ``proxies``, ``allowed_hosts``, and this project's
    ``requests_per_minute``. The host (or ``base_url``) picks the national cloud.

    :param msgraph_conn_id: the Airflow connection id.
    :param api_version: set (not empty), wins over the connection's ``api_version`` extra and ``base_url``
        (``v1.0`` or ``beta``); empty or None leaves the choice to the connection, else ``v1.0``.
    :param api_version_origin: where ``api_version`` comes from, for messages and the settings log.
    :param tenant: (slug, Entra tenant id) of the tenant this connection is used for, in a deployment of many
        tenants: a connection without a ``tenant_id`` extra takes it, one with another tenant is refused.
    """

    conn_name_attr = "msgraph_conn_id"
    default_conn_name = "msgraph_default"
    conn_type = "msgraph"
    hook_name = "Microsoft Graph (call-log reports)"

    def __init__(
        self,
        msgraph_conn_id: str = default_conn_name,
        *,
        api_version: str | None = None,
        api_version_origin: str = "the api_version argument",
        tenant: tuple[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.msgraph_conn_id = msgraph_conn_id
        self.api_version = api_version
        self.api_version_origin = api_version_origin
        self.tenant = tenant

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
        proxies = extras.get("proxies")
        for url in proxies.values() if isinstance(proxies, dict) else ():
            _mask(_proxy_password(url))
        return GraphSettings.from_connection(
            login=conn.login,
            password=conn.password,
            host=conn.host,
            schema=conn.schema,
            extras=extras,
            api_version=self.api_version,
            api_version_origin=self.api_version_origin,
            conn_id=self.msgraph_conn_id,
            tenant=self.tenant,
        )

    def client_for(
        self,
        report: ReportSpec,
        *,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        deadline: float | None = None,
    ) -> GraphReportClient:
        """A client of ``report``'s Graph function through this connection, checked and logged first.

        :param deadline: wall-clock seconds no retry or budget wait may pass; by default the running task's
            execution_timeout (none outside a task, or without one).
        """
        settings = self.get_settings()
        self.log_settings(settings)
        deadline = deadline if deadline is not None else _task_deadline()
        if deadline is not None:
            self.log.info("Graph: every wait of this pull ends before the task's execution_timeout")
        return settings.build_client(
            report.function_path, on_new_token=_mask, limiter=limiter, retry=retry, deadline=deadline
        )

    def log_settings(self, settings: GraphSettings) -> None:
        """The effective settings and where each came from (never a secret), then any warning."""
        self.log.info("Graph settings of connection '%s' (setting = value  [from]):", self.msgraph_conn_id)
        for name, value, origin in settings.describe():
            self.log.info("  %s = %s  [%s]", name, value, origin)
        for warning in settings.warnings:
            self.log.warning("%s", warning)

    def iter_pages(
        self, report: ReportSpec, start: datetime, end: datetime, stats: PullStats | None = None
    ) -> Iterator[RawPage]:
        """Rows of ``report`` in ``[start, end)``, one Graph page at a time (``page.rows()``: the rows as dicts)."""
        return self.client_for(report).iter_pages(Window(start, end), stats)

    def test_connection(self) -> tuple[bool, str]:
        """Check the connection as a pull would, then get a token: credentials, tenant and cloud, no call budget.

        The message is the sentence a task would fail with; on success, any warning follows.
        """
        try:
            settings = self.get_settings()
            settings.token_provider(on_new_token=_mask).token()
        except Exception as error:  # the UI shows the message
            return False, str(error)
        return True, " ".join(["Got a Graph token for this connection.", *settings.warnings])
