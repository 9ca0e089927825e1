"""Teams PSTN call logs (Calling Plans, Operator Connect): one UTC day per run, from Microsoft Graph into the lake.

wait_for_settled_data (deferrable) → extract (``getPstnCalls`` → ``pstn_calls/call_date=D/``, atomic) → data_quality.

A run with logical date D covers ``[D, D+1)`` UTC; Graph's inclusive ``toDateTime`` is filtered away, so a call
starting at midnight belongs to the next day only. Settings are Airflow Variables ``pstn_calls_*``; the lake root
and the msgraph connection fall back to ``direct_routing_lake_root`` and ``direct_routing_msgraph_conn_id``.
"""

from __future__ import annotations

from pathlib import Path

from call_logs.pipeline import daily_call_log_dags
from call_logs.reports.pstn import PSTN

# One DAG, or one per tenant with a tenants.yaml beside this file (call_logs/tenants.py).
dags = daily_call_log_dags(
    PSTN,
    description="Teams PSTN call logs (with charges) from Microsoft Graph into a daily-partitioned lake",
    doc_md=__doc__,
    beside=Path(__file__).parent,
)
globals().update(dags)
# Without a tenants file the one DAG is also `dag`, the name this module has always exported.
dag = dags.get(PSTN.table)
