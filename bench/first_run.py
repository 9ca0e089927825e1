"""First runs on days of different shapes: wall against the ideal, requests against one stream's.

    PYTHONPATH=plugins:include:dags .venv/bin/python bench/first_run.py      # full sizes, ~6 min
    PYTHONPATH=plugins:include:dags .venv/bin/python bench/first_run.py --smoke
    PYTHONPATH=plugins:include:dags .venv/bin/python bench/first_run.py --only flat-latency-first,flat-latency-steady

A first run (a new tenant: no earlier manifest) cannot plan its slices from the day before. Three days, each served
by a Graph emulator of its own whose day has that shape (``bench/shaped_emulator.py``): **flat** (calls around the
clock), **europe** (the emulator's own working day, busy 07:00-17:00 UTC) and **asia-pacific** (the same working day
in Tokyo's hours, busy 23:00-09:00 UTC). Each day is pulled by the real ``extract_day`` (``bench/run.py``'s child:
a real partition written, its rows checked) with 4 threads, on a latency-bound pull (1 s a page, no budget) and a
budget-bound one (0.5 s a page, 50 requests per 10 s, the client's limiter matched), planned three ways:

* ``first``: a first run as ``extract_day`` plans it today (no time zone: ``defaults.FIRST_RUN_HOURLY_PROFILE``);
* ``zone``: a first run planned in the tenant's time zone (``plan_slices(..., tz=...)``: Europe/Paris, Asia/Tokyo;
  a flat day has none); skipped, with a note, where ``plan_slices`` takes no ``tz`` (the code before it);
* ``steady``: slices from the previous day's hourly volume, as from its manifest (the reference);
* ``8even`` (``--alternatives``): 8 slices of equal length from the queue, a plan the product does not make
  (more slices than threads on a day of unknown size), to measure what it would cost and give.

Columns as in ``bench/run.py``: ``ideal s`` = max(pages x latency / 4, pages / budget rate) with pages = the
requests the emulator answered; ``reqs`` against one stream's (``ceil(rows / 1000)``). Timings never fail the run;
a pull that wrote the wrong rows makes it exit 1.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import time
from pathlib import Path

import run  # bench/run.py: the child process, the cases, the ideal

BENCH = Path(__file__).resolve().parent
CONCURRENCY = 4
EVEN = 8  # --alternatives: two rounds of equal-length slices, whatever the day's volume


def shapes() -> dict[str, tuple[tuple[float, ...], str | None]]:
    """Day name -> (weights per UTC hour, the time zone a tenant with that day declares)."""
    from graph_emulator.data import HOUR_WEIGHTS

    europe = tuple(float(w) for w in HOUR_WEIGHTS)  # 09:00-18:00 in Paris (UTC+1 in January)
    tokyo = tuple(europe[(hour + 8) % 24] for hour in range(24))  # the same local hours in Tokyo (UTC+9)
    return {"flat": ((1.0,) * 24, None), "europe": (europe, "Europe/Paris"), "asia-pacific": (tokyo, "Asia/Tokyo")}


def pulls(smoke: bool) -> dict[str, dict]:
    if smoke:
        return {
            "latency": dict(rows=6_000, latency_s=0.2, budget=None),
            "budget": dict(rows=12_000, latency_s=0.1, budget=(5, 1.0)),
        }
    return {
        "latency": dict(rows=30_000, latency_s=1.0, budget=None),
        "budget": dict(rows=100_000, latency_s=0.5, budget=(50, 10.0)),
    }


def build_cases(smoke: bool, takes_tz: bool, alternatives: bool) -> tuple[list[tuple[str, run.Case]], list[str]]:
    cases, notes = [], []
    for day, (_, zone) in shapes().items():
        for pull, settings in pulls(smoke).items():
            plans: list[tuple[str, dict]] = [("first", {"steady_state": False})]
            if zone and takes_tz:
                plans.append(("zone", {"steady_state": False, "time_zone": zone}))
            elif zone:
                notes.append(f"{day}-{pull}-zone skipped: this plan_slices takes no tz")
            plans.append(("steady", {"steady_state": True}))
            if alternatives:
                plans.append((f"{EVEN}even", {"steady_state": False, "even_slices": EVEN}))
            for plan, options in plans:
                key = f"{day}-{pull}-{plan}"
                label = f"{day}, {pull}-bound, {plan}" + (f" ({zone})" if plan == "zone" else "")
                case = run.Case(key, "first-run", label, "ours", concurrency=CONCURRENCY, **settings, **options)
                cases.append((day, case))
    return cases, notes


def start_emulator(weights: tuple[float, ...]):
    from graph_emulator.process import EmulatorProcess

    emulator = EmulatorProcess(
        budget=None,
        weekday_profile=False,
        page_size=run.PAGE_SIZE,
        env=os.environ | {"BENCH_HOUR_WEIGHTS": json.dumps(weights)},
    )
    emulator.argv[1:3] = [str(BENCH / "shaped_emulator.py")]  # instead of ``-m graph_emulator``
    return emulator.start()


def render(cases: list[run.Case]) -> str:
    header = ["day, pull, plan", "rows", "wall s", "ideal s", "actual/ideal", "reqs (one stream)", "429s", "rows ok"]
    rows = []
    for case in cases:
        r = case.result
        pages = r["server_requests"] - r["throttled_429"]
        ideal = run.ideal_network_s(pages, case.latency_s, case.concurrency, case.budget)
        one_stream = max(1, -(-case.rows // run.PAGE_SIZE))
        extra = r["server_requests"] - one_stream
        rows.append(
            [
                case.label,
                f"{case.rows:,}",
                f"{r['wall_s']:.2f}",
                f"{ideal:.1f}",
                f"{r['wall_s'] / ideal:.2f}",
                f"{r['server_requests']} ({one_stream}): {extra:+d}, {100 * extra / one_stream:+.1f} %",
                str(r["throttled_429"]),
                "yes" if r["verified"] else f"NO ({r['rows']}/{r['file_rows']})",
            ]
        )
    return run._table(header, rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes and latencies (seconds, not minutes)")
    parser.add_argument("--only", help="comma-separated case keys, e.g. flat-latency-first,europe-budget-zone")
    parser.add_argument(
        "--alternatives", action="store_true", help=f"also {EVEN} equal-length slices (not a product plan)"
    )
    args = parser.parse_args(argv)
    sys.path[:0] = [str(run.ROOT / "plugins"), str(run.ROOT / "include")]
    from call_logs.graph.parallel import plan_slices

    takes_tz = "tz" in inspect.signature(plan_slices).parameters
    cases, notes = build_cases(args.smoke, takes_tz, args.alternatives)
    if args.only:
        wanted = set(args.only.split(","))
        cases = [(day, case) for day, case in cases if case.key in wanted]
    load_start = os.getloadavg()[0]
    started = time.perf_counter()
    for day, (weights, _) in shapes().items():
        todo = [case for name, case in cases if name == day]
        if not todo:
            continue
        emulator = start_emulator(weights)
        try:
            for case in todo:
                t0 = time.perf_counter()
                run.run_case(emulator, case)
                print(
                    f"  ran {case.key}: {case.result['wall_s']:.2f} s, {case.result['server_requests']} requests, "
                    f"rows ok: {case.result['verified']} ({time.perf_counter() - t0:.1f} s with start-up)",
                    file=sys.stderr,
                    flush=True,
                )
        finally:
            emulator.stop()
    done = [case for _, case in cases]
    print(render(done))
    print(
        f"\nload average (1 min) at start / end: {load_start:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
        f"day {run.DAY}, {run.PAGE_SIZE} rows a page, {CONCURRENCY} threads; "
        f"{'SMOKE sizes' if args.smoke else 'full sizes'}; {time.perf_counter() - started:.0f} s in all."
    )
    for note in notes:
        print(note)
    for case in done:
        print(case.key, json.dumps(case.result))
    if not all(case.result["verified"] for case in done):
        print("ERROR: a pull produced wrong data (row count mismatch); see 'rows ok'.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
