"""The PSTN DAG through Airflow itself (dag.test) against the emulator's getPstnCalls: exact days, exact money."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pyarrow.parquet as pq
import pytest
from call_logs.lake.layout import DATA_FILE, QUALITY_FILE
from call_logs.reports.pstn import PSTN
from graph_emulator import PSTN_CALLS

from tests.pipeline.conftest import ROOT, run_for_day, task_states

TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=5), TODAY - timedelta(days=4)]


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


@pytest.fixture
def pstn_dag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    return bag.get_dag("pstn_calls")


def test_the_pstn_dag_has_its_own_pool_and_asset(pstn_dag):
    extract = pstn_dag.get_task("extract")
    assert extract.pool == "msgraph_callrecords_pstn"
    assert [asset.name for asset in extract.outlets] == ["pstn_calls"]


def test_two_days_hold_exactly_the_calls_that_started_in_them(pstn_dag, emulator, pipeline_env, tmp_path):
    emu = emulator(rows_per_day=2500, seed=41)
    lake = tmp_path / "lake"
    # The lake root and the connection come from the lake-wide direct_routing_* Variables (pipeline_env sets them).
    pipeline_env(emu, lake.as_uri(), pstn_calls_settle_hours=0)
    for day in DAYS:
        run = run_for_day(pstn_dag, day)
        assert str(run.state) == "success", task_states(run)

    for day in DAYS:
        folder = lake / f"pstn_calls/call_date={day}"
        table = pq.read_table(folder / DATA_FILE)
        assert table.schema.equals(PSTN.schema, check_metadata=True)
        truth = emu.expected_rows(day_start(day), day_start(day) + timedelta(days=1), report=PSTN_CALLS)
        assert sorted(table["id"].to_pylist()) == sorted(row["id"] for row in truth)
        by_id = {row["id"]: row for row in truth}
        for row in table.select(["id", "charge", "connectionCharge"]).to_pylist():
            for name in ("charge", "connectionCharge"):
                sent = by_id[row["id"]][name]
                assert row[name] == (None if sent is None else Decimal(repr(sent))), (row["id"], name)
        assert json.loads((folder / QUALITY_FILE).read_text())["status"] == "pass"

    # The call that starts exactly at midnight of the second day: Graph's inclusive end sent it for the first day
    # too, and it is in the second day's partition only.
    midnight = day_start(DAYS[1])
    starts = {
        day: pq.read_table(lake / f"pstn_calls/call_date={day}" / DATA_FILE, columns=["startDateTime"])[
            "startDateTime"
        ].to_pylist()
        for day in DAYS
    }
    assert midnight in starts[DAYS[1]] and midnight not in starts[DAYS[0]]
    manifest = json.loads((lake / f"pstn_calls/call_date={DAYS[0]}" / "_manifest.json").read_text())
    assert manifest["source"]["out_of_window_dropped"] >= 1


def test_a_pstn_run_names_its_own_api_version_variable(pstn_dag, emulator, pipeline_env, tmp_path):
    """The engine names the report's Variable, never direct routing's, in a refusal."""
    from airflow.models import DagRun
    from airflow.utils.session import create_session

    emu = emulator(rows_per_day=100)
    pipeline_env(emu, (tmp_path / "lake").as_uri(), pstn_calls_settle_hours=0, pstn_calls_api_version="V1")
    extract = pstn_dag.get_task("extract")
    extract.retries = 0
    failures: list[BaseException] = []
    extract.on_failure_callback = [lambda context: failures.append(context["exception"])]
    run = run_for_day(pstn_dag, DAYS[0])
    with create_session() as session:
        state = session.query(DagRun).filter_by(run_id=run.run_id, dag_id=run.dag_id).one().state
    assert str(state) == "failed"
    [error] = failures
    assert "(Variable pstn_calls_api_version) is 'V1'" in str(error) and "direct_routing" not in str(error)
