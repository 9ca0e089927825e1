"""Alerts: what happened, to which table, tenant and day, in one short message; sent at most once per cause.

An ``Alert`` is plain data: a cause, the table, the tenant (in a lake of many), the partition (a day, or a month),
the one sentence the task logged, a few details (failed checks, a trunk's figures) and a link to the task's log.
Its text never carries a secret, a token or a raw personal value: the sentences it is made of are the pipeline's
own, which already never do (pseudonymised columns are tokens in the lake), and the Airflow edge passes them through
Airflow's secrets masker before sending (``hooks/alerts.py``).

``AlertLedger`` de-duplicates: one alert per cause, table, tenant and partition, however many retries, checks or
re-runs report it, kept as one small JSON file per partition under ``<lake_root>/_alerts/`` (no reader of a table
looks there). A day that later passes its checks clears its failure causes, so a new failure of it alerts again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import fsspec

from call_logs.utc import format_utc

Cause = Literal["task_failed", "quality_error", "quality_warning", "deadline_missed", "trunk_regression"]
CAUSES: dict[str, str] = {
    "task_failed": "a task failed after its retries",
    "quality_error": "the partition failed its quality checks",
    "quality_warning": "the partition passed with quality warnings",
    "deadline_missed": "the day has not landed by its deadline",
    "trunk_regression": "a trunk's network effectiveness or answer-seizure ratio fell below its 28-day median",
}
# Causes a later success of the same partition clears: the day was fixed, a new failure is news again.
CLEARED_BY_SUCCESS: tuple[str, ...] = ("task_failed", "quality_error", "deadline_missed")
ALERTS_FOLDER = "_alerts"
MAX_DETAILS = 10


@dataclass(frozen=True)
class Alert:
    """One thing someone should hear about."""

    cause: Cause
    table: str
    partition: str  # the day (YYYY-MM-DD) or month (YYYY-MM)
    summary: str  # the one sentence the task logged
    tenant: str | None = None
    details: tuple[str, ...] = ()
    log_url: str | None = None
    severity: Literal["failure", "warning"] = "failure"

    @property
    def key(self) -> tuple[str, str, str | None, str]:
        return self.cause, self.table, self.tenant, self.partition

    @property
    def title(self) -> str:
        where = self.table if self.tenant is None else f"{self.table} · tenant {self.tenant}"
        return f"Call logs: {where} {self.partition}: {CAUSES[self.cause]}"

    @property
    def body(self) -> str:
        lines = [self.summary]
        lines += [f"- {detail}" for detail in self.details[:MAX_DETAILS]]
        if len(self.details) > MAX_DETAILS:
            lines.append(f"- … and {len(self.details) - MAX_DETAILS} more")
        if self.log_url:
            lines.append(f"Log: {self.log_url}")
        return "\n".join(lines)


@dataclass
class AlertLedger:
    """The alerts already sent, per partition, under ``<root>/_alerts/<table>/[tenant=<slug>/]<partition>.json``."""

    fs: fsspec.AbstractFileSystem
    root: str
    now: Any = field(default=lambda: datetime.now(UTC))

    def _path(self, table: str, tenant: str | None, partition: str) -> str:
        level = f"tenant={tenant}/" if tenant else ""
        return f"{self.root.rstrip('/')}/{ALERTS_FOLDER}/{table}/{level}{partition}.json"

    def _read(self, path: str) -> dict[str, Any]:
        try:
            with self.fs.open(path, "rb") as handle:
                document = json.load(handle)
        except FileNotFoundError:
            return {}
        return document if isinstance(document, dict) else {}

    def _write(self, path: str, document: dict[str, Any]) -> None:
        self.fs.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        with self.fs.open(path, "wb") as handle:
            handle.write(json.dumps(document, indent=1, sort_keys=True).encode())

    def already_sent(self, alert: Alert) -> bool:
        return alert.cause in self._read(self._path(alert.table, alert.tenant, alert.partition))

    def record(self, alert: Alert) -> None:
        path = self._path(alert.table, alert.tenant, alert.partition)
        document = self._read(path)
        document[alert.cause] = {"sent_at": format_utc(self.now()), "summary": alert.summary}
        self._write(path, document)

    def clear(
        self, table: str, tenant: str | None, partition: str, causes: tuple[str, ...] = CLEARED_BY_SUCCESS
    ) -> None:
        """Forget ``causes`` of a partition that has since succeeded."""
        path = self._path(table, tenant, partition)
        document = self._read(path)
        kept = {cause: sent for cause, sent in document.items() if cause not in causes}
        if kept != document:
            self._write(path, kept)
