"""Keyed pseudonyms for personal columns: the same value always gives the same token, and only the key holder
can recompute it.

A token is ``base64url(HMAC-SHA256(key, value as UTF-8))`` without padding: 43 characters of ``A-Z a-z 0-9 - _``.
It depends on the value and the key only, never on the column or the table, so a person's userPrincipalName
gives one token in every report and on every day, and a phone number gives one token whether it is the caller
or the callee: joins and counts of distinct people keep working on tokens. Null and the empty string carry no
identity and stay as they are (checks such as "user fields are empty only for bot calls" keep working).

A new key is a new token space: the same person gets another token. The manifest records a fingerprint of the
key (an HMAC of a fixed label, never the key itself), so days written with different keys can be told apart.

Plain Python: the Airflow operator reads the key from a connection's password and passes a ``Pseudonymiser``.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from call_logs.lake.errors import LakeConfigError
from call_logs.reports.spec import ADDITIONAL_PROPERTIES, ReportSpec

_FINGERPRINT_LABEL = b"call_logs pseudonymisation key fingerprint v1"
_TENANT_KEY_LABEL = b"call_logs pseudonymisation tenant key v1:"
_STRING_ENCODER = functools.partial(json.dumps, ensure_ascii=False)


def parse_columns(text: str | None) -> tuple[str, ...]:
    """Column names from a comma-separated setting (``"userPrincipalName, callerNumber"``); empty: none."""
    names = [name.strip() for name in (text or "").split(",")]
    return tuple(dict.fromkeys(name for name in names if name))


def json_text(value: Any) -> str:
    """Canonical compact JSON of a decoded Graph value: keys sorted, numbers exact (``Decimal`` as written)."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return _STRING_ENCODER(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"{value} is not a JSON number")
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ",".join(f"{_STRING_ENCODER(str(k))}:{json_text(value[k])}" for k in sorted(value)) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(json_text(item) for item in value) + "]"
    raise TypeError(f"{type(value).__name__} is not a JSON value")


def tenant_key(key: str | bytes, tenant: str) -> bytes:
    """A tenant's own key derived from the lake-wide one: tokens of one customer never join another's.

    ``HMAC-SHA256(key, label + slug)``: whoever holds the lake-wide key can derive every tenant's (the operator of the
    deployment); a customer's tokens tell nothing about another's.
    """
    secret = key.encode() if isinstance(key, str) else bytes(key)
    return hmac.new(secret, _TENANT_KEY_LABEL + tenant.encode(), hashlib.sha256).digest()


class Pseudonymiser:
    """Replaces the values of ``columns`` by keyed tokens; ``key`` is a secret that is never stored."""

    def __init__(self, key: str | bytes, columns: Iterable[str]):
        secret = key.encode() if isinstance(key, str) else bytes(key)
        if not secret:
            raise LakeConfigError("The pseudonymisation key is empty; put the key in the connection's password.")
        self._key = secret
        self.columns = frozenset(columns)
        self._cache: dict[str, str] = {}
        self.fingerprint = base64.urlsafe_b64encode(
            hmac.new(self._key, _FINGERPRINT_LABEL, hashlib.sha256).digest()[:9]
        ).decode()

    def __repr__(self) -> str:  # never the key
        return f"Pseudonymiser(columns={sorted(self.columns)}, key_fingerprint={self.fingerprint})"

    def __reduce__(self):  # a pseudonymiser is never pickled (XCom, multiprocessing): the key would travel
        raise TypeError("A Pseudonymiser holds a secret key and cannot be pickled.")

    def token(self, value: str) -> str:
        """The token of one non-empty string."""
        cached = self._cache.get(value)
        if cached is None:
            digest = hmac.new(self._key, value.encode("utf-8"), hashlib.sha256).digest()
            cached = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
            if len(self._cache) < 1_000_000:  # a day has far fewer distinct people and numbers
                self._cache[value] = cached
        return cached

    def covers(self, column: str) -> bool:
        return column in self.columns

    def value(self, value: Any) -> Any:
        """A token for any decoded JSON value (``additionalProperties``); null and "" stay as they are.

        A string is tokenised as it is, anything else (a number, an object) by its canonical JSON text.
        """
        if value is None or value == "":
            return value
        return self.token(value if isinstance(value, str) else json_text(value))

    def array(self, values: pa.Array) -> pa.Array:
        """A string array with every non-empty value replaced by its token (nulls and "" kept).

        Each distinct value is hashed once per page (people and numbers repeat within a day).
        """
        encoded = pc.dictionary_encode(values)
        distinct = [v if v in (None, "") else self.token(v) for v in encoded.dictionary.to_pylist()]
        return pa.array(distinct, pa.string()).take(encoded.indices)

    def json_row(self, value: Any) -> str:
        """A decoded row as JSON text with its listed properties as tokens (any other JSON value: its token)."""
        if isinstance(value, dict):
            return json_text({k: self.value(v) if self.covers(k) else v for k, v in value.items()})
        return json_text(self.value(value))

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the columns and the key's fingerprint (not the key)."""
        return {"columns": sorted(self.columns), "key_fingerprint": self.fingerprint}


def check_pseudonymisable(spec: ReportSpec, pseudonymiser: Pseudonymiser | None) -> None:
    """Raise ``LakeConfigError`` (one sentence) when a listed column of the report is not a string column."""
    if pseudonymiser is None:
        return
    wrong = [f"{f.name} ({f.type})" for f in spec.schema if pseudonymiser.covers(f.name) and f.type != pa.string()]
    if wrong:
        raise LakeConfigError(
            f"Only text columns can be pseudonymised, and {spec.table} has {', '.join(wrong)}; "
            "remove them from the pseudonymised columns."
        )


# --- a lake written before pseudonymisation was switched on (rewrite.py rewrites whole days with it) -------------


def pseudonymise_table(table: pa.Table, pseudonymiser: Pseudonymiser) -> pa.Table:
    """``table`` with its listed text columns tokenised, and listed names inside ``additionalProperties`` too."""
    for index, name in enumerate(table.column_names):
        column = table[name]
        if name == ADDITIONAL_PROPERTIES and not pseudonymiser.covers(name):
            texts = [
                None
                if text is None
                else json_text(
                    {k: pseudonymiser.value(v) if pseudonymiser.covers(k) else v for k, v in _loads(text).items()}
                )
                for text in column.to_pylist()
            ]
            table = table.set_column(index, name, pa.array(texts, pa.string()))
        elif pseudonymiser.covers(name):
            if column.type != pa.string():
                raise LakeConfigError(f"Only text columns can be pseudonymised, and {name} is {column.type}.")
            chunks = [pseudonymiser.array(chunk) for chunk in column.chunks]
            table = table.set_column(index, name, pa.chunked_array(chunks, pa.string()))
    return table


def _loads(text: str) -> dict:
    return json.loads(text, parse_float=Decimal, parse_int=int)
