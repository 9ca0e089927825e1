"""A first run (no earlier manifest) over a day that follows the working day: exact rows, few extra requests.

The emulator's weekday profile bunches calls in working hours (quiet nights); a first run plans its slices from
``defaults.FIRST_RUN_HOURLY_PROFILE`` instead of an earlier day's manifest, or from the working day of the tenant's
time zone (``plan_slices(..., tz=...)``): right or wrong, that only moves where slices are cut, never which rows come.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import fsspec
from call_logs.extract import extract_day, nearby_profile
from call_logs.graph.client import PullStats
from call_logs.graph.parallel import iter_pages_concurrently, plan_slices
from call_logs.graph.throttle import RateLimiter
from call_logs.graph.window import Window
from call_logs.reports.direct_routing import DIRECT_ROUTING
from graph_emulator import Fault

from tests.helpers import emulator_client
from tests.sinks import report_sink

DAY = date(2026, 3, 4)  # a Wednesday: the full working-day profile


def test_first_run_slices_write_the_same_file_as_one_stream(emulator, tmp_path):
    emu = emulator(
        rows_per_day=20_000,
        seed=41,
        faults=[Fault("duplicate_rows", on_request=4, rows=30), Fault("reset", on_request=9)],
    )
    fs = fsspec.filesystem("file")
    one_stream, sliced = (report_sink(str(tmp_path / name), DIRECT_ROUTING, fs=fs) for name in "ab")
    sequential = extract_day(emulator_client(emu), one_stream, DAY, concurrency=1)
    assert nearby_profile(sliced, DAY) is None  # no day nearby: a first run
    first_run = extract_day(emulator_client(emu), sliced, DAY, concurrency=4)
    assert first_run.graph["pages"] > sequential.graph["pages"]  # really sliced
    assert first_run.file.sha256 == sequential.file.sha256
    assert first_run.rows == sequential.rows == 20_000


def test_first_run_on_a_budget_bound_day_costs_at_most_3_percent_more_requests(emulator, tmp_path):
    emu = emulator(rows_per_day=100_000, seed=42, latency_s=0.01, budget_requests=40, budget_window_s=1.0)
    fs = fsspec.filesystem("file")

    def pull(name: str, concurrency: int) -> tuple[int, str]:
        emu.reset_stats()
        sink = report_sink(str(tmp_path / name), DIRECT_ROUTING, fs=fs)
        client = emulator_client(emu, limiter=RateLimiter(40, 1.0))
        manifest = extract_day(client, sink, DAY, concurrency=concurrency)
        stats = emu.stats()
        assert stats["throttled"] == 0 and manifest.rows == 100_000
        return stats["data_requests"], manifest.file.sha256

    single, single_sha = pull("one", 1)
    sliced, sliced_sha = pull("first-run", 4)
    assert sliced_sha == single_sha
    assert single == 100 and sliced <= single * 1.03, (single, sliced)


def day_count(emu, day: date) -> int:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return emu.expected_count(start, start + timedelta(days=1))


def test_a_day_after_a_gap_plans_from_the_nearest_earlier_manifest(emulator, tmp_path):
    emu = emulator(rows_per_day=3_000, seed=43)
    sink = report_sink(str(tmp_path / "lake"), DIRECT_ROUTING)
    earlier = DAY.replace(day=1)
    extract_day(emulator_client(emu), sink, earlier, concurrency=2)
    profile = nearby_profile(sink, DAY)
    assert profile is not None and sum(profile) == day_count(emu, earlier)
    assert nearby_profile(sink, DAY.replace(day=20)) is None  # beyond the look-back: a first run


def test_a_backwards_backfill_plans_from_the_later_day_and_the_earlier_day_wins_a_tie(emulator, tmp_path):
    emu = emulator(rows_per_day=3_000, seed=44)
    sink = report_sink(str(tmp_path / "lake"), DIRECT_ROUTING)
    later, earlier = DAY + timedelta(days=2), DAY - timedelta(days=2)
    later_hours = extract_day(emulator_client(emu), sink, later, concurrency=2).source.rows_per_hour
    assert nearby_profile(sink, DAY) == list(later_hours)  # newest first, as --run-backwards pulls
    earlier_hours = extract_day(emulator_client(emu), sink, earlier, concurrency=2).source.rows_per_hour
    assert list(earlier_hours) != list(later_hours)
    assert nearby_profile(sink, DAY) == list(earlier_hours)


def _rows(pages) -> set[bytes]:
    return {bytes(row) for page in pages for row in page.value}


def test_a_first_run_planned_in_the_wrong_time_zone_pulls_the_same_rows_as_one_stream(emulator):
    emu = emulator(rows_per_day=20_000, seed=45, faults=[Fault("duplicate_rows", on_request=3, rows=30)])
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    window = Window(start, start + timedelta(days=1))
    one_stream = _rows(emulator_client(emu).iter_pages(window, PullStats()))
    emu.reset_stats()
    slices = plan_slices(window, 4, None, tz="Asia/Tokyo")  # the emulator's day is European: a wrong plan
    assert len(slices) == 4
    sliced = _rows(iter_pages_concurrently(emulator_client(emu), slices, PullStats(), concurrency=4))
    assert sliced == one_stream and len(sliced) == day_count(emu, DAY) == 20_000
    assert emu.stats()["data_requests"] <= 20 + 3  # one round of slices: at most 3 partly filled pages more


def test_a_first_run_in_its_time_zone_on_a_budget_bound_day_costs_at_most_3_percent_more_requests(emulator):
    emu = emulator(rows_per_day=100_000, seed=46, latency_s=0.01, budget_requests=40, budget_window_s=1.0)
    start = datetime(DAY.year, DAY.month, DAY.day, tzinfo=UTC)
    window = Window(start, start + timedelta(days=1))
    client = emulator_client(emu, limiter=RateLimiter(40, 1.0))
    slices = plan_slices(window, 4, None, tz="Europe/Berlin")
    rows = sum(len(page) for page in iter_pages_concurrently(client, slices, PullStats(), concurrency=4))
    stats = emu.stats()
    assert rows == 100_000 and stats["throttled"] == 0
    assert stats["data_requests"] <= 100 * 1.03, stats["data_requests"]
