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

``DEMO_TENANTS=3 make demo`` is a carrier's deployment of three customer tenants (2 to 6; unset, 0 or 1: the demo of
one tenant above): it writes their tenants file (``demo/tenants.py``) and points ``CALL_LOGS_TENANTS_FILE`` at it,
serves each tenant from the emulator (its own Entra id, volume and seed; the same SBCs), gives each its
``msgraph_<slug>`` connection, runs each tenant's DAGs (``<report>__<slug>``) for the same days, builds and checks
each tenant's trunk health and the carrier's view across tenants (``direct_routing_sbc_health``), and queries every
tenant at once. Its lake is ./lake/tenants (./lake/tenants/delta in Delta), never the lake of one tenant; the tenants
file is written beside it, and a lake of another set of tenants (another ``DEMO_TENANTS``) is removed first.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import warnings
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from demo.tenants import DEMO_TENANTS, emulator_tenants, tenant_count, tenant_environment, tenants_yaml

PROJECT = Path(__file__).resolve().parents[2]
AIRFLOW_HOME = PROJECT / ".airflow"
TABLE_FORMAT = os.environ.get("DEMO_TABLE_FORMAT", "parquet").strip().lower() or "parquet"
TENANTS = DEMO_TENANTS[: tenant_count(os.environ.get("DEMO_TENANTS"))]  # () : the demo of one tenant
LAKE_ROOT = PROJECT / "lake" / "tenants" if TENANTS else PROJECT / "lake"
LAKE = LAKE_ROOT / "delta" if TABLE_FORMAT == "delta" else LAKE_ROOT
TENANTS_FILE = LAKE_ROOT / "tenants.yaml"
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
    """The msgraph connection, as a user would define it, aimed at the emulator (env, never a file); with tenants,
    the tenants file and each tenant's connection (and key, if it pseudonymises)."""
    from graph_emulator.connection import msgraph_connection_env

    if TENANTS:
        os.environ.update(tenant_environment(emu, TENANTS, str(TENANTS_FILE)))
    else:
        os.environ.update(msgraph_connection_env(emu))


def write_tenants_file() -> None:
    """The tenants file, beside the lake of those tenants; a lake of other tenants (or of no file) is removed first,
    so that neither the DuckDB queries nor ``make report`` count a tenant this run does not pull."""
    from call_logs.tenants import load_tenants

    text = tenants_yaml(TENANTS)
    if LAKE_ROOT.exists() and not (TENANTS_FILE.exists() and TENANTS_FILE.read_text() == text):
        shutil.rmtree(LAKE_ROOT)
        print(f"Removed {LAKE_ROOT.relative_to(PROJECT)}/: it held the days of another set of tenants")
    LAKE_ROOT.mkdir(parents=True, exist_ok=True)
    TENANTS_FILE.write_text(text)
    loaded = load_tenants(TENANTS_FILE)  # as the DAG files will read it: a mistake stops here, with its sentence
    assert loaded is not None and [t.slug for t in loaded] == [t.slug for t in TENANTS]


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
    print(summary(dag.dag_id, table, day, state, tenant, width=31 if tenant else 20), flush=True)
    return state


def summary(label: str, table: str, day: date, state: str, tenant: str | None = None, width: int = 20) -> str:
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
        f"{label:<{width}}  {day}  run={state:<8} rows={manifest.rows if manifest else '-':>6}"
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


TRUNK_HEALTH_HEADING = (
    "\nTrunk health (what the direct_routing_trunk_health and direct_routing_trunk_health_hourly DAGs do per checked "
    "{}):"
)


