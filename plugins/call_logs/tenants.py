"""The customer tenants one deployment pulls, declared in one file beside the DAGs (``tenants.yaml``).

Carriers and managed-service providers run Direct Routing (and Operator Connect) for many Microsoft 365 tenants.
Without a tenants file the deployment pulls one tenant, exactly as before. With one, every report a tenant pulls
gets a DAG of its own (``<report>__<slug>``) and every table a ``tenant=<slug>`` level. The file is read when the
DAG files are parsed (Airflow's guidance for generated DAGs: a file, never the metadata database) and reviewed
like code; a mistake fails every DAG's import with one sentence naming the entry, never a half-loaded set::

    tenants:
      - slug: contoso                      # lower case: names folders, partition keys and DAG ids
        tenant_id: 3f7a2c1e-0000-4000-8000-000000000001   # the customer's Entra directory (tenant) id
        msgraph_conn_id: msgraph_contoso   # optional; default msgraph_<slug> (or one shared connection)
        reports: [direct_routing_calls]    # optional; default every report
        start_date: 2026-06-01             # optional; its first day (backfills reach further back)
        time_zone: Europe/Paris            # optional; shapes a first run's slices
        pseudonymised_columns: userPrincipalName,callerNumber   # optional; default the lake-wide Variable
        settings:                          # optional; overrides of the report Variables for this tenant
          settle_hours: 24
          pstn_calls: {retention_days: 365}   # ... or of one report's

Plain Python: the DAG factories (``pipeline.py``, ``gold_pipeline.py``) call ``load_tenants``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml

from call_logs.lake.layout import TENANT_SLUG
from call_logs.reports import REPORTS

TENANTS_FILE = "tenants.yaml"
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's: 500 tenants read ten times faster
SLUG = TENANT_SLUG
KEYS = frozenset(
    {
        "slug",
        "tenant_id",
        "msgraph_conn_id",
        "reports",
        "start_date",
        "time_zone",
        "pseudonymised_columns",
        "settings",
    }
)
# Report settings a tenant may override (the lake-wide ones, lake root and table format, may not), with the values
# each accepts: a tuple of words, or a type with a bound.
SETTINGS: dict[str, Any] = {
    "api_version": ("v1.0", "beta"),
    "graph_concurrency": (int, 1),
    "settle_hours": (float, 0),
    "recheck_days": (int, 0),
    "retention_days": (int, 1),
    "dq_volume_deviation": (float, 0),
    "dq_zero_rows_severity": ("warning", "error"),
    "dq_quarantine_severity": ("warning", "error"),
    "bad_rows": ("fail", "quarantine"),
}


class TenantsFileError(ValueError):
    """The tenants file is not usable; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class Tenant:
    """One customer tenant: where its calls come from and how its DAGs run.

    :param slug: its name in folders (``tenant=<slug>``), partition keys (``<slug>|YYYY-MM-DD``) and DAG ids.
    :param tenant_id: the customer's Entra directory id; a pull checks the connection is for this tenant.
    :param msgraph_conn_id: the ``msgraph`` connection its pulls use.
    :param reports: the report tables it pulls.
    :param start_date: its DAGs' start date (None: the default).
    :param time_zone: the IANA zone its working day follows (None: unknown).
    :param pseudonymised_columns: its own comma-separated list (None: the lake-wide Variable's).
    :param settings: report table -> setting -> value, overriding that report's Variable for this tenant.
    """

    slug: str
    tenant_id: str
    msgraph_conn_id: str
    reports: tuple[str, ...]
    start_date: date | None = None
    time_zone: str | None = None
    pseudonymised_columns: str | None = None
    settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def setting(self, report: str, name: str) -> str | None:
        """This tenant's value of a report setting, or None when the report's Variable decides."""
        return self.settings.get(report, {}).get(name)

    def describe(self) -> dict[str, str]:
        """What a manifest records of the tenant (never a secret)."""
        return {"slug": self.slug, "tenant_id": self.tenant_id}


@dataclass(frozen=True)
class Tenants:
    """Every tenant of the file, in its order."""

    tenants: tuple[Tenant, ...]
    path: str

    def __iter__(self) -> Iterator[Tenant]:
        return iter(self.tenants)

    def __len__(self) -> int:
        return len(self.tenants)

    def pulling(self, report: str) -> list[Tenant]:
        """The tenants that pull ``report``."""
        return [tenant for tenant in self.tenants if report in tenant.reports]

    def named(self, slug: str) -> Tenant:
        for tenant in self.tenants:
            if tenant.slug == slug:
                return tenant
        raise TenantsFileError(f"{self.path} has no tenant {slug!r}; add it, or use one of {self.slugs()}.")

    def slugs(self) -> str:
        return ", ".join(tenant.slug for tenant in self.tenants)


def load_tenants(path: str | Path) -> Tenants | None:
    """The tenants declared in ``path``, or None when there is no such file (one tenant: the deployment as before)."""
    file = Path(path)
    try:
        stat = file.stat()
    except FileNotFoundError:
        return None
    return _load(str(file), stat.st_mtime_ns, stat.st_size)


@cache
def _load(path: str, mtime_ns: int, size: int) -> Tenants:
    """Parsed once per process and version of the file: Airflow re-parses DAG files every 30 s."""
    try:
        document = yaml.load(Path(path).read_text(encoding="utf-8"), Loader=_LOADER)
    except yaml.YAMLError as error:
        raise TenantsFileError(f"{path} is not valid YAML ({error}); fix its syntax.") from None
    if not isinstance(document, dict) or set(document) != {"tenants"} or not isinstance(document["tenants"], list):
        raise TenantsFileError(f"{path} must hold one key, tenants, with a list of tenants (see call_logs/tenants.py).")
    tenants = tuple(_tenant(entry, f"{path}, tenant {n}", path) for n, entry in enumerate(document["tenants"], 1))
    _no_twins(tenants, path)
    return Tenants(tenants, path)


