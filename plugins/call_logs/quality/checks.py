"""Quality checks of one committed partition, read back from the lake exactly as consumers will see it.

Each check is one small function returning a ``CheckResult``, grouped below by what it guards; a check that
cannot be evaluated (a column missing or of the wrong type) fails rather than passing silently.
``check_partition`` runs every check that applies and ``write_report`` publishes the report as ``_dq.json``
beside the partition. Reading the partition back is in ``reading``; thresholds, results and the report are in
``results`` (re-exported here).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc
from fsspec import AbstractFileSystem

from call_logs.graph.window import format_utc
from call_logs.lake.layout import DATA_FILE, QUALITY_FILE, day_window, partition_path
from call_logs.lake.schema import SCHEMA, SCHEMA_VERSION, TIMESTAMP, TIMESTAMP_COLUMNS
from call_logs.lake.storage import publish_json
from call_logs.quality.reading import CommittedPartition, Uncheckable, first_ids, read_partition

# Callers import CheckResult, QualityReport and QualityThresholds from here, beside check_partition and write_report.
from call_logs.quality.results import (
    MAX_SAMPLE_IDS,
    CheckResult,
    Outcome,
    QualityReport,
    QualityThresholds,
    Severity,
)

_SCHEMA_VERSION_KEY = b"direct_routing.schema_version"


_Check = Callable[[CommittedPartition, QualityThresholds], CheckResult]


def _check(name: str, severity: Severity | None) -> Callable[[Callable[..., Outcome]], _Check]:
    """Make a check from a function returning an ``Outcome``; ``severity`` None takes ``zero_rows_severity``."""

    def wrap(function: Callable[[CommittedPartition, QualityThresholds], Outcome]) -> _Check:
        def run(p: CommittedPartition, t: QualityThresholds) -> CheckResult:
            try:
                outcome = function(p, t)
            except Uncheckable as problem:
                outcome = Outcome(False, str(problem), "a checkable file", f"Cannot be checked: {problem}.")
            status = "pass" if outcome.ok else "fail"
            level = severity or t.zero_rows_severity
            return CheckResult(
                name,
                level,
                status,
                outcome.observed,
                outcome.expected,
                outcome.message,
                outcome.sample_ids[:MAX_SAMPLE_IDS],
            )

        run.__name__ = run.__qualname__ = function.__name__
        run.__doc__ = function.__doc__
        return run

    return wrap


# --- presence and integrity -------------------------------------------------------------------------------------


@_check("data_file_present", "error")
def check_data_file_present(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """Without a readable data file nothing else about the rows can be known."""
    if p.file is None:
        return Outcome(
            False, p.file_problem, f"a readable {DATA_FILE}", f"The data file cannot be used: {p.file_problem}."
        )
    return Outcome(True, "readable Parquet", f"a readable {DATA_FILE}", "The data file is present and readable.")


@_check("manifest_present", "error")
def check_manifest_present(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """The manifest is written last: without it the commit did not finish."""
    if p.manifest is None:
        return Outcome(False, "missing", "present", "The partition has no _manifest.json: its commit did not finish.")
    return Outcome(True, "present", "present", "The manifest is present.")


@_check("manifest_matches_file", "error")
def check_manifest_matches_file(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """The stored bytes are the ones the manifest describes (not replaced or truncated since)."""
    described = (p.manifest or {}).get("file") or {}
    expected = {"sha256": described.get("sha256"), "bytes": described.get("bytes")}
    observed = {"sha256": p.sha256, "bytes": p.bytes}
    if observed != expected:
        return Outcome(
            False,
            observed,
            expected,
            "The data file is not the one the manifest describes (replaced or truncated after the commit).",
        )
    return Outcome(True, observed, expected, "The data file is the one the manifest describes.")


@_check("row_count", "error")
def check_row_count(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """File rows = manifest rows = fetched − duplicates − out-of-window: no row lost or invented on the way."""
    manifest = p.manifest or {}
    source = manifest.get("source") or {}
    try:
        net = source["rows_fetched"] - source["duplicates_dropped"] - source["out_of_window_dropped"]
    except (KeyError, TypeError):
        net = None
    observed = {"file": p.rows, "manifest": manifest.get("rows"), "fetched_minus_dropped": net}
    if not p.rows == manifest.get("rows") == net:
        return Outcome(
            False,
            observed,
            "all three equal",
            "The file's rows, the manifest's rows and fetched − duplicates − out-of-window disagree.",
        )
    return Outcome(True, observed, "all three equal", f"{p.rows:,} rows, as the manifest says.")


@_check("schema", "error")
def check_schema(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """Every partition has the one versioned lake schema, or consumers' queries break across days."""
    assert p.file is not None
    schema = p.file.schema_arrow
    problems = [
        f"{f.name} is {f.type}" for f in schema if f.name not in SCHEMA.names or SCHEMA.field(f.name).type != f.type
    ]
    problems += [f"{name} is missing" for name in SCHEMA.names if name not in schema.names]
    if not problems and schema.names != SCHEMA.names:
        problems.append("the columns are in another order")
    file_version = (schema.metadata or {}).get(_SCHEMA_VERSION_KEY, b"").decode() or None
    if file_version != str(SCHEMA_VERSION):
        problems.append(f"the file's schema_version is {file_version}")
    if p.manifest is not None and p.manifest.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"the manifest's schema_version is {p.manifest.get('schema_version')}")
    expected = f"the lake schema, version {SCHEMA_VERSION}"
    if problems:
        return Outcome(False, problems, expected, f"The file drifted from the lake schema: {'; '.join(problems)}.")
    return Outcome(True, f"version {SCHEMA_VERSION}", expected, "The file has the lake schema.")