def build_trunk_health(days: list[date], tenant: str | None = None):
    """Build and check the trunk-health days (of ``tenant``, in a lake of many) and their hourly drill-down as their
    DAGs' tasks do; print a line per day; return the two gold sinks.

    ``dag.test`` runs one DAG and has no scheduler to turn the asset events into runs of
    ``direct_routing_trunk_health`` and ``direct_routing_trunk_health_hourly``; the same code runs here in-process
    so that ``make report`` charts the trunks.
    """
    from call_logs.gold.hourly import build_hourly_day
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import TRUNK_HEALTH, TRUNK_HEALTH_HOURLY
    from call_logs.gold.trunk_health import build_day
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.sinks import open_report

    lake = _lake()
    source = open_report(TABLE_FORMAT, lake, DIRECT_ROUTING, tenant=tenant)
    daily = gold_sink(TABLE_FORMAT, lake, TRUNK_HEALTH, tenant=tenant)
    hourly = gold_sink(TABLE_FORMAT, lake, TRUNK_HEALTH_HOURLY, tenant=tenant)
    label = "" if tenant is None else f"{tenant:<10} "
    for day in days:
        trunks, status = _build_and_check(daily, source, day, build_day)
        hours, hourly_status = _build_and_check(hourly, source, day, build_hourly_day)
        print(
            f"{label}{day}  trunks={trunks}  quality={status:<5} hourly rows={hours:>3}  quality={hourly_status}",
            flush=True,
        )
    return daily, hourly


def trunk_health(days: list[date]) -> None:
    """The demo of one tenant: build and check its trunk-health days, then print them."""
    import duckdb

    print(TRUNK_HEALTH_HEADING.format("day"))
    daily, hourly = build_trunk_health(days)
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


def pstn_months(pstn_days: list[date], tenant: str | None = None, heading: bool = True) -> None:
    """``pstn_usage_monthly`` and ``pstn_minute_pools_monthly`` of each month the demo's PSTN days fall in, built and
    checked as their DAGs do, but only for a month whose every day is in the lake and passed its checks (the DAGs
    wait for every day too); a month that is not complete is named, with how many of its days are. With ``tenant``,
    that tenant's months; ``heading``: print the section's heading and hint (the first tenant's call only)."""
    import duckdb
    from call_logs.gold.pstn_usage import build_pstn_month
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import PSTN_MINUTE_POOLS_MONTHLY, PSTN_USAGE_MONTHLY
    from call_logs.reports.pstn import PSTN
    from call_logs.sinks import open_report
    from call_logs.utc import days_of_month

    lake = _lake()
    source = open_report(TABLE_FORMAT, lake, PSTN, tenant=tenant)
    label = "" if tenant is None else f"{tenant:<10} "
    if heading:
        print(
            "\nPSTN per month (the pstn_usage_monthly and pstn_minute_pools_monthly DAGs, once every day is checked):"
        )
    for month in sorted({day.replace(day=1) for day in pstn_days}):
        days = days_of_month(month)
        checked = [day for day in days if (source.read_quality(day) or {}).get("status") in ("pass", "warn")]
        if len(checked) < len(days):
            hint = "; DEMO_PSTN_MONTH=1 make demo pulls every day of last month (a few minutes)"
            hint = "" if PSTN_MONTH or not heading else hint
            print(
                f"{label}{month:%Y-%m}  not built: {len(checked)} of its {len(days)} days are in the lake and "
                f"checked{hint}"
            )
            continue
        usage, pools = (
            gold_sink(TABLE_FORMAT, lake, table, tenant=tenant)
            for table in (PSTN_USAGE_MONTHLY, PSTN_MINUTE_POOLS_MONTHLY)
        )
        for gold in (usage, pools):
            rows, status = _build_and_check(gold, source, month, build_pstn_month)
            print(f"{label}{month:%Y-%m}  {gold.spec.table:<26} rows={rows:>5}  quality={status}", flush=True)
        cost = _rows_of(usage, [month])  # noqa: F841 - DuckDB finds it by name
        print(f"{label}pstn_usage_monthly {month:%Y-%m}: calls, minutes and cost per currency (exact decimals)")
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
            f"{label}pstn_minute_pools_monthly {month:%Y-%m}: the {POOLS_SHOWN} largest of its "
            f"{minute_pools.num_rows} pools"
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


