"""The Graph emulator in a process of its own (``python -m graph_emulator serve``), driven through its admin endpoints.

For callers that must not share a process with the emulator: Airflow's subprocesses, a benchmark that counts the
client's CPU alone. In-process tests use ``GraphEmulator`` directly; both kinds are what
``graph_emulator.connection`` turns into an ``msgraph`` connection.

    with EmulatorProcess(rows_per_day=20_000, budget=(20, 5.0), faults=[{"kind": "reset", "rate": 0.02}]) as emu:
        emu.graph_root, emu.ca_path, emu.info          # where it listens, the CA to trust, the app's credentials
        emu.configure(latency_s=0.5)                   # POST /_emulator/config
        emu.reset_stats(); emu.stats()                 # POST /_emulator/reset_stats, GET /_emulator/stats
        emu.count_day(date(2026, 3, 2))                # GET /_emulator/count: ground truth of a UTC day

More tenants of the app (``tenants=[{"tenant_id": ..., "rows_per_day": ...}]``) are served beside the default one;
``configure(tenant=..., grant_permission=False)``, ``count(..., tenant=...)``, ``rows(..., tenant=...)``,
``revoke_tokens(tenant)`` and ``request_intervals(tenant, collection)`` take one by its id (None: the default).

Late calls (``LateCalls``) as for the in-process emulator: ``late_calls=[{"day": "2026-03-10", "calls": 5}]`` at
start, ``configure(late_calls=[...])``, or ``add_late_calls(day, 5, report=..., tenant=...)`` (POST
``/_emulator/late_calls``); ``count``, ``count_day`` and ``rows`` (any ``report``) answer what is visible then.

The process gets its own process group and log file (``log_path``); ``stop()`` sends SIGTERM to the group, then
SIGKILL. It listens on a port the OS picks unless ``port`` is given.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from graph_emulator.reports import DIRECT_ROUTING_CALLS
from graph_emulator.throttle import Interval, max_overlap

INCLUDE = Path(__file__).resolve().parents[1]  # the folder that holds the graph_emulator package
_MOMENT = "%Y-%m-%dT%H:%M:%SZ"


class EmulatorProcess:
    """``python -m graph_emulator serve`` with the given options; ``None`` leaves an option at the CLI's default."""

    def __init__(
        self,
        *,
        rows_per_day: int | None = None,
        seed: int | None = None,
        page_size: int | None = None,
        budget: tuple[int, float] | None = (50, 60.0),
        latency_s: float | None = None,
        weekday_profile: bool = True,
        retention_days: int | None = None,
        faults: Iterable[Mapping[str, Any] | Any] = (),
        tenants: Iterable[Mapping[str, Any] | Any] = (),
        late_calls: Iterable[Mapping[str, Any] | Any] = (),
        host: str = "127.0.0.1",
        port: int = 0,
        workdir: str | Path | None = None,
        env: Mapping[str, str] | None = None,
        startup_timeout_s: float = 60.0,
    ):
        """``budget`` is (requests, window seconds) or None for no throttling; ``faults`` are dicts or ``Fault``s,
        ``tenants`` dicts or ``TenantConfig``s (the tenants served beside the default one), ``late_calls`` dicts or
        ``LateCalls``."""
        self.argv = [sys.executable, "-m", "graph_emulator", "serve", "--host", host, "--port", str(port)]
        for flag, value in (
            ("--rows-per-day", rows_per_day),
            ("--seed", seed),
            ("--page-size", page_size),
            ("--latency", latency_s),
            ("--retention-days", retention_days),
        ):
            if value is not None:
                self.argv += [flag, str(value)]
        self.argv += ["--budget", "none" if budget is None else f"{budget[0]}/{budget[1]:g}"]
        if not weekday_profile:
            self.argv.append("--no-weekday-profile")
        fault_list = _as_dicts(faults)
        if fault_list:
            self.argv += ["--faults", json.dumps(fault_list)]
        tenant_list = _as_dicts(tenants)
        if tenant_list:
            self.argv += ["--tenants", json.dumps(tenant_list)]
        late_list = _as_dicts(late_calls)
        if late_list:
            self.argv += ["--late-calls", json.dumps(late_list)]
        self._own_workdir = workdir is None
        self.workdir = Path(tempfile.mkdtemp(prefix="graph-emulator-") if workdir is None else workdir)
        self.info_path = self.workdir / "emulator-info.json"
        self.log_path = self.workdir / "graph-emulator.log"
        self.argv += ["--info-file", str(self.info_path)]
        base = dict(os.environ if env is None else env)
        base["PYTHONPATH"] = os.pathsep.join(p for p in (str(INCLUDE), base.get("PYTHONPATH", "")) if p)
        self.env = base
        self.startup_timeout_s = startup_timeout_s
        self.info: dict[str, str] = {}
        self.popen: subprocess.Popen | None = None
        self._ssl: ssl.SSLContext | None = None

    # --- life cycle -------------------------------------------------------------------------------------
    def start(self) -> EmulatorProcess:
        """Start the process and return once its admin endpoint answers over TLS."""
        if self.popen is not None:
            raise RuntimeError("the emulator process is already started")
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.info_path.unlink(missing_ok=True)
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.argv,
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        try:
            self._wait_ready(self.popen)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self, popen: subprocess.Popen) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while True:
            if not self.running():
                raise RuntimeError(f"the Graph emulator exited with {popen.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, ValueError):  # not written yet, or half written
                self.info = json.loads(self.info_path.read_text())
                self._ssl = ssl.create_default_context(cafile=self.info["ca_path"])
                self.stats()
                return
            if time.monotonic() > deadline:
                seconds = self.startup_timeout_s
                raise RuntimeError(f"the Graph emulator did not start in {seconds:g} s:\n{self.log_tail()}")
            time.sleep(0.05)

    def running(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def stop(self, grace_s: float = 5.0) -> None:
        """SIGTERM to the process group, SIGKILL after ``grace_s``; removes the work folder if it made it."""
        if self.popen is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(timeout=10)
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> EmulatorProcess:
        return self if self.popen is not None else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return f"(no {self.log_path})"

    # --- where it is ----------------------------------------------------------------------------------
    @property
    def pid(self) -> int:
        if self.popen is None:  # as reading .pid of None did before
            raise AttributeError("the Graph emulator process has not been started")
        return self.popen.pid

    @property
    def graph_root(self) -> str:
        """``https://127.0.0.1:<port>``: Graph and its token authority (the same as ``authority``)."""
        return self.info["graph_root"]

    @property
    def authority(self) -> str:
        return self.info["authority"]

    @property
    def ca_path(self) -> str:
        """The CA bundle that signs the emulator's certificate (removed when the process stops)."""
        return self.info["ca_path"]

    @property
    def port(self) -> int:
        return int(self.graph_root.rsplit(":", 1)[1])

    # --- admin endpoints ------------------------------------------------------------------------------
    def admin(self, path: str, body: Mapping[str, Any] | None = None, **params: str) -> Any:
        """GET ``/_emulator/<path>`` (POST when ``body`` is given); the decoded JSON answer."""
        url = f"{self.graph_root}/_emulator/{path}"
        if params:
            url += "?" + urllib.parse.urlencode(params)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
        request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, context=self._ssl, timeout=30) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            raise RuntimeError(f"emulator admin {path}: HTTP {error.code} {detail}") from error

    def configure(self, tenant: str | None = None, **changes: Any) -> None:
        """Change settings while serving (``EmulatorConfig`` field names: rows_per_day, latency_s, faults...).

        With ``tenant``, that tenant's own settings only (rows_per_day, seed, grant_permission).
        """
        for name in ("faults", "tenants", "late_calls"):
            if name in changes:
                changes[name] = _as_dicts(changes[name])
        if tenant is not None:
            changes["tenant"] = tenant
        self.admin("config", changes)

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
        """``GraphEmulator.add_late_calls`` over POST ``/_emulator/late_calls``: the rows added, changed, removed."""
        entry = {
            "day": day if isinstance(day, str) else day.isoformat(),
            "calls": calls,
            "changed": list(changed),
            "removed": list(removed),
            "report": report,
            "tenant": tenant,
            "after_requests": after_requests,
            "visible_from": visible_from.isoformat() if isinstance(visible_from, datetime) else visible_from,
            "change_s": change_s,
        }
        return self.admin("late_calls", entry)

    def reset_stats(self) -> None:
        """Zero the counters, the request log (fault numbers count from 1 again) and the budget."""
        self.admin("reset_stats", {})

    def revoke_tokens(self, tenant: str | None = None) -> None:
        """Invalidate every token issued so far, or only ``tenant``'s."""
        self.admin("revoke_tokens", {} if tenant is None else {"tenant": tenant})

    def stats(self) -> dict:
        """data_requests, token_requests, throttled, faults_served, max_in_window, hosts; ``tenants``: per tenant."""
        return self.admin("stats")

    def count(
        self, start: datetime, end: datetime, tenant: str | None = None, *, report: str = DIRECT_ROUTING_CALLS
    ) -> int:
        """How many ``report`` rows Graph holds with ``start <= startDateTime < end`` (the ground truth, now)."""
        return self.admin("count", None, **_span(start, end, tenant), report=report)["count"]

    def count_day(self, day: date, tenant: str | None = None, *, report: str = DIRECT_ROUTING_CALLS) -> int:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return self.count(start, start + timedelta(days=1), tenant, report=report)

    def rows(
        self,
        start: datetime,
        end: datetime,
        api_version: str = "v1.0",
        tenant: str | None = None,
        *,
        report: str = DIRECT_ROUTING_CALLS,
    ) -> list[dict]:
        """The ``report`` rows of ``tenant`` starting in ``[start, end)``, as served now (the ground truth)."""
        return self.admin("rows", None, **_span(start, end, tenant), api_version=api_version, report=report)

    def request_intervals(self, tenant: str | None = None, collection: str | None = None) -> list[Interval]:
        """``(arrival, answer written)`` of each data request of ``tenant`` (None: the default), by arrival.

        In the emulator process's ``time.monotonic()``: compare them with each other, not with this clock.
        """
        params = {name: value for name, value in (("tenant", tenant), ("collection", collection)) if value}
        return [(start, end) for start, end in self.admin("intervals", None, **params)["intervals"]]

    def max_in_flight(self, tenant: str | None = None, collection: str | None = None) -> int:
        """The most data requests of ``tenant`` (None: the default) and ``collection`` in flight at once."""
        return max_overlap(self.request_intervals(tenant, collection))


def _as_dicts(items: Iterable[Mapping[str, Any] | Any]) -> list[Mapping[str, Any]]:
    """Faults, tenants or late calls in their JSON form: dicts as they are, dataclasses as dicts."""
    return [
        item if isinstance(item, Mapping) else item.as_json() if hasattr(item, "as_json") else dataclasses.asdict(item)
        for item in items
    ]


def _span(start: datetime, end: datetime, tenant: str | None) -> dict[str, str]:
    params = {"from": _moment(start), "to": _moment(end)}
    return params if tenant is None else {**params, "tenant": tenant}


def _moment(value: datetime) -> str:
    """UTC, ``Z``-suffixed (a naive datetime is taken as UTC)."""
    return (value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)).strftime(_MOMENT)
