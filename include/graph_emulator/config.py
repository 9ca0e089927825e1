"""The emulator's settings and its fault descriptions, as plain dataclasses.

A config object is never mutated: ``GraphEmulator.configure`` swaps in a new one, so a request handler that
took a snapshot sees one consistent set of values.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = frozenset(
    {
        "throttle",
        "unavailable",
        "gateway_timeout",
        "reset",
        "truncate",
        "invalid_json",
        "foreign_next_link",
        "duplicate_rows",
        "extra_field",
        "expire_token",
        "latency",
        # Paging that cannot end: the page's nextLink is its own URL; points back to the previous page; keeps its
        # $skip (another query option makes the URL differ); is there even when no row is left.
        "loop_next_link",
        "ping_pong_next_link",
        "stuck_skip",
        "endless_next_link",
        # One row of the page (index ``position``): not an object; a startDateTime that is no timestamp; a null or
        # an absent startDateTime. A later page that repeats the previous page's last row with other values.
        "non_object_row",
        "bad_timestamp",
        "null_start",
        "absent_start",
        "conflicting_duplicate",
    }
)


@dataclass(frozen=True)
class Fault:
    """One injected failure: on the ``on_request``-th data request (once), or at random with ``rate``."""

    kind: str
    on_request: int | None = None
    rate: float | None = None
    retry_after: float | None = None
    target: str | None = None
    rows: int = 10
    seconds: float | None = None  # for ``latency``; falls back to ``retry_after``
    position: int = 0  # for the row faults: the index in the page's value list of the row made wrong

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {sorted(FAULT_KINDS)}")
        if self.on_request is None and self.rate is None:
            raise ValueError(f"fault {self.kind!r} needs on_request or rate")
        if self.kind == "foreign_next_link" and not self.target:
            raise ValueError("fault 'foreign_next_link' needs a target base URL")

    @classmethod
    def coerce(cls, value: Fault | dict[str, Any]) -> Fault:
        """A Fault from itself or from its JSON form (admin endpoint, CLI)."""
        return value if isinstance(value, Fault) else cls(**value)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes the emulator's answers; see the package docstring for the meaning of each."""

    rows_per_day: int = 5000
    seed: int = 7
    weekday_profile: bool = True
    page_size: int = 1000
    tenant_id: str = "00000000-0000-0000-0000-0000000000aa"
    client_id: str = "11111111-1111-1111-1111-111111111111"
    client_secret: str = "emulator-secret"
    client_certificate_pem: bytes | None = None
    grant_permission: bool = True
    token_lifetime_s: int = 3599
    # Graph's throttling, over a rolling window of budget_window_s (60 s on Graph; tests scale it down):
    # budget_requests per collection (50 on Graph; each report is its own collection unless
    # shared_collection), app_budget_requests over all reports (200 on Graph). budget_requests=None turns
    # throttling off altogether; app_budget_requests=None only the app budget.
    budget_requests: int | None = 50
    budget_window_s: float = 60.0
    app_budget_requests: int | None = 200
    shared_collection: bool = False
    latency_s: float = 0.0
    faults: list[Fault] = field(default_factory=list)
    retention_days: int | None = None
    host: str = "127.0.0.1"
    port: int = 0

    def __post_init__(self) -> None:
        # Accept faults in their JSON form too, and never share the caller's list.
        object.__setattr__(self, "faults", [Fault.coerce(f) for f in self.faults])
        if isinstance(self.client_certificate_pem, str):
            object.__setattr__(self, "client_certificate_pem", self.client_certificate_pem.encode())

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` applied; unknown names raise ``TypeError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown emulator setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)
