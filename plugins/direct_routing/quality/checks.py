"""Quality checks of one committed partition, read back from the lake exactly as consumers will see it.

The data file is streamed once from storage to a local temporary copy (hashing it on the way), then
read column subset by column subset, batch by batch: a day of a million calls never needs all its
columns in memory at once. Each check is one small function returning a ``CheckResult``; a check that
cannot be evaluated (a column missing or of the wrong type) fails rather than passing silently.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem

from direct_routing.graph.window import format_utc
from direct_routing.lake.layout import DATA_FILE, QUALITY_FILE, day_window, partition_path
from direct_routing.lake.partition import read_manifest
from direct_routing.lake.schema import SCHEMA, SCHEMA_VERSION, TIMESTAMP, TIMESTAMP_COLUMNS
from direct_routing.lake.storage import publish_json
from direct_routing.quality.history import VolumeHistory, load_history

Severity = Literal["error", "warning"]
MAX_SAMPLE_IDS = 20
BATCH_ROWS = 65_536
_SCHEMA_VERSION_KEY = b"direct_routing.schema_version"
_SEVERITIES = ("error", "warning")


@dataclass(frozen=True)
class QualityThresholds:
    """The tunable limits of the checks.

    :param volume_deviation: warn when ``|rows - median| / median`` of the recent history exceeds it (0.5 = 50%).
    :param history_days: how many calendar days before the checked one form that history.
    :param min_history: partitions of history needed before the volume check applies (a median of one or
        two days is noise).
    :param zero_rows_severity: ``warning`` or ``error`` for a day with no rows while its history has calls
        (Graph returns old windows empty, which is not the same as a quiet day).
    :param earliest_valid: any timestamp before it is a leaked ``0001-01-01`` sentinel or garbage.
    """

    volume_deviation: float = 0.5
    history_days: int = 28
    min_history: int = 3
    zero_rows_severity: Severity = "warning"
    earliest_valid: date = date(1900, 1, 1)

    def __post_init__(self) -> None:
        if self.zero_rows_severity not in _SEVERITIES:
            raise ValueError(f"zero_rows_severity is {self.zero_rows_severity!r}; use 'warning' or 'error'.")
        if self.volume_deviation <= 0:
            raise ValueError(f"volume_deviation is {self.volume_deviation}; use a positive fraction such as 0.5.")
        if self.history_days < 1 or self.min_history < 1:
            raise ValueError(f"history_days ({self.history_days}) and min_history ({self.min_history}) must be ≥ 1.")


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check; ``sample_ids`` holds up to 20 ids of offending rows."""

    name: str
    severity: Severity
    status: Literal["pass", "fail"]
    observed: Any
    expected: Any
    message: str
    sample_ids: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "fail"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class _Outcome:
    """What a check function found; the ``_check`` decorator turns it into a ``CheckResult``."""

    ok: bool
    observed: Any
    expected: Any
    message: str
    sample_ids: list[str] = field(default_factory=list)


@dataclass
class QualityReport:
    """All check results of one partition, and what was checked."""

    call_date: date
    checked_at: datetime
    file_sha256: str | None
    file_bytes: int | None
    rows: int | None
    thresholds: QualityThresholds
    results: list[CheckResult]
    skipped: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed and r.severity == "error"]

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if r.failed and r.severity == "warning"]

    @property
    def status(self) -> Literal["pass", "warn", "fail"]:
        return "fail" if self.errors else "warn" if self.warnings else "pass"

    def to_dict(self) -> dict[str, Any]:
        """The ``_dq.json`` document."""
        return {
            "call_date": self.call_date.isoformat(),
            "checked_at": format_utc(self.checked_at),
            "file": {"name": DATA_FILE, "sha256": self.file_sha256, "bytes": self.file_bytes, "rows": self.rows},
            "status": self.status,
            "counts": {"errors": len(self.errors), "warnings": len(self.warnings)},
            "thresholds": asdict(self.thresholds) | {"earliest_valid": self.thresholds.earliest_valid.isoformat()},
            "checks": [r.to_dict() for r in self.results],
            "skipped": self.skipped,
        }

    def summary_line(self) -> str:
        """One line for the task log: the verdict, the failing checks by name, and the row count."""
        parts = [
            _counted(len(self.errors), "error", self.errors),
            _counted(len(self.warnings), "warning", self.warnings),
        ]
        rows = f"{self.rows:,} rows" if self.rows is not None else "no readable data file"
        return f"call_date={self.call_date.isoformat()} {self.status.upper()}: {', '.join(parts)}; {rows}"


