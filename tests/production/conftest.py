"""Fixtures of the production tests: PostgreSQL and Redis, the Graph emulator process, Azurite containers.

PostgreSQL and Redis are the servers already running when they answer, else throwaway ones for the session
(``services.py`` says where it looks and what it starts). Each scenario prints its wall time; the session's
terminal summary lists them all (the lead quotes them).
"""

from __future__ import annotations

import contextlib
import time
import uuid

import pytest

from tests.production import services
from tests.production.lake import lake_fs
from tests.production.processes import log
from tests.production.scenario import start_graph_emulator
from tests.production.stack import AirflowStack

WALL_TIMES: dict[str, float] = {}


def pytest_terminal_summary(terminalreporter):
    if WALL_TIMES:
        terminalreporter.section("production scenarios: wall time")
        for name, seconds in WALL_TIMES.items():
            terminalreporter.write_line(f"{name:<48} {seconds:7.1f} s")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test that used an Airflow stack gets the tails of its process and task logs in its report."""
    outcome = yield
    report = outcome.get_result()
    if report.when == "call" and report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, AirflowStack) and value.processes:
                report.sections.append((f"Airflow {value.executor} processes", value.diagnosis()))


@contextlib.contextmanager
def wall_time(name: str):
    """Measure a scenario; printed at once and again in the terminal summary."""
    started = time.monotonic()
    try:
        yield
    finally:
        WALL_TIMES[name] = WALL_TIMES.get(name, 0.0) + time.monotonic() - started
        log(f"WALL TIME {name}: {WALL_TIMES[name]:.1f} s")


@pytest.fixture(scope="session")
def lake_results() -> dict[str, dict]:
    """Lake snapshots by scenario, so one executor's lake can be compared with another's."""
    return {}


@pytest.fixture(scope="session")
def postgres_server():
    """PostgreSQL for the session's metadata databases (one per stack)."""
    with services.postgres_server() as server:
        yield server


@pytest.fixture(scope="session")
def redis_server():
    """Redis for the Celery brokers (an empty database number per stack)."""
    with services.redis_server() as server:
        yield server


@pytest.fixture(scope="session")
def graph_emulator_process(tmp_path_factory):
    """One throttled, faulty Graph emulator (a real subprocess) for every production scenario."""
    emulator = start_graph_emulator(tmp_path_factory.mktemp("graph-emulator"))
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="module")
def lake_container(azurite):
    """(adlfs filesystem, container) of a fresh Azurite container for one scenario module."""
    fs = lake_fs(azurite)
    container = f"lake-{uuid.uuid4().hex[:12]}"
    fs.mkdir(container)
    try:
        yield fs, container
    finally:
        with contextlib.suppress(Exception):
            fs.rm(container, recursive=True)
