"""The HTTP side: TLS server, routing, Graph's data endpoint with its errors and faults, admin endpoints.

Plain ``http.server`` on HTTP/1.1 with keep-alive (every answer has a Content-Length). The TLS handshake runs
in the connection's own thread, so a slow or broken client never stalls the accept loop.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import struct
import time
import uuid
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, unquote, urlsplit

from graph_emulator.config import EmulatorConfig, Fault
from graph_emulator.data import to_ms
from graph_emulator.throttle import format_retry_after
from graph_emulator.tokens import TokenError, discovery_document, grant, unknown_tenant

if TYPE_CHECKING:
    from graph_emulator.emulator import GraphEmulator

DATA_PATH = re.compile(
    r"^/(v1\.0|beta)/communications/callRecords/(?:microsoft\.graph\.callRecords\.)?getDirectRoutingCalls"
    r"(?:\((.*)\))?/?$"
)
TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
DISCOVERY_PATH = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")
DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_RANGE = timedelta(days=90)
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"
ROW_TYPE = "microsoft.graph.callRecords.directRoutingLogRow"


class GraphError(Exception):
    """An OData error answer: HTTP status, Graph's ``code`` and ``message``, optional Retry-After."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after


def parse_moment(text: str) -> datetime:
    """A function argument as Graph reads it: date-only (midnight UTC) or ISO-8601; naive means UTC."""
    try:
        if DATE_ONLY.match(text):
            moment = datetime.fromisoformat(text + "T00:00:00+00:00")
        elif "T" in text:
            moment = datetime.fromisoformat(text)
        else:
            raise ValueError(text)
    except ValueError:
        raise GraphError(
            400,
            "BadRequest",
            f"The DateTimeOffset text '{text}' should be in format 'yyyy-mm-ddThh:mm:ss('.'s+)?(zzzzzz)?' and each "
            "field value is within valid range.",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_arguments(args: str | None) -> tuple[str, str]:
    """The raw ``fromDateTime`` and ``toDateTime`` texts of ``getDirectRoutingCalls(...)``."""
    if args is None:
        raise GraphError(400, "BadRequest", "The parameters 'fromDateTime' and 'toDateTime' are required.")
    values: dict[str, str] = {}
    position = 0
    for part in args.split(","):
        name, equals, value = part.partition("=")
        if not equals or not value.strip():
            raise GraphError(400, "BadRequest", f"Expression expected at position {position + len(part)} in '{args}'.")
        if name.strip() not in ("fromDateTime", "toDateTime"):
            raise GraphError(400, "BadRequest", f"The parameter '{name.strip()}' is not in scope.")
        values[name.strip()] = value.strip()
        position += len(part) + 1
    for name in ("fromDateTime", "toDateTime"):
        if name not in values:
            raise GraphError(400, "BadRequest", f"The parameter '{name}' is missing in '{args}'.")
    return values["fromDateTime"], values["toDateTime"]


class TLSServer(ThreadingHTTPServer):
    """A threading HTTP server that speaks TLS and knows its emulator."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, emulator: GraphEmulator):
        self.context = context
        self.emulator = emulator
        super().__init__(address, Handler)

    def finish_request(self, request: socket.socket, client_address) -> None:
        request.settimeout(30)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_RDWR)
            tls.close()

    def handle_error(self, request, client_address) -> None:
        """Clients that vanish mid-request are normal here; stay quiet."""


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GraphEmulator/1.0"
    server: TLSServer

    def log_message(self, format: str, *args) -> None:
        """No access log: a million-row pull would print a thousand lines."""

    # --- plumbing --------------------------------------------------------------------------------------
    @property
    def emu(self) -> GraphEmulator:
        return self.server.emulator

    def _send(
        self,
        status: int,
        body: bytes,
        content_type: str = "application/json; charset=utf-8",
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _send_graph_error(self, error: GraphError) -> None:
        request_id = str(uuid.uuid4())
        client_request_id = self.headers.get("client-request-id") or str(uuid.uuid4())
        body = {
            "error": {
                "code": error.code,
                "message": error.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                },
            }
        }
        headers = {"request-id": request_id, "client-request-id": client_request_id}
        if error.retry_after is not None:
            headers["Retry-After"] = format_retry_after(error.retry_after)
        self._send_json(error.status, body, headers)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _split(self) -> tuple[str, dict[str, str]]:
        raw_path, _, query = self.path.partition("?")
        params = {key: values[0] for key, values in parse_qs(query, keep_blank_values=True).items()}
        return unquote(raw_path), params

    # --- routing ---------------------------------------------------------------------------------------
    def do_GET(self) -> None:
        path, params = self._split()
        if path.startswith("/_emulator/"):
            return self._admin_get(path, params)
        if match := DATA_PATH.match(path):
            return self._data(match.group(1), match.group(2), params)
        if match := DISCOVERY_PATH.match(path):
            return self._discovery(match.group(1))
        if path == "/common/discovery/instance":
            return self._instance_discovery(params.get("authorization_endpoint", ""))
        self._send_graph_error(GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{path}'."))

    def do_POST(self) -> None:
        path, _ = self._split()
        body = self._read_body()
        if path.startswith("/_emulator/"):
            return self._admin_post(path, body)
        if match := TOKEN_PATH.match(path):
            return self._token(match.group(1), body)
        self._send_graph_error(GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{path}'."))

    # --- AAD -------------------------------------------------------------------------------------------
    def _discovery(self, tenant: str) -> None:
        if tenant not in (self.emu.config.tenant_id, "common", "organizations"):
            error = unknown_tenant(tenant)
            return self._send_json(error.status, error.body)
        self._send_json(200, discovery_document(self.emu.authority, tenant))

    def _instance_discovery(self, authorization_endpoint: str) -> None:
        """AAD's instance discovery, for MSAL callers that leave it enabled."""
        authority = self.emu.authority
        host = authority.split("://", 1)[-1]
        tenant = urlsplit(authorization_endpoint).path.strip("/").split("/")[0] or "common"
        self._send_json(
            200,
            {
                "tenant_discovery_endpoint": f"{authority}/{tenant}/v2.0/.well-known/openid-configuration",
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
            },
        )

    def _token(self, tenant: str, body: bytes) -> None:
        self.emu._count("token_requests")
        token_url = f"{self.emu.authority}/{tenant}/oauth2/v2.0/token"
        try:
            answer = grant(
                self.emu.config,
                self.emu.tokens,
                tenant=tenant,
                body=body,
                token_url=token_url,
                graph_root=self.emu.graph_root,
            )
        except TokenError as error:
            return self._send_json(error.status, error.body)
        self._send_json(200, answer, {"Cache-Control": "no-store, no-cache", "Pragma": "no-cache"})

    # --- Graph data ------------------------------------------------------------------------------------
    def _data(self, version: str, args: str | None, params: dict[str, str]) -> None:
        emu = self.emu
        number = emu.requests.record()
        emu._count_host(self.headers.get("Host", ""))
        config = emu.config
        fault = emu.faults.pick(config.faults, number)
        try:
            fault = self._early_fault(fault)
            if fault == "answered":
                return
            if problem := emu.tokens.problem(self.headers.get("Authorization")):
                raise GraphError(401, "InvalidAuthenticationToken", problem)
            if not config.grant_permission:
                raise GraphError(403, "Forbidden", "")
            if (wait := emu.budget.try_accept(config.budget_requests, config.budget_window_s)) is not None:
                emu._count("throttled")
                raise GraphError(429, "TooManyRequests", "Too many requests.", retry_after=wait)
            body = self._page(config, version, args, params, fault)
        except GraphError as error:
            return self._send_graph_error(error)
        if config.latency_s:
            time.sleep(config.latency_s)
        self._deliver(body, fault)

    def _early_fault(self, fault: Fault | None) -> Fault | str | None:
        """Serve the faults that replace the answer; return the fault still to apply to the page, if any."""
        if fault is None:
            return None
        kind = fault.kind
        if kind == "throttle":
            self.emu._count("throttled")
            raise GraphError(429, "TooManyRequests", "Too many requests.", retry_after=fault.retry_after)
        if kind == "unavailable":
            raise GraphError(503, "serviceNotAvailable", "Service unavailable.", retry_after=fault.retry_after)
        if kind == "gateway_timeout":
            raise GraphError(504, "gatewayTimeout", "Gateway timeout.", retry_after=fault.retry_after)
        if kind == "expire_token":
            self.emu.revoke_tokens()
            raise GraphError(401, "InvalidAuthenticationToken", "Access token has expired or is not yet valid.")
        if kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return "answered"
        if kind == "latency":
            time.sleep(fault.seconds if fault.seconds is not None else fault.retry_after or 0.0)
            return None
        return fault

    def _page(
        self, config: EmulatorConfig, version: str, args: str | None, params: dict[str, str], fault: Fault | None
    ) -> bytes:
        from_text, to_text = parse_arguments(args)
        start, end = parse_moment(from_text), parse_moment(to_text)
        if start >= end:
            raise GraphError(400, "BadRequest", "fromDateTime must be earlier than toDateTime.")
        if end - start > MAX_RANGE:
            raise GraphError(406, "NotAcceptable", "The requested date range exceeds the maximum of 90 days.")
        skip_text = params.get("$skip", "0")
        if not skip_text.isdigit():
            raise GraphError(400, "BadRequest", f"Invalid value '{skip_text}' for $skip query option.")
        skip, beta = int(skip_text), version == "beta"
        kind = fault.kind if fault else None
        extra = ',"futureField":"x"' if kind == "extra_field" else ""
        emu = self.emu
        if emu.retained(start):
            start_ms, end_ms = to_ms(start), to_ms(end)
            total = emu.calls.count(start_ms, end_ms)
            rows = emu.calls.rows(start_ms, end_ms, skip, config.page_size, beta=beta, extra=extra)
            if kind == "duplicate_rows" and skip:
                repeat = min(fault.rows, skip, config.page_size)
                rows = emu.calls.rows(start_ms, end_ms, skip - repeat, repeat, beta=beta, extra=extra) + rows
                served = len(rows) - repeat
            else:
                served = len(rows)
        else:
            total, rows, served = 0, [], 0
        root = emu.graph_root
        parts = [
            '{"@odata.context":',
            json.dumps(f"{root}/{version}/$metadata#Collection({ROW_TYPE})"),
            ',"@odata.count":',
            str(len(rows)),
            ',"value":[',
            ",".join(rows),
            "]",
        ]
        if skip + served < total:
            base = fault.target.rstrip("/") if kind == "foreign_next_link" else root
            link = (
                f"{base}/{version}/communications/callRecords/getDirectRoutingCalls"
                f"(fromDateTime={from_text},toDateTime={to_text})?$skip={skip + served}"
            )
            parts += [',"@odata.nextLink":', json.dumps(link)]
        parts.append("}")
        return "".join(parts).encode()

    def _deliver(self, body: bytes, fault: Fault | None) -> None:
        kind = fault.kind if fault else None
        if kind == "invalid_json":
            body = body[: max(len(body) - 7, 1)]
        self.send_response(200)
        self.send_header("Content-Type", ODATA_JSON)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("request-id", str(uuid.uuid4()))
        self.send_header("client-request-id", self.headers.get("client-request-id") or str(uuid.uuid4()))
        self.end_headers()
        if kind == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        self.wfile.write(body)

    # --- admin -----------------------------------------------------------------------------------------
    def _admin_get(self, path: str, params: dict[str, str]) -> None:
        if path == "/_emulator/stats":
            return self._send_json(200, self.emu.stats())
        if path in ("/_emulator/rows", "/_emulator/count"):
            try:
                # A "+" offset arrives as a space when the caller did not percent-encode the query.
                start = parse_moment(params.get("from", "").replace(" ", "+"))
                end = parse_moment(params.get("to", "").replace(" ", "+"))
            except GraphError as error:
                return self._send_json(400, {"error": error.message})
            if path == "/_emulator/count":
                return self._send_json(200, {"count": self.emu.expected_count(start, end)})
            text = self.emu.expected_rows_json(start, end, params.get("api_version", "v1.0"))
            return self._send(200, text.encode())
        self._send_json(404, {"error": f"no admin endpoint {path}"})

    def _admin_post(self, path: str, body: bytes) -> None:
        if path == "/_emulator/config":
            try:
                self.emu.configure(**json.loads(body or b"{}"))
            except (TypeError, ValueError) as error:
                return self._send_json(400, {"error": str(error)})
            return self._send_json(200, {"ok": True})
        if path == "/_emulator/reset_stats":
            self.emu.reset_stats()
            return self._send_json(200, {"ok": True})
        if path == "/_emulator/revoke_tokens":
            self.emu.revoke_tokens()
            return self._send_json(200, {"ok": True})
        self._send_json(404, {"error": f"no admin endpoint {path}"})
