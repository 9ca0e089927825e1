"""Run both report DAGs through Airflow for three consecutive days against the Graph emulator, into ./lake, then
build, check and print the gold tables as their DAGs would (``dag.test`` has no scheduler to run them).

Nothing here needs a cloud account: the emulator serves Graph (and its token endpoint) over TLS on
127.0.0.1, Airflow keeps its metadata in ./.airflow, and the lake is the project's ./lake folder.

The monthly PSTN rollups (``pstn_usage_monthly``, ``pstn_minute_pools_monthly``) need every day of a month: the
three days never complete one, so they are built only for a month whose days are all in the lake and checked.
``DEMO_PSTN_MONTH=1 make demo`` also pulls every missing ``pstn_calls`` day of last month, through Airflow as well;
that takes a few minutes, since Graph allows 50 requests a minute per report and a day takes about six.

``DEMO_TABLE_FORMAT=delta make demo`` writes Delta tables instead (Variable ``direct_routing_table_format``),
under ./lake/delta so that they never share a folder with the Parquet partitions, and reads them back
through delta-rs (DuckDB's own delta extension downloads at run time; here DuckDB queries delta-rs's snapshot).
"""

from __future__ import annotations

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
POOLS_SHOWN = 8
PSTN_MONTH = os.environ.get("DEMO_PSTN_MONTH", "").strip().lower() in ("1", "true", "yes")


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


def run_day(bag, table: str, day: date, tenant: str | None = None) -> str:
    """Run the report's DAG (``tenant``'s, in a lake of many) for the run whose data interval is ``[day, day + 1)``;
    return its state.

    A manual run covers the last complete interval before its logical date, hence ``day + 1``.
    """
    from call_logs.pipeline import tenant_dag_id

    dag = bag.get_dag(table if tenant is None else tenant_dag_id(table, tenant))
    next_midnight = datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)
    run = dag.test(logical_date=next_midnight)
    state = str(run.state)
    print(summary(dag.dag_id, table, day, state, tenant), flush=True)
    return state


def summary(label: str, table: str, day: date, state: str, tenant: str | None = None) -> str:
    """The day as its sink has it (either format, of one tenant or of the lake of one): rows, Graph's pages and
    requests, the quality status and, in Delta, the commit's version."""
    from call_logs.reports import REPORTS
    from call_logs.sinks import open_report

    sink = open_report(TABLE_FORMAT, _lake(), REPORTS[table], tenant=tenant)
    manifest = sink.read_manifest(day)
    quality = sink.read_quality(day) or {}
    graph = manifest.graph if manifest else {}
    version = sink.table_version(day)
    return (
        f"{label:<20}  {day}  run={state:<8} rows={manifest.rows if manifest else '-':>6}"
        f"  pages={graph.get('pages', '-'):>3}  requests={graph.get('requests', '-'):>3}"
        f"  quality={quality.get('status', 'unchecked')}{'' if version is None else f'  delta_version={version}'}"
    )


def _lake():
    from call_logs.lake.root import LakeRoot

    return LakeRoot.from_url(str(LAKE))


def _rows_of(gold, partitions: list[date]):
    """The gold partitions as one Arrow table, with their partition column (DuckDB reads it by its variable)."""
    import pyarrow as pa
    from call_logs.gold.store import read_day

    tables = []
    for partition in partitions:
        rows = read_day(gold, partition)
        if rows is not None:
            column = pa.array([partition] * rows.num_rows, pa.date32())
            tables.append(rows.append_column(gold.spec.partition_column, column))
    return pa.concat_tables(tables) if tables else None


def _build_and_check(gold, source, partition: date, build) -> tuple[int, str]:
    """Build a gold partition, check it against its source and store the report, as the DAG's two tasks do."""
    from call_logs.gold.quality import check_gold
    from call_logs.quality.engine import write_report

    manifest = build(source, gold, partition, run={"demo": True})
    report = check_gold(gold, partition, {source.spec.table: source})
    write_report(gold, partition, report)
    return manifest.rows, report.status