def _counted(count: int, noun: str, results: list[CheckResult]) -> str:
    text = f"{count} {noun}{'' if count == 1 else 's'}"
    return f"{text} ({', '.join(r.name for r in results)})" if results else text


class _Uncheckable(Exception):
    """The file lacks what a check needs (a column, a type); the check fails with this message."""


@dataclass
class _Partition:
    """A committed partition as read back: its local copy, its manifest and where it came from."""

    day: date
    manifest: dict[str, Any] | None
    file: pq.ParquetFile | None
    file_problem: str | None
    bytes: int | None
    sha256: str | None
    history: Callable[[], VolumeHistory]

    @property
    def rows(self) -> int | None:
        return self.file.metadata.num_rows if self.file is not None else None

    def batches(self, columns: list[str]) -> Iterator[pa.Table]:
        """``id`` plus ``columns``, cast to the lake schema's types, one batch at a time."""
        assert self.file is not None
        present = set(self.file.schema_arrow.names)
        wanted = ["id", *(c for c in columns if c != "id")]
        missing = [c for c in wanted if c not in present]
        if missing:
            raise _Uncheckable(f"the file has no column {', '.join(missing)}")
        for batch in self.file.iter_batches(batch_size=BATCH_ROWS, columns=wanted):
            yield _conformed(pa.Table.from_batches([batch]))

    def scan(self, columns: list[str], violates: Callable[[pa.Table], pa.Array]) -> tuple[int, list[str]]:
        """Rows where ``violates`` is true (null counts as false), and the ids of the first 20 of them."""
        count, samples = 0, []
        for table in self.batches(columns):
            hits = table.filter(pc.fill_null(violates(table), False))
            count += hits.num_rows
            samples.extend(_ids(hits, MAX_SAMPLE_IDS - len(samples)))
        return count, samples


def _conformed(table: pa.Table) -> pa.Table:
    for index, name in enumerate(table.column_names):
        expected = SCHEMA.field(name).type
        if table.schema.field(name).type != expected:
            try:
                table = table.set_column(index, name, table[name].cast(expected))
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as error:
                raise _Uncheckable(
                    f"column {name} is {table.schema.field(name).type}, not {expected}: {error}"
                ) from None
    return table


def _ids(table: pa.Table, limit: int) -> list[str]:
    if limit <= 0:
        return []
    return table["id"].drop_null().slice(0, limit).to_pylist()


_Check = Callable[[_Partition, QualityThresholds], CheckResult]


def _check(name: str, severity: Severity | None) -> Callable[[Callable[..., _Outcome]], _Check]:
    """Make a check from a function returning an ``_Outcome``; ``severity`` None takes ``zero_rows_severity``."""

    def wrap(function: Callable[[_Partition, QualityThresholds], _Outcome]) -> _Check:
        def run(p: _Partition, t: QualityThresholds) -> CheckResult:
            try:
                outcome = function(p, t)
            except _Uncheckable as problem:
                outcome = _Outcome(False, str(problem), "a checkable file", f"Cannot be checked: {problem}.")
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
def check_data_file_present(p: _Partition, t: QualityThresholds) -> _Outcome:
    """Without a readable data file nothing else about the rows can be known."""
    if p.file is None:
        return _Outcome(
            False, p.file_problem, f"a readable {DATA_FILE}", f"The data file cannot be used: {p.file_problem}."
        )
    return _Outcome(True, "readable Parquet", f"a readable {DATA_FILE}", "The data file is present and readable.")


@_check("manifest_present", "error")
def check_manifest_present(p: _Partition, t: QualityThresholds) -> _Outcome:
    """The manifest is written last: without it the commit did not finish."""
    if p.manifest is None:
        return _Outcome(False, "missing", "present", "The partition has no _manifest.json: its commit did not finish.")
    return _Outcome(True, "present", "present", "The manifest is present.")


@_check("manifest_matches_file", "error")
def check_manifest_matches_file(p: _Partition, t: QualityThresholds) -> _Outcome:
    """The stored bytes are the ones the manifest describes (not replaced or truncated since)."""
    described = (p.manifest or {}).get("file") or {}
    expected = {"sha256": described.get("sha256"), "bytes": described.get("bytes")}
    observed = {"sha256": p.sha256, "bytes": p.bytes}
    if observed != expected:
        return _Outcome(
            False,
            observed,
            expected,
            "The data file is not the one the manifest describes (replaced or truncated after the commit).",
        )
    return _Outcome(True, observed, expected, "The data file is the one the manifest describes.")


