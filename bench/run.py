"""Performance table for one day's pull: CPU path, network path, and a hand-written baseline.
from tests.sinks import report_sink

Run ``make bench`` (full sizes) or ``make bench-smoke`` (``--smoke``: tiny sizes, a few seconds).

Every figure comes from this run on this machine:

* The Graph emulator runs in its OWN process (``graph_emulator.process``), so its CPU is not counted;
  it is reconfigured between cases through its admin endpoint (``/_emulator/config``).
* Every pull runs in its OWN child process (this file with ``--child``), so its CPU (``getrusage``) and peak
  RSS (``ru_maxrss``) belong to that pull alone. CPU is counted from just before the pull to just after it
  (imports excluded); peak RSS is the child's whole life (imports included, as a task would see it).
* Our pull is the real ``extract_day`` writing a real partition to a temporary local lake; its manifest and
  the Parquet file are checked to hold exactly the day's N rows (``weekday_profile`` off). A wrong row count
  makes this script exit non-zero. Timings never do: PASS/MISS is printed, the exit status stays 0.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from graph_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2025, 1, 15)  # a Wednesday; with weekday_profile off every day holds exactly rows_per_day rows
PAGE_SIZE = 1000
LOAD_AT_START = 0.0
DEFAULT_CONCURRENCY = 4  # the product's default (call_logs/defaults.py); checked against it at start-up
CPU_TARGET = 200_000  # rows per client CPU-second of a one-day pull


# =====================================================================================================
# child side: one pull in its own process, results as one JSON line on stdout
# =====================================================================================================
def _usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0  # (CPU s, peak RSS MiB on Linux)


def _child_ours(spec: dict) -> dict:
    import fsspec
    import pyarrow.parquet as pq
    from call_logs.extract import extract_day
    from call_logs.graph.settings import GraphSettings
    from call_logs.lake.layout import DATA_FILE
    from call_logs.lake.root import LakeRoot
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.sinks import open_report

    conn = spec["connection"]  # built by the parent: this process imports only what a task would
    settings = GraphSettings.from_connection(
        login=conn["login"], password=conn["password"], host=conn["host"], extras=conn["extra"]
    )
    client = settings.build_client(DIRECT_ROUTING.function_path)
    fs = fsspec.filesystem("file")
    lake = spec["workdir"]
    day = date.fromisoformat(spec["day"])
    # The token (azure-identity/MSAL, ~0.3 s CPU once per task) is fetched before the measured span and
    # reported on its own: the table measures the pull's throughput.
    tok_cpu0, _ = _usage()
    tok_t0 = time.perf_counter()
    client.tokens.token()
    token_wall, token_cpu = time.perf_counter() - tok_t0, _usage()[0] - tok_cpu0
    # As the operator does: slice by the previous day's hourly volume (its manifest's rows_per_hour); here the
    # emulator's ground truth for that day (asked by the parent) stands in for the manifest. None = a first run.
    rows_per_hour = spec["rows_per_hour"]
    if spec.get("time_zone"):
        use_time_zone(spec["time_zone"])
    if spec.get("even_slices"):
        use_even_slices(spec["even_slices"])
    profiler = None
    if spec.get("profile"):
        import cProfile

        profiler = cProfile.Profile(time.process_time)  # CPU time: waiting on the socket is not a hotspot
    cpu0, _ = _usage()
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    sink = open_report("parquet", LakeRoot(lake, fs, lake), DIRECT_ROUTING)
    manifest = extract_day(
        client, sink, day, concurrency=spec["concurrency"], expected_rows_per_hour=rows_per_hour
    ).to_dict()
    if profiler:
        profiler.disable()
    wall = time.perf_counter() - t0
    cpu1, rss = _usage()
    if profiler:
        profiler.dump_stats(spec["profile"])
    data_file = f"{sink.location(day)}/{DATA_FILE}"
    meta = pq.read_metadata(data_file)
    return {
        "wall_s": wall,
        "cpu_s": cpu1 - cpu0,
        "rss_mb": rss,
        "rows": manifest["rows"],
        "file_rows": meta.num_rows,
        "requests": manifest["graph"]["requests"],
        "pages": manifest["graph"]["pages"],
        "client_throttled": manifest["graph"]["throttled"],
        "throttle_wait_s": manifest["graph"]["throttle_wait_s"],
        "token_wall_s": token_wall,
        "token_cpu_s": token_cpu,
    }


def use_time_zone(time_zone: str) -> None:
    """Plan this process's first runs in ``time_zone``'s working day, as a caller that knows the tenant's zone does
    (``plan_slices(window, concurrency, rows_per_hour, tz=tenant.time_zone)``); ``extract_day`` does not pass one."""
    import functools

    import call_logs.extract
    from call_logs.graph.parallel import plan_slices

    call_logs.extract.plan_slices = functools.partial(plan_slices, tz=time_zone)  # type: ignore[assignment]


def use_even_slices(count: int) -> None:
    """Cut this process's pulls into ``count`` slices of equal length, taken in time order: a plan the product does
    not make (more slices than threads whatever the day's volume), measured to compare with it."""
    import call_logs.extract

    def even(window, concurrency, rows_per_hour=None, **options):
        return window.split((window.end - window.start) / count)

    call_logs.extract.plan_slices = even  # type: ignore[assignment]


def _child_floor(spec: dict) -> dict:
    """A floor of our pull: the same client, slices and threads, pages fetched and dropped (``fetch``) or fetched
    and parsed by ``pyarrow.json`` only (``parse``: the fast path's parsing step, no conversion, spill or write)."""
    from call_logs.graph.client import PullStats
    from call_logs.graph.parallel import iter_pages_concurrently, plan_slices
    from call_logs.graph.settings import GraphSettings
    from call_logs.graph.window import Window
    from call_logs.lake.fast_decode import read_rows
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.utc import day_window

    conn = spec["connection"]
    settings = GraphSettings.from_connection(
        login=conn["login"], password=conn["password"], host=conn["host"], extras=conn["extra"]
    )
    client = settings.build_client(DIRECT_ROUTING.function_path)
    tok_cpu0, _ = _usage()
    tok_t0 = time.perf_counter()
    client.tokens.token()
    token_wall, token_cpu = time.perf_counter() - tok_t0, _usage()[0] - tok_cpu0
    parse = spec["kind"] == "parse"
    cpu0, _ = _usage()
    t0 = time.perf_counter()
    stats = PullStats()
    window = Window(*day_window(date.fromisoformat(spec["day"])))
    tz = {"tz": spec["time_zone"]} if spec.get("time_zone") else {}
    slices = plan_slices(window, spec["concurrency"], spec["rows_per_hour"], **tz)  # as extract_day plans them
    rows = parsed = 0
    for page in iter_pages_concurrently(client, slices, stats, concurrency=spec["concurrency"]):
        rows += len(page)
        if parse and len(page):
            parsed += read_rows(page.value, DIRECT_ROUTING).num_rows
    wall = time.perf_counter() - t0
    cpu1, rss = _usage()
    return {
        "wall_s": wall,
        "cpu_s": cpu1 - cpu0,
        "rss_mb": rss,
        "rows": rows,
        "file_rows": parsed if parse else rows,  # nothing is written: the rows parsed (parse) or fetched (fetch)
        "requests": stats.requests,
        "pages": stats.pages,
        "client_throttled": stats.throttled,
        "throttle_wait_s": stats.throttle_wait_s,
        "token_wall_s": token_wall,
        "token_cpu_s": token_cpu,
    }


def _child_baseline(spec: dict) -> dict:
    """What a user writes by hand: sequential requests paging into a list, pandas, to_parquet at the end."""
    import pandas as pd
    import pyarrow.parquet as pq
    import requests

    info = spec["info"]
    ca = info["ca_path"]
    path = os.path.join(spec["workdir"], "baseline.parquet")
    tok_cpu0, _ = _usage()
    tok_t0 = time.perf_counter()
    session = requests.Session()
    token = session.post(
        f"{info['authority']}/{info['tenant_id']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": info["client_id"],
            "client_secret": info["client_secret"],
            "scope": f"{info['graph_root']}/.default",
        },
        verify=ca,
        timeout=30,
    ).json()["access_token"]
    token_wall, token_cpu = time.perf_counter() - tok_t0, _usage()[0] - tok_cpu0
    cpu0, _ = _usage()
    t0 = time.perf_counter()
    day = date.fromisoformat(spec["day"])
    url = (
        f"{info['graph_root']}/v1.0/communications/callRecords/getDirectRoutingCalls"
        f"(fromDateTime={day.isoformat()}T00:00:00Z,toDateTime={date.fromordinal(day.toordinal() + 1)}T00:00:00Z)"
    )
    rows: list[dict] = []
    requests_sent = 0
    while url:
        response = session.get(url, headers={"Authorization": f"Bearer {token}"}, verify=ca, timeout=120)
        requests_sent += 1
        response.raise_for_status()
        body = response.json()
        rows.extend(body["value"])
        url = body.get("@odata.nextLink")
    frame = pd.DataFrame(rows)
    frame.to_parquet(path)
    wall = time.perf_counter() - t0
    cpu1, rss = _usage()
    file_rows = pq.read_metadata(path).num_rows
    return {
        "wall_s": wall,
        "cpu_s": cpu1 - cpu0,
        "rss_mb": rss,
        "rows": len(frame),
        "file_rows": file_rows,
        "requests": requests_sent,
        "pages": requests_sent,
        "client_throttled": 0,
        "throttle_wait_s": 0.0,
        "token_wall_s": token_wall,
        "token_cpu_s": token_cpu,
    }


