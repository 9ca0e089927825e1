"""National clouds: which Graph root, token authority and scope a connection means.

Resolution mirrors the azure provider's ``msgraph`` connection: its host (or ``base_url``) names the Graph
root; without one, its ``authority`` extra names the cloud; without either, the Global cloud.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from call_logs.graph.errors import GraphConfigError, UnsupportedCloudError


@dataclass(frozen=True)
class Cloud:
    """A Graph deployment: where data and tokens come from."""

    name: str
    graph_root: str
    authority: str

    @property
    def scope(self) -> str:
        # Always "<graph root>/.default": a Graph URL in the scope gives AADSTS500011.
        return f"{self.graph_root}/.default"


GLOBAL = Cloud("Global", "https://graph.microsoft.com", "https://login.microsoftonline.com")
US_GOV_L4 = Cloud("US Government L4 (GCC High)", "https://graph.microsoft.us", "https://login.microsoftonline.us")
US_GOV_L5 = Cloud("US Government L5 (DoD)", "https://dod-graph.microsoft.us", "https://login.microsoftonline.us")
SUPPORTED_CLOUDS = (GLOBAL, US_GOV_L4, US_GOV_L5)

# Clouds whose Graph has no call-log reports, keyed by Graph host and by login host.
_UNSUPPORTED = {
    "microsoftgraph.chinacloudapi.cn": "China (21Vianet)",
    "login.chinacloudapi.cn": "China (21Vianet)",
    "login.partner.microsoftonline.cn": "China (21Vianet)",
    "graph.microsoft.de": "Germany (retired)",
    "login.microsoftonline.de": "Germany (retired)",
}
_BY_GRAPH_HOST = {urlsplit(c.graph_root).hostname: c for c in SUPPORTED_CLOUDS}
# login.microsoftonline.us serves both US Government clouds; L4 is the default, DoD users set the host.
_BY_LOGIN_HOST = {"login.microsoftonline.com": GLOBAL, "login.microsoftonline.us": US_GOV_L4}


def _hostname(url_or_host: str) -> str:
    text = url_or_host.strip()
    if "://" not in text:
        text = f"https://{text}"
    host = urlsplit(text).hostname
    if not host:
        raise GraphConfigError(f"'{url_or_host}' is not a valid host or URL; fix the msgraph connection.")
    return host.lower()


def _refuse_unsupported(host: str) -> None:
    if host in _UNSUPPORTED:
        raise UnsupportedCloudError(
            f"Microsoft Graph in the {_UNSUPPORTED[host]} cloud has no call-log report functions, so call logs "
            "cannot be pulled there; use a tenant in the Global or US Government clouds."
        )


def _root_of(url_or_host: str) -> str:
    text = url_or_host.strip().rstrip("/")
    if "://" not in text:
        text = f"https://{text}"
    parts = urlsplit(text)
    return f"{parts.scheme}://{parts.netloc}"


def resolve_cloud(host: str | None = None, authority: str | None = None) -> Cloud:
    """Return the cloud a connection's Graph host and/or authority designate.

    A host that is not a known Graph root (the emulator, a proxy) is used as-is, with the given authority
    (or the Global one) and the scope ``<host>/.default``.
    """
    authority_host = _hostname(authority) if authority else None
    if authority_host:
        _refuse_unsupported(authority_host)
    if host:
        graph_host = _hostname(host)
        _refuse_unsupported(graph_host)
        known = _BY_GRAPH_HOST.get(graph_host)
        if known and not authority:
            return known
        base = known or Cloud("Custom", _root_of(host), GLOBAL.authority)
        return Cloud(base.name, base.graph_root, _root_of(authority) if authority else base.authority)
    if authority and authority_host:  # authority_host is only set from an authority
        known = _BY_LOGIN_HOST.get(authority_host)
        if known:
            return known
        return Cloud("Custom", GLOBAL.graph_root, _root_of(authority))
    return GLOBAL
