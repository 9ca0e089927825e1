"""Lake-integrity checks that every report gets: presence, the manifest, counts, schema, keys, window,
sentinels and volume. They read the report's key, time and timestamp columns from its spec.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from datetime import UTC, datetime

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from call_logs.lake.manifest import Manifest
from call_logs.quality.reading import CommittedPartition
from call_logs.reports.spec import ADDITIONAL_PROPERTIES, TIMESTAMP, ReportSpec
from call_logs.tables.checks import MAX_SAMPLE_IDS, Check, Outcome, QualityThresholds, check
from call_logs.utc import day_window, format_utc

ReportPartition = CommittedPartition[ReportSpec, Manifest]

# --- presence and integrity -------------------------------------------------------------------------------------


@check("data_file_present", "error", needs=())
def check_data_file_present(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """Without readable data nothing else about the rows can be known."""
    expected = f"a readable {p.stored.data_name}"
    if p.stored.data is None:
        problem = p.stored.data_problem
        return Outcome(False, problem, expected, f"The data file cannot be used: {problem}.")
    return Outcome(True, "readable Parquet", expected, "The data file is present and readable.")


@check("manifest_present", "error", needs=())
def check_manifest_present(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """The manifest is written last: without it the commit did not finish."""
    problem = p.stored.manifest_problem
    if problem == "missing":
        return Outcome(False, "missing", "present", "The partition has no manifest: its commit did not finish.")
    if p.manifest is None:
        return Outcome(False, problem, "present", f"The partition's manifest cannot be read: {problem}.")
    return Outcome(True, "present", "present", "The manifest is present.")


@check("manifest_matches_file", "error", needs=("data", "manifest"))
def check_manifest_matches_file(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """The stored bytes are the ones the manifest describes (not replaced or truncated since)."""
    assert p.manifest is not None
    expected = {"sha256": p.manifest.file.sha256, "bytes": p.manifest.file.bytes}
    observed = p.stored.fingerprint
    if observed != expected:
        return Outcome(
            False,
            observed,
            expected,
            "The data file is not the one the manifest describes (replaced or truncated after the commit).",
        )
    return Outcome(True, observed, expected, "The data file is the one the manifest describes.")


@check("row_count", "error", needs=("data", "manifest"))
def check_row_count(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """Stored rows = manifest rows = fetched − duplicates − out-of-window − quarantined: no row lost or invented."""
    assert p.manifest is not None
    net = p.manifest.source.net_rows
    observed = {"file": p.rows, "manifest": p.manifest.rows, "fetched_minus_dropped": net}
    if not p.rows == p.manifest.rows == net:
        return Outcome(
            False,
            observed,
            "all three equal",
            "The file's rows, the manifest's rows and fetched − duplicates − out-of-window − quarantined disagree.",
        )
    return Outcome(True, observed, "all three equal", f"{p.rows:,} rows, as the manifest says.")


@check("schema", "error")
def check_schema(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """Every day has one of the report's versioned schemas: the current one, or an older one written before a
    column was added (readers merge them by name), or consumers' queries break across days."""
    assert p.stored.data is not None
    current = p.spec.schema_version
    schema = p.stored.data.schema
    file_version = (schema.metadata or {}).get(p.spec.schema_version_key, b"").decode() or None
    version = int(file_version) if file_version and file_version.isdigit() else current
    problems = []
    if not 1 <= version <= current:
        problems.append(f"the file's schema_version is {file_version}")
        version = current
    expected_schema = p.spec.schema_for(version)
    problems += [
        f"{f.name} is {f.type}"
        for f in schema
        if f.name not in expected_schema.names or expected_schema.field(f.name).type != f.type
    ]
    problems += [f"{name} is missing" for name in expected_schema.names if name not in schema.names]
    if not problems and schema.names != expected_schema.names:
        problems.append("the columns are in another order")
    if file_version is None:
        problems.append("the file's schema_version is None")
    if p.manifest is not None and p.manifest.schema_version != version:
        problems.append(f"the manifest's schema_version is {p.manifest.schema_version}")
    expected = f"the lake schema, version {current}" + (
        f" (or an older one: 1 to {current - 1})" if current > 1 else ""
    )
    if problems:
        return Outcome(False, problems, expected, f"The file drifted from the lake schema: {'; '.join(problems)}.")
    if version < current:
        return Outcome(
            True,
            f"version {version}",
            expected,
            f"The file has the lake schema of version {version}; newer columns read as null when days are merged "
            "by name.",
        )
    return Outcome(True, f"version {version}", expected, "The file has the lake schema.")


