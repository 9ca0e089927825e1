"""Direct-routing trunk health per hour: one row per day, trunk and hour (UTC) in which calls started, for every day of
direct_routing_calls that passed its checks: NER, answer-seizure ratio, peak concurrency, top call-end reasons.

Airflow runs it per partition of the asset ``direct_routing_calls_checked`` (partition key = the day):
build → data_quality, which emits ``direct_routing_trunk_health_hourly`` for the day. Keep the DAG unpaused (README).
"""

from __future__ import annotations

from pathlib import Path

from call_logs.gold_pipeline import trunk_health_hourly_dag

dag = trunk_health_hourly_dag(beside=Path(__file__).parent)
