"""First-run slice plans against day shapes they do not know, simulated: why a first run is one round of slices.

    PYTHONPATH=plugins:include:dags .venv/bin/python bench/slice_plans.py        # a few seconds, no emulator

A first run's volume is unknown, and the planner's request cap (``defaults.SLICING_EXTRA_REQUESTS``) allows more
slices than threads only on a day known to hold ``concurrency / 0.03`` pages. This prints, for each plan and day
shape, what ``bench/first_run.py`` measures against the emulator (wall ÷ ideal, requests against one stream's) from
a model instead: rows spread evenly within each hour of the shape, 1,000 rows a page, a slice's pages fetched one
after another, 4 threads taking slices biggest first from a queue, each request ``latency`` seconds, and for the
budget-bound pull a rolling budget counted from each answer (the client's limiter, its jitter guard included).
The model matches the measured first runs within a few percent (bench/README.md) and runs plans the product does
not have:

* ``first`` / ``zone`` / ``steady``: the real ``plan_slices`` (today's default working day; in the day's time
  zone; from the day's own hourly volume, as from a manifest);
* ``N even`` / ``N default``: N slices of equal length, or of equal share of the default working day (more
  slices than threads, from the queue);
* ``held back``: the round of 4 slices covers the first 80 % of the default working day, and the rest is cut
  when a thread frees up into as many pieces as the pages fetched so far prove the cap allows (the rest whole
  when they do not, so one slice more than a round at least): the way to cut finer as pages show the volume
  without fetching a started slice again.
"""

from __future__ import annotations

import argparse
import bisect
import inspect
import math
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PAGE = 1000
THREADS = 4
HOUR = 3600.0