@check("unknown_properties", "warning", needs=("data", "manifest", "history"), group="schema")
def check_unknown_properties(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """A property Graph sends that the schema does not know is kept in additionalProperties; a name the previous
    days never had is new, so someone can decide to promote it to a typed column."""
    assert p.manifest is not None
    counted = p.manifest.source.unknown_fields
    earlier = p.history().first_seen
    observed = {
        name: {"rows": count, "first_seen": (earlier.get(name) or p.day).isoformat()}
        for name, count in sorted(counted.items())
    }
    new = [name for name in sorted(counted) if name not in earlier]
    expected = "no property that the previous days' manifests did not count"
    if new:
        listed = ", ".join(f"{name} ({counted[name]:,} rows)" for name in new)
        return Outcome(
            False,
            observed,
            expected,
            f"Graph sent {len(new)} new propert{'y' if len(new) == 1 else 'ies'} the schema does not know, first seen "
            f"on {p.day}: {listed}. They are kept in {ADDITIONAL_PROPERTIES}; promote one to a typed column with "
            "a schema version bump (README: Unknown properties).",
        )
    if counted:
        since = ", ".join(f"{name} (since {value['first_seen']})" for name, value in observed.items())
        return Outcome(True, observed, expected, f"Known unknown properties, kept in {ADDITIONAL_PROPERTIES}: {since}.")
    return Outcome(True, observed, expected, "Graph sent no property the schema does not know.")


# --- the quarantine: rows Graph sent that could not become rows of the day ---------------------------------------


def _quarantined(p: ReportPartition) -> pa.Table | None:
    stored = p.quarantine()
    return None if stored is None else stored[0]


@check("quarantine_matches_manifest", "error", needs=("manifest",))
def check_quarantine_matches_manifest(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """The quarantine beside the day is the one its manifest describes (or there is none, as it says)."""
    assert p.manifest is not None
    stored = p.quarantine()
    committed = p.manifest.quarantine
    observed = {"sha256": stored[1] if stored else None, "rows": stored[0].num_rows if stored else 0}
    expected = {"sha256": committed.sha256 if committed else None, "rows": p.manifest.source.quarantined}
    if observed != expected:
        return Outcome(
            False,
            observed,
            expected,
            f"The quarantine at {p.quarantine_location} is not the one the manifest describes (replaced, removed or "
            "left by another commit): re-run the day.",
        )
    return Outcome(True, observed, expected, "The quarantine is the one the manifest describes.")


@check("quarantined_rows", None, needs=("manifest",), severity_setting="quarantine_severity")
def check_quarantined_rows(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """Rows Graph sent that could not become rows of the day (no start time; with bad_rows = quarantine, rows that
    are not objects or do not fit the schema) are kept in the quarantine, never dropped: someone must look."""
    assert p.manifest is not None
    source = p.manifest.source
    reasons = {k: n for k, n in source.quarantine_reasons.items() if k != "conflicting_duplicate"}
    count = sum(reasons.values())
    if count:
        rows = _quarantined(p)
        samples = [] if rows is None else [k for k in rows["key"].to_pylist() if k is not None]
        listed = ", ".join(f"{reason}: {n:,}" for reason, n in sorted(reasons.items()))
        return Outcome(
            False,
            reasons,
            {},
            f"{count:,} rows Graph sent could not become rows of the day ({listed}); they are kept, with why and "
            f"their JSON, in {p.quarantine_location}.",
            samples,
        )
    return Outcome(True, reasons, {}, "Every row Graph sent became a row of the day, or was counted as dropped.")


@check("conflicting_duplicates", "warning", needs=("manifest",), group="identity")
def check_conflicting_duplicates(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """A key that came back with different content lost a version: the one fetched last is in the day, the others
    in the quarantine."""
    assert p.manifest is not None
    count = p.manifest.source.conflicting_duplicates
    if count:
        rows = _quarantined(p)
        losers = (
            [] if rows is None else rows.filter(pc.equal(rows["reason"], "conflicting_duplicate"))["key"].to_pylist()
        )
        samples = sorted({k for k in losers if k is not None})
        shown = ", ".join(samples[:MAX_SAMPLE_IDS])
        return Outcome(
            False,
            count,
            0,
            f"{count:,} versions of {len(samples):,} {p.spec.key_column}s came back with other values ({shown}); the "
            f"version fetched last is in the day, the others are in {p.quarantine_location}.",
            samples,
        )
    return Outcome(True, 0, 0, f"No {p.spec.key_column} came back with other values.")


# --- identity and window ----------------------------------------------------------------------------------------


@check("null_ids", "error", group="identity")
def check_null_ids(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """A row without a key cannot be deduplicated or traced."""
    key = p.spec.key_column
    nulls = sum(table[key].null_count for table in p.batches([]))
    return Outcome(nulls == 0, nulls, 0, f"{nulls:,} rows have no {key}." if nulls else f"Every row has an {key}.")


@check("duplicate_ids", "error", group="identity")
def check_duplicate_ids(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """Preparation deduplicates by key; a repeated key means a row was counted twice.

    Memory stays flat as a day grows: a first pass keeps one 64-bit hash per key (8 bytes, not the key), and only
    keys whose hash repeats are read again and counted exactly (a hash collision is therefore never reported).
    """
    key = p.spec.key_column

    def keys() -> Iterator[list[str]]:
        for table in p.batches([]):
            yield table[key].drop_null().to_pylist()

    hashes = np.concatenate([np.empty(0, np.int64), *(np.fromiter(map(hash, b), np.int64, len(b)) for b in keys())])
    hashes.sort()
    repeated_hashes = set(np.unique(hashes[1:][hashes[1:] == hashes[:-1]]).tolist())
    candidates = [k for batch in keys() if repeated_hashes for k in batch if hash(k) in repeated_hashes]
    counts = pc.value_counts(pa.array(candidates, pa.string()))  # first-seen order, as over the whole column
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    extra = (pc.sum(repeated.field("counts")).as_py() or 0) - len(repeated)
    observed = {"duplicated_ids": len(repeated), "extra_rows": extra}
    samples = repeated.field("values").slice(0, MAX_SAMPLE_IDS).to_pylist()
    if len(repeated):
        return Outcome(
            False, observed, 0, f"{len(repeated):,} {key}s appear more than once ({extra:,} extra rows).", samples
        )
    return Outcome(True, observed, 0, f"Every {key} is unique.")


@check("window_bounds", "error", group="identity")
def check_window_bounds(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """Each call starts in the day's UTC window ``[D, D+1)``, which is also the manifest's window."""
    start, end = day_window(p.day)
    time = p.spec.time_column
    window = {"start": start, "end": end}
    low, high = pa.scalar(start, TIMESTAMP), pa.scalar(end, TIMESTAMP)
    outside, samples = p.scan(
        [time],
        lambda b: pc.or_kleene(
            pc.is_null(b[time]), pc.or_kleene(pc.less(b[time], low), pc.greater_equal(b[time], high))
        ),
    )
    problems = []
    manifest_window = None if p.manifest is None else p.manifest.window
    if p.manifest is not None and (p.manifest.window_start, p.manifest.window_end) != (start, end):
        problems.append(f"the manifest's window is {manifest_window}")
    if outside:
        problems.append(f"{outside:,} rows have a {time} that is null or outside the window")
    observed = {"rows_outside": outside, "manifest_window": manifest_window}
    expected = {name: format_utc(moment) for name, moment in window.items()}
    if problems:
        return Outcome(False, observed, expected, f"{'; '.join(problems).capitalize()}.", samples)
    return Outcome(True, observed, expected, "Every call starts inside the day's UTC window.")


# --- the 0001-01-01 sentinel ------------------------------------------------------------------------------------


@check("sentinel_leak", "error", group="sentinel")
def check_sentinel_leak(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """No timestamp before ``earliest_valid``: a year-0001 value breaks pandas and Spark readers."""
    earliest = pa.scalar(datetime.combine(t.earliest_valid, datetime.min.time(), UTC), TIMESTAMP)
    columns = p.spec.timestamp_columns
    per_column = dict.fromkeys(columns, 0)
    samples: list[str] = []
    for table in p.batches(list(columns)):
        masks = [pc.fill_null(pc.less(table[name], earliest), False) for name in columns]
        for name, mask in zip(columns, masks, strict=True):
            per_column[name] += pc.sum(mask).as_py() or 0
        samples.extend(p.first_keys(table.filter(functools.reduce(pc.or_, masks)), MAX_SAMPLE_IDS - len(samples)))
    leaked = {name: count for name, count in per_column.items() if count}
    expected = f"no timestamp before {t.earliest_valid.isoformat()}"
    if leaked:
        return Outcome(
            False,
            leaked,
            expected,
            f"Timestamps before {t.earliest_valid.isoformat()} reached the lake: {leaked}.",
            samples,
        )
    return Outcome(True, 0, expected, "No timestamp predates the earliest valid date.")


# --- volume -----------------------------------------------------------------------------------------------------


@check("volume_vs_history", "warning", needs=("data", "history"), group="volume")
def check_volume_vs_history(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """A day far from its recent median is probably incomplete (Graph latency) or a tenant change."""
    history, rows = p.history().baseline_for(p.day, t.min_history), p.rows or 0
    expected = f"within {t.volume_deviation:.0%} of the median of ≥ {t.min_history} previous partitions"
    if len(history.rows) < t.min_history:
        return Outcome(
            True, history.describe(), expected, f"Not enough history to judge the volume ({history.describe()})."
        )
    if not history.median or rows == 0:
        return Outcome(
            True,
            {"rows": rows, "median": history.median},
            expected,
            "A zero median or a zero-row day is judged by zero_rows, not by a ratio.",
        )
    deviation = abs(rows - history.median) / history.median
    observed = {"rows": rows, "median": history.median, "deviation": round(deviation, 4)}
    message = f"{rows:,} rows against a {history.describe()}: {deviation:.0%} off."
    if deviation > t.volume_deviation:
        return Outcome(False, observed, expected, f"{message} Check Graph's latency before trusting the day.")
    return Outcome(True, observed, expected, message)


@check("zero_rows", None, needs=("data", "history"), group="volume")
def check_zero_rows(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """An empty day whose history has calls: Graph may not have it yet, or it is past retention."""
    history, rows = p.history(), p.rows or 0
    observed = {"rows": rows, "history": history.describe()}
    expected = "rows > 0 when the history has calls"
    if rows == 0 and history.median:
        return Outcome(
            False,
            observed,
            expected,
            f"No rows against a {history.describe()}: Graph may not have the day yet, or it is past retention.",
        )
    return Outcome(True, observed, expected, "The day is not empty against a history with calls.")


@check("settled_day_unchanged", "warning", needs=("manifest",), group="volume")
def check_settled_day_unchanged(p: ReportPartition, t: QualityThresholds) -> Outcome:
    """A re-check that found the day changed after it settled (``call_logs/recheck.py``): its first version, and
    whatever was built from it, missed those calls; frequent changes mean settle_hours is too short."""
    assert p.manifest is not None
    recheck = p.manifest.recheck
    expected = "no change found when the day was pulled again after settling"
    if recheck is None:
        return Outcome(True, None, expected, "The day has not been changed by a re-check.")
    observed = {kind: recheck[kind] for kind in ("added", "removed", "changed", "by_hour")}
    hours = ", ".join(f"{hour}:00" for hour in recheck["by_hour"]) or "none"
    return Outcome(
        False,
        observed,
        expected,
        f"Re-checked {recheck['age_days']:g} days after it ended, the day had changed: {recheck['added']} rows added, "
        f"{recheck['removed']} removed, {recheck['changed']} changed (hours {hours} UTC); the new version replaced "
        "it and its gold days are rebuilt. Often? Raise settle_hours.",
    )


LAKE_CHECKS: tuple[Check, ...] = (
    check_data_file_present,
    check_manifest_present,
    check_manifest_matches_file,
    check_row_count,
    check_quarantine_matches_manifest,
    check_quarantined_rows,
    check_conflicting_duplicates,
    check_schema,
    check_unknown_properties,
    check_null_ids,
    check_duplicate_ids,
    check_window_bounds,
    check_sentinel_leak,
    check_volume_vs_history,
    check_zero_rows,
    check_settled_day_unchanged,
)
