"""The carrier's view, in a lake of many tenants: per day and SBC (trunk FQDN), every tenant that used it.

Airflow runs it per day once every tenant due that day (its start_date in tenants.yaml is not after it) has a
checked day of ``direct_routing_calls``: build → data_quality, which emits ``direct_routing_sbc_health`` for the day.
Without a tenants file there is no such DAG (trunk health is the view). Keep the DAG unpaused (README).
"""

from __future__ import annotations

from pathlib import Path

from call_logs.gold_pipeline import sbc_health_dags

globals().update(sbc_health_dags(beside=Path(__file__).parent))
