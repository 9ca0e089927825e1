"""Old path of ``call_logs.hooks.graph_calls``: ``DirectRoutingCallsHook`` is ``CallLogsHook`` for direct routing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from call_logs.graph.client import GraphReportClient, PullStats
from call_logs.graph.throttle import RateLimiter, RetryPolicy
from call_logs.hooks.graph_calls import CallLogsHook
from call_logs.reports.direct_routing import DIRECT_ROUTING

from direct_routing import deprecated_names


class DirectRoutingCallsHook(CallLogsHook):
    """``CallLogsHook`` with the old hook's calls, which knew one report: getDirectRoutingCalls."""

    def get_conn(self, *, limiter: RateLimiter | None = None, retry: RetryPolicy | None = None) -> GraphReportClient:
        """A client of getDirectRoutingCalls (``client_for(DIRECT_ROUTING)``); its pages are ``RawPage``s."""
        return self.client_for(DIRECT_ROUTING, limiter=limiter, retry=retry)

    def iter_pages(  # type: ignore[override]  # the old call: no report argument
        self, start: datetime, end: datetime, stats: PullStats | None = None
    ) -> Iterator[list[dict]]:
        """Direct-routing rows of ``[start, end)``, one Graph page at a time, as lists of dicts like before."""
        return (page.rows() for page in super().iter_pages(DIRECT_ROUTING, start, end, stats))


__getattr__ = deprecated_names(
    __name__, {"DirectRoutingCallsHook": (DirectRoutingCallsHook, "call_logs.hooks.graph_calls.CallLogsHook")}
)
del DirectRoutingCallsHook  # reachable only through __getattr__, so that taking the name warns
