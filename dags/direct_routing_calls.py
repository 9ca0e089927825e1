"""Teams direct-routing call logs: one UTC day per run, from Microsoft Graph into a Parquet lake.

wait_for_settled_data (deferrable) → extract (Graph → ``call_date=D/part-0.parquet``, atomic) → data_quality.

A run with logical date D covers ``[D, D+1)`` UTC. Backfill months with
``airflow backfill create --dag-id direct_routing_calls --from-date 2026-06-01 --to-date 2026-08-31``.
Settings are Airflow Variables ``direct_routing_*`` (see ``call_logs/config.py`` and the README).
"""

from __future__ import annotations

from pathlib import Path

from call_logs.pipeline import daily_call_log_dags
from call_logs.reports.direct_routing import DIRECT_ROUTING

# One DAG, or one per tenant with a tenants.yaml beside this file (call_logs/tenants.py).
dags = daily_call_log_dags(
    DIRECT_ROUTING,
    description="Teams direct-routing call logs from Microsoft Graph into a daily-partitioned Parquet lake",
    doc_md=__doc__,
    beside=Path(__file__).parent,
)
globals().update(dags)
# Without a tenants file the one DAG is also `dag`, the name this module has always exported.
dag = dags.get(DIRECT_ROUTING.table)
