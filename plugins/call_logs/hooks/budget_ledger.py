"""The request-budget ledger kept in an Airflow Variable: every worker, on any machine, can read it."""

from __future__ import annotations

import json
from typing import Any

LEDGER_VARIABLE = "direct_routing_graph_request_ledger"


class VariableLedgerStore:
    """``graph.ledger.LedgerStore`` backed by one JSON Airflow Variable (per msgraph connection)."""

    def __init__(self, msgraph_conn_id: str) -> None:
        self.key = f"{LEDGER_VARIABLE}__{msgraph_conn_id}"

    def load(self) -> dict[str, Any] | None:
        from airflow.sdk import Variable

        raw = Variable.get(self.key, default=None)
        try:
            return json.loads(raw) if raw else None
        except ValueError:
            return None  # unreadable: start afresh rather than fail the pull

    def save(self, document: dict[str, Any]) -> None:
        from airflow.sdk import Variable

        Variable.set(self.key, json.dumps(document), description="Graph request budget hand-over (managed)")
