"""The pipeline's settings, in one place: per-report Airflow Variables (or ``AIRFLOW_VAR_…``) with their defaults.

Each report's Variables are ``<namespace>_<setting>`` (``direct_routing_lake_root``, ``pstn_calls_lake_root``, …).
The lake-wide settings (``SHARED``) of every report fall back to one Variable named with ``LAKE_WIDE_PREFIX``, so
one ``direct_routing_lake_root`` (as deployments already have) puts every table in the same lake, and one
``direct_routing_table_format`` gives every table the same format. Values are Jinja templates, resolved when a task
runs, so parsing a DAG never touches the database.
"""

from __future__ import annotations

import os
from pathlib import Path

from call_logs import defaults
from call_logs.reports import REPORTS
from call_logs.reports.spec import ReportSpec
from call_logs.tenants import TENANTS_FILE

TENANTS_FILE_ENV = "CALL_LOGS_TENANTS_FILE"  # another tenants file than dags/tenants.yaml (tests, benchmarks)

PROJECT_ROOT = Path(__file__).resolve().parents[2]

SHARED = ("lake_root", "msgraph_conn_id", "table_format")
# The lake-wide Variables keep the names they had when direct routing was the only report: deployments set them.
LAKE_WIDE_PREFIX = "direct_routing"
POOLS = {
    spec.pool: f"one slot: one {spec.function} pull at a time shares its collection's budget (50 requests / 60 s)"
    for spec in REPORTS.values()
}


def variables(spec: ReportSpec) -> dict[str, tuple[str, str]]:
    """Variable name -> (default, meaning) of one report. The README's configuration table mirrors this."""
    settings = {
        "lake_root": (
            (PROJECT_ROOT / "lake").as_uri(),
            "ObjectStoragePath URL of the lake: file:///… or abfs://<conn_id>@<container>/<path>",
        ),
        "msgraph_conn_id": (defaults.MSGRAPH_CONN_ID, "the azure provider msgraph connection to read Graph with"),
        "table_format": (
            defaults.TABLE_FORMAT,
            "table format of the lake: parquet (call_date=D/ partitions) or delta (one Delta table per report)",
        ),
        # Empty by default, so that the connection's api_version extra applies: a Variable set explicitly wins,
        # else the connection's extra, else v1.0 (the one precedence rule, see GraphSettings.from_connection).
        "api_version": ("", "Graph API version v1.0 or beta (the beta-only columns); empty: the connection's"),
        "graph_concurrency": (
            str(defaults.GRAPH_CONCURRENCY),
            "sub-windows paged side by side under one request budget",
        ),
        "settle_hours": (str(spec.settle_hours), "hours after a day ends before it is pulled (reports lag 24-48 h)"),
        "recheck_days": (
            str(defaults.RECHECK_DAYS),
            "pull each day again this many days after its scheduled pull, folding in late calls; 0: off",
        ),
        "retention_days": (
            str(spec.retention_days),
            "days of history Graph keeps; older days are skipped, never written",
        ),
        "dq_volume_deviation": (
            str(defaults.VOLUME_DEVIATION),
            "quality: warn when rows stray further from the weekday median",
        ),
        "dq_zero_rows_severity": (defaults.ZERO_ROWS_SEVERITY, "quality: 'warning' or 'error' for a zero-row day"),
        "bad_rows": (
            defaults.BAD_ROWS,
            "a row Graph sent that does not convert: 'fail' the day, or 'quarantine' the row and keep the others",
        ),
        "dq_quarantine_severity": (
            defaults.QUARANTINE_SEVERITY,
            "quality: 'error' or 'warning' for a day with rows in its quarantine",
        ),
    }
    return {spec.variable(setting): value for setting, value in settings.items()}


def lake_wide_variable(setting: str) -> str:
    """The Variable every report falls back to for a lake-wide setting, e.g. ``direct_routing_lake_root``."""
    return f"{LAKE_WIDE_PREFIX}_{setting}"


# Lake-wide settings: one Variable for every report (no per-report override that could leave one table raw).
PSEUDONYMISED_COLUMNS = lake_wide_variable("pseudonymised_columns")
PSEUDONYMISATION_CONN_ID = f"{LAKE_WIDE_PREFIX}_pseudonymisation"  # its password is the key: secrets backend
LAKE_VARIABLES = {
    PSEUDONYMISED_COLUMNS: (
        "",
        "comma-separated column names whose values every report writes as keyed tokens; empty: off",
    ),
}

# Alerts (hooks/alerts.py) and the trunk-regression alert's limits (gold/quality.py), read by every DAG.
ALERT_VARIABLES = {
    "call_logs_alert_conn_id": ("", "apprise connection alerts go to (Teams Workflows, mail, Slack, …); empty: off"),
    "call_logs_alert_on_warnings": ("false", "true: quality warnings raise alerts too, not only errors"),
    "call_logs_alert_notifier": ("", "import path of another notifier, a function (alert) -> bool; empty: apprise"),
    "direct_routing_trunk_regression_drop": (
        str(defaults.REGRESSION_DROP),
        "alert when a trunk's NER or answer-seizure ratio is this far below its 28-day median (0.1 = 10 points)",
    ),
    "direct_routing_trunk_regression_min_calls": (
        str(defaults.REGRESSION_MIN_CALLS),
        "a trunk-day needs this many calls to count, so a quiet trunk pages nobody",
    ),
}

VARIABLES = (
    {name: value for spec in REPORTS.values() for name, value in variables(spec).items()}
    | LAKE_VARIABLES
    | ALERT_VARIABLES
)
# Variable -> the lake-wide Variable it falls back to when unset.
FALLBACKS = {
    spec.variable(setting): lake_wide_variable(setting)
    for spec in REPORTS.values()
    for setting in SHARED
    if spec.variable(setting) != lake_wide_variable(setting)
}


def variable_expression(name: str) -> str:
    """Jinja expression for Variable ``name``, falling back to the lake-wide Variable (if shared), then its default."""
    default = f"'{VARIABLES[name][0]}'"
    if name in FALLBACKS:
        default = f"var.value.get('{FALLBACKS[name]}', {default})"
    return f"var.value.get('{name}', {default})"


def variable_value(name: str) -> str:
    """Variable ``name`` as a task or a callback reads it now: its value, else the lake-wide one it falls back to,
    else its default (what ``template`` renders, for code that has no template to render)."""
    from airflow.sdk import Variable

    for candidate in (name, FALLBACKS.get(name)):
        if candidate:
            value = Variable.get(candidate, default=None)
            if value is not None:
                return str(value)
    return VARIABLES.get(name, ("", ""))[0]


def template(name: str) -> str:
    """A template field value that reads Variable ``name`` when the task runs."""
    return "{{ " + variable_expression(name) + " }}"


def settled_at(spec: ReportSpec, hours: str | None = None) -> str:
    """When a run's day has settled in Graph, as a template (``hours``: a tenant's own, instead of the Variable's).

    A run without a data interval passes straight on, and the extract task then fails with the explanation.
    """
    settle = variable_expression(spec.variable("settle_hours")) if hours is None else repr(hours)
    return (
        "{{ (data_interval_end + macros.timedelta(hours=("
        + settle
        + " | float))).isoformat() if data_interval_end else '1970-01-01T00:00:00+00:00' }}"
    )


def tenants_file(beside: Path) -> Path:
    """The tenants file of a DAG folder: ``CALL_LOGS_TENANTS_FILE`` when set, else ``tenants.yaml`` beside the DAGs."""
    return Path(os.environ.get(TENANTS_FILE_ENV) or beside / TENANTS_FILE)
