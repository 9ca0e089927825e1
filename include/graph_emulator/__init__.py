"""A local Microsoft Graph for the call-log reports, with its token authority, over TLS on 127.0.0.1.

Serves ``getDirectRoutingCalls`` and ``getPstnCalls`` (v1.0 and beta; see ``reports.REPORTS``) from deterministic
synthetic call logs (computed lazily per page, so a million-row day costs no memory), with Graph's paging,
errors, throttling and retention, an AAD-shaped client-credentials endpoint that MSAL/azure-identity accept,
and injectable faults. Ground truth (``expected_rows``, half-open ``[start, end)`` for every report) comes from
the same code that serves the pages.

    with GraphEmulator(EmulatorConfig(rows_per_day=5000)) as emu:
        emu.graph_root, emu.authority, emu.ca_path
        emu.expected_rows(start, end, report="getPstnCalls")

Several tenants, as Graph serves a multi-tenant app registration (one client id and secret, admin consent in each
customer's tenant): ``tenant_id`` is the default tenant, whose settings are the config's own fields, and
``tenants`` declares more (``TenantConfig``, or its JSON form ``{"tenant_id": ..., "rows_per_day": ...,
"seed": ..., "grant_permission": ...}``; unset: the config's volume, a seed derived from the tenant id, consent
granted). Each has its token endpoint ``/<tenant id>/oauth2/v2.0/token`` and OpenID configuration; any other
tenant id gets AAD's AADSTS90002. A token remembers its tenant, and since Graph's data URL names none, the token
alone decides whose rows, consent (403 without) and budgets answer: each tenant has its own per-collection and
per-app budgets. Faults are the app's: numbered over every tenant's data requests together (``rate`` faults draw on
each of them), they strike whichever tenant's request has the number (``expire_token`` revokes every tenant's
tokens).

    config = EmulatorConfig(tenants=(TenantConfig(contoso), TenantConfig(fabrikam, rows_per_day=800)))
    with GraphEmulator(config) as emu:
        msgraph_connection(emu, tenant=contoso)               # graph_emulator.connection: that tenant's task
        emu.configure(tenant=fabrikam, grant_permission=False)   # consent revoked mid-test: its data is 403
        emu.expected_rows(start, end, tenant=contoso)        # None: the default tenant
        emu.stats()["tenants"][contoso], emu.max_requests_in_any(60.0, tenant=contoso)
        emu.request_intervals(contoso, "getDirectRoutingCalls"), emu.max_in_flight(contoso)  # requests in flight

Without ``tenants`` the emulator is the single-tenant one it always was: same rows, answers and totals.

Late arrivals, as Graph's reports settle: ``late_calls`` (``LateCalls``, or its JSON form) adds calls to a day
that show only later (after ``after_requests`` data requests, from ``visible_from``, or at once), corrects some
(they end later) or removes some, per report and tenant. Pages and ground truth serve what is visible when they
answer; with no entry the rows are those of an emulator without the feature, byte for byte.

    emu.expected_rows(day, next_day)                           # the day as first pulled
    emu.add_late_calls("2024-03-04", 5, changed=[row_id], removed=[3], report="getPstnCalls", tenant=contoso)
    emu.expected_rows(day, next_day)                           # the same rows, plus 5, one longer, one gone
    emu.stats()["late_calls"]                                  # each entry, its tenant, and whether it shows
"""

from __future__ import annotations

from graph_emulator.config import EmulatorConfig, Fault, LateCalls, TenantConfig
from graph_emulator.emulator import GraphEmulator
from graph_emulator.reports import DIRECT_ROUTING_CALLS, PSTN_CALLS, REPORTS

__all__ = [
    "DIRECT_ROUTING_CALLS",
    "PSTN_CALLS",
    "REPORTS",
    "EmulatorConfig",
    "Fault",
    "GraphEmulator",
    "LateCalls",
    "TenantConfig",
]
