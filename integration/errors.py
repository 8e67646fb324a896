"""The error hierarchy every layer shares.

The Celery layer decides retry versus dead letter from the class alone: a ``TransientError`` is retried with
backoff, a ``PermanentError`` is dead-lettered at once. Connectors, the mapping engine and the flows raise
subclasses of these two, never bare exceptions, so that decision is made in one place.
"""

from __future__ import annotations

from dataclasses import dataclass
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
    """Worth retrying later: timeouts, 5xx, 429, lock busy, token expired.

    ``retry_after``: the soonest a retry can help (the remote side said so, or a hold ends then).
    ``counts_as_attempt``: False for a *wait* the remote side or another holder asked for (an open circuit, a
    429, another event's claim): such waits have a budget of their own and do not use up the real attempts.
    """

    transient = True
    default_counts_as_attempt = True

    def __init__(self, message: str, *, retry_after: float | None = None, counts_as_attempt: bool | None = None,
                 resolution: str | None = None, details: dict[str, Any] | None = None):
        super().__init__(message, resolution=resolution, details=details)
        self.retry_after = float(retry_after or 0.0)
        self.counts_as_attempt = self.default_counts_as_attempt if counts_as_attempt is None else counts_as_attempt


class LockBusy(TransientError):
    """Another worker or event holds the record: a wait (``retry_after``: when its hold ends at the latest)."""

    default_counts_as_attempt = False


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


class Waiting(IntegrationError):
    """Not an error: the record cannot go on yet and waits, at no cost, in a visible status of its own
    (``status``) until the other side changes: no retries, no API calls meanwhile."""

    status = "waiting"


class AwaitingPayment(Waiting):
    """The shop has not been paid (bank wire, cheque, unpaid back-order): a newer event of the order, from its
    state change's webhook or the poller, takes it on."""

    status = "awaiting_payment"


class HeldByErp(Waiting):
    """The ERP holds the record (a customer on credit stop): re-checked by the resume poller until released."""

    status = "held_by_erp"


_EXTRA_TRANSIENT: list[type[BaseException]] = []


def register_transient(*types: type[BaseException]) -> None:
    """Exception types of an outer layer that are transient too (the task layer registers Celery's soft time
    limit), so that the one classifier below answers for the runner and the task alike."""
    _EXTRA_TRANSIENT.extend(t for t in types if t not in _EXTRA_TRANSIENT)


def infrastructure_transient_types() -> tuple[type[BaseException], ...]:
    """A brief outage of our own store or of Redis (or a registered outer-layer fault): worth retrying."""
    import redis
    from sqlalchemy.exc import OperationalError

    return (OperationalError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, *_EXTRA_TRANSIENT)


@dataclass(frozen=True)
class Classification:
    """What to do about a failure: retry it (when, and whether it uses up an attempt) or dead-letter it."""

    transient: bool
    retry_after: float = 0.0
    counts_as_attempt: bool = True

    @property
    def is_wait(self) -> bool:
        return self.transient and not self.counts_as_attempt


def classify(exc: BaseException) -> Classification:
    """The one classifier of failures, for the step runner and the Celery task alike."""
    if isinstance(exc, TransientError):
        return Classification(True, exc.retry_after, exc.counts_as_attempt)
    if isinstance(exc, IntegrationError):
        return Classification(exc.transient)
    return Classification(isinstance(exc, infrastructure_transient_types()))


def is_transient(exc: BaseException) -> bool:
    return classify(exc).transient
