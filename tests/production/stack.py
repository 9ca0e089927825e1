"""A real Airflow (scheduler, dag-processor, triggerer, api-server, optional Celery workers) as subprocesses.

Used by the production tests: everything runs out of process, exactly as deployed, against PostgreSQL,
Redis, Azurite and the Graph emulator. Each stack has its own AIRFLOW_HOME, metadata database and ports.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.helpers import ROOT
from tests.production.processes import ManagedProcess, log, tail
from tests.production.services import Postgres, Redis

VENV_BIN = Path(sys.executable).parent
AIRFLOW = str(VENV_BIN / "airflow")
DAG_ID = "direct_routing_calls"


def airflow_env(
    home: Path, database_url: str, executor: str, api_port: int, ports: list[int], extra: dict[str, str]
) -> dict[str, str]:
    """The environment every Airflow process of one stack shares (secrets identical across processes)."""
    from cryptography.fernet import Fernet

    env = {key: value for key, value in os.environ.items() if not key.startswith("AIRFLOW")}
    env.update(
        {
            "AIRFLOW_HOME": str(home),
            "PYTHONPATH": os.pathsep.join(str(ROOT / p) for p in ("plugins", "include", "dags")),
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database_url,
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

    def __init__(
        self, home: Path, executor: str, free_port, postgres: Postgres, extra_env: dict[str, str] | None = None
    ):
        self.home = home
        self.log_dir = home / "process-logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.executor = executor
        self.processes: list[ManagedProcess] = []
        self.postgres = postgres
        self.database = postgres.create_database()
        self.api_port = free_port()
        self.env = airflow_env(
            home,
            postgres.sqlalchemy_url(self.database),
            executor,
            self.api_port,
            [free_port(), free_port()],
            extra_env or {},
        )
        self.cli_log = self.log_dir / "cli.log"
        self.redis: Redis | None = None
        self.redis_db: int | None = None

    def query(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Rows of ``sql`` on this stack's metadata database."""
        return self.postgres.query(self.database, sql, params)

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
                errors = self.query("SELECT filename, stacktrace FROM import_error")
                if errors:
                    raise AssertionError(f"DAG import errors: {errors}")
                if self.query("SELECT 1 FROM serialized_dag WHERE dag_id = %s", (dag_id,)):
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{dag_id} was not parsed in {timeout} s")
            time.sleep(1)

    def is_paused(self, dag_id: str = DAG_ID) -> bool:
        return bool(self.query("SELECT is_paused FROM dag WHERE dag_id = %s", (dag_id,))[0][0])

    def variables(self, prefix: str = "") -> dict[str, str]:
        """The Variables stored in the metadata database whose key starts with ``prefix``, decrypted.

        Variables given as ``AIRFLOW_VAR_*`` live in the environment only and are not here.
        """
        from cryptography.fernet import Fernet

        fernet = Fernet(self.env["AIRFLOW__CORE__FERNET_KEY"].encode())
        rows = self.query("SELECT key, val, is_encrypted FROM variable WHERE key LIKE %s", (prefix + "%",))
        return {key: fernet.decrypt(val.encode()).decode() if encrypted else val for key, val, encrypted in rows}

    def celery_tasks_received(self) -> dict[str, str]:
        """Celery task id -> the name of the worker process that received it, from the workers' logs.

        A task instance's ``external_executor_id`` is its Celery task id, so this says which worker ran it (every
        worker of a stack runs on this machine: the task instances' hostnames cannot tell them apart).
        """
        received = {}
        for process in self.processes:
            if process.name.startswith("celery-worker"):
                text = process.log_path.read_text(errors="replace")
                for task_id in re.findall(r"Task \S*execute_workload\[([0-9a-f-]+)\] received", text):
                    received[task_id] = process.name
        return received

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
            bad = self.query(
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
        self.postgres.drop_database(self.database)


def start_stack(
    home: Path,
    executor: str,
    free_port,
    env: dict[str, str],
    *,
    postgres: Postgres,
    redis: Redis | None = None,
    celery_workers: int = 0,
    dag_ids: tuple[str, ...] = (DAG_ID,),
) -> AirflowStack:
    """Migrate, create the pools, start every component, wait until the DAGs ``dag_ids`` are parsed, unpause them.

    Unpausing is required: a paused DAG's backfill runs are created but stay ``queued`` and none of their
    tasks is scheduled (seen on 3.3.2). The stacks run with ``[scheduler] use_job_schedule = False`` so that
    unpausing does not also create the scheduled run of the latest interval (catchup=False), which with
    settle hours 0 would pull yesterday and write a 15th partition.
    """
    from call_logs.config import POOLS

    stack = AirflowStack(home, executor, free_port, postgres, env)
    started = time.monotonic()
    try:
        if executor == "CeleryExecutor":
            if redis is None:
                raise ValueError("the CeleryExecutor needs a Redis broker")
            redis_db = redis.pick_empty_db()
            redis.flush(redis_db)
            stack.redis, stack.redis_db = redis, redis_db
            stack.env.update(
                {
                    "AIRFLOW__CELERY__BROKER_URL": redis.url(redis_db),
                    "AIRFLOW__CELERY__RESULT_BACKEND": "db+" + postgres.sqlalchemy_url(stack.database),
                }
            )
            log(f"Celery broker: Redis database {redis_db}")
        stack.cli("db", "migrate")
        for pool, description in POOLS.items():
            stack.cli("pools", "set", pool, "1", description)
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
        for dag_id in dag_ids:
            stack.wait_dag(dag_id)
            if not stack.is_paused(dag_id):
                raise AssertionError(f"{dag_id} should start paused ([core] dags_are_paused_at_creation)")
        if len(dag_ids) == 1:
            stack.cli("dags", "unpause", dag_ids[0])
        else:  # one CLI call for them all: each costs seconds of CPU on a small machine
            pattern = "^(" + "|".join(map(re.escape, dag_ids)) + ")$"
            stack.cli("dags", "unpause", "--treat-dag-id-as-regex", "--yes", pattern)
            still_paused = [dag_id for dag_id in dag_ids if stack.is_paused(dag_id)]
            if still_paused:
                raise AssertionError(f"`airflow dags unpause` left {still_paused} paused")
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
        if stack.redis is not None and stack.redis_db is not None:
            stack.redis.flush(stack.redis_db)
