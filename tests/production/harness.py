"""A real Airflow (scheduler, dag-processor, triggerer, api-server, optional Celery workers) as subprocesses.

Used by the production tests: everything runs out of process, exactly as deployed, against PostgreSQL,
Redis, Azurite and the Graph emulator. Every process gets its own process group and log file; ``stop()``
sends SIGTERM to the group, then SIGKILL, and finally kills any descendant that escaped the group.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")
PG_DSN = "host=127.0.0.1 port=5432 user=postgres"
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/{db}"
REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
DAG_ID = "direct_routing_calls"
TABLE = "direct_routing_calls"

# The scaled Graph: budget 20 requests / 5 s (Graph's 50/60 s), client limiter 18 / 5 s (README's 45/50).
EMULATOR_BUDGET = (20, 5.0)
CLIENT_LIMIT = 18
EMULATOR_ROWS_PER_DAY = 20_000  # weekdays need 33 pages (24 hourly slices, the busy ones 2 pages)
EMULATOR_SEED = 20261127
EMULATOR_FAULTS = [
    {"kind": "unavailable", "rate": 0.03},
    {"kind": "throttle", "rate": 0.02, "retry_after": 0.5},
    {"kind": "reset", "rate": 0.02},
    {"kind": "gateway_timeout", "rate": 0.01},
]


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def tail(path: Path, lines: int = 60) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return f"(no {path})"
    return "\n".join(text[-lines:])


# --- processes ---------------------------------------------------------------------------------------


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    children, found, todo = _children_map(), [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class ManagedProcess:
    """One long-running subprocess in its own process group, with its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log_dir: Path, cwd: Path = ROOT):
        self.name = name
        self.log_path = log_dir / f"{name}.log"
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            argv,
            env=env,
            cwd=cwd,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log(f"started {name} (pid {self.popen.pid}): {' '.join(argv[1:4])}")

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self, grace: float = 15.0) -> None:
        pid = self.popen.pid
        family = [pid, *descendants(pid)] if self.running() else descendants(pid)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(_alive(p) for p in family):
            with contextlib.suppress(ChildProcessError):
                self.popen.poll()
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for other in family + descendants(pid):  # anything that left the group (setsid) but is ours
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(other, signal.SIGKILL)
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.popen.wait(timeout=10)
        self._log.close()


# --- PostgreSQL and Redis ----------------------------------------------------------------------------


def create_database() -> str:
    import psycopg2

    name = f"airflow_it_{uuid.uuid4().hex[:10]}"
    conn = psycopg2.connect(PG_DSN + " dbname=postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    conn.close()
    log(f"created PostgreSQL database {name}")
    return name


def drop_database(name: str) -> None:
    import psycopg2

    conn = psycopg2.connect(PG_DSN + " dbname=postgres")
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()
    log(f"dropped PostgreSQL database {name}")


def query(db: str, sql: str, params: tuple = ()) -> list[tuple]:
    import psycopg2

    conn = psycopg2.connect(PG_DSN + f" dbname={db}")
    try:
        with conn.cursor() as cur:
            cur.execute(sql, params)
            return cur.fetchall() if cur.description else []
    finally:
        conn.close()


def pick_redis_db() -> int:
    """An empty Redis database number, from the top down (0 is everybody's default)."""
    import redis

    for number in range(15, 0, -1):
        if redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number).dbsize() == 0:
            return number
    raise RuntimeError("no empty Redis database among 1..15")


def flush_redis_db(number: int) -> None:
    import redis

    redis.Redis(host=REDIS_HOST, port=REDIS_PORT, db=number).flushdb()


# --- Graph emulator ----------------------------------------------------------------------------------


