"""Direct-routing trunk health: one row per day and trunk, computed from the day's calls as the sink stores them.

Definitions (the README's and the DuckDB cross-checks'):
- ``calls``: every call of the day on the trunk; ``successful_calls``: ``successfulCall`` is true (null: not);
- ``answered_calls``: the final SIP code says the call was answered: 0 (Graph's code for an established call that
  ended with BYE) or 200; ``answer_seizure_ratio`` = answered / calls (each call seized the trunk). It comes from the
  SIP codes, ``success_rate`` from Graph's own ``successfulCall``: a gap between them is worth a look;
- ``top_final_sip_codes``: the five most frequent non-null codes (most calls first, then the lower code), each with
  the alphabetically first phrase Graph gave it and its calls;
- ``media_bypass_share``: calls with ``mediaBypassEnabled`` true / calls;
- ``duration_p50_s`` / ``duration_p95_s``: quantiles of ``duration`` over successful calls with linear interpolation
  (DuckDB's ``quantile_cont``), null when the trunk had no successful call. Graph's ``duration`` runs from the
  INVITE to the end, ringing included;
- ``calls_by_signaling_location`` / ``calls_by_media_location``: calls per location (null location included),
  sorted by location, nulls last. Their counts add up to ``calls``.
Schema version 2 adds the Health Dashboard's and CQD's figures:
- ``calls_by_outcome``, ``delivered_calls``, ``ner_calls``, ``ner``: each call's outcome by ``outcomes.py``'s table;
  NER = delivered / ner_calls as a share in [0, 1] (the dashboard shows it as a percentage), null without a call of
  known outcome;
- ``peak_concurrent_calls`` (and its first minute, and the inbound and outbound calls' own peaks) and
  ``p95_concurrent_calls``: ``concurrency.py``'s minute counts over the day's calls and the previous day's calls
  still up after midnight (``calls_from_previous_day``); all null when the previous day could not be read, which
  the manifest's ``missing_sources`` and a quality warning name;
- ``average_call_duration_s`` (over ``average_call_duration_calls``) and ``short_call_share`` (under 15 s): the
  talk time ``endDateTime - startDateTime`` of answered calls that have both, not Graph's ``duration``;
- ``setup_delay_p50_s`` / ``_p95_s``: ``startDateTime - inviteDateTime`` of answered calls that have both (linear).
Calls without a trunk form their own row (trunk null). Columnar: pyarrow and numpy, no per-call Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from call_logs.gold.concurrency import SESSION_COLUMNS, DayConcurrency, day_concurrency
from call_logs.gold.outcomes import OUTCOMES, classify, delivered, judged
from call_logs.gold.source_days import read_with_previous, successor_is_stale
from call_logs.gold.store import GoldManifest, GoldSink, gold_sink, read_day, write_day
from call_logs.gold.table import TRUNK, TRUNK_HEALTH
from call_logs.lake.root import LakeRoot
from call_logs.sinks import ReportSink

CARRIED_COLUMNS = [TRUNK, "callType", *SESSION_COLUMNS]  # what the previous day's crossing calls need
SOURCE_COLUMNS = [
    TRUNK,
    "successfulCall",
    "finalSipCode",
    "finalSipCodePhrase",
    "callEndSubReason",
    "mediaBypassEnabled",
    "duration",
    "signalingLocation",
    "mediaPathLocation",
    "callType",
    *SESSION_COLUMNS,
]
TOP_SIP_CODES = 5
ANSWERED_SIP_CODES = pa.array([0, 200], pa.int32())  # 0 + "BYE": established and ended normally (Graph)
SHORT_CALL_S = 15  # Microsoft: an average call of about 15 s is a red flag (a typical 1:1 PSTN call: 4-5 min)


def _count_true(values: pa.Array | pa.ChunkedArray) -> int:
    return int(pc.sum(pc.fill_null(values, False).cast(pa.int64())).as_py() or 0)


def sorted_keys(values: pa.ChunkedArray) -> list[Any]:
    """Distinct values, sorted, null last."""
    distinct = pc.unique(values).to_pylist()
    return sorted(distinct, key=lambda v: (v is None, v if v is not None else ""))


def group_index(values: pa.ChunkedArray, keys: list[Any]) -> np.ndarray:
    """Each value's position in ``keys`` (``sorted_keys``' order: a null value is the last key); -1: not a key."""
    known = [k for k in keys if k is not None]
    index = pc.index_in(values, value_set=pa.array(known, values.type))
    null_index = len(known) if None in keys else -1
    filled = pc.if_else(pc.is_null(values), null_index, pc.fill_null(index, -1))
    return np.asarray(filled.to_numpy(zero_copy_only=False), dtype=np.int64)


def _equal_or_both_null(values: pa.ChunkedArray, key: Any) -> pa.ChunkedArray:
    return pc.is_null(values) if key is None else pc.fill_null(pc.equal(values, key), False)


def _counts(values: pa.ChunkedArray) -> list[dict[str, Any]]:
    return [{"value": key, "calls": _count_true(_equal_or_both_null(values, key))} for key in sorted_keys(values)]


def _top_sip_codes(calls: pa.Table) -> list[dict[str, Any]]:
    known = calls.filter(pc.is_valid(calls["finalSipCode"]))
    grouped = known.group_by("finalSipCode").aggregate([("finalSipCode", "count"), ("finalSipCodePhrase", "min")])
    ranked = sorted(
        zip(
            grouped["finalSipCode"].to_pylist(),
            grouped["finalSipCode_count"].to_pylist(),
            grouped["finalSipCodePhrase_min"].to_pylist(),
            strict=True,
        ),
        key=lambda item: (-item[1], item[0]),
    )
    return [{"code": code, "phrase": phrase, "calls": n} for code, n, phrase in ranked[:TOP_SIP_CODES]]


def _quantiles(values: np.ndarray) -> tuple[float | None, float | None]:
    """p50 and p95 with linear interpolation (DuckDB's ``quantile_cont``); None, None of no value."""
    if len(values) == 0:
        return None, None
    p50, p95 = np.percentile(values, [50, 95], method="linear")
    return float(p50), float(p95)


def _seconds_between(calls: pa.Table, first: str, then: str) -> np.ndarray:
    """``then - first`` in seconds (float; NaN where either is null)."""
    micros = pc.subtract(pc.cast(calls[then], pa.int64()), pc.cast(calls[first], pa.int64()))
    return np.asarray(pc.divide(pc.cast(micros, pa.float64()), 1e6).to_numpy(zero_copy_only=False), dtype=np.float64)


def answered_mask(calls: pa.Table) -> np.ndarray:
    """The calls ``answered_calls`` counts: final SIP code 0 or 200."""
    mask = pc.fill_null(pc.is_in(calls["finalSipCode"], ANSWERED_SIP_CODES), False)
    return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)


