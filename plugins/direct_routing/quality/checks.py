"""Quality checks of one committed partition, read back from the lake exactly as consumers will see it.

The data file is streamed once from storage to a local temporary copy (hashing it on the way), then
read column subset by column subset, batch by batch: a day of a million calls never needs all its
columns in memory at once. Each check is one small function returning a ``CheckResult``; a check that
cannot be evaluated (a column missing or of the wrong type) fails rather than passing silently.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timezone
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


def _result(
    name: str, severity: Severity, ok: bool, observed: Any, expected: Any, message: str, sample_ids: list[str] | None = None
) -> CheckResult:
    return CheckResult(name, severity, "pass" if ok else "fail", observed, expected, message, sample_ids or [])


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
            "thresholds": asdict(self.thresholds),
            "checks": [r.to_dict() for r in self.results],
            "skipped": self.skipped,
        }

    def summary_line(self) -> str:
        """One line for the task log: the verdict, the failing checks by name, and the row count."""
        parts = [_counted(len(self.errors), "error", self.errors), _counted(len(self.warnings), "warning", self.warnings)]
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
                raise _Uncheckable(f"column {name} is {table.schema.field(name).type}, not {expected}: {error}") from None
    return table


def _ids(table: pa.Table, limit: int) -> list[str]:
    if limit <= 0:
        return []
    return [value for value in table["id"].drop_null().slice(0, limit).to_pylist()]


def _utc(day: date) -> pa.Scalar:
    return pa.scalar(datetime(day.year, day.month, day.day, tzinfo=timezone.utc), TIMESTAMP)


# --- presence and integrity -------------------------------------------------------------------------------------


def check_data_file_present(p: _Partition, t: QualityThresholds) -> CheckResult:
    ok = p.file is not None
    return _result(
        "data_file_present", "error", ok, p.file_problem or "readable Parquet", f"a readable {DATA_FILE}",
        "The data file is present and readable." if ok else f"The data file cannot be used: {p.file_problem}.",
    )


def check_manifest_present(p: _Partition, t: QualityThresholds) -> CheckResult:
    ok = p.manifest is not None
    return _result(
        "manifest_present", "error", ok, "present" if ok else "missing", "present",
        "The manifest is present." if ok else "The partition has no _manifest.json: its commit did not finish.",
    )


def check_manifest_matches_file(p: _Partition, t: QualityThresholds) -> CheckResult:
    described = (p.manifest or {}).get("file") or {}
    expected = {"sha256": described.get("sha256"), "bytes": described.get("bytes")}
    observed = {"sha256": p.sha256, "bytes": p.bytes}
    ok = observed == expected
    return _result(
        "manifest_matches_file", "error", ok, observed, expected,
        "The data file is the one the manifest describes." if ok
        else "The data file is not the one the manifest describes (replaced or truncated after the commit).",
    )


def check_row_count(p: _Partition, t: QualityThresholds) -> CheckResult:
    manifest = p.manifest or {}
    source = manifest.get("source") or {}
    try:
        net = source["rows_fetched"] - source["duplicates_dropped"] - source["out_of_window_dropped"]
    except (KeyError, TypeError):
        net = None
    observed = {"file": p.rows, "manifest": manifest.get("rows"), "fetched_minus_dropped": net}
    ok = p.rows == manifest.get("rows") == net
    return _result(
        "row_count", "error", ok, observed, "all three equal",
        f"{p.rows:,} rows, as the manifest says." if ok
        else "The file's rows, the manifest's rows and fetched − duplicates − out-of-window disagree.",
    )


def check_schema(p: _Partition, t: QualityThresholds) -> CheckResult:
    assert p.file is not None
    schema = p.file.schema_arrow
    problems = [f"{f.name}: {f.type}" for f in schema if f.name not in SCHEMA.names or SCHEMA.field(f.name).type != f.type]
    problems += [f"{name}: missing" for name in SCHEMA.names if name not in schema.names]
    if not problems and schema.names != SCHEMA.names:
        problems.append("columns are in a different order")
    file_version = (schema.metadata or {}).get(_SCHEMA_VERSION_KEY, b"").decode() or None
    if file_version != str(SCHEMA_VERSION):
        problems.append(f"file schema_version: {file_version}")
    if p.manifest is not None and p.manifest.get("schema_version") != SCHEMA_VERSION:
        problems.append(f"manifest schema_version: {p.manifest.get('schema_version')}")
    return _result(
        "schema", "error", not problems, problems or f"schema version {SCHEMA_VERSION}",
        f"the lake schema, version {SCHEMA_VERSION}",
        "The file has the lake schema." if not problems else f"The file drifted from the lake schema: {'; '.join(problems)}.",
    )


# --- identity and window ----------------------------------------------------------------------------------------


def check_null_ids(p: _Partition, t: QualityThresholds) -> CheckResult:
    nulls = sum(table["id"].null_count for table in p.batches([]))
    return _result(
        "null_ids", "error", nulls == 0, nulls, 0,
        "Every row has an id." if not nulls else f"{nulls:,} rows have no id.",
    )


def check_duplicate_ids(p: _Partition, t: QualityThresholds) -> CheckResult:
    ids = pa.concat_tables(p.batches([]))["id"].drop_null()  # one string column: bounded by the day's ids
    counts = pc.value_counts(ids) if len(ids) else pa.array([], pa.struct([("values", pa.string()), ("counts", pa.int64())]))
    repeated = counts.filter(pc.greater(counts.field("counts"), 1))
    extra = (pc.sum(repeated.field("counts")).as_py() or 0) - len(repeated)
    samples = repeated.field("values").slice(0, MAX_SAMPLE_IDS).to_pylist()
    return _result(
        "duplicate_ids", "error", not len(repeated), {"duplicated_ids": len(repeated), "extra_rows": extra}, 0,
        "Every id is unique." if not len(repeated) else f"{len(repeated):,} ids appear more than once ({extra:,} extra rows).",
        samples,
    )


def check_window_bounds(p: _Partition, t: QualityThresholds) -> CheckResult:
    start, end = day_window(p.day)
    window = {"start": format_utc(start), "end": format_utc(end)}
    problems = []
    if p.manifest is not None and p.manifest.get("window") != window:
        problems.append(f"the manifest's window is {p.manifest.get('window')}")
    low, high = pa.scalar(start, TIMESTAMP), pa.scalar(end, TIMESTAMP)
    outside, samples = p.scan(["startDateTime"], lambda b: pc.or_kleene(
        pc.is_null(b["startDateTime"]),
        pc.or_kleene(pc.less(b["startDateTime"], low), pc.greater_equal(b["startDateTime"], high)),
    ))
    if outside:
        problems.append(f"{outside:,} rows have a startDateTime that is null or outside the window")
    return _result(
        "window_bounds", "error", not problems, {"rows_outside": outside, "manifest_window": (p.manifest or {}).get("window")},
        window, "Every call starts inside the day's UTC window." if not problems else "; ".join(problems).capitalize() + ".",
        samples,
    )


# --- call outcome consistency -----------------------------------------------------------------------------------


def _row_rule(name: str, severity: Severity, columns: list[str], rule: Callable[[pa.Table], pa.Array], meaning: str):
    """A check that fails on every row where ``rule`` holds; ``meaning`` says what such a row is."""

    def check(p: _Partition, t: QualityThresholds) -> CheckResult:
        count, samples = p.scan(columns, rule)
        return _result(name, severity, count == 0, count, 0,
                       f"No row is {meaning}." if not count else f"{count:,} rows are {meaning}.", samples)

    check.__name__ = f"check_{name}"
    return check


def _is(column: str, value: bool) -> Callable[[pa.Table], pa.Array]:
    return lambda b: pc.equal(b[column], value)


check_successful_call_has_no_failure_time = _row_rule(
    "successful_call_has_no_failure_time", "error", ["successfulCall", "failureDateTime"],
    lambda b: pc.and_kleene(_is("successfulCall", True)(b), pc.is_valid(b["failureDateTime"])),
    "successful calls with a failureDateTime",
)
check_successful_call_has_end_time = _row_rule(
    "successful_call_has_end_time", "error", ["successfulCall", "endDateTime"],
    lambda b: pc.and_kleene(_is("successfulCall", True)(b), pc.is_null(b["endDateTime"])),
    "successful calls without an endDateTime",
)
check_failed_call_has_failure_time = _row_rule(
    "failed_call_has_failure_time", "error", ["successfulCall", "failureDateTime", "inviteDateTime"],
    lambda b: pc.and_kleene(
        _is("successfulCall", False)(b),
        pc.or_kleene(pc.is_null(b["failureDateTime"]), pc.less(b["failureDateTime"], b["inviteDateTime"])),
    ),
    "failed calls without a failureDateTime at or after their inviteDateTime",
)
check_call_outcome_known = _row_rule(
    "call_outcome_known", "warning", ["successfulCall"], lambda b: pc.is_null(b["successfulCall"]),
    "calls whose successfulCall is null",
)


# --- the 0001-01-01 sentinel ------------------------------------------------------------------------------------


def check_sentinel_leak(p: _Partition, t: QualityThresholds) -> CheckResult:
    earliest = _utc(t.earliest_valid)
    per_column = dict.fromkeys(TIMESTAMP_COLUMNS, 0)
    samples: list[str] = []
    for table in p.batches(list(TIMESTAMP_COLUMNS)):
        masks = {name: pc.fill_null(pc.less(table[name], earliest), False) for name in TIMESTAMP_COLUMNS}
        for name, mask in masks.items():
            per_column[name] += pc.sum(mask).as_py() or 0
        any_column = masks[TIMESTAMP_COLUMNS[0]]
        for mask in list(masks.values())[1:]:
            any_column = pc.or_(any_column, mask)
        samples.extend(_ids(table.filter(any_column), MAX_SAMPLE_IDS - len(samples)))
    leaked = {name: count for name, count in per_column.items() if count}
    return _result(
        "sentinel_leak", "error", not leaked, leaked or 0, f"no timestamp before {t.earliest_valid.isoformat()}",
        "No timestamp predates the earliest valid date." if not leaked
        else f"Timestamps before {t.earliest_valid.isoformat()} reached the lake: {leaked}.",
        samples,
    )


def check_sentinel_counts(p: _Partition, t: QualityThresholds) -> CheckResult:
    sentinels = ((p.manifest or {}).get("source") or {}).get("sentinels") or {}
    outcomes = {True: 0, False: 0}
    for table in p.batches(["successfulCall"]):
        for value in (True, False):
            outcomes[value] += pc.sum(pc.fill_null(pc.equal(table["successfulCall"], value), False)).as_py() or 0
    limits = {name: p.rows for name in TIMESTAMP_COLUMNS}
    limits |= {"failureDateTime": outcomes[True], "endDateTime": outcomes[False]}
    over = {name: {"sentinels": sentinels.get(name, 0), "limit": limit}
            for name, limit in limits.items() if sentinels.get(name, 0) > limit}
    observed = {"sentinels": sentinels, "successful_calls": outcomes[True], "failed_calls": outcomes[False]}
    return _result(
        "sentinel_counts", "error", not over, observed,
        "failureDateTime sentinels ≤ successful calls, endDateTime sentinels ≤ failed calls, all ≤ rows",
        "The manifest's sentinel counts fit the calls' outcomes." if not over
        else f"More sentinels than calls that may carry them: {over}; the success/failure split is inconsistent.",
    )


# --- volume -----------------------------------------------------------------------------------------------------


def check_volume_vs_history(p: _Partition, t: QualityThresholds) -> CheckResult:
    history, rows = p.history(), p.rows or 0
    median = history.median
    expected = f"within {t.volume_deviation:.0%} of the median of ≥ {t.min_history} partitions"
    if len(history.rows) < t.min_history or not median:
        reason = history.describe() if len(history.rows) < t.min_history else "history median is 0"
        return _result("volume_vs_history", "warning", True, reason, expected,
                       f"Not enough history to judge the volume ({reason}).")
    if rows == 0:
        return _result("volume_vs_history", "warning", True, "zero rows", expected, "A zero-row day is judged by zero_rows.")
    deviation = abs(rows - median) / median
    ok = deviation <= t.volume_deviation
    return _result(
        "volume_vs_history", "warning", ok, {"rows": rows, "median": median, "deviation": round(deviation, 4)}, expected,
        f"{rows:,} rows against a {history.describe()}: {deviation:.0%} off."
        + ("" if ok else " Check Graph's latency or a tenant change before trusting the day."),
    )


def check_zero_rows(p: _Partition, t: QualityThresholds) -> CheckResult:
    history, rows = p.history(), p.rows or 0
    flagged = rows == 0 and bool(history.median)
    return _result(
        "zero_rows", t.zero_rows_severity, not flagged, {"rows": rows, "history": history.describe()},
        "rows > 0 when the history has calls",
        f"No rows while the {history.describe()}: Graph may not have the day yet, or it is past retention."
        if flagged else "The day is not empty against a history with calls.",
    )


# --- running them -----------------------------------------------------------------------------------------------

_Check = Callable[[_Partition, QualityThresholds], CheckResult]
_NEEDS_FILE: tuple[_Check, ...] = (
    check_schema, check_null_ids, check_duplicate_ids, check_window_bounds,
    check_successful_call_has_no_failure_time, check_successful_call_has_end_time, check_failed_call_has_failure_time,
    check_call_outcome_known, check_sentinel_leak, check_volume_vs_history, check_zero_rows,
)
_NEEDS_BOTH: tuple[_Check, ...] = (check_manifest_matches_file, check_row_count, check_sentinel_counts)


def _run(check: _Check, p: _Partition, t: QualityThresholds) -> CheckResult:
    try:
        return check(p, t)
    except _Uncheckable as problem:
        name = check.__name__.removeprefix("check_")
        severity = t.zero_rows_severity if name == "zero_rows" else "warning" if name in _WARNINGS else "error"
        return _result(name, severity, False, str(problem), "checkable", f"Cannot be checked: {problem}.")


_WARNINGS = frozenset({"call_outcome_known", "volume_vs_history"})


def _download(fs: AbstractFileSystem, path: str, dest: str) -> tuple[int, str]:
    """Copy ``path`` to local ``dest`` in chunks; returns its size and sha256."""
    digest, size = hashlib.sha256(), 0
    with fs.open(path, "rb") as source, open(dest, "wb") as target:
        for chunk in iter(lambda: source.read(1 << 20), b""):
            digest.update(chunk)
            target.write(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _open_local(local: str) -> tuple[pq.ParquetFile | None, str | None]:
    try:
        return pq.ParquetFile(local), None
    except (pa.ArrowInvalid, OSError) as error:
        return None, f"not a readable Parquet file ({error})"


def check_partition(
    fs: AbstractFileSystem, root: str, day: date, thresholds: QualityThresholds | None = None
) -> QualityReport:
    """Check the day's committed partition as stored (data file and manifest read back from ``fs``)."""
    thresholds = thresholds or QualityThresholds()
    folder = partition_path(root, day)
    manifest = read_manifest(fs, root, day)
    history: list[VolumeHistory] = []

    def lazy_history() -> VolumeHistory:
        if not history:
            history.append(load_history(fs, root, day, thresholds.history_days))
        return history[0]

    with tempfile.TemporaryDirectory(prefix="direct-routing-dq-") as workdir:
        local = os.path.join(workdir, DATA_FILE)
        try:
            size, sha256 = _download(fs, f"{folder}/{DATA_FILE}", local)
            file, problem = _open_local(local)
        except FileNotFoundError:
            size, sha256, file, problem = None, None, None, f"{DATA_FILE} is missing"
        partition = _Partition(day, manifest, file, problem, size, sha256, lazy_history)
        checks: list[_Check] = [check_data_file_present, check_manifest_present]
        checks += [c for c in _NEEDS_FILE if file is not None]
        checks += [c for c in _NEEDS_BOTH if file is not None and manifest is not None]
        results = [_run(check, partition, thresholds) for check in checks]
        skipped = [c.__name__.removeprefix("check_") for c in _NEEDS_FILE + _NEEDS_BOTH if c not in checks]
        return QualityReport(day, datetime.now(timezone.utc), sha256, size, partition.rows, thresholds, results, skipped)


def write_report(fs: AbstractFileSystem, root: str, day: date, report: QualityReport) -> str:
    """Publish ``_dq.json`` beside the partition atomically; returns its path."""
    path = f"{partition_path(root, day)}/{QUALITY_FILE}"
    publish_json(fs, report.to_dict(), path)
    return path
