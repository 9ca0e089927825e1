"""A local webhook that stands in for a Microsoft Teams Workflows webhook, or any JSON webhook, in tests.

``AlertReceiver`` listens on 127.0.0.1 on a port the OS picks, in a thread of its own, records every request
it gets (method, path, query, headers, the body as text and parsed JSON) and answers 200, or the status a test
sets to play a failing webhook. It is a context manager; a test module makes it a fixture in three lines:

    @pytest.fixture
    def receiver():
        with AlertReceiver() as receiver:
            yield receiver

    apprise.Apprise(receiver.apprise_url)...notify(body="...", title="...")   # json://127.0.0.1:PORT/alerts
    monkeypatch.setenv(*receiver.airflow_connection_env("alerts_webhook").popitem())  # for AppriseHook
    [message] = receiver.wait_for(1)
    message.title, message.body, message.type      # what apprise sent: its title, its message, info/failure/...

apprise's generic JSON webhook (``json://``, plugins/custom_json.py) POSTs ``{"version": "1.0", "title": ...,
"message": ..., "attachments": [...], "type": "info" | "success" | "warning" | "failure"}`` with Content-Type
``application/json``. With ``tls=True`` the receiver speaks HTTPS (a throwaway CA, ``ca_path``) and also stands in
for Teams itself: ``workflows_url`` is an apprise ``workflows://`` URL aimed at it, whose Adaptive Card's title
and body ``ReceivedMessage`` reads the same way. Both URLs skip certificate checks (``verify=no``): the point is
what arrives, not the TLS.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import ssl
import tempfile
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
WORKFLOW_ID = "alertreceiver"
WORKFLOW_SIGNATURE = "localtestsignature"


@dataclass(frozen=True)
class ReceivedMessage:
    """One request the receiver got, and what it answered.

    ``headers`` have lower-case names; ``payload`` is the parsed JSON body (None when the body is not JSON).
    ``title``, ``body`` and ``type`` read apprise's JSON webhook payload (title, message, type) or a Teams
    Adaptive Card (its TextBlocks with id "title" and "body"); for any other body ``body`` is the raw text.
    """

    method: str
    path: str
    query: Mapping[str, str]
    headers: Mapping[str, str]
    text: str
    payload: Any
    status: int
    received_at: float = field(compare=False)  # time.time()

    @property
    def card(self) -> dict[str, Any] | None:
        """The Adaptive Card of a Teams Workflows message, None for any other body."""
        payload = self.payload
        if not isinstance(payload, dict) or payload.get("type") != "message":
            return None
        for attachment in payload.get("attachments") or ():
            if isinstance(attachment, dict) and attachment.get("contentType") == ADAPTIVE_CARD:
                content = attachment.get("content")
                return content if isinstance(content, dict) else None
        return None

    def _card_text(self, block_id: str) -> str | None:
        card = self.card
        for block in (card or {}).get("body") or ():
            if isinstance(block, dict) and block.get("type") == "TextBlock" and block.get("id") == block_id:
                return str(block.get("text", ""))
        return None

    @property
    def title(self) -> str | None:
        """The notification's title: apprise's ``title``, or the card's title block (None when it has none)."""
        if self.card is not None:
            return self._card_text("title")
        if isinstance(self.payload, dict) and "title" in self.payload:
            return str(self.payload["title"])
        return None

    @property
    def body(self) -> str:
        """The notification's text: apprise's ``message``, the card's body block, or the raw body."""
        if self.card is not None:
            return self._card_text("body") or ""
        if isinstance(self.payload, dict) and "message" in self.payload:
            return str(self.payload["message"])
        return self.text

    @property
    def type(self) -> str | None:
        """apprise's notification type (``info``, ``success``, ``warning``, ``failure``); None for other bodies."""
        if self.card is None and isinstance(self.payload, dict) and isinstance(self.payload.get("type"), str):
            return self.payload["type"]
        return None


