"""The request-budget ledger kept in an Airflow Variable: every worker, on any machine, can read it."""

from __future__ import annotations

import json
from typing import Any

LEDGER_VARIABLE = "call_logs_graph_request_ledger"


class VariableLedgerStore:
    """``graph.ledger.LedgerStore`` backed by one JSON Airflow Variable per Graph collection and msgraph connection.

    Graph counts 50 requests / 60 s per collection (each report function is its own by default) and per tenant:
    pulls of one tenant's collection through one app hand their budget over; other collections and other tenants
    (``tenant``: its slug, when one connection serves several) keep their own.
    """

    def __init__(self, msgraph_conn_id: str, collection: str, tenant: str | None = None) -> None:
        self.key = f"{LEDGER_VARIABLE}__{collection}__{msgraph_conn_id}" + (f"__{tenant}" if tenant else "")

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
