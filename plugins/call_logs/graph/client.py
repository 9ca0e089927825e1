"""Page through one Graph call-log report function for one window, whatever Graph throws at us.

One page at a time is yielded (never the whole window), so memory does not grow with the day. Every
request goes through the shared rate limiter; transient failures are retried per request; anything that
retrying cannot fix raises at once with a message that says what to do.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import msgspec
import requests
import urllib3

from call_logs import defaults
from call_logs.graph.auth import TokenProvider
from call_logs.graph.errors import (
    GraphAuthError,
    GraphConfigError,
    GraphError,
    GraphPagingError,
    GraphPermissionError,
    GraphRequestError,
    UnsafeNextLinkError,
)
from call_logs.graph.throttle import RateLimiter, RetryPolicy, parse_retry_after
from call_logs.graph.window import Window
from call_logs.utc import format_utc

log = logging.getLogger(__name__)

TRANSIENT_STATUSES = frozenset({429, 500, 502, 503, 504})
# Numbers with a fraction decode as Decimal: money (getPstnCalls' charges) must reach the lake exactly.
_ROWS_DECODER = msgspec.json.Decoder(float_hook=Decimal)
DEFAULT_TIMEOUT = (10.0, 120.0)  # (connect, read) seconds


class RawPage(msgspec.Struct):
    """One Graph page as the client reads it: each row's JSON text, unparsed, and the page's nextLink.

    Rows are not turned into Python objects here: ``call_logs.lake.fast_decode`` parses them straight into
    Arrow, and ``rows()`` gives the dicts (numbers with a fraction as ``Decimal``) when they are needed.
    ``number`` and ``source`` say where the page came from (its place in its window's chain of nextLinks, and the
    function and window), for messages that name a page; the client sets them, Graph never sends them.
    """

    value: list[msgspec.Raw]
    next_link: Any = msgspec.field(name="@odata.nextLink", default=None)
    next_link_upper: Any = msgspec.field(name="@odata.NextLink", default=None)  # seen from some deployments
    number: int = msgspec.field(name="@call_logs.page", default=0)
    source: str = msgspec.field(name="@call_logs.source", default="")

    def __len__(self) -> int:
        return len(self.value)

    def rows(self) -> list[dict]:
        """The page's rows as dicts, decoded as the client always has (``float_hook=Decimal``)."""
        rows: list[dict] = _ROWS_DECODER.decode(b"[" + b",".join(self.value) + b"]")
        return rows


_PAGE_DECODER = msgspec.json.Decoder(RawPage)


@dataclass
class PullStats:
    """What a pull cost; goes into the partition manifest and the task log."""

    pages: int = 0
    rows: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    throttle_wait_s: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def add(self, **deltas: float) -> None:
        with self._lock:
            for name, delta in deltas.items():
                setattr(self, name, getattr(self, name) + delta)

    def as_dict(self) -> dict[str, float]:
        return {name: getattr(self, name) for name in ("pages", "rows", "requests", "retries", "throttled")} | {
            "throttle_wait_s": round(self.throttle_wait_s, 3)
        }


class _Unauthorized(Exception):
    """Graph answered 401: the token expired or was revoked; worth exactly one refresh."""

    def __init__(self, error: GraphAuthError):
        super().__init__(str(error))
        self.error = error


