"""``GraphEmulator``: lifecycle (TLS material, server thread) around one ``EmulatorState``, and its Python API.

The state answers; the server speaks HTTP for it; this class owns both and forwards the in-process API
(configure, stats, ground truth...) to the state, so tests never need to know which part does what.
"""

from __future__ import annotations

import shutil
import ssl
import tempfile
import threading
from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

import trustme

from graph_emulator.config import EmulatorConfig, LateCalls
from graph_emulator.reports import DIRECT_ROUTING_CALLS
from graph_emulator.server import TLSServer
from graph_emulator.state import EmulatorState
from graph_emulator.throttle import Interval


class GraphEmulator:
    """A local Microsoft Graph (call-log reports) plus its token authority, over TLS on one port."""

    def __init__(self, config: EmulatorConfig | None = None):
        self.state = EmulatorState(config)
        self._server: TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: str | None = None
        self.ca_path = ""
        self.graph_root = ""
        self.authority = ""

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> GraphEmulator:
        """Create a throwaway CA and server certificate, bind, and serve on a background thread."""
        config = self.state.config
        self._tmp = tempfile.mkdtemp(prefix="graph-emulator-")
        ca = trustme.CA()
        host = config.host if config.host not in ("0.0.0.0", "") else "127.0.0.1"
        server_cert = ca.issue_cert(host, "127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_cert.configure_cert(context)
        self.ca_path = str(Path(self._tmp) / "emulator-ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        self._server = TLSServer((config.host, config.port), context, self.state, public_host=host)
        self.graph_root = self.authority = self._server.root
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"graph-emulator-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the CA/certificate files."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:  # start() sets it right after the server
                self._thread.join(timeout=5)
            self._server = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> GraphEmulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return int(self.graph_root.rsplit(":", 1)[1])

    @property
    def info(self) -> dict[str, str]:
        """What a client needs to reach this emulator (the CLI's --info-file, the msgraph connection)."""
        config = self.config
        return {
            "graph_root": self.graph_root,
            "authority": self.authority,
            "ca_path": self.ca_path,
            "tenant_id": config.tenant_id,
            "client_id": config.client_id,
            "client_secret": config.client_secret,
        }

    @property
    def config(self) -> EmulatorConfig:
        return self.state.config

    @property
    def tenant_ids(self) -> tuple[str, ...]:
        """Every tenant served: the default tenant (``info["tenant_id"]``) first, then the declared ones."""
        return self.config.tenant_ids

    # --- runtime control (see EmulatorState) -----------------------------------------------------------
    def configure(self, tenant: str | None = None, **changes: Any) -> None:
        """Change settings while serving (faults, latency, budget, permission, token lifetime, tenants...).

        With ``tenant``, that tenant's own settings only: ``configure(tenant=b, grant_permission=False)``.
        """
        self.state.configure(tenant, **changes)

    def revoke_tokens(self, tenant: str | None = None) -> None:
        """Invalidate every token issued so far, or only ``tenant``'s (the next data request gets 401)."""
        self.state.revoke_tokens(tenant)

    def add_late_calls(
        self,
        day: date | str,
        calls: int = 0,
        *,
        report: str = DIRECT_ROUTING_CALLS,
        tenant: str | None = None,
        changed: Iterable[int | str] = (),
        removed: Iterable[int | str] = (),
        change_s: int = 60,
        after_requests: int | None = None,
        visible_from: datetime | str | None = None,
    ) -> dict[str, list[dict]]:
        """Make ``calls`` more calls of ``day`` visible (at once, unless ``after_requests``/``visible_from``).

        And correct the calls in ``changed`` (ids, or positions among the day's original calls: they end
        ``change_s`` seconds later), remove those in ``removed``; of ``report`` for ``tenant`` (None: the
        default tenant). See ``LateCalls``. Returns the rows (v1.0) it adds, corrects (as corrected) and
        removes (as they were): ``{"added": [...], "changed": [...], "removed": [...]}``.
        """
        entry = LateCalls.coerce(  # its JSON form: the day and the instant may be strings
            {
                "day": day,
                "calls": calls,
                "changed": tuple(changed),
                "removed": tuple(removed),
                "report": report,
                "tenant": tenant,
                "after_requests": after_requests,
                "visible_from": visible_from,
                "change_s": change_s,
            }
        )
        return self.state.add_late_calls(entry)

    def issued_tokens(self) -> list[str]:
        """Every access token handed out since start, for tests that prove none leaked."""
        return self.state.issued_tokens()

    def reset_stats(self) -> None:
        """Zero the counters, the request logs (so fault numbers count from 1 again) and the budgets."""
        self.state.reset_stats()

    def stats(self) -> dict:
        return self.state.stats()

    def max_requests_in_any(self, window_s: float, collection: str | None = None, tenant: str | None = None) -> int:
        """Most data requests received (429s included) within any rolling ``window_s`` seconds.

        Of ``collection`` (None: every report) and ``tenant`` (None: every request, whatever its tenant).
        """
        return self.state.max_requests_in_any(window_s, collection, tenant)

    def request_intervals(self, tenant: str | None = None, collection: str | None = None) -> list[Interval]:
        """``(arrival, answer written)`` of each data request of ``tenant`` (None: the default), by arrival."""
        return self.state.request_intervals(tenant, collection)

    def max_in_flight(self, tenant: str | None = None, collection: str | None = None) -> int:
        """The most data requests of ``tenant`` (None: the default) and ``collection`` in flight at once."""
        return self.state.max_in_flight(tenant, collection)

    # --- ground truth (see EmulatorState) --------------------------------------------------------------
    def retained(self, start: datetime) -> bool:
        """False when a window starting at ``start`` is past retention (Graph then answers zero rows)."""
        return self.state.retained(start)

    def expected_rows_json(
        self,
        start: datetime,
        end: datetime,
        api_version: str = "v1.0",
        *,
        report: str = DIRECT_ROUTING_CALLS,
        tenant: str | None = None,
    ) -> str:
        """The JSON array of every ``report`` row of ``tenant`` (None: the default) starting in ``[start, end)``."""
        return self.state.expected_rows_json(start, end, api_version, report=report, tenant=tenant)

    def expected_rows(
        self,
        start: datetime,
        end: datetime,
        api_version: str = "v1.0",
        *,
        report: str = DIRECT_ROUTING_CALLS,
        tenant: str | None = None,
    ) -> list[dict]:
        """Exactly the ``report`` rows of ``tenant`` (None: the default) starting in ``[start, end)``, as served."""
        return self.state.expected_rows(start, end, api_version, report=report, tenant=tenant)

    def expected_count(
        self, start: datetime, end: datetime, *, report: str = DIRECT_ROUTING_CALLS, tenant: str | None = None
    ) -> int:
        """How many ``report`` calls of ``tenant`` (None: the default tenant) start in ``[start, end)``."""
        return self.state.expected_count(start, end, report=report, tenant=tenant)
