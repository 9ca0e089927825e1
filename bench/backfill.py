"""Backfill benchmark: N days through a real Airflow (scheduler, LocalExecutor, PostgreSQL) against a throttled Graph.

It reuses the production tests' harness (``tests/production``: server discovery, the stack, the backfill CLI and
polling) with a local ``file://`` lake instead of Azurite. The Graph emulator runs in its own process with a
scaled budget (``budget`` requests per ``window`` seconds: Graph's 50 / 60 s with seconds for minutes) and no
latency or faults; the ``msgraph`` connection's limiter gets ``client_requests`` per the same window. What it
reports, beside the rows check:

* wall time from ``airflow backfill create`` to the last run's end, against the ideal ``total requests / budget``
  (Graph's budget; the strict floor lets the first window's ``budget`` requests leave at once);
* the requests Graph saw in any rolling window (``max_in_window``) and the 429s;
* where the time went, from the metadata database: before the first extract, pulls (of which waiting on the
  request budget, from the manifests), the gaps between pulls (the pool's one slot idle), after the last pull.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABLE = "direct_routing_calls"


@dataclass
class BackfillCase:
    key: str
    label: str
    days: int = 8
    rows_per_day: int = 40_000
    budget: tuple[int, float] = (50, 10.0)  # emulator: Graph's 50 / 60 s, scaled to seconds
    client_requests: int = 50  # the connection's requests_per_minute (per the same window)
    latency_s: float = 0.0
    result: dict = field(default_factory=dict)


def _import_harness():
    """The production tests' modules; ``tests.conftest`` makes a scratch AIRFLOW_HOME at import (removed later)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    before = dict(os.environ)
    from tests import conftest
    from tests.production import backfill, services, stack

    scratch = Path(conftest._AIRFLOW_HOME)
    os.environ.clear()
    os.environ.update(before)  # the bench's own environment, not the test session's
    return conftest, services, stack, backfill, scratch


def run_backfills(cases: list[BackfillCase], log=print) -> None:
    """Run every case on one stack (one Airflow, one emulator), each on its own days and msgraph connection."""
    from graph_emulator.connection import msgraph_connection_env
    from graph_emulator.process import EmulatorProcess

    conftest, services, stack_mod, backfill, scratch = _import_harness()
    workdir = Path(tempfile.mkdtemp(prefix="bench-backfill-"))
    budget = cases[0].budget
    if any(case.budget != budget or case.latency_s != cases[0].latency_s for case in cases):
        raise ValueError("the backfill cases share one emulator: same budget and latency")
    emulator = EmulatorProcess(
        rows_per_day=cases[0].rows_per_day,
        budget=budget,
        latency_s=cases[0].latency_s or None,
        weekday_profile=False,
        workdir=workdir / "emulator",
    ).start()
    stack = None
    try:
        env = {
            "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": f"file://{workdir / 'lake'}",
            "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": "0",
            # One INFO line per page is the product's default; the bench keeps it.
        }
        for case in cases:
            env.update(
                msgraph_connection_env(
                    emulator,
                    conn_id=f"msgraph_{case.key.replace('-', '_')}",
                    requests_per_minute=case.client_requests,
                    rate_limit_window_s=budget[1],
                )
            )
        with services.postgres_server() as postgres:
            started = time.monotonic()
            home = workdir / "airflow"
            stack = stack_mod.start_stack(home, "LocalExecutor", conftest.free_port, env, postgres=postgres)
            log(f"  backfill stack ready in {time.monotonic() - started:.1f} s (PostgreSQL: {postgres.origin})")
            try:
                # Disjoint day ranges, newest first: no case finds an earlier case's manifest before its first day.
                end_days_ago = 4
                for case in cases:
                    days = backfill.backfill_days(case.days, end_days_ago=end_days_ago)
                    end_days_ago += case.days + 8  # a gap wider than the profile look-back between cases
                    _run_case(stack, emulator, backfill, case, days, workdir / "lake", log)
            finally:
                stack_mod.stop_stack(stack)
    finally:
        emulator.stop()
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.rmtree(scratch, ignore_errors=True)


