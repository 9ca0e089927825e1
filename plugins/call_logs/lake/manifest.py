"""The manifest of a committed day: what was written, from what, and at what cost (versioned, typed).

``Manifest.to_dict`` / ``Manifest.from_dict`` are the only places that know its JSON shape. Parquet partitions
store it as ``_manifest.json`` after the data file, so a manifest never describes a file that is not there; its
``file.sha256`` lets a reader (and the quality check) tell whether the manifest and the file belong together.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from call_logs.lake.errors import ManifestError
from call_logs.lake.prepare import PreparedDay
from call_logs.tables.partitioned import StagedDay, StoredFile
from call_logs.utc import format_utc

MANIFEST_VERSION = 1


@dataclass(frozen=True)
class SourceFacts:
    """What Graph sent for the window and what preparing it dropped or normalised."""

    rows_fetched: int
    duplicates_dropped: int
    out_of_window_dropped: int
    sentinels: dict[str, int] = field(default_factory=dict)  # written rows whose value was 0001-01-01 (now null)
    sentinels_fetched: dict[str, int] = field(default_factory=dict)  # the same over every fetched row
    unknown_fields: dict[str, int] = field(default_factory=dict)  # property -> fetched rows that carried it
    rows_per_hour: list[int] = field(default_factory=list)  # written rows per hour (plans the next day's slices)
    quarantined: int = 0  # fetched rows that went to the quarantine instead of the day (see lake/prepare.py)
    quarantine_reasons: dict[str, int] = field(default_factory=dict)  # reason -> quarantined rows
    conflicting_duplicates: int = 0  # of those, versions of a key that lost to another with other values

    @property
    def net_rows(self) -> int:
        return self.rows_fetched - self.duplicates_dropped - self.out_of_window_dropped - self.quarantined


@dataclass(frozen=True)
class Manifest:
    table: str
    call_date: date
    window_start: datetime
    window_end: datetime
    schema_version: int
    api_version: str
    rows: int
    file: StoredFile
    source: SourceFacts
    graph: dict[str, float]
    run: dict[str, Any]
    started_at: datetime
    finished_at: datetime
    # {"columns": [...], "key_fingerprint": "..."} when columns hold tokens (never the key); None otherwise.
    pseudonymisation: dict[str, Any] | None = None
    quarantine: StoredFile | None = None  # the quarantine file committed with the day, None when it had none
    tenant: dict[str, str] | None = None  # {"slug", "tenant_id"} in a lake of many tenants; None otherwise
    # What a re-check found changed since the version it replaced (``call_logs/recheck.py``); None for a pull.
    recheck: dict[str, Any] | None = None

    @classmethod
    def for_day(
        cls,
        prepared: PreparedDay,
        *,
        day: date,
        staged: StagedDay,
        pull: Mapping[str, float],
        api_version: str,
        run: dict[str, Any],
        started_at: datetime,
        tenant: dict[str, str] | None = None,
        recheck: dict[str, Any] | None = None,
    ) -> Manifest:
        """The manifest of a prepared day about to be committed (its rows read to the end); ``pull`` is what the
        pull cost (``PullStats.as_dict()``: pages, requests, retries, throttling)."""
        if not prepared.complete:
            raise RuntimeError("The prepared day has not been read to the end; its counts are not final.")
        return cls(
            table=prepared.spec.table,
            call_date=day,
            window_start=prepared.start,
            window_end=prepared.end,
            schema_version=prepared.spec.schema_version,
            api_version=api_version,
            rows=prepared.rows,
            file=staged.stored,
            source=SourceFacts(
                rows_fetched=prepared.rows_fetched,
                duplicates_dropped=prepared.duplicates_dropped,
                out_of_window_dropped=prepared.out_of_window_dropped,
                sentinels={name: int(n) for name, n in sorted(prepared.sentinels.items())},
                sentinels_fetched={name: int(n) for name, n in sorted(prepared.conversion.sentinels.items())},
                unknown_fields=dict(sorted(prepared.conversion.unknown_fields.items())),
                rows_per_hour=list(prepared.rows_per_hour),
                quarantined=prepared.quarantined.rows,
                quarantine_reasons=dict(sorted(prepared.quarantined.reasons.items())),
                conflicting_duplicates=prepared.conflicting_duplicates,
            ),
            graph=dict(pull),
            run=run,
            started_at=started_at,
            finished_at=datetime.now(UTC),
            pseudonymisation=prepared.pseudonymisation,
            quarantine=staged.quarantine.stored if staged.quarantine else None,
            tenant=tenant,
            recheck=recheck,
        )

    @property
    def window(self) -> dict[str, str]:
        return {"start": format_utc(self.window_start), "end": format_utc(self.window_end)}

    def to_dict(self) -> dict[str, Any]:
        """The stored JSON document (``manifest_version`` 1)."""
        return {
            "manifest_version": MANIFEST_VERSION,
            "table": self.table,
            "call_date": self.call_date.isoformat(),
            "window": self.window,
            "schema_version": self.schema_version,
            "api_version": self.api_version,
            "rows": self.rows,
            "file": _file_dict(self.file),
            "source": {
                "rows_fetched": self.source.rows_fetched,
                "duplicates_dropped": self.source.duplicates_dropped,
                "out_of_window_dropped": self.source.out_of_window_dropped,
                "sentinels": self.source.sentinels,
                "sentinels_fetched": self.source.sentinels_fetched,
                "unknown_fields": self.source.unknown_fields,
                "rows_per_hour": self.source.rows_per_hour,
                "quarantined": self.source.quarantined,
                "quarantine_reasons": self.source.quarantine_reasons,
                "conflicting_duplicates": self.source.conflicting_duplicates,
            },
            "graph": self.graph,
            "run": self.run,
            "started_at": format_utc(self.started_at),
            "finished_at": format_utc(self.finished_at),
            "pseudonymisation": self.pseudonymisation,
            "quarantine": None if self.quarantine is None else _file_dict(self.quarantine),
            "tenant": self.tenant,
            **({"recheck": self.recheck} if self.recheck is not None else {}),
        }

    @classmethod
    def from_dict(cls, document: Any) -> Manifest:
        """Read a stored manifest; ``ManifestError`` says what is missing or malformed."""
        try:
            if document.get("manifest_version") != MANIFEST_VERSION:
                raise ManifestError(f"its manifest_version is {document.get('manifest_version')!r}")
            file, source = document["file"], document["source"]
            return cls(
                table=str(document["table"]),
                call_date=date.fromisoformat(document["call_date"]),
                window_start=datetime.fromisoformat(document["window"]["start"]),
                window_end=datetime.fromisoformat(document["window"]["end"]),
                schema_version=int(document["schema_version"]),
                api_version=str(document["api_version"]),
                rows=_count(document["rows"]),
                file=_stored_file(file),
                source=SourceFacts(
                    rows_fetched=_count(source["rows_fetched"]),
                    duplicates_dropped=_count(source["duplicates_dropped"]),
                    out_of_window_dropped=_count(source["out_of_window_dropped"]),
                    sentinels=dict(source.get("sentinels") or {}),
                    sentinels_fetched=dict(source.get("sentinels_fetched") or {}),
                    unknown_fields=dict(source.get("unknown_fields") or {}),
                    rows_per_hour=list(source.get("rows_per_hour") or []),
                    quarantined=_count(source.get("quarantined", 0)),
                    quarantine_reasons=dict(source.get("quarantine_reasons") or {}),
                    conflicting_duplicates=_count(source.get("conflicting_duplicates", 0)),
                ),
                graph=dict(document.get("graph") or {}),
                run=dict(document.get("run") or {}),
                started_at=datetime.fromisoformat(document["started_at"]),
                finished_at=datetime.fromisoformat(document["finished_at"]),
                pseudonymisation=_pseudonymisation(document.get("pseudonymisation")),
                quarantine=None if document.get("quarantine") is None else _stored_file(document["quarantine"]),
                tenant=_tenant(document.get("tenant")),
                recheck=None if document.get("recheck") is None else dict(document["recheck"]),
            )
        except ManifestError:
            raise
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise ManifestError(f"it is malformed ({type(error).__name__}: {error})") from None


def _file_dict(file: StoredFile) -> dict[str, Any]:
    return {"name": file.name, "bytes": file.bytes, "sha256": file.sha256, "row_groups": file.row_groups}


def _stored_file(value: Any) -> StoredFile:
    return StoredFile(str(value["name"]), _count(value["bytes"]), str(value["sha256"]), int(value["row_groups"]))


def _tenant(value: Any) -> dict[str, str] | None:
    return None if value is None else {"slug": str(value["slug"]), "tenant_id": str(value["tenant_id"])}


def _pseudonymisation(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return {"columns": [str(name) for name in value["columns"]], "key_fingerprint": str(value["key_fingerprint"])}


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{value!r} is not a count")
    return value