class AlertReceiver:
    """A JSON webhook on 127.0.0.1 (plain HTTP, or HTTPS with ``tls``) that records what it is sent.

    ``status`` is what it answers (200; set it, or ``fail_next``, to play a webhook that refuses); ``path`` is
    the path of ``apprise_url``: the receiver records requests to any path.
    """

    def __init__(self, *, status: int = 200, path: str = "/alerts", tls: bool = False, host: str = "127.0.0.1"):
        self.path = "/" + path.strip("/")
        self.tls = tls
        self.host = host
        self._status = status
        self._failures: deque[int] = deque()
        self._messages: list[ReceivedMessage] = []
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._tmp: str | None = None
        self.ca_path = ""

    # --- life cycle --------------------------------------------------------------------------------------------
    def start(self) -> AlertReceiver:
        if self._server is not None:
            raise RuntimeError("the alert receiver is already started")
        context = None
        if self.tls:
            import trustme

            ca = trustme.CA()
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ca.issue_cert(self.host, "localhost").configure_cert(context)
            self._tmp = tempfile.mkdtemp(prefix="alert-receiver-")
            self.ca_path = str(Path(self._tmp) / "ca.pem")
            ca.cert_pem.write_to_path(self.ca_path)
        self._server = _Server((self.host, 0), self, context)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"alert-receiver-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            if self._thread is not None:
                self._thread.join(timeout=5)
            self._server = self._thread = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> AlertReceiver:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # --- where it is ----------------------------------------------------------------------------------------------
    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the alert receiver is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """``http(s)://127.0.0.1:PORT/alerts``: where to POST."""
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}{self.path}"

    @property
    def apprise_url(self) -> str:
        """apprise's generic JSON webhook aimed at ``url``: ``json://127.0.0.1:PORT/alerts`` (``jsons://`` with TLS)."""
        if self.tls:
            return f"jsons://{self.host}:{self.port}{self.path}?verify=no"
        return f"json://{self.host}:{self.port}{self.path}"

    @property
    def workflows_url(self) -> str:
        """An apprise Teams Workflows URL aimed at this receiver (``tls=True`` only: Workflows is HTTPS-only)."""
        if not self.tls:
            raise RuntimeError("Teams Workflows posts over HTTPS only: start the receiver with tls=True")
        return f"workflows://{self.host}:{self.port}/{WORKFLOW_ID}/{WORKFLOW_SIGNATURE}/?verify=no&image=no"

    def airflow_connection(self, tag: str = "alerts", *, url: str | None = None) -> dict[str, Any]:
        """An Airflow connection of the apprise provider that posts here (``url``: another apprise URL of it)."""
        return {"conn_type": "apprise", "extra": {"config": {"path": url or self.apprise_url, "tag": tag}}}

    def airflow_connection_env(
        self, conn_id: str = "apprise_default", tag: str = "alerts", *, url: str | None = None
    ) -> dict[str, str]:
        """``{"AIRFLOW_CONN_<CONN_ID>": <the connection as JSON>}``, the way a deployment sets it in the environment."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": json.dumps(self.airflow_connection(tag, url=url))}

    # --- what it answers ---------------------------------------------------------------------------------------
    @property
    def status(self) -> int:
        """The HTTP status of every answer (after any queued by ``fail_next``)."""
        with self._changed:
            return self._status

    @status.setter
    def status(self, value: int) -> None:
        with self._changed:
            self._status = value

    def fail_next(self, count: int = 1, status: int = 500) -> None:
        """Answer the next ``count`` requests with ``status``, then ``status`` as before."""
        with self._changed:
            self._failures.extend([status] * count)

    def _next_status(self) -> int:
        with self._changed:
            return self._failures.popleft() if self._failures else self._status

    # --- what it got ---------------------------------------------------------------------------------------------
    @property
    def messages(self) -> list[ReceivedMessage]:
        """Every request received so far, in arrival order (a copy)."""
        with self._changed:
            return list(self._messages)

    def clear(self) -> None:
        with self._changed:
            self._messages.clear()

    def wait_for(self, count: int = 1, timeout: float = 10.0) -> list[ReceivedMessage]:
        """The messages, once at least ``count`` arrived; ``TimeoutError`` after ``timeout`` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._messages) >= count, timeout):
                got = [(m.method, m.path, m.title) for m in self._messages]
                raise TimeoutError(f"the alert receiver got {len(got)} of {count} messages in {timeout:g} s: {got}")
            return list(self._messages)

    def _record(self, message: ReceivedMessage) -> None:
        with self._changed:
            self._messages.append(message)
            self._changed.notify_all()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, address: tuple[str, int], receiver: AlertReceiver, context: ssl.SSLContext | None):
        self.receiver = receiver
        self.context = context
        super().__init__(address, _Handler)

    def finish_request(self, request, client_address) -> None:
        if self.context is None:
            return super().finish_request(request, client_address)
        request.settimeout(30)
        try:  # the TLS handshake in the connection's own thread, never in the accept loop
            tls = self.context.wrap_socket(request, server_side=True)
        except (OSError, ssl.SSLError):
            return None
        try:
            self.RequestHandlerClass(tls, client_address, self)
        except (OSError, ssl.SSLError):
            pass
        finally:
            with contextlib.suppress(OSError):
                tls.shutdown(socket.SHUT_RDWR)
            tls.close()
        return None

    def handle_error(self, request, client_address) -> None:
        """Clients that go away mid-request are no news here."""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "AlertReceiver/1.0"
    server: _Server

    def log_message(self, format: str, *args) -> None:
        """Quiet: the tests read ``messages``."""

    def _receive(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        text = raw.decode("utf-8", errors="replace")
        try:
            payload = json.loads(text) if text.strip() else None
        except ValueError:
            payload = None
        parts = urlsplit(self.path)
        receiver = self.server.receiver
        status = receiver._next_status()
        receiver._record(
            ReceivedMessage(
                method=self.command,
                path=parts.path,
                query=dict(parse_qsl(parts.query, keep_blank_values=True)),
                headers={name.lower(): value for name, value in self.headers.items()},
                text=text,
                payload=payload,
                status=status,
                received_at=time.time(),
            )
        )
        body = b"" if 200 <= status < 300 else json.dumps({"error": f"the receiver answers {status}"}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET = _receive
