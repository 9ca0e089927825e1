"""Time-sliced concurrent paging writes the same partition as one sequential stream."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import fsspec
import pytest
from call_logs import defaults
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


def _local_share(piece: Window, window: Window, zone: str) -> float:
    """``piece``'s share of ``window`` under the local working day of ``zone``, minute by minute."""
    local = ZoneInfo(zone)
    minutes = int((window.end - window.start) / timedelta(minutes=1))
    weights = [
        defaults.FIRST_RUN_LOCAL_PROFILE[(window.start + timedelta(minutes=m)).astimezone(local).hour]
        for m in range(minutes)
    ]
    first = int((piece.start - window.start) / timedelta(minutes=1))
    last = int((piece.end - window.start) / timedelta(minutes=1))
    return sum(weights[first:last]) / sum(weights)


def test_todays_default_is_the_local_working_day_of_central_european_winter_time():
    local, utc = defaults.FIRST_RUN_LOCAL_PROFILE, defaults.FIRST_RUN_HOURLY_PROFILE
    assert local[1:] + local[:1] == utc  # the same day, read one hour later
    assert plan_slices(WINDOW, 4, None, tz="Europe/Paris") == plan_slices(WINDOW, 4, None)  # 4 March: UTC+1


@pytest.mark.parametrize(
    "zone",
    [
        "Asia/Tokyo",
        "America/Los_Angeles",
        "America/Sao_Paulo",
        "Asia/Kolkata",  # +05:30
        "Asia/Kathmandu",  # +05:45
        "Australia/Sydney",  # summer time in March
        "Pacific/Kiritimati",  # +14
        "Pacific/Pago_Pago",  # -11
    ],
)
def test_a_first_run_in_a_time_zone_is_balanced_over_its_local_working_day(zone):
    slices = plan_slices(WINDOW, 4, None, tz=zone)
    assert len(slices) == 4 and _covers(slices, WINDOW)
    shares = [_local_share(piece, WINDOW, zone) for piece in slices]
    assert all(abs(share - 0.25) < 0.005 for share in shares), shares


def test_an_asia_pacific_first_run_leaves_its_quiet_night_to_one_slice():
    by_start = sorted(plan_slices(WINDOW, 4, None, tz="Asia/Tokyo"), key=lambda s: s.start)
    night = by_start[-1]  # Tokyo's night, 18:00-08:00 local, is 09:00-23:00 UTC
    assert night.start <= WINDOW.start + timedelta(hours=10) and night.end - night.start > timedelta(hours=12)
    default = sorted(plan_slices(WINDOW, 4, None), key=lambda s: s.start)
    assert _local_share(default[0], WINDOW, "Asia/Tokyo") > 0.6  # today's default: one thread gets most of it


def test_a_first_run_follows_daylight_saving_time():
    summer = Window(datetime(2026, 7, 15, tzinfo=UTC), datetime(2026, 7, 16, tzinfo=UTC))
    change = Window(datetime(2026, 3, 29, tzinfo=UTC), datetime(2026, 3, 30, tzinfo=UTC))  # clocks go forward at 01:00
    for window in (summer, change):
        slices = plan_slices(window, 4, None, tz="Europe/Paris")
        assert _covers(slices, window)
        assert all(abs(_local_share(piece, window, "Europe/Paris") - 0.25) < 0.005 for piece in slices)
    first_cut = min(s.end for s in plan_slices(summer, 4, None, tz="Europe/Paris")) - summer.start
    assert first_cut < min(s.end for s in plan_slices(WINDOW, 4, None, tz="Europe/Paris")) - WINDOW.start  # UTC+2


def test_a_time_zone_may_be_a_fixed_utc_offset():
    nine_hours = plan_slices(WINDOW, 4, None, tz=timezone(timedelta(hours=9)))
    assert nine_hours == plan_slices(WINDOW, 4, None, tz="Asia/Tokyo")
    half_hour = plan_slices(WINDOW, 4, None, tz=timezone(timedelta(hours=5, minutes=30)))
    assert half_hour == plan_slices(WINDOW, 4, None, tz="Asia/Kolkata")


def test_a_time_zone_shapes_any_window_not_only_a_whole_day():
    morning = Window(WINDOW.start + timedelta(hours=6), WINDOW.start + timedelta(hours=12))  # 06:00-12:00 in London
    slices = sorted(plan_slices(morning, 3, None, tz="Europe/London"), key=lambda s: s.start)
    assert _covers(slices, morning)
    assert slices[0].end - slices[0].start > timedelta(hours=3)  # the quiet early morning is one long slice
    assert all(abs(_local_share(piece, morning, "Europe/London") - 1 / 3) < 0.005 for piece in slices)
    odd = Window(WINDOW.start + timedelta(minutes=20), WINDOW.start + timedelta(hours=30, minutes=10))  # 29 h 50 min
    assert _covers(plan_slices(odd, 4, None, tz="America/New_York"), odd)


def test_a_time_zone_leaves_a_manifest_profile_and_the_request_cap_alone():
    assert plan_slices(WINDOW, 4, BUSINESS_DAY, tz="Asia/Tokyo") == plan_slices(WINDOW, 4, BUSINESS_DAY)
    for concurrency in range(1, 9):  # a first run is one round: at most concurrency - 1 extra requests
        assert len(plan_slices(WINDOW, concurrency, None, tz="Australia/Sydney")) == concurrency


def test_a_name_that_is_no_time_zone_plans_the_default_day_and_says_so(caplog):
    with caplog.at_level(logging.WARNING, logger="call_logs.graph.parallel"):
        assert plan_slices(WINDOW, 4, None, tz="Mars/Olympus_Mons") == plan_slices(WINDOW, 4, None)
    assert "'Mars/Olympus_Mons' is not an IANA time zone" in caplog.text