@dataclass(frozen=True)
class DayFigures:
    """The schema-version-2 figures of a day's calls, per trunk (``keys``' order), as numpy arrays."""

    outcomes: np.ndarray  # (trunks, len(OUTCOMES)) calls per outcome
    talk: list[np.ndarray]  # per trunk: talk times of answered calls (s)
    setup: list[np.ndarray]  # per trunk: setup delays of answered calls (s)
    carried: np.ndarray | None  # per trunk: calls from the previous day; None: it was missing
    concurrency: DayConcurrency | None


def day_figures(calls: pa.Table, carried: pa.Table | None, keys: list[Any], day: date) -> DayFigures:
    """NER outcomes, talk times, setup delays and concurrency of a day's calls per trunk (``keys``)."""
    trunks = len(keys)
    group = group_index(calls[TRUNK], keys)
    outcome = classify(calls["successfulCall"], calls["finalSipCode"], calls["callEndSubReason"])
    outcomes = np.bincount(group * len(OUTCOMES) + outcome, minlength=trunks * len(OUTCOMES))
    answered = answered_mask(calls)
    talk = _seconds_between(calls, "startDateTime", "endDateTime")
    setup = _seconds_between(calls, "inviteDateTime", "startDateTime")

    def per_trunk(values: np.ndarray) -> list[np.ndarray]:
        usable = answered & ~np.isnan(values)
        return [values[usable & (group == i)] for i in range(trunks)]

    carried_per_trunk, concurrency = None, None
    if carried is not None:
        carried_group = _carried_groups(carried, keys)
        carried_per_trunk = np.bincount(carried_group[carried_group >= 0], minlength=trunks)
        concurrency = day_concurrency_of(calls, carried, keys, day, group)
    return DayFigures(
        outcomes.reshape(trunks, len(OUTCOMES)), per_trunk(talk), per_trunk(setup), carried_per_trunk, concurrency
    )


def _carried_groups(carried: pa.Table, keys: list[Any]) -> np.ndarray:
    """The trunk index of each carried-over call; -1 for a trunk without calls of its own that day (no row)."""
    return group_index(carried[TRUNK], keys)


def day_concurrency_of(
    calls: pa.Table, carried: pa.Table | None, keys: list[Any], day: date, group: np.ndarray | None = None
) -> DayConcurrency | None:
    """Minute counts per trunk (``keys``) of the day's calls and those carried over; None without the previous
    day. A carried-over call on a trunk without calls of its own that day counts nowhere (that trunk has no row)."""
    if carried is None:
        return None
    group = group_index(calls[TRUNK], keys) if group is None else group
    carried_group = _carried_groups(carried, keys)
    on_known_trunk = carried_group >= 0
    sessions = pa.concat_tables(
        [calls.select(CARRIED_COLUMNS), carried.filter(pa.array(on_known_trunk)).select(CARRIED_COLUMNS)]
    )
    return day_concurrency(sessions, np.concatenate([group, carried_group[on_known_trunk]]), len(keys), day)


