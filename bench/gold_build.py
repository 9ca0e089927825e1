"""Gold builds against the pull they follow: CPU, wall, rows/s and peak RSS of each, each in its own process.

``python bench/gold_build.py`` (1,000,000 direct-routing calls a day; ``--rows`` to change, ``--smoke`` for 20,000):

1. the Graph emulator runs in its own process; two consecutive days are pulled into a temporary local lake, the
   second in a child process whose peak RSS is the extract's (the budget the gold builds must stay within);
2. each gold build of the second day runs in a child of its own (imports included in its peak RSS, as a task's):
   trunk health (reads the day and the previous day's calls still up after midnight, per-minute concurrency),
   the hourly table, and their quality checks; then a PSTN month (``--pstn-rows`` a day, every day of February)
   rolled up per user and currency, whose peak RSS must not grow with the month's calls.
It prints one table; it never fails on a timing (a wrong row count exits non-zero).
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
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2025, 1, 15)
MONTH = date(2025, 2, 1)


def _usage() -> tuple[float, float]:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024.0  # (CPU s, peak RSS MiB)


# ----------------------------------------------------------------------------------------------------------
# child side: one step in its own process, one JSON line on stdout
# ----------------------------------------------------------------------------------------------------------
def _client(spec: dict, report):
    from call_logs.graph.settings import GraphSettings

    conn = spec["connection"]
    settings = GraphSettings.from_connection(
        login=conn["login"], password=conn["password"], host=conn["host"], extras=conn["extra"]
    )
    return settings.build_client(report.function_path)


def _sinks(lake: str):
    import fsspec
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import GOLD_TABLES
    from call_logs.lake.root import LakeRoot
    from call_logs.reports import REPORTS
    from call_logs.sinks import open_report

    root = LakeRoot(lake, fsspec.filesystem("file"), lake)
    return (
        {name: open_report("parquet", root, spec) for name, spec in REPORTS.items()},
        {name: gold_sink("parquet", root, table) for name, table in GOLD_TABLES.items()},
    )


def child(spec: dict) -> dict:
    from call_logs.extract import extract_day
    from call_logs.gold.hourly import build_hourly_day
    from call_logs.gold.pstn_usage import build_pstn_month
    from call_logs.gold.quality import check_gold
    from call_logs.gold.trunk_health import build_day
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.reports.pstn import PSTN
    from call_logs.utc import days_of_month

    reports, gold = _sinks(spec["lake"])
    source, pstn = reports[DIRECT_ROUTING.table], reports[PSTN.table]
    day = date.fromisoformat(spec["day"])
    cpu0, _ = _usage()
    t0 = time.perf_counter()
    step, rows = spec["step"], 0
    if step == "extract":
        rows = extract_day(_client(spec, DIRECT_ROUTING), source, day).rows
    elif step == "extract_pstn_month":
        client = _client(spec, PSTN)
        rows = sum(extract_day(client, pstn, d).rows for d in days_of_month(day))
    elif step == "trunk_health":
        rows = build_day(source, gold["direct_routing_trunk_health"], day).sources[0].rows
    elif step == "trunk_health_hourly":
        rows = build_hourly_day(source, gold["direct_routing_trunk_health_hourly"], day).sources[0].rows
    elif step in ("check_trunk_health", "check_trunk_health_hourly"):
        table = "direct_routing_trunk_health" + step.removeprefix("check_trunk_health")
        report = check_gold(gold[table], day, {DIRECT_ROUTING.table: source})
        assert report.status == "pass", [r.message for r in report.results if r.failed]
        rows = source.read_manifest(day).rows
    elif step in ("pstn_usage_monthly", "pstn_minute_pools_monthly"):
        rows = sum(s.rows for s in build_pstn_month(pstn, gold[step], day).sources)
    wall = time.perf_counter() - t0
    cpu1, rss = _usage()
    return {"step": step, "rows": rows, "wall_s": wall, "cpu_s": cpu1 - cpu0, "rss_mb": rss}


# ----------------------------------------------------------------------------------------------------------
# parent side
# ----------------------------------------------------------------------------------------------------------
def run_child(spec: dict, script: str = __file__) -> dict:
    """Run one step in a child process of ``script`` (this file, or a bench that reuses it) and read its figures."""
    env = os.environ | {"PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("plugins", "include", "dags"))}
    done = subprocess.run(
        [sys.executable, script, "--child", json.dumps(spec)], capture_output=True, text=True, env=env, timeout=3600
    )
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("GOLD-BENCH ")), None)
    if done.returncode != 0 or line is None:
        raise RuntimeError(f"{spec['step']} failed (exit {done.returncode}):\n{done.stderr[-4000:]}")
    return json.loads(line.removeprefix("GOLD-BENCH "))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="direct-routing calls a day")
    parser.add_argument("--pstn-rows", type=int, default=50_000, help="PSTN calls a day, every day of a month")
    parser.add_argument("--smoke", action="store_true", help="20,000 and 1,000 rows a day")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("GOLD-BENCH " + json.dumps(child(json.loads(args.child))), flush=True)
        return 0
    rows, pstn_rows = (20_000, 1_000) if args.smoke else (args.rows, args.pstn_rows)
    sys.path[:0] = [str(ROOT / "plugins"), str(ROOT / "include")]
    from graph_emulator.connection import msgraph_connection
    from graph_emulator.process import EmulatorProcess

    lake = tempfile.mkdtemp(prefix="bench-gold-")
    emulator = EmulatorProcess(budget=None, weekday_profile=False, page_size=1000, rows_per_day=rows).start()
    results = []
    try:
        connection = msgraph_connection(emulator, requests_per_minute=1_000_000, rate_limit_window_s=1.0)
        base = {"lake": lake, "connection": connection}
        run_child(base | {"step": "extract", "day": (DAY - timedelta(days=1)).isoformat()})
        for step in (
            "extract",
            "trunk_health",
            "trunk_health_hourly",
            "check_trunk_health",
            "check_trunk_health_hourly",
        ):
            results.append(run_child(base | {"step": step, "day": DAY.isoformat()}))
        emulator.configure(rows_per_day=pstn_rows)
        month = base | {"day": MONTH.isoformat()}
        for step in ("extract_pstn_month", "pstn_usage_monthly", "pstn_minute_pools_monthly"):
            results.append(run_child(month | {"step": step}))
    finally:
        emulator.stop()
        shutil.rmtree(lake, ignore_errors=True)
    bad = [r for r in results[1:5] if r["rows"] != rows]
    print(f"\nGold builds of a {rows:,}-call day (previous day in the lake), PSTN month of {pstn_rows:,} calls/day")
    print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores\n")
    print(f"| {'step':<26} | {'rows':>11} | {'wall s':>7} | {'CPU s':>7} | {'rows/CPU s':>11} | {'peak RSS MiB':>12} |")
    print(f"|{'-' * 28}|{'-' * 13}|{'-' * 9}|{'-' * 9}|{'-' * 13}|{'-' * 14}|")
    for r in results:
        rate = r["rows"] / r["cpu_s"] if r["cpu_s"] else 0
        print(
            f"| {r['step']:<26} | {r['rows']:>11,} | {r['wall_s']:>7.2f} | {r['cpu_s']:>7.2f} | {rate:>11,.0f} "
            f"| {r['rss_mb']:>12,.0f} |"
        )
    extract_rss = results[0]["rss_mb"]
    worst = max(r["rss_mb"] for r in results[1:5])
    print(f"\ngold peak RSS {worst:,.0f} MiB vs the extract's {extract_rss:,.0f} MiB: {worst / extract_rss:.2f}x")
    if bad:
        print(f"WRONG ROW COUNTS: {bad}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