@_check("row_count", "error")
def check_row_count(p: _Partition, t: QualityThresholds) -> _Outcome:
    """File rows = manifest rows = fetched − duplicates − out-of-window: no row lost or invented on the way."""
    manifest = p.manifest or {}
    source = manifest.get("source") or {}
    try:
        net = source["rows_fetched"] - source["duplicates_dropped"] - source["out_of_window_dropped"]
    except (KeyError, TypeError):
        net = None
    observed = {"file": p.rows, "manifest": manifest.get("rows"), "fetched_minus_dropped": net}
    if not p.rows == manifest.get("rows") == net:
        return _Outcome(
            False,
            observed,
            "all three equal",
            "The file's rows, the manifest's rows and fetched − duplicates − out-of-window disagree.",
        )
    return _Outcome(True, observed, "all three equal", f"{p.rows:,} rows, as the manifest says.")


@_check("schema", "error")
def check_schema(p: _Partition, t: QualityThresholds) -> _Outcome:
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
        return _Outcome(False, problems, expected, f"The file drifted from the lake schema: {'; '.join(problems)}.")
    return _Outcome(True, f"version {SCHEMA_VERSION}", expected, "The file has the lake schema.")


# --- identity and window ----------------------------------------------------------------------------------------


@_check("null_ids", "error")
def check_null_ids(p: _Partition, t: QualityThresholds) -> _Outcome:
    """A row without an id cannot be deduplicated or traced."""
    nulls = sum(table["id"].null_count for table in p.batches([]))
    return _Outcome(nulls == 0, nulls, 0, f"{nulls:,} rows have no id." if nulls else "Every row has an id.")


@_check("duplicate_ids", "error")
def check_duplicate_ids(p: _Partition, t: QualityThresholds) -> _Outcome:
    """The writer deduplicates by id; a repeated id means a row was counted twice."""
    ids = pa.chunked_array([table["id"] for table in p.batches([])], pa.string()).drop_null()  # one column only
    counts = pc.value_counts(ids)
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    extra = (pc.sum(repeated.field("counts")).as_py() or 0) - len(repeated)
    observed = {"duplicated_ids": len(repeated), "extra_rows": extra}
    samples = repeated.field("values").slice(0, MAX_SAMPLE_IDS).to_pylist()
    if len(repeated):
        return _Outcome(
            False, observed, 0, f"{len(repeated):,} ids appear more than once ({extra:,} extra rows).", samples
        )
    return _Outcome(True, observed, 0, "Every id is unique.")


@_check("window_bounds", "error")
def check_window_bounds(p: _Partition, t: QualityThresholds) -> _Outcome:
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
        return _Outcome(False, observed, window, f"{'; '.join(problems).capitalize()}.", samples)
    return _Outcome(True, observed, window, "Every call starts inside the day's UTC window.")


# --- call outcome consistency -----------------------------------------------------------------------------------


