"""Driving backfills of a running stack through Airflow's CLI, and polling its metadata database until they end."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime, timedelta

from tests.production.processes import log
from tests.production.stack import DAG_ID, AirflowStack


def backfill_days(days: int = 14, end_days_ago: int = 4) -> list[date]:
    """``days`` consecutive UTC days ending ``end_days_ago`` days ago (well inside Graph's 150-day retention)."""
    last = datetime.now(UTC).date() - timedelta(days=end_days_ago)
    return [last - timedelta(days=days - 1 - i) for i in range(days)]


def create_backfill(
    stack: AirflowStack, first: date, last: date, *, reprocess: str | None = None, max_active_runs: int = 4
) -> int:
    """``airflow backfill create`` for the days ``first`` to ``last`` (inclusive); returns the backfill's id."""
    args = [
        "backfill",
        "create",
        "--dag-id",
        DAG_ID,
        "--from-date",
        first.isoformat(),
        "--to-date",
        last.isoformat(),
        "--max-active-runs",
        str(max_active_runs),
    ]
    if reprocess:
        args += ["--reprocess-behavior", reprocess]
    stack.cli(*args)
    return stack.query("SELECT max(id) FROM backfill WHERE dag_id = %s", (DAG_ID,))[0][0]


def run_states(stack: AirflowStack, backfill_id: int) -> dict[str, str]:
    rows = stack.query("SELECT run_id, state FROM dag_run WHERE backfill_id = %s", (backfill_id,))
    return dict(rows)


def wait_backfill(stack: AirflowStack, backfill_id: int, runs: int, timeout: float) -> dict[str, str]:
    """Until the backfill's ``runs`` DAG runs have all finished; returns run_id -> state."""
    deadline, last_report = time.monotonic() + timeout, 0.0
    while True:
        stack.check_alive()
        states = run_states(stack, backfill_id)
        finished = [s for s in states.values() if s in ("success", "failed")]
        if len(states) == runs and len(finished) == runs:
            return states
        # The DAG retries after 5 minutes (exponential): a failed try would only run the clock out.
        broken = stack.query(
            "SELECT ti.run_id, ti.task_id, ti.state, ti.try_number FROM task_instance ti JOIN dag_run dr "
            "ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = %s "
            "AND ti.state IN ('up_for_retry', 'failed', 'upstream_failed')",
            (backfill_id,),
        )
        if broken:
            raise AssertionError(f"backfill {backfill_id}: task tries failed (no waiting for retries): {broken}")
        if time.monotonic() - last_report > 20:
            tis = stack.query(
                "SELECT ti.task_id, ti.state, count(*) FROM task_instance ti JOIN dag_run dr "
                "ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = %s "
                "GROUP BY 1, 2 ORDER BY 1, 2",
                (backfill_id,),
            )
            log(f"backfill {backfill_id}: runs {sorted(states.values())}; tasks {tis}")
            last_report = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} not done after {timeout} s: {states}")
        time.sleep(2)


def wait_backfill_completed(stack: AirflowStack, backfill_id: int, timeout: float = 90) -> None:
    """The scheduler marks a finished backfill complete every 30 s; a new one needs that first."""
    deadline = time.monotonic() + timeout
    while not stack.query("SELECT completed_at FROM backfill WHERE id = %s", (backfill_id,))[0][0]:
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} not marked complete after {timeout} s")
        time.sleep(1)


def non_backfill_runs(stack: AirflowStack) -> list[tuple]:
    return stack.query(
        "SELECT run_id, run_type, state FROM dag_run WHERE dag_id = %s AND backfill_id IS NULL",
        (DAG_ID,),
    )


def task_states(stack: AirflowStack, backfill_id: int) -> list[tuple]:
    return stack.query(
        "SELECT ti.run_id, ti.task_id, ti.state, ti.try_number, ti.hostname FROM task_instance ti "
        "JOIN dag_run dr ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = %s "
        "ORDER BY 1, 2",
        (backfill_id,),
    )
