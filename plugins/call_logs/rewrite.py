"""Rewrite a report day already in the lake: pseudonymise a day committed before pseudonymisation was switched on.

Days within Graph's retention are better re-pulled (a backfill with ``--reprocess-behavior completed``); older days
can only be rewritten from what the lake holds. The day is read batch by batch, tokenised, upgraded to the current
schema version and committed through the sink like any day (``replace_day``), with a manifest that says so.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal

import pyarrow as pa

from call_logs import defaults
from call_logs.lake.errors import PartitionUnusable
from call_logs.lake.manifest import Manifest
from call_logs.lake.pseudonymise import Pseudonymiser, check_pseudonymisable, pseudonymise_table
from call_logs.reports.spec import ReportSpec
from call_logs.sinks import ReportSink
from call_logs.sinks.base import DataReader, replace_day


class AlreadyPseudonymised(PartitionUnusable):
    """The day holds tokens of another key or columns: tokens cannot be re-keyed without the raw values."""


class _TokenisedDay:
    """``DayRows`` of a committed day, read batch by batch, in the current schema, its listed columns tokenised;
    its quarantine's rows and keys tokenised the same way."""

    def __init__(
        self, data: DataReader, spec: ReportSpec, pseudonymiser: Pseudonymiser, quarantine: pa.Table | None
    ) -> None:
        self._data, self._spec, self._pseudonymiser, self._quarantine = data, spec, pseudonymiser, quarantine

    def tables(self) -> Iterator[pa.Table]:
        schema = self._spec.schema
        for batch in self._data.iter_batches(self._data.schema.names, defaults.ROWS_PER_BATCH):
            table = pa.Table.from_batches([batch])
            for field in schema:
                if field.name not in table.column_names:  # a column added after the day was written
                    table = table.append_column(field.name, pa.nulls(table.num_rows, field.type))
            yield pseudonymise_table(table.select(schema.names).cast(schema), self._pseudonymiser)

    def quarantine(self) -> Iterator[pa.Table]:
        if self._quarantine is None:
            return
        p = self._pseudonymiser
        rows = [json.loads(text, parse_float=Decimal) for text in self._quarantine["row"].to_pylist()]
        table = self._quarantine.set_column(
            self._quarantine.schema.get_field_index("row"), "row", pa.array([p.json_row(r) for r in rows], pa.string())
        )
        if p.covers(self._spec.key_column):
            keys = [p.value(key) for key in table["key"].to_pylist()]
            table = table.set_column(table.schema.get_field_index("key"), "key", pa.array(keys, pa.string()))
        yield table


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
    with sink.open_day(day) as stored:
        if stored.data is None:
            raise PartitionUnusable(f"{spec.table} {day} cannot be read: {stored.data_problem}.")
        if stored.fingerprint.get("sha256") != manifest.file.sha256:
            raise PartitionUnusable(
                f"{spec.table} {day}'s data file is not the one its manifest describes; re-pull the day."
            )
        quarantine = sink.read_quarantine(day)
        if (quarantine[1] if quarantine else None) != (manifest.quarantine.sha256 if manifest.quarantine else None):
            raise PartitionUnusable(
                f"{spec.table} {day}'s quarantine is not the one its manifest describes; re-pull the day."
            )
        return replace_day(
            sink,
            day,
            _TokenisedDay(stored.data, spec, pseudonymiser, quarantine[0] if quarantine else None),
            lambda staged: dataclasses.replace(
                manifest,
                file=staged.stored,
                quarantine=staged.quarantine.stored if staged.quarantine else None,
                schema_version=spec.schema_version,
                run={**manifest.run, "pseudonymised_after_the_fact": True},
                finished_at=datetime.now(UTC),
                pseudonymisation=pseudonymiser.describe(),
            ),
        )
