"""Which errors a retry can fix: the one place the pipeline decides it.

Airflow retries a failed task (3 times, exponential backoff from 5 minutes in this DAG) unless it raises
``AirflowFailException``. A retry helps only when the cause may go away by itself: Graph throttling or down,
the network, the lake's storage briefly unavailable. Configuration, permissions, a tampered nextLink or data
Graph sent in the wrong shape will be the same 35 minutes later: those fail at once, with the same sentence.

    try:
        ...
    except Exception as error:
        raise to_airflow(error) from None

``CLASSIFICATION`` is the table, read top to bottom (subclasses before their bases); the README's runbook
names the same cases.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException

from call_logs.graph.errors import (
    GraphConfigError,
    GraphDeadlineError,
    GraphError,
    GraphRetryAfterTooLongError,
    GraphUnavailableError,
    UnsafeNextLinkError,
)
from call_logs.lake.convert import SchemaViolation


def _azure_auth_error() -> list[type[BaseException]]:
    try:
        from azure.core.exceptions import ClientAuthenticationError
    except ImportError:  # pragma: no cover - the azure provider brings it
        return []
    return [ClientAuthenticationError]


# (error class, retryable, why): read top to bottom, the first class the error is an instance of decides.
CLASSIFICATION: list[tuple[type[BaseException], bool, str]] = [
    # Graph: what a later try may get past.
    (GraphRetryAfterTooLongError, True, "Graph asked for a wait longer than one try may spend; a later try may pass"),
    (GraphDeadlineError, True, "the next wait would outlast execution_timeout; a later try may pass"),
    (GraphUnavailableError, True, "Graph throttled, answered 5xx or the network failed on every attempt"),
    # Graph: what no retry can change.
    (GraphConfigError, False, "connection, credentials, permission, cloud or request: fix the configuration"),
    (UnsafeNextLinkError, False, "a nextLink to another host: a proxy or tampering, investigate before re-running"),
    (GraphError, False, "any other Graph error names what to fix"),
    # The data Graph sent.
    (SchemaViolation, False, "Graph sent a value of another type: the same day gives the same rows again"),
    # The lake's storage.
    (PermissionError, False, "the lake refuses this worker: fix direct_routing_lake_root or its connection"),
    # (Graph's token errors never get here raw: auth.py turns them into Graph errors above.)
    *((cls, False, "the lake's connection cannot authenticate: fix its credentials") for cls in _azure_auth_error()),
]
RETRYABLE_BY_DEFAULT = True  # anything else (storage hiccups, an unforeseen error): Airflow's retries decide


def classify(error: BaseException) -> tuple[bool, str]:
    """(retryable, why) for ``error``, from ``CLASSIFICATION``."""
    for cls, retryable, why in CLASSIFICATION:
        if isinstance(error, cls):
            return retryable, why
    return RETRYABLE_BY_DEFAULT, "not classified: left to Airflow's retries"


def is_retryable(error: BaseException) -> bool:
    """True when a later try of the task may succeed where this one failed."""
    if isinstance(error, AirflowFailException):
        return False
    if isinstance(error, AirflowException):
        return True  # Airflow's own (timeouts, skip, reschedule...): Airflow applies its rules to them
    return classify(error)[0]


def to_airflow(error: BaseException) -> BaseException:
    """What a task should raise for ``error``: ``AirflowFailException`` (no retry, same message) when no retry
    can fix it, else the error itself, for Airflow's retries. Airflow's own exceptions pass through unchanged."""
    if isinstance(error, AirflowException) or is_retryable(error):
        return error
    return AirflowFailException(str(error) or type(error).__name__)
