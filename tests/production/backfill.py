"""Driving backfills of a running stack through Airflow's CLI, and polling its metadata database until they end."""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta

from tests.production.processes import log
from tests.production.stack import DAG_ID, AirflowStack


def backfill_days(days: int = 14, end_days_ago: int = 4) -> list[date]:
    """``days`` consecutive UTC days ending ``end_days_ago`` days ago (well inside Graph's 150-day retention)."""
    last = datetime.now(UTC).date() - timedelta(days=end_days_ago)
    return [last - timedelta(days=days - 1 - i) for i in range(days)]


def create_backfill(
    stack: AirflowStack,
    first: date,
    last: date,
    *,
    reprocess: str | None = None,
    max_active_runs: int = 4,
    dag_id: str = DAG_ID,
) -> int:
    """``airflow backfill create`` of ``dag_id`` for the days ``first`` to ``last`` (inclusive); its id."""
    args = [
        "backfill",
        "create",
        "--dag-id",
        dag_id,
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
    return stack.query("SELECT max(id) FROM backfill WHERE dag_id = %s", (dag_id,))[0][0]


def run_states(stack: AirflowStack, backfill_id: int) -> dict[str, str]:
    rows = stack.query("SELECT run_id, state FROM dag_run WHERE backfill_id = %s", (backfill_id,))
    return dict(rows)


def wait_backfill(stack: AirflowStack, backfill_id: int, runs: int, timeout: float) -> dict[str, str]:
    """Until the backfill's ``runs`` DAG runs have all finished; returns run_id -> state."""
    return wait_backfills(stack, {backfill_id: runs}, timeout)[backfill_id]


def wait_backfills(
    stack: AirflowStack, runs: Mapping[int, int], timeout: float, *, may_fail: Collection[int] = ()
) -> dict[int, dict[str, str]]:
    """Until every backfill (id -> its number of DAG runs) has all its runs finished; id -> run_id -> state.

    Backfills of different DAGs may run side by side: a run id is only unique within its DAG. A failed task try
    ends the wait at once, except in the backfills ``may_fail`` names, whose tasks may fail (``failed``,
    ``upstream_failed``) but never wait for a retry (``up_for_retry``): those failures are expected to be final.
    """
    ids = list(runs)
    expected_to_fail = list(may_fail)
    deadline, last_report = time.monotonic() + timeout, 0.0
    while True:
        stack.check_alive()
        states = {backfill_id: run_states(stack, backfill_id) for backfill_id in ids}
        if all(len(states[b]) == runs[b] and all(s in ("success", "failed") for s in states[b].values()) for b in ids):
            return states
        # The DAG retries after 5 minutes (exponential): a failed try would only run the clock out.
        broken = stack.query(
            "SELECT dr.backfill_id, ti.run_id, ti.task_id, ti.state, ti.try_number FROM task_instance ti "
            "JOIN dag_run dr ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = ANY(%s) "
            "AND (ti.state = 'up_for_retry' OR ti.state IN ('failed', 'upstream_failed') "
            "AND NOT dr.backfill_id = ANY(%s))",
            (ids, expected_to_fail),
        )
        if broken:
            raise AssertionError(f"backfills {ids}: task tries failed (no waiting for retries): {broken}")
        if time.monotonic() - last_report > 20:
            tis = stack.query(
                "SELECT dr.backfill_id, ti.task_id, ti.state, count(*) FROM task_instance ti JOIN dag_run dr "
                "ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = ANY(%s) "
                "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3",
                (ids,),
            )
            for backfill_id in ids:
                mine = [t[1:] for t in tis if t[0] == backfill_id]
                log(f"backfill {backfill_id}: runs {sorted(states[backfill_id].values())}; tasks {mine}")
            last_report = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfills {ids} not done after {timeout} s: {states}")
        time.sleep(2)


def wait_backfill_completed(stack: AirflowStack, backfill_id: int, timeout: float = 90) -> None:
    """The scheduler marks a finished backfill complete every 30 s; a new one needs that first."""
    deadline = time.monotonic() + timeout
    while not stack.query("SELECT completed_at FROM backfill WHERE id = %s", (backfill_id,))[0][0]:
        stack.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"backfill {backfill_id} not marked complete after {timeout} s")
        time.sleep(1)


def non_backfill_runs(stack: AirflowStack, dag_ids: Sequence[str] = (DAG_ID,)) -> list[tuple]:
    return stack.query(
        "SELECT dag_id, run_id, run_type, state FROM dag_run WHERE dag_id = ANY(%s) AND backfill_id IS NULL",
        (list(dag_ids),),
    )


def task_states(stack: AirflowStack, backfill_id: int) -> list[tuple]:
    return stack.query(
        "SELECT ti.run_id, ti.task_id, ti.state, ti.try_number, ti.hostname FROM task_instance ti "
        "JOIN dag_run dr ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = %s "
        "ORDER BY 1, 2",
        (backfill_id,),
    )


RECHECK_TASKS = ("recheck", "recheck_quality")  # they skip while re-checks are off, the default


def not_as_expected(stack: AirflowStack, backfill_id: int) -> list[tuple]:
    """The backfill's task instances that did not succeed, but for the re-check tasks, which must have skipped."""
    return [t for t in task_states(stack, backfill_id) if t[2] != ("skipped" if t[1] in RECHECK_TASKS else "success")]


def task_instances(stack: AirflowStack, backfill_ids: Sequence[int], task_id: str) -> list[dict]:
    """Every ``task_id`` instance of these backfills: dag_id, run_id, state, try_number, pool, start, end, and
    where it ran: hostname, pid and ``external_executor_id`` (under the CeleryExecutor, its Celery task id)."""
    rows = stack.query(
        "SELECT ti.dag_id, ti.run_id, ti.state, ti.try_number, ti.pool, ti.start_date, ti.end_date, ti.hostname, "
        "ti.pid, ti.external_executor_id "
        "FROM task_instance ti JOIN dag_run dr ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id "
        "WHERE dr.backfill_id = ANY(%s) AND ti.task_id = %s ORDER BY ti.start_date",
        (list(backfill_ids), task_id),
    )
    names = (
        "dag_id",
        "run_id",
        "state",
        "try_number",
        "pool",
        "start",
        "end",
        "hostname",
        "pid",
        "external_executor_id",
    )
    return [dict(zip(names, row, strict=True)) for row in rows]


def overlapping(intervals: Sequence[dict]) -> list[tuple[dict, dict]]:
    """The pairs of task instances (``start``/``end``, as ``task_instances`` gives them) that ran at the same time."""
    ordered = sorted(intervals, key=lambda ti: ti["start"])
    return [(a, b) for i, a in enumerate(ordered) for b in ordered[i + 1 :] if b["start"] < a["end"]]


def seconds_together(first: Sequence[dict], second: Sequence[dict]) -> float:
    """How long, in all, a task instance of ``first`` and one of ``second`` were running at the same time."""
    total = 0.0
    for a in first:
        for b in second:
            total += max((min(a["end"], b["end"]) - max(a["start"], b["start"])).total_seconds(), 0.0)
    return total
