"""Turn an azure-provider ``msgraph`` connection (its fields, as plain values) into a ready client.

Plain Python, so a test can build a client without Airflow. Extras read: ``tenant_id``, ``api_version``,
``authority``, ``base_url``, ``scopes``, ``certificate_path`` / ``certificate_data``, ``verify``,
``proxies``, ``allowed_hosts``, plus this project's ``requests_per_minute`` and ``rate_limit_window_s``
(the budget is ``requests_per_minute`` per ``rate_limit_window_s`` seconds, 60 by default; tests scale both).
(``disable_instance_discovery`` is accepted and always on: the authority is explicit here.)
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from call_logs.graph.auth import AppCredentials, TokenProvider, build_credential
from call_logs.graph.client import GraphReportClient
from call_logs.graph.clouds import Cloud, resolve_cloud
from call_logs.graph.errors import GraphConfigError
from call_logs.graph.throttle import RateLimiter, RetryPolicy

# Graph allows 50 requests / 60 s per collection; stay below it so retries and other readers fit.
DEFAULT_REQUESTS_PER_MINUTE = 45
API_VERSIONS = ("v1.0", "beta")


def _as_bool_or_path(value: object) -> bool | str:
    if value is None or value == "":
        return True
    if isinstance(value, bool):
        return value
    text = str(value).strip()
    if text.lower() in ("true", "1", "yes"):
        return True
    if text.lower() in ("false", "0", "no"):
        return False
    return text  # a CA bundle path


def _as_dict(value: object, name: str) -> dict | None:
    if not value:
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            raise GraphConfigError(
                f"The msgraph connection's '{name}' extra is not valid JSON; give a JSON object."
            ) from None
    if not isinstance(value, dict):
        raise GraphConfigError(f"The msgraph connection's '{name}' extra must be a JSON object.")
    return value


def _as_list(value: object) -> list[str]:
    if not value:
        return []
    items = value if isinstance(value, list | tuple) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


@dataclass(frozen=True)
class GraphSettings:
    """Everything needed to reach Graph for one connection; ``repr`` shows no secret."""

    cloud: Cloud
    api_version: str
    scope: str
    credentials: AppCredentials
    verify: bool | str = True
    proxies: dict | None = None
    allowed_hosts: tuple[str, ...] = ()
    requests_per_minute: int = DEFAULT_REQUESTS_PER_MINUTE
    rate_limit_window_s: float = 60.0

    @classmethod
    def from_connection(
        cls,
        *,
        login: str | None,
        password: str | None,
        host: str | None = None,
        schema: str | None = None,
        extras: dict | None = None,
        api_version: str | None = None,
    ) -> GraphSettings:
        extras = extras or {}
        base_url = (extras.get("base_url") or "").strip()
        version_from_url = None
        if base_url:
            parts = urlsplit(base_url if "://" in base_url else f"https://{base_url}")
            host, schema = parts.netloc, parts.scheme
            version_from_url = parts.path.strip("/") or None
        elif host and schema and "://" not in host:
            host = f"{schema}://{host}"
        cloud = resolve_cloud(host or None, extras.get("authority") or None)
        version = api_version or version_from_url or extras.get("api_version") or "v1.0"
        if version not in API_VERSIONS:
            raise GraphConfigError(f"api_version '{version}' is not supported; use 'v1.0' or 'beta'.")
        scopes = _as_list(extras.get("scopes"))
        credentials = AppCredentials(
            tenant_id=str(extras.get("tenant_id") or extras.get("tenantId") or ""),
            client_id=login or "",
            client_secret=None if (extras.get("certificate_path") or extras.get("certificate_data")) else password,
            certificate_path=extras.get("certificate_path") or None,
            certificate_data=extras.get("certificate_data") or None,
            certificate_password=password
            if (extras.get("certificate_path") or extras.get("certificate_data"))
            else None,
        )
        credentials.validate()
        rpm = int(extras.get("requests_per_minute") or DEFAULT_REQUESTS_PER_MINUTE)
        window_s = float(extras.get("rate_limit_window_s") or 60.0)
        if rpm < 1 or window_s <= 0:
            raise GraphConfigError("requests_per_minute must be at least 1 and rate_limit_window_s above 0.")
        return cls(
            cloud=cloud,
            api_version=version,
            scope=scopes[0] if scopes else cloud.scope,
            credentials=credentials,
            verify=_as_bool_or_path(extras.get("verify")),
            proxies=_as_dict(extras.get("proxies"), "proxies"),
            allowed_hosts=tuple(_as_list(extras.get("allowed_hosts"))),
            requests_per_minute=rpm,
            rate_limit_window_s=window_s,
        )

    def token_provider(self, on_new_token: Callable[[str], None] | None = None) -> TokenProvider:
        return TokenProvider(
            lambda: build_credential(
                self.credentials, authority=self.cloud.authority, verify=self.verify, proxies=self.proxies
            ),
            self.scope,
            authority=self.cloud.authority,
            on_new_token=on_new_token,
        )

    def build_client(
        self,
        function_path: str,
        *,
        on_new_token: Callable[[str], None] | None = None,
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
    ) -> GraphReportClient:
        """A client of one report function; pass ``limiter`` to share one request budget between clients."""
        return GraphReportClient(
            graph_root=self.cloud.graph_root,
            function_path=function_path,
            api_version=self.api_version,
            tokens=self.token_provider(on_new_token),
            limiter=limiter or RateLimiter(self.requests_per_minute, self.rate_limit_window_s),
            retry=retry,
            verify=self.verify,
            proxies=self.proxies,
            allowed_hosts=self.allowed_hosts,
        )
