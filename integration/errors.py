"""The error hierarchy every layer shares.

The Celery layer decides retry versus dead letter from the class alone: a ``TransientError`` is retried with
backoff, a ``PermanentError`` is dead-lettered at once. Connectors, the mapping engine and the flows raise
subclasses of these two, never bare exceptions, so that decision is made in one place.
"""

from __future__ import annotations

from typing import Any


class IntegrationError(Exception):
    """Base of all psinfor errors. ``resolution`` tells an operator what to do about it."""

    transient: bool = False

    def __init__(self, message: str, *, resolution: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.resolution = resolution
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        if self.resolution:
            return f"{self.message} Resolution: {self.resolution}"
        return self.message

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": type(self).__name__,
            "transient": self.transient,
            "message": self.message,
            "resolution": self.resolution,
            "details": self.details,
        }


class TransientError(IntegrationError):
    """Worth retrying later: timeouts, 5xx, 429, lock busy, token expired."""

    transient = True


class LockBusy(TransientError):
    """Another worker holds the record; try again shortly (``retry_after``: when its hold ends at the latest)."""

    retry_after: float = 0.0


class PermanentError(IntegrationError):
    """Retrying cannot help: bad data, a rejection by the target, a missing mapping."""


class ConfigurationError(PermanentError):
    """The deployment's settings or mapping files are wrong."""


class MappingError(PermanentError):
    """A value has no mapping (unknown status, country, product...)."""


class ValidationFailed(PermanentError):
    """Business-rule validation refused a record before it was written anywhere."""

    def __init__(self, message: str, failures: list[dict[str, Any]] | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.failures: list[dict[str, Any]] = list(failures or [])
        self.details.setdefault("failures", self.failures)


class NotFound(PermanentError):
    """The requested record does not exist on the remote side."""


class HeldForReview(IntegrationError):
    """Not an error as such: anomaly detection holds the record until an operator releases it."""


def infrastructure_transient_types() -> tuple[type[BaseException], ...]:
    """A brief outage of our own store or of Redis: worth retrying like a remote system's outage."""
    import redis
    from sqlalchemy.exc import OperationalError

    return (OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)


def is_transient(exc: BaseException) -> bool:
    """Our own errors say so; a brief outage of the store or of Redis is transient too."""
    if isinstance(exc, IntegrationError):
        return exc.transient
    return isinstance(exc, infrastructure_transient_types())
