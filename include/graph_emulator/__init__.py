"""A local Microsoft Graph for the call-log reports, with its token authority, over TLS on 127.0.0.1.

Serves ``getDirectRoutingCalls`` and ``getPstnCalls`` (v1.0 and beta; see ``reports.REPORTS``) from deterministic
synthetic call logs (computed lazily per page, so a million-row day costs no memory), with Graph's paging,
errors, throttling and retention, an AAD-shaped client-credentials endpoint that MSAL/azure-identity accept,
and injectable faults. Ground truth (``expected_rows``, half-open ``[start, end)`` for every report) comes from
the same code that serves the pages.

    with GraphEmulator(EmulatorConfig(rows_per_day=5000)) as emu:
        emu.graph_root, emu.authority, emu.ca_path
        emu.expected_rows(start, end, report="getPstnCalls")
"""

from __future__ import annotations

from graph_emulator.config import EmulatorConfig, Fault, TenantConfig
from graph_emulator.emulator import GraphEmulator
from graph_emulator.reports import DIRECT_ROUTING_CALLS, PSTN_CALLS, REPORTS

__all__ = ["DIRECT_ROUTING_CALLS", "PSTN_CALLS", "REPORTS", "EmulatorConfig", "Fault", "GraphEmulator", "TenantConfig"]
