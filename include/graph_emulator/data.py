"""Synthetic call-log rows (``directRoutingLogRow``, ``pstnCallLogRow``), computed lazily from (seed, day, index).

Each day holds a fixed number of calls. Call ``i`` of a day starts at the inverse of an hour-of-day CDF taken
at ``(i + jitter_i) / n``, so start times never decrease with the index: a time window maps to an index range
by binary search, and a page is just an index range. Every other field comes from one BLAKE2b digest of the
row's key. Rows are built directly as JSON text (no dict, no ``json.dumps``), which keeps a 1,000-row page at a
few milliseconds.

Calls that reach a day's report late (``late.py``) have negative indices: late call ``k`` of a day is index
``-1 - k``, its own digest, a start drawn from the same hour profile, never part of ``rows_on`` nor of the
index ranges above.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
import re
import struct
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

SENTINEL = "0001-01-01T00:00:00Z"
EPOCH = date(1970, 1, 1)
TICKS_PER_SECOND = 10_000_000  # .NET's DateTimeOffset resolution: Graph's 7 fractional digits

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
    (487, "Call completed elsewhere", 540200, 6),  # a forked call answered on another leg
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

# --- pstnCallLogRow (getPstnCalls) -----------------------------------------------------------------------
# callType shares (out of 100). ucap_* are calls of bots (auto attendants, call queues): no user on the row.
PSTN_CALL_TYPES = tuple(
    name
    for name, weight in (
        ("user_in", 38),
        ("user_out", 34),
        ("user_out_transfer", 3),
        ("user_out_forwarding", 3),
        ("conf_in", 6),
        ("conf_out", 5),
        ("ucap_in", 8),
        ("ucap_out", 3),
    )
    for _ in range(weight)
)
PSTN_INBOUND = frozenset({"user_in", "conf_in", "ucap_in"})
COUNTRY_NAMES = {
    "US": "United States",
    "CA": "Canada",
    "GB": "United Kingdom",
    "DE": "Germany",
    "FR": "France",
    "AU": "Australia",
    "JP": "Japan",
}
COUNTRY_PREFIXES = {"US": "+1", "CA": "+1", "GB": "+44", "DE": "+49", "FR": "+33", "AU": "+61", "JP": "+81"}
CURRENCIES = {"US": "USD", "CA": "CAD", "GB": "GBP", "DE": "EUR", "FR": "EUR", "AU": "AUD", "JP": "USD"}
MASKED_COUNTRIES = frozenset({"GB", "DE", "FR"})  # tenants there see external numbers with the last digits hidden
TENANT_COUNTRY = "US"
# Calling Plan licences (operator Microsoft, duration measured by Microsoft) and Operator Connect operators.
CALLING_PLANS = ("MCOPSTNU",) * 5 + ("MCOPSTN1",) * 4 + ("MCOPSTN5",)
OPERATORS = ("Vodafone Business", "BT", "Orange Business", "Telefónica", "Colt", "NTT Communications")


# "HH:MM:SS." for every second of a day and ".mmmZ" endings: timestamps are two lookups, not a format call.
_CLOCK = tuple(f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}." for s in range(86_400))
_MILLIS = tuple(f"{m:03d}Z" for m in range(1000))
_ROW_KEY = struct.Struct("<qq").pack
# The fields a corrected call changes (``DailyLog.lengthen``); each occurs once in a row.
_DURATION = re.compile(r'"duration":(\d+)')
_END = re.compile(r'"endDateTime":"([^"]*)"')
_FAILURE = re.compile(r'"failureDateTime":"([^"]*)"')


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
        # A late call (negative index) is in no slot of the day's n: anywhere, as the hour profile weighs it.
        u = (index + jitter) / n if index >= 0 else jitter
        hour = bisect.bisect_right(self._cdf, u) - 1
        frac = min((u - self._cdf[hour]) / self._weights[hour], 0.999999)
        return day * self._day_units + int((hour + frac) * self._hour_units)

    def start_at(self, day: int, index: int) -> int:
        """Start of call ``index`` of ``day``, in this log's units since the epoch."""
        return self._start(day, self.rows_on(day), index, self._digest(day, index))

    @property
    def day_units(self) -> int:
        """One day in this log's units."""
        return self._day_units

    def call_id(self, day: int, index: int) -> str:
        """The ``id`` of call ``index`` of ``day`` (what ``row`` writes), without building the row."""
        digest = self._digest(day, index)
        return _uuid(digest[:16].hex(), digest[8])

    def day_range(self, day: int, lo: int, hi: int) -> tuple[int, int, int]:
        """``(n, first, stop)``: the day's number of calls and the index range of those starting in ``[lo, hi)``."""
        n = self.rows_on(day)
        day_units = self._day_units
        first = self._first_at_or_after(day, n, lo) if lo > day * day_units else 0
        stop = self._first_at_or_after(day, n, hi) if hi < (day + 1) * day_units else n
        return n, first, max(first, stop)

    def calls_up_to(self, day: int, n: int, t: int) -> int:
        """How many of the day's ``n`` calls start at or before ``t`` (a late call starting at ``t`` follows them)."""
        return self._first_at_or_after(day, n, t + 1)

    def bounds(self, start: int, end: int, *, end_inclusive: bool = False) -> tuple[int, int]:
        """``[lo, hi)`` in this log's units holding the calls that start in ``[start, end)`` (or ``[start, end]``).

        ``start`` and ``end`` are 100 ns ticks since the epoch (``to_ticks``), Graph's own precision.
        """
        per_second = self.UNITS_PER_SECOND
        lo = -(-start * per_second // TICKS_PER_SECOND)
        if end_inclusive:
            return lo, end * per_second // TICKS_PER_SECOND + 1
        return lo, -(-end * per_second // TICKS_PER_SECOND)

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

    def _ts(self, units: int) -> str:
        """An instant in this log's units as the row's timestamp text."""
        raise NotImplementedError

    def _units(self, stamp: str) -> int:
        """The inverse of ``_ts``: ``2024-03-04T09:00:00.123Z`` in this log's units since the epoch."""
        day = (date.fromisoformat(stamp[:10]) - EPOCH).days
        seconds = int(stamp[11:13]) * 3600 + int(stamp[14:16]) * 60 + int(stamp[17:19])
        digits = len(str(self.UNITS_PER_SECOND)) - 1
        fraction = stamp[20:-1] if stamp[19:20] == "." else ""
        return (day * 86_400 + seconds) * self.UNITS_PER_SECOND + int(fraction.ljust(digits, "0")[:digits])

    def lengthen(self, row: str, seconds: int) -> str:
        """A row whose call was corrected to end ``seconds`` later: ``duration`` and ``endDateTime`` move.

        A call with no end (a failed direct-routing call: ``duration`` 0, ``endDateTime`` the sentinel) has
        its ``failureDateTime`` moved instead. Every other byte of the row stays as it was.
        """
        shift = seconds * self.UNITS_PER_SECOND

        def later(name: str) -> Callable[[re.Match[str]], str]:
            def replace(match: re.Match[str]) -> str:
                stamp = match.group(1)
                return f'"{name}":"{stamp if stamp == SENTINEL else self._ts(self._units(stamp) + shift)}"'

            return replace

        end = _END.search(row)
        if end is not None and end.group(1) != SENTINEL:
            row = _DURATION.sub(lambda match: f'"duration":{int(match.group(1)) + seconds}', row, count=1)
            return _END.sub(later("endDateTime"), row, count=1)
        return _FAILURE.sub(later("failureDateTime"), row, count=1)


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


@dataclass(frozen=True)
class _Plan:
    """How a user reaches the PSTN: the row's licenseCapability, operator and callDurationSource (JSON)."""

    json_fields: str
    bundled: bool  # a Calling Plan with included domestic minutes


def _plans(seed: int, count: int) -> tuple[_Plan, ...]:
    rng = random.Random(f"pstn-plans:{seed}")
    plans = []
    for _ in range(count):
        if rng.random() < 0.6:
            licence, operator, source, bundled = rng.choice(CALLING_PLANS), "Microsoft", "microsoft", True
        else:
            licence, operator, source, bundled = "MCOEV", rng.choice(OPERATORS), "operator", False
        plans.append(_Plan(_plan_json(licence, "Subscriber", operator, source), bundled))
    return tuple(plans)


def _plan_json(licence: str, inventory: str, operator: str, source: str) -> str:
    return (
        f'"licenseCapability":"{licence}","inventoryType":"{inventory}","operator":{json.dumps(operator)},'
        f'"callDurationSource":"{source}"'
    )


_BOT_PLANS = {  # resource accounts: service and toll-free numbers on Microsoft's network
    False: _plan_json("MCOEV_VIRTUALUSER", "Service", "Microsoft", "microsoft"),
    True: _plan_json("MCOEV_VIRTUALUSER", "Toll free", "Microsoft", "microsoft"),
}
_CONFERENCE_PLAN = _plan_json("MCOMEETADV", "Service", "Microsoft", "microsoft")


def money(e4: int, decimals: int, zero_style: int) -> str:
    """A non-negative amount given in 1/10,000 as a JSON number with ``decimals`` (2-4) decimal places."""
    if e4 <= 0:
        return "0.0" if zero_style else "0.00"
    step = 10 ** (4 - decimals)
    value = (e4 + step // 2) // step
    whole, fraction = divmod(value, 10**decimals)
    return f"{whole}.{fraction:0{decimals}d}"


class PstnLog(DailyLog):
    """``pstnCallLogRow`` rows (Calling Plans and Operator Connect), timestamps in 100 ns ticks.

    Call 0 of every day with calls starts exactly at midnight (``00:00:00.0000000Z``), so a test can prove that
    the inclusive ``toDateTime`` of getPstnCalls returns it for the day before as well.
    """

    UNITS_PER_SECOND = 10_000_000
    SALT = "getPstnCalls:"
    JITTER_BYTES = 4

    def __init__(self, seed: int, rows_per_day: int, weekday_profile: bool):
        super().__init__(seed, rows_per_day, weekday_profile)
        self._plans = _plans(seed, len(self._users))

    def _start(self, day: int, n: int, index: int, digest: bytes) -> int:
        if index == 0:
            return day * self._day_units
        return super()._start(day, n, index, digest)

    def _ts(self, ticks: int) -> str:
        seconds, fraction = divmod(ticks, 10_000_000)
        day, second = divmod(seconds, 86_400)
        return f"{self._day_prefix(day)}{_CLOCK[second]}{fraction:07d}Z"

    @staticmethod
    def _call_id(d: bytes) -> str:
        first = int.from_bytes(d[16:20], "little")
        second = int.from_bytes(d[20:24], "little") % 1_000_000_000
        return f"{first}_{second}@{d[24] % 223 + 1}.{d[25]}.{d[26]}.{d[27] % 254 + 1}"

    def row(self, day: int, n: int, index: int, *, beta: bool, extra: str = "") -> str:
        d = self._digest(day, index)
        start = self._start(day, n, index, d)
        # Independent draws from the digest's bytes (0-15 id, 16-27 callId, 32-35 start-time jitter).
        p_user = (d[36] << 8 | d[37]) % len(self._users)
        call_type = PSTN_CALL_TYPES[d[38] % len(PSTN_CALL_TYPES)]
        p_len = int.from_bytes(d[39:42], "little") % 1_000_000
        p_ext = int.from_bytes(d[42:46], "little") % 900_000_000 + 100_000_000  # no leading 0 after the prefix
        p_pref = d[46] % 100
        p_rate = d[47] << 8 | d[48]
        decimals = 2 + d[50] % 3
        p_reuse = d[51]
        p_connection = d[52] << 8 | d[53]
        zero_style = d[54] & 1
        p_conference = int.from_bytes(d[55:59], "little")
        p_misc = d[59] % 100

        # callId is not unique: about one row in thirteen is another leg of the call before it.
        call_id = self._call_id(d)
        if p_reuse < 20 and index > 0:
            previous = self._digest(day, index - 1)
            if previous[51] >= 20:
                call_id = self._call_id(previous)

        inbound = call_type in PSTN_INBOUND
        conference_id = "null"
        if call_type.startswith("ucap"):
            user, usage = _BOT_USER, TENANT_COUNTRY
            toll_free = inbound and p_misc < 40
            own = f"+1{'800' if toll_free else '425'}555{p_misc % 50 + 100:04d}"
            plan, bundled = _BOT_PLANS[toll_free], False
        else:
            user, usage, toll_free = self._users[p_user], self._users[p_user].country, False
            if call_type.startswith("conf"):
                own = f"{COUNTRY_PREFIXES[usage]}4255550199"
                plan, bundled = _CONFERENCE_PLAN, False
                conference_id = f'"{p_conference % 900_000_000 + 100_000_000}"'
            else:
                own = f"{COUNTRY_PREFIXES[usage]}{user.number}"
                plan_of_user = self._plans[p_user]
                plan, bundled = plan_of_user.json_fields, plan_of_user.bundled
        # Most calls stay in the user's country; the rest go anywhere in PREFIXES.
        other_country = usage if p_pref < 65 else PREFIXES[p_pref % len(PREFIXES)][1]
        external = f"{COUNTRY_PREFIXES[other_country]}{p_ext}"
        if usage in MASKED_COUNTRIES:
            external = external[:-3] + "***"
        caller, callee = (external, own) if inbound else (own, external)
        domestic = other_country == usage
        context = "null" if inbound else '"Domestic"' if domestic else '"International"'

        # Mostly minutes, with a tail of long calls; end - start is exactly ``duration`` seconds.
        duration = 1 + (p_len % 300 if p_len < 750_000 else p_len % 3600 if p_len < 980_000 else p_len % 7200)
        minutes = -(-duration // 60)
        # Per-minute rates in 1/10,000 of the currency: incoming is free (toll-free numbers excepted); bundled
        # domestic minutes are free most of the time; international costs most.
        if inbound:
            rate = 150 + p_rate % 300 if toll_free else 0
        elif not domestic:
            rate = 200 + p_rate % 4800
        elif bundled and p_rate % 10 < 8:
            rate = 0
        else:
            rate = 50 + p_rate % 350
        connection_fee = not inbound and (call_type == "conf_out" or not domestic) and p_misc < 30
        connection = 10 + p_connection % 2490 if connection_fee else 0

        text = (
            f'{{"id":"{_uuid(d[:16].hex(), d[8])}","callId":"{call_id}",{user.json_fields},'
            f'"startDateTime":"{self._ts(start)}","endDateTime":"{self._ts(start + duration * 10_000_000)}",'
            f'"duration":{duration},"charge":{money(minutes * rate, decimals, zero_style)},'
            f'"callType":"{call_type}","currency":"{CURRENCIES[usage]}","calleeNumber":"{callee}",'
            f'"usageCountryCode":"{usage}","tenantCountryCode":"{TENANT_COUNTRY}",'
            f'"connectionCharge":{money(connection, decimals, zero_style)},"callerNumber":"{caller}",'
            f'"destinationContext":{context},"destinationName":"{COUNTRY_NAMES[other_country]}",'
            f'"conferenceId":{conference_id},{plan}'
        )
        if beta:
            text += f',"otherPartyCountryCode":"{other_country}","administrativeUnitInfos":{user.units}'
        return text + extra + "}"


def _micros(moment: datetime) -> int:
    """Epoch microseconds of a tz-aware datetime (naive means UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def to_ticks(moment: datetime) -> int:
    """Epoch 100 ns ticks of a tz-aware datetime (naive means UTC)."""
    return _micros(moment) * 10
