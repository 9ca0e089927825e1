"""Old path of ``call_logs.operators.extract``: the old operator pulled direct routing only (no ``report``)."""

from __future__ import annotations

from typing import Any

from call_logs.operators.extract import CallLogToLakeOperator

from direct_routing import deprecated_names


class DirectRoutingCallsToLakeOperator(CallLogToLakeOperator):
    """``CallLogToLakeOperator`` whose ``report`` defaults to ``direct_routing_calls``."""

    def __init__(self, *, report: str = "direct_routing_calls", **kwargs: Any) -> None:
        super().__init__(report=report, **kwargs)


__getattr__ = deprecated_names(
    __name__,
    {
        "DirectRoutingCallsToLakeOperator": (
            DirectRoutingCallsToLakeOperator,
            "call_logs.operators.extract.CallLogToLakeOperator(report='direct_routing_calls', …)",
        )
    },
)
del DirectRoutingCallsToLakeOperator  # reachable only through __getattr__, so that taking the name warns
