"""Turn an azure-provider ``msgraph`` connection (its fields, as plain values) into a ready client.

Plain Python, so a test can build a client without Airflow. Extras read: ``tenant_id`` (or ``tenantId``),
``api_version``, ``authority``, ``base_url``, ``scopes``, ``certificate_path`` / ``certificate_data``, ``verify``,
``proxies``, ``allowed_hosts``, plus this project's ``requests_per_minute`` and ``rate_limit_window_s``
(the budget is ``requests_per_minute`` per ``rate_limit_window_s`` seconds, 60 by default; tests scale both).
(``disable_instance_discovery`` and ``trust_env`` are accepted and not used: the authority is explicit here,
and environment proxies apply only when the ``proxies`` extra is absent.)

Every field is checked before any request is sent: a configuration mistake raises ``GraphConfigError`` with one
sentence naming the field and the fix. A setting that can also come from elsewhere (today the API version, from
a Variable, through the task) follows one rule: a value set explicitly there wins, else the connection's, else
the default; ``GraphSettings.sources`` says where each value came from.
"""

from __future__ import annotations

import ast
import ipaddress
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from urllib.parse import urlsplit

from call_logs.graph.auth import AppCredentials, TokenProvider, build_credential, certificate_problem
from call_logs.graph.client import GraphReportClient
from call_logs.graph.clouds import Cloud, resolve_cloud
from call_logs.graph.errors import GraphConfigError
from call_logs.graph.throttle import RateLimiter, RetryPolicy

# Graph's own budget, 50 requests / 60 s per collection: the limiter counts each request from its answer
# (``RateLimiter.slot``), never before Graph can have counted it, and retries take their slots from the same
# budget, so a pull at the full rate does not overfill Graph's window.
DEFAULT_REQUESTS_PER_MINUTE = 50
DEFAULT_WINDOW_S = 60.0
GRAPH_COLLECTION_LIMIT = (50, 60.0)  # requests, seconds
DEFAULT_API_VERSION = "v1.0"
API_VERSIONS = ("v1.0", "beta")
# Extras this project reads, and those the azure provider defines that it accepts without using.
KNOWN_EXTRAS = frozenset(
    {
        "tenant_id",
        "tenantId",
        "api_version",
        "authority",
        "base_url",
        "scopes",
        "certificate_path",
        "certificate_data",
        "verify",
        "proxies",
        "allowed_hosts",
        "requests_per_minute",
        "rate_limit_window_s",
        "disable_instance_discovery",
        "trust_env",
    }
)
PROXY_SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
_HOST_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
DEFAULT = "default"


