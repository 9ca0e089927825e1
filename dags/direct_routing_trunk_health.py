"""Direct-routing trunk health: one row per day and trunk, for every day of direct_routing_calls that passed its checks.

Airflow runs it per partition of the asset ``direct_routing_calls_checked`` (partition key = the day):
build → data_quality, which emits ``direct_routing_trunk_health`` for the day. Keep the DAG unpaused (README).
"""

from __future__ import annotations

from pathlib import Path

from call_logs.gold_pipeline import trunk_health_dag

dag = trunk_health_dag(beside=Path(__file__).parent)