def _tenant(entry: Any, where: str, path: str) -> Tenant:
    if not isinstance(entry, dict):
        raise TenantsFileError(f"{where} is not a mapping of keys (slug, tenant_id, ...); write it as one.")
    slug = entry.get("slug")
    if isinstance(slug, str):
        where = f"{where} ({slug!r})"
    unknown = sorted(set(map(str, entry)) - KEYS)
    if unknown:
        raise TenantsFileError(f"{where} has unknown keys {unknown}; use only {sorted(KEYS)}.")
    if not isinstance(slug, str) or not SLUG.fullmatch(slug):
        raise TenantsFileError(
            f"{where}: the slug {slug!r} must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a "
            "letter or digit (it names folders, partition keys and DAG ids: no '/', '=', '|', '.' or upper case)."
        )
    reports = _reports(entry.get("reports"), where)
    return Tenant(
        slug=slug,
        tenant_id=_tenant_id(entry.get("tenant_id"), where),
        msgraph_conn_id=_text(entry.get("msgraph_conn_id", f"msgraph_{slug}"), "msgraph_conn_id", where),
        reports=reports,
        start_date=_start_date(entry.get("start_date"), where),
        time_zone=_time_zone(entry.get("time_zone"), where),
        pseudonymised_columns=_columns(entry.get("pseudonymised_columns"), where),
        settings=_settings(entry.get("settings"), reports, where),
    )


def _text(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise TenantsFileError(f"{where}: {key} must be a non-empty text.")
    return value.strip()


def _tenant_id(value: Any, where: str) -> str:
    try:
        return str(uuid.UUID(str(value)))
    except ValueError:
        raise TenantsFileError(
            f"{where}: tenant_id {value!r} is not an Entra directory id (a GUID such as "
            "3f7a2c1e-0000-4000-8000-000000000001); copy it from the customer's Entra admin center."
        ) from None


def _reports(value: Any, where: str) -> tuple[str, ...]:
    if value is None:
        return tuple(REPORTS)
    if not isinstance(value, list) or not value:
        raise TenantsFileError(f"{where}: reports must be a non-empty list such as [{', '.join(REPORTS)}].")
    unknown = [name for name in value if name not in REPORTS]
    if unknown:
        raise TenantsFileError(f"{where}: there is no report {unknown[0]!r}; use {', '.join(REPORTS)}.")
    return tuple(dict.fromkeys(value))


def _start_date(value: Any, where: str) -> date | None:
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise TenantsFileError(f"{where}: start_date {value!r} is not a date (YYYY-MM-DD).") from None


def _time_zone(value: Any, where: str) -> str | None:
    if value is None:
        return None
    try:
        ZoneInfo(str(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise TenantsFileError(
            f"{where}: time_zone {value!r} is not an IANA time zone (such as Europe/Paris)."
        ) from None
    return str(value)


def _columns(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, list) and all(isinstance(item, str) for item in value):
        return ",".join(value)
    if isinstance(value, str):
        return value
    raise TenantsFileError(f"{where}: pseudonymised_columns must be a comma-separated text or a list of names.")


def _settings(value: Any, reports: tuple[str, ...], where: str) -> dict[str, dict[str, str]]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise TenantsFileError(f"{where}: settings must be a mapping of setting names to values.")
    shared = {name: setting for name, setting in value.items() if name not in REPORTS}
    settings = {report: _values(shared, where) for report in reports}
    for report, own in value.items():
        if report in REPORTS:
            if report not in reports:
                raise TenantsFileError(f"{where}: settings name {report}, which the tenant does not pull.")
            if not isinstance(own, dict):
                raise TenantsFileError(f"{where}: settings.{report} must be a mapping of setting names to values.")
            settings[report] |= _values(own, f"{where}, settings.{report}")
    return settings


def _values(values: dict[str, Any], where: str) -> dict[str, str]:
    checked = {}
    for name, value in values.items():
        accepts = SETTINGS.get(name)
        if accepts is None:
            raise TenantsFileError(
                f"{where}: {name!r} is not a setting a tenant may override; use {', '.join(SETTINGS)} (the lake root "
                "and table format are lake-wide)."
            )
        if not isinstance(accepts[0], type):
            if value not in accepts:
                raise TenantsFileError(f"{where}: {name} is {value!r}; use {' or '.join(map(repr, accepts))}.")
        else:
            kind, bound = accepts
            if isinstance(value, bool) or not isinstance(value, int | float) or value < bound or kind(value) != value:
                raise TenantsFileError(f"{where}: {name} is {value!r}; use a {kind.__name__} of at least {bound}.")
        checked[name] = str(value)
    return checked


def _no_twins(tenants: tuple[Tenant, ...], path: str) -> None:
    for kind in ("slug", "tenant_id"):
        seen: dict[str, str] = {}
        for tenant in tenants:
            value = getattr(tenant, kind)
            if value in seen:
                raise TenantsFileError(
                    f"{path}: tenants {seen[value]!r} and {tenant.slug!r} share the {kind} {value}; each tenant needs "
                    "its own (one Entra tenant, one entry)."
                )
            seen[value] = tenant.slug
