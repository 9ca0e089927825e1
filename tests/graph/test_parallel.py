"""Time-sliced concurrent paging writes the same partition as one sequential stream."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import fsspec
import pytest
from call_logs.extract import extract_day
from call_logs.graph.client import PullStats
from call_logs.graph.parallel import iter_pages_concurrently, plan_slices
from call_logs.graph.throttle import RateLimiter
from call_logs.graph.window import Window
from call_logs.reports.direct_routing import DIRECT_ROUTING
from graph_emulator import Fault

from tests.helpers import emulator_client
from tests.sinks import report_sink

DAY = date(2026, 3, 4)


def test_concurrent_and_sequential_pulls_write_identical_partitions(emulator, tmp_path):
    emu = emulator(
        rows_per_day=12_000,
        seed=31,
        weekday_profile=False,
        faults=[Fault("duplicate_rows", on_request=5, rows=20), Fault("reset", on_request=7)],
    )
    fs = fsspec.filesystem("file")
    one_stream, sliced = (report_sink(str(tmp_path / name), DIRECT_ROUTING, fs=fs) for name in "ab")
    sequential = extract_day(emulator_client(emu), one_stream, DAY, concurrency=1)
    extract_day(emulator_client(emu), sliced, DAY - timedelta(days=1), concurrency=4)  # its manifest plans the slices
    emu.reset_stats()
    concurrent = extract_day(emulator_client(emu), sliced, DAY, concurrency=4)
    assert concurrent.graph["pages"] > sequential.graph["pages"]  # really sliced
    assert concurrent.file.sha256 == sequential.file.sha256
    assert concurrent.rows == sequential.rows == 12_000


def test_a_failing_slice_stops_the_pull_and_raises(emulator):
    emu = emulator(rows_per_day=6000, seed=32, weekday_profile=False, faults=[Fault("unavailable", rate=1.0)])
    from call_logs.graph.errors import GraphUnavailableError
    from call_logs.graph.throttle import RetryPolicy

    client = emulator_client(emu, retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01, backoff_cap_s=0.01))
    start = datetime(2026, 3, 4, tzinfo=UTC)
    pages = iter_pages_concurrently(
        client, Window(start, start + timedelta(days=1)).split(timedelta(hours=2)), PullStats(), concurrency=3
    )
    with pytest.raises(GraphUnavailableError):
        list(pages)


def test_concurrent_paging_stays_within_one_shared_budget(emulator):
    emu = emulator(
        rows_per_day=40_000, seed=33, weekday_profile=False, latency_s=0.05, budget_requests=12, budget_window_s=1.0
    )
    client = emulator_client(emu, limiter=RateLimiter(12, 1.0))
    start = datetime(2026, 3, 4, tzinfo=UTC)
    stats = PullStats()
    rows = sum(
        len(p)
        for p in iter_pages_concurrently(
            client, Window(start, start + timedelta(days=1)).split(timedelta(hours=3)), stats, concurrency=4
        )
    )
    assert rows == 40_000
    assert emu.stats()["throttled"] == 0 and emu.max_requests_in_any(1.0) <= 12


WINDOW = Window(datetime(2026, 3, 4, tzinfo=UTC), datetime(2026, 3, 5, tzinfo=UTC))
BUSINESS_DAY = [50] * 7 + [900, 2500, 3000, 3000, 2800, 2600, 3000, 3000, 2800, 2500, 900] + [50] * 6  # 33,300


def test_slices_hold_similar_row_counts_and_cover_the_day_biggest_first():
    slices = plan_slices(WINDOW, 4, BUSINESS_DAY)
    assert sorted((s.start, s.end) for s in slices)[0][0] == WINDOW.start
    bounds = sorted((s.start, s.end) for s in slices)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False)) and bounds[-1][1] == WINDOW.end
    loads = [_load(s) for s in slices]
    assert len(slices) >= 4 and loads == sorted(loads, reverse=True)
    assert max(loads) <= 2 * (sum(BUSINESS_DAY) / len(slices))  # equal-length slices would put 70% in one


def test_a_small_day_is_one_slice_and_a_short_unknown_window_is_cut_evenly():
    assert plan_slices(WINDOW, 4, [40] * 24) == [WINDOW]
    assert plan_slices(WINDOW, 1, BUSINESS_DAY) == [WINDOW]
    assert len(plan_slices(WINDOW, 4, [100] * 24)) == 2  # 3 pages: at least 2 pages a slice
    six_hours = Window(WINDOW.start, WINDOW.start + timedelta(hours=6))
    assert sorted(plan_slices(six_hours, 3, None), key=lambda s: s.start) == six_hours.split(timedelta(hours=2))


def _load(piece: Window) -> float:
    """BUSINESS_DAY's rows in ``piece``, spread evenly within each hour."""
    hour = timedelta(hours=1)
    starts = [h.start for h in WINDOW.split(hour)]
    overlaps = (max(timedelta(0), min(piece.end, t + hour) - max(piece.start, t)) / hour for t in starts)
    return sum(n * part for n, part in zip(BUSINESS_DAY, overlaps, strict=True))


def _covers(slices: list[Window], window: Window) -> bool:
    bounds = sorted((s.start, s.end) for s in slices)
    joined = all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    return joined and bounds[0][0] == window.start and bounds[-1][1] == window.end


def test_slices_are_cut_inside_hours_so_each_holds_an_equal_share():
    slices = plan_slices(WINDOW, 4, BUSINESS_DAY)
    assert len(slices) == 4 and _covers(slices, WINDOW)
    assert all(abs(_load(s) - sum(BUSINESS_DAY) / 4) < 5 for s in slices)


def test_more_slices_only_while_their_partly_filled_pages_stay_within_3_percent():
    def scaled(rows: int) -> list[int]:
        return [round(rows * n / sum(BUSINESS_DAY)) for n in BUSINESS_DAY]

    assert len(plan_slices(WINDOW, 4, scaled(100_000))) == 4  # 3 extra requests of 100
    big = plan_slices(WINDOW, 4, scaled(1_000_000))
    assert len(big) == 28 and _covers(big, WINDOW)  # 27 extra requests of 1,000


def test_a_first_run_assumes_a_working_day_in_concurrency_slices():
    slices = plan_slices(WINDOW, 4, None)
    assert len(slices) == 4 and _covers(slices, WINDOW)
    by_start = sorted(slices, key=lambda s: s.start)
    assert by_start[0].end - by_start[0].start > timedelta(hours=6)  # the quiet night is one slice
    assert by_start[1].end - by_start[1].start < timedelta(hours=4)  # the busy morning is cut short
