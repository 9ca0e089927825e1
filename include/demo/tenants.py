"""The demo's tenants (``DEMO_TENANTS=3 make demo``): one deployment pulling several customer tenants of a carrier.

Each is a tenant of the emulator (its own Entra id, volume and seed: its own calls), an entry of the tenants file
the DAGs read (``CALL_LOGS_TENANTS_FILE``), and an ``msgraph_<slug>`` connection for its Entra id, as a deployment
would have them. The emulator's calls all go through the same four SBC FQDNs, so every tenant shares every trunk:
the carrier's view (``direct_routing_sbc_health``) adds them up.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from call_logs.config import PSEUDONYMISATION_CONN_ID, TENANTS_FILE_ENV


@dataclass(frozen=True)
class DemoTenant:
    """One tenant of the demo: its entry in the tenants file and its data in the emulator."""

    slug: str
    tenant_id: str
    rows_per_day: int
    seed: int
    time_zone: str | None = None
    pseudonymised_columns: str | None = None

    def describe(self) -> str:
        """What the demo says of it in one line."""
        extras = [f"{self.rows_per_day:,} calls a day"]
        if self.time_zone:
            extras.append(f"time zone {self.time_zone}")
        if self.pseudonymised_columns:
            extras.append(f"pseudonymised {self.pseudonymised_columns.replace(',', ', ')}")
        return f"{self.slug:<10} tenant {self.tenant_id}  {'; '.join(extras)}"


# The first one is the single-tenant demo's volume and seed. Ids follow the README's example tenant id.
DEMO_TENANTS = (
    DemoTenant("contoso", "3f7a2c1e-0000-4000-8000-000000000001", 5000, 42),
    DemoTenant(
        "fabrikam",
        "3f7a2c1e-0000-4000-8000-000000000002",
        3000,
        7,
        pseudonymised_columns="userPrincipalName,userDisplayName,callerNumber,calleeNumber",
    ),
    DemoTenant("northwind", "3f7a2c1e-0000-4000-8000-000000000003", 1500, 2024, time_zone="Australia/Sydney"),
    DemoTenant("adatum", "3f7a2c1e-0000-4000-8000-000000000004", 1000, 11, time_zone="America/New_York"),
    DemoTenant("litware", "3f7a2c1e-0000-4000-8000-000000000005", 800, 13),
    DemoTenant("woodgrove", "3f7a2c1e-0000-4000-8000-000000000006", 600, 17, time_zone="Europe/Paris"),
)


def tenant_count(value: str | None) -> int:
    """How many tenants ``DEMO_TENANTS`` asks for: 0 for the demo of one tenant (unset, empty, 0 or 1)."""
    text = (value or "").strip()
    if text in ("", "0", "1"):
        return 0
    if not text.isdigit() or not 2 <= int(text) <= len(DEMO_TENANTS):
        raise SystemExit(
            f"DEMO_TENANTS={value!r}: use 0 or 1 (the demo of one tenant) or 2 to {len(DEMO_TENANTS)} tenants."
        )
    return int(text)


def tenants_yaml(tenants: tuple[DemoTenant, ...]) -> str:
    """The tenants file of the demo's deployment (``plugins/call_logs/tenants.py`` says what each key means)."""
    lines = [
        "# Written by make demo (DEMO_TENANTS): the tenants this deployment pulls; see plugins/call_logs/tenants.py.",
        "# Each pulls every report with the connection msgraph_<slug>.",
        "tenants:",
    ]
    for tenant in tenants:
        lines += [f"  - slug: {tenant.slug}", f"    tenant_id: {tenant.tenant_id}"]
        if tenant.time_zone:
            lines.append(f"    time_zone: {tenant.time_zone}")
        if tenant.pseudonymised_columns:
            lines.append(f"    pseudonymised_columns: {tenant.pseudonymised_columns}")
    return "\n".join(lines) + "\n"


def tenant_environment(emu, tenants: tuple[DemoTenant, ...], tenants_file: str) -> dict[str, str]:
    """The environment of a deployment of these tenants aimed at the emulator: the tenants file, one ``msgraph``
    connection per tenant (its Entra id in ``tenant_id``: a pull refuses another tenant's), and the pseudonymisation
    key of each tenant that pseudonymises (its own connection, ``direct_routing_pseudonymisation_<slug>``)."""
    from graph_emulator.connection import msgraph_connection_env

    env = {TENANTS_FILE_ENV: tenants_file}
    for tenant in tenants:
        env |= msgraph_connection_env(emu, f"msgraph_{tenant.slug}", tenant=tenant.tenant_id)
        if tenant.pseudonymised_columns:
            conn_id = f"{PSEUDONYMISATION_CONN_ID}_{tenant.slug}"
            env[f"AIRFLOW_CONN_{conn_id.upper()}"] = json.dumps({"conn_type": "generic", "password": demo_key(tenant)})
    return env


def demo_key(tenant: DemoTenant) -> str:
    """A demo-only pseudonymisation key, the same on every run (a re-pulled day keeps its tokens). A deployment's is a
    long random secret in its secrets backend (README, "Pseudonymisation")."""
    return hashlib.sha256(f"make demo, not a secret: {tenant.tenant_id}".encode()).hexdigest()


def emulator_tenants(tenants: tuple[DemoTenant, ...]) -> tuple:
    """The tenants the emulator serves beside its default one (which the demo of many tenants does not pull)."""
    from graph_emulator import TenantConfig

    return tuple(TenantConfig(t.tenant_id, rows_per_day=t.rows_per_day, seed=t.seed) for t in tenants)