def _row_rule(
    name: str, severity: Severity, columns: list[str], rule: Callable[[pa.Table], pa.Array], meaning: str
) -> _Check:
    """A check that fails on every row where ``rule`` holds; ``meaning`` says what such a row is."""

    def rule_check(p: _Partition, t: QualityThresholds) -> _Outcome:
        count, samples = p.scan(columns, rule)
        return _Outcome(
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
def check_sentinel_leak(p: _Partition, t: QualityThresholds) -> _Outcome:
    """No timestamp before ``earliest_valid``: a year-0001 value breaks pandas and Spark readers."""
    earliest = pa.scalar(datetime.combine(t.earliest_valid, datetime.min.time(), UTC), TIMESTAMP)
    per_column = dict.fromkeys(TIMESTAMP_COLUMNS, 0)
    samples: list[str] = []
    for table in p.batches(list(TIMESTAMP_COLUMNS)):
        masks = [pc.fill_null(pc.less(table[name], earliest), False) for name in TIMESTAMP_COLUMNS]
        for name, mask in zip(TIMESTAMP_COLUMNS, masks, strict=True):
            per_column[name] += pc.sum(mask).as_py() or 0
        samples.extend(_ids(table.filter(functools.reduce(pc.or_, masks)), MAX_SAMPLE_IDS - len(samples)))
    leaked = {name: count for name, count in per_column.items() if count}
    expected = f"no timestamp before {t.earliest_valid.isoformat()}"
    if leaked:
        return _Outcome(
            False,
            leaked,
            expected,
            f"Timestamps before {t.earliest_valid.isoformat()} reached the lake: {leaked}.",
            samples,
        )
    return _Outcome(True, 0, expected, "No timestamp predates the earliest valid date.")


@_check("sentinel_counts", "error")
def check_sentinel_counts(p: _Partition, t: QualityThresholds) -> _Outcome:
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
        return _Outcome(
            False,
            observed,
            expected,
            f"More sentinels than calls that may carry them ({over}): the success/failure split is inconsistent.",
        )
    return _Outcome(True, observed, expected, "The manifest's sentinel counts fit the calls' outcomes.")


# --- volume -----------------------------------------------------------------------------------------------------


@_check("volume_vs_history", "warning")
def check_volume_vs_history(p: _Partition, t: QualityThresholds) -> _Outcome:
    """A day far from its recent median is probably incomplete (Graph latency) or a tenant change."""
    history, rows = p.history(), p.rows or 0
    expected = f"within {t.volume_deviation:.0%} of the median of ≥ {t.min_history} previous partitions"
    if len(history.rows) < t.min_history:
        return _Outcome(
            True, history.describe(), expected, f"Not enough history to judge the volume ({history.describe()})."
        )
    if not history.median or rows == 0:
        return _Outcome(
            True,
            {"rows": rows, "median": history.median},
            expected,
            "A zero median or a zero-row day is judged by zero_rows, not by a ratio.",
        )
    deviation = abs(rows - history.median) / history.median
    observed = {"rows": rows, "median": history.median, "deviation": round(deviation, 4)}
    message = f"{rows:,} rows against a {history.describe()}: {deviation:.0%} off."
    if deviation > t.volume_deviation:
        return _Outcome(False, observed, expected, f"{message} Check Graph's latency before trusting the day.")
    return _Outcome(True, observed, expected, message)


@_check("zero_rows", None)
def check_zero_rows(p: _Partition, t: QualityThresholds) -> _Outcome:
    """An empty day whose history has calls: Graph may not have it yet, or it is past retention."""
    history, rows = p.history(), p.rows or 0
    observed = {"rows": rows, "history": history.describe()}
    expected = "rows > 0 when the history has calls"
    if rows == 0 and history.median:
        return _Outcome(
            False,
            observed,
            expected,
            f"No rows against a {history.describe()}: Graph may not have the day yet, or it is past retention.",
        )
    return _Outcome(True, observed, expected, "The day is not empty against a history with calls.")


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


def _download(fs: AbstractFileSystem, path: str, dest: str) -> tuple[int, str]:
    """Copy ``path`` to local ``dest`` in chunks; returns its size and sha256."""
    digest, size = hashlib.sha256(), 0
    with fs.open(path, "rb") as source, open(dest, "wb") as target:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _read_back(
    fs: AbstractFileSystem, path: str, local: str
) -> tuple[pq.ParquetFile | None, str | None, int | None, str | None]:
    """(file, problem, bytes, sha256) of the stored data file, copied to ``local``."""
    try:
        size, sha256 = _download(fs, path, local)
    except FileNotFoundError:
        return None, f"{DATA_FILE} is missing", None, None
    try:
        return pq.ParquetFile(local), None, size, sha256
    except (pa.ArrowInvalid, OSError) as error:
        return None, f"{DATA_FILE} is not a readable Parquet file ({error})", size, sha256


def check_partition(
    fs: AbstractFileSystem, root: str, day: date, thresholds: QualityThresholds | None = None
) -> QualityReport:
    """Check the day's committed partition as stored (data file and manifest read back from ``fs``).

    Checks that need a missing data file or manifest are listed as skipped: the presence check has failed already.
    """
    thresholds = thresholds or QualityThresholds()
    manifest = read_manifest(fs, root, day)
    with tempfile.TemporaryDirectory(prefix="direct-routing-dq-") as workdir:
        local = os.path.join(workdir, DATA_FILE)
        file, problem, size, sha256 = _read_back(fs, f"{partition_path(root, day)}/{DATA_FILE}", local)
        history = functools.cache(lambda: load_history(fs, root, day, thresholds.history_days))
        partition = _Partition(day, manifest, file, problem, size, sha256, history)
        rows = partition.rows
        runnable = [check_data_file_present, check_manifest_present]
        runnable += list(_NEEDS_FILE) if file is not None else []
        runnable += list(_NEEDS_FILE_AND_MANIFEST) if file is not None and manifest is not None else []
        try:
            results = [check(partition, thresholds) for check in runnable]
        finally:
            if file is not None:
                file.close()
    skipped = [c.__name__.removeprefix("check_") for c in _NEEDS_FILE + _NEEDS_FILE_AND_MANIFEST if c not in runnable]
    return QualityReport(day, datetime.now(UTC), sha256, size, rows, thresholds, results, skipped)


def write_report(fs: AbstractFileSystem, root: str, day: date, report: QualityReport) -> str:
    """Publish ``_dq.json`` beside the partition atomically; returns its path."""
    path = f"{partition_path(root, day)}/{QUALITY_FILE}"
    publish_json(fs, report.to_dict(), path)
    return path
