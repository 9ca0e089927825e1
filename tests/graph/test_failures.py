"""The one classification of the pipeline's errors: retryable or not, and what the task raises for each."""

from __future__ import annotations

import pytest
from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException
from azure.core.exceptions import ClientAuthenticationError, ServiceRequestError
from call_logs.failures import CLASSIFICATION, classify, is_retryable, to_airflow
from call_logs.graph.errors import (
    GraphAuthError,
    GraphConfigError,
    GraphDeadlineError,
    GraphError,
    GraphPermissionError,
    GraphRequestError,
    GraphRetryAfterTooLongError,
    GraphUnavailableError,
    UnsafeNextLinkError,
    UnsupportedCloudError,
)
from call_logs.lake.convert import SchemaViolation

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
    (GraphError("something new from Graph"), False),
    (SchemaViolation("Field 'duration' of the row with id x is 'abc'"), False),
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
