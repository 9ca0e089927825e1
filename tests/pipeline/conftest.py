"""Airflow-level fixtures: a migrated metadata DB for the session, and a way to run the DAG for one day."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from graph_emulator.connection import msgraph_connection_env

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def airflow_db():
    """``airflow db migrate`` once per session (SQLite in the session's AIRFLOW_HOME)."""
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, capture_output=True)


@pytest.fixture
def dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    return bag.get_dag("direct_routing_calls")


@pytest.fixture
def pipeline_env(monkeypatch):
    """Point the DAG at an emulator and a lake through the same env overrides a user would use."""

    def configure(emu, lake_root: str, *, conn_extras: dict | None = None, **variables):
        for name, value in msgraph_connection_env(emu, **(conn_extras or {})).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT", lake_root)
        monkeypatch.setenv("AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS", "0")
        for name, value in variables.items():
            monkeypatch.setenv(f"AIRFLOW_VAR_{name.upper()}", str(value))

    return configure


def run_for_day(dag, day: date):
    """Run the DAG for the run covering ``[day, day + 1)``: a manual run covers the interval before its date."""
    logical = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    return dag.test(logical_date=logical)


def task_states(dag_run) -> dict[str, str]:
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        run = session.query(DagRun).filter_by(dag_id=dag_run.dag_id, run_id=dag_run.run_id).one()
        return {ti.task_id: str(ti.state) for ti in run.get_task_instances(session=session)}
