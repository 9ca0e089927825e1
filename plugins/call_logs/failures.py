"""Which errors a retry can fix: the one place the pipeline decides it.

Airflow retries a failed task (3 times, exponential backoff from 5 minutes in this DAG) unless it raises
``AirflowFailException``. A retry helps only when the cause may go away by itself: Graph throttling or down,
the network, the lake's storage briefly unavailable, another run of the same day committing first.
Configuration, permissions, a tampered nextLink, data Graph sent in the wrong shape, a table that refuses the
data's schema or a source partition that is missing will be the same 35 minutes later: those fail at once, with
the same sentence. Every class of ``graph/errors.py`` and ``lake/errors.py`` has its row.

    try:
        ...
    except Exception as error:
        raise to_airflow(error) from None

``CLASSIFICATION`` is the table, read top to bottom (subclasses before their bases); the README's runbook
names the same cases.
"""

from __future__ import annotations

from airflow.sdk.exceptions import AirflowException, AirflowFailException
from azure.core.exceptions import ClientAuthenticationError

from call_logs.graph.errors import (
    GraphConfigError,
    GraphDeadlineError,
    GraphError,
    GraphPagingError,
    GraphRetryAfterTooLongError,
    GraphUnavailableError,
    UnsafeNextLinkError,
)
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

# (error class, retryable, why): read top to bottom, the first class the error is an instance of decides.
CLASSIFICATION: list[tuple[type[BaseException], bool, str]] = [
    # Graph: what a later try may get past.
    (GraphRetryAfterTooLongError, True, "Graph asked for a wait longer than one try may spend; a later try may pass"),
    (GraphDeadlineError, True, "the next wait would outlast execution_timeout; a later try may pass"),
    (GraphUnavailableError, True, "Graph throttled, answered 5xx or the network failed on every attempt"),
    # Graph: what no retry can change.
    (GraphConfigError, False, "connection, credentials, permission, cloud or request: fix the configuration"),
    (UnsafeNextLinkError, False, "a nextLink to another host: a proxy or tampering, investigate before re-running"),
    (GraphPagingError, False, "Graph's paging went round in circles: the same pages again would loop again"),
    (GraphError, False, "any other Graph error names what to fix"),
    # The lake: what a later try may get past.
    (CommitConflict, True, "another run committed the same partition first; a later try replaces it"),
    # The lake: what no retry can change.
    (RowsRejected, False, "Graph sent a value of another type: the same day gives the same rows again"),
    (LakeConfigError, False, "the lake root, its connection or a lake setting is wrong: fix what the message names"),
    (LakeSchemaError, False, "the table refuses the data's schema or partitioning: the same data is refused again"),
    (PartitionUnusable, False, "a partition this task reads is missing or changed: re-run the DAG that writes it"),
    (ManifestError, False, "a stored manifest cannot be read: re-run the day that wrote it"),
    (LakeError, False, "any other lake error names what to fix"),
    (UnknownReport, False, "the task names a report this project does not have: fix the DAG"),
    # The lake's storage.
    (PermissionError, False, "the lake refuses this worker: fix the lake root's connection or its permissions"),
    # (Graph's token errors never get here raw: auth.py turns them into Graph errors above.)
    (ClientAuthenticationError, False, "the lake's connection cannot authenticate: fix its credentials"),
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
