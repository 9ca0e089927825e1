"""Synthetic call-log rows (``directRoutingLogRow``, ``pstnCallLogRow``), computed lazily from (seed, day, index).

Each day holds a fixed number of calls. Call ``i`` of a day starts at the inverse of an hour-of-day CDF taken
at ``(i + jitter_i) / n``, so start times never decrease with the index: a time window maps to an index range
by binary search, and a page is just an index range. Every other field comes from one BLAKE2b digest of the
row's key. Rows are built directly as JSON text (no dict, no ``json.dumps``), which keeps a 1,000-row page at a
few milliseconds.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import struct
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

SENTINEL = "0001-01-01T00:00:00Z"
EPOCH = date(1970, 1, 1)

# Share of a weekday's calls on each UTC hour: quiet nights, a morning and an afternoon peak.
HOUR_WEIGHTS = (1, 0.6, 0.4, 0.3, 0.3, 0.5, 1.5, 4, 8, 10, 10, 9, 7, 9, 10, 9, 7, 4, 2.5, 2, 1.5, 1.2, 1, 0.8)
WEEKDAY_FACTORS = (1.0, 1.0, 1.0, 1.0, 1.0, 0.35, 0.25)  # Monday..Sunday

CALL_TYPES = ("ByotIn",) * 9 + ("ByotOut",) * 8 + ("ByotInUserOut", "ByotOutUserForwarding", "ByotOutUserTransfer")
LOCATIONS = ("USWE", "USEA", "EUNO", "EUWE", "APSE", "AUEA", "JPEA", "INCE")
TRUNKS = ("tll-audiocodes01.adatum.biz", "sbc1.contoso.com", "sbc2.contoso.com", "sbc-eu.fabrikam.net")
# (finalSipCode, phrase, callEndSubReason, weight) of calls that were not established.
FAILURES = (
    (487, "Request Terminated", 540487, 30),
    (486, "Busy Here", 540486, 20),
    (404, "Not Found", 560404, 15),
    (408, "Request Timeout", 560408, 12),
    (480, "Temporarily Unavailable", 540480, 10),
    (503, "Service Unavailable", 560503, 8),
    (603, "Decline", 540603, 5),
)
FAILURE_TABLE = tuple(entry[:3] for entry in FAILURES for _ in range(entry[3]))
PREFIXES = (
    ("+1", "US"),
    ("+1", "US"),
    ("+1", "CA"),
    ("+44", "GB"),
    ("+49", "DE"),
    ("+33", "FR"),
    ("+61", "AU"),
    ("+81", "JP"),
)
FREE_TEXT_NUMBERS = tuple(
    json.dumps(text)
    for text in (
        "anonymous",
        "sip:reception@contoso.com",
        "+14255550100;ext=204",
        "Unavailable",
        '"Front Desk" <sip:+14255550123@sbc1.contoso.com>',
    )
)
FIRST = (
    "Richard",
    "Anna",
    "Mohammed",
    "Li",
    "Sofia",
    "James",
    "Zoë",
    "Lukas",
    "Aiko",
    "Carlos",
    "Priya",
    "Olivia",
    "Noah",
    "Fatima",
    "Björn",
    "Emma",
    "Raj",
    "Chloé",
    "David",
    "Mia",
)
LAST = (
    "Malk",
    "Smith",
    "García",
    "Chen",
    "Müller",
    "Kowalski",
    "Nguyen",
    "O'Brien",
    "Rossi",
    "Tanaka",
    "Johansson",
    "Dubois",
    "Patel",
    "Brown",
    "Novak",
    "Silva",
)
COUNTRIES = ("US", "US", "US", "GB", "DE", "FR", "AU", "JP")


# "HH:MM:SS." for every second of a day and ".mmmZ" endings: timestamps are two lookups, not a format call.
_CLOCK = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400))
_MILLIS = tuple(f"{m:03d}Z" for m in range(1000))
_ROW_KEY = struct.Struct("<qq").pack


@dataclass(frozen=True)
class _User:
    json_fields: str  # '"userId":…,"userPrincipalName":…,"userDisplayName":…'
    number: str  # the user's own DID, digits after the country code
    country: str
    units: str  # JSON of administrativeUnitInfos


def _uuid(h: str, variant: int) -> str:
    """A version-4-shaped UUID from 32 hex digits (much faster than ``str(uuid.UUID(...))``)."""
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[variant & 3]}{h[17:20]}-{h[20:32]}"


def _users(seed: int, count: int = 400) -> tuple[_User, ...]:
    rng = random.Random(f"users:{seed}")
    units = [_uuid(rng.randbytes(16).hex(), rng.randrange(4)) for _ in range(3)]
    users = []
    for k in range(count):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        ascii_name = unicodedata.normalize("NFKD", f"{first}.{last}").encode("ascii", "ignore").decode()
        upn = f"{ascii_name}{k}@contoso.com".lower().replace("'", "")
        unit = json.dumps([{"id": rng.choice(units)}]) if rng.random() < 0.2 else "[]"
        user_id = _uuid(rng.randbytes(16).hex(), rng.randrange(4))
        users.append(
            _User(
                json_fields=(
                    f'"userId":"{user_id}","userPrincipalName":{json.dumps(upn)},'
                    f'"userDisplayName":{json.dumps(f"{first} {last}")}'
                ),
                number=f"425555{rng.randrange(10_000):04d}",
                country=rng.choice(COUNTRIES),
                units=unit,
            )
        )
    return tuple(users)


_BOT_USER = _User('"userId":null,"userPrincipalName":null,"userDisplayName":null', "4255550100", "US", "[]")


class DailyLog:
    """One report's call log: row counts per day, index ranges for windows, rows as JSON text.

    Times are integers in the subclass's unit (``UNITS_PER_SECOND``): milliseconds for direct routing, 100 ns
    ticks for PSTN (Graph's 7 fractional digits). Subclasses build one row from its digest (``row``).
    """

    UNITS_PER_SECOND = 1000
    SALT = ""  # mixed into the digest key, so two reports of one seed never share rows
    JITTER_BYTES = 2  # bytes 32.. of the digest that place a call inside its slot

    def __init__(self, seed: int, rows_per_day: int, weekday_profile: bool):
        self.seed = seed
        self.rows_per_day = rows_per_day
        self.weekday_profile = weekday_profile
        person = hashlib.blake2b(f"{self.SALT}{seed}".encode(), digest_size=16).digest()
        self._hasher = hashlib.blake2b(digest_size=64, person=person)
        self._users = _users(seed)
        total = sum(HOUR_WEIGHTS)
        self._weights = [w / total for w in HOUR_WEIGHTS]
        self._cdf = [sum(self._weights[:h]) for h in range(24)]
        self._day_units = 86_400 * self.UNITS_PER_SECOND
        self._hour_units = 3_600 * self.UNITS_PER_SECOND
        self._jitter_scale = float(1 << (8 * self.JITTER_BYTES))
        self._prefix: dict[int, str] = {}

    # --- layout: how many calls a day has, and when each starts -------------------------------------------
    def rows_on(self, day: int) -> int:
        """Number of calls on ``day`` (days since 1970-01-01)."""
        factor = WEEKDAY_FACTORS[(EPOCH + timedelta(days=day)).weekday()] if self.weekday_profile else 1.0
        return round(self.rows_per_day * factor)

    def _digest(self, day: int, index: int) -> bytes:
        hasher = self._hasher.copy()
        hasher.update(_ROW_KEY(day, index))
        return hasher.digest()

    def _start(self, day: int, n: int, index: int, digest: bytes) -> int:
        jitter = int.from_bytes(digest[32 : 32 + self.JITTER_BYTES], "little") / self._jitter_scale
        u = (index + jitter) / n
        hour = bisect.bisect_right(self._cdf, u) - 1
        frac = min((u - self._cdf[hour]) / self._weights[hour], 0.999999)
        return day * self._day_units + int((hour + frac) * self._hour_units)

    def start_at(self, day: int, index: int) -> int:
        """Start of call ``index`` of ``day``, in this log's units since the epoch."""
        return self._start(day, self.rows_on(day), index, self._digest(day, index))

    def bounds(self, start: datetime, end: datetime, *, end_inclusive: bool = False) -> tuple[int, int]:
        """``[lo, hi)`` in this log's units holding the calls that start in ``[start, end)`` (or ``[start, end]``)."""
        lo = -(-_micros(start) * self.UNITS_PER_SECOND // 1_000_000)
        scaled_end = _micros(end) * self.UNITS_PER_SECOND
        hi = scaled_end // 1_000_000 + 1 if end_inclusive else -(-scaled_end // 1_000_000)
        return lo, hi

    def _first_at_or_after(self, day: int, n: int, t: int) -> int:
        lo, hi = 0, n
        while lo < hi:
            mid = (lo + hi) // 2
            if self._start(day, n, mid, self._digest(day, mid)) < t:
                lo = mid + 1
            else:
                hi = mid
        return lo

    def segments(self, lo: int, hi: int) -> list[tuple[int, int, int]]:
        """``(day, first, stop)`` index ranges of the calls starting in ``[lo, hi)``, in order."""
        out = []
        day_units = self._day_units
        for day in range(lo // day_units, (hi - 1) // day_units + 1):
            n = self.rows_on(day)
            first = self._first_at_or_after(day, n, lo) if lo > day * day_units else 0
            stop = self._first_at_or_after(day, n, hi) if hi < (day + 1) * day_units else n
            if stop > first:
                out.append((day, first, stop))
        return out

    def count(self, lo: int, hi: int) -> int:
        return sum(stop - first for _, first, stop in self.segments(lo, hi))

    def rows(self, lo: int, hi: int, skip: int, limit: int, *, beta: bool, extra: str = "") -> list[str]:
        """Rows ``skip .. skip+limit`` of the window ``[lo, hi)``, as JSON object texts; ``extra`` ends each."""
        out: list[str] = []
        for day, first, stop in self.segments(lo, hi):
            size = stop - first
            if skip >= size:
                skip -= size
                continue
            n = self.rows_on(day)
            for index in range(first + skip, min(stop, first + skip + limit - len(out))):
                out.append(self.row(day, n, index, beta=beta, extra=extra))
            skip = 0
            if len(out) >= limit:
                break
        return out

    def _day_prefix(self, day: int) -> str:
        prefix = self._prefix.get(day)
        if prefix is None:
            prefix = self._prefix[day] = (EPOCH + timedelta(days=day)).isoformat() + "T"
        return prefix

    def row(self, day: int, n: int, index: int, *, beta: bool, extra: str = "") -> str:
        """Call ``index`` of ``day`` (which holds ``n`` calls) as the JSON text Graph would send."""
        raise NotImplementedError


class DirectRoutingLog(DailyLog):
    """``directRoutingLogRow`` rows, timestamps in milliseconds."""

    # --- one row ---------------------------------------------------------------------------------------
    def _ts(self, ms: int) -> str:
        seconds, milli = divmod(ms, 1000)
        day, second = divmod(seconds, 86_400)
        return self._day_prefix(day) + _CLOCK[second] + _MILLIS[milli]

    def row(self, day: int, n: int, index: int, *, beta: bool, extra: str = "") -> str:
        d = self._digest(day, index)
        start = self._start(day, n, index, d)
        h = d[:32].hex()
        # Independent draws from the digest's bytes (bytes 32-33 went into the start time's jitter).
        p_kind = (d[34] << 8 | d[35]) % 10_000
        p_user = (d[36] << 8 | d[37]) % len(self._users)
        p_type = d[38] % len(CALL_TYPES)
        p_fail = d[39] % len(FAILURE_TABLE)
        p_len = int.from_bytes(d[40:43], "little") % 1_000_000
        p_invite = (d[43] << 8 | d[44]) % 6000
        p_ext = int.from_bytes(d[45:49], "little") % 10**9
        p_pref = d[49] % len(PREFIXES)
        p_mask = d[50] % 100
        p_loc = d[51] % 64
        p_trunk = d[52] % len(TRUNKS)
        p_misc = d[53] % 100

        success = p_kind < 8400
        user = _BOT_USER if p_kind % 100 < 3 else self._users[p_user]
        call_type = CALL_TYPES[p_type]
        if success:
            # Mostly minutes, with a tail of long calls.
            duration = 5 + (p_len % 295 if p_len < 750_000 else p_len % 3595 if p_len < 980_000 else p_len % 7195)
            invite = self._ts(start - 1000 - p_invite % 5000)
            failure, end = SENTINEL, self._ts(start + duration * 1000)
            sip, phrase, sub = 0, "BYE", 540000 if p_misc < 90 else 540200
        else:
            duration = 0
            sip, phrase, sub = FAILURE_TABLE[p_fail]
            invite = self._ts(start - p_invite % 4000)
            failure, end = self._ts(start + (0 if sip == 404 else p_len % 45_000)), SENTINEL
        prefix, country = PREFIXES[p_pref]
        external = f"{prefix}{p_ext:09d}"
        own = f"+1{user.number}"
        if p_mask < 30:
            external, own = external[:-3] + "***", own[:-3] + "***"
        external = FREE_TEXT_NUMBERS[p_mask % 5] if p_mask == 99 else f'"{external}"'
        own = f'"{own}"'
        caller, callee = (external, own) if call_type.startswith("ByotIn") else (own, external)
        text = (
            f'{{"id":"{_uuid(h[:32], d[8])}","correlationId":"{_uuid(h[32:], d[24])}",{user.json_fields},'
            f'"startDateTime":"{self._ts(start)}","inviteDateTime":"{invite}","failureDateTime":"{failure}",'
            f'"endDateTime":"{end}","duration":{duration},"callType":"{call_type}",'
            f'"successfulCall":{"true" if success else "false"},"callerNumber":{caller},"calleeNumber":{callee},'
            f'"mediaPathLocation":"{LOCATIONS[p_loc % 8]}","signalingLocation":"{LOCATIONS[p_loc // 8]}",'
            f'"finalSipCode":{sip},"callEndSubReason":{sub},"finalSipCodePhrase":"{phrase}",'
            f'"trunkFullyQualifiedDomainName":"{TRUNKS[p_trunk]}",'
            f'"mediaBypassEnabled":{"true" if p_misc % 3 == 0 else "false"}'
        )
        if beta:
            transferor = f'"{_uuid(d[18:34].hex(), d[26])}"' if call_type == "ByotOutUserTransfer" else '""'
            text += (
                f',"userCountryCode":"{user.country}","otherPartyCountryCode":"{country}",'
                f'"transferorCorrelationId":{transferor},"administrativeUnitInfos":{user.units}'
            )
        return text + extra + "}"


def _micros(moment: datetime) -> int:
    """Epoch microseconds of a tz-aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_ms(moment: datetime) -> int:
    """Epoch milliseconds of a tz-aware datetime (naive means UTC), rounded up to the next millisecond."""
    return -(-_micros(moment) // 1000)
