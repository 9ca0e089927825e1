"""Unknown properties and pseudonymisation through Airflow itself (dag.test) against the Graph emulator.

- An unknown property that Graph sends on some rows is kept for exactly those rows (``additionalProperties``).
- With pseudonymisation on over two days of both reports: no raw UPN, display name or phone number of the
  emulator's ground truth is anywhere in the lake, the Airflow home or the task output; each person has exactly
  one token across both days and both tables; the key is in no file and no output.
- A missing key fails the run with one sentence, before any request, and writes nothing.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from call_logs.lake.layout import DATA_FILE, MANIFEST_FILE, QUALITY_FILE
from call_logs.reports.spec import ADDITIONAL_PROPERTIES
from graph_emulator import PSTN_CALLS, Fault

from tests.pipeline.conftest import ROOT, run_for_day, task_states

TODAY = datetime.now(UTC).date()
DAYS = [TODAY - timedelta(days=6), TODAY - timedelta(days=5)]
PERSONAL = ("userPrincipalName", "userDisplayName", "callerNumber", "calleeNumber")
TABLES = {"direct_routing_calls": None, "pstn_calls": PSTN_CALLS}  # table -> the emulator's report name (None: default)


def day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def truth(emu, table: str, day: date) -> list[dict]:
    report = TABLES[table]
    kwargs = {"report": report} if report else {}
    return emu.expected_rows(day_start(day), day_start(day) + timedelta(days=1), **kwargs)


@pytest.fixture
def dags(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert not bag.import_errors
    return {table: bag.get_dag(table) for table in TABLES}


def test_an_unknown_property_is_kept_for_exactly_the_rows_that_carried_it(dags, emulator, pipeline_env, tmp_path):
    # The emulator adds "futureField":"x" to every row of its second page (rows 1000-1999 of the day).
    emu = emulator(rows_per_day=2600, seed=61, weekday_profile=False, faults=[Fault("extra_field", on_request=2)])
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri(), direct_routing_graph_concurrency=1)
    day = DAYS[0]
    run = run_for_day(dags["direct_routing_calls"], day)
    assert str(run.state) == "success", task_states(run)
    assert emu.stats()["faults_served"].get("extra_field") == 1

    folder = lake / f"direct_routing_calls/call_date={day}"
    table = pq.read_table(folder / DATA_FILE, columns=["id", ADDITIONAL_PROPERTIES])
    carried = {row["id"] for row in truth(emu, "direct_routing_calls", day)[1000:2000]}
    kept = {row["id"]: row[ADDITIONAL_PROPERTIES] for row in table.to_pylist()}
    assert len(kept) == len(truth(emu, "direct_routing_calls", day))
    assert {i for i, text in kept.items() if text is not None} == carried
    assert {text for text in kept.values() if text is not None} == {'{"futureField":"x"}'}
    manifest = json.loads((folder / MANIFEST_FILE).read_text())
    assert manifest["schema_version"] == 2 and manifest["source"]["unknown_fields"] == {"futureField": 1000}
    quality = json.loads((folder / QUALITY_FILE).read_text())
    unknown = next(c for c in quality["checks"] if c["name"] == "unknown_properties")
    assert quality["status"] == "warn" and unknown["status"] == "fail"
    assert f"first seen on {day}" in unknown["message"]


def _has_digits(value: str, count: int = 6) -> bool:
    return sum(ch.isdigit() for ch in value) >= count


def raw_personal_values(rows: list[dict]) -> set[str]:
    """Every UPN and display name, and every phone number (free text such as 'anonymous' is no number)."""
    values = set()
    for row in rows:
        for column in PERSONAL:
            value = row.get(column)
            if isinstance(value, str) and value and (column.startswith("user") or _has_digits(value)):
                values.add(value)
    return values


def files_under(*folders: Path) -> list[Path]:
    return [path for folder in folders for path in folder.rglob("*") if path.is_file()]


def decoded_parquet(path: Path) -> bytes:
    return json.dumps(pq.read_table(path).to_pylist(), default=str, ensure_ascii=False).encode()


def test_pseudonymised_over_two_days_nothing_raw_and_one_token_per_person(
    dags, emulator, pipeline_env, tmp_path, monkeypatch, capfd, caplog
):
    import logging

    key = "pk-" + secrets.token_urlsafe(24)
    emu = emulator(rows_per_day=1500, seed=62, weekday_profile=False)
    lake = tmp_path / "lake"
    pipeline_env(
        emu,
        lake.as_uri(),
        direct_routing_pseudonymised_columns=" , ".join(PERSONAL),
        pstn_calls_settle_hours=0,
    )
    monkeypatch.setenv(
        "AIRFLOW_CONN_DIRECT_ROUTING_PSEUDONYMISATION", json.dumps({"conn_type": "generic", "password": key})
    )
    with caplog.at_level(logging.DEBUG):
        for table, dag in dags.items():
            for day in DAYS:
                run = run_for_day(dag, day)
                assert str(run.state) == "success", (table, day, task_states(run))
    captured = capfd.readouterr()
    output = (captured.out + captured.err + caplog.text).encode()
    monkeypatch.delenv("AIRFLOW_CONN_DIRECT_ROUTING_PSEUDONYMISATION")

    rows = {(table, day): truth(emu, table, day) for table in TABLES for day in DAYS}
    raw = raw_personal_values([row for day_rows in rows.values() for row in day_rows])
    assert len(raw) > 500  # people, names and numbers of the ground truth

    # 1. No raw value and no key in any file of the lake or the Airflow home (metadata DB: XCom, rendered fields,
    #    asset events; logs), nor in the decoded Parquet values, nor in what the runs printed.
    home = Path(os.environ["AIRFLOW_HOME"])
    files = files_under(lake, home)
    assert any(p.suffix == ".parquet" for p in files) and any(p.name == "airflow.db" for p in files)
    raw_bytes = [value.encode() for value in raw]
    for path in files:
        contents = [path.read_bytes()] + ([decoded_parquet(path)] if path.suffix == ".parquet" else [])
        for data in contents:
            assert key.encode() not in data, path
            leaked = [value for value in raw_bytes if value in data]
            assert not leaked, (path, leaked[:3])
    assert key.encode() not in output
    leaked = [value for value in raw_bytes if value in output]
    assert not leaked, leaked[:3]

    # 2. Each person has exactly one token across both days and both tables (tokens are keyed by value), and
    #    different people have different tokens; nulls stayed null.
    by_id = {(table, row["id"]): row for (table, _), day_rows in rows.items() for row in day_rows}
    tokens: dict[str, set[str]] = {}
    numbers: dict[str, set[str]] = {}
    for table in TABLES:
        for day in DAYS:
            folder = lake / f"{table}/call_date={day}"
            stored = pq.read_table(folder / DATA_FILE).to_pylist()
            assert len(stored) == len(rows[(table, day)])
            for row in stored:
                source = by_id[(table, row["id"])]
                for column in PERSONAL:
                    assert (row[column] is None) == (source[column] is None), (table, column)
                if source["userPrincipalName"]:
                    tokens.setdefault(source["userPrincipalName"], set()).add(row["userPrincipalName"])
                for column in ("callerNumber", "calleeNumber"):
                    if source[column]:
                        numbers.setdefault(source[column], set()).add(row[column])
            manifest = json.loads((folder / MANIFEST_FILE).read_text())
            assert manifest["pseudonymisation"]["columns"] == sorted(PERSONAL)
            assert json.loads((folder / QUALITY_FILE).read_text())["status"] in ("pass", "warn")
    assert len(tokens) > 50
    assert all(len(t) == 1 for t in tokens.values()), {p: t for p, t in tokens.items() if len(t) != 1}
    assert len({next(iter(t)) for t in tokens.values()}) == len(tokens)
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{43}", next(iter(t))) for t in tokens.values())
    assert all(len(t) == 1 for t in numbers.values())
    upns = {
        table: {row["userPrincipalName"] for (t, _), rs in rows.items() if t == table for row in rs} for table in TABLES
    }
    assert upns["direct_routing_calls"] & upns["pstn_calls"] - {None}, "both reports share people, and so their tokens"


def test_a_missing_key_fails_the_run_with_one_sentence_and_writes_nothing(
    dags, emulator, pipeline_env, tmp_path, capfd
):
    emu = emulator(rows_per_day=100, seed=63)
    lake = tmp_path / "lake"
    pipeline_env(emu, lake.as_uri(), direct_routing_pseudonymised_columns="userPrincipalName")
    run = run_for_day(dags["direct_routing_calls"], DAYS[0])
    assert task_states(run)["extract"] == "failed"  # a configuration error: no up_for_retry
    captured = capfd.readouterr()
    assert (
        "AirflowFailException: The Variable direct_routing_pseudonymised_columns asks to pseudonymise "
        "userPrincipalName, but there is no Airflow connection 'direct_routing_pseudonymisation' whose password is "
        "the key" in captured.out + captured.err
    )
    assert emu.stats()["data_requests"] == 0
    assert not lake.exists() or not any(lake.rglob("*.parquet"))
