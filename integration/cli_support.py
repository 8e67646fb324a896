"""What every ``psinfor`` command shares: one-line errors with their exit status.

Kept apart from ``integration.cli`` (which loads every command group at import) so that a command module can
import it without an import cycle.
"""

from __future__ import annotations

import click

EX_UNAVAILABLE = 69  # sysexits.h: a service (database, broker) is unavailable
EX_CONFIG = 78  # sysexits.h: configuration error


class CliError(click.ClickException):
    """A one-line error with its own exit status."""

    def __init__(self, message: str, exit_code: int = 1):
        super().__init__(message)
        self.exit_code = exit_code  # type: ignore[misc]


def describe_unavailable(exc: BaseException) -> str:
    """Which service did not answer, and why, in one line (no URL: it may carry a password)."""
    from sqlalchemy.exc import SQLAlchemyError

    from integration.connectors.http import network_cause

    service = "the database (DATABASE_URL)" if isinstance(exc, SQLAlchemyError) else "Redis (REDIS_URL)"
    return f"{service} did not answer: {network_cause(exc)}"