class EmulatorProcess:
    """``python -m graph_emulator serve`` with throttling and random faults, plus its admin endpoints."""

    def __init__(
        self,
        workdir: Path,
        port: int,
        *,
        rows_per_day: int = EMULATOR_ROWS_PER_DAY,
        seed: int = EMULATOR_SEED,
        budget: tuple[int, float] = EMULATOR_BUDGET,
        faults: list[dict] | None = None,
    ):
        self.budget = budget
        info_file = workdir / "emulator-info.json"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(str(ROOT / p) for p in ("plugins", "include", "dags")))
        argv = [
            sys.executable,
            "-m",
            "graph_emulator",
            "serve",
            "--port",
            str(port),
            "--rows-per-day",
            str(rows_per_day),
            "--seed",
            str(seed),
            "--budget",
            f"{budget[0]}/{budget[1]:g}",
            "--info-file",
            str(info_file),
            "--faults",
            json.dumps(EMULATOR_FAULTS if faults is None else faults),
        ]
        self.process = ManagedProcess("graph-emulator", argv, env, workdir)
        deadline = time.monotonic() + 30
        while not info_file.exists() or not info_file.read_text().strip():
            if not self.process.running() or time.monotonic() > deadline:
                raise RuntimeError(f"the Graph emulator did not start:\n{tail(self.process.log_path)}")
            time.sleep(0.1)
        time.sleep(0.1)
        self.info = json.loads(info_file.read_text())

    def _admin(self, path: str, body: dict | None = None) -> dict:
        import ssl

        context = ssl.create_default_context(cafile=self.info["ca_path"])
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            self.info["graph_root"] + path, data=data, method="POST" if data is not None else "GET"
        )
        with urllib.request.urlopen(request, context=context, timeout=30) as response:
            return json.loads(response.read())

    def stats(self) -> dict:
        return self._admin("/_emulator/stats")

    def reset_stats(self) -> None:
        self._admin("/_emulator/reset_stats", {})

    def count(self, day: date) -> int:
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        end = start + timedelta(days=1)
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        return self._admin(f"/_emulator/count?from={start.strftime(fmt)}&to={end.strftime(fmt)}")["count"]

    def msgraph_connection(self) -> dict:
        info = self.info
        return {
            "conn_type": "msgraph",
            "login": info["client_id"],
            "password": info["client_secret"],
            "host": info["graph_root"],
            "extra": {
                "tenant_id": info["tenant_id"],
                "authority": info["authority"],
                "verify": info["ca_path"],
                "requests_per_minute": CLIENT_LIMIT,
                "rate_limit_window_s": self.budget[1],
            },
        }

    def stop(self) -> None:
        self.process.stop(grace=5)


# --- Airflow -----------------------------------------------------------------------------------------


def airflow_env(
    home: Path, database: str, executor: str, api_port: int, ports: list[int], extra: dict[str, str]
) -> dict[str, str]:
    """The environment every Airflow process of one stack shares (secrets identical across processes)."""
    from cryptography.fernet import Fernet

    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("plugins", "include", "dags")),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": PG_URL.format(db=database),
            "AIRFLOW__CORE__EXECUTOR": executor,
            "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
            "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            "AIRFLOW__CORE__PARALLELISM": "4",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{api_port}/execution/",
            # The scheduler signs each workload's token; the api-server's Execution API checks it: one secret.
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
            "AIRFLOW__API__SECRET_KEY": secrets.token_urlsafe(32),
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(api_port),
            "AIRFLOW__API__BASE_URL": f"http://127.0.0.1:{api_port}",
            "AIRFLOW__API__WORKERS": "1",
            # Backfill runs only: no scheduled run for the latest interval when the DAG is unpaused (see tests).
            "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            "AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES": "1",
            "AIRFLOW__DAG_PROCESSOR__PRINT_STATS_INTERVAL": "300",
            # Log servers on free ports: 8793/8794 may be taken by another Airflow on this machine.
            "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(ports[0]),
            "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(ports[1]),
        }
    )
    env.update(extra)
    return env


