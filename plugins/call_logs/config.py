"""The pipeline's settings, in one place: Airflow Variables (or ``AIRFLOW_VAR_…``) with documented defaults.

Values are Jinja templates, resolved when a task runs, so parsing the DAG never touches the database.
"""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

# Variable name -> (default, meaning). The README's configuration table mirrors this.
VARIABLES = {
    "direct_routing_lake_root": (
        (PROJECT_ROOT / "lake").as_uri(),
        "ObjectStoragePath URL of the lake: file:///… or abfs://<conn_id>@<container>/<path>",
    ),
    "direct_routing_msgraph_conn_id": ("msgraph_default", "the azure provider msgraph connection to read Graph with"),
    # Empty by default, so that the connection's api_version extra applies: a Variable set explicitly wins,
    # else the connection's extra, else v1.0 (the one precedence rule, see GraphSettings.from_connection).
    "direct_routing_api_version": ("", "Graph API version v1.0 or beta (four extra columns); empty: the connection's"),
    "direct_routing_graph_concurrency": ("4", "hour-long sub-windows paged side by side under one request budget"),
    "direct_routing_settle_hours": ("48", "hours after a day ends before it is pulled (Graph's reports lag 24-48 h)"),
    "direct_routing_retention_days": ("150", "days of history Graph keeps; older days are skipped, never written"),
    "direct_routing_dq_volume_deviation": ("0.5", "quality: warn when rows stray further from the weekday median"),
    "direct_routing_dq_zero_rows_severity": ("warning", "quality: 'warning' or 'error' for a zero-row day"),
}

POOL = "msgraph_callrecords"
POOL_DOC = "one slot: one Graph pull at a time shares the per-collection budget (50 requests / 60 s)"


def variable_expression(name: str) -> str:
    """Jinja expression for Variable ``name``, falling back to its documented default."""
    return f"var.value.get('{name}', '{VARIABLES[name][0]}')"


def template(name: str) -> str:
    """A template field value that reads Variable ``name`` when the task runs."""
    return "{{ " + variable_expression(name) + " }}"


# When a run's day has settled in Graph. A run without a data interval passes straight on, and the extract
# task then fails with the explanation.
SETTLED_AT = (
    "{{ (data_interval_end + macros.timedelta(hours=("
    + variable_expression("direct_routing_settle_hours")
    + " | float))).isoformat() if data_interval_end else '1970-01-01T00:00:00+00:00' }}"
)
