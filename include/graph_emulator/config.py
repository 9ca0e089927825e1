"""The emulator's settings, its fault descriptions and its tenants, as plain dataclasses.

A config object is never mutated: ``GraphEmulator.configure`` swaps in a new one, so a request handler that
took a snapshot sees one consistent set of values.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping
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
