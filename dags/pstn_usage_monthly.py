"""PSTN cost per user and month: calls, minutes and exact charges per month, user, currency, call type and destination.

Airflow runs it once per month (of each tenant) once every day of the month passed its checks in
``pstn_calls_checked`` (partition key ``YYYY-MM``): build → data_quality, which emits ``pstn_usage_monthly``.
Keep the DAG unpaused (README).
"""

from __future__ import annotations

from pathlib import Path

from call_logs.gold_pipeline import pstn_usage_monthly_dag

dag = pstn_usage_monthly_dag(beside=Path(__file__).parent)
