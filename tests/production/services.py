"""PostgreSQL (127.0.0.1:5432, user ``postgres``) and Redis (127.0.0.1:6379) for the production tests.

Each stack gets a database of its own (dropped afterwards) and an empty Redis database (flushed afterwards).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

from tests.production.processes import log

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


@contextlib.contextmanager
def postgres_server() -> Iterator[Postgres]:
    yield Postgres("127.0.0.1", 5432)


@contextlib.contextmanager
def redis_server() -> Iterator[Redis]:
    yield Redis("127.0.0.1", 6379)