def _run_case(stack, emulator, backfill, case: BackfillCase, days, lake: Path, log) -> None:
    conn_id = f"msgraph_{case.key.replace('-', '_')}"
    stack.cli("variables", "set", "direct_routing_msgraph_conn_id", conn_id)
    time.sleep(case.budget[1] * 1.1)  # the previous case's requests leave Graph's window
    emulator.reset_stats()
    created = datetime.now(UTC)
    backfill_id = backfill.create_backfill(stack, days[0], days[-1], max_active_runs=4)
    states = backfill.wait_backfill(stack, backfill_id, len(days), timeout=1800)
    stats = emulator.stats()
    tis = stack.query(
        "SELECT ti.run_id, ti.task_id, ti.state, ti.queued_dttm, ti.start_date, ti.end_date FROM task_instance ti "
        "JOIN dag_run dr ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = %s",
        (backfill_id,),
    )
    backfill_created = stack.query("SELECT created_at FROM backfill WHERE id = %s", (backfill_id,))[0][0]
    first_sensor = min((row for row in tis if row[1] == "wait_for_settled_data"), key=lambda row: row[4])
    run_end = max(row[0] for row in stack.query("SELECT end_date FROM dag_run WHERE backfill_id = %s", (backfill_id,)))
    wall = (run_end - created).total_seconds()
    extracts = sorted((row for row in tis if row[1] == "extract"), key=lambda row: row[4])
    gaps = [(b[4] - a[5]).total_seconds() for a, b in zip(extracts, extracts[1:], strict=False)]
    pulls = [(row[5] - row[4]).total_seconds() for row in extracts]
    sensors = [(row[5] - row[4]).total_seconds() for row in tis if row[1] == "wait_for_settled_data"]
    quality = [(row[5] - row[4]).total_seconds() for row in tis if row[1] == "data_quality"]
    manifests, rows_ok, dq_ok = [], True, True
    for day in days:
        folder = lake / TABLE / f"call_date={day.isoformat()}"
        try:
            manifest = json.loads((folder / "_manifest.json").read_text())
            dq = json.loads((folder / "_dq.json").read_text())
        except FileNotFoundError:
            rows_ok = False
            continue
        import pyarrow.parquet as pq

        file_rows = pq.read_metadata(folder / "part-0.parquet").num_rows
        rows_ok &= manifest["rows"] == file_rows == emulator.count_day(day)
        dq_ok &= dq["status"] in ("pass", "warn")
        manifests.append(manifest)
    rate = case.budget[0] / case.budget[1]
    answered = stats["data_requests"] - stats["throttled"]
    case.result = {
        "days": len(days),
        "states_ok": sorted(states.values()) == ["success"] * len(days),
        "rows_ok": rows_ok and len(manifests) == len(days),
        "dq_ok": dq_ok,
        "wall_s": wall,
        "requests": stats["data_requests"],
        "throttled_429": stats["throttled"],
        "max_in_window": stats["max_in_window"],
        "window_s": stats["window_s"],
        "ideal_s": answered / rate,
        "floor_s": max(0.0, answered - case.budget[0]) / rate,
        "before_first_pull_s": (extracts[0][4] - created).total_seconds() if extracts else None,
        "cli_to_backfill_created_s": (backfill_created - created).total_seconds(),
        "backfill_to_first_sensor_s": (first_sensor[4] - backfill_created).total_seconds(),
        "first_sensor_s": (first_sensor[5] - first_sensor[4]).total_seconds(),
        "first_sensor_to_pull_s": (extracts[0][4] - first_sensor[5]).total_seconds() if extracts else None,
        "pull_s": sum(pulls),
        "budget_wait_s": sum(m["graph"].get("throttle_wait_s", 0.0) for m in manifests),
        "pull_max_s": max(pulls, default=0.0),
        "gap_s": sum(gaps),
        "gap_max_s": max(gaps, default=0.0),
        "after_last_pull_s": (run_end - extracts[-1][5]).total_seconds() if extracts else None,
        "sensor_mean_s": sum(sensors) / len(sensors) if sensors else None,
        "quality_mean_s": sum(quality) / len(quality) if quality else None,
        "extract_queued_to_start_mean_s": (
            sum((row[4] - row[3]).total_seconds() for row in extracts if row[3]) / len(extracts) if extracts else None
        ),
    }
    r = case.result
    log(
        f"  ran {case.key}: {r['wall_s']:.1f} s for {r['requests']} requests (ideal {r['ideal_s']:.1f} s), "
        f"{r['throttled_429']} x 429, rows ok: {r['rows_ok']}"
    )


if __name__ == "__main__":  # a quick look without the rest of the bench: PYTHONPATH as for bench/run.py
    chosen = [BackfillCase("rpm50", "client 50 / window", days=int(sys.argv[1]) if len(sys.argv) > 1 else 4)]
    run_backfills(chosen)
    print(json.dumps(chosen[0].result, indent=1, default=str))
