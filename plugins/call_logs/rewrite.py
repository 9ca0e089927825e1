"""Rewrite report days already in the lake: pseudonymise a day committed before pseudonymisation was switched on,
or move a day of a lake of one tenant under a tenant.

Days within Graph's retention are better re-pulled (a backfill with ``--reprocess-behavior completed``); older days
can only be rewritten from what the lake holds. A day is read batch by batch (with its quarantine), upgraded to the
current schema version, and committed through the target sink like any day (``replace_day``), with its manifest
saying so; a day whose files are not the ones its manifest describes is refused.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pyarrow as pa

from call_logs import defaults
from call_logs.lake.errors import PartitionUnusable
from call_logs.lake.manifest import Manifest
from call_logs.lake.pseudonymise import Pseudonymiser, check_pseudonymisable, pseudonymise_table
from call_logs.reports.spec import ReportSpec
from call_logs.sinks import ReportSink
from call_logs.sinks.base import DataReader, replace_day
from call_logs.tables.partitioned import StagedDay


class AlreadyPseudonymised(PartitionUnusable):
    """The day holds tokens of another key or columns: tokens cannot be re-keyed without the raw values."""


class _CommittedDay:
    """``DayRows`` of a committed day, read batch by batch, in the current schema; with a pseudonymiser, its listed
    columns tokenised, and its quarantine's rows and keys the same way."""

    def __init__(
        self,
        data: DataReader,
        spec: ReportSpec,
        quarantine: pa.Table | None,
        pseudonymiser: Pseudonymiser | None = None,
    ) -> None:
        self._data, self._spec, self._quarantine, self._pseudonymiser = data, spec, quarantine, pseudonymiser

    def tables(self) -> Iterator[pa.Table]:
        schema = self._spec.schema
        for batch in self._data.iter_batches(self._data.schema.names, defaults.ROWS_PER_BATCH):
            table = pa.Table.from_batches([batch])
            for field in schema:
                if field.name not in table.column_names:  # a column added after the day was written
                    table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
            table = table.select(schema.names).cast(schema)
            yield table if self._pseudonymiser is None else pseudonymise_table(table, self._pseudonymiser)

    def quarantine(self) -> Iterator[pa.Table]:
        if self._quarantine is None:
            return
        p, table = self._pseudonymiser, self._quarantine
        if p is not None:
            rows = [json.loads(text, parse_float=Decimal) for text in table["row"].to_pylist()]
            table = table.set_column(
                table.schema.get_field_index("row"), "row", pa.array([p.json_row(r) for r in rows], pa.string())
            )
            if p.covers(self._spec.key_column):
                keys = [p.value(key) for key in table["key"].to_pylist()]
                table = table.set_column(table.schema.get_field_index("key"), "key", pa.array(keys, pa.string()))
        yield table


def _rewrite(
    source: ReportSink,
    target: ReportSink,
    day: date,
    manifest: Manifest,
    pseudonymiser: Pseudonymiser | None,
    facts_for: Callable[[StagedDay], Manifest],
) -> Manifest:
    """Read the committed day from ``source`` (its files must be the ones ``manifest`` describes) into ``target``."""
    name = f"{source.spec.table} {day}"
    with source.open_day(day) as stored:
        if stored.data is None:
            raise PartitionUnusable(f"{name} cannot be read: {stored.data_problem}.")
        if stored.fingerprint.get("sha256") != manifest.file.sha256:
            raise PartitionUnusable(f"{name}'s data file is not the one its manifest describes; re-pull the day.")
        quarantine = source.read_quarantine(day)
        if (quarantine[1] if quarantine else None) != (manifest.quarantine.sha256 if manifest.quarantine else None):
            raise PartitionUnusable(f"{name}'s quarantine is not the one its manifest describes; re-pull the day.")
        rows = _CommittedDay(stored.data, source.spec, quarantine[0] if quarantine else None, pseudonymiser)
        return replace_day(target, day, rows, facts_for)


def _rewritten(manifest: Manifest, staged: StagedDay, **changes: Any) -> Manifest:
    """The day's manifest for its rewritten files, with ``changes``."""
    quarantine = staged.quarantine.stored if staged.quarantine else None
    return dataclasses.replace(
        manifest, file=staged.stored, quarantine=quarantine, finished_at=datetime.now(UTC), **changes
    )


def pseudonymise_committed_day(sink: ReportSink, day: date, pseudonymiser: Pseudonymiser) -> Manifest:
    """Rewrite a day committed before pseudonymisation was on: the listed columns become tokens, the file gets
    the current schema (an older version's missing columns are null) and a manifest that says so.

    Idempotent with the same key and columns; refuses a day pseudonymised otherwise (re-pull such a day from Graph
    while it is within retention). Memory stays flat (the day is read batch by batch); its stale quality report is
    removed by the commit: re-run the quality task. Returns the new manifest.
    """
    spec = sink.spec
    check_pseudonymisable(spec, pseudonymiser)
    manifest = sink.read_manifest(day)
    if manifest is None:
        raise PartitionUnusable(
            f"{spec.table} {day} has no readable manifest; re-pull the day instead of rewriting it."
        )
    done = manifest.pseudonymisation
    if done is not None:
        if done["key_fingerprint"] == pseudonymiser.fingerprint and set(done["columns"]) == pseudonymiser.columns:
            return manifest
        raise AlreadyPseudonymised(
            f"{spec.table} {day} is already pseudonymised ({', '.join(done['columns'])}, key "
            f"{done['key_fingerprint']}); tokens cannot be re-keyed: re-pull the day from Graph with the new settings."
        )
    return _rewrite(
        sink,
        sink,
        day,
        manifest,
        pseudonymiser,
        lambda staged: _rewritten(
            manifest,
            staged,
            schema_version=spec.schema_version,
            run={**manifest.run, "pseudonymised_after_the_fact": True},
            pseudonymisation=pseudonymiser.describe(),
        ),
    )


def move_day_to_tenant(source: ReportSink, target: ReportSink, day: date, tenant_id: str) -> Manifest:
    """Copy a day of a lake of one tenant (``source``) to the sink of its tenant (``target``, opened with its slug)
    in a lake of many, its manifest naming the tenant; the source day is left as it was (remove it once read back).

    The rows, their quarantine and their facts (counts, Graph's costs, pseudonymisation) are the committed day's;
    the file gets the current schema. Returns the target day's manifest.
    """
    if target.tenant is None:
        raise PartitionUnusable("The target sink names no tenant; open it with tenant=<slug>.")
    manifest = source.read_manifest(day)
    if manifest is None:
        raise PartitionUnusable(f"{source.spec.table} {day} has no readable manifest; re-pull the day instead.")
    tenant = {"slug": target.tenant, "tenant_id": tenant_id}
    return _rewrite(
        source,
        target,
        day,
        manifest,
        None,
        lambda staged: _rewritten(
            manifest,
            staged,
            schema_version=source.spec.schema_version,
            run={**manifest.run, "moved_under_tenant": target.tenant},
            tenant=tenant,
        ),
    )