def sbc_health(days: list[date], checked: set[tuple[str, date]]) -> list[date]:
    """The carrier's view, ``direct_routing_sbc_health`` (per day and SBC, across tenants), built and checked as its
    DAG does: once every tenant due that day has a checked day (a tenant whose day failed holds the day back, as in a
    deployment). Return the days built."""
    from call_logs.gold.quality import check_gold, source_key
    from call_logs.gold.sbc_health import build_sbc_day
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import SBC_HEALTH
    from call_logs.quality.engine import write_report
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.sinks import open_report

    lake = _lake()
    sources = {tenant.slug: open_report(TABLE_FORMAT, lake, DIRECT_ROUTING, tenant=tenant.slug) for tenant in TENANTS}
    gold = gold_sink(TABLE_FORMAT, lake, SBC_HEALTH)
    print(f"\nThe carrier's view (what the {SBC_HEALTH.table} DAG does once every tenant's day is checked):")
    built = []
    for day in days:
        waiting = [slug for slug in sources if (slug, day) not in checked]
        if waiting:
            print(f"{day}  not built: waiting for the checked day of {', '.join(waiting)}")
            continue
        manifest = build_sbc_day(sources, gold, day, run={"demo": True})
        report = check_gold(gold, day, {source_key(DIRECT_ROUTING.table, slug): s for slug, s in sources.items()})
        write_report(gold, day, report)
        print(
            f"{day}  sbcs={manifest.rows}  from the days of {len(sources)} tenants  quality={report.status}", flush=True
        )
        built.append(day)
    return built


def tenant_summaries(days: list[date], states: list[tuple[str | None, str, date, str]]) -> None:
    """Per tenant, a line: its checked days, and its calls, trunks and rates over the days (from its trunk health);
    for a tenant that pseudonymises, what its lake holds instead of a user principal name."""
    import pyarrow.compute as pc
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import TRUNK, TRUNK_HEALTH
    from call_logs.reports.direct_routing import DIRECT_ROUTING
    from call_logs.sinks import open_report

    lake = _lake()
    print("\nPer tenant (its checked days; its direct routing calls over them, from its trunk health):")
    for tenant in TENANTS:
        ran = [(table, state) for slug, table, day, state in states if slug == tenant.slug and day in days]
        checked = ", ".join(
            f"{table} {sum(state == 'success' for t, state in ran if t == table)}/{len(days)}" for table in TABLES
        )
        line = f"{tenant.slug:<10} {checked}"
        health = _rows_of(gold_sink(TABLE_FORMAT, lake, TRUNK_HEALTH, tenant=tenant.slug), days)
        if health is not None:
            calls, ner_calls = _total(health, "calls"), _total(health, "ner_calls")
            ner = 100 * _total(health, "delivered_calls") / max(ner_calls, 1)
            asr = 100 * _total(health, "answered_calls") / max(calls, 1)
            trunks = len(set(health[TRUNK].to_pylist()))
            peak = pc.max(health["peak_concurrent_calls"]).as_py()
            line += f"; {calls:,} calls on {trunks} trunks, NER {ner:.1f}%, ASR {asr:.1f}%, peak {peak} calls at once"
        print(line)
        if tenant.pseudonymised_columns and days:
            names = open_report(TABLE_FORMAT, lake, DIRECT_ROUTING, tenant=tenant.slug).read_columns(
                days[-1], ["userPrincipalName"]
            )
            token = next((v for v in names.column(0).to_pylist() if v), None) if names is not None else None
            if token:
                print(f"{'':<10} userPrincipalName holds tokens, such as {token} (HMAC-SHA256 of its own key)")


def _total(rows, column: str) -> int:
    import pyarrow.compute as pc

    return int(pc.sum(rows[column]).as_py() or 0)