class _Transient(Exception):
    """A failure worth retrying; carries Graph's Retry-After when it sent one."""

    def __init__(self, reason: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(reason)
        self.retry_after = retry_after
        self.status = status


def _graph_error_fields(response: requests.Response) -> tuple[str, str, str]:
    """(code, message, request-id) from Graph's OData error body, tolerating any shape."""
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        return "", "", response.headers.get("request-id", "")
    inner = error.get("innerError") or error.get("innererror") or {}
    request_id = inner.get("request-id") or response.headers.get("request-id", "")
    return str(error.get("code") or ""), str(error.get("message") or ""), str(request_id)


class GraphReportClient:
    """Reads the rows of one call-log report function from one Graph deployment.

    :param graph_root: ``https://graph.microsoft.com`` or another cloud's root (no version, no slash).
    :param function_path: the report function under the version, e.g. ``communications/callRecords/getPstnCalls``.
    :param api_version: ``v1.0`` or ``beta``.
    :param tokens: supplies bearer tokens; invalidated once when Graph answers 401.
    :param limiter: shared request budget; ``None`` disables client-side limiting.
    :param allowed_hosts: hosts besides the Graph root that a nextLink may point to.
    :param max_pages: a pull (every window sharing one ``PullStats``) stops with ``GraphPagingError`` once it has
        fetched this many pages: the bound of a nextLink chain that never ends.
    """

    def __init__(
        self,
        *,
        graph_root: str,
        function_path: str,
        tokens: TokenProvider,
        api_version: str = "v1.0",
        limiter: RateLimiter | None = None,
        retry: RetryPolicy | None = None,
        verify: bool | str = True,
        proxies: dict | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        allowed_hosts: Iterable[str] = (),
        max_pages: int = defaults.MAX_PAGES_PER_PULL,
        sleep=time.sleep,
    ):
        self.graph_root = graph_root.rstrip("/")
        self.api_version = api_version.strip("/")
        self.function_path = function_path.strip("/")
        self.function = self.function_path.rsplit("/", 1)[-1]
        self.tokens = tokens
        self.limiter = limiter
        self.retry = retry or RetryPolicy()
        self.verify = verify
        self.proxies = proxies or None
        self.timeout = timeout
        root = urlsplit(self.graph_root)
        self._trusted = {(root.scheme, root.netloc.lower())} | {
            (root.scheme, host.strip().lower()) for host in allowed_hosts if host.strip()
        }
        self.max_pages = max_pages
        self._sleep = sleep
        self._local = threading.local()

    # -- public ---------------------------------------------------------------------------------------
    def iter_pages(self, window: Window, stats: PullStats | None = None) -> Iterator[RawPage]:
        """Yield each page of ``window`` in Graph's order (rows unparsed: ``page.rows()``), following nextLinks.

        Paging always ends: a nextLink already followed in this window, or one whose ``$skip`` does not advance,
        raises ``GraphPagingError`` before it is requested, and so does a pull past ``max_pages`` pages.
        """
        stats = stats if stats is not None else PullStats()
        source = f"{self.function} for {window_label(window)}"
        url: str | None = window.url(self.graph_root, self.api_version, self.function_path)
        followed: dict[str, int] = {}  # every URL of this window's chain -> the page it fetched
        skip = -1
        while url:
            if stats.pages >= self.max_pages:
                raise GraphPagingError(
                    f"Graph's paging of {source} went on past {self.max_pages:,} pages in this pull, more than any "
                    "day of calls holds: the window was not written; re-run later, and report it if it repeats."
                )
            followed[url] = len(followed) + 1
            page = self._fetch_page(url, stats)
            page.number, page.source = followed[url], source
            stats.add(pages=1, rows=len(page))
            log.info(
                "Graph page %d of %s: %d rows (%d so far), %d retries, %.1f s waiting on throttling",
                stats.pages,
                window_label(window),
                len(page),
                stats.rows,
                stats.retries,
                stats.throttle_wait_s,
            )
            url = self._next_link(page)
            if url is not None:
                skip = self._check_advances(url, followed, skip, source)
            yield page

    @staticmethod
    def _check_advances(link: str, followed: dict[str, int], skip: int, source: str) -> int:
        """The nextLink's ``$skip`` (or the last one); ``GraphPagingError`` when paging would go round in circles."""
        if link in followed:
            raise GraphPagingError(
                f"Graph's paging repeated page {followed[link]} of {source}: the window was not written; "
                "re-run later, and report it if it repeats."
            )
        values = parse_qs(urlsplit(link).query).get("$skip")  # read, never rebuilt: the link is followed verbatim
        if values and values[0].isdigit():
            if int(values[0]) <= skip:
                raise GraphPagingError(
                    f"Graph's paging of {source} did not advance ($skip={values[0]} after $skip={skip}): the window "
                    "was not written; re-run later, and report it if it repeats."
                )
            return int(values[0])
        return skip

    # -- one page -------------------------------------------------------------------------------------
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # the environment is read once per host (_transport), not on every request
            self._local.session = session
            self._local.transport = {}
        return session

    def _transport(self, url: str) -> dict[str, Any]:
        """``proxies`` and ``verify`` for a request to ``url``'s host: the connection's, or the environment's.

        Without proxies on the connection, the environment's (HTTPS_PROXY, NO_PROXY, REQUESTS_CA_BUNDLE) apply as
        requests would apply them, looked up once per host and thread: per request, that lookup cost a quarter of
        a page's client CPU. (~/.netrc is not read: its credentials would replace the bearer token.)
        """
        if self.proxies is not None:
            return {"proxies": self.proxies, "verify": self.verify}
        self._session()
        host = urlsplit(url).netloc
        cached: dict[str, dict[str, Any]] = self._local.transport
        if host not in cached:
            probe = requests.Session()  # trust_env=True: exactly requests' own merge of the environment
            merged = probe.merge_environment_settings(url, {}, True, self.verify, None)
            probe.close()
            cached[host] = {"proxies": merged["proxies"] or None, "verify": merged["verify"]}
        return cached[host]

    def _fetch_page(self, url: str, stats: PullStats) -> RawPage:
        attempt, waited, refreshed = 0, 0.0, False
        while True:
            attempt += 1
            try:
                with self._budget_slot(stats):
                    return self._request(url)
            except _Unauthorized as unauthorized:
                if refreshed:
                    raise unauthorized.error from None
                refreshed = True
                self.tokens.invalidate()  # expired or revoked mid-pull: one fresh token, then try again
                attempt -= 1
                continue
            except _Transient as failure:
                # Raises when giving up: attempts or total wait spent, Retry-After too long, task deadline.
                delay = self.retry.wait_before_retry(attempt, failure.retry_after, waited, failure)
                log.warning("Graph request failed (%s); retry %d in %.2f s", failure, attempt, delay)
                waited += delay
                stats.add(retries=1)
                if failure.status == 429:
                    stats.add(throttled=1, throttle_wait_s=delay)
                if failure.status == 429 and self.limiter:
                    self.limiter.pause_for(delay)  # everyone waits, not just this thread
                    budget = self.limiter.slow_down()
                    log.warning("Graph throttled the pull; client budget lowered to %d requests per window", budget)
                else:
                    self._sleep(delay)

    @contextmanager
    def _budget_slot(self, stats: PullStats) -> Iterator[None]:
        """One request's slot of the shared budget, held until its answer is in (``RateLimiter.slot``)."""
        if self.limiter is None:
            stats.add(requests=1)
            yield
            return
        with self.limiter.slot(deadline=self.retry.deadline) as waited:
            stats.add(throttle_wait_s=waited, requests=1)
            yield

    def _request(self, url: str) -> RawPage:
        headers = {
            "Authorization": f"Bearer {self.tokens.token()}",
            "Accept": "application/json",
            "client-request-id": str(uuid.uuid4()),
        }
        try:
            response = self._session().get(
                url,
                headers=headers,
                timeout=self.timeout,
                **self._transport(url),
                allow_redirects=False,  # a redirect would carry the token to wherever it points
                stream=True,  # the body is read in one go below: fewer copies than requests' 10 KB chunks
            )
            with response:
                status = response.status_code
                if status == 200:
                    return self._decode(response.raw.read(decode_content=True))
                response.content  # noqa: B018 - read the error body while the connection is open
        except requests.exceptions.SSLError as error:
            if "CERTIFICATE_VERIFY_FAILED" in str(error):
                raise GraphConfigError(
                    f"The TLS certificate of {urlsplit(url).netloc} could not be verified; set the connection's "
                    "'verify' extra to the path of a CA bundle that signs it."
                ) from None
            raise _Transient("TLS error") from None
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
            requests.exceptions.ContentDecodingError,
            urllib3.exceptions.HTTPError,  # a reset or a body cut short while reading it raw
        ) as error:
            raise _Transient(type(error).__name__) from None
        if status in TRANSIENT_STATUSES:
            raise _Transient(f"HTTP {status}", parse_retry_after(response.headers.get("Retry-After")), status)
        graph_error = self._error_for(response)
        if status == 401 and isinstance(graph_error, GraphAuthError):  # _error_for gives 401 a GraphAuthError
            raise _Unauthorized(graph_error)
        raise graph_error

    @staticmethod
    def _decode(payload: bytes) -> RawPage:
        try:
            # Rows stay JSON text (validated, not parsed into objects): the converter reads them into Arrow.
            return _PAGE_DECODER.decode(payload)
        except msgspec.ValidationError:
            raise _Transient("body without a 'value' list") from None
        except msgspec.DecodeError:
            raise _Transient("invalid JSON body") from None

    def _error_for(self, response: requests.Response) -> GraphError:
        code, message, request_id = _graph_error_fields(response)
        status = response.status_code
        said = f"{status} {code}: {message}".rstrip(": ") + (f" (request-id {request_id})" if request_id else "")
        if status == 401:
            return GraphAuthError(
                f"Graph refused the access token even after a refresh ({said}); check the client id, secret and "
                "tenant_id, and that the connection's host/authority are the tenant's national cloud."
            )
        if status == 403:
            return GraphPermissionError(
                "Graph answered 403 Forbidden: the app registration needs the Microsoft Graph application permission "
                "CallRecords.Read.All with admin consent granted in its tenant (delegated permissions do not work)."
            )
        if status == 404:
            return GraphRequestError(
                f"Graph has no {self.function_path.rsplit('/', 1)[-1]} at {urlsplit(response.url).netloc} ({said}); "
                "check the connection's host and api_version (v1.0 or beta)."
            )
        if status == 406:
            return GraphRequestError(f"Graph refused the window ({said}); windows must be at most 90 days.")
        return GraphRequestError(f"Graph rejected the request ({said}); this is not transient, fix the request.")

    def _next_link(self, page: RawPage) -> str | None:
        link = page.next_link or page.next_link_upper
        if not link:
            return None
        parts = urlsplit(link)
        if (parts.scheme, parts.netloc.lower()) not in self._trusted:
            raise UnsafeNextLinkError(
                f"Graph returned a nextLink to {parts.scheme}://{parts.netloc}, not the configured Graph host "
                f"{self.graph_root}; refusing to send the token there, and the window was not written."
            )
        return link


def window_label(window: Window) -> str:
    return f"[{format_utc(window.start)}, {format_utc(window.end)})"
