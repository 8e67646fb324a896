"""Typed errors of the Infor connector.

The Celery layer decides retry versus dead letter from the class alone, so every failure of an M3 or ION call
is turned into one of these. M3's own answers (``ServerReturnedNOK`` and the other ``errorType`` values) are
permanent: sending the same record again gets the same refusal. Gateway trouble (429, 502-504, time-outs) is
transient. A write whose answer was lost is transient *and* marked ``outcome_unknown``: the caller must look
before it writes again (for orders: the CUOR look-up), never resend blindly.

No message or ``details`` carries a secret: only program, transaction, field, M3's code and message, the HTTP
status and the URL path (never the query string, never headers).
"""

from __future__ import annotations

from typing import Any

from integration.errors import ConfigurationError, HeldForReview, PermanentError, TransientError, ValidationFailed


class M3Error(PermanentError):
    """M3 refused a transaction. ``code``/``field``/``message`` are M3's own (``@code``/``errorCode``...)."""

    error_type = "M3Error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        program: str | None = None,
        transaction: str | None = None,
        error_type: str | None = None,
        records: list[dict[str, str]] | None = None,
        resolution: str | None = None,
        details: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        self.code = code or None
        self.field = field or None
        self.program = program
        self.transaction = transaction
        if error_type:
            self.error_type = error_type
        # Records a v1 list returned before it failed (KB 2159861), for callers that can use a partial list.
        self.records: list[dict[str, str]] = list(records or [])
        where = f"{program}/{transaction}" if program and transaction else "M3"
        text = f"{where}: {message}"
        if self.code:
            text += f" [{self.code}]"
        if self.field:
            text += f" (field {self.field})"
        info = {
            "program": program,
            "transaction": transaction,
            "code": self.code,
            "field": self.field,
            "error_type": self.error_type,
            "m3_message": message,
        }
        info.update(details or {})
        super().__init__(text, resolution=resolution, details=info, **kwargs)
        self.m3_message = message


class ServerReturnedNOK(M3Error):
    """A business refusal from the MI program (unknown customer, item does not exist...)."""

    error_type = "ServerReturnedNOK"


class MandatoryInputFieldNotFound(M3Error):
    """A required input field was not sent."""

    error_type = "MandatoryInputFieldNotFound"


class InputFieldTooLong(M3Error):
    """M3 refused a value longer than the field."""

    error_type = "InputFieldTooLong"


class TransactionNotFound(M3Error):
    """The program or transaction does not exist on this tenant (or the user may not run it)."""

    error_type = "TransactionNotFound"


class FieldTooLong(M3Error, ValidationFailed):
    """Caught before sending: a value is longer than M3's field (the M3 metadata shipped with the connector).

    A ``ValidationFailed`` as well, so the flows treat it like any refused record: fix the data or name a
    truncation rule for the field in the mapping.
    """

    error_type = "FieldTooLong"


class BatchOrderRejected(ServerReturnedNOK):
    """Lines or addresses of a batch order were refused; the batch order was left unconfirmed in OIS275."""

    error_type = "ServerReturnedNOK"


class BatchOrderNotDeletable(M3Error):
    """The batch order is already a customer order (status 90): deleting it is never what the caller meant."""

    error_type = "BatchOrderNotDeletable"


class BatchOrderNotCreated(M3Error):
    """``BatchOrderResult.orno`` was read although M3 has not created the customer order: read ``outcome``
    (and ``get_batch_status`` / ``batch_order_messages``) instead of assuming success."""

    error_type = "BatchOrderNotCreated"


class PickingStarted(HeldForReview):
    """A cancellation arrived after M3 started picking the order: an operator decides, nothing is changed.

    ``details["lines"]`` lists every line with its status; ``details["cancelled_lines"]`` those already
    cancelled when picking started in between (M3 refused the rest).
    """


class InforTransientError(TransientError):
    """ION gateway trouble worth retrying later: 429, 5xx, time-outs, connection errors."""

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None,
                 outcome_unknown: bool = False, retry_after: float | None = None, **kwargs: Any):
        self.status = status
        self.path = path
        self.outcome_unknown = outcome_unknown
        details = dict(kwargs.pop("details", None) or {})
        details.update({"status": status, "path": path, "outcome_unknown": outcome_unknown})
        if retry_after is not None:
            details["retry_after"] = retry_after
        # A Retry-After the gateway sent is a wait it asked for, not a failed attempt of ours.
        kwargs.setdefault("counts_as_attempt", retry_after is None)
        super().__init__(message, details=details, retry_after=retry_after, **kwargs)


class WriteOutcomeUnknown(InforTransientError):
    """A non-idempotent write was sent but no answer came back: it may or may not have been applied.

    Transient, but the caller must check the target state (e.g. ``find_order_by_customer_ref``) before any new
    attempt; the client never resends it by itself.
    """


class InforAuthError(ConfigurationError):
    """The ION API authorization server refused the credentials, or the gateway refused a fresh token."""


class InforHTTPError(PermanentError):
    """An answer that is neither an M3 result nor a transient gateway error (404, 403, bad body)."""

    def __init__(self, message: str, *, status: int | None = None, path: str | None = None, **kwargs: Any):
        self.status = status
        self.path = path
        details = dict(kwargs.pop("details", None) or {})
        details.update({"status": status, "path": path})
        super().__init__(message, details=details, **kwargs)


_BY_TYPE: dict[str, type[M3Error]] = {
    "ServerReturnedNOK": ServerReturnedNOK,
    "MandatoryInputFieldNotFound": MandatoryInputFieldNotFound,
    "InputFieldTooLong": InputFieldTooLong,
    "TransactionNotFound": TransactionNotFound,
}


def m3_error_class(error_type: str | None) -> type[M3Error]:
    """The exception class for an M3 ``errorType`` / ``@type``; unknown types stay plain ``M3Error``."""
    return _BY_TYPE.get(error_type or "", M3Error)
