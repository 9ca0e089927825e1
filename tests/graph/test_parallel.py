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
from call_logs.sinks.parquet_partitions import ParquetPartitionSink
from graph_emulator import Fault

from tests.conftest import emulator_client

DAY = date(2026, 3, 4)


def test_concurrent_and_sequential_pulls_write_identical_partitions(emulator, tmp_path):
    emu = emulator(
        rows_per_day=12_000,
        seed=31,
        weekday_profile=False,
        faults=[Fault("duplicate_rows", on_request=5, rows=20), Fault("reset", on_request=7)],
    )
    fs = fsspec.filesystem("file")
    one_stream, sliced = (ParquetPartitionSink(fs, str(tmp_path / name), DIRECT_ROUTING) for name in "ab")
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
BUSINESS_DAY = [50] * 7 + [900, 2500, 3000, 3000, 2800, 2600, 3000, 3000, 2800, 2500, 900] + [50] * 6  # 30,350


def test_slices_hold_similar_row_counts_and_cover_the_day_biggest_first():
    slices = plan_slices(WINDOW, 4, BUSINESS_DAY)
    assert sorted((s.start, s.end) for s in slices)[0][0] == WINDOW.start
    bounds = sorted((s.start, s.end) for s in slices)
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False)) and bounds[-1][1] == WINDOW.end
    hourly = dict(zip([h.start for h in WINDOW.split(timedelta(hours=1))], BUSINESS_DAY, strict=True))
    loads = [sum(n for t, n in hourly.items() if s.start <= t < s.end) for s in slices]
    assert len(slices) >= 4 and loads == sorted(loads, reverse=True)
    assert max(loads) <= 2 * (sum(BUSINESS_DAY) / len(slices))  # equal-length slices would put 70% in one


def test_a_small_day_is_one_slice_and_an_unknown_day_is_cut_evenly():
    assert plan_slices(WINDOW, 4, [100] * 24) == [WINDOW]
    assert plan_slices(WINDOW, 1, BUSINESS_DAY) == [WINDOW]
    assert plan_slices(WINDOW, 4, None) == WINDOW.split(timedelta(hours=6))
