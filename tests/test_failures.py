"""The one classification of the pipeline's errors: retryable or not, and what the task raises for each.

Every class of Graph and lake error has a row here (``test_every_graph_and_lake_error_class_has_a_case``): a new
class without a decision fails the suite instead of being retried like a network blip by default.
"""

from __future__ import annotations

import importlib
import pkgutil

import call_logs
import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from call_logs.failures import CLASSIFICATION, classify, is_retryable, to_airflow
from call_logs.gold.monthly import MonthIncomplete
from call_logs.gold.source_days import SourceDayUnusable
from call_logs.graph.errors import (
    GraphAuthError,
    GraphConfigError,
    GraphDeadlineError,
    GraphError,
    GraphPagingError,
    GraphPermissionError,
    GraphRequestError,
    GraphRetryAfterTooLongError,
    GraphUnavailableError,
    UnsafeNextLinkError,
    UnsupportedCloudError,
)
from call_logs.lake.convert import RowNotAnObject, SchemaViolation
from call_logs.lake.delta_storage import LakeLocationError
from call_logs.lake.delta_table import DayCommitConflict, DeltaSchemaChangeRefused, DeltaTableMissing
from call_logs.lake.errors import (
    CommitConflict,
    LakeConfigError,
    LakeError,
    LakeSchemaError,
    ManifestError,
    PartitionUnusable,
    RowsRejected,
)
from call_logs.reports import UnknownReport
from call_logs.rewrite import AlreadyPseudonymised

CASES = [
    # error, retryable
    (GraphUnavailableError("Graph kept failing (HTTP 429) after 8 attempts"), True),
    (GraphUnavailableError("Could not reach the token authority"), True),
    (GraphRetryAfterTooLongError("Retry-After 86400 s"), True),
    (GraphDeadlineError("would outlast the task's execution_timeout"), True),
    (GraphConfigError("The verify extra ..."), False),
    (GraphAuthError("AADSTS7000215"), False),
    (GraphPermissionError("CallRecords.Read.All"), False),
    (GraphRequestError("Graph refused the window"), False),
    (UnsupportedCloudError("China (21Vianet)"), False),
    (UnsafeNextLinkError("refusing to send the token there"), False),
    (GraphPagingError("Graph's paging repeated page 3 of getDirectRoutingCalls"), False),
    (GraphError("something new from Graph"), False),
    (SchemaViolation("Field 'duration' of the row with id x is 'abc'"), False),
    (RowsRejected("a row does not fit"), False),
    (
        RowNotAnObject("page 3 of getDirectRoutingCalls for [2026-03-01T00:00:00Z, 2026-03-02T00:00:00Z)", 17, "x"),
        False,
    ),
    # The lake: only a concurrent commit of the same partition is worth another try.
    (DayCommitConflict("A concurrent commit conflicted with this run's call_date=2026-03-01"), True),
    (CommitConflict("another writer committed first"), True),
    (DeltaSchemaChangeRefused("other type: ['duration']; only added columns are allowed"), False),
    (LakeSchemaError("partitioned by ['day'], not by ['call_date']"), False),
    (LakeLocationError("There is no Airflow connection 'lake'"), False),
    (LakeConfigError("The lake root 'foo://x' cannot be opened"), False),
    (DeltaTableMissing("There is no Delta table at /lake/t."), False),
    (SourceDayUnusable("direct_routing_calls 2026-03-01: run its DAG for the day first"), False),
    (MonthIncomplete("the rollup of 2026-03 needs every day"), False),
    (AlreadyPseudonymised("tokens cannot be re-keyed"), False),
    (PartitionUnusable("the day cannot be read"), False),
    (ManifestError("it is malformed"), False),
    (LakeError("something new from the lake"), False),
    (UnknownReport("There is no report 'x'"), False),
    (PermissionError(13, "Permission denied"), False),
    (ClientAuthenticationError("lake key wrong"), False),
    (ServiceRequestError("lake unreachable"), True),
    (ConnectionResetError(104, "reset"), True),
    (OSError("disk hiccup"), True),
    (RuntimeError("unforeseen"), True),
]


@pytest.mark.parametrize(("error", "retryable"), CASES, ids=lambda value: type(value).__name__)
def test_each_error_is_classified_once(error, retryable):
    assert is_retryable(error) is retryable
    assert classify(error)[0] is retryable


@pytest.mark.parametrize(("error", "retryable"), CASES, ids=lambda value: type(value).__name__)
def test_the_task_fails_at_once_with_the_same_message_or_lets_airflow_retry(error, retryable):
    raised = to_airflow(error)
    if retryable:
        assert raised is error
    else:
        assert type(raised) is AirflowFailException
        assert str(raised) == str(error)


def test_airflows_own_exceptions_pass_through():
    fail, skip = AirflowFailException("no"), AirflowSkipException("old day")
    assert to_airflow(fail) is fail and to_airflow(skip) is skip
    assert not is_retryable(fail)


def test_the_table_lists_subclasses_before_their_bases():
    classes = [cls for cls, _, _ in CLASSIFICATION]
    for i, cls in enumerate(classes):
        for later in classes[i + 1 :]:
            assert not issubclass(later, cls) or later is cls, f"{later.__name__} is shadowed by {cls.__name__}"


def test_a_foreign_next_link_is_no_longer_retried_for_half_an_hour():
    """The operator's report: token withheld, nothing written, then three retries with backoff (~35 minutes)."""
    raised = to_airflow(UnsafeNextLinkError("Graph returned a nextLink to https://evil.example; refusing"))
    assert isinstance(raised, AirflowFailException)


def _subclasses(base: type) -> set[type]:
    found = {base}
    for sub in base.__subclasses__():
        found |= _subclasses(sub)
    return found


def test_every_graph_and_lake_error_class_has_a_case():
    """Each error class this project raises is decided on purpose, wherever in the library it is defined."""
    for module in pkgutil.walk_packages(call_logs.__path__, "call_logs."):
        if not module.name.endswith("__main__"):
            importlib.import_module(module.name)
    covered = {type(error) for error, _ in CASES}
    missing = sorted(cls.__qualname__ for cls in _subclasses(GraphError) | _subclasses(LakeError) if cls not in covered)
    assert not missing, f"add a case (and, if needed, a CLASSIFICATION row) for {missing}"
    for error, _ in CASES:
        if isinstance(error, GraphError | LakeError):
            assert classify(error)[1] != "not classified: left to Airflow's retries", type(error).__name__
