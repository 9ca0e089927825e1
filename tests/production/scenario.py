"""The scenarios' Graph (an emulator process, scaled down, throttled and faulty) and the environment of a stack.

``lake_env`` points a stack at that Graph and at the lake the way a deployment does: connections and Variables
in the environment. ``budget_problems`` reads the emulator's stats against its budgets; ``day_count`` and
``day_ids`` are its ground truth of one UTC day of one report.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from graph_emulator.connection import msgraph_connection_env
from graph_emulator.process import EmulatorProcess
from graph_emulator.reports import DIRECT_ROUTING_CALLS

# The scaled Graph: budget 20 requests / 5 s (Graph's 50/60 s). The client limiter is 18 / 5 s, below the budget so
# that the both-reports test can set an app budget that binds only if the two pulls together exceed their limiters;
# the LocalExecutor backfill sets the budget itself, as the default requests_per_minute does against Graph.
EMULATOR_BUDGET = (20, 5.0)
CLIENT_LIMIT = 18
EMULATOR_ROWS_PER_DAY = 20_000  # weekdays need 33 pages (24 hourly slices, the busy ones 2 pages)
EMULATOR_SEED = 20261127
EMULATOR_FAULTS = [
    {"kind": "unavailable", "rate": 0.03},
    {"kind": "throttle", "rate": 0.02, "retry_after": 0.5},
    {"kind": "reset", "rate": 0.02},
    {"kind": "gateway_timeout", "rate": 0.01},
]
_MOMENT = "%Y-%m-%dT%H:%M:%SZ"


def start_graph_emulator(workdir: Path, *, app_budget: int | None = None) -> EmulatorProcess:
    """``python -m graph_emulator serve`` with the scenarios' seed, volume, budget and random faults.

    ``app_budget``: the app's requests per window over every report (``--app-budget``; the CLI's default, 200,
    when None). ``EmulatorProcess`` has no parameter for it, so the option is added to its command line.
    """
    emulator = EmulatorProcess(
        rows_per_day=EMULATOR_ROWS_PER_DAY,
        seed=EMULATOR_SEED,
        budget=EMULATOR_BUDGET,
        faults=EMULATOR_FAULTS,
        workdir=workdir,
    )
    if app_budget is not None:
        emulator.argv += ["--app-budget", str(app_budget)]
    return emulator.start()


def lake_env(
    emulator: EmulatorProcess, connection_string: str, container: str, *, client_limit: int = CLIENT_LIMIT
) -> dict[str, str]:
    """Connections and Variables exactly as a deployment would set them through the environment.

    ``client_limit``: the msgraph connection's ``requests_per_minute`` per scaled window (``EMULATOR_BUDGET[0]``
    is the default's relation to Graph: the limit is the budget).

    Both reports' days are pulled at once (settle hours 0). The PSTN DAG's lake root and msgraph connection are
    left unset on purpose: ``pstn_calls_lake_root`` and ``pstn_calls_msgraph_conn_id`` fall back to the
    ``direct_routing_*`` ones, as in a deployment that predates the PSTN report.
    """
    return {
        **msgraph_connection_env(emulator, requests_per_minute=client_limit, rate_limit_window_s=EMULATOR_BUDGET[1]),
        "AIRFLOW_CONN_AZURE_LAKE": json.dumps({"conn_type": "wasb", "extra": {"connection_string": connection_string}}),
        "AIRFLOW_VAR_DIRECT_ROUTING_LAKE_ROOT": f"abfs://azure_lake@{container}/lake",
        "AIRFLOW_VAR_DIRECT_ROUTING_SETTLE_HOURS": "0",
        "AIRFLOW_VAR_PSTN_CALLS_SETTLE_HOURS": "0",
    }


# --- the emulator's ground truth -------------------------------------------------------------------------


def _day_bounds(day: date) -> dict[str, str]:
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return {"from": start.strftime(_MOMENT), "to": (start + timedelta(days=1)).strftime(_MOMENT)}


def _tenant_param(tenant: str | None) -> dict[str, str]:
    return {} if tenant is None else {"tenant": tenant}


def day_count(
    emulator: EmulatorProcess, day: date, report: str = DIRECT_ROUTING_CALLS, tenant: str | None = None
) -> int:
    """How many calls of ``report`` (a Graph function) start in the UTC ``day`` (of the Entra ``tenant``; None:
    the emulator's default tenant)."""
    return emulator.admin("count", report=report, **_day_bounds(day), **_tenant_param(tenant))["count"]


def day_ids(
    emulator: EmulatorProcess, day: date, report: str = DIRECT_ROUTING_CALLS, tenant: str | None = None
) -> list[str]:
    """The sorted ``id``s of the calls of ``report`` that start in the UTC ``day`` (half-open, whatever the report),
    of the Entra ``tenant`` (None: the emulator's default tenant)."""
    rows = emulator.admin("rows", report=report, **_day_bounds(day), **_tenant_param(tenant))
    return sorted(row["id"] for row in rows)


# --- many tenants ------------------------------------------------------------------------------------------


def tenants_env(
    emulator: EmulatorProcess,
    tenants: Mapping[str, str],
    tenants_file: Path,
    *,
    reports: Sequence[str] = ("direct_routing_calls",),
    client_limit: int = CLIENT_LIMIT,
) -> dict[str, str]:
    """A deployment of many tenants, for a stack's environment: writes ``tenants_file`` declaring ``tenants``
    (slug -> Entra tenant id) pulling ``reports``, and gives each tenant its own ``msgraph`` connection under the
    id the file leaves to the default, ``msgraph_<slug>``, with its tenant id (the app's client id and secret are
    the same in each: one multi-tenant app). ``CALL_LOGS_TENANTS_FILE`` points the DAG files at the file.
    """
    import yaml

    document = {"tenants": [{"slug": s, "tenant_id": t, "reports": list(reports)} for s, t in tenants.items()]}
    tenants_file.write_text(yaml.safe_dump(document, sort_keys=False))
    env = {"CALL_LOGS_TENANTS_FILE": str(tenants_file)}
    for slug, tenant_id in tenants.items():
        env |= msgraph_connection_env(
            emulator,
            f"msgraph_{slug}",
            tenant=tenant_id,
            requests_per_minute=client_limit,
            rate_limit_window_s=EMULATOR_BUDGET[1],
        )
    return env


# --- the emulator's budgets --------------------------------------------------------------------------------


def budget_problems(stats: dict, collections: Iterable[str] = (DIRECT_ROUTING_CALLS,)) -> list[str]:
    """How the pulls broke Graph's budgets, from the emulator's stats (empty: they kept to every one).

    For each collection in ``collections`` and for the app (every report together): the requests *received*
    (429s included) within any rolling window are at most that budget's limit, and that budget answered no 429.
    Injected 429 faults (``faults_served["throttle"]``) count in ``stats["throttled"]`` only, never against a
    budget, so the total must be exactly the injected ones plus the budgets' own.
    """
    window, problems = stats["window_s"], []
    scopes = [(f"collection {name}", stats["collections"][name]) for name in collections]
    scopes.append(("app (every report)", stats["app"]))
    for scope, figures in scopes:
        limit = figures["limit"]
        if limit is not None and figures["max_in_window"] > limit:
            problems.append(
                f"{scope}: {figures['max_in_window']} requests reached the emulator within one rolling {window:g} s "
                f"window, over the budget of {limit}"
            )
        if figures["throttled"]:
            problems.append(f"{scope}: its budget answered {figures['throttled']} x 429")
    injected = stats["faults_served"].get("throttle", 0)
    by_budgets = stats["app"]["throttled"] + sum(c["throttled"] for c in stats["collections"].values())
    if stats["throttled"] != injected + by_budgets:
        problems.append(
            f"{stats['throttled']} x 429 in all, but {injected} injected and {by_budgets} from the budgets: "
            "the emulator counts 429s in a way this check does not know"
        )
    if problems:
        problems.append(f"emulator stats: {stats}")
    return problems
