"""Run the DAG through Airflow for three consecutive days against the Graph emulator, into ./lake.

Nothing here needs a cloud account: the emulator serves Graph (and its token endpoint) over TLS on
127.0.0.1, Airflow keeps its metadata in ./.airflow, and the lake is the project's ./lake folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = PROJECT / ".airflow"
LAKE = PROJECT / "lake"
DAYS = 3


def airflow_environment() -> None:
    """Point Airflow at this project before it is imported (its settings are read at import)."""
    os.environ.update(
        AIRFLOW_HOME=str(AIRFLOW_HOME),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(PROJECT / "dags"),
        AIRFLOW__CORE__PLUGINS_FOLDER=str(PROJECT / "plugins"),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{AIRFLOW_HOME}/airflow.db",
        AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT=LAKE.as_uri(),
        AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS="0",
        # Task logs go to ./.airflow/logs; the terminal gets one line per day.
        AIRFLOW__LOGGING__LOGGING_LEVEL=os.environ.get("DEMO_LOG_LEVEL", "WARNING"),
    )
    AIRFLOW_HOME.mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], check=True, stdout=subprocess.DEVNULL)


def connect_to(emu) -> None:
    """The msgraph connection, as a user would define it, aimed at the emulator (env, never a file)."""
    from graph_emulator.connection import msgraph_connection_env

    os.environ.update(msgraph_connection_env(emu))


def run_day(dag, day: date) -> str:
    """Run the DAG for the run whose data interval is ``[day, day + 1)``; return its state.

    A manual run covers the last complete interval before its logical date, hence ``day + 1``.
    """
    next_midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    run = dag.test(logical_date=next_midnight)
    state = str(run.state)
    print(summary(day, state), flush=True)
    return state


def summary(day: date, state: str) -> str:
    partition = LAKE / "direct_routing_calls" / f"call_date={day.isoformat()}"
    manifest = json.loads((partition / "_manifest.json").read_text()) if (partition / "_manifest.json").exists() else {}
    quality = json.loads((partition / "_dq.json").read_text()) if (partition / "_dq.json").exists() else {}
    graph = manifest.get("graph", {})
    return (
        f"{day}  run={state:<8} rows={manifest.get('rows', '-'):>6}  pages={graph.get('pages', '-'):>3}"
        f"  requests={graph.get('requests', '-'):>3}  quality={quality.get('status', 'unchecked')}"
    )


def trunk_health(days: list[date]) -> None:
    """Build and check the trunk-health days as its DAG's tasks do.

    ``dag.test`` runs one DAG and has no scheduler to turn the asset events into runs of
    ``direct_routing_trunk_health``; the same code runs here in-process so that ``make report`` charts the trunks.
    """
    import fsspec
    from call_logs.gold.quality import check_trunk_health_day
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import TRUNK_HEALTH
    from call_logs.gold.trunk_health import build_day
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.sinks.parquet_partitions import ParquetPartitionSink

    fs = fsspec.filesystem("file")
    source = ParquetPartitionSink(fs, str(LAKE), DIRECT_ROUTING)
    gold = gold_sink("parquet", fs, str(LAKE), TRUNK_HEALTH)
    print("\nTrunk health (what the direct_routing_trunk_health DAG does per checked day):")
    for day in days:
        manifest = build_day(source, gold, day, run={"demo": True})
        report = check_trunk_health_day(gold, source, day)
        gold.write_quality(day, report)
        print(f"{day}  trunks={manifest.rows}  quality={report['status']}", flush=True)


def duckdb_report() -> None:
    import duckdb

    query = f"""
        SELECT call_date, count(*) AS calls,
               round(100 * avg(CASE WHEN successfulCall THEN 0 ELSE 1 END), 1) AS failed_pct,
               round(avg(duration) FILTER (WHERE successfulCall), 1) AS avg_duration_s
        FROM read_parquet('{LAKE}/direct_routing_calls/*/*.parquet', hive_partitioning = true)
        GROUP BY call_date ORDER BY call_date
    """
    print("\nDuckDB over the lake:")
    print(duckdb.sql(query))


def main() -> int:
    airflow_environment()
    from graph_emulator import EmulatorConfig, GraphEmulator

    today = datetime.now(UTC).date()
    days = [today - timedelta(days=DAYS + 2 - i) for i in range(DAYS)]
    started = time.monotonic()
    with GraphEmulator(EmulatorConfig(rows_per_day=5000, seed=42)) as emu:
        print(f"Graph emulator at {emu.graph_root} (token authority {emu.authority})")
        connect_to(emu)
        from airflow.dag_processing.dagbag import DagBag

        warnings.filterwarnings("ignore", category=DeprecationWarning)  # Airflow's own (set after its import)
        dag = DagBag(dag_folder=str(PROJECT / "dags")).get_dag("direct_routing_calls")
        print("\nPer day:")
        states = [(day, run_day(dag, day)) for day in days]
    trunk_health([day for day, state in states if state == "success"])
    duckdb_report()
    print(f"\nDone in {time.monotonic() - started:.0f} s; the lake is in {LAKE}")
    return 0 if all(state == "success" for _, state in states) else 1


if __name__ == "__main__":
    sys.exit(main())
