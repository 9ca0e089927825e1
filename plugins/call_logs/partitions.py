"""Partition mappers and windows for a lake of many tenants, whose partition keys are ``<slug>|YYYY-MM-DD``.

Airflow's own ``RollupMapper`` pairs an upstream mapper and a window of the same decoded type, and refuses a
``ProductMapper`` (keys as text) with a ``MonthWindow`` (days as datetimes); these keep tenant keys as text:

- ``TenantMonthMapper`` + ``TenantMonthWindow``: a tenant's days roll up into its month, ``<slug>|YYYY-MM``, once
  every day of that month has arrived (the monthly trunk-health rollup, per tenant);
- ``TenantDayMapper`` + ``DueTenantsWindow``: every tenant's day rolls up into the day, ``YYYY-MM-DD``, once each
  tenant *due* that day has arrived (the carrier's SBC view across tenants). A tenant is due on the days from its
  ``start_date`` in the tenants file (every day without one); the file's list is in the serialized DAG, so a
  tenant added or removed changes the window when the DAG files are parsed again.

They subclass Airflow's core classes (the scheduler evaluates them) and are registered by the plugin
``plugins/call_logs_plugin.py``, which the scheduler and the DAG processor load.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any, ClassVar

from airflow.partition_mappers.base import PartitionMapper
from airflow.partition_mappers.window import Window

from call_logs.assets import MONTH_KEY_FORMAT, day_of_partition_key, month_of_partition_key, partition_key, split_tenant
from call_logs.utc import days_of_month


def _tenant_of(key: str) -> tuple[str, str]:
    tenant, rest = split_tenant(key)
    if tenant is None:
        raise ValueError(f"The partition key {key!r} names no tenant (<slug>|...).")
    return tenant, rest


class TenantMonthMapper(PartitionMapper):
    """``<slug>|YYYY-MM-DD`` -> ``<slug>|YYYY-MM``: the tenant's month a day belongs to."""

    def to_downstream(self, key: str) -> str:
        tenant, day = _tenant_of(key)
        return partition_key(day_of_partition_key(day), tenant, MONTH_KEY_FORMAT)


class TenantMonthWindow(Window):
    """Every day of a tenant's month: ``<slug>|YYYY-MM`` -> ``<slug>|YYYY-MM-01`` ... ``<slug>|YYYY-MM-DD``."""

    expected_decoded_type: ClassVar[type] = str

    def to_upstream(self, decoded_downstream: str) -> Iterable[str]:
        tenant, month = _tenant_of(decoded_downstream)
        return [partition_key(day, tenant) for day in days_of_month(month_of_partition_key(month))]


class TenantDayMapper(PartitionMapper):
    """``<slug>|YYYY-MM-DD`` -> ``YYYY-MM-DD``: the day across tenants."""

    def to_downstream(self, key: str) -> str:
        _, day = _tenant_of(key)
        return day_of_partition_key(day).isoformat()


class DueTenantsWindow(Window):
    """The tenants due on a day: ``YYYY-MM-DD`` -> ``<slug>|YYYY-MM-DD`` for each tenant whose start is not after it.

    :param tenants: slug -> its first day (ISO text), or None when every day is due.
    """

    expected_decoded_type: ClassVar[type] = str

    def __init__(self, tenants: Mapping[str, str | None] | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tenants = dict(tenants or {})

    def due(self, day: date) -> list[str]:
        return [slug for slug, start in self.tenants.items() if start is None or date.fromisoformat(start) <= day]

    def to_upstream(self, decoded_downstream: str) -> Iterable[str]:
        day = day_of_partition_key(decoded_downstream)
        return [partition_key(day, slug) for slug in self.due(day)]

    def serialize(self) -> dict[str, Any]:
        return super().serialize() | {"tenants": self.tenants}

    @classmethod
    def deserialize(cls, data: dict[str, Any]) -> Window:
        return cls(data.get("tenants"), direction=cls.Direction(data["direction"]))
