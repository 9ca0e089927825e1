"""PSTN minute pools: the month's calls, users and minutes per license capability and usage country.

Airflow runs it once per month (of each tenant) once every day of the month passed its checks in
``pstn_calls_checked`` (partition key ``YYYY-MM``): build → data_quality, which emits ``pstn_minute_pools_monthly``.
Keep the DAG unpaused (README).
"""

from __future__ import annotations

from pathlib import Path

from call_logs.gold_pipeline import pstn_minute_pools_monthly_dag

dag = pstn_minute_pools_monthly_dag(beside=Path(__file__).parent)
