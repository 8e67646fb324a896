"""Structured JSON logs that carry the event id, and Sentry with secrets scrubbed."""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

_SECRET_EXACT = re.compile(r"(key|cs|ci|dsn|sask|saak|pw)", re.I)
_SECRET_PART = re.compile(r"(secret|password|passwd|token|authorization|api_key|ws_key|cookie)", re.I)
_configured = False


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_EXACT.fullmatch(key) or _SECRET_PART.search(key))


def scrub(value: Any) -> Any:
    """Replace the values of secret-looking keys, recursively (logs and Sentry events)."""
    if isinstance(value, dict):
        return {k: "[scrubbed]" if _is_secret_key(k) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    return value


def _scrub_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return scrub(event_dict)  # type: ignore[no-any-return]


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    global _configured
    if _configured:
        return
    _configured = True
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _scrub_processor,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info,
                    renderer],
    ))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def _before_send(event: Any, _hint: dict[str, Any]) -> Any:
    return scrub(event)


def init_sentry(dsn: str, *, integrations: list[Any] | None = None) -> bool:
    """Sentry only when a DSN is configured; request bodies and headers are scrubbed before sending."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    # Log lines are breadcrumbs, never events of their own: a dead letter is reported once, where it happens.
    sentry_sdk.init(dsn=dsn, integrations=[LoggingIntegration(event_level=None), *(integrations or [])],
                    send_default_pii=False, before_send=_before_send, traces_sample_rate=0.0)
    return True
