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

_FINGERPRINT_LABEL = b"call_logs pseudonymisation key fingerprint v1"
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


class Pseudonymiser:
    """Replaces the values of ``columns`` by keyed tokens; ``key`` is a secret that is never stored."""

    def __init__(self, key: str | bytes, columns: Iterable[str]):
        secret = key.encode() if isinstance(key, str) else bytes(key)
        if not secret:
            raise ValueError("The pseudonymisation key is empty.")
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

    def describe(self) -> dict[str, Any]:
        """What the manifest records: the columns and the key's fingerprint (not the key)."""
        return {"columns": sorted(self.columns), "key_fingerprint": self.fingerprint}


# --- a lake written before pseudonymisation was switched on ------------------------------------------------------


def pseudonymise_table(table: pa.Table, pseudonymiser: Pseudonymiser) -> pa.Table:
    """``table`` with its listed text columns tokenised, and listed names inside ``additionalProperties`` too."""
    from call_logs.reports.spec import ADDITIONAL_PROPERTIES

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
                raise ValueError(f"Only text columns can be pseudonymised, and {name} is {column.type}.")
            chunks = [pseudonymiser.array(chunk) for chunk in column.chunks]
            table = table.set_column(index, name, pa.chunked_array(chunks, pa.string()))
    return table


def _loads(text: str) -> dict:
    return json.loads(text, parse_float=Decimal, parse_int=int)


class _RewrittenDay:
    """What ``Sink.stage`` reads of a prepared day, over a committed day's batches (tokenised on the way)."""

    def __init__(self, spec, start, end, tables):
        self.spec, self.start, self.end, self._tables = spec, start, end, tables
        self.complete = False

    def tables(self):
        yield from self._tables
        self.complete = True


def pseudonymise_committed_day(sink: Any, day: Any, pseudonymiser: Pseudonymiser, workdir: str) -> Any:
    """Rewrite a day committed before pseudonymisation was on: the listed columns become tokens, the file gets
    the current schema (an older version's missing columns are null) and a manifest that says so.

    Idempotent with the same key and columns; refuses a day pseudonymised otherwise (tokens cannot be re-keyed
    without the raw values: re-pull such a day from Graph while it is within retention). Memory stays flat (the
    day is read batch by batch); its stale quality report is removed by the commit: re-run the quality task.
    Returns the new manifest.
    """
    import dataclasses
    from datetime import UTC, datetime

    spec = sink.spec
    manifest = sink.read_manifest(day)
    if manifest is None:
        raise ValueError(f"{spec.table} {day} has no readable manifest; re-pull the day instead of rewriting it.")
    done = manifest.pseudonymisation
    if done is not None:
        if done["key_fingerprint"] == pseudonymiser.fingerprint and set(done["columns"]) == pseudonymiser.columns:
            return manifest
        raise ValueError(
            f"{spec.table} {day} is already pseudonymised ({', '.join(done['columns'])}, key "
            f"{done['key_fingerprint']}); tokens cannot be re-keyed: re-pull the day from Graph with the new settings."
        )
    with sink.open_day(day) as stored:
        if stored.data is None:
            raise ValueError(f"{spec.table} {day} cannot be read: {stored.data_problem}.")
        if stored.fingerprint.get("sha256") != manifest.file.sha256:
            raise ValueError(f"{spec.table} {day}'s data file is not the one its manifest describes; re-pull the day.")
        data = stored.data
        names = data.schema.names

        def tables():
            for batch in data.iter_batches(names, 65_536):
                table = pa.Table.from_batches([batch])
                for field in spec.schema:
                    if field.name not in table.column_names:  # a column added after the day was written
                        table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
                yield pseudonymise_table(table.select(spec.schema.names).cast(spec.schema), pseudonymiser)

        from call_logs.lake.convert import check_pseudonymisable

        check_pseudonymisable(spec, pseudonymiser)
        rewritten = _RewrittenDay(spec, manifest.window_start, manifest.window_end, tables())
        staged = sink.stage(day, rewritten, workdir)
    new = dataclasses.replace(
        manifest,
        file=staged.stored,
        schema_version=spec.schema_version,
        run={**manifest.run, "pseudonymised_after_the_fact": True},
        finished_at=datetime.now(UTC),
        pseudonymisation=pseudonymiser.describe(),
    )
    sink.commit(day, staged, new)
    return new
