"""The ``msgraph`` Airflow connection that points at a Graph emulator: built here, and only here.

Tests, the demo and the benchmarks reach the emulator the way a deployment reaches Graph, through the azure
provider's ``msgraph`` connection (README, "Pointing the hook at real Graph"): the app's client id and secret,
the Graph host, and the extras ``tenant_id``, ``authority`` and ``verify`` (the emulator's CA bundle).

    os.environ.update(msgraph_connection_env(emu))                     # AIRFLOW_CONN_MSGRAPH_DEFAULT
    msgraph_connection(emu, requests_per_minute=18, rate_limit_window_s=5)   # the dict, extras added
    msgraph_connection(emu, tenant="<tenant id>")                      # what a task of that tenant would use

An emulator serving several tenants is one multi-tenant app: every tenant's connection has the same client id
and secret and differs only in its ``tenant_id`` extra (the default tenant's unless ``tenant`` is given; the
builders do not check that the emulator declares it, so a test can aim at an unknown tenant too).

``emu`` is an in-process ``GraphEmulator``, an ``EmulatorProcess``, or the JSON that ``python -m graph_emulator
serve --info-file`` writes (as a dict).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

INFO_KEYS = ("graph_root", "authority", "ca_path", "tenant_id", "client_id", "client_secret")


def emulator_info(emu: Any) -> dict[str, str]:
    """Where an emulator listens and the credentials it accepts, whatever kind of emulator it is."""
    info = emu if isinstance(emu, Mapping) else emu.info  # a GraphEmulator or an EmulatorProcess
    return {key: info[key] for key in INFO_KEYS}


def msgraph_connection(emu: Any, *, tenant: str | None = None, **extras: Any) -> dict[str, Any]:
    """The connection as Airflow holds it (``conn_type``, ``login``, ``password``, ``host``, ``extra``).

    ``tenant``: the Entra tenant id the connection is for (None: the emulator's default tenant); a
    ``tenant_id`` extra says the same and may not be given with it.
    """
    if tenant is not None and "tenant_id" in extras:
        raise TypeError("give the tenant as tenant= or as the tenant_id extra, not both")
    info = emulator_info(emu)
    return {
        "conn_type": "msgraph",
        "login": info["client_id"],
        "password": info["client_secret"],
        "host": info["graph_root"],
        "extra": {
            "tenant_id": tenant or info["tenant_id"],
            "authority": info["authority"],
            "verify": info["ca_path"],
            **extras,
        },
    }


def msgraph_connection_env(
    emu: Any, conn_id: str = "msgraph_default", *, tenant: str | None = None, **extras: Any
) -> dict[str, str]:
    """``{"AIRFLOW_CONN_<CONN_ID>": <the connection as JSON>}``, the way a deployment sets it in the environment."""
    return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(msgraph_connection(emu, tenant=tenant, **extras))}
