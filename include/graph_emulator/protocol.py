"""Graph's wire vocabulary, free of HTTP plumbing: what a request to the state says, what the state answers.

``EmulatorState`` (state.py) takes a ``DataRequest`` and gives back an ``Answer``; the HTTP handler (server.py)
only parses requests into these and writes answers out. OData errors, function-argument parsing and the
error body live here because both sides need them.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from graph_emulator.data import to_ticks
from graph_emulator.throttle import format_retry_after

DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SEVENTH_DIGIT = re.compile(r"T\d{2}:\d{2}:\d{2}\.\d{6}(\d)")
JSON = "application/json; charset=utf-8"
ODATA_JSON = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8"

# How the handler must break an answer on the wire (faults the state cannot express as bytes).
RESET = "reset"  # no answer: close the TCP connection with a reset
TRUNCATE = "truncate"  # announce the whole body, send half of it, close


@dataclass(frozen=True)
class DataRequest:
    """One call of a report function, as the handler parsed it from the URL and headers."""

    root: str  # where the caller reached us, e.g. ``https://127.0.0.1:8443``: base of context and nextLinks
    version: str  # ``v1.0`` or ``beta``
    function: str  # the report function, e.g. ``getPstnCalls`` (namespace prefix already stripped)
    args: str | None  # the text between the function's parentheses, None without parentheses
    params: Mapping[str, str] = field(default_factory=dict)  # query options (``$skip``...)
    authorization: str | None = None
    host: str = ""  # the Host header, counted per value in the stats
    client_request_id: str | None = None


@dataclass(frozen=True)
class Answer:
    """What to send back: the handler writes it after ``delay_s``, broken as ``transport`` says."""

    status: int
    body: bytes = b""
    content_type: str = JSON
    headers: Mapping[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    transport: str | None = None  # None, RESET or TRUNCATE
    # Called by whoever delivers the answer once it is written or abandoned (the request's flight ends then).
    sent: Callable[[], None] | None = field(default=None, compare=False)

    @classmethod
    def json(cls, status: int, payload: object, headers: Mapping[str, str] | None = None) -> Answer:
        return cls(status, json.dumps(payload).encode(), headers=dict(headers or {}))


class GraphError(Exception):
    """An OData error answer: HTTP status, Graph's ``code`` and ``message``, optional Retry-After."""

    def __init__(self, status: int, code: str, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.retry_after = status, code, message, retry_after

    def answer(self, client_request_id: str | None = None, delay_s: float = 0.0) -> Answer:
        """The error as Graph sends it: OData body with ``innerError``, request ids echoed in headers."""
        request_id = str(uuid.uuid4())
        client_request_id = client_request_id or str(uuid.uuid4())
        body = {
            "error": {
                "code": self.code,
                "message": self.message,
                "innerError": {
                    "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
                    "request-id": request_id,
                    "client-request-id": client_request_id,
                },
            }
        }
        headers = {"request-id": request_id, "client-request-id": client_request_id}
        if self.retry_after is not None:
            headers["Retry-After"] = format_retry_after(self.retry_after)
        return Answer(self.status, json.dumps(body).encode(), headers=headers, delay_s=delay_s)


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


def parse_instant(text: str) -> tuple[datetime, int]:
    """``parse_moment``, plus the instant in 100 ns ticks since the epoch, 7th fractional digit included.

    Python's datetime stops at microseconds; Graph (.NET) reads ``...:56.1234567Z`` to the tick, which matters
    for an inclusive ``toDateTime`` that names a call's exact start.
    """
    moment = parse_moment(text)
    seventh = SEVENTH_DIGIT.search(text)
    return moment, to_ticks(moment) + (int(seventh.group(1)) if seventh else 0)


def parse_arguments(args: str | None) -> tuple[str, str]:
    """The raw ``fromDateTime`` and ``toDateTime`` texts of ``getXxxCalls(...)``."""
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