class Day:
    """``rows`` calls over 24 UTC hours weighted by ``weights``; call i at the (i + 0.5) / rows quantile."""

    def __init__(self, rows: int, weights: Sequence[float]):
        self.rows = rows
        total = float(sum(weights))
        self.cdf = [0.0]
        for weight in weights:
            self.cdf.append(self.cdf[-1] + weight / total)

    def share_before(self, seconds: float) -> float:
        hour = min(int(seconds // HOUR), 23)
        return self.cdf[hour] + (self.cdf[hour + 1] - self.cdf[hour]) * (seconds / HOUR - hour)

    def count(self, start: float, end: float) -> int:
        below = (math.ceil(self.share_before(x) * self.rows - 0.5) for x in (start, end))
        lo, hi = below
        return max(0, hi - lo)


class Pull:
    """Threads paging slices from a queue; ``next_slice(pull)`` hands a free thread its next slice (or None)."""

    def __init__(self, day: Day, latency: float, budget: tuple[int, float] | None):
        self.day, self.latency = day, latency
        self.budget = None if budget is None else (budget[0], budget[1] + max(0.25, 0.02 * budget[1]))
        self.releases: list[float] = []  # when each taken slot stops counting (limiter: answer + window)
        self.requests = self.rows_seen = self.open = 0

    def _slot(self, now: float) -> float:
        if self.budget is None:
            return now
        held = sorted(t for t in self.releases if t > now)
        self.releases = held
        return now if len(held) < self.budget[0] else held[len(held) - self.budget[0]]

    def run(self, next_slice: Callable[[Pull], tuple[float, float] | None]) -> float:
        events: list[tuple[float, int, int]] = []  # (time a thread is free, sequence, rows left in its slice)
        sequence = 0
        for _ in range(THREADS):
            piece = next_slice(self)
            if piece is not None:
                self.open += 1
                bisect.insort(events, (0.0, sequence, self.day.count(*piece)))
                sequence += 1
        wall = 0.0
        while events:
            now, _, left = events.pop(0)
            sent = self._slot(now)
            answered = sent + self.latency
            if self.budget is not None:
                self.releases.append(answered + self.budget[1])
            self.requests += 1
            got = min(PAGE, left)
            self.rows_seen += got
            wall = max(wall, answered)
            if left > got:
                bisect.insort(events, (answered, sequence, left - got))
            else:
                self.open -= 1
                piece = next_slice(self)
                if piece is not None:
                    self.open += 1
                    bisect.insort(events, (answered, sequence, self.day.count(*piece)))
            sequence += 1
        return wall


def quantiles(weights: Sequence[float], count: int, start: float = 0.0, end: float = 24 * HOUR):
    """``count`` consecutive pieces of ``[start, end)`` (seconds of the day) of equal share under ``weights``."""
    shape = Day(1, weights)
    lo_share, hi_share = shape.share_before(start), shape.share_before(end)
    cuts = [start]
    for k in range(1, count):
        target, lo, hi = lo_share + (hi_share - lo_share) * k / count, start, end
        for _ in range(50):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if shape.share_before(mid) < target else (lo, mid)
        cuts.append(round(hi))
    cuts.append(end)
    return [(a, b) for a, b in zip(cuts, cuts[1:], strict=False) if b > a]


def from_queue(pieces: list[tuple[float, float]]):
    """Slices taken in the plan's own order (``plan_slices``: biggest first by the shape it assumed)."""
    queue = list(pieces)
    return lambda pull: queue.pop(0) if queue else None


def held_back(prior: Sequence[float], cap: float, first_share: float = 0.8):
    shape = Day(1, prior)
    lo, hi = 0.0, 24 * HOUR
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if shape.share_before(mid) < first_share else (lo, mid)
    round_one = quantiles(prior, THREADS, 0.0, round(hi))
    state = {"rest": (round(hi), 24 * HOUR), "slices": THREADS + 1}

    def take(pull: Pull):
        if round_one:
            return round_one.pop(0)
        if state["rest"] is None:
            return None
        proven_pages = math.ceil((pull.rows_seen + pull.open) / PAGE)
        allowed = max(THREADS + 1, 1 + int(cap * proven_pages))
        pieces = min(THREADS, 1 + max(0, allowed - state["slices"]))
        start, end = state["rest"]
        if pieces <= 1:
            state["rest"] = None
            return (start, end)
        first = quantiles(prior, pieces, start, end)[0]
        state["rest"] = (first[1], end)
        state["slices"] += 1
        return first

    return take


def real_plan(weights_of_day: Sequence[float], rows: int, **options):
    """The product's ``plan_slices`` for the day 2025-01-15, as (start, end) seconds."""
    from call_logs.graph.parallel import plan_slices
    from call_logs.graph.window import Window

    start = datetime(2025, 1, 15, tzinfo=UTC)
    window = Window(start, start + timedelta(days=1))
    day = Day(rows, weights_of_day)
    steady = options.pop("steady", False)
    profile = [day.count(h * HOUR, (h + 1) * HOUR) for h in range(24)] if steady else None
    slices = plan_slices(window, THREADS, profile, **options)
    return [((s.start - start).total_seconds(), (s.end - start).total_seconds()) for s in slices]


def shapes() -> dict[str, tuple[tuple[float, ...], str | None]]:
    from graph_emulator.data import HOUR_WEIGHTS  # the same three days as bench/first_run.py

    europe = tuple(float(w) for w in HOUR_WEIGHTS)
    return {
        "flat": ((1.0,) * 24, None),
        "europe": (europe, "Europe/Paris"),
        "asia-pacific": (tuple(europe[(h + 8) % 24] for h in range(24)), "Asia/Tokyo"),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="30000,100000,1000000", help="comma-separated day sizes")
    args = parser.parse_args(argv)
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "include")]
    from call_logs import defaults
    from call_logs.graph.parallel import plan_slices

    cap = defaults.SLICING_EXTRA_REQUESTS
    takes_tz = "tz" in inspect.signature(plan_slices).parameters  # not before plan_slices took a time zone
    pulls = {"latency-bound (1 s a page)": (1.0, None), "budget-bound (0.5 s, 50 / 10 s)": (0.5, (50, 10.0))}
    days = shapes()
    default = defaults.FIRST_RUN_HOURLY_PROFILE
    plans: dict[str, Callable] = {
        "first (today)": lambda w, z, n: from_queue(real_plan(w, n)),
        "zone (tz=)": lambda w, z, n: from_queue(real_plan(w, n, tz=z)) if z and takes_tz else None,
        "steady (manifest)": lambda w, z, n: from_queue(real_plan(w, n, steady=True)),
        "8 even": lambda w, z, n: from_queue(quantiles((1.0,) * 24, 8)),
        "8 default": lambda w, z, n: from_queue(quantiles(default, 8)),
        "12 even": lambda w, z, n: from_queue(quantiles((1.0,) * 24, 12)),
        "held back": lambda w, z, n: held_back(default, cap),
    }
    for rows in (int(n) for n in args.rows.split(",")):
        one_stream = max(1, math.ceil(rows / PAGE))
        for pull_name, (latency, budget) in pulls.items():
            print(f"\n{rows:,} rows ({one_stream} requests in one stream), {pull_name}: wall / ideal, extra requests")
            print(f"{'plan':<18}" + "".join(f"{name:>22}" for name in days))
            for plan_name, make in plans.items():
                cells = []
                for weights, zone in days.values():
                    take = make(weights, zone, rows)
                    if take is None:
                        cells.append(f"{'-':>22}")
                        continue
                    pull = Pull(Day(rows, weights), latency, budget)
                    wall = pull.run(take)
                    pages = pull.requests
                    ideal = max(pages * latency / THREADS, pages / (budget[0] / budget[1]) if budget else 0.0)
                    extra = pull.requests - one_stream
                    cells.append(f"{wall / ideal:>12.2f} {extra:+4d} ({100 * extra / one_stream:+.0f}%)")
                print(f"{plan_name:<18}" + "".join(f"{cell:>22}" for cell in cells))
    return 0


if __name__ == "__main__":
    sys.exit(main())
