"""``GraphEmulator``: lifecycle (TLS material, server thread) and the in-process API tests use."""

from __future__ import annotations

import json
import shutil
import ssl
import tempfile
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import trustme

from graph_emulator.config import EmulatorConfig
from graph_emulator.data import CallLog, to_ms
from graph_emulator.faults import FaultPlan
from graph_emulator.server import TLSServer
from graph_emulator.throttle import RequestLog, RollingBudget
from graph_emulator.tokens import TokenStore

_DATA_FIELDS = frozenset({"seed", "rows_per_day", "weekday_profile"})


class GraphEmulator:
    """A local Microsoft Graph (``getDirectRoutingCalls``) plus its token authority, over TLS on one port."""

    def __init__(self, config: EmulatorConfig | None = None):
        self._config = config or EmulatorConfig()
        self._lock = threading.Lock()
        self.calls = CallLog(self._config.seed, self._config.rows_per_day, self._config.weekday_profile)
        self.tokens = TokenStore()
        self.budget = RollingBudget()
        self.requests = RequestLog()
        self.faults = FaultPlan(self._config.seed)
        self._counters: Counter[str] = Counter()
        self._hosts: Counter[str] = Counter()
        self._server: TLSServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: str | None = None
        self.ca_path = ""
        self.graph_root = ""
        self.authority = ""

    # --- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> GraphEmulator:
        """Create a throwaway CA and server certificate, bind, and serve on a background thread."""
        self._tmp = tempfile.mkdtemp(prefix="graph-emulator-")
        ca = trustme.CA()
        host = self._config.host if self._config.host not in ("0.0.0.0", "") else "127.0.0.1"
        server_cert = ca.issue_cert(host, "127.0.0.1", "localhost")
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        server_cert.configure_cert(context)
        self.ca_path = str(Path(self._tmp) / "emulator-ca.pem")
        ca.cert_pem.write_to_path(self.ca_path)
        self._server = TLSServer((self._config.host, self._config.port), context, self)
        port = self._server.server_address[1]
        self.graph_root = self.authority = f"https://{host}:{port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"graph-emulator-{port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and remove the CA/certificate files."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
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
    def config(self) -> EmulatorConfig:
        return self._config

    # --- runtime control -------------------------------------------------------------------------------
    def configure(self, **changes: Any) -> None:
        """Change settings while serving (faults, latency, budget, permission, token lifetime...)."""
        with self._lock:
            self._config = self._config.replace(**changes)
            if _DATA_FIELDS & changes.keys():
                self.calls = CallLog(self._config.seed, self._config.rows_per_day, self._config.weekday_profile)
        if "faults" in changes:
            self.faults.rearm()

    def revoke_tokens(self) -> None:
        """Invalidate every token issued so far (the next data request gets 401)."""
        self.tokens.revoke_all()

    def issued_tokens(self) -> list[str]:
        """Every access token handed out since start, for tests that prove none leaked."""
        return list(self.tokens.ever_issued)

    def reset_stats(self) -> None:
        """Zero the counters, the request log (so fault numbers count from 1 again) and the budget."""
        with self._lock:
            self._counters.clear()
            self._hosts.clear()
        self.requests.clear()
        self.budget.clear()
        self.faults.rearm()
        self.faults.served.clear()

    def stats(self) -> dict:
        with self._lock:
            counters, hosts = dict(self._counters), dict(self._hosts)
        return {
            "data_requests": len(self.requests),
            "token_requests": counters.get("token_requests", 0),
            "throttled": counters.get("throttled", 0),
            "faults_served": dict(self.faults.served),
            "max_in_window": self.requests.max_in_any(self._config.budget_window_s),
            "hosts": hosts,
        }

    def max_requests_in_any(self, window_s: float) -> int:
        """Most data requests received (429s included) within any rolling ``window_s`` seconds."""
        return self.requests.max_in_any(window_s)

    def _count(self, name: str) -> None:
        with self._lock:
            self._counters[name] += 1

    def _count_host(self, host: str) -> None:
        with self._lock:
            self._hosts[host] += 1

    # --- ground truth ----------------------------------------------------------------------------------
    def retained(self, start: datetime) -> bool:
        """False when a window starting at ``start`` is past retention (Graph then answers zero rows)."""
        days = self._config.retention_days
        if days is None:
            return True
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return (start if start.tzinfo else start.replace(tzinfo=UTC)) >= today - timedelta(days=days)

    def expected_rows_json(self, start: datetime, end: datetime, api_version: str = "v1.0") -> str:
        """The JSON array of every row served for ``[start, end)``, in served order."""
        if not self.retained(start) or start >= end:
            return "[]"
        start_ms, end_ms = to_ms(start), to_ms(end)
        calls = self.calls
        rows = calls.rows(start_ms, end_ms, 0, calls.count(start_ms, end_ms), beta=api_version == "beta")
        return "[" + ",".join(rows) + "]"

    def expected_rows(self, start: datetime, end: datetime, api_version: str = "v1.0") -> list[dict]:
        """Exactly the rows (as served, sentinels included) whose startDateTime is in ``[start, end)``."""
        return json.loads(self.expected_rows_json(start, end, api_version))

    def expected_count(self, start: datetime, end: datetime) -> int:
        if not self.retained(start) or start >= end:
            return 0
        return self.calls.count(to_ms(start), to_ms(end))
