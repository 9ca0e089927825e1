"""Old path of ``call_logs.operators.wait``: the sensor itself is unchanged."""

from __future__ import annotations

from call_logs.operators import wait

from direct_routing import deprecated_names

__getattr__ = deprecated_names(
    __name__, {"SettledDataSensor": (wait.SettledDataSensor, "call_logs.operators.wait.SettledDataSensor")}
)
