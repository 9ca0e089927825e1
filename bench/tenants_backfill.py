"""A multi-tenant backfill on the CeleryExecutor: its wall against its ideal, with 1 and 2 workers, and what the
scheduler and the metadata database spend per tenant-day (to size a deployment of many tenants).

``python bench/tenants_backfill.py`` (6 tenants x 3 days, 1 then 2 Celery workers, then an idle stack of 500 tenants'
DAGs; ``--smoke``: 2 tenants x 1 day, 1 worker, about 2 minutes). It runs the production tests' stack
(``tests/production``: scheduler, dag-processor, triggerer, api-server, ``celery worker --concurrency 2`` each; a
PostgreSQL metadata database that is also Celery's result backend; a Redis broker) against one Graph emulator process
serving every tenant with its own volume, seed and budget (``--budget`` requests per rolling window, per tenant; each
tenant's ``msgraph_<slug>`` connection's limiter at ``--client-limit`` per the same window) and ``--latency`` seconds a
page. The lake is a local ``file://`` folder. Each worker count gets a fresh stack (its own metadata database, Redis
database, ``AIRFLOW_HOME`` and lake) and the emulator's counters and budgets reset; the tenants and days are the same,
so every configuration pulls the same days as first runs.

For each configuration:

* the stack idles ``--idle-s`` seconds first (DAGs unpaused, nothing to run): the scheduler's CPU and the database's
  counters per second then are the **idle rate**, what a deployment pays whatever its tenants do;
* every tenant's ``airflow backfill create`` starts at once (threads), and the script polls the metadata database
  every ``--poll-s`` seconds (two queries a poll, counted) until every run has ended;
* **wall** = from the first ``backfill create`` command to the last DAG run's ``end_date``; **ideal** = the slowest
  tenant's ``requests answered / (budget / window)`` (Graph's budget is per tenant, so tenants pull side by side:
  the sum over tenants is printed for contrast only);
* **per tenant-day**: task instances (all, and those sent to a Celery worker), the database's transactions,
  statements (estimated from a sample, below), tuples read and written, connections, and the CPU seconds of the
  scheduler and the other components: each **incremental** = (run window's delta - idle rate x window) / tenant-days;
* **statements**: PostgreSQL has no per-database statement counter without ``pg_stat_statements`` preloaded (it is
  not, on a shared server this script does not restart), so the stack's own database logs a random sample of its
  statements (``ALTER DATABASE ... SET log_min_duration_sample = 0, log_statement_sample_rate = --statement-sample``;
  the database is dropped afterwards) and the script counts that database's sampled ``statement:`` and
  ``execute`` lines in the server log (``--pg-log``) divided by the rate; when that log cannot be read the row says
  so and is left empty;
* then (``--idle-tenants``, default 500; 0: none) a stack whose tenants file declares that many tenants, their DAGs
  parsed and unpaused, runs nothing for ``--idle-s``: its idle rate is the fixed part at that many DAGs, which the
  printed arithmetic for 500 tenants uses (a column of the table of its own);
* **valid**: every run and task succeeded at its first try, every tenant-day's file and manifest hold exactly the
  emulator's count of that tenant's calls of that day (no id twice), its quality check passed, no 429 and no tenant
  over its budget in any window. A configuration that is not valid prints why and the script exits 1 (never on a
  timing).

The load average (``os.getloadavg``) is printed at each configuration's start and end: the machine may be shared.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import re
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for _folder in (ROOT, ROOT / "plugins", ROOT / "include", ROOT / "dags"):
    if str(_folder) not in sys.path:
        sys.path.insert(0, str(_folder))
# call_logs imports Airflow, which reads its configuration at import: a scratch home, never the user's ~/airflow.
# The stacks get their own environment (``airflow_env`` drops every AIRFLOW* variable of this process).
_SCRATCH_HOME = tempfile.mkdtemp(prefix="bench-tenants-home-")
atexit.register(shutil.rmtree, _SCRATCH_HOME, ignore_errors=True)  # also after --help or an error
os.environ["AIRFLOW_HOME"] = _SCRATCH_HOME
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_SCRATCH_HOME}/airflow.db"

from graph_emulator.config import TenantConfig  # noqa: E402
from graph_emulator.process import EmulatorProcess  # noqa: E402
from graph_emulator.reports import DIRECT_ROUTING_CALLS  # noqa: E402

from tests.helpers import free_port  # noqa: E402
from tests.production import services  # noqa: E402
from tests.production.backfill import backfill_days, create_backfill, task_instances  # noqa: E402
from tests.production.lake import check_lake, read_lake  # noqa: E402
from tests.production.processes import descendants, log  # noqa: E402
from tests.production.scenario import EMULATOR_SEED, day_count, tenants_env  # noqa: E402
from tests.production.stack import start_stack, stop_stack  # noqa: E402

TABLE = "direct_routing_calls"
TENANT_ID = "7b1e0c2a-0000-4000-8000-{:012d}"
PG_LOG = "/var/log/postgresql/postgresql-15-main.log"
STATS_FLUSH_S = 11.0  # an idle backend flushes its pending statistics within 10 s (PostgreSQL 15)
TENANT_DAYS_AT_SCALE = 500  # the extrapolation's tenants, one day each per day
CLK_TCK = os.sysconf("SC_CLK_TCK")
PG_COUNTERS = (
    "xact_commit",
    "xact_rollback",
    "tup_returned",
    "tup_fetched",
    "tup_inserted",
    "tup_updated",
    "tup_deleted",
    "blks_read",
    "blks_hit",
    "sessions",
)
WORKER_CONCURRENCY = 2  # start_stack's `celery worker --concurrency 2`
COMPONENTS = ("scheduler", "api-server", "dag-processor", "triggerer", "celery workers (tasks)", "emulator")


# --- the stack's database, with a statement sample ------------------------------------------------------------


@dataclass(frozen=True)
class SampledPostgres(services.Postgres):
    """The server the stacks use; each database it creates logs a random ``sample_rate`` of its statements."""

    sample_rate: float = 0.0

    def create_database(self) -> str:
        name = super().create_database()
        if self.sample_rate > 0:
            import psycopg2

            conn = psycopg2.connect(self.dsn())
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'ALTER DATABASE "{name}" SET log_min_duration_sample = 0')
                cur.execute(f'ALTER DATABASE "{name}" SET log_statement_sample_rate = {self.sample_rate:g}')
            conn.close()
        return name


@dataclass(frozen=True)
class LowRedis(services.Redis):
    """The Redis server; a stack takes its lowest empty database from 1 up. ``start_stack`` would take the highest,
    as the production tests' stacks do from 15 down: two stacks of two runs sharing a database share a Celery queue,
    and each one's workers then take the other's tasks (seen here: tasks waited out ``task_queued_timeout``)."""

    def pick_empty_db(self) -> int:
        for number in range(1, 16):
            if self.client(number).dbsize() == 0:
                return number
        raise RuntimeError("no empty Redis database among 1..15")


class StatementLog:
    """Counts one database's sampled statements in the server log between two offsets (None: unreadable)."""

    LINE = re.compile(r"duration: [0-9.]+ ms  (statement: |execute [^:]*: )")

    def __init__(self, path: str, database: str, rate: float):
        self.path, self.marker, self.rate = Path(path), f"@{database} ", rate
        self.problem = None if rate > 0 else "statement sample off (--statement-sample 0)"
        if self.problem is None and not os.access(self.path, os.R_OK):
            self.problem = f"{self.path} is not readable"

    def offset(self) -> int | None:
        return None if self.problem else self.path.stat().st_size

    def sampled(self, start: int | None, end: int | None) -> int | None:
        if self.problem or start is None or end is None or end < start:
            return None  # unreadable, or the log was rotated in between
        with open(self.path, "rb") as handle:
            handle.seek(start)
            text = handle.read(end - start).decode(errors="replace")
        return sum(1 for line in text.splitlines() if self.marker in line and self.LINE.search(line))