class AirflowStack:
    """An isolated Airflow (home, PostgreSQL database, ports) whose components run as subprocesses."""

    def __init__(self, home: Path, executor: str, free_port, extra_env: dict[str, str] | None = None):
        self.home = home
        self.log_dir = home / "process-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.executor = executor
        self.processes: list[ManagedProcess] = []
        self.database = create_database()
        self.api_port = free_port()
        self.env = airflow_env(
            home, self.database, executor, self.api_port, [free_port(), free_port()], extra_env or {}
        )
        self.cli_log = self.log_dir / "cli.log"

    # -- commands -----------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 240, check: bool = True, env: dict[str, str] | None = None) -> str:
        started = time.monotonic()
        try:
            result = subprocess.run(
                [AIRFLOW, *args],
                env=dict(self.env, **(env or {})),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=timeout,
                stdin=subprocess.DEVNULL,
            )
        except subprocess.TimeoutExpired as error:
            raise RuntimeError(f"`airflow {' '.join(args)}` did not finish in {timeout} s") from error
        seconds = time.monotonic() - started
        with open(self.cli_log, "a") as handle:
            handle.write(
                f"$ airflow {' '.join(args)}  # rc={result.returncode} {seconds:.1f}s\n"
                f"{result.stdout}\n{result.stderr}\n"
            )
        if check and result.returncode != 0:
            raise RuntimeError(
                f"`airflow {' '.join(args)}` failed (rc={result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result.stdout

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> ManagedProcess:
        process = ManagedProcess(name, [AIRFLOW, *args], env or self.env, self.log_dir)
        self.processes.append(process)
        return process

    def start_core(self) -> None:
        self.start("api-server", "api-server", "--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1")
        self.start("scheduler", "scheduler")
        self.start("dag-processor", "dag-processor")
        self.start("triggerer", "triggerer")

    def check_alive(self) -> None:
        for process in self.processes:
            if not process.running():
                raise RuntimeError(f"{process.name} exited with {process.popen.returncode}:\n{tail(process.log_path)}")

    # -- readiness ----------------------------------------------------------------------------------
    def wait_api(self, timeout: float = 120) -> None:
        url = f"http://127.0.0.1:{self.api_port}/execution/health"
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the api-server did not answer {url} in {timeout} s")
            time.sleep(1)

    def wait_dag(self, dag_id: str = DAG_ID, timeout: float = 180) -> None:
        """Until the dag-processor has serialized the DAG; a parse error fails at once with its traceback."""
        deadline = time.monotonic() + timeout
        while True:
            self.check_alive()
            with contextlib.suppress(Exception):  # tables may not exist yet for a moment
                errors = query(self.database, "SELECT filename, stacktrace FROM import_error")
                if errors:
                    raise AssertionError(f"DAG import errors: {errors}")
                if query(self.database, "SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{dag_id} was not parsed in {timeout} s")
            time.sleep(1)

    def is_paused(self, dag_id: str = DAG_ID) -> bool:
        return bool(query(self.database, "SELECT is_paused FROM dag WHERE dag_id = %s", (dag_id,))[0][0])

    # -- backfills ----------------------------------------------------------------------------------
    def backfill(self, first: date, last: date, *, reprocess: str | None = None, max_active_runs: int = 4) -> int:
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
        self.cli(*args)
        return query(self.database, "SELECT max(id) FROM backfill WHERE dag_id = %s", (DAG_ID,))[0][0]

    def run_states(self, backfill_id: int) -> dict[str, str]:
        rows = query(self.database, "SELECT run_id, state FROM dag_run WHERE backfill_id = %s", (backfill_id,))
        return dict(rows)

    def wait_backfill(self, backfill_id: int, runs: int, timeout: float) -> dict[str, str]:
        """Until the backfill's ``runs`` DAG runs have all finished; returns run_id -> state."""
        deadline, last_report = time.monotonic() + timeout, 0.0
        while True:
            self.check_alive()
            states = self.run_states(backfill_id)
            finished = [s for s in states.values() if s in ("success", "failed")]
            if len(states) == runs and len(finished) == runs:
                return states
            # The DAG retries after 5 minutes (exponential): a failed try would only run the clock out.
            broken = query(
                self.database,
                "SELECT ti.run_id, ti.task_id, ti.state, ti.try_number FROM task_instance ti JOIN dag_run dr "
                "ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = %s "
                "AND ti.state IN ('up_for_retry', 'failed', 'upstream_failed')",
                (backfill_id,),
            )
            if broken:
                raise AssertionError(f"backfill {backfill_id}: task tries failed (no waiting for retries): {broken}")
            if time.monotonic() - last_report > 20:
                tis = query(
                    self.database,
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

    def wait_backfill_completed(self, backfill_id: int, timeout: float = 90) -> None:
        """The scheduler marks a finished backfill complete every 30 s; a new one needs that first."""
        deadline = time.monotonic() + timeout
        while not query(self.database, "SELECT completed_at FROM backfill WHERE id = %s", (backfill_id,))[0][0]:
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"backfill {backfill_id} not marked complete after {timeout} s")
            time.sleep(1)

    def non_backfill_runs(self) -> list[tuple]:
        return query(
            self.database,
            "SELECT run_id, run_type, state FROM dag_run WHERE dag_id = %s AND backfill_id IS NULL",
            (DAG_ID,),
        )

    def task_states(self, backfill_id: int) -> list[tuple]:
        return query(
            self.database,
            "SELECT ti.run_id, ti.task_id, ti.state, ti.try_number, ti.hostname FROM task_instance ti "
            "JOIN dag_run dr ON dr.run_id = ti.run_id AND dr.dag_id = ti.dag_id WHERE dr.backfill_id = %s "
            "ORDER BY 1, 2",
            (backfill_id,),
        )

    # -- diagnosis and teardown -----------------------------------------------------------------------
    def diagnosis(self, lines: int = 40) -> str:
        parts = [f"===== {self.executor} stack, home {self.home}, database {self.database}"]
        for process in self.processes:
            parts.append(
                f"----- {process.name} ({'running' if process.running() else 'exited'}): {process.log_path}\n"
                f"{tail(process.log_path, lines)}"
            )
        parts.append(f"----- cli: {self.cli_log}\n{tail(self.cli_log, lines)}")
        with contextlib.suppress(Exception):
            bad = query(
                self.database,
                "SELECT dag_id, run_id, task_id, state, try_number FROM task_instance "
                "WHERE state NOT IN ('success', 'skipped') ORDER BY run_id",
            )
            parts.append(f"----- task instances not successful: {bad}")
            for dag_id, run_id, task_id, _state, _try in bad[:4]:
                for attempt in sorted(
                    (self.home / "logs").glob(f"dag_id={dag_id}/run_id={run_id}/task_id={task_id}/*.log")
                ):
                    parts.append(f"----- {attempt}\n{tail(attempt, lines)}")
        return "\n".join(parts)

    def stop(self) -> None:
        for process in reversed(self.processes):
            try:
                process.stop()
            except Exception as error:  # keep stopping the others
                log(f"stopping {process.name} failed: {error!r}")
        self.processes.clear()
        drop_database(self.database)


# --- the lake ----------------------------------------------------------------------------------------


def lake_fs(connection_string: str):
    import logging

    from adlfs import AzureBlobFileSystem

    logging.getLogger("azure").setLevel(logging.WARNING)  # the SDK logs every HTTP request at INFO

    return AzureBlobFileSystem(connection_string=connection_string, use_listings_cache=False, skip_instance_cache=True)


def partition_folder(container: str, day: date) -> str:
    return f"{container}/lake/{TABLE}/call_date={day.isoformat()}"


def read_lake(fs, container: str) -> dict[date, dict]:
    """Every committed partition: rows read back, the file's sha256 and bytes, its manifest and _dq.json."""
    import pyarrow.parquet as pq

    result: dict[date, dict] = {}
    base = f"{container}/lake/{TABLE}"
    for folder in sorted(fs.ls(base, detail=False)):
        name = folder.rstrip("/").rsplit("/", 1)[-1]
        day = date.fromisoformat(name.split("=", 1)[1])
        files = {entry.rsplit("/", 1)[-1] for entry in fs.ls(folder, detail=False)}
        data = fs.cat_file(f"{folder}/part-0.parquet")
        manifest = json.loads(fs.cat_file(f"{folder}/_manifest.json"))
        dq = json.loads(fs.cat_file(f"{folder}/_dq.json")) if "_dq.json" in files else None
        result[day] = {
            "files": files,
            "rows": pq.read_table(io.BytesIO(data)).num_rows,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "manifest": manifest,
            "dq": dq,
        }
    return result


class LakeReader(threading.Thread):
    """Loops over the lake like a consumer: list ``**/*.parquet``, one whole-object GET each, count rows."""

    def __init__(self, fs, container: str, expected: dict[date, int], pause: float = 0.1):
        super().__init__(name="lake-reader", daemon=True)
        self.fs, self.container, self.expected, self.pause = fs, container, expected, pause
        self.stop_event = threading.Event()
        self.passes = 0
        self.reads = 0
        self.violations: list[str] = []
        self.etags: dict[date, set[str]] = {day: set() for day in expected}

    def run(self) -> None:
        import pyarrow.parquet as pq

        while not self.stop_event.is_set():
            try:
                self.fs.invalidate_cache()
                listing = self.fs.glob(f"{self.container}/lake/**/*.parquet", detail=True)
                seen: dict[date, int] = {}
                for path, info in listing.items():
                    day = date.fromisoformat(path.split("call_date=", 1)[1].split("/", 1)[0])
                    data = self.fs.cat_file(path)  # one GET of the whole object: one consistent version
                    seen[day] = seen.get(day, 0) + pq.read_table(io.BytesIO(data)).num_rows
                    self.reads += 1
                    if info.get("etag"):
                        self.etags.setdefault(day, set()).add(str(info["etag"]))
                if seen != self.expected:
                    wrong = {
                        str(d): (seen.get(d), self.expected.get(d))
                        for d in set(seen) | set(self.expected)
                        if seen.get(d) != self.expected.get(d)
                    }
                    self.violations.append(f"pass {self.passes + 1}: (seen, expected) rows differ: {wrong}")
            except Exception as error:  # any failure to read is a violation, never retried away
                self.violations.append(f"pass {self.passes + 1}: {type(error).__name__}: {error}")
            self.passes += 1
            self.stop_event.wait(self.pause)

    def stop(self) -> None:
        self.stop_event.set()
        self.join(timeout=60)


# --- one scenario ------------------------------------------------------------------------------------


def backfill_days(days: int = 14, end_days_ago: int = 4) -> list[date]:
    """``days`` consecutive UTC days ending ``end_days_ago`` days ago (well inside Graph's 150-day retention)."""
    last = datetime.now(UTC).date() - timedelta(days=end_days_ago)
    return [last - timedelta(days=days - 1 - i) for i in range(days)]


def lake_env(emulator: EmulatorProcess, connection_string: str, container: str) -> dict[str, str]:
    """Connections and Variables exactly as a deployment would set them through the environment."""
    return {
        "AIRFLOW_CONN_MSGRAPH_DEFAULT": json.dumps(emulator.msgraph_connection()),
        "AIRFLOW_CONN_AZURE_LAKE": json.dumps({"conn_type": "wasb", "extra": {"connection_string": connection_string}}),
        "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": f"abfs://azure_lake@{container}/lake",
        "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": "0",
    }


def start_stack(home: Path, executor: str, free_port, env: dict[str, str], *, celery_workers: int = 0) -> AirflowStack:
    """Migrate, create the pool, start every component, wait until the DAG is parsed, unpause it.

    Unpausing is required: a paused DAG's backfill runs are created but stay ``queued`` and none of their
    tasks is scheduled (seen on 3.3.2). The stacks run with ``[scheduler] use_job_schedule = False`` so that
    unpausing does not also create the scheduled run of the latest interval (catchup=False), which with
    settle hours 0 would pull yesterday and write a 15th partition.
    """
    from call_logs.config import POOL, POOL_DOC

    stack = AirflowStack(home, executor, free_port, env)
    started = time.monotonic()
    try:
        if executor == "CeleryExecutor":
            redis_db = pick_redis_db()
            flush_redis_db(redis_db)
            stack.redis_db = redis_db
            stack.env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS_HOST}:{REDIS_PORT}/{redis_db}",
                    # Explicit driver: SQLAlchemy 2.1's default for postgresql:// is psycopg 3, not installed.
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + PG_URL.format(db=stack.database),
                }
            )
            log(f"Celery broker: Redis database {redis_db}")
        stack.cli("db", "migrate")
        stack.cli("pools", "set", POOL, "1", POOL_DOC)
        stack.start_core()
        for number in range(1, celery_workers + 1):
            worker_env = dict(stack.env, AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT=str(free_port()))
            stack.start(
                f"celery-worker-w{number}",
                "celery",
                "worker",
                "--concurrency",
                "2",
                "--celery-hostname",
                f"w{number}@%h",
                env=worker_env,
            )
        stack.wait_api()
        stack.wait_dag()
        if not stack.is_paused():
            raise AssertionError("the DAG should start paused ([core] dags_are_paused_at_creation)")
        stack.cli("dags", "unpause", DAG_ID)
        log(f"{executor} stack ready in {time.monotonic() - started:.1f} s (home {home})")
    except BaseException:
        print(stack.diagnosis(), flush=True)
        stop_stack(stack)
        raise
    return stack


