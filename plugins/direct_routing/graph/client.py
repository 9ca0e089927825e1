"""Old path of ``call_logs.graph.client``: the old client read one function, getDirectRoutingCalls."""

from __future__ import annotations

from typing import Any

from call_logs.graph.client import GraphReportClient
from call_logs.reports.direct_routing import DIRECT_ROUTING

from direct_routing import deprecated_names


class DirectRoutingCallsClient(GraphReportClient):
    """``GraphReportClient`` whose ``function_path`` defaults to getDirectRoutingCalls'; its pages are ``RawPage``s."""

    def __init__(self, *, function_path: str = DIRECT_ROUTING.function_path, **kwargs: Any) -> None:
        super().__init__(function_path=function_path, **kwargs)


__getattr__ = deprecated_names(
    __name__, {"DirectRoutingCallsClient": (DirectRoutingCallsClient, "call_logs.graph.client.GraphReportClient")}
)
del DirectRoutingCallsClient  # reachable only through __getattr__, so that taking the name warns