# --- snapshots of the database's counters and the components' CPU -----------------------------------------------


def process_cpu_s(pid: int) -> float:
    """CPU seconds of ``pid`` and its live descendants, with their reaped children's (``/proc/<pid>/stat``)."""
    total = 0
    for member in (pid, *descendants(pid)):
        try:
            with open(f"/proc/{member}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return total / CLK_TCK


@dataclass
class Snapshot:
    at: float
    pg: dict[str, int]
    cpu: dict[str, float]
    log_offset: int | None
    tables: dict[str, tuple[int, int]]  # table -> (rows written, scans)


class Probe:
    """Reads one stack's counters; counts its own queries on the stack's database (they are in the counters)."""

    def __init__(self, stack, emulator, statements: StatementLog):
        self.stack, self.emulator, self.statements = stack, emulator, statements
        self.own_queries = 0

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        self.own_queries += 1
        return self.stack.query(sql, params)

    def idle_window(self, seconds: float) -> tuple[Snapshot, Snapshot]:
        """The counters before and after ``seconds`` of the stack doing nothing (its idle rate)."""
        before = self.snapshot()
        log(f"  idle for {seconds:g} s (the idle rate)")
        time.sleep(seconds)
        return before, self.snapshot()

    def snapshot(self) -> Snapshot:
        at = time.monotonic()
        cpu = dict.fromkeys(COMPONENTS, 0.0)
        for process in self.stack.processes:
            name = "celery workers (tasks)" if process.name.startswith("celery-worker") else process.name
            if name in cpu:
                cpu[name] += process_cpu_s(process.popen.pid)
        cpu["emulator"] = process_cpu_s(self.emulator.pid)
        columns = ", ".join(PG_COUNTERS)
        row = self.query(f"SELECT {columns} FROM pg_stat_database WHERE datname = current_database()")[0]
        tables = self.query(
            "SELECT relname, n_tup_ins + n_tup_upd + n_tup_del, coalesce(seq_scan, 0) + coalesce(idx_scan, 0) "
            "FROM pg_stat_user_tables"
        )
        return Snapshot(
            at,
            dict(zip(PG_COUNTERS, (int(v or 0) for v in row), strict=True)),
            cpu,
            self.statements.offset(),
            {name: (int(written), int(scans)) for name, written, scans in tables},
        )


def deltas(first: Snapshot, second: Snapshot, statements: StatementLog) -> dict[str, float | None]:
    """What happened between two snapshots: each counter's difference, seconds, statements (estimated)."""
    out: dict[str, float | None] = {"seconds": second.at - first.at}
    out.update({key: second.pg[key] - first.pg[key] for key in PG_COUNTERS})
    out.update({f"cpu:{key}": second.cpu[key] - first.cpu[key] for key in COMPONENTS})
    sampled = statements.sampled(first.log_offset, second.log_offset)
    out["statements_sampled"] = sampled
    out["statements"] = None if sampled is None else sampled / statements.rate
    return out


# --- one configuration ---------------------------------------------------------------------------------------


def wait_runs(probe: Probe, backfills: dict[str, int], runs_each: int, timeout: float, poll_s: float) -> None:
    """Until every backfill's runs have all ended; a failed or retrying task ends the wait (a retry takes 5 min)."""
    ids = list(backfills.values())
    deadline, last_report = time.monotonic() + timeout, 0.0
    while True:
        probe.stack.check_alive()
        rows = probe.query(
            "SELECT dr.state, count(*), (SELECT count(*) FROM task_instance ti JOIN dag_run r ON r.dag_id = ti.dag_id "
            "AND r.run_id = ti.run_id WHERE r.backfill_id = ANY(%s) AND ti.state IN ('failed', 'upstream_failed', "
            "'up_for_retry')) FROM dag_run dr WHERE dr.backfill_id = ANY(%s) GROUP BY dr.state",
            (ids, ids),
        )
        states = {state: count for state, count, _bad in rows}
        broken = max((bad for *_, bad in rows), default=0)
        if broken:
            raise AssertionError(f"{broken} task instances failed or wait for a retry: {probe.stack.diagnosis(20)}")
        ended = states.get("success", 0) + states.get("failed", 0)
        if ended == runs_each * len(ids):
            return
        if time.monotonic() - last_report > 30:
            log(f"  runs by state: {states}")
            last_report = time.monotonic()
        if time.monotonic() > deadline:
            raise TimeoutError(f"the backfills did not end in {timeout:g} s: {states}")
        time.sleep(poll_s)


def start_tenants_stack(args, name: str, workers: int, tenants: dict[str, str], emulator, postgres, redis, folder):
    """A CeleryExecutor stack whose tenants file declares ``tenants``, their DAGs parsed and unpaused."""
    env = {
        "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": f"file://{folder / 'lake'}",
        "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": "0",
        "AIRFLOW_VAR_PSTN_CALLS_SETTLE_HOURS": "0",
    }
    folder.mkdir(parents=True)
    env |= tenants_env(emulator, tenants, folder / "tenants.yaml", client_limit=args.client_limit)
    load_start = os.getloadavg()
    log(f"{name}: starting the stack (load average {load_start[0]:.2f})")
    started = time.monotonic()
    stack = start_stack(
        folder / "airflow",
        "CeleryExecutor",
        free_port,
        env,
        postgres=postgres,
        redis=redis,
        celery_workers=workers,
        dag_ids=tuple(f"{TABLE}__{slug}" for slug in tenants),
    )
    return stack, time.monotonic() - started, load_start


def run_idle_stack(args, count: int, emulator, postgres, redis, workdir: Path) -> dict:
    """A stack of ``count`` tenants' DAGs (1 worker) that runs nothing: its idle rate at that many DAGs."""
    tenants = tenant_ids(count)
    name = f"idle, {count} tenants' DAGs"
    stack, stack_ready_s, load_start = start_tenants_stack(
        args, name, 1, tenants, emulator, postgres, redis, workdir / f"idle-{count}"
    )
    statements = StatementLog(args.pg_log, stack.database, args.statement_sample)
    probe = Probe(stack, emulator, statements)
    try:
        idle0, idle1 = probe.idle_window(args.idle_s)
        dags = probe.query("SELECT count(*) FROM dag WHERE NOT is_paused AND dag_id LIKE %s", (f"{TABLE}__%",))[0][0]
        load_run_end = os.getloadavg()
    finally:
        stop_stack(stack)
    idle = deltas(idle0, idle1, statements)
    return {
        "kind": "idle",
        "name": name,
        "workers": 1,
        "tenants": count,
        "dags_unpaused": dags,
        "stack_ready_s": stack_ready_s,
        "idle": idle,
        "idle_per_s": {key: None if value is None else value / idle["seconds"] for key, value in idle.items()},
        "load": {"start": load_start, "run_start": load_start, "run_end": load_run_end, "end": os.getloadavg()},
        "statement_log": statements.problem or f"{statements.path}, rate {statements.rate:g}",
    }


def run_configuration(args, workers: int, tenants: dict[str, str], emulator, postgres, redis, workdir: Path) -> dict:
    slugs = list(tenants)
    dag_ids = {slug: f"{TABLE}__{slug}" for slug in slugs}
    days = backfill_days(days=args.days)
    folder = workdir / f"workers-{workers}"
    name = f"{workers} Celery worker{'s' if workers > 1 else ''}"
    stack, stack_ready_s, load_start = start_tenants_stack(
        args, name, workers, tenants, emulator, postgres, redis, folder
    )
    statements = StatementLog(args.pg_log, stack.database, args.statement_sample)
    probe = Probe(stack, emulator, statements)
    try:
        idle0, idle1 = probe.idle_window(args.idle_s)
        emulator.reset_stats()  # counters, request logs and every tenant's budget
        load_run_start = os.getloadavg()
        created = datetime.now(UTC)
        clock0 = time.monotonic()
        with ThreadPoolExecutor(len(slugs)) as pool:  # every tenant's backfill created at the same moment
            futures = {
                slug: pool.submit(
                    create_backfill, stack, days[0], days[-1], max_active_runs=args.max_active_runs, dag_id=dag_id
                )
                for slug, dag_id in dag_ids.items()
            }
            backfills = {slug: future.result() for slug, future in futures.items()}
        log(f"  backfills created in {time.monotonic() - clock0:.1f} s: {backfills}")
        wait_runs(probe, backfills, len(days), args.timeout, args.poll_s)
        log(f"  every run ended after {time.monotonic() - clock0:.1f} s; {STATS_FLUSH_S:g} s for the statistics")
        ids = list(backfills.values())
        run_end = probe.query("SELECT max(end_date) FROM dag_run WHERE backfill_id = ANY(%s)", (ids,))[0][0]
        first_created = probe.query("SELECT min(created_at) FROM backfill WHERE id = ANY(%s)", (ids,))[0][0]
        load_run_end = os.getloadavg()
        time.sleep(STATS_FLUSH_S)
        after = probe.snapshot()
        own_queries = probe.own_queries
        stats = emulator.stats()
        busy = probe.query(
            "SELECT coalesce(sum(extract(epoch FROM ti.end_date - ti.start_date)), 0), "
            "avg(extract(epoch FROM ti.start_date - ti.queued_dttm)) FROM task_instance ti JOIN dag_run dr "
            "ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id WHERE dr.backfill_id = ANY(%s) "
            "AND ti.external_executor_id IS NOT NULL",
            (ids,),
        )[0]
        tis = probe.query(
            "SELECT ti.task_id, ti.state, count(*), sum(ti.try_number), count(ti.external_executor_id) "
            "FROM task_instance ti JOIN dag_run dr ON dr.dag_id = ti.dag_id AND dr.run_id = ti.run_id "
            "WHERE dr.backfill_id = ANY(%s) GROUP BY 1, 2 ORDER BY 1, 2",
            (ids,),
        )
        requeued = probe.query(
            "SELECT count(*) FROM log WHERE event LIKE 'stuck in queued%%' AND dag_id = ANY(%s)",
            (list(dag_ids.values()),),
        )[0][0]
        run_states = probe.query(
            "SELECT dag_id, state, count(*) FROM dag_run WHERE backfill_id = ANY(%s) GROUP BY 1, 2", (ids,)
        )
        all_runs = probe.query("SELECT count(*) FROM dag_run")[0][0]
        extracts = task_instances(stack, ids, "extract")
        worker_of = stack.celery_tasks_received()
    finally:
        stop_stack(stack)
    load_end = os.getloadavg()

    # --- valid? ---
    problems = []
    tenant_days = len(slugs) * len(days)
    if sorted((d, s, c) for d, s, c in run_states) != sorted((dag_ids[s], "success", len(days)) for s in slugs):
        problems.append(f"runs not all successful: {run_states}")
    if all_runs != tenant_days:
        problems.append(f"{all_runs} DAG runs in the database, {tenant_days} backfilled")
    if any(ti["state"] != "success" or ti["try_number"] != 1 for ti in extracts) or len(extracts) != tenant_days:
        problems.append(f"extracts not all successful at the first try: {extracts}")
    from fsspec.implementations.local import LocalFileSystem

    fs = LocalFileSystem()
    rows_written = 0
    for slug in slugs:
        counts = {day: day_count(emulator, day, DIRECT_ROUTING_CALLS, tenant=tenants[slug]) for day in days}
        try:
            parts = read_lake(fs, str(folder), TABLE, tenant=slug, with_ids=True)
        except FileNotFoundError as error:
            problems.append(f"{slug}: no lake folder ({error})")
            continue
        problems += [f"{slug}: {problem}" for problem in check_lake(parts, days, counts)]
        problems += [
            f"{slug} {day}: an id twice" for day, part in parts.items() if len(set(part["ids"])) != part["rows"]
        ]
        rows_written += sum(part["rows"] for part in parts.values())
        figures = stats["tenants"][tenants[slug]]
        collection = figures["collections"][DIRECT_ROUTING_CALLS]
        if figures["throttled"] or collection["max_in_window"] > collection["limit"]:
            problems.append(f"{slug}: {figures['throttled']} x 429, most in a window {collection['max_in_window']}")
    if requeued:
        problems.append(
            f"{requeued} task instances waited out [scheduler] task_queued_timeout and were queued again: their Celery "
            "message went to another stack's worker (a Redis database shared with another run?)"
        )
    if stats["throttled"]:
        problems.append(f"{stats['throttled']} x 429 in all")

    # --- figures ---
    rate = args.budget[0] / args.budget[1]
    answered = {
        slug: stats["tenants"][tenants[slug]]["data_requests"] - stats["tenants"][tenants[slug]]["throttled"]
        for slug in slugs
    }
    if not all(answered.values()):
        problems.append(f"a tenant made no request: {answered}")
    ideal = {slug: max(answered[slug], 1) / rate for slug in slugs}
    slowest = max(slugs, key=lambda slug: ideal[slug])
    wall = (run_end - created).total_seconds()
    idle = deltas(idle0, idle1, statements)
    window = deltas(idle1, after, statements)
    spans, pulls, waits = {}, {}, {}
    for slug in slugs:
        mine = [ti for ti in extracts if ti["dag_id"] == dag_ids[slug]]
        pulls[slug] = sum((ti["end"] - ti["start"]).total_seconds() for ti in mine)
        spans[slug] = (max(ti["end"] for ti in mine) - first_created).total_seconds() if mine else None
        waits[slug] = 0.0
        for day in days:
            manifest = folder / "lake" / TABLE / f"tenant={slug}" / f"call_date={day.isoformat()}" / "_manifest.json"
            if manifest.exists():
                waits[slug] += json.loads(manifest.read_text())["graph"].get("throttle_wait_s", 0.0)

    def incremental(key: str) -> float | None:
        if window[key] is None or idle[key] is None:
            return None
        return (window[key] - idle[key] / idle["seconds"] * window["seconds"]) / tenant_days

    def idle_per_s(key: str) -> float | None:
        return None if idle[key] is None else idle[key] / idle["seconds"]

    ti_total = sum(count for _task, _state, count, _tries, _sent in tis)
    ti_sent = sum(sent for *_, sent in tis)
    tables = sorted(
        (
            (name, after.tables[name][0] - idle1.tables.get(name, (0, 0))[0])
            for name in after.tables
            if after.tables[name][0] - idle1.tables.get(name, (0, 0))[0] > 0
        ),
        key=lambda item: -item[1],
    )
    result = {
        "kind": "backfill",
        "name": name,
        "workers": workers,
        "tenants": len(slugs),
        "days": len(days),
        "tenant_days": tenant_days,
        "valid": not problems,
        "problems": problems,
        "stack_ready_s": stack_ready_s,
        "wall_s": wall,
        "wall_from_backfill_rows_s": (run_end - first_created).total_seconds(),
        "ideal_s": ideal[slowest],
        "ideal_sum_s": sum(ideal.values()),
        "slowest": slowest,
        "requests": answered,
        "requests_total": sum(answered.values()),
        "rows_written": rows_written,
        "max_in_window": {
            slug: stats["tenants"][tenants[slug]]["collections"][DIRECT_ROUTING_CALLS]["max_in_window"]
            for slug in slugs
        },
        "throttled": stats["throttled"],
        "tenant_span_s": spans,
        "extract_s": pulls,
        "budget_wait_s": waits,
        "task_instances": [list(row) for row in tis],
        "ti_per_tenant_day": ti_total / tenant_days,
        "slot_busy": float(busy[0]) / (wall * workers * WORKER_CONCURRENCY),
        "queued_to_start_s": None if busy[1] is None else float(busy[1]),
        "ti_sent_per_tenant_day": ti_sent / tenant_days,
        "extracts_per_worker": {
            str(name): sum(1 for ti in extracts if worker_of.get(ti["external_executor_id"] or "") == name)
            for name in sorted(set(worker_of.values()) | {None}, key=str)
        },
        "idle": idle,
        "window": window,
        "idle_per_s": {key: idle_per_s(key) for key in idle if key != "seconds"},
        "per_tenant_day": {key: incremental(key) for key in window if key != "seconds"},
        "gross_per_tenant_day": {
            key: None if value is None else value / tenant_days for key, value in window.items() if key != "seconds"
        },
        "tables_written": tables[:6],
        "own_queries": own_queries,
        "statement_log": statements.problem or f"{statements.path}, rate {statements.rate:g}",
        "load": {"start": load_start, "run_start": load_run_start, "run_end": load_run_end, "end": load_end},
    }
    log(
        f"  {workers} worker(s): wall {wall:.1f} s, ideal {ideal[slowest]:.1f} s ({slowest}), "
        f"valid {not problems}; load {load_run_start[0]:.2f} -> {load_run_end[0]:.2f}"
    )
    return result


# --- the table ----------------------------------------------------------------------------------------------------


def _fmt(value, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, str):
        return value
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:,.{digits}f}"