# --- identity and window ----------------------------------------------------------------------------------------


@_check("null_ids", "error")
def check_null_ids(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """A row without an id cannot be deduplicated or traced."""
    nulls = sum(table["id"].null_count for table in p.batches([]))
    return Outcome(nulls == 0, nulls, 0, f"{nulls:,} rows have no id." if nulls else "Every row has an id.")


@_check("duplicate_ids", "error")
def check_duplicate_ids(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """The writer deduplicates by id; a repeated id means a row was counted twice."""
    ids = pa.chunked_array([table["id"] for table in p.batches([])], pa.string()).drop_null()  # one column only
    counts = pc.value_counts(ids)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    extra = (pc.sum(repeated.field("counts")).as_py() or 0) - len(repeated)
    observed = {"duplicated_ids": len(repeated), "extra_rows": extra}
    samples = repeated.field("values").slice(0, MAX_SAMPLE_IDS).to_pylist()
    if len(repeated):
        return Outcome(
            False, observed, 0, f"{len(repeated):,} ids appear more than once ({extra:,} extra rows).", samples
        )
    return Outcome(True, observed, 0, "Every id is unique.")


@_check("window_bounds", "error")
def check_window_bounds(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """Each call starts in the day's UTC window ``[D, D+1)``, which is also the manifest's window."""
    start, end = day_window(p.day)
    window = {"start": format_utc(start), "end": format_utc(end)}
    low, high = pa.scalar(start, TIMESTAMP), pa.scalar(end, TIMESTAMP)
    outside, samples = p.scan(
        ["startDateTime"],
        lambda b: pc.or_kleene(
            pc.is_null(b["startDateTime"]),
            pc.or_kleene(pc.less(b["startDateTime"], low), pc.greater_equal(b["startDateTime"], high)),
        ),
    )
    problems = []
    if p.manifest is not None and p.manifest.get("window") != window:
        problems.append(f"the manifest's window is {p.manifest.get('window')}")
    if outside:
        problems.append(f"{outside:,} rows have a startDateTime that is null or outside the window")
    observed = {"rows_outside": outside, "manifest_window": (p.manifest or {}).get("window")}
    if problems:
        return Outcome(False, observed, window, f"{'; '.join(problems).capitalize()}.", samples)
    return Outcome(True, observed, window, "Every call starts inside the day's UTC window.")


# --- call outcome consistency -----------------------------------------------------------------------------------


def _row_rule(
    name: str, severity: Severity, columns: list[str], rule: Callable[[pa.Table], pa.Array], meaning: str
) -> _Check:
    """A check that fails on every row where ``rule`` holds; ``meaning`` says what such a row is."""

    def rule_check(p: CommittedPartition, t: QualityThresholds) -> Outcome:
        count, samples = p.scan(columns, rule)
        return Outcome(
            count == 0, count, 0, f"{count:,} rows are {meaning}." if count else f"No row is {meaning}.", samples
        )

    rule_check.__name__ = f"check_{name}"
    return _check(name, severity)(rule_check)


def _is(table: pa.Table, column: str, value: bool) -> pa.Array:
    return pc.equal(table[column], value)


check_successful_call_has_no_failure_time = _row_rule(
    "successful_call_has_no_failure_time",
    "error",
    ["successfulCall", "failureDateTime"],
    lambda b: pc.and_kleene(_is(b, "successfulCall", True), pc.is_valid(b["failureDateTime"])),
    "successful calls with a failureDateTime",
)
check_successful_call_has_end_time = _row_rule(
    "successful_call_has_end_time",
    "error",
    ["successfulCall", "endDateTime"],
    lambda b: pc.and_kleene(_is(b, "successfulCall", True), pc.is_null(b["endDateTime"])),
    "successful calls without an endDateTime",
)
check_failed_call_has_failure_time = _row_rule(
    "failed_call_has_failure_time",
    "error",
    ["successfulCall", "failureDateTime", "inviteDateTime"],
    lambda b: pc.and_kleene(
        _is(b, "successfulCall", False),
        pc.or_kleene(pc.is_null(b["failureDateTime"]), pc.less(b["failureDateTime"], b["inviteDateTime"])),
    ),
    "failed calls without a failureDateTime at or after their inviteDateTime",
)
check_call_outcome_known = _row_rule(
    "call_outcome_known",
    "warning",
    ["successfulCall"],
    lambda b: pc.is_null(b["successfulCall"]),
    "calls whose successfulCall is null",
)


# --- the 0001-01-01 sentinel ------------------------------------------------------------------------------------


@_check("sentinel_leak", "error")
def check_sentinel_leak(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """No timestamp before ``earliest_valid``: a year-0001 value breaks pandas and Spark readers."""
    earliest = pa.scalar(datetime.combine(t.earliest_valid, datetime.min.time(), UTC), TIMESTAMP)
    per_column = dict.fromkeys(TIMESTAMP_COLUMNS, 0)
    samples: list[str] = []
    for table in p.batches(list(TIMESTAMP_COLUMNS)):
        masks = [pc.fill_null(pc.less(table[name], earliest), False) for name in TIMESTAMP_COLUMNS]
        for name, mask in zip(TIMESTAMP_COLUMNS, masks, strict=True):
            per_column[name] += pc.sum(mask).as_py() or 0
        samples.extend(first_ids(table.filter(functools.reduce(pc.or_, masks)), MAX_SAMPLE_IDS - len(samples)))
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


@_check("sentinel_counts", "error")
def check_sentinel_counts(p: CommittedPartition, t: QualityThresholds) -> Outcome:
    """Sentinels only replace failureDateTime on successful calls and endDateTime on failed ones.

    Calls of unknown outcome may carry either (``call_outcome_known`` warns about them).
    """
    sentinels = ((p.manifest or {}).get("source") or {}).get("sentinels") or {}
    outcomes = {True: 0, False: 0}
    for table in p.batches(["successfulCall"]):
        for value in outcomes:
            outcomes[value] += pc.sum(pc.fill_null(_is(table, "successfulCall", value), False)).as_py() or 0
    unknown = (p.rows or 0) - outcomes[True] - outcomes[False]
    limits = dict.fromkeys(TIMESTAMP_COLUMNS, p.rows) | {
        "failureDateTime": outcomes[True] + unknown,
        "endDateTime": outcomes[False] + unknown,
    }
    over = {
        name: {"sentinels": sentinels.get(name, 0), "limit": limit}
        for name, limit in limits.items()
        if sentinels.get(name, 0) > limit
    }
    observed = {
        "sentinels": sentinels,
        "successful_calls": outcomes[True],
        "failed_calls": outcomes[False],
        "unknown_outcome_calls": unknown,
    }
    expected = (
        "failureDateTime sentinels ≤ successful calls, endDateTime sentinels ≤ failed calls "
        "(each plus calls of unknown outcome), all ≤ rows"
    )
    if over:
        return Outcome(
            False,
            observed,
            expected,
            f"More sentinels than calls that may carry them ({over}): the success/failure split is inconsistent.",
        )
    return Outcome(True, observed, expected, "The manifest's sentinel counts fit the calls' outcomes.")


# --- volume -----------------------------------------------------------------------------------------------------


@_check("volume_vs_history", "warning")
def check_volume_vs_history(p: CommittedPartition, t: QualityThresholds) -> Outcome:
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


@_check("zero_rows", None)
def check_zero_rows(p: CommittedPartition, t: QualityThresholds) -> Outcome:
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


# --- running them -----------------------------------------------------------------------------------------------

_NEEDS_FILE: tuple[_Check, ...] = (
    check_schema,
    check_null_ids,
    check_duplicate_ids,
    check_window_bounds,
    check_successful_call_has_no_failure_time,
    check_successful_call_has_end_time,
    check_failed_call_has_failure_time,
    check_call_outcome_known,
    check_sentinel_leak,
    check_volume_vs_history,
    check_zero_rows,
)
_NEEDS_FILE_AND_MANIFEST: tuple[_Check, ...] = (check_manifest_matches_file, check_row_count, check_sentinel_counts)


def check_partition(
    fs: AbstractFileSystem, root: str, day: date, thresholds: QualityThresholds | None = None
) -> QualityReport:
    """Check the day's committed partition as stored (data file and manifest read back from ``fs``).

    Checks that need a missing data file or manifest are listed as skipped: the presence check has failed already.
    """
    thresholds = thresholds or QualityThresholds()
    with read_partition(fs, root, day, thresholds.history_days) as partition:
        rows = partition.rows
        has_file, has_manifest = partition.file is not None, partition.manifest is not None
        runnable = [check_data_file_present, check_manifest_present]
        runnable += list(_NEEDS_FILE) if has_file else []
        runnable += list(_NEEDS_FILE_AND_MANIFEST) if has_file and has_manifest else []
        results = [check(partition, thresholds) for check in runnable]
    skipped = [c.__name__.removeprefix("check_") for c in _NEEDS_FILE + _NEEDS_FILE_AND_MANIFEST if c not in runnable]
    return QualityReport(day, datetime.now(UTC), partition.sha256, partition.bytes, rows, thresholds, results, skipped)


def write_report(fs: AbstractFileSystem, root: str, day: date, report: QualityReport) -> str:
    """Publish ``_dq.json`` beside the partition atomically; returns its path."""
    path = f"{partition_path(root, day)}/{QUALITY_FILE}"
    publish_json(fs, report.to_dict(), path)
    return path