def trunk_health(days: list[date]) -> None:
    """Build and check the trunk-health days and their hourly drill-down as their DAGs' tasks do, then print them.

    ``dag.test`` runs one DAG and has no scheduler to turn the asset events into runs of
    ``direct_routing_trunk_health`` and ``direct_routing_trunk_health_hourly``; the same code runs here in-process
    so that ``make report`` charts the trunks.
    """
    import duckdb
    from call_logs.gold.hourly import build_hourly_day
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import TRUNK_HEALTH, TRUNK_HEALTH_HOURLY
    from call_logs.gold.trunk_health import build_day
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.sinks import open_report

    lake = _lake()
    source = open_report(TABLE_FORMAT, lake, DIRECT_ROUTING)
    daily = gold_sink(TABLE_FORMAT, lake, TRUNK_HEALTH)
    hourly = gold_sink(TABLE_FORMAT, lake, TRUNK_HEALTH_HOURLY)
    print(f"\nTrunk health (what the {daily.spec.table} and {hourly.spec.table} DAGs do per checked day):")
    for day in days:
        trunks, status = _build_and_check(daily, source, day, build_day)
        hours, hourly_status = _build_and_check(hourly, source, day, build_hourly_day)
        print(
            f"{day}  trunks={trunks}  quality={status:<5} hourly rows={hours:>3}  quality={hourly_status}", flush=True
        )
    if not days:
        return
    health = _rows_of(daily, days)  # noqa: F841 - DuckDB finds it by name
    print(
        "\ndirect_routing_trunk_health: the Health Dashboard's figures per day and trunk (NER = delivered / ner_calls;"
        "\npeak and p95: calls up at once in a minute, NULL when the day before is not in the lake)"
    )
    print(
        duckdb.sql(
            """SELECT call_date, trunkFullyQualifiedDomainName AS trunk, ner_calls, round(100 * ner, 1) AS ner_pct,
                      round(100 * answer_seizure_ratio, 1) AS asr_pct, peak_concurrent_calls AS peak,
                      p95_concurrent_calls AS p95, round(average_call_duration_s) AS talk_s,
                      round(setup_delay_p95_s, 1) AS setup_p95_s
               FROM health ORDER BY trunk NULLS LAST, call_date"""
        )
    )
    hours_table = _rows_of(hourly, days)  # noqa: F841 - likewise
    print(
        "direct_routing_trunk_health_hourly: the five hours with the lowest NER (of at least 20 calls), with their"
        "\ntwo most frequent end reasons but answered calls' (final SIP code/callEndSubReason x calls)"
    )
    print(
        duckdb.sql(
            """SELECT strftime(hour, '%Y-%m-%d %H:%M') AS hour_utc, trunkFullyQualifiedDomainName AS trunk, ner_calls,
                      round(100 * ner, 1) AS ner_pct, peak_concurrent_calls AS peak,
                      array_to_string(list_transform(
                          list_filter(top_call_end_reasons, lambda e: coalesce(e.code, -1) NOT IN (0, 200))[1:2],
                          lambda e: coalesce(e.code::VARCHAR, '-') || '/' || coalesce(e.sub_reason::VARCHAR, '-')
                                    || ' x' || e.calls), ', ') AS other_end_reasons
               FROM hours_table WHERE ner_calls >= 20 ORDER BY ner, hour LIMIT 5"""
        )
    )


