"""The scenarios' Graph (an emulator process, scaled down, throttled and faulty) and the environment of a stack.

``lake_env`` points a stack at that Graph and at the lake the way a deployment does: connections and Variables
in the environment.
"""

from __future__ import annotations

import json
from pathlib import Path

from graph_emulator.connection import msgraph_connection_env
from graph_emulator.process import EmulatorProcess

# The scaled Graph: budget 20 requests / 5 s (Graph's 50/60 s), client limiter 18 / 5 s (README's 45/50).
EMULATOR_BUDGET = (20, 5.0)
CLIENT_LIMIT = 18
EMULATOR_ROWS_PER_DAY = 20_000  # weekdays need 33 pages (24 hourly slices, the busy ones 2 pages)
EMULATOR_SEED = 20261127
EMULATOR_FAULTS = [
    {"kind": "unavailable", "rate": 0.03},
    {"kind": "throttle", "rate": 0.02, "retry_after": 0.5},
    {"kind": "reset", "rate": 0.02},
    {"kind": "gateway_timeout", "rate": 0.01},
]


def start_graph_emulator(workdir: Path) -> EmulatorProcess:
    """``python -m graph_emulator serve`` with the scenarios' seed, volume, budget and random faults."""
    return EmulatorProcess(
        rows_per_day=EMULATOR_ROWS_PER_DAY,
        seed=EMULATOR_SEED,
        budget=EMULATOR_BUDGET,
        faults=EMULATOR_FAULTS,
        workdir=workdir,
    ).start()


def lake_env(emulator: EmulatorProcess, connection_string: str, container: str) -> dict[str, str]:
    """Connections and Variables exactly as a deployment would set them through the environment."""
    return {
        **msgraph_connection_env(emulator, requests_per_minute=CLIENT_LIMIT, rate_limit_window_s=EMULATOR_BUDGET[1]),
        "AIRFLOW_CONN_AZURE_LAKE": json.dumps({"conn_type": "wasb", "extra": {"connection_string": connection_string}}),
        "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": f"abfs://azure_lake@{container}/lake",
        "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": "0",
    }
