"""Shared fixtures: the Graph emulator over TLS, Azurite as a real Blob endpoint, an isolated Airflow home.

Also the one declaration of which tests are ``integration`` tests (``make test-fast`` leaves them out).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid

import pytest

from tests.helpers import AZURITE_ACCOUNT, AZURITE_KEY, ROOT, free_port, stop_process, wait_for_port

# Airflow reads its configuration at import: give the whole session its own home before anything imports it.
_AIRFLOW_HOME = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW_HOME"] = _AIRFLOW_HOME
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(ROOT / "plugins")
os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] = f"sqlite:///{_AIRFLOW_HOME}/airflow.db"

# --- which tests are integration tests: declared here and nowhere else ---------------------------------------
# `make test-fast` runs `pytest -m "not integration"`: no Airflow DAG run, no Azurite, no PostgreSQL or Redis
# (the Graph emulator in process is fast and stays in). `make test` runs everything.
INTEGRATION_FOLDERS = {
    "pipeline": "runs the DAG through Airflow (dag.test on a migrated metadata database)",
    "production": "real Airflow stacks on PostgreSQL and Redis",
}
INTEGRATION_FILES = {"test_bench_smoke.py": "runs the benchmark's processes"}
INTEGRATION_FIXTURE = "azurite"  # the Blob emulator: a Node.js server installed by npm
_RUNNING = pytest.StashKey[pytest.Item]()


def integration_reason(item: pytest.Item) -> str | None:
    """Why ``item`` is an integration test (None: it is a unit test)."""
    parts = item.path.relative_to(ROOT / "tests").parts
    if len(parts) > 1 and parts[0] in INTEGRATION_FOLDERS:
        return INTEGRATION_FOLDERS[parts[0]]
    if parts[-1] in INTEGRATION_FILES:
        return INTEGRATION_FILES[parts[-1]]
    if INTEGRATION_FIXTURE in getattr(item, "fixturenames", ()):
        return "uses Azurite"
    callspec = getattr(item, "callspec", None)  # e.g. a `lake` fixture whose "azurite" param asks for it at run time
    if callspec is not None and INTEGRATION_FIXTURE in callspec.params.values():
        return "uses Azurite"
    return None


def pytest_collection_modifyitems(config, items):
    for item in items:
        if integration_reason(item):
            item.add_marker(pytest.mark.integration)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item.config.stash[_RUNNING] = item


@pytest.fixture(scope="session")
def azurite(request):
    """A real Azure Blob endpoint (Azurite) for the session; yields its connection string."""
    running = request.config.stash.get(_RUNNING, None)
    if running is not None and running.get_closest_marker("integration") is None:
        pytest.fail(f"{running.nodeid} uses Azurite but is not an integration test: see integration_reason()")
    binary = ROOT / "node_modules" / ".bin" / "azurite-blob"
    if not binary.exists():
        pytest.fail("Azurite is not installed: run the tests through `make test`, which installs it with npm.")
    port = free_port()
    location = tempfile.mkdtemp(prefix="azurite-")
    process = subprocess.Popen(
        [
            str(binary),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            "--location",
            location,
            "--silent",
            "--skipApiVersionCheck",
            "--loose",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield (
            f"DefaultEndpointsProtocol=http;AccountName={AZURITE_ACCOUNT};AccountKey={AZURITE_KEY};"
            f"BlobEndpoint=http://127.0.0.1:{port}/{AZURITE_ACCOUNT};"
        )
    finally:
        stop_process(process)
        shutil.rmtree(location, ignore_errors=True)


@pytest.fixture
def blob_container(azurite):
    """A fresh container on Azurite: (adlfs filesystem, container name)."""
    from adlfs import AzureBlobFileSystem

    fs = AzureBlobFileSystem(connection_string=azurite)
    container = f"lake-{uuid.uuid4().hex[:12]}"
    fs.mkdir(container)
    yield fs, container
    fs.rm(container, recursive=True)


@pytest.fixture
def emulator():
    """Factory: ``emulator(**config)`` starts a Graph emulator over TLS; all are stopped after the test."""
    from graph_emulator import EmulatorConfig, GraphEmulator

    started = []

    def start(**config):
        config.setdefault("budget_requests", None)
        emu = GraphEmulator(EmulatorConfig(**config))
        emu.__enter__()
        started.append(emu)
        return emu

    yield start
    for emu in started:
        emu.__exit__(None, None, None)
