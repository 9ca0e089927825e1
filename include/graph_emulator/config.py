"""The emulator's settings, its fault descriptions, its tenants and its late calls, as plain dataclasses.

A config object is never mutated: ``GraphEmulator.configure`` swaps in a new one, so a request handler that
took a snapshot sees one consistent set of values.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from graph_emulator.reports import DIRECT_ROUTING_CALLS, report_named

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


# What a tenant may set for itself (``TenantConfig``, ``EmulatorConfig.with_tenant``); everything else is the app's
# or the emulator's and the same for every tenant.
TENANT_SETTINGS = ("rows_per_day", "seed", "grant_permission")
# Authority path segments that are no directory: never a declared tenant.
RESERVED_TENANTS = frozenset({"common", "organizations", "consumers"})


def tenant_seed(tenant_id: str) -> int:
    """The data seed of a declared tenant that sets none: derived from its id, so that tenants differ."""
    return int.from_bytes(hashlib.blake2b(f"tenant:{tenant_id}".encode(), digest_size=6).digest(), "big")


@dataclass(frozen=True)
class TenantConfig:
    """One more Entra tenant where the (multi-tenant) app has been installed, beside the config's own tenant.

    ``rows_per_day`` None follows the config's ``rows_per_day``; ``seed`` None is ``tenant_seed(tenant_id)``;
    ``grant_permission`` False is admin consent never granted or revoked (tokens still issue, data answers 403).
    """

    tenant_id: str
    rows_per_day: int | None = None
    seed: int | None = None
    grant_permission: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.tenant_id, str) or not self.tenant_id or "/" in self.tenant_id:
            raise ValueError(f"a tenant needs a tenant_id without '/', not {self.tenant_id!r}")
        if self.tenant_id.lower() in RESERVED_TENANTS:
            raise ValueError(f"{self.tenant_id!r} names no directory and cannot be a tenant")

    @classmethod
    def coerce(cls, value: TenantConfig | Mapping[str, Any]) -> TenantConfig:
        """A TenantConfig from itself or from its JSON form (``{"tenant_id": ..., "grant_permission": false}``)."""
        return value if isinstance(value, TenantConfig) else cls(**value)


@dataclass(frozen=True)
class LateCalls:
    """Calls of one UTC ``day`` that a report shows only from some moment on, as Graph's reports settle late.

    ``calls`` new calls join the day (each with its own id and a start anywhere in the day, served in start
    order among the others); the calls named in ``changed`` are corrected to end ``change_s`` seconds later
    (``duration`` and ``endDateTime``; a failed direct-routing call, which has no end, its ``failureDateTime``);
    those named in ``removed`` disappear. A call is named by its ``id`` (any call of the day, a late one too) or
    by its position (int) among the day's original calls in served order.

    Of ``report`` for ``tenant`` (None: the default tenant). Visible once ``after_requests`` data requests were
    received (numbered as faults number them, over every tenant) and from the wall-clock instant
    ``visible_from``; neither: from the moment it is configured. Once visible it stays so (``reset_stats``
    does not hide it). A pull running when it shows pages on by ``$skip`` over the revised day, as Graph does:
    a row may repeat or be missed. JSON form: ``{"day": "2026-03-10", "calls": 5, "changed": ["<id>", 3],
    "removed": [7], "report": "getPstnCalls", "tenant": "<id>", "after_requests": 12, "visible_from":
    "2026-03-12T06:00:00Z"}``.
    """

    day: date
    calls: int = 0
    changed: tuple[int | str, ...] = ()
    removed: tuple[int | str, ...] = ()
    report: str = DIRECT_ROUTING_CALLS
    tenant: str | None = None
    after_requests: int | None = None
    visible_from: datetime | None = None
    change_s: int = 60

    def __post_init__(self) -> None:
        # The JSON form (strings for the day and the instant, lists for the calls) is accepted as well.
        day: date | str = self.day
        if isinstance(day, datetime):
            day = day.date()
        elif isinstance(day, str):
            day = date.fromisoformat(day)
        elif not isinstance(day, date):
            raise ValueError(f"late calls need a day (a date or 'YYYY-MM-DD'), not {day!r}")
        object.__setattr__(self, "day", day)
        moment: datetime | str | None = self.visible_from
        if isinstance(moment, str):
            moment = datetime.fromisoformat(moment)
        if moment is not None:
            moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
        object.__setattr__(self, "visible_from", moment)
        for name in ("changed", "removed"):
            calls: Iterable[int | str] = getattr(self, name)
            if isinstance(calls, str | int):
                raise ValueError(f"late calls' {name} is a list of call ids or positions, not {calls!r}")
            calls = tuple(calls)
            for call in calls:
                if isinstance(call, bool) or not isinstance(call, int | str) or (isinstance(call, int) and call < 0):
                    raise ValueError(f"a call in {name} is an id (str) or a position (int >= 0), not {call!r}")
            object.__setattr__(self, name, calls)
        for name in ("calls", "change_s"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"late calls' {name} must be an int >= 0, not {value!r}")
        if self.after_requests is not None and (isinstance(self.after_requests, bool) or self.after_requests < 0):
            raise ValueError(f"after_requests must be an int >= 0, not {self.after_requests!r}")
        object.__setattr__(self, "report", report_named(self.report).function)  # ValueError when unknown
        if self.tenant is not None and (not isinstance(self.tenant, str) or not self.tenant):
            raise ValueError(f"late calls' tenant is a tenant id or None, not {self.tenant!r}")

    @classmethod
    def coerce(cls, value: LateCalls | Mapping[str, Any]) -> LateCalls:
        """LateCalls from itself or from its JSON form (admin endpoint, CLI)."""
        return value if isinstance(value, LateCalls) else cls(**value)

    def as_json(self) -> dict[str, Any]:
        """The JSON form, the one ``coerce`` reads back."""
        return {
            "day": self.day.isoformat(),
            "calls": self.calls,
            "changed": list(self.changed),
            "removed": list(self.removed),
            "report": self.report,
            "tenant": self.tenant,
            "after_requests": self.after_requests,
            "visible_from": None if self.visible_from is None else self.visible_from.isoformat(),
            "change_s": self.change_s,
        }

    def due(self, requests_received: int, now: datetime) -> bool:
        """Whether it shows, ``requests_received`` data requests since start or reset and at ``now``."""
        if self.after_requests is not None and requests_received < self.after_requests:
            return False
        return self.visible_from is None or now >= self.visible_from


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
    # More tenants of the same app beside ``tenant_id`` (the default tenant, whose settings are the fields above).
    tenants: tuple[TenantConfig, ...] = ()
    # Calls that reach a day's report late, changed or removed (``LateCalls``), in the order they were added.
    late_calls: tuple[LateCalls, ...] = ()

    def __post_init__(self) -> None:
        # Accept faults in their JSON form too, and never share the caller's list.
        object.__setattr__(self, "faults", [Fault.coerce(f) for f in self.faults])
        if isinstance(self.client_certificate_pem, str):
            object.__setattr__(self, "client_certificate_pem", self.client_certificate_pem.encode())
        # Tenants in their JSON form (a list of objects) too; ids are compared exactly, as AAD's paths here are.
        tenants: Iterable[TenantConfig | Mapping[str, Any]] = self.tenants
        object.__setattr__(self, "tenants", tuple(TenantConfig.coerce(t) for t in tenants))
        seen = {self.tenant_id}
        for tenant in self.tenants:
            if tenant.tenant_id in seen:
                which = "the default tenant" if tenant.tenant_id == self.tenant_id else "another tenant"
                raise ValueError(f"tenant {tenant.tenant_id!r} is declared twice (it is {which})")
            seen.add(tenant.tenant_id)
        late: Iterable[LateCalls | Mapping[str, Any]] = self.late_calls
        object.__setattr__(self, "late_calls", tuple(LateCalls.coerce(entry) for entry in late))
        for entry in self.late_calls:
            if entry.tenant is not None and entry.tenant not in seen:
                raise ValueError(
                    f"late calls for unknown tenant {entry.tenant!r}; the emulator serves {', '.join(self.tenant_ids)}"
                )

    @property
    def tenant_ids(self) -> tuple[str, ...]:
        """Every tenant the app is installed in: the default tenant first, then ``tenants`` in order."""
        return (self.tenant_id, *(tenant.tenant_id for tenant in self.tenants))

    def tenant(self, tenant_id: str | None = None) -> TenantConfig:
        """The settings a tenant's requests are answered with, defaults resolved (None: the default tenant).

        ``ValueError`` for a tenant that is not declared.
        """
        if tenant_id is None or tenant_id == self.tenant_id:
            return TenantConfig(self.tenant_id, self.rows_per_day, self.seed, self.grant_permission)
        for tenant in self.tenants:
            if tenant.tenant_id == tenant_id:
                return TenantConfig(
                    tenant_id,
                    self.rows_per_day if tenant.rows_per_day is None else tenant.rows_per_day,
                    tenant_seed(tenant_id) if tenant.seed is None else tenant.seed,
                    tenant.grant_permission,
                )
        raise ValueError(f"unknown tenant {tenant_id!r}; the emulator serves {', '.join(self.tenant_ids)}")

    def with_tenant(self, tenant_id: str, **changes: Any) -> EmulatorConfig:
        """A copy with one tenant's settings (``TENANT_SETTINGS``) changed.

        For the default tenant these are the config's own fields (so a new ``rows_per_day`` also reaches the
        tenants that set none); for another, its ``TenantConfig`` entry (None: back to the default).
        """
        unknown = set(changes) - set(TENANT_SETTINGS)
        if unknown:
            raise TypeError(
                f"not a tenant's setting: {', '.join(sorted(unknown))}; a tenant sets {', '.join(TENANT_SETTINGS)}"
            )
        self.tenant(tenant_id)  # ValueError for an unknown tenant
        if tenant_id == self.tenant_id:
            unset = sorted(name for name, value in changes.items() if value is None)
            if unset:
                raise ValueError(f"the default tenant's {', '.join(unset)} cannot be None")
            return self.replace(**changes)
        tenants = tuple(
            dataclasses.replace(tenant, **changes) if tenant.tenant_id == tenant_id else tenant
            for tenant in self.tenants
        )
        return self.replace(tenants=tenants)

    def replace(self, **changes: Any) -> EmulatorConfig:
        """A copy with ``changes`` applied; unknown names raise ``TypeError``."""
        names = {f.name for f in dataclasses.fields(self)}
        unknown = set(changes) - names
        if unknown:
            raise TypeError(f"unknown emulator setting(s): {', '.join(sorted(unknown))}")
        return dataclasses.replace(self, **changes)
