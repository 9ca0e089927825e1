"""Registers the partition mappers and windows of a lake of many tenants (``call_logs/partitions.py``).

Airflow's scheduler and DAG processor deserialize a DAG's partition mappers only when a plugin registers their
classes; the library itself (``call_logs/``) is not a plugin (see ``.airflowignore``).
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin
from call_logs.partitions import DueTenantsWindow, TenantDayMapper, TenantMonthMapper, TenantMonthWindow


class CallLogsPartitionsPlugin(AirflowPlugin):
    name = "call_logs_partitions"
    partition_mappers = [TenantMonthMapper, TenantDayMapper]
    windows = [TenantMonthWindow, DueTenantsWindow]
