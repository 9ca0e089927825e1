"""Plain helpers the tests import: the repository root, Azurite's account, ports and processes, Graph clients.

Fixtures and the declaration of which tests are integration tests stay in ``conftest.py``; pytest loads that
file itself and it is not meant to be imported, so anything a test module imports lives here instead.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

# Azurite's well-known development account (public, documented by Microsoft; not a secret).
AZURITE_ACCOUNT = "devstoreaccount1"
AZURITE_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def stop_process(process: subprocess.Popen, grace: float = 5.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds (Azurite waits on idle keep-alive connections)."""
    process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def emulator_connection(emu, **extras) -> dict:
    """The ``msgraph`` connection (as Airflow would hold it) that points at an emulator."""
    from graph_emulator.connection import msgraph_connection

    return msgraph_connection(emu, **extras)


def emulator_client(emu, *, limiter=None, retry=None, report=None, **extras):
    """A Graph client built exactly as the hook builds it, from the emulator's connection, for ``report`` (a
    ``ReportSpec``; direct routing by default)."""
    from call_logs.graph.settings import GraphSettings
    from call_logs.graph.throttle import RetryPolicy

    conn = emulator_connection(emu, **extras)
    settings = GraphSettings.from_connection(
        login=conn["login"], password=conn["password"], host=conn["host"], extras=conn["extra"]
    )
    retry = retry or RetryPolicy(backoff_base_s=0.05, backoff_cap_s=0.5, max_total_wait_s=30)
    from call_logs.reports.direct_routing import DIRECT_ROUTING

    return settings.build_client((report or DIRECT_ROUTING).function_path, limiter=limiter, retry=retry)