def across_tenants(days: list[date], sbc_days: list[date]) -> None:
    """DuckDB over every tenant at once: rows per tenant and day of both reports, and the SBC view with each tenant's
    share of each SBC's calls."""
    import duckdb
    import pyarrow as pa
    from call_logs.gold.store import gold_sink
    from call_logs.gold.table import SBC_HEALTH, TRUNK_HEALTH

    con = duckdb.connect()
    if TABLE_FORMAT == "delta":
        from deltalake import DeltaTable

        for name, table in zip(("calls", "pstn"), TABLES, strict=True):
            con.register(name, DeltaTable(str(LAKE / table)).to_pyarrow_dataset())
        where = "the Delta tables (delta-rs snapshots; tenant and call_date are partition columns)"
    else:
        for name, table in zip(("calls", "pstn"), TABLES, strict=True):
            files = f"read_parquet('{LAKE}/{table}/*/*/part-*.parquet', hive_partitioning = true)"
            con.sql(f"CREATE VIEW {name} AS SELECT * FROM {files}")
        where = f"{LAKE.relative_to(PROJECT)}/<table>/tenant=<slug>/call_date=<day>/ (hive levels: columns)"
    print(f"\nDuckDB over every tenant at once, {where}:\nrows per tenant and day (the demo's days)")
    print(
        con.sql(
            f"""WITH direct AS (
                    SELECT tenant, call_date, count(*) AS direct_routing_calls,
                           round(100 * avg(CASE WHEN successfulCall THEN 0 ELSE 1 END), 1) AS failed_pct
                    FROM calls GROUP BY ALL),
                 pstn_days AS (SELECT tenant, call_date, count(*) AS pstn_calls FROM pstn GROUP BY ALL)
                SELECT tenant, call_date, direct_routing_calls, failed_pct, pstn_calls
                FROM direct FULL JOIN pstn_days USING (tenant, call_date)
                WHERE call_date BETWEEN DATE '{days[0]}' AND DATE '{days[-1]}'
                ORDER BY tenant, call_date"""
        )
    )
    lake = _lake()
    sbc = _rows_of(gold_sink(TABLE_FORMAT, lake, SBC_HEALTH), sbc_days)
    if sbc is None:
        return
    shares = []
    for tenant in TENANTS:
        health = _rows_of(gold_sink(TABLE_FORMAT, lake, TRUNK_HEALTH, tenant=tenant.slug), sbc_days)
        if health is not None:
            shares.append(health.append_column("tenant", pa.repeat(pa.scalar(tenant.slug), health.num_rows)))
    con.register("sbc", sbc)
    con.register("shares", pa.concat_tables(shares))
    per_tenant = ", ".join(
        f"sum(h.calls) FILTER (WHERE h.tenant = '{t.slug}')::BIGINT AS \"{t.slug}\"" for t in TENANTS
    )
    print(
        f"{SBC_HEALTH.table}: per SBC and day, how many tenants had calls on it, its calls and NER across them,"
        "\nits peak (calls up at once across tenants; NULL when the day before is not in the lake), each tenant's calls"
    )
    print(
        con.sql(
            f"""SELECT s.trunkFullyQualifiedDomainName AS trunk, s.call_date, s.tenants, s.calls,
                       round(100 * s.ner, 1) AS ner_pct, s.peak_concurrent_calls AS peak, {per_tenant}
                FROM sbc s LEFT JOIN shares h ON h.call_date = s.call_date
                     AND h.trunkFullyQualifiedDomainName IS NOT DISTINCT FROM s.trunkFullyQualifiedDomainName
                GROUP BY ALL ORDER BY trunk NULLS LAST, s.call_date"""
        )
    )