def print_table(results: list[dict], args) -> None:
    """One table: a column per configuration (the idle-only stack's has its idle rates only)."""
    backfills = [r for r in results if r["kind"] == "backfill"]
    idle_at_scale = next((r for r in results if r["kind"] == "idle"), None)

    def only(function):  # a row of the backfills' figures: the idle-only column has none
        return lambda r: function(r) if r["kind"] == "backfill" else "-"

    def per(*keys: str, digits: int = 1):  # per tenant-day over the idle rate, (idle rate per second)
        def cell(r: dict) -> str:
            idles = [r["idle_per_s"][key] for key in keys]
            rate = "n/a" if None in idles else _fmt(sum(idles), 2 if digits > 1 or sum(idles) < 10 else 1)
            if r["kind"] != "backfill":
                return f"- ({rate}/s)"
            values = [r["per_tenant_day"][key] for key in keys]
            return f"{'n/a' if None in values else _fmt(sum(values), digits)} ({rate}/s)"

        return cell

    def load(r: dict) -> str:
        return f"{r['load']['start'][0]:.2f} / {r['load']['run_start'][0]:.2f} / {r['load']['run_end'][0]:.2f}"

    rows = [
        (
            "tenants x days (= tenant-days)",
            lambda r: (
                f"{r['tenants']} x {r['days']} ({r['tenant_days']})"
                if r["kind"] == "backfill"
                else f"{r['tenants']} DAGs unpaused ({r['dags_unpaused']}), no run"
            ),
        ),
        ("valid (runs, rows vs emulator, dq, 429s)", only(lambda r: "yes" if r["valid"] else "NO")),
        ("load average: stack start / backfill start / end", load),
        (
            "rows written / Graph requests (all tenants)",
            only(lambda r: f"{r['rows_written']:,} / {r['requests_total']:,}"),
        ),
        ("wall s (backfill create -> last run end)", only(lambda r: _fmt(r["wall_s"]))),
        (
            "ideal s: slowest tenant's requests / budget",
            only(lambda r: f"{_fmt(r['ideal_s'])} ({r['slowest']}, {r['requests'][r['slowest']]} reqs)"),
        ),
        ("wall / ideal", only(lambda r: f"{r['wall_s'] / r['ideal_s']:.2f}")),
        ("sum over tenants of requests / budget (contrast)", only(lambda r: _fmt(r["ideal_sum_s"]))),
        ("wall / that sum", only(lambda r: f"{r['wall_s'] / r['ideal_sum_s']:.2f}")),
        (
            "slowest tenant: its extracts' s (of wall)",
            only(lambda r: f"{_fmt(r['extract_s'][r['slowest']])} ({r['extract_s'][r['slowest']] / r['wall_s']:.0%})"),
        ),
        (
            "worker slots busy; mean queued -> start s",
            only(
                lambda r: f"{r['slot_busy']:.0%} of {r['workers'] * WORKER_CONCURRENCY}; {_fmt(r['queued_to_start_s'])}"
            ),
        ),
        (
            "task instances per tenant-day (sent to a worker)",
            only(lambda r: f"{r['ti_per_tenant_day']:.1f} ({r['ti_sent_per_tenant_day']:.1f})"),
        ),
        ("per tenant-day, over the idle rate (idle rate/s):", lambda r: ""),
        ("  DB transactions (commit + rollback)", per("xact_commit", "xact_rollback")),
        ("  DB statements (sampled estimate)", per("statements", digits=0)),
        ("  DB tuples read (returned + fetched)", per("tup_returned", "tup_fetched")),
        ("  DB tuples written (ins + upd + del)", per("tup_inserted", "tup_updated", "tup_deleted")),
        ("  DB blocks touched (hit + read)", per("blks_hit", "blks_read")),
        ("  DB connections opened", per("sessions")),
        ("  scheduler CPU-s", per("cpu:scheduler", digits=2)),
        ("  api-server CPU-s", per("cpu:api-server", digits=2)),
        ("  dag-processor + triggerer CPU-s", per("cpu:dag-processor", "cpu:triggerer", digits=2)),
        ("  Celery workers CPU-s (the tasks)", per("cpu:celery workers (tasks)", digits=2)),
        ("  Graph emulator CPU-s (not Airflow)", per("cpu:emulator", digits=2)),
    ]
    headers = ["", *[r["name"] for r in results]]
    table = [[label, *(cell(r) for r in results)] for label, cell in rows]
    widths = [max(len(line[i]) for line in [headers, *table]) for i in range(len(headers))]
    print()
    print(
        f"Multi-tenant backfill, CeleryExecutor (worker --concurrency {WORKER_CONCURRENCY}, [core] parallelism 4), "
        f"budget {args.budget[0]} / {args.budget[1]:g} s per tenant, client limit {args.client_limit}, "
        f"latency {args.latency:g} s a page, calls per tenant-day {args.rows:,} + {args.rows_step:,} x tenant "
        f"number, max active runs {args.max_active_runs} per backfill"
    )
    for line in [headers, *table]:
        print("  ".join(text.ljust(widths[i]) for i, text in enumerate(line)).rstrip())
    print()
    for r in results:
        print(
            f"{r['name']}: stack ready in {r['stack_ready_s']:.0f} s; idle window {r['idle']['seconds']:.0f} s; "
            f"load at stop {r['load']['end'][0]:.2f}; statement log: {r['statement_log']}"
        )
        if r["kind"] != "backfill":
            continue
        print(
            f"  run window {r['window']['seconds']:.0f} s (its last {STATS_FLUSH_S:g} s wait for the statistics); "
            f"wall from the first backfill row {r['wall_from_backfill_rows_s']:.1f} s; database rate in the window "
            f"{_rate(r, 'xact_commit', 'xact_rollback')} transactions/s, {_rate(r, 'statements')} statements/s "
            f"(idle: {_fmt(r['idle_per_s']['xact_commit'] + r['idle_per_s']['xact_rollback'])}, "
            f"{_fmt(r['idle_per_s']['statements'])})"
        )
        print(f"  requests per tenant {r['requests']}; most in a {args.budget[1]:g} s window {r['max_in_window']}")
        print(
            f"  tenant spans s (first backfill row -> its last extract end) {_round(r['tenant_span_s'])}; "
            f"extracts s {_round(r['extract_s'])}; budget waits (thread-s, up to 4 threads a pull) "
            f"{_round(r['budget_wait_s'])}"
        )
        print(
            f"  extracts per worker {r['extracts_per_worker']}; task instances (task, state, n, tries, sent) "
            f"{r['task_instances']}"
        )
        print(f"  tables most written in the run window (rows): {r['tables_written']}")
        gross = r["gross_per_tenant_day"]
        print(
            f"  gross per tenant-day (idle not removed): transactions "
            f"{_fmt(gross['xact_commit'] + gross['xact_rollback'])}, statements {_fmt(gross['statements'])}, "
            f"scheduler CPU-s {_fmt(gross['cpu:scheduler'], 2)}; this script's own queries in the window: "
            f"{r['own_queries']} (in the transactions, as rollbacks)"
        )
        for problem in r["problems"]:
            print(f"  INVALID: {problem}")
    print()
    scale, day = TENANT_DAYS_AT_SCALE, 86_400
    for r in backfills:
        base = idle_at_scale or r
        per_td, per_s = r["per_tenant_day"], base["idle_per_s"]
        xact = per_td["xact_commit"] + per_td["xact_rollback"]
        xact_idle = (per_s["xact_commit"] + per_s["xact_rollback"]) * day
        statements = (
            "n/a"
            if per_td["statements"] is None or per_s["statements"] is None
            else f"{scale * per_td['statements'] + per_s['statements'] * day:,.0f}"
        )
        print(
            f"Arithmetic, not a measurement: {scale} tenants, one day each a day, at the {r['name']} per-tenant-day "
            f"figures, plus a day of the idle rate of {base['name'] if idle_at_scale else 'the same stack'}:"
        )
        print(
            f"  {scale * r['ti_per_tenant_day']:,.0f} task instances a day ({scale * r['ti_sent_per_tenant_day']:,.0f} "
            f"run on workers); DB transactions a day {scale * xact:,.0f} for the tenant-days + {xact_idle:,.0f} idle = "
            f"{scale * xact + xact_idle:,.0f}; statements {statements}; scheduler CPU-s "
            f"{scale * per_td['cpu:scheduler'] + per_s['cpu:scheduler'] * day:,.0f}"
        )
    print(f"load average at the end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")