def _figures_of(figures: DayFigures, i: int) -> dict[str, Any]:
    """Trunk ``i``'s schema-version-2 columns."""
    counts = figures.outcomes[i]
    outcome_index = np.arange(len(OUTCOMES))
    delivered_calls = int(counts[delivered(outcome_index)].sum())
    ner_calls = int(counts[judged(outcome_index)].sum())
    talk, (setup_p50, setup_p95) = figures.talk[i], _quantiles(figures.setup[i])
    row: dict[str, Any] = {
        "calls_by_outcome": [{"value": name, "calls": int(n)} for name, n in zip(OUTCOMES, counts, strict=True) if n],
        "delivered_calls": delivered_calls,
        "ner_calls": ner_calls,
        "ner": delivered_calls / ner_calls if ner_calls else None,
        "average_call_duration_s": float(talk.mean()) if len(talk) else None,
        "average_call_duration_calls": len(talk),
        "short_call_share": float((talk < SHORT_CALL_S).mean()) if len(talk) else None,
        "setup_delay_p50_s": setup_p50,
        "setup_delay_p95_s": setup_p95,
    }
    c = figures.concurrency
    if c is not None and figures.carried is not None:
        row |= {
            "calls_from_previous_day": int(figures.carried[i]),
            "peak_concurrent_calls": int(c.peak()[i]),
            "peak_concurrent_minute": c.peak_minute()[i],
            "peak_concurrent_inbound": int(c.inbound.max(axis=1)[i]),
            "peak_concurrent_outbound": int(c.outbound.max(axis=1)[i]),
            "p95_concurrent_calls": float(c.p95()[i]),
        }
    return row


def trunk_health_rows(calls: pa.Table, day: date, carried: pa.Table | None) -> pa.Table:
    """The trunk-health rows of one day's calls (a table with ``SOURCE_COLUMNS``), one per trunk, sorted by trunk.

    ``carried``: the previous day's calls still up after midnight (``CARRIED_COLUMNS``), or None when that day
    could not be read (the concurrency columns are then null).
    """
    keys = sorted_keys(calls[TRUNK])
    figures = day_figures(calls, carried, keys, day)
    successful_all = pc.fill_null(calls["successfulCall"], False)
    answered_all = pa.array(answered_mask(calls))
    rows: list[dict[str, Any]] = []
    for i, trunk in enumerate(keys):
        on_trunk = _equal_or_both_null(calls[TRUNK], trunk)
        n = _count_true(on_trunk)
        successful = pc.and_(on_trunk, successful_all)
        answered = _count_true(pc.and_(on_trunk, answered_all))
        bypass = _count_true(pc.and_(on_trunk, pc.fill_null(calls["mediaBypassEnabled"], False)))
        durations = calls["duration"].filter(successful).drop_null()
        p50, p95 = _quantiles(np.asarray(durations.to_numpy(), dtype=np.float64))
        rows.append(
            {
                TRUNK: trunk,
                "calls": n,
                "successful_calls": _count_true(successful),
                "success_rate": _count_true(successful) / n,
                "answered_calls": answered,
                "answer_seizure_ratio": answered / n,
                "top_final_sip_codes": _top_sip_codes(calls.filter(on_trunk)),
                "media_bypass_calls": bypass,
                "media_bypass_share": bypass / n,
                "duration_p50_s": p50,
                "duration_p95_s": p95,
                "calls_by_signaling_location": _counts(calls["signalingLocation"].filter(on_trunk)),
                "calls_by_media_location": _counts(calls["mediaPathLocation"].filter(on_trunk)),
                **_figures_of(figures, i),
            }
        )
    return pa.Table.from_pylist(rows, schema=TRUNK_HEALTH.schema)


def build_day(source: ReportSink, gold: GoldSink, day: date, *, run: dict[str, Any] | None = None) -> GoldManifest:
    """Compute the day's trunk health from the source day as stored (and the previous day's calls still up after
    midnight, when that day can be read) and replace the gold day; returns its manifest."""
    calls, carried, sources, missing = read_with_previous(source, day, SOURCE_COLUMNS, CARRIED_COLUMNS)
    return write_day(gold, day, trunk_health_rows(calls, day, carried), sources, run, missing)


def complete_successor(
    source: ReportSink, gold: GoldSink, day: date, build: Any = build_day, *, run: dict[str, Any] | None = None
) -> GoldManifest | None:
    """Recompute the gold day after ``day`` when it was computed without ``day``'s current file (a backfill that
    finished days out of order, or a day pulled again): its concurrency figures need ``day``'s calls still up after
    midnight. Returns its new manifest, or None when it needed nothing."""
    successor = day + timedelta(days=1)
    if not successor_is_stale(gold.read_manifest(successor), source, day):
        return None
    if source.read_manifest(successor) is None:
        return None  # its own source day is gone: its own DAG run says so
    return build(source, gold, successor, run=run)


def stored_days(
    lake: LakeRoot, table_format: str = "parquet", tenant: str | None = None
) -> dict[date, list[dict[str, Any]]]:
    """Every committed trunk-health day under a lake root (of ``tenant``), as rows (the report's trunk charts)."""
    gold = gold_sink(table_format, lake, TRUNK_HEALTH, tenant=tenant)
    days = {day: read_day(gold, day) for day in gold.committed_days()}
    return {day: rows.to_pylist() for day, rows in days.items() if rows is not None}