def many_tenants(days: list[date], pstn_days: list[date], states: list[tuple[str | None, str, date, str]]) -> None:
    """What the gold DAGs of a lake of many tenants do after the tenants' days: each tenant's trunk health, the SBC
    view across them, each tenant's PSTN months; then a line per tenant and the queries across tenants."""
    checked = {(slug, day) for slug, table, day, state in states if table == TABLES[0] and state == "success" and slug}
    print(TRUNK_HEALTH_HEADING.format("tenant day"))
    for tenant in TENANTS:
        build_trunk_health([day for day in days if (tenant.slug, day) in checked], tenant.slug)
    sbc_days = sbc_health(days, checked)
    for n, tenant in enumerate(TENANTS):
        pstn_months(pstn_days, tenant.slug, heading=n == 0)
    tenant_summaries(days, states)
    across_tenants(days, sbc_days)


def last_month(today: date) -> list[date]:
    """Every day of the month before ``today``'s."""
    from call_logs.utc import days_of_month

    return days_of_month(today.replace(day=1) - timedelta(days=1))


def missing_pstn_days(days: list[date], tenant: str | None = None) -> list[date]:
    """The days of ``days`` without a committed pstn_calls partition (of ``tenant``)."""
    from call_logs.reports.pstn import PSTN
    from call_logs.sinks import open_report

    source = open_report(TABLE_FORMAT, _lake(), PSTN, tenant=tenant)
    return [day for day in days if source.read_manifest(day) is None]


def main() -> int:
    if TENANTS:
        write_tenants_file()
    airflow_environment()
    from graph_emulator import EmulatorConfig, GraphEmulator

    today = datetime.now(UTC).date()
    days = [today - timedelta(days=DAYS + 2 - i) for i in range(DAYS)]
    slugs: list[str | None] = [tenant.slug for tenant in TENANTS] or [None]
    started = time.monotonic()
    with GraphEmulator(EmulatorConfig(rows_per_day=5000, seed=42, tenants=emulator_tenants(TENANTS))) as emu:
        print(f"Graph emulator at {emu.graph_root} (token authority {emu.authority}); table format {TABLE_FORMAT}")
        if TENANTS:
            print(
                f"{len(TENANTS)} tenants of one deployment ({TENANTS_FILE.relative_to(PROJECT)}), all on the same SBCs:"
            )
            for tenant in TENANTS:
                print(f"  {tenant.describe()}")
        connect_to(emu)
        from airflow.dag_processing.dagbag import DagBag

        warnings.filterwarnings("ignore", category=DeprecationWarning)  # Airflow's own (set after its import)
        bag = DagBag(dag_folder=str(PROJECT / "dags"))
        print("\nPer day:" if not TENANTS else "\nPer day and tenant (each tenant's own DAG, <report>__<slug>):")
        states = [
            (slug, table, day, run_day(bag, table, day, slug)) for day in days for slug in slugs for table in TABLES
        ]
        pstn_days = list(days)
        if PSTN_MONTH:
            month = last_month(today)
            for slug in slugs:
                missing = missing_pstn_days(month, slug)
                whose = "" if slug is None else f" of {slug}"
                print(f"\nEvery day of {month[0]:%Y-%m} of pstn_calls{whose} (DEMO_PSTN_MONTH): {len(missing)} to pull")
                states += [(slug, "pstn_calls", day, run_day(bag, "pstn_calls", day, slug)) for day in missing]
            pstn_days += month
    if TENANTS:
        many_tenants(days, pstn_days, states)
        delta = " TABLE_FORMAT=delta" if TABLE_FORMAT == "delta" else ""
        where = f"; `make report LAKE={LAKE.relative_to(PROJECT)}{delta}` charts it per tenant"
    else:
        trunk_health([day for _, table, day, state in states if table == "direct_routing_calls" and state == "success"])
        pstn_months(pstn_days)
        duckdb_report()
        where = ""
    print(f"\nDone in {time.monotonic() - started:.0f} s; the lake is in {LAKE}{where}")
    return 0 if all(state == "success" for *_, state in states) else 1


if __name__ == "__main__":
    sys.exit(main())
