"""Run both report DAGs through Airflow for three consecutive days against the Graph emulator, into ./lake.

Nothing here needs a cloud account: the emulator serves Graph (and its token endpoint) over TLS on
127.0.0.1, Airflow keeps its metadata in ./.airflow, and the lake is the project's ./lake folder.

``DEMO_TABLE_FORMAT=delta make demo`` writes Delta tables instead (Variable ``direct_routing_table_format``),
under ./lake/delta so that they never share a folder with the Parquet partitions, and reads them back
through delta-rs (DuckDB's own delta extension downloads at run time; here DuckDB queries delta-rs's snapshot).
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
TABLE_FORMAT = os.environ.get("DEMO_TABLE_FORMAT", "parquet").strip().lower() or "parquet"
LAKE = PROJECT / "lake" / "delta" if TABLE_FORMAT == "delta" else PROJECT / "lake"
DAYS = 3
TABLES = ("direct_routing_calls", "pstn_calls")


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
        AIRFLOW_VAR_PSTN_CALLS_SETTLE_HOURS="0",
        AIRFLOW_VAR_DIRECT_ROUTING_TABLE_FORMAT=TABLE_FORMAT,
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
    print(summary(dag.dag_id, day, state), flush=True)
    return state


def summary(table: str, day: date, state: str) -> str:
    if TABLE_FORMAT == "delta":
        manifest, quality, version = delta_day(table, day)
    else:
        partition = LAKE / table / f"call_date={day.isoformat()}"
        manifest = read_json(partition / "_manifest.json")
        quality = read_json(partition / "_dq.json")
        version = ""
    graph = manifest.get("graph", {})
    return (
        f"{table:<20}  {day}  run={state:<8} rows={manifest.get('rows', '-'):>6}  pages={graph.get('pages', '-'):>3}"
        f"  requests={graph.get('requests', '-'):>3}  quality={quality.get('status', 'unchecked')}{version}"
    )


def read_json(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def delta_day(name: str, day: date) -> tuple[dict, dict, str]:
    """The day's manifest (its Delta commit's metadata), its quality report (in _dq/) and the commit's version."""
    from call_logs.lake.delta_table import day_commit

    table = LAKE / name
    commit = day_commit(str(table), None, day) if (table / "_delta_log").exists() else None
    quality = read_json(table / "_dq" / f"call_date={day.isoformat()}.json")
    if commit is None:
        return {}, quality, ""
    return commit["metadata"] or {}, quality, f"  delta_version={commit['version']}"


def trunk_health(days: list[date]) -> None:
    """Build and check the trunk-health days as its DAG's tasks do.

    ``dag.test`` runs one DAG and has no scheduler to turn the asset events into runs of
    ``direct_routing_trunk_health``; the same code runs here in-process so that ``make report`` charts the trunks.
    """
    from call_logs.gold.quality import check_gold
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import TRUNK_HEALTH
    from call_logs.gold.trunk_health import build_day
    from call_logs.lake.root import LakeRoot
    from call_logs.quality.engine import write_report
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.sinks import open_report

    lake = LakeRoot.from_url(str(LAKE))
    source = open_report(TABLE_FORMAT, lake, DIRECT_ROUTING)
    gold = gold_sink(TABLE_FORMAT, lake, TRUNK_HEALTH)
    print("\nTrunk health (what the direct_routing_trunk_health DAG does per checked day):")
    for day in days:
        manifest = build_day(source, gold, day, run={"demo": True})
        report = check_gold(gold, day, {source.spec.table: source})
        write_report(gold, day, report)
        print(f"{day}  trunks={manifest.rows}  quality={report.status}", flush=True)


def duckdb_report() -> None:
    import duckdb

    if TABLE_FORMAT == "delta":
        from deltalake import DeltaTable

        direct = DeltaTable(str(LAKE / "direct_routing_calls"))
        calls = direct.to_pyarrow_dataset()  # noqa: F841 - DuckDB finds it by name: the current snapshot's files
        pstn = DeltaTable(str(LAKE / "pstn_calls")).to_pyarrow_dataset()  # noqa: F841 - likewise
        sources: tuple[str, ...] = ("calls", "pstn")
        title = f"DuckDB over the Delta tables (delta-rs snapshots; direct routing version {direct.version()}):"
    else:
        sources = tuple(f"read_parquet('{LAKE}/{t}/*/*.parquet', hive_partitioning = true)" for t in TABLES)
        title = "DuckDB over the lake:"
    direct_routing = f"""
        SELECT call_date, count(*) AS calls,
               round(100 * avg(CASE WHEN successfulCall THEN 0 ELSE 1 END), 1) AS failed_pct,
               round(avg(duration) FILTER (WHERE successfulCall), 1) AS avg_duration_s
        FROM {sources[0]}
        GROUP BY call_date ORDER BY call_date
    """
    cost = f"""
        SELECT call_date, currency, count(*) AS calls, sum(charge) AS charge, sum(connectionCharge) AS connection_charge
        FROM {sources[1]}
        GROUP BY ALL ORDER BY call_date, currency
    """
    print(f"\n{title}\ndirect_routing_calls: volume and failures")
    print(duckdb.sql(direct_routing))
    print("pstn_calls: cost per day and currency (exact decimals)")
    print(duckdb.sql(cost))


def main() -> int:
    airflow_environment()
    from graph_emulator import EmulatorConfig, GraphEmulator

    today = datetime.now(UTC).date()
    days = [today - timedelta(days=DAYS + 2 - i) for i in range(DAYS)]
    started = time.monotonic()
    with GraphEmulator(EmulatorConfig(rows_per_day=5000, seed=42)) as emu:
        print(f"Graph emulator at {emu.graph_root} (token authority {emu.authority}); table format {TABLE_FORMAT}")
        connect_to(emu)
        from airflow.dag_processing.dagbag import DagBag

        warnings.filterwarnings("ignore", category=DeprecationWarning)  # Airflow's own (set after its import)
        bag = DagBag(dag_folder=str(PROJECT / "dags"))
        print("\nPer day:")
        states = [(day, run_day(bag.get_dag(table), day)) for day in days for table in TABLES]
    direct = [day for day, state in states[::2] if state == "success"]
    trunk_health(direct)
    duckdb_report()
    print(f"\nDone in {time.monotonic() - started:.0f} s; the lake is in {LAKE}")
    return 0 if all(state == "success" for _, state in states) else 1


if __name__ == "__main__":
    sys.exit(main())
