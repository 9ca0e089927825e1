"""Errors a Graph pull can end in, each with a message a user can act on.

Which of them a retry can fix is decided in one place, ``call_logs.failures`` (``is_retryable``); the class
names here say what happened, not what Airflow should do about it.
"""

from __future__ import annotations


class GraphError(Exception):
    """A Graph pull failed; the message says what happened and what to do."""


class GraphConfigError(GraphError):
    """Misconfiguration (credentials, permission, cloud, window): retrying cannot succeed."""


class UnsupportedCloudError(GraphConfigError):
    """The connection points at a national cloud that has no call-log reports."""


class GraphAuthError(GraphConfigError):
    """No valid token: wrong secret, tenant, client id, or a token from another cloud."""


class GraphPermissionError(GraphConfigError):
    """The app lacks the CallRecords.Read.All application permission (403)."""


class GraphRequestError(GraphConfigError):
    """Graph rejected the request itself (400, 404, 406): fix the request, not the weather."""


class GraphUnavailableError(GraphError):
    """Graph kept failing (throttling, 5xx, network) after every retry: a later retry may succeed."""


class GraphRetryAfterTooLongError(GraphUnavailableError):
    """Graph asked for a longer wait than one pull may spend on a retry; a later task try may succeed."""


class GraphDeadlineError(GraphUnavailableError):
    """The next wait would outlast the task's execution_timeout; this try stops, a later one may succeed."""


class UnsafeNextLinkError(GraphError):
    """A nextLink pointed away from the configured Graph host; the token must not follow it."""


class GraphPagingError(GraphError):
    """Graph's paging cannot end: a nextLink repeated, ``$skip`` did not advance, or far more pages than any day has."""