def pstn_months(pstn_days: list[date]) -> None:
    """``pstn_usage_monthly`` and ``pstn_minute_pools_monthly`` of each month the demo's PSTN days fall in, built and
    checked as their DAGs do, but only for a month whose every day is in the lake and passed its checks (the DAGs
    wait for every day too); a month that is not complete is named, with how many of its days are."""
    import duckdb
    from call_logs.gold.pstn_usage import build_pstn_month
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import PSTN_MINUTE_POOLS_MONTHLY, PSTN_USAGE_MONTHLY
    from call_logs.reports.pstn import PSTN
    from call_logs.sinks import open_report
    from call_logs.utc import days_of_month

    lake = _lake()
    source = open_report(TABLE_FORMAT, lake, PSTN)
    print("\nPSTN per month (the pstn_usage_monthly and pstn_minute_pools_monthly DAGs, once every day is checked):")
    for month in sorted({day.replace(day=1) for day in pstn_days}):
        days = days_of_month(month)
        checked = [day for day in days if (source.read_quality(day) or {}).get("status") in ("pass", "warn")]
        if len(checked) < len(days):
            hint = "" if PSTN_MONTH else "; DEMO_PSTN_MONTH=1 make demo pulls every day of last month (a few minutes)"
            print(f"{month:%Y-%m}  not built: {len(checked)} of its {len(days)} days are in the lake and checked{hint}")
            continue
        usage, pools = (
            gold_sink(TABLE_FORMAT, lake, table) for table in (PSTN_USAGE_MONTHLY, PSTN_MINUTE_POOLS_MONTHLY)
        )
        for gold in (usage, pools):
            rows, status = _build_and_check(gold, source, month, build_pstn_month)
            print(f"{month:%Y-%m}  {gold.spec.table:<26} rows={rows:>5}  quality={status}", flush=True)
        cost = _rows_of(usage, [month])  # noqa: F841 - DuckDB finds it by name
        print(f"pstn_usage_monthly {month:%Y-%m}: calls, minutes and cost per currency (exact decimals)")
        print(
            duckdb.sql(
                """SELECT currency, sum(calls)::BIGINT AS calls, count(DISTINCT userId) AS users,
                          round(sum(minutes), 1) AS minutes, sum(charge) AS charge,
                          sum(connectionCharge) AS connection_charge
                   FROM cost GROUP BY ALL ORDER BY currency NULLS LAST"""
            )
        )
        minute_pools = _rows_of(pools, [month])
        assert minute_pools is not None
        print(
            f"pstn_minute_pools_monthly {month:%Y-%m}: the {POOLS_SHOWN} largest of its {minute_pools.num_rows} pools"
        )
        print(
            duckdb.sql(
                f"""SELECT licenseCapability, usageCountryCode, calls, users, round(minutes, 1) AS minutes
                    FROM minute_pools ORDER BY minutes DESC LIMIT {POOLS_SHOWN}"""
            )
        )


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


def last_month(today: date) -> list[date]:
    """Every day of the month before ``today``'s."""
    from call_logs.utc import days_of_month

    return days_of_month(today.replace(day=1) - timedelta(days=1))


def missing_pstn_days(days: list[date]) -> list[date]:
    """The days of ``days`` without a committed pstn_calls partition."""
    from call_logs.reports.pstn import PSTN
    from call_logs.sinks import open_report

    source = open_report(TABLE_FORMAT, _lake(), PSTN)
    return [day for day in days if source.read_manifest(day) is None]


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
        states = [(table, day, run_day(bag, table, day)) for day in days for table in TABLES]
        pstn_days = list(days)
        if PSTN_MONTH:
            month = last_month(today)
            missing = missing_pstn_days(month)
            print(f"\nEvery day of {month[0]:%Y-%m} of pstn_calls (DEMO_PSTN_MONTH): {len(missing)} to pull")
            states += [("pstn_calls", day, run_day(bag, "pstn_calls", day)) for day in missing]
            pstn_days += month
    trunk_health([day for table, day, state in states if table == "direct_routing_calls" and state == "success"])
    pstn_months(pstn_days)
    duckdb_report()
    print(f"\nDone in {time.monotonic() - started:.0f} s; the lake is in {LAKE}")
    return 0 if all(state == "success" for _, _, state in states) else 1


if __name__ == "__main__":
    sys.exit(main())
