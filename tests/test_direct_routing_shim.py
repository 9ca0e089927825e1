"""The old ``direct_routing`` import path: every old name still works like before and warns once, naming the new one.

pyproject.toml ignores DeprecationWarning for the whole suite, so each test records warnings itself.
"""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
import warnings
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest
from call_logs.graph.client import GraphReportClient, RawPage
from call_logs.graph.window import Window
from call_logs.hooks.graph_calls import CallLogsHook
from call_logs.operators.extract import CallLogToLakeOperator
from call_logs.operators.quality import CallLogQualityOperator
from call_logs.operators.wait import SettledDataSensor
from call_logs.reports.direct_routing import DIRECT_ROUTING

ROOT = Path(__file__).resolve().parents[1]

# old module, old name, the new class, the new name the warning must give
OLD_NAMES = [
    (
        "direct_routing.hooks.graph_calls",
        "DirectRoutingCallsHook",
        CallLogsHook,
        "call_logs.hooks.graph_calls.CallLogsHook",
    ),
    (
        "direct_routing.operators.extract",
        "DirectRoutingCallsToLakeOperator",
        CallLogToLakeOperator,
        "call_logs.operators.extract.CallLogToLakeOperator",
    ),
    (
        "direct_routing.operators.quality",
        "DirectRoutingCallsQualityOperator",
        CallLogQualityOperator,
        "call_logs.operators.quality.CallLogQualityOperator",
    ),
    (
        "direct_routing.operators.wait",
        "SettledDataSensor",
        SettledDataSensor,
        "call_logs.operators.wait.SettledDataSensor",
    ),
    (
        "direct_routing.graph.client",
        "DirectRoutingCallsClient",
        GraphReportClient,
        "call_logs.graph.client.GraphReportClient",
    ),
]


def take(module: str, name: str) -> tuple[type, list[warnings.WarningMessage]]:
    """``from <module> import <name>``, with every warning it emits."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = getattr(importlib.import_module(module), name)
    return value, caught


@pytest.mark.parametrize(("module", "name", "new", "new_name"), OLD_NAMES, ids=[row[1] for row in OLD_NAMES])
def test_old_name_is_the_new_class_and_warns_once_naming_it(module, name, new, new_name):
    old, caught = take(module, name)

    assert issubclass(old, new)
    assert [w.category for w in caught] == [DeprecationWarning]
    message = str(caught[0].message)
    assert message.startswith(f"{module}.{name} is deprecated and will be removed in the next release; use {new_name}")
    assert caught[0].filename == __file__  # points at the line that took the old name


@pytest.mark.parametrize("module", sorted({row[0] for row in OLD_NAMES}))
def test_importing_an_old_module_alone_does_not_warn(module, monkeypatch):
    monkeypatch.delitem(sys.modules, module, raising=False)  # run the module's code again, not the cached module
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        importlib.import_module(module)
    assert [str(w.message) for w in caught if issubclass(w.category, DeprecationWarning)] == []


def test_from_import_warns_at_the_importing_line():
    with pytest.warns(DeprecationWarning, match=r"use call_logs\.hooks\.graph_calls\.CallLogsHook\.$") as caught:
        from direct_routing.hooks.graph_calls import DirectRoutingCallsHook  # noqa: F401
    assert len(caught) == 1
    assert caught[0].filename == __file__


def test_unknown_old_name_is_an_attribute_error():
    module = importlib.import_module("direct_routing.operators.extract")
    with pytest.raises(AttributeError, match="has no attribute 'Nothing'"):
        module.Nothing  # noqa: B018


@pytest.mark.parametrize(
    ("module", "name"),
    [
        ("direct_routing.operators.extract", "DirectRoutingCallsToLakeOperator"),
        ("direct_routing.operators.quality", "DirectRoutingCallsQualityOperator"),
    ],
)
def test_old_operators_take_the_old_call_and_pull_direct_routing(module, name):
    operator_class, _ = take(module, name)

    operator = operator_class(task_id="extract", lake_root="file:///tmp/lake")  # the old DAG's call: no report

    assert operator.report == "direct_routing_calls"
    assert operator.lake_root == "file:///tmp/lake"
    assert operator_class(task_id="x", lake_root="l", report="pstn_calls").report == "pstn_calls"


def test_old_hook_iter_pages_takes_no_report_and_yields_lists_of_dicts(monkeypatch):
    hook_class, _ = take("direct_routing.hooks.graph_calls", "DirectRoutingCallsHook")
    asked = {}

    class Client:
        def iter_pages(self, window, stats=None):
            asked["window"], asked["stats"] = window, stats
            yield RawPage(value=[msgspec.Raw(b'{"id": "a"}'), msgspec.Raw(b'{"id": "b", "duration": 7}')])

    def client_for(self, report, **kwargs):
        asked["report"] = report
        return Client()

    monkeypatch.setattr(CallLogsHook, "client_for", client_for)
    start, end = datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 2, tzinfo=UTC)
    stats = object()

    pages = list(hook_class("msgraph_default").iter_pages(start, end, stats))

    assert pages == [[{"id": "a"}, {"id": "b", "duration": 7}]]
    assert asked == {"report": DIRECT_ROUTING, "window": Window(start, end), "stats": stats}


def test_old_hook_get_conn_is_a_direct_routing_client(monkeypatch):
    hook_class, _ = take("direct_routing.hooks.graph_calls", "DirectRoutingCallsHook")
    asked = {}

    def client_for(self, report, **kwargs):
        asked.update(report=report, **kwargs)
        return "client"

    monkeypatch.setattr(CallLogsHook, "client_for", client_for)
    limiter, retry = object(), object()

    assert hook_class().get_conn(limiter=limiter, retry=retry) == "client"
    assert asked == {"report": DIRECT_ROUTING, "limiter": limiter, "retry": retry}


def test_old_client_takes_the_old_call_and_reads_get_direct_routing_calls():
    client_class, _ = take("direct_routing.graph.client", "DirectRoutingCallsClient")

    client = client_class(graph_root="https://graph.microsoft.com", tokens=object())  # no function_path, as before

    assert client.function_path == "communications/callRecords/getDirectRoutingCalls"


def test_old_command_line_delegates_and_says_it_is_deprecated():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(ROOT / part) for part in ("plugins", "include", "dags"))}

    done = subprocess.run(
        [sys.executable, "-m", "direct_routing", "report", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert "--lake-root" in done.stdout  # call_logs' own report command answered
    assert "python -m direct_routing is deprecated" in done.stderr
    assert "use python -m call_logs." in done.stderr