def stop_stack(stack: AirflowStack) -> None:
    try:
        stack.stop()
    finally:
        redis_db = getattr(stack, "redis_db", None)
        if redis_db is not None:
            flush_redis_db(redis_db)


def snapshot(lake: dict[date, dict]) -> dict[date, dict]:
    """What must be identical between runs and executors: rows and the data file's bytes."""
    return {day: {"rows": part["rows"], "sha256": part["sha256"]} for day, part in lake.items()}


def check_lake(lake: dict[date, dict], days: list[date], counts: dict[date, int]) -> list[str]:
    """Problems with the lake against the emulator's ground truth (empty when all is well)."""
    problems = []
    if sorted(lake) != days:
        problems.append(f"partitions {sorted(map(str, lake))} != backfilled days {list(map(str, days))}")
    for day in days:
        part = lake.get(day)
        if part is None:
            continue
        manifest, dq = part["manifest"], part["dq"]
        if part["rows"] != counts[day]:
            problems.append(f"{day}: {part['rows']} rows in the file, the emulator served {counts[day]}")
        if manifest["rows"] != counts[day]:
            problems.append(f"{day}: manifest says {manifest['rows']} rows, the emulator served {counts[day]}")
        if manifest["file"]["sha256"] != part["sha256"]:
            problems.append(f"{day}: manifest sha256 does not match the data file")
        if dq is None:
            problems.append(f"{day}: no _dq.json")
        else:
            if dq["status"] not in ("pass", "warn"):
                problems.append(f"{day}: _dq.json status {dq['status']}: {dq['checks']}")
            if dq["file"]["sha256"] != part["sha256"]:
                problems.append(f"{day}: _dq.json judged another file than the one committed")
    return problems
