"""Monthly trunk health: one row per month and trunk, once every day of the month has its trunk-health partition.

Airflow runs it per month (partition key ``YYYY-MM``) of the asset ``direct_routing_trunk_health``; the scheduler
holds the run until every day of the month has arrived. Keep the DAG unpaused (README).
"""

from __future__ import annotations

from pathlib import Path

from call_logs.gold_pipeline import trunk_health_monthly_dag

dag = trunk_health_monthly_dag(beside=Path(__file__).parent)
