"""The HTTP side: TLS server, routing, admin endpoints; every answer comes from ``EmulatorState``.

Plain ``http.server`` on HTTP/1.1 with keep-alive (every answer has a Content-Length). The TLS handshake runs
in the connection's own thread, so a slow or broken client never stalls the accept loop. The handler parses
requests and writes ``Answer`` objects; it knows nothing of call logs, tokens or budgets beyond the state's
public methods (the dependency goes one way: server -> state).
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import ssl
import struct
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote

from graph_emulator.protocol import RESET, TRUNCATE, Answer, DataRequest, GraphError, parse_moment
from graph_emulator.reports import DIRECT_ROUTING_CALLS, REPORTS, report_named
from graph_emulator.state import EmulatorState

DATA_PATH = re.compile(
    r"^/(v1\.0|beta)/communications/callRecords/(?:microsoft\.graph\.callRecords\.)?"
    rf"({'|'.join(map(re.escape, REPORTS))})"
    r"(?:\((.*)\))?/?$"
)
TOKEN_PATH = re.compile(r"^/([^/]+)/oauth2/v2\.0/token$")
DISCOVERY_PATH = re.compile(r"^/([^/]+)/v2\.0/\.well-known/openid-configuration$")
OK = Answer.json(200, {"ok": True})


class TLSServer(ThreadingHTTPServer):
    """A threading HTTP server that speaks TLS and answers from one ``EmulatorState``."""

    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], context: ssl.SSLContext, state: EmulatorState, public_host: str):
        self.context = context
        self.state = state
        self.public_host = public_host
        super().__init__(address, Handler)

    @property
    def root(self) -> str:
        """``https://host:port``: the Graph root and token authority clients reach this server at."""
        return f"https://{self.public_host}:{self.server_address[1]}"

    # A TCP server's request is always a socket (TCPServer.get_request); typeshed types finish_request on
    # BaseServer with UDP's (bytes, socket) pair as well, so this narrower override needs the ignore.
    def finish_request(self, request: socket.socket, client_address: Any) -> None:  # type: ignore[override]
        request.settimeout(30)
        try:
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return
        try:
            # mypy leaves the stub's Self unbound on this Callable-typed attribute, so even self does not match it.
            self.RequestHandlerClass(tls, client_address, self)  # type: ignore[arg-type]
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
    def state(self) -> EmulatorState:
        return self.server.state

    def _write(self, answer: Answer) -> None:
        """Send an answer, after its delay, broken on the wire as its ``transport`` says."""
        if answer.delay_s:
            time.sleep(answer.delay_s)
        if answer.transport == RESET:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()
            self.close_connection = True
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if answer.transport == TRUNCATE:
            self.wfile.write(answer.body[: len(answer.body) // 2])
            self.close_connection = True
            return
        self.wfile.write(answer.body)

    def _not_found(self, path: str) -> None:
        error = GraphError(404, "ResourceNotFound", f"Resource not found for the segment '{path}'.")
        self._write(error.answer(self.headers.get("client-request-id")))

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
        root = self.server.root
        if path.startswith("/_emulator/"):
            return self._write(self._admin_get(path, params))
        if match := DATA_PATH.match(path):
            request = DataRequest(
                root=root,
                version=match.group(1),
                function=match.group(2),
                args=match.group(3),
                params=params,
                authorization=self.headers.get("Authorization"),
                host=self.headers.get("Host", ""),
                client_request_id=self.headers.get("client-request-id"),
            )
            answer = self.state.answer_data(request)
            try:
                return self._write(answer)
            finally:
                if answer.sent is not None:  # the request's flight ends when its answer is out (or abandoned)
                    answer.sent()
        if match := DISCOVERY_PATH.match(path):
            return self._write(self.state.discovery(match.group(1), root=root))
        if path == "/common/discovery/instance":
            return self._write(self.state.instance_discovery(params.get("authorization_endpoint", ""), root=root))
        self._not_found(path)

    def do_POST(self) -> None:
        path, _ = self._split()
        body = self._read_body()
        if path.startswith("/_emulator/"):
            return self._write(self._admin_post(path, body))
        if match := TOKEN_PATH.match(path):
            return self._write(self.state.grant_token(match.group(1), body, root=self.server.root))
        self._not_found(path)

    # --- admin -----------------------------------------------------------------------------------------
    def _admin_get(self, path: str, params: dict[str, str]) -> Answer:
        if path == "/_emulator/stats":
            return Answer.json(200, self.state.stats())
        tenant = params.get("tenant") or None  # the default tenant when absent
        if path in ("/_emulator/rows", "/_emulator/count"):
            try:
                # A "+" offset arrives as a space when the caller did not percent-encode the query.
                start = parse_moment(params.get("from", "").replace(" ", "+"))
                end = parse_moment(params.get("to", "").replace(" ", "+"))
                report = report_named(params.get("report", DIRECT_ROUTING_CALLS)).function
                if path == "/_emulator/count":
                    count = self.state.expected_count(start, end, report=report, tenant=tenant)
                    return Answer.json(200, {"count": count})
                version = params.get("api_version", "v1.0")
                text = self.state.expected_rows_json(start, end, version, report=report, tenant=tenant)
            except GraphError as error:
                return Answer.json(400, {"error": error.message})
            except ValueError as error:
                return Answer.json(400, {"error": str(error)})
            return Answer(200, text.encode())
        if path == "/_emulator/intervals":
            collection = params.get("collection") or None
            try:
                intervals = self.state.request_intervals(tenant, collection)
            except ValueError as error:
                return Answer.json(400, {"error": str(error)})
            return Answer.json(200, {"intervals": intervals})
        return Answer.json(404, {"error": f"no admin endpoint {path}"})

    def _admin_post(self, path: str, body: bytes) -> Answer:
        if path == "/_emulator/config":
            try:
                self.state.configure(**json.loads(body or b"{}"))
            except (TypeError, ValueError) as error:
                return Answer.json(400, {"error": str(error)})
            return OK
        if path == "/_emulator/late_calls":  # one LateCalls entry (JSON form), added after the configured ones
            try:
                return Answer.json(200, self.state.add_late_calls(json.loads(body or b"{}")))
            except (TypeError, ValueError) as error:
                return Answer.json(400, {"error": str(error)})
        if path == "/_emulator/reset_stats":
            self.state.reset_stats()
            return OK
        if path == "/_emulator/revoke_tokens":
            try:
                self.state.revoke_tokens(**json.loads(body or b"{}"))  # {"tenant": ...} for one tenant's only
            except (TypeError, ValueError) as error:
                return Answer.json(400, {"error": str(error)})
            return OK
        return Answer.json(404, {"error": f"no admin endpoint {path}"})
