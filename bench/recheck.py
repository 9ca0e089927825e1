"""Re-checks against the pull they repeat: requests, CPU, wall and peak RSS, each step in its own process.

``python bench/recheck.py`` (1,000,000 direct-routing calls a day; ``--rows`` to change, ``--smoke`` for 20,000):
the Graph emulator runs in its own process; the day is pulled into a temporary local lake (the extract), re-checked
with nothing new (the usual case: pulled again, compared row by row, nothing written), then re-checked after the
emulator added, corrected and removed calls of the day (the new version committed with what changed). A re-check's
extra cost over a pull is the comparison: digests of both versions and one join. It prints one table and never
fails on a timing (wrong counts exit non-zero).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import gold_build  # noqa: E402  # the child-process machinery, shared

DAY = date(2025, 1, 15)
LATE = {"added": 25, "changed": 10, "removed": 5}


def child(spec: dict) -> dict:
    import time

    from call_logs.extract import extract_day
    from call_logs.recheck import recheck_day
    from call_logs.reports.direct_routing import DIRECT_ROUTING

    reports, _ = gold_build._sinks(spec["lake"])
    sink = reports[DIRECT_ROUTING.table]
    day = date.fromisoformat(spec["day"])
    client = gold_build._client(spec, DIRECT_ROUTING)
    cpu0, _ = gold_build._usage()
    t0 = time.perf_counter()
    if spec["step"] == "extract":
        manifest = extract_day(client, sink, day)
        rows, found = manifest.rows, {}
    else:
        previous = sink.read_manifest(day)
        record, manifest = recheck_day(client, sink, day, previous)
        rows, found = record.rows_after, {**record.diff.to_dict(), "written": manifest is not None}
    wall = time.perf_counter() - t0
    cpu1, rss = gold_build._usage()
    return {
        "step": spec["step"],
        "rows": rows,
        "wall_s": wall,
        "cpu_s": cpu1 - cpu0,
        "rss_mb": rss,
        "found": found,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="direct-routing calls in the day")
    parser.add_argument("--smoke", action="store_true", help="20,000 rows")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print("GOLD-BENCH " + json.dumps(child(json.loads(args.child))), flush=True)
        return 0
    rows = 20_000 if args.smoke else args.rows
    sys.path[:0] = [str(gold_build.ROOT / "plugins"), str(gold_build.ROOT / "include")]
    from graph_emulator.connection import msgraph_connection
    from graph_emulator.process import EmulatorProcess

    lake = tempfile.mkdtemp(prefix="bench-recheck-")
    emulator = EmulatorProcess(budget=None, weekday_profile=False, page_size=1000, rows_per_day=rows).start()
    results = []
    try:
        connection = msgraph_connection(emulator, requests_per_minute=1_000_000, rate_limit_window_s=1.0)
        base = {"lake": lake, "connection": connection, "day": DAY.isoformat()}
        results.append(_run(base | {"step": "extract"}))
        results.append(_run(base | {"step": "recheck (unchanged)"}))
        emulator.add_late_calls(
            DAY.isoformat(),
            LATE["added"],
            changed=list(range(0, rows, rows // LATE["changed"]))[: LATE["changed"]],
            removed=list(range(7, rows, rows // LATE["removed"]))[: LATE["removed"]],
        )
        results.append(_run(base | {"step": "recheck (changed)"}))
    finally:
        emulator.stop()
        shutil.rmtree(lake, ignore_errors=True)
    print(
        f"\nRe-checks of a {rows:,}-call day; load average at the end {os.getloadavg()[0]:.2f} "
        f"on {os.cpu_count()} cores\n"
    )
    print(f"| {'step':<20} | {'rows':>11} | {'wall s':>7} | {'CPU s':>7} | {'peak RSS MiB':>12} | found |")
    print(f"|{'-' * 22}|{'-' * 13}|{'-' * 9}|{'-' * 9}|{'-' * 14}|-------|")
    for r in results:
        found = ", ".join(f"{k} {v}" for k, v in r["found"].items() if k != "by_hour") or "-"
        print(
            f"| {r['step']:<20} | {r['rows']:>11,} | {r['wall_s']:>7.2f} | {r['cpu_s']:>7.2f} "
            f"| {r['rss_mb']:>12,.0f} | {found} |"
        )
    unchanged, changed = results[1]["found"], results[2]["found"]
    wrong = unchanged.get("written") or not changed.get("written")
    wrong |= any(changed.get(kind) != count for kind, count in LATE.items())
    print(
        f"\nre-check vs pull: {results[1]['cpu_s'] / results[0]['cpu_s']:.2f}x CPU, "
        f"{results[1]['rss_mb'] / results[0]['rss_mb']:.2f}x peak RSS"
    )
    if wrong:
        print(f"WRONG COUNTS: {unchanged} / {changed}")
        return 1
    return 0


def _run(spec: dict) -> dict:
    return gold_build.run_child(spec, script=__file__)


if __name__ == "__main__":
    sys.exit(main())
