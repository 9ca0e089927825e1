"""``EmulatorState``: everything the emulated Graph and its token authority know, and how they answer.

No sockets here: the HTTP handler (server.py) parses a request, calls one method of this class and writes out
the ``Answer`` it gets (and calls its ``sent`` once written). The public API, grouped as the handler and the
tests use it:

* Graph: ``answer_data(DataRequest)``, answered from the tenant of the request's bearer token: that tenant's
  rows, consent and budgets;
* AAD: ``grant_token``, ``discovery``, ``instance_discovery``, for every declared tenant;
* admin: ``configure``, ``reset_stats``, ``stats``, ``revoke_tokens``, ``issued_tokens``, ``max_requests_in_any``,
  ``request_intervals``, ``max_in_flight``;
* throttling: every report is its own "collection" (``collection_of``) with ``budget_requests`` per window, and
  all of them share the app's ``app_budget_requests``; each tenant has budgets of its own, as on Graph;
* ground truth: ``retained``, ``expected_rows``, ``expected_rows_json``, ``expected_count``, per tenant;
* late calls (``late.py``): ``add_late_calls``, or ``configure(late_calls=...)``; the data pages and the ground
  truth both serve the entries visible at the moment they answer.

A data request belongs to the tenant of its bearer token when the token is good; one without a good token (401)
belongs to no tenant and counts only in the emulator-wide totals.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from graph_emulator.config import EmulatorConfig, Fault, LateCalls, TenantConfig
from graph_emulator.data import DailyLog, to_ticks
from graph_emulator.faults import FaultPlan
from graph_emulator.late import LatePlan, RevisedLog
from graph_emulator.protocol import (
    ODATA_JSON,
    RESET,
    TRUNCATE,
    Answer,
    DataRequest,
    GraphError,
    parse_arguments,
    parse_instant,
)
from graph_emulator.reports import DIRECT_ROUTING_CALLS, REPORTS, Report, report_named
from graph_emulator.throttle import FlightLog, Interval, RequestLog, Throttle, max_overlap
from graph_emulator.tokens import EXPIRED, TokenError, TokenStore, discovery_document, grant, unknown_tenant

MAX_RANGE = timedelta(days=90)
NO_CACHE = {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"}
SHARED_COLLECTION = "callRecords"  # the one throttling bucket of every report when config.shared_collection


def collection_of(function: str, config: EmulatorConfig) -> str:
    """The throttling "collection" a report's requests count against: its own, unless configured as shared.

    No Microsoft doc defines "collection"; one per report function is the natural reading.
    """
    return SHARED_COLLECTION if config.shared_collection else function


_LogKey = tuple[int, int, bool]  # (seed, rows_per_day, weekday_profile): what a tenant's rows depend on


class _TenantRecord:
    """What one tenant's requests met and did since start or the last reset: budgets, logs, 429s, flights.

    Its dicts and counters change under the state's lock; the logs and the throttle lock themselves.
    """

    def __init__(self) -> None:
        self.throttle = Throttle()
        self.requests = RequestLog()
        self.collection_requests: dict[str, RequestLog] = {}
        self.flights: dict[str, FlightLog] = {}
        self.throttled_by: Counter[tuple[str, str]] = Counter()  # ("collection", name) or ("app", "")
        self.counters: Counter[str] = Counter()  # token_requests, throttled


class EmulatorState:
    """The emulated tenants (call logs, tokens, budgets, faults, counters) behind one immutable config at a time."""

    def __init__(self, config: EmulatorConfig | None = None):
        self._config = config or EmulatorConfig()
        self._lock = threading.Lock()
        self._logs: dict[_LogKey, dict[str, DailyLog]] = {}
        self._logs = self._logs_for(self._config)
        # The config's late calls resolved (kept with the config they belong to), and the positions of the entries
        # that have shown: once shown, an entry stays visible.
        self._late = (self._config, self._resolve_late(self._config, self._logs))
        self._shown: set[int] = set()
        self._tokens = TokenStore()
        self._requests = RequestLog()  # every data request: numbers them for faults, the app's view
        self._collection_requests: dict[str, RequestLog] = {}
        self._throttled_by: Counter[tuple[str, str]] = Counter()  # ("collection", name) or ("app", "")
        self._tenants: dict[str, _TenantRecord] = {}
        self._faults = FaultPlan(self._config.seed)
        self._counters: Counter[str] = Counter()
        self._hosts: Counter[str] = Counter()

    @staticmethod
    def _log_key(config: EmulatorConfig, tenant: TenantConfig) -> _LogKey:
        assert tenant.seed is not None and tenant.rows_per_day is not None  # config.tenant() resolved them
        return tenant.seed, tenant.rows_per_day, config.weekday_profile

    def _logs_for(self, config: EmulatorConfig) -> dict[_LogKey, dict[str, DailyLog]]:
        """One lazy row generator per report and tenant data (seed, volume); kept while a tenant uses it."""
        keys = {self._log_key(config, config.tenant(tenant_id)) for tenant_id in config.tenant_ids}
        old = self._logs
        return {key: old.get(key) or {name: report.log(*key) for name, report in REPORTS.items()} for key in keys}

    def _resolve_late(self, config: EmulatorConfig, logs: dict[_LogKey, dict[str, DailyLog]]) -> LatePlan:
        """``config.late_calls`` resolved against ``logs`` (the generators of ``config``'s tenants)."""

        def log_of(tenant: str, report: str) -> DailyLog:
            return logs[self._log_key(config, config.tenant(tenant))][report]

        return LatePlan.resolve(config, log_of)

    def _plan_of(self, config: EmulatorConfig) -> LatePlan:
        late_config, plan = self._late
        if late_config is config or not config.late_calls:
            return plan if late_config is config else LatePlan()
        # A config swapped in after ``config`` was read: resolve, do not keep.
        return LatePlan.resolve(config, lambda tenant, report: self._logs_of(config, config.tenant(tenant))[report])

    def _shown_now(self, plan: LatePlan, requests_received: int) -> set[int]:
        """Positions of the late-calls entries visible now, ``requests_received`` data requests in."""
        now = datetime.now(UTC)
        with self._lock:
            for position, item in enumerate(plan.resolved):
                if position not in self._shown and item.entry.due(requests_received, now):
                    self._shown.add(position)
            return set(self._shown)

    def _view(
        self, config: EmulatorConfig, tenant: str, report: str, log: DailyLog, requests_received: int
    ) -> DailyLog | RevisedLog:
        """``log`` (``tenant``'s ``report``) with the late calls visible now; ``log`` itself when none is."""
        plan = self._plan_of(config)
        if not plan.resolved:
            return log
        return plan.view(log, tenant, report, self._shown_now(plan, requests_received))

    def _logs_of(self, config: EmulatorConfig, tenant: TenantConfig) -> dict[str, DailyLog]:
        key = self._log_key(config, tenant)
        with self._lock:
            logs = self._logs.get(key)
            if logs is None:  # a config swapped in after ``config`` was read: build, do not keep
                logs = {name: report.log(*key) for name, report in REPORTS.items()}
        return logs

    @property
    def config(self) -> EmulatorConfig:
        return self._config

    def log(self, report: str = DIRECT_ROUTING_CALLS, tenant: str | None = None) -> DailyLog:
        """The row generator behind ``report`` of ``tenant`` (None: the default tenant), for benchmarks."""
        config = self._config
        return self._logs_of(config, config.tenant(tenant))[report_named(report).function]

    # --- Graph -----------------------------------------------------------------------------------------
    def answer_data(self, request: DataRequest) -> Answer:
        """Answer one report request: a page, an OData error, or an injected fault.

        Whose page it is comes from the bearer token alone (Graph's URL names no tenant). A caller that is
        not the HTTP handler calls the answer's ``sent`` once done with it, to end the request's flight.
        """
        report = REPORTS.get(request.function)
        if report is None:
            error = GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{request.function}'.")
            return error.answer(request.client_request_id)
        config = self._config
        problem, tenant_id = self._tokens.check(request.authorization)
        tenant: TenantConfig | None = None
        if tenant_id is not None:
            try:
                tenant = config.tenant(tenant_id)
            except ValueError:  # issued in a tenant the config no longer declares: as good as revoked
                problem, tenant_id = EXPIRED, None
        collection = collection_of(report.function, config)
        number = self._requests.record()
        self._requests_of(collection).record()
        self._bump(self._hosts, request.host)
        record, sent = None, None
        if tenant_id is not None:
            record = self._record_of(tenant_id)
            record.requests.record()
            with self._lock:
                requests = record.collection_requests.setdefault(collection, RequestLog())
                flights = record.flights.setdefault(collection, FlightLog())
            requests.record()
            sent = flights.begin()
        try:
            answer = self._answer(config, request, report, collection, number, problem, tenant, record)
        except BaseException:
            if sent is not None:  # no answer will be written: the flight ends here
                sent()
            raise
        return answer if sent is None else dataclasses.replace(answer, sent=sent)

    def _answer(
        self,
        config: EmulatorConfig,
        request: DataRequest,
        report: Report,
        collection: str,
        number: int,
        problem: str | None,
        tenant: TenantConfig | None,
        record: _TenantRecord | None,
    ) -> Answer:
        fault = self._faults.pick(config.faults, number)
        delay = 0.0
        try:
            if fault is not None:
                if fault.kind == "reset":
                    return Answer(0, transport=RESET)
                if fault.kind == "latency":
                    delay += fault.seconds if fault.seconds is not None else fault.retry_after or 0.0
                else:
                    self._raise_error_fault(fault, record)
            if problem or tenant is None or record is None:
                raise GraphError(401, "InvalidAuthenticationToken", problem or EXPIRED)
            if not tenant.grant_permission:
                raise GraphError(403, "Forbidden", "")
            refusal = record.throttle.admit(
                collection, config.budget_requests, config.app_budget_requests, config.budget_window_s
            )
            if refusal is not None:
                scope = (refusal.scope, collection if refusal.scope == "collection" else "")
                self._bump(self._counters, "throttled")
                self._bump(self._throttled_by, scope)
                self._bump(record.counters, "throttled")
                self._bump(record.throttled_by, scope)
                raise GraphError(429, "TooManyRequests", "Too many requests.", retry_after=refusal.retry_after)
            log = self._logs_of(config, tenant)[report.function]
            view = self._view(config, tenant.tenant_id, report.function, log, number - 1)
            body = self._page(config, report, view, request, fault)
        except GraphError as error:
            return error.answer(request.client_request_id, delay)
        kind = fault.kind if fault else None
        if kind == "invalid_json":
            body = body[: max(len(body) - 7, 1)]
        headers = {"request-id": _new_id(), "client-request-id": request.client_request_id or _new_id()}
        return Answer(
            200,
            body,
            ODATA_JSON,
            headers,
            delay_s=delay + config.latency_s,
            transport=TRUNCATE if kind == "truncate" else None,
        )

    def _raise_error_fault(self, fault: Fault, record: _TenantRecord | None) -> None:
        """Raise the answer of a fault that replaces the page with an error (other kinds pass through)."""
        kind = fault.kind
        if kind == "throttle":
            self._bump(self._counters, "throttled")
            if record is not None:
                self._bump(record.counters, "throttled")
            raise GraphError(429, "TooManyRequests", "Too many requests.", retry_after=fault.retry_after)
        if kind == "unavailable":
            raise GraphError(503, "serviceNotAvailable", "Service unavailable.", retry_after=fault.retry_after)
        if kind == "gateway_timeout":
            raise GraphError(504, "gatewayTimeout", "Gateway timeout.", retry_after=fault.retry_after)
        if kind == "expire_token":
            self.revoke_tokens()
            raise GraphError(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")

    def _page(
        self,
        config: EmulatorConfig,
        report: Report,
        log: DailyLog | RevisedLog,
        request: DataRequest,
        fault: Fault | None,
    ) -> bytes:
        from_text, to_text = parse_arguments(request.args)
        (start, start_ticks), (end, end_ticks) = parse_instant(from_text), parse_instant(to_text)
        if start_ticks >= end_ticks:
            raise GraphError(400, "BadRequest", "fromDateTime must be earlier than toDateTime.")
        if end - start > MAX_RANGE:
            raise GraphError(406, "NotAcceptable", "The requested date range exceeds the maximum of 90 days.")
        skip_text = request.params.get("$skip", "0")
        if not skip_text.isdigit():
            raise GraphError(400, "BadRequest", f"Invalid value '{skip_text}' for $skip query option.")
        skip, beta, version = int(skip_text), request.version == "beta", request.version
        kind = fault.kind if fault else None
        extra = ',"futureField":"x"' if kind == "extra_field" else ""
        repeated = None
        if self.retained(start):
            lo, hi = log.bounds(start_ticks, end_ticks, end_inclusive=report.end_inclusive)
            total = log.count(lo, hi)
            rows = log.rows(lo, hi, skip, config.page_size, beta=beta, extra=extra)
            if fault is not None and kind == "duplicate_rows" and skip:
                repeat = min(fault.rows, skip, config.page_size)
                rows = log.rows(lo, hi, skip - repeat, repeat, beta=beta, extra=extra) + rows
                served = len(rows) - repeat
            elif fault is not None and kind == "conflicting_duplicate" and skip:
                repeated = log.rows(lo, hi, skip - 1, 1, beta=beta, extra=extra)[0]
                rows = [_with(repeated, duration=(json.loads(repeated).get("duration") or 0) + 7), *rows]
                served = len(rows) - 1
            else:
                served = len(rows)
            if fault is not None and rows and kind in _ROW_FAULTS:
                position = min(fault.position, len(rows) - 1)
                rows[position] = _ROW_FAULTS[kind](rows[position])
        else:
            total, rows, served = 0, [], 0
        parts = [
            '{"@odata.context":',
            json.dumps(f"{request.root}/{version}/$metadata#Collection({report.row_type})"),
            ',"@odata.count":',
            str(len(rows)),
            ',"value":[',
            ",".join(rows),
            "]",
        ]
        if skip + served < total or kind == "endless_next_link":
            base = request.root
            if fault is not None and kind == "foreign_next_link":
                if fault.target is None:  # Fault refuses this; reading .rstrip of None raised AttributeError before
                    raise AttributeError("fault 'foreign_next_link' has no target base URL")
                base = fault.target.rstrip("/")
            next_skip = {
                "loop_next_link": skip,
                "ping_pong_next_link": max(skip - config.page_size, 0),
                "stuck_skip": skip,
            }.get(kind or "", skip + served)
            query = f"$skip={next_skip}" + ("&$top=1000" if kind == "stuck_skip" else "")
            link = (
                f"{base}/{version}/communications/callRecords/{report.function}"
                f"(fromDateTime={from_text},toDateTime={to_text})?{query}"
            )
            parts += [',"@odata.nextLink":', json.dumps(link)]
        parts.append("}")
        return "".join(parts).encode()

    # --- AAD -------------------------------------------------------------------------------------------
    def grant_token(self, tenant: str, body: bytes, *, root: str) -> Answer:
        """Answer a client-credentials request to ``{root}/{tenant}/oauth2/v2.0/token``."""
        self._bump(self._counters, "token_requests")
        if tenant in self._config.tenant_ids:
            self._bump(self._record_of(tenant).counters, "token_requests")
        try:
            answer = grant(
                self._config,
                self._tokens,
                tenant=tenant,
                body=body,
                token_url=f"{root}/{tenant}/oauth2/v2.0/token",
                graph_root=root,
            )
        except TokenError as error:
            return Answer.json(error.status, error.body)
        return Answer.json(200, answer, NO_CACHE)

    def discovery(self, tenant: str, *, root: str) -> Answer:
        """The tenant's OpenID configuration (what MSAL reads before its first token request)."""
        if tenant not in (*self._config.tenant_ids, "common", "organizations"):
            error = unknown_tenant(tenant)
            return Answer.json(error.status, error.body)
        return Answer.json(200, discovery_document(root, tenant))

    def instance_discovery(self, authorization_endpoint: str, *, root: str) -> Answer:
        """AAD's instance discovery, for MSAL callers that leave it enabled."""
        host = root.split("://", 1)[-1]
        tenant = urlsplit(authorization_endpoint).path.strip("/").split("/")[0] or "common"
        return Answer.json(
            200,
            {
                "tenant_discovery_endpoint": f"{root}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            },
        )

    # --- admin -----------------------------------------------------------------------------------------
    def configure(self, tenant: str | None = None, **changes: Any) -> None:
        """Change settings while serving (faults, latency, budget, permission, token lifetime, tenants...).

        With ``tenant``, change that tenant's own settings only (``rows_per_day``, ``seed``,
        ``grant_permission``; see ``EmulatorConfig.with_tenant``), e.g. revoke its consent mid-test; its
        ``late_calls`` replace that tenant's entries (each taken as the tenant's), the others' stay.
        A late-calls entry that has shown stays visible while the new config still holds it.
        """
        with self._lock:
            config = self._config
            if tenant is not None and "late_calls" in changes:
                config.tenant(tenant)  # ValueError for an unknown tenant
                own = tuple(
                    dataclasses.replace(LateCalls.coerce(entry), tenant=tenant) for entry in changes.pop("late_calls")
                )
                others = tuple(e for e in config.late_calls if (e.tenant or config.tenant_id) != tenant)
                config = config.replace(late_calls=others + own)
            config = config.replace(**changes) if tenant is None else config.with_tenant(tenant, **changes)
            self._swap(config)
        if "faults" in changes:
            self._faults.rearm()

    def _swap(self, config: EmulatorConfig) -> LatePlan:
        """Serve ``config`` from now on (under the lock); its resolved late calls. Nothing changes on an error."""
        logs = self._logs_for(config)
        plan = self._resolve_late(config, logs)  # ValueError for a call that is not there
        old = self._config.late_calls
        shown = Counter(old[position] for position in self._shown if position < len(old))
        self._shown = set()
        for position, entry in enumerate(config.late_calls):
            if shown[entry] > 0:
                shown[entry] -= 1
                self._shown.add(position)
        self._logs, self._late, self._config = logs, (config, plan), config
        return plan

    def add_late_calls(self, entry: LateCalls | dict[str, Any]) -> dict[str, list[dict]]:
        """Add one late-calls entry after those configured; what it adds, corrects and removes.

        ``{"added": [...], "changed": [...], "removed": [...]}``: the rows (v1.0) as they stand once it shows
        (the rows it corrects, corrected; those it removes, as they were), whether it shows yet or not.
        """
        entry = LateCalls.coerce(entry)
        with self._lock:
            config = self._config.replace(late_calls=(*self._config.late_calls, entry))
            plan = self._swap(config)
        position = len(config.late_calls) - 1
        item = plan.resolved[position]
        log = self._logs_of(config, config.tenant(item.tenant))[entry.report]
        return {name: [json.loads(row) for row in rows] for name, rows in plan.rows_of(log, position).items()}

    def revoke_tokens(self, tenant: str | None = None) -> None:
        """Invalidate every token issued so far, or only ``tenant``'s (the next data request gets 401)."""
        self._tokens.revoke_all(tenant)

    def issued_tokens(self) -> list[str]:
        """Every access token handed out since start, for tests that prove none leaked."""
        return list(self._tokens.ever_issued)

    def reset_stats(self) -> None:
        """Zero the counters, the request logs (so fault numbers count from 1 again) and the budgets."""
        with self._lock:
            self._counters.clear()
            self._hosts.clear()
            self._throttled_by.clear()
            self._collection_requests.clear()
            self._tenants.clear()  # budgets, logs and flights of every tenant
        self._requests.clear()
        self._faults.rearm()
        self._faults.served.clear()

    def stats(self) -> dict:
        """Counters since start or the last reset; JSON-ready (the admin ``/_emulator/stats`` answer).

        ``max_in_window`` (every data request) and each ``max_in_window`` below count requests *received*,
        429s included, within any rolling ``window_s``: at most the scope's ``limit`` proves a client kept to
        that budget. ``throttled`` counts every 429 (injected ones too); ``collections[name].throttled`` and
        ``app.throttled`` the 429s that budget answered. A ``limit`` of None means that budget is off.

        These totals count every tenant's requests together (and those without a good token); as each tenant
        has budgets of its own, ``tenants[<tenant id>]`` says the same per tenant (its ``max_in_window`` is
        the one to hold against ``limit``), with each collection's ``max_in_flight`` (most of its requests in
        flight at once) and ``in_flight`` (now), and the tenant's ``grant_permission``. Every declared tenant
        is there, and any other one that was served since the last reset.
        """
        config = self._config
        window = config.budget_window_s
        with self._lock:
            counters, hosts, throttled_by = dict(self._counters), dict(self._hosts), Counter(self._throttled_by)
            logs = dict(self._collection_requests)
            records = dict(self._tenants)
        names = sorted(set(logs) | {collection_of(function, config) for function in REPORTS})
        everything = self._requests.max_in_any(window)
        tenants = {
            tenant_id: self._tenant_stats(config, tenant_id, records.get(tenant_id))
            for tenant_id in (*config.tenant_ids, *(t for t in records if t not in config.tenant_ids))
        }
        return {
            "data_requests": len(self._requests),
            "token_requests": counters.get("token_requests", 0),
            "throttled": counters.get("throttled", 0),
            "faults_served": dict(self._faults.served),
            "max_in_window": everything,
            "hosts": hosts,
            "window_s": window,
            "collections": {
                name: {
                    "requests": len(logs[name]) if name in logs else 0,
                    "max_in_window": logs[name].max_in_any(window) if name in logs else 0,
                    "throttled": throttled_by[("collection", name)],
                    "limit": config.budget_requests,
                }
                for name in names
            },
            "app": {
                "requests": len(self._requests),
                "max_in_window": everything,
                "throttled": throttled_by[("app", "")],
                "limit": config.app_budget_requests if config.budget_requests is not None else None,
            },
            "tenants": tenants,
            "late_calls": self._late_stats(config),
        }

    def _late_stats(self, config: EmulatorConfig) -> list[dict[str, Any]]:
        """Each late-calls entry (JSON form, its tenant resolved) and whether it is visible now."""
        plan = self._plan_of(config)
        if not plan.resolved:
            return []
        shown = self._shown_now(plan, len(self._requests))
        return [
            {**item.entry.as_json(), "tenant": item.tenant, "visible": position in shown}
            for position, item in enumerate(plan.resolved)
        ]

    def _tenant_stats(self, config: EmulatorConfig, tenant_id: str, record: _TenantRecord | None) -> dict:
        """One tenant's part of ``stats``."""
        record = record or _TenantRecord()
        window = config.budget_window_s
        with self._lock:
            counters, throttled_by = dict(record.counters), Counter(record.throttled_by)
            logs, flights = dict(record.collection_requests), dict(record.flights)
        names = sorted(set(logs) | {collection_of(function, config) for function in REPORTS})
        everything = record.requests.max_in_any(window)
        try:
            permission: bool | None = config.tenant(tenant_id).grant_permission
        except ValueError:
            permission = None  # no longer declared
        collections = {}
        for name in names:
            intervals = flights[name].intervals() if name in flights else []
            collections[name] = {
                "requests": len(logs[name]) if name in logs else 0,
                "max_in_window": logs[name].max_in_any(window) if name in logs else 0,
                "throttled": throttled_by[("collection", name)],
                "limit": config.budget_requests,
                "max_in_flight": max_overlap(intervals),
                "in_flight": sum(1 for _, end in intervals if end is None),
            }
        return {
            "data_requests": len(record.requests),
            "token_requests": counters.get("token_requests", 0),
            "throttled": counters.get("throttled", 0),
            "max_in_window": everything,
            "grant_permission": permission,
            "collections": collections,
            "app": {
                "requests": len(record.requests),
                "max_in_window": everything,
                "throttled": throttled_by[("app", "")],
                "limit": config.app_budget_requests if config.budget_requests is not None else None,
            },
        }

    def max_requests_in_any(self, window_s: float, collection: str | None = None, tenant: str | None = None) -> int:
        """Most data requests received (429s included) within any rolling ``window_s`` seconds.

        Over every report, or only those counted against ``collection`` (a report name, or "callRecords"
        when the collection is shared). With ``tenant``, only the requests whose token is that tenant's (the
        number to hold against its budgets); without, every request received, whatever its tenant, as the
        totals of ``stats`` count (with one tenant declared: its requests and any without a good token).
        """
        if tenant is None:
            if collection is None:
                return self._requests.max_in_any(window_s)
            with self._lock:
                log = self._collection_requests.get(collection)
            return log.max_in_any(window_s) if log is not None else 0
        record = self._known_record(tenant)
        if record is None:
            return 0
        if collection is None:
            return record.requests.max_in_any(window_s)
        with self._lock:
            log = record.collection_requests.get(collection)
        return log.max_in_any(window_s) if log is not None else 0

    def request_intervals(self, tenant: str | None = None, collection: str | None = None) -> list[Interval]:
        """When each of ``tenant``'s data requests was in flight, ``(arrival, answer written)``, by arrival.

        In ``time.monotonic()`` seconds of the emulator's process; the end is None while the answer is not out.
        ``tenant`` None is the default tenant; ``collection`` None every collection of the tenant. Requests
        without a good token are in no tenant's flights.
        """
        record = self._known_record(tenant if tenant is not None else self._config.tenant_id)
        if record is None:
            return []
        with self._lock:
            flights = [log for name, log in record.flights.items() if collection is None or name == collection]
        return sorted((interval for log in flights for interval in log.intervals()), key=lambda flight: flight[0])

    def max_in_flight(self, tenant: str | None = None, collection: str | None = None) -> int:
        """The most data requests of ``tenant`` (None: the default) and ``collection`` (None: any) in flight at once."""
        return max_overlap(self.request_intervals(tenant, collection))

    def _known_record(self, tenant: str) -> _TenantRecord | None:
        """The tenant's record, None if it has none yet; ``ValueError`` for a tenant never declared nor served."""
        with self._lock:
            record = self._tenants.get(tenant)
        if record is None:
            self._config.tenant(tenant)  # ValueError when unknown: a typo, not "no requests"
        return record

    def _record_of(self, tenant: str) -> _TenantRecord:
        with self._lock:
            return self._tenants.setdefault(tenant, _TenantRecord())

    def _requests_of(self, collection: str) -> RequestLog:
        with self._lock:
            return self._collection_requests.setdefault(collection, RequestLog())

    def _bump(self, counter: Counter, name: object) -> None:
        with self._lock:
            counter[name] += 1

    # --- ground truth ----------------------------------------------------------------------------------
    def retained(self, start: datetime) -> bool:
        """False when a window starting at ``start`` is past retention (Graph then answers zero rows)."""
        days = self._config.retention_days
        if days is None:
            return True
        today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
        return (start if start.tzinfo else start.replace(tzinfo=UTC)) >= today - timedelta(days=days)

    def expected_rows_json(
        self,
        start: datetime,
        end: datetime,
        api_version: str = "v1.0",
        *,
        report: str = DIRECT_ROUTING_CALLS,
        tenant: str | None = None,
    ) -> str:
        """The JSON array of every ``report`` row of ``tenant`` (None: the default) starting in ``[start, end)``.

        In served order, late calls visible now included; ``ValueError`` for a tenant that is not declared.
        """
        log = self._visible_log(report, tenant)
        if not self.retained(start) or start >= end:
            return "[]"
        lo, hi = log.bounds(to_ticks(start), to_ticks(end))
        rows = log.rows(lo, hi, 0, log.count(lo, hi), beta=api_version == "beta")
        return "[" + ",".join(rows) + "]"

    def expected_rows(
        self,
        start: datetime,
        end: datetime,
        api_version: str = "v1.0",
        *,
        report: str = DIRECT_ROUTING_CALLS,
        tenant: str | None = None,
    ) -> list[dict]:
        """Exactly the rows (as served, sentinels included) whose startDateTime is in ``[start, end)``.

        Always half-open, whichever report: for ``getPstnCalls`` (inclusive ``toDateTime``) a request for
        ``[D, D+1]`` returns these rows plus the calls starting exactly at D+1. The rows of ``tenant``
        (None: the default tenant), as its tokens are served them.
        """
        return json.loads(self.expected_rows_json(start, end, api_version, report=report, tenant=tenant))

    def _visible_log(self, report: str, tenant: str | None) -> DailyLog | RevisedLog:
        """``report`` of ``tenant`` (None: the default) as a data request received now would be served it."""
        config = self._config
        settings = config.tenant(tenant)
        function = report_named(report).function
        log = self._logs_of(config, settings)[function]
        return self._view(config, settings.tenant_id, function, log, len(self._requests))

    def expected_count(
        self, start: datetime, end: datetime, *, report: str = DIRECT_ROUTING_CALLS, tenant: str | None = None
    ) -> int:
        """How many ``report`` calls of ``tenant`` (None: the default tenant) start in ``[start, end)``, now."""
        log = self._visible_log(report, tenant)
        if not self.retained(start) or start >= end:
            return 0
        return log.count(*log.bounds(to_ticks(start), to_ticks(end)))


def _new_id() -> str:
    return str(uuid.uuid4())


def _with(row: str, **values: object) -> str:
    """A row's JSON text with some properties set (None: null), or removed (``_ABSENT``)."""
    document = json.loads(row)
    for name, value in values.items():
        if value is _ABSENT:
            document.pop(name, None)
        else:
            document[name] = value
    return json.dumps(document, separators=(",", ":"))


_ABSENT = object()
_ROW_FAULTS = {
    "non_object_row": lambda row: json.dumps("not a row"),
    "bad_timestamp": lambda row: _with(row, startDateTime="yesterday at noon"),
    "null_start": lambda row: _with(row, startDateTime=None),
    "absent_start": lambda row: _with(row, startDateTime=_ABSENT),
}