def _valid_hostname(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    return len(host) <= 253 and all(_HOST_LABEL.match(label) for label in host.rstrip(".").split("."))


def _redact_url(url: str) -> str:
    """A proxy URL without its password: ``http://user:***@proxy:3128``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)[1]
    return parts._replace(netloc=f"{parts.username}:***@{netloc}").geturl()


class _Checker:
    """Reads one connection's fields, refusing mistakes with one sentence; collects warnings and sources."""

    def __init__(self, conn_id: str | None, extras: dict):
        self.conn = f"the msgraph connection '{conn_id}'" if conn_id else "the msgraph connection"
        self.extras = extras
        self.warnings: list[str] = []
        self.sources: dict[str, str] = {}

    def refuse(self, sentence: str) -> GraphConfigError:
        return GraphConfigError(sentence[0].upper() + sentence[1:])

    def warn(self, sentence: str) -> None:
        self.warnings.append(sentence[0].upper() + sentence[1:])

    def extra(self, name: str) -> str:
        return f"the {name} extra of {self.conn}"

    def text(self, name: str) -> str | None:
        """A string extra, stripped; None when absent or empty."""
        value = self.extras.get(name)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.refuse(f"{self.extra(name)} is {value!r}, not text; give it as a string.")
        return value.strip() or None

    # --- URLs and hosts ----------------------------------------------------------------------------------
    def https_url(self, what: str, value: str, example: str, *, bare_host_ok: bool) -> tuple[str, str]:
        """(``https://host[:port]``, path) of ``value``; a bare host is accepted only when ``bare_host_ok``."""
        text = value.strip()
        if "://" not in text:
            if not bare_host_ok:
                raise self.refuse(f"{what} is {value!r}, not an https URL; write it like {example}.")
            text = f"https://{text}"
        parts = urlsplit(text)
        if parts.scheme.lower() != "https":
            raise self.refuse(
                f"{what} is {value!r}, which is not https; Graph and its token authority are only reached over "
                f"https, write it like {example}."
            )
        try:
            port = parts.port
        except ValueError:
            port = -1
        host = parts.hostname or ""
        if not host or not _valid_hostname(host) or port == -1 or parts.username or parts.query or parts.fragment:
            raise self.refuse(f"{what} is {value!r}, which is not a valid URL; write it like {example}.")
        return f"https://{host.lower()}" + (f":{port}" if port else ""), parts.path

    def host_list(self, name: str) -> tuple[str, ...]:
        value = self.extras.get(name)
        if value is None or value == "":
            return ()
        if isinstance(value, str):
            items = value.split(",")
        elif isinstance(value, list | tuple) and all(isinstance(item, str) for item in value):
            items = list(value)
        else:
            raise self.refuse(f"{self.extra(name)} must be a comma-separated string or a list of host names.")
        hosts = tuple(item.strip().lower() for item in items if item.strip())
        for host in hosts:
            hostname, _, port = host.rpartition(":") if host.count(":") == 1 else (host, "", "")
            if "/" in host or not _valid_hostname(hostname) or (port and not port.isdigit()):
                raise self.refuse(
                    f"{self.extra(name)} lists {host!r}, which is not a host name; give bare host names such as "
                    "graph.microsoft.com (with :port if not 443), without https:// or a path."
                )
        return hosts

    # --- numbers -----------------------------------------------------------------------------------------
    def positive_number(self, name: str, default: float, *, whole: bool) -> float:
        value = self.extras.get(name)
        if value is None or value == "":
            self.sources[name] = DEFAULT
            return default
        kind = "whole number" if whole else "number"
        number = None
        if isinstance(value, int | float) and not isinstance(value, bool):
            number = float(value)
        elif isinstance(value, str):
            try:
                number = float(value.strip())
            except ValueError:
                number = None
        if number is None or not math.isfinite(number) or number <= 0 or (whole and not number.is_integer()):
            raise self.refuse(f"{self.extra(name)} is {value!r}; give a positive {kind}, or remove it for the default.")
        self.sources[name] = f"connection extra '{name}'"
        return number

    # --- files -------------------------------------------------------------------------------------------
    def read_file(self, what: str, path: str, fix: str) -> bytes:
        if not os.path.exists(path):
            raise self.refuse(f"{what} names {path}, which does not exist on this worker; {fix}.")
        if os.path.isdir(path):
            raise self.refuse(f"{what} names {path}, which is a directory; {fix}.")
        try:
            with open(path, "rb") as handle:
                return handle.read()
        except OSError as error:
            raise self.refuse(
                f"{what} names {path}, which this worker cannot read ({error.strerror or type(error).__name__}); "
                "make it readable by the user Airflow runs as."
            ) from None


# --- reading a connection, one concern each ----------------------------------------------------------------
# GraphSettings.from_connection calls these in order. Each takes the _Checker, refuses a mistake in its own
# fields with one sentence, records where each value came from (check.sources) and any doubt (check.warn),
# and returns plain values.


def _warn_unknown_extras(check: _Checker) -> None:
    """A warning naming the extras nothing here reads: most often a misspelt one, silently ignored otherwise."""
    unknown = sorted(set(check.extras) - KNOWN_EXTRAS)
    if unknown:
        check.warn(f"{check.conn} has extras this pipeline does not read ({', '.join(unknown)}); check their spelling.")


def _where_graph_is(
    check: _Checker, host: str | None, schema: str | None, api_version: str | None, api_version_origin: str
) -> tuple[Cloud, str]:
    """(cloud, API version): Graph's root and token authority, from base_url, else the host, else the authority."""
    base_url = check.text("base_url")
    authority = check.text("authority")
    version_from_url = None
    if base_url:
        graph_host, version_from_url = _graph_host_of_base_url(check, base_url)
        check.sources["graph_root"] = "connection extra 'base_url'"
    elif host and host.strip():
        graph_host = _graph_host_of_host_field(check, host, schema)
        check.sources["graph_root"] = "connection host"
    else:
        graph_host = None
        check.sources["graph_root"] = "connection extra 'authority'" if authority else DEFAULT
    authority_root = None
    if authority:
        authority_root, _ = check.https_url(
            check.extra("authority"), authority, "https://login.microsoftonline.us", bare_host_ok=True
        )
    cloud = resolve_cloud(graph_host, authority_root)
    check.sources["authority"] = "connection extra 'authority'" if authority else f"implied by the {cloud.name} cloud"
    return cloud, _api_version(check, api_version, api_version_origin, version_from_url)


def _graph_host_of_base_url(check: _Checker, base_url: str) -> tuple[str, str | None]:
    """(``https://host[:port]``, the API version in its path or None): the path may hold nothing else."""
    example = "https://graph.microsoft.com/v1.0"
    graph_host, path = check.https_url(check.extra("base_url"), base_url, example, bare_host_ok=False)
    segments = [segment for segment in path.split("/") if segment]
    if len(segments) > 1 or (segments and segments[0] not in API_VERSIONS):
        raise check.refuse(
            f"{check.extra('base_url')} is {base_url!r}; its path may only be the API version (/v1.0 or /beta), "
            f"as in {example}."
        )
    return graph_host, segments[0] if segments else None


def _graph_host_of_host_field(check: _Checker, host: str, schema: str | None) -> str:
    """``https://host[:port]`` from the connection's host field (a bare host or an https URL) and its schema."""
    if schema and schema.strip() and "://" not in host and schema.strip().lower() != "https":
        raise check.refuse(
            f"the schema of {check.conn} is {schema!r}; Graph is only served over https, set it to https or leave "
            "it empty."
        )
    graph_host, _ = check.https_url(
        f"the host of {check.conn}", host, "graph.microsoft.com or https://graph.microsoft.us", bare_host_ok=True
    )
    return graph_host


def _api_version(check: _Checker, override: str | None, override_origin: str, version_from_url: str | None) -> str:
    """The version: an explicit override, else the connection's (api_version extra, base_url), else the default."""
    extra = check.extras.get("api_version")
    if extra is not None and not isinstance(extra, str):
        raise check.refuse(f"{check.extra('api_version')} is {extra!r}; use 'v1.0' or 'beta'.")
    extra = (extra or "").strip() or None
    if extra is not None and extra not in API_VERSIONS:
        raise check.refuse(f"{check.extra('api_version')} is {extra!r}; use 'v1.0' or 'beta'.")
    if extra and version_from_url and extra != version_from_url:
        raise check.refuse(
            f"the base_url of {check.conn} ends in /{version_from_url} but its api_version extra is {extra!r}; "
            "keep one of them."
        )
    override = (override or "").strip() or None
    if override is not None:
        if override not in API_VERSIONS:
            raise check.refuse(
                f"{override_origin} is {override!r}; use 'v1.0' or 'beta', or unset it to use the connection's "
                "api_version extra."
            )
        version, check.sources["api_version"] = override, override_origin
    elif extra:
        version, check.sources["api_version"] = extra, "connection extra 'api_version'"
    elif version_from_url:
        version, check.sources["api_version"] = version_from_url, "connection extra 'base_url'"
    else:
        version, check.sources["api_version"] = DEFAULT_API_VERSION, DEFAULT
    return version


def _tenant_of_file(check: _Checker, slug: str, tenant_id: str) -> None:
    """The tenants file names the tenant; the connection's ``tenant_id`` extra must agree, or is taken from it."""
    own = check.text("tenant_id") or check.text("tenantId")
    if own is None:
        check.extras["tenant_id"] = tenant_id
        check.sources["tenant_id"] = f"the tenants file (tenant {slug})"
    elif own.lower() != tenant_id.lower():
        raise check.refuse(
            f"{check.conn} is for the Entra tenant {own}, but the tenants file says tenant {slug!r} is {tenant_id}; "
            "fix the connection's tenant_id extra or the file (a pull would put one customer's calls in another's "
            "folder)."
        )


def _credentials(check: _Checker, login: str | None, password: str | None) -> AppCredentials:
    """The app's identity: tenant, client id (login), and the password as client secret or certificate password."""
    tenant_id = check.text("tenant_id") or check.text("tenantId") or ""
    certificate_path = check.text("certificate_path")
    certificate_data = check.text("certificate_data")
    if certificate_path and certificate_data:
        raise check.refuse(
            f"{check.conn} has both a certificate_path and a certificate_data extra; keep only one of them."
        )
    uses_certificate = bool(certificate_path or certificate_data)
    credentials = AppCredentials(
        tenant_id=tenant_id,
        client_id=(login or "").strip(),
        client_secret=None if uses_certificate else password,
        certificate_path=certificate_path,
        certificate_data=certificate_data,
        certificate_password=(password or None) if uses_certificate else None,
    )
    credentials.validate()
    _check_sign_in(check, credentials)
    return credentials


def _check_sign_in(check: _Checker, credentials: AppCredentials) -> None:
    """Records how the app signs in; a certificate must be readable here and open with the connection password."""
    if credentials.certificate_path:
        path = credentials.certificate_path
        where = f"The certificate at {path} (certificate_path extra)"
        data = check.read_file(
            check.extra("certificate_path"), path, "point it at the PEM or PFX file, present on every worker"
        )
        check.sources["auth"] = "certificate (connection extra 'certificate_path')"
    elif credentials.certificate_data:
        where = f"The certificate in the certificate_data extra of {check.conn}"
        data = credentials.certificate_data.encode()
        check.sources["auth"] = "certificate (connection extra 'certificate_data')"
    else:
        check.sources["auth"] = "client secret (connection password)"
        return
    if problem := certificate_problem(data, credentials.certificate_password, where):
        raise check.refuse(problem)


def _scope(check: _Checker, cloud: Cloud) -> str:
    """The token scope: the scopes extra (exactly one, ending in /.default), else the cloud's Graph root's."""
    scopes = check.extras.get("scopes")
    if isinstance(scopes, str):
        scopes = [item.strip() for item in scopes.split(",") if item.strip()]
    if scopes in (None, ""):
        scopes = []
    if not isinstance(scopes, list) or not all(isinstance(item, str) for item in scopes):
        raise check.refuse(f"{check.extra('scopes')} must be a string such as '{cloud.scope}'.")
    if len(scopes) > 1 or (scopes and not scopes[0].endswith("/.default")):
        raise check.refuse(
            f"{check.extra('scopes')} is {check.extras.get('scopes')!r}; an application token takes exactly one "
            f"scope ending in /.default, such as '{cloud.scope}' (or remove the extra)."
        )
    check.sources["scope"] = "connection extra 'scopes'" if scopes else f"implied by {cloud.graph_root}"
    return scopes[0] if scopes else cloud.scope


def _verify(check: _Checker) -> bool | str:
    """TLS verification: true, false (with a warning) or the path of a CA bundle (PEM) or CA directory."""
    value = check.extras.get("verify")
    fix = "set it to true, false or the path of a CA bundle (PEM)"
    if value is None or value == "":
        check.sources["verify"] = DEFAULT
        return True
    check.sources["verify"] = "connection extra 'verify'"
    if isinstance(value, bool):
        verify: bool | str = value
    elif isinstance(value, str):
        text = value.strip()
        lowered = text.lower()
        verify = True if lowered in ("true", "1", "yes") else False if lowered in ("false", "0", "no") else text
    else:
        raise check.refuse(f"{check.extra('verify')} is {value!r}; {fix}.")
    if verify is False:
        check.warn(
            f"{check.extra('verify')} turns TLS verification off, so the token could be sent to an impostor; "
            "prefer the path of the CA bundle that signs the proxy's certificates."
        )
    if isinstance(verify, str):
        if os.path.isdir(verify):
            return verify  # a directory of CA certificates (c_rehash layout), as requests accepts
        data = check.read_file(check.extra("verify"), verify, f"copy the CA bundle there, or {fix}")
        if b"-----BEGIN CERTIFICATE-----" not in data:
            raise check.refuse(
                f"{check.extra('verify')} names {verify}, which holds no PEM certificate; point it at the CA "
                "bundle (PEM) that signs Graph's certificate as this network presents it."
            )
    return verify


def _proxies(check: _Checker) -> dict | None:
    """The proxies extra as requests takes it (scheme -> proxy URL); None leaves proxies to the environment."""
    value = check.extras.get("proxies")
    example = '{"https": "http://proxy.example:3128"}'
    if value is None or value == "" or value == {}:
        check.sources["proxies"] = DEFAULT
        return None
    check.sources["proxies"] = "connection extra 'proxies'"
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            try:
                value = ast.literal_eval(value)  # the azure provider accepts a Python dict literal too
            except (ValueError, SyntaxError):
                raise check.refuse(
                    f"{check.extra('proxies')} is not valid JSON; give a JSON object such as {example}."
                ) from None
    if not isinstance(value, dict):
        raise check.refuse(f"{check.extra('proxies')} must be a JSON object such as {example}.")
    proxies = {}
    for key, url in value.items():
        scheme = str(key).strip().lower().removesuffix("://")
        if scheme == "no":
            check.warn(
                f"{check.extra('proxies')} has a 'no' entry, which this pipeline does not use: every request "
                "(Graph and the token authority) goes through the proxy."
            )
            continue
        if scheme not in ("http", "https", "all") and "://" not in scheme:
            raise check.refuse(
                f"{check.extra('proxies')} has the key {key!r}; use 'https' (and 'http'), as in {example}."
            )
        parts = urlsplit(url) if isinstance(url, str) else None
        try:
            valid = bool(parts and parts.scheme.lower() in PROXY_SCHEMES and parts.hostname and parts.port != 0)
        except ValueError:
            valid = False
        if not valid:
            shown = _redact_url(url) if isinstance(url, str) else repr(url)
            raise check.refuse(
                f"{check.extra('proxies')} gives {shown!r} for {key!r}, which is not a proxy URL; write it like "
                "http://proxy.example:3128."
            )
        proxies[scheme] = url.strip()
    return proxies or None


def _allowed_hosts(check: _Checker) -> tuple[str, ...]:
    """Hosts besides the Graph root that a nextLink may point to (lower case, with :port if not 443)."""
    allowed_hosts = check.host_list("allowed_hosts")
    check.sources["allowed_hosts"] = "connection extra 'allowed_hosts'" if allowed_hosts else DEFAULT
    return allowed_hosts


def _request_budget(check: _Checker) -> tuple[int, float]:
    """(requests, window in seconds) for the limiter; a warning when that pace is above Graph's own budget."""
    rpm = int(check.positive_number("requests_per_minute", DEFAULT_REQUESTS_PER_MINUTE, whole=True))
    window_s = check.positive_number("rate_limit_window_s", DEFAULT_WINDOW_S, whole=False)
    limit, limit_window_s = GRAPH_COLLECTION_LIMIT
    if rpm / window_s > limit / limit_window_s:
        check.warn(
            f"requests_per_minute {rpm} per {window_s:g} s is above Graph's {limit} requests per "
            f"{limit_window_s:g} s per collection, so Graph will throttle the pull; lower it to "
            f"{DEFAULT_REQUESTS_PER_MINUTE} or less."
        )
    return rpm, window_s


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
    rate_limit_window_s: float = DEFAULT_WINDOW_S
    # Where each effective value came from ("default", "connection extra 'x'", a Variable...), for the log.
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    # Accepted but doubtful values, one sentence each (logged at the start of a pull, shown by test_connection).
    warnings: tuple[str, ...] = field(default=(), compare=False)

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
        api_version_origin: str = "the api_version argument",
        conn_id: str | None = None,
        tenant: tuple[str, str] | None = None,
    ) -> GraphSettings:
        """Check every field of the connection and build the settings; raises ``GraphConfigError``.

        :param api_version: a value set outside the connection (the task's, from a Variable); when not empty
            it wins over the connection's ``api_version`` extra and ``base_url``.
        :param api_version_origin: names where ``api_version`` came from, in messages and the log.
        :param tenant: (slug, Entra tenant id) the pull is for, from the tenants file: a connection without a
            ``tenant_id`` extra takes it (one multi-tenant app's connection can serve every tenant), one with
            another is refused (it would put one customer's calls in another's folder).
        """
        check = _Checker(conn_id, dict(extras or {}))
        _warn_unknown_extras(check)
        cloud, version = _where_graph_is(check, host, schema, api_version, api_version_origin)
        if tenant is not None:
            _tenant_of_file(check, *tenant)
        credentials = _credentials(check, login, password)
        scope = _scope(check, cloud)
        verify, proxies, allowed_hosts = _verify(check), _proxies(check), _allowed_hosts(check)
        requests_per_minute, window_s = _request_budget(check)
        return cls(
            cloud=cloud,
            api_version=version,
            scope=scope,
            credentials=credentials,
            verify=verify,
            proxies=proxies,
            allowed_hosts=allowed_hosts,
            requests_per_minute=requests_per_minute,
            rate_limit_window_s=window_s,
            sources=dict(check.sources),
            warnings=tuple(check.warnings),
        )

    def describe(self) -> list[tuple[str, str, str]]:
        """(setting, value, where it came from) for the log: no secret, proxy passwords redacted."""
        creds = self.credentials
        auth = "certificate" if creds.certificate_path or creds.certificate_data else "client secret"
        proxies = {k: _redact_url(v) for k, v in (self.proxies or {}).items()} or "none"
        values = [
            ("cloud", self.cloud.name, self.sources.get("graph_root", DEFAULT)),
            ("graph_root", self.cloud.graph_root, self.sources.get("graph_root", DEFAULT)),
            ("authority", self.cloud.authority, self.sources.get("authority", DEFAULT)),
            ("api_version", self.api_version, self.sources.get("api_version", DEFAULT)),
            ("tenant_id", creds.tenant_id, self.sources.get("tenant_id", "connection extra 'tenant_id'")),
            ("client_id", creds.client_id, "connection login"),
            (
                "auth",
                auth + (f" {creds.certificate_path}" if creds.certificate_path else ""),
                self.sources.get("auth", ""),
            ),
            ("scope", self.scope, self.sources.get("scope", DEFAULT)),
            ("verify", str(self.verify), self.sources.get("verify", DEFAULT)),
            ("proxies", str(proxies), self.sources.get("proxies", DEFAULT)),
            (
                "allowed_hosts",
                ", ".join(self.allowed_hosts) or "none (only the Graph host)",
                self.sources["allowed_hosts"],
            ),
            ("requests_per_minute", str(self.requests_per_minute), self.sources.get("requests_per_minute", DEFAULT)),
            ("rate_limit_window_s", f"{self.rate_limit_window_s:g}", self.sources.get("rate_limit_window_s", DEFAULT)),
        ]
        return values

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
        deadline: float | None = None,
    ) -> GraphReportClient:
        """A client of one report function; pass ``limiter`` to share one request budget between clients.

        ``deadline`` (wall-clock seconds): no retry or budget wait may end after it (the task's execution_timeout).
        """
        retry = retry or RetryPolicy()
        if deadline is not None and (retry.deadline is None or deadline < retry.deadline):
            retry = replace(retry, deadline=deadline)
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