def child_main(spec_json: str) -> int:
    spec = json.loads(spec_json)
    child = {"ours": _child_ours, "fetch": _child_floor, "parse": _child_floor}.get(spec["kind"], _child_baseline)
    result = child(spec)
    print("BENCH-RESULT " + json.dumps(result), flush=True)
    return 0


# =====================================================================================================
# parent side: the emulator process, the cases, the table
# =====================================================================================================
@dataclass
class Case:
    key: str
    section: str
    label: str
    kind: str  # "ours" | "baseline" | "fetch" | "parse" (the floors: our pull without conversion, spill, write)
    rows: int
    concurrency: int = DEFAULT_CONCURRENCY
    latency_s: float = 0.0
    budget: tuple[int, float] | None = None  # emulator budget (requests, window s); client limiter matched
    steady_state: bool = True  # slices planned from the previous day's hourly volume; False = a first run
    time_zone: str | None = None  # a first run planned in this zone's working day (plan_slices(tz=...))
    even_slices: int | None = None  # instead of plan_slices: this many slices of equal length (bench/first_run.py)
    result: dict = field(default_factory=dict)


UNLIMITED_CLIENT = (1_000_000, 1.0)  # no emulator budget: take the client limiter out of the way too


def previous_day_profile(emulator: EmulatorProcess, day: date) -> list[int]:
    """Rows per hour of the day before ``day``, from the emulator's ground truth (what a manifest records)."""
    start = datetime.combine(day - timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    return [emulator.count(start + timedelta(hours=h), start + timedelta(hours=h + 1)) for h in range(24)]


def emulator_cpu_s(emulator: EmulatorProcess) -> float:
    import psutil

    times = psutil.Process(emulator.pid).cpu_times()
    return times.user + times.system


def run_case(emulator: EmulatorProcess, case: Case, profile: str | None = None) -> dict:
    from graph_emulator.connection import msgraph_connection

    budget_requests, budget_window = case.budget if case.budget else (None, 60.0)
    emulator.configure(
        rows_per_day=case.rows,
        latency_s=case.latency_s,
        budget_requests=budget_requests,
        budget_window_s=budget_window,
        page_size=PAGE_SIZE,
        faults=[],
    )
    emulator.reset_stats()
    client_requests, client_window = case.budget or UNLIMITED_CLIENT
    workdir = tempfile.mkdtemp(prefix="bench-lake-")
    spec = {
        "kind": case.kind,
        "info": emulator.info,
        "connection": msgraph_connection(
            emulator, requests_per_minute=client_requests, rate_limit_window_s=client_window
        ),
        "day": DAY.isoformat(),
        "workdir": workdir,
        "concurrency": case.concurrency,
        "rows_per_hour": previous_day_profile(emulator, DAY) if case.steady_state else None,
        "time_zone": case.time_zone,
        "even_slices": case.even_slices,
        "profile": profile,
    }
    server_cpu0 = emulator_cpu_s(emulator)
    try:
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--child", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=1800,
            env=os.environ | {"PYTHONPATH": _pythonpath()},
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    server_cpu = emulator_cpu_s(emulator) - server_cpu0
    line = next((ln for ln in child.stdout.splitlines() if ln.startswith("BENCH-RESULT ")), None)
    if child.returncode != 0 or line is None:
        raise RuntimeError(f"pull {case.key} failed (exit {child.returncode}):\n{child.stderr[-4000:]}")
    result = json.loads(line.removeprefix("BENCH-RESULT "))
    stats = emulator.stats()
    result["server_requests"] = stats["data_requests"]
    result["throttled_429"] = stats["throttled"]
    result["server_cpu_s"] = server_cpu
    result["verified"] = result["rows"] == case.rows and result["file_rows"] == case.rows
    case.result = result
    return result


def _pythonpath() -> str:
    parts = [str(ROOT / "plugins"), str(ROOT / "include"), str(ROOT / "dags")]
    if os.environ.get("PYTHONPATH"):
        parts.append(os.environ["PYTHONPATH"])
    return os.pathsep.join(parts)


def ideal_network_s(pages: int, latency_s: float, concurrency: int, budget: tuple[int, float] | None) -> float:
    """The brief's ideal: max(pages x latency / concurrency, pages / budget rate)."""
    latency_bound = pages * latency_s / concurrency
    budget_bound = pages / (budget[0] / budget[1]) if budget else 0.0
    return max(latency_bound, budget_bound)


def rolling_floor_s(pages: int, latency_s: float, concurrency: int, budget: tuple[int, float] | None) -> float:
    """A strict lower bound under a rolling budget: request k cannot leave before floor(k / B) x W."""
    budget_floor = (pages - 1) // budget[0] * budget[1] + latency_s if budget else 0.0
    return max(-(-pages // concurrency) * latency_s, budget_floor)


# ------------------------------------------------------------------------------------------------------
def build_cases(smoke: bool) -> list[Case]:
    if smoke:
        cpu_sizes, cpu_ref, cpu_big = [2_000, 5_000], 2_000, 5_000
        net_budget = dict(rows=6_000, latency_s=0.1, budget=(5, 1.0))
        net_latency = dict(rows=6_000, latency_s=0.2, budget=None)
    else:
        cpu_sizes, cpu_ref, cpu_big = [10_000, 100_000, 1_000_000], 100_000, 1_000_000
        net_budget = dict(rows=100_000, latency_s=0.5, budget=(50, 10.0))
        net_latency = dict(rows=30_000, latency_s=1.0, budget=None)
    cases = [Case(f"cpu-{n}", "CPU", f"day of {n:,} rows", "ours", n) for n in cpu_sizes]
    cases.append(Case("cpu-fetch", "CPU", f"floor: fetch only, {cpu_big:,} rows", "fetch", cpu_big))
    cases.append(Case("cpu-parse", "CPU", f"floor: fetch + pyarrow.json, {cpu_big:,} rows", "parse", cpu_big))
    cases.append(Case("cpu-baseline", "CPU", f"baseline, {cpu_ref:,} rows", "baseline", cpu_ref, concurrency=1))
    lat_b, bud_b = net_budget["latency_s"], net_budget["budget"]
    budget_text = f"lat {lat_b:g}s, budget {bud_b[0]}/{bud_b[1]:g}s"
    for conc in (1, DEFAULT_CONCURRENCY):
        cases.append(
            Case(
                f"net-budget-c{conc}",
                "network",
                f"{budget_text}, conc {conc}",
                "ours",
                concurrency=conc,
                **net_budget,
            )
        )
    lat_text = f"lat {net_latency['latency_s']:g}s, no budget"
    for conc in (1, DEFAULT_CONCURRENCY):
        cases.append(
            Case(
                f"net-latency-c{conc}",
                "network",
                f"{lat_text}, conc {conc}",
                "ours",
                concurrency=conc,
                **net_latency,
            )
        )
    cases.append(
        Case(
            "net-latency-c4-first",
            "network",
            f"{lat_text}, conc {DEFAULT_CONCURRENCY}, first run",
            "ours",
            concurrency=DEFAULT_CONCURRENCY,
            steady_state=False,
            **net_latency,
        )
    )
    cases.append(Case("net-baseline", "network", f"baseline, {lat_text}", "baseline", concurrency=1, **net_latency))
    for case in cases:
        case.meta = {"cpu_ref": cpu_ref, "cpu_big": cpu_big}  # type: ignore[attr-defined]
    return cases


def fmt(value, spec: str = ",.0f") -> str:
    if value is None:
        return "-"
    return format(value, spec)


def floor_notes(pull: Case, fetch: Case | None, parse: Case | None) -> list[str]:
    """How far the CPU path is from its floors, in client CPU-us per row of the same day."""
    if fetch is None or parse is None:
        return []

    def us(case: Case) -> float:
        return case.result["cpu_s"] / case.result["rows"] * 1e6

    return [
        f"floors ({pull.rows:,}-row day, client CPU-us per row): fetch only {us(fetch):.2f} (HTTPS, TLS, page split),"
        f" + pyarrow.json {us(parse) - us(fetch):.2f} = {us(parse):.2f}; the pull {us(pull):.2f}, of which"
        f" conversion, window filter, spill, dedupe/sort, Parquet write and sha256 {us(pull) - us(parse):.2f};"
        f" fetching and parsing alone allow {1e6 / us(parse):,.0f} rows/CPU-s here.",
    ]


def render(cases: list[Case], smoke: bool) -> tuple[str, bool]:
    by = {c.key: c for c in cases}
    meta = cases[0].meta  # type: ignore[attr-defined]
    ref, big = by[f"cpu-{meta['cpu_ref']}"], by[f"cpu-{meta['cpu_big']}"]
    header = [
        "path",
        "case",
        "rows",
        "conc",
        "wall s",
        "rows/s",
        "CPU s",
        "rows/CPU-s",
        "peak RSS MB",
        "reqs",
        "429s",
        "ideal s",
        "actual/ideal",
        "rows ok",
        "target",
        "result",
    ]
    table: list[list[str]] = []
    all_ok = True

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "MISS"

    for case in cases:
        r = case.result
        all_ok &= r["verified"]
        targets, results = [], []
        ideal = ratio = None
        if case.section == "CPU" and case.kind == "ours":
            rate = r["rows"] / r["cpu_s"]
            targets.append(f"CPU >={CPU_TARGET // 1000}k rows/CPU-s")
            results.append(verdict(rate >= CPU_TARGET))
            if case is big:
                targets.append(f"RSS <=300MB & <=1.3x {ref.rows:,}-row day")
                results.append(verdict(r["rss_mb"] <= 300 and r["rss_mb"] <= 1.3 * ref.result["rss_mb"]))
        if case.section == "network" and case.kind == "ours":
            pages = r["server_requests"] - r["throttled_429"]  # requests actually needed (429s excluded)
            ideal = ideal_network_s(pages, case.latency_s, case.concurrency, case.budget)
            ratio = r["wall_s"] / ideal
            r["rolling_floor_s"] = rolling_floor_s(pages, case.latency_s, case.concurrency, case.budget)
            if case.budget:
                targets.append("wall <=1.15x ideal, zero 429s")
                results.append(verdict(ratio <= 1.15 and r["throttled_429"] == 0))
            elif case.concurrency > 1:
                targets.append("wall <=1.15x ideal")
                results.append(verdict(ratio <= 1.15))
        if case.kind == "baseline" and case.section == "network":
            pages = r["server_requests"]
            ideal = ideal_network_s(pages, case.latency_s, 1, None)
            ratio = r["wall_s"] / ideal
        table.append(
            [
                case.section,
                case.label,
                fmt(case.rows),
                str(case.concurrency),
                fmt(r["wall_s"], ".2f"),
                fmt(case.rows / r["wall_s"]),
                fmt(r["cpu_s"], ".2f"),
                fmt(r["rows"] / r["cpu_s"] if r["cpu_s"] else None),
                fmt(r["rss_mb"], ".0f"),
                str(r["server_requests"]),
                str(r["throttled_429"]),
                fmt(ideal, ".1f"),
                fmt(ratio, ".2f"),
                ("yes" if r["verified"] else f"NO ({r['rows']}/{r['file_rows']} of {case.rows})"),
                "; ".join(targets) or "-",
                ", ".join(results) or "-",
            ]
        )

    # ours / baseline
    def compare(label: str, ours: Case, base: Case, target: str | None, speedup_needed: float | None) -> None:
        o, b = ours.result, base.result
        wall_ratio = o["wall_s"] / b["wall_s"]
        result = "-"
        if speedup_needed:
            result = verdict(b["wall_s"] / o["wall_s"] >= speedup_needed)
        table.append(
            [
                "ours/baseline",
                label,
                fmt(ours.rows),
                f"{ours.concurrency}/1",
                f"{wall_ratio:.2f}x",
                f"{b['wall_s'] / o['wall_s']:.2f}x faster",
                f"{o['cpu_s'] / b['cpu_s']:.2f}x",
                "-",
                f"{o['rss_mb'] / b['rss_mb']:.2f}x",
                f"{o['server_requests']}/{b['server_requests']}",
                "-",
                "-",
                "-",
                "yes" if o["verified"] and b["verified"] else "NO",
                target or "-",
                result,
            ]
        )

    compare(f"CPU path, {ref.rows:,} rows", ref, by["cpu-baseline"], None, None)
    compare(
        "latency-bound network path",
        by[f"net-latency-c{DEFAULT_CONCURRENCY}"],
        by["net-baseline"],
        ">=3x faster than baseline",
        3.0,
    )

    widths = [max(len(header[i]), *(len(row[i]) for row in table)) for i in range(len(header))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    for row in table:
        lines.append(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
    notes = [
        "",
        f"load average (1 min) at start / end: {LOAD_AT_START:.2f} / {os.getloadavg()[0]:.2f}"
        f" on {os.cpu_count()} CPUs (the machine may be shared; CPU-seconds are less affected than wall).",
        f"day {DAY}, {PAGE_SIZE} rows/page, weekday profile off; {'SMOKE sizes' if smoke else 'full sizes'}.",
        "CPU s / rows/CPU-s: CPU of the pulling process only (emulator in its own process), pull only, no imports.",
        "peak RSS: ru_maxrss of the pulling process over its life (imports included).",
        "ideal s = max(pages x latency / conc, pages / budget rate), pages = data requests the emulator answered "
        "(429s excluded);",
        "  strict rolling-window floor (a burst of B at t=0, then B per W): "
        + ", ".join(
            f"{c.key} {c.result['rolling_floor_s']:.1f}s" for c in cases if "rolling_floor_s" in c.result and c.budget
        ),
        "emulator CPU s per case (not counted above): "
        + ", ".join(f"{c.key} {c.result['server_cpu_s']:.1f}" for c in cases),
        *floor_notes(big, by.get("cpu-fetch"), by.get("cpu-parse")),
        "token fetched before the measured span (CPU s, ours / baseline): "
        + f"{ref.result['token_cpu_s']:.2f} / {by['cpu-baseline'].result['token_cpu_s']:.2f}",
        f"rows verified (manifest rows == file rows == N for every pull): {'yes' if all_ok else 'NO'}",
    ]
    return "\n".join(lines + notes), all_ok


# =====================================================================================================
# whole DAG run (airflow dags test) against the hand-written pull; backfill through the scheduler
# =====================================================================================================
SKIPPED: list[str] = []
WHOLE_SIZES = (1_000, 1_000_000)
BACKFILL_DAYS, BACKFILL_ROWS, BACKFILL_BUDGET = 8, 60_000, (50, 10.0)


def run_whole_runs(emulator: EmulatorProcess) -> dict | None:
    from whole_run import WholeRunBench

    small, big = WHOLE_SIZES
    try:
        bench = WholeRunBench(emulator, _pythonpath())
    except Exception as error:  # no usable Airflow home: not wrong data
        SKIPPED.append(f"whole DAG run section skipped: {type(error).__name__}: {error}")
        return None
    try:
        result = {}
        for name, runner in (("ours", bench.dag_run), ("baseline", bench.baseline)):
            for rows in (small, big):
                t0 = time.perf_counter()
                result[f"{name}-{rows}"] = runner(rows)
                r = result[f"{name}-{rows}"]
                print(
                    f"  ran {name} whole run, {rows:,} rows: {r['wall_s']:.1f} s, CPU {r['cpu_s']:.1f} s, "
                    f"peak RSS {r['rss_mb']:.0f} MB, rows ok: {r['verified']} ({time.perf_counter() - t0:.1f} s)",
                    file=sys.stderr,
                    flush=True,
                )
                if not r["verified"]:
                    print(r.get("tail", ""), file=sys.stderr)
        return result
    finally:
        bench.close()


def profile_dagrun(emulator: EmulatorProcess, path: str, rows: int) -> int:
    from whole_run import WholeRunBench, profile_summary

    bench = WholeRunBench(emulator, _pythonpath())
    try:
        result = bench.dag_run(rows, profile=str(Path(path).resolve()))
    finally:
        bench.close()
    print(
        f"airflow dags test of a {rows:,}-row day under the profiler: wall {result['wall_s']:.1f} s, "
        f"CPU {result['cpu_s']:.1f} s, peak RSS {result['rss_mb']:.0f} MB, rows ok: {result['verified']}"
    )
    print(profile_summary(path))
    return 0 if result["verified"] else 1


def whole_ok(whole: dict | None) -> bool:
    return whole is None or all(r["verified"] for r in whole.values())


def render_whole(whole: dict) -> str:
    from whole_run import incremental

    small, big = WHOLE_SIZES
    header = ["whole run", f"{small:,}: wall / CPU s / peak MB", f"{big:,}: wall / CPU s / peak MB"]
    header += ["rows/incr. CPU-s", "peak growth MB", "rows ok", "target", "result"]
    rows, inc = [], {}
    for name, label in (("ours", "ours: airflow dags test"), ("baseline", "hand-written requests+pandas")):
        a, b = whole[f"{name}-{small}"], whole[f"{name}-{big}"]
        inc[name] = incremental(a, b)
        rows.append(
            [
                label,
                f"{a['wall_s']:.1f} / {a['cpu_s']:.1f} / {a['rss_mb']:.0f}",
                f"{b['wall_s']:.1f} / {b['cpu_s']:.1f} / {b['rss_mb']:.0f}",
                fmt(inc[name]["rows_per_cpu_s"]),
                fmt(inc[name]["rss_growth_mb"]),
                "yes" if a["verified"] and b["verified"] else "NO",
                "growth <=150MB" if name == "ours" else "-",
                ("PASS" if inc[name]["rss_growth_mb"] <= 150 else "MISS") if name == "ours" else "-",
            ]
        )
    speed = inc["ours"]["rows_per_cpu_s"] / inc["baseline"]["rows_per_cpu_s"]
    rows.append(
        [
            "ours/hand-written",
            "-",
            "-",
            f"{speed:.2f}x",
            f"{inc['ours']['rss_growth_mb'] - inc['baseline']['rss_growth_mb']:+.0f}",
            "-",
            ">=3x rows/incr. CPU-s",
            "PASS" if speed >= 3 else "MISS",
        ]
    )
    notes = [
        "whole run: each side one process tree (getrusage of a wrapper's children: CPU user+sys, peak RSS), start-up,"
        " imports and Airflow's SQLite metadata DB included; rows/incr. CPU-s = (big - small rows) / (big - small CPU);"
        " same emulator (no latency, no budget, emulator CPU not counted).",
    ]
    return "\n" + _table(header, rows) + "\n" + "\n".join(notes)


def run_backfill_cases(wanted: set[str] | None) -> list:
    from backfill import BackfillCase, run_backfills

    window = BACKFILL_BUDGET[1]
    cases = [
        BackfillCase(f"backfill-rpm{n}", f"client {n}/{window:g}s", BACKFILL_DAYS, BACKFILL_ROWS, BACKFILL_BUDGET, n)
        for n in (50, 45)
    ]
    cases = [c for c in cases if wanted is None or c.key in wanted]
    try:
        run_backfills(cases, log=lambda message: print(message, file=sys.stderr, flush=True))
    except Exception as error:  # no PostgreSQL, a stack that did not start: not wrong data, say why
        if any(c.result and not (c.result["rows_ok"] and c.result["states_ok"]) for c in cases):
            raise
        SKIPPED.append(f"backfill section incomplete: {type(error).__name__}: {str(error)[:500]}")
    return [c for c in cases if c.result]


def backfills_ok(cases: list) -> bool:
    return all(c.result["rows_ok"] and c.result["states_ok"] and c.result["dq_ok"] for c in cases)


def render_backfills(cases: list) -> str:
    header = ["backfill (scheduler, LocalExecutor, PostgreSQL)", "days x rows", "reqs", "429s"]
    header += ["max reqs in a window", "wall s", "ideal s", "actual/ideal", "data ok", "target", "result"]
    rows = []
    for case in cases:
        r = case.result
        ratio = r["wall_s"] / r["ideal_s"]
        rows.append(
            [
                f"emulator {case.budget[0]}/{case.budget[1]:g}s, {case.label}",
                f"{r['days']} x {case.rows_per_day:,}",
                str(r["requests"]),
                str(r["throttled_429"]),
                f"{r['max_in_window']} (budget {case.budget[0]})",
                f"{r['wall_s']:.1f}",
                f"{r['ideal_s']:.1f}",
                f"{ratio:.2f}",
                "yes" if r["rows_ok"] and r["states_ok"] and r["dq_ok"] else "NO",
                "wall <=1.15x ideal, zero 429s",
                "PASS" if ratio <= 1.15 and r["throttled_429"] == 0 else "MISS",
            ]
        )
    notes = ["backfill: ideal = requests Graph answered / budget rate; where the time went:"]
    for case in cases:
        r = case.result
        notes.append(
            f"  {case.key}: `airflow backfill create` CLI {r['cli_to_backfill_created_s']:.1f} s, then first "
            f"sensor starts {r['backfill_to_first_sensor_s']:.1f} s later and takes {r['first_sensor_s']:.1f} s, "
            f"first extract {r['first_sensor_to_pull_s']:.1f} s after it; pulls {r['pull_s']:.1f} s (longest "
            f"{r['pull_max_s']:.1f} s; "
            f"threads waited {r['budget_wait_s']:.0f} s in all on the budget), gaps between pulls {r['gap_s']:.1f} s "
            f"(longest {r['gap_max_s']:.1f} s), last pull to last run end {r['after_last_pull_s']:.1f} s; strict "
            f"floor (first window's burst) {r['floor_s']:.1f} s; sensor {r['sensor_mean_s']:.1f} s and quality "
            f"{r['quality_mean_s']:.1f} s per run (off the pool)."
        )
    return "\n" + _table(header, rows) + "\n" + "\n".join(notes)


def _table(header: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(header[i]), *(len(row[i]) for row in rows)) for i in range(len(header))]
    lines = [" | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines.append("-+-".join("-" * w for w in widths))
    lines += [" | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes (CI smoke test, well under a minute)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--only", help="comma-separated case keys to run (the table then shows only those)")
    parser.add_argument("--profile", metavar="FILE", help="cProfile the 100k CPU case (conc 1) into FILE and exit")
    parser.add_argument(
        "--profile-dagrun",
        metavar="FILE",
        help="CPU profile (every thread) of `airflow dags test` of a 1M-row day (--smoke: 20k) into FILE, summary",
    )
    parser.add_argument("--rusage", help=argparse.SUPPRESS)
    parser.add_argument(
        "--no-airflow", action="store_true", help="skip the whole-DAG-run and backfill sections (Airflow processes)"
    )
    args = parser.parse_args(argv)
    if args.child:
        return child_main(args.child)
    if args.rusage:
        from whole_run import rusage_main

        return rusage_main(args.rusage)

    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "include")]
    from call_logs.defaults import GRAPH_CONCURRENCY as PRODUCT_DEFAULT
    from graph_emulator.process import EmulatorProcess

    if PRODUCT_DEFAULT != DEFAULT_CONCURRENCY:
        print(f"note: product default concurrency is {PRODUCT_DEFAULT}, bench uses {DEFAULT_CONCURRENCY}")

    global LOAD_AT_START
    LOAD_AT_START = os.getloadavg()[0]
    started = time.perf_counter()
    airflow_sections = not args.no_airflow and not args.profile and not args.profile_dagrun
    if args.smoke and airflow_sections:
        airflow_sections = False
        SKIPPED.append(
            "whole DAG run and backfill sections skipped in --smoke: `airflow db migrate` and a scheduler stack take "
            "a minute or more before the first row (run `make bench`)."
        )
    emulator = EmulatorProcess(budget=None, weekday_profile=False, page_size=PAGE_SIZE).start()
    try:
        if args.profile:
            rows = 5_000 if args.smoke else 100_000
            case = Case("profile", "CPU", f"profile {rows}", "ours", rows, concurrency=1)
            run_case(emulator, case, profile=str(Path(args.profile).resolve()))
            print(f"profile of {rows:,} rows (conc 1) written to {args.profile}; verified: {case.result['verified']}")
            return 0 if case.result["verified"] else 1
        if args.profile_dagrun:
            return profile_dagrun(emulator, args.profile_dagrun, 20_000 if args.smoke else 1_000_000)
        cases = build_cases(args.smoke)
        wanted = set(args.only.split(",")) if args.only else None
        if wanted is not None:
            cases = [c for c in cases if c.key in wanted]
        for case in cases:
            t0 = time.perf_counter()
            run_case(emulator, case)
            print(
                f"  ran {case.key}: {case.result['wall_s']:.2f} s, rows ok: {case.result['verified']}"
                f" ({time.perf_counter() - t0:.1f} s with start-up)",
                file=sys.stderr,
                flush=True,
            )
        whole = None
        if airflow_sections and (wanted is None or "dagrun" in wanted):
            whole = run_whole_runs(emulator)
    finally:
        emulator.stop()
    backfills: list = []
    if airflow_sections and (wanted is None or wanted & {"backfill-rpm50", "backfill-rpm45"}):
        backfills = run_backfill_cases(wanted)
    if args.only:
        for case in cases:
            print(case.key, json.dumps(case.result))
        if whole:
            print("dagrun", json.dumps({k: {n: v for n, v in r.items() if n != "tail"} for k, r in whole.items()}))
        for bcase in backfills:
            print(bcase.key, json.dumps(bcase.result, default=str))
        ok = all(c.result["verified"] for c in cases) and whole_ok(whole) and backfills_ok(backfills)
        return 0 if ok else 1
    text, ok = render(cases, args.smoke)
    print(text)
    if whole:
        print(render_whole(whole))
    if backfills:
        print(render_backfills(backfills))
    for reason in SKIPPED:
        print(reason)
    ok = ok and whole_ok(whole) and backfills_ok(backfills)
    print(f"bench finished in {time.perf_counter() - started:.1f} s")
    if not ok:
        print("ERROR: a pull produced wrong data (row count mismatch); see 'rows ok' / 'data ok'.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