def _rate(r: dict, *keys: str) -> str:
    """Per second over a backfill's whole run window (idle not removed)."""
    values = [r["window"][key] for key in keys]
    return "n/a" if None in values else _fmt(sum(values) / r["window"]["seconds"])


def _round(values: dict) -> dict:
    return {key: None if value is None else round(value, 1) for key, value in values.items()}


# --- main -----------------------------------------------------------------------------------------------------------


def tenant_ids(count: int) -> dict[str, str]:
    """slug -> Entra tenant id of the first ``count`` tenants (the same in every stack)."""
    return {f"t{n:03d}": TENANT_ID.format(n) for n in range(1, count + 1)}


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=6)
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--workers", default="1,2", help="Celery worker counts, one stack each; none: no backfill")
    parser.add_argument("--rows", type=int, default=20_000, help="the first tenant's calls a day")
    parser.add_argument("--rows-step", type=int, default=4_000, help="each next tenant's more calls a day")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the emulator takes to answer a page")
    parser.add_argument("--budget", default="20/5", help="requests / window seconds, per tenant (Graph: 50/60)")
    parser.add_argument("--client-limit", type=int, default=None, help="the limiter's requests (default: budget)")
    parser.add_argument(
        "--idle-tenants", type=int, default=500, help="then a stack of this many tenants' DAGs, idle only; 0: none"
    )
    parser.add_argument("--max-active-runs", type=int, default=4, help="per backfill")
    parser.add_argument("--idle-s", type=float, default=60.0, help="seconds idle before the backfill (idle rate)")
    parser.add_argument("--poll-s", type=float, default=5.0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--statement-sample", type=float, default=0.05, help="fraction of statements logged; 0: off")
    parser.add_argument("--pg-log", default=PG_LOG, help="the PostgreSQL server's log file")
    parser.add_argument("--json", type=Path, help="also write every figure to this file")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (lakes, Airflow homes and logs)")
    parser.add_argument("--smoke", action="store_true", help="2 tenants x 1 day, 1 worker, 5,000 rows, idle 10 s")
    args = parser.parse_args(argv)
    if args.smoke:
        args.tenants, args.days, args.workers, args.rows, args.rows_step = 2, 1, "1", 5_000, 2_000
        args.idle_s, args.idle_tenants = 10.0, 0
    requests, window = args.budget.split("/")
    args.budget = (int(requests), float(window))
    args.client_limit = args.client_limit or args.budget[0]
    args.workers = [int(n) for n in str(args.workers).split(",") if n.strip() not in ("", "0", "none")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    tenants = tenant_ids(args.tenants)
    rows = {slug: args.rows + args.rows_step * number for number, slug in enumerate(tenants)}
    workdir = Path(tempfile.mkdtemp(prefix="bench-tenants-"))
    log(f"load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}; work folder {workdir}")
    results = []
    try:
        with services.postgres_server() as found, services.redis_server() as found_redis:
            postgres = SampledPostgres(found.host, found.port, found.user, found.origin, args.statement_sample)
            redis = LowRedis(found_redis.host, found_redis.port, found_redis.origin)
            emulator = EmulatorProcess(
                rows_per_day=1_000,
                seed=EMULATOR_SEED,
                budget=args.budget,
                latency_s=args.latency or None,
                weekday_profile=False,
                tenants=[TenantConfig(tenant_id, rows_per_day=rows[slug]) for slug, tenant_id in tenants.items()],
                workdir=workdir / "emulator",
            ).start()
            try:
                for workers in args.workers:
                    results.append(run_configuration(args, workers, tenants, emulator, postgres, redis, workdir))
                if args.idle_tenants:
                    results.append(run_idle_stack(args, args.idle_tenants, emulator, postgres, redis, workdir))
            finally:
                emulator.stop()
    finally:
        if args.keep:
            log(f"work folder kept: {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(results, args)
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=str))
    return 0 if all(r.get("valid", True) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
