"""A local Microsoft Graph for ``getDirectRoutingCalls``, with its token authority, over TLS on 127.0.0.1.

Serves deterministic synthetic direct-routing call logs (computed lazily per page, so a million-row day costs
no memory), Graph's paging, errors, throttling and retention, an AAD-shaped client-credentials endpoint that
MSAL/azure-identity accept, and injectable faults. Ground truth (``expected_rows``) comes from the same code
that serves the pages.

    with GraphEmulator(EmulatorConfig(rows_per_day=5000)) as emu:
        emu.graph_root, emu.authority, emu.ca_path
"""

from __future__ import annotations

from graph_emulator.config import EmulatorConfig, Fault
from graph_emulator.emulator import GraphEmulator

__all__ = ["EmulatorConfig", "Fault", "GraphEmulator"]
