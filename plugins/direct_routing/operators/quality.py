"""Old path of ``call_logs.operators.quality``: the old operator checked direct routing only (no ``report``)."""

from __future__ import annotations

from typing import Any

from call_logs.operators.quality import CallLogQualityOperator

from direct_routing import deprecated_names


class DirectRoutingCallsQualityOperator(CallLogQualityOperator):
    """``CallLogQualityOperator`` whose ``report`` defaults to ``direct_routing_calls``."""

    def __init__(self, *, report: str = "direct_routing_calls", **kwargs: Any) -> None:
        super().__init__(report=report, **kwargs)


__getattr__ = deprecated_names(
    __name__,
    {
        "DirectRoutingCallsQualityOperator": (
            DirectRoutingCallsQualityOperator,
            "call_logs.operators.quality.CallLogQualityOperator(report='direct_routing_calls', …)",
        )
    },
)
del DirectRoutingCallsQualityOperator  # reachable only through __getattr__, so that taking the name warns
