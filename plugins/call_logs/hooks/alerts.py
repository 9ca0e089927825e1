"""Sending alerts where people already are, through an Airflow connection; off until one is named.

The Variable ``call_logs_alert_conn_id`` names a connection of the apprise provider (conn type ``apprise``, its
``config`` extra a list of ``{"path": <apprise URL>}``): one URL per destination, e.g. a Microsoft Teams Workflows
webhook (``workflows://…``), mail (``mailtos://…``), Slack, PagerDuty or any JSON webhook (``json://…``). Unset or
empty: alerts are off and each would-be alert is logged instead. Another notifier plugs in through the Variable
``call_logs_alert_notifier``: the import path of a function ``(alert: call_logs.alerts.Alert) -> bool`` (README).

An alert never fails the task that raised it: a destination that cannot be reached is a logged warning. Its text goes
through Airflow's secrets masker before it leaves, and the lake's ``AlertLedger`` keeps it to one per cause, table,
tenant and partition (a lake that cannot be reached for the ledger sends anyway: better twice than never).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from dataclasses import replace

from airflow.sdk import Variable

from call_logs.alerts import Alert, AlertLedger
from call_logs.hooks.lake import open_lake

ALERT_CONN_VARIABLE = "call_logs_alert_conn_id"
ALERT_NOTIFIER_VARIABLE = "call_logs_alert_notifier"
ALERT_ON_WARNINGS_VARIABLE = "call_logs_alert_on_warnings"

log = logging.getLogger(__name__)


def _variable(name: str) -> str:
    try:
        return str(Variable.get(name, default="") or "").strip()
    except Exception:  # noqa: BLE001 - no Variable backend here (a plain Python run): alerts stay off
        return ""


def alerts_on_warnings() -> bool:
    """Whether quality warnings raise alerts too (``call_logs_alert_on_warnings``: true/false, default false)."""
    return _variable(ALERT_ON_WARNINGS_VARIABLE).lower() in ("true", "1", "yes", "on")


def ledger_of(lake_root: str | None) -> AlertLedger | None:
    """The alert ledger of a lake, or None when the lake cannot be opened (the alert is then sent anyway)."""
    if not lake_root:
        return None
    try:
        lake = open_lake(lake_root)
    except Exception as error:  # noqa: BLE001 - an alert must not fail on the lake that may be its cause
        log.warning("The alert ledger is unavailable (%s): alerts are not de-duplicated this time.", error)
        return None
    return AlertLedger(lake.fs, lake.path)


def send_alert(alert: Alert, lake_root: str | None = None, ledger: AlertLedger | None = None) -> bool:
    """Send ``alert`` unless alerts are off or it was already sent; True when it went out."""
    notifier = _notifier()
    if notifier is None:
        log.info("Alerts are off (Variable %s is unset): %s", ALERT_CONN_VARIABLE, alert.title)
        return False
    ledger = ledger or ledger_of(lake_root)
    try:
        if ledger is not None and ledger.already_sent(alert):
            log.info("Alert already sent, not repeated: %s", alert.title)
            return False
    except OSError as error:
        log.warning("The alert ledger could not be read (%s): sending anyway.", error)
    from airflow.sdk.log import redact

    masked = replace(alert, summary=str(redact(alert.summary)), details=tuple(str(redact(d)) for d in alert.details))
    try:
        sent = notifier(masked)
    except Exception as error:  # noqa: BLE001 - a destination that fails never fails the task
        log.warning("The alert could not be sent (%s: %s): %s", type(error).__name__, error, alert.title)
        return False
    if not sent:
        log.warning("The alert destination refused the alert: %s", alert.title)
        return False
    log.info("Alert sent: %s", alert.title)
    try:
        if ledger is not None:
            ledger.record(alert)
    except OSError as error:
        log.warning("The alert ledger could not be written (%s): it may be sent again.", error)
    return True


def _notifier() -> Callable[[Alert], bool] | None:
    custom = _variable(ALERT_NOTIFIER_VARIABLE)
    if custom:
        module, _, name = custom.rpartition(".")
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError, ValueError) as error:
            log.warning("Variable %s names %r, which cannot be imported (%s).", ALERT_NOTIFIER_VARIABLE, custom, error)
            return None
    conn_id = _variable(ALERT_CONN_VARIABLE)
    if not conn_id:
        return None
    return lambda alert: notify_apprise(conn_id, alert)


def notify_apprise(conn_id: str, alert: Alert) -> bool:
    """Send through the apprise connection ``conn_id``; True when every destination accepted it."""
    import apprise
    from airflow.providers.apprise.hooks.apprise import AppriseHook

    hook = AppriseHook(apprise_conn_id=conn_id)
    destinations = apprise.Apprise()
    hook.set_config_from_conn(conn=hook.get_connection(conn_id), apprise_obj=destinations)
    kind = apprise.NotifyType.FAILURE if alert.severity == "failure" else apprise.NotifyType.WARNING
    return bool(destinations.notify(body=alert.body, title=alert.title, notify_type=kind))
