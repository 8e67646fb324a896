"""Structured JSON logs that carry the event id, and Sentry with secrets scrubbed.

Invariant: no credential leaves the process through a log line, a Sentry event or a breadcrumb. Three layers,
each enough on its own for what it sees:

- ``scrub`` (a structlog processor and Sentry's ``before_send``) blanks the values of secret-looking keys and
  redacts every string value;
- ``RedactingFilter`` on the root handler redacts the message of every standard-library record (urllib3's
  retry warnings print the URL with ``?ws_key=``; Celery prints task headers);
- ``RedactingFormatter`` redacts the final text of each line, tracebacks included.

``redact_text`` removes every secret value this process holds (``integration.config.Secret`` remembers them),
``ws_key=``/token/password parameters, passwords and token-like users in URLs, ``Authorization`` values and
Sentry's ``sentry_key``/``sentry-public_key`` (its baggage header).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import IO, Any

import structlog

from integration.config import known_secrets

REDACTED = "***"
_SECRET_EXACT = re.compile(r"(key|cs|ci|dsn|sask|saak|pw|baggage|sentry-trace)", re.I)
_SECRET_PART = re.compile(r"(secret|password|passwd|token|authorization|api_key|ws_key|cookie)", re.I)
_configured = False

# name=value pairs whose value is a credential, in query strings, form bodies, baggage and log text.
_PARAM = re.compile(
    r"(?i)(?<![A-Za-z0-9_])((?:ws_key|sentry_key|sentry_secret|sentry-public_key|access_token|refresh_token|"
    r"id_token|client_secret|password|passwd|api_key|apikey|sask|saak|secret)(?:=|%3D))[^&\s\"'\\,;)}\]]+")
# scheme://user:password@  and  scheme://<token-like user>@  (a Sentry DSN's key, a token in a URL)
_URL_PASSWORD = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/@\s:\"'\\]*):[^/@\s\"'\\]+@")
_URL_TOKEN_USER = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[A-Za-z0-9_-]{16,}@")
_AUTH_HEADER = re.compile(
    r"(?i)(authorization(?:\\?[\"'])?\s*[:=]\s*(?:\\?[\"'])?)(?:(basic|bearer|digest|token)\s+)?[^\s\"'\\,}]+")

_known_cache: tuple[int, re.Pattern[str] | None] = (-1, None)


def _known_pattern() -> re.Pattern[str] | None:
    global _known_cache
    version, values = known_secrets()
    if version != _known_cache[0]:
        ordered = sorted(values, key=len, reverse=True)
        _known_cache = (version, re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None)
    return _known_cache[1]


def redact_text(text: str) -> str:
    """``text`` with every credential replaced by ``***`` (see the module docstring for what counts)."""
    if not text:
        return text
    known = _known_pattern()
    if known is not None:
        text = known.sub(REDACTED, text)
    if "=" in text or "%3D" in text or "%3d" in text:
        text = _PARAM.sub(lambda m: m.group(1) + REDACTED, text)
    if "@" in text:
        text = _URL_PASSWORD.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
        text = _URL_TOKEN_USER.sub(lambda m: f"{m.group(1)}{REDACTED}@", text)
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTH_HEADER.sub(lambda m: m.group(1) + (f"{m.group(2)} " if m.group(2) else "") + REDACTED, text)
    return text


def _is_secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_EXACT.fullmatch(key) or _SECRET_PART.search(key))


def scrub(value: Any) -> Any:
    """Replace the values of secret-looking keys and redact every string, recursively (logs and Sentry)."""
    if isinstance(value, dict):
        return {k: "[scrubbed]" if _is_secret_key(k) else scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return redact_text(value)
    return value


def _scrub_processor(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    return scrub(event_dict)  # type: ignore[no-any-return]


def _access_fields(_logger: Any, _name: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """gunicorn's access lines as fields (method, path, status, bytes, duration) rather than a CLF string."""
    atoms = event_dict.pop("positional_args", None)
    record = event_dict.get("_record")
    if record is None or record.name != "gunicorn.access" or not isinstance(atoms, dict):
        return event_dict
    event_dict["event"] = "request"
    for field, atom in (("method", "m"), ("path", "U"), ("status", "s"), ("bytes", "B"), ("remote", "h"),
                        ("user_agent", "a")):
        if atoms.get(atom) not in (None, "-"):
            event_dict[field] = atoms[atom]
    if str(event_dict.get("status", "")).isdigit():
        event_dict["status"] = int(event_dict["status"])
    if isinstance(atoms.get("D"), int):
        event_dict["duration_ms"] = round(atoms["D"] / 1000, 1)
    return event_dict


class RedactingFilter(logging.Filter):
    """Redacts the message of every standard-library record before any handler formats it."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, dict):  # a structlog event dict: its processor chain redacts it
            return True
        if isinstance(record.args, dict):  # gunicorn's access atoms: keep them as fields, redacted
            record.args = {k: redact_text(v) if isinstance(v, str) else v for k, v in record.args.items()}
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: let the formatter report it as it would
            return True
        clean = redact_text(message)
        if clean != message or record.args:
            record.msg, record.args = clean, None
        return True


class RedactingFormatter(structlog.stdlib.ProcessorFormatter):
    """The last pass: the whole rendered line, traceback included, goes through ``redact_text``."""

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


def _shared_processors() -> list[Any]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _access_fields,
        _scrub_processor,
    ]


def make_formatter(fmt: str = "json") -> RedactingFormatter:
    """The formatter of every handler of ours (also named by the gunicorn ``logconfig_dict``)."""
    renderer: Any = structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(
        colors=False)
    return RedactingFormatter(
        foreign_pre_chain=_shared_processors(), pass_foreign_args=True,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.format_exc_info,
                    renderer],
    )


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (a CLI runner or a daemon may swap it)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def make_handler(fmt: str = "json", stream: IO[str] | None = None) -> logging.Handler:
    handler: logging.Handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(make_formatter(fmt))
    handler.addFilter(RedactingFilter())
    return handler


def configure_structlog() -> None:
    structlog.configure(
        # A line below the logger's level is dropped before any processor runs (a debug line per step costs
        # nothing at INFO).
        processors=[structlog.stdlib.filter_by_level, *_shared_processors(),
                    structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


def configure_logging(level: str = "INFO", fmt: str = "json", *, stream: IO[str] | None = None,
                      force: bool = False) -> None:
    """One redacting handler on the root logger (stderr); every library's records go through it."""
    global _configured
    if _configured and not force:
        return
    _configured = True
    configure_structlog()
    root = logging.getLogger()
    root.handlers[:] = [make_handler(fmt, stream)]
    root.setLevel(level.upper())


def _before_send(event: Any, _hint: dict[str, Any]) -> Any:
    event = scrub(event)
    request = event.get("request") if isinstance(event, dict) else None
    if isinstance(request, dict):  # no headers, cookies or bodies of webhook requests leave the process
        for key in ("headers", "cookies", "data", "env"):
            request.pop(key, None)
    return event


def _before_breadcrumb(crumb: Any, _hint: dict[str, Any]) -> Any:
    return scrub(crumb)


def init_sentry(dsn: str, *, integrations: list[Any] | None = None) -> bool:
    """Sentry only when a DSN is configured. Events and breadcrumbs are scrubbed and redacted, frames carry
    no local variables, and no trace headers (``sentry-trace``, ``baggage`` with the DSN's public key) are
    added to Celery messages or outgoing HTTP calls."""
    if not dsn:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.logging import LoggingIntegration

    for integration in integrations or []:
        if hasattr(integration, "propagate_traces"):
            integration.propagate_traces = False
    # Log lines are breadcrumbs, never events of their own: a dead letter is reported once, where it happens.
    # No personal data is sent (the SDK's default; its option for it changes name across 2.x versions).
    sentry_sdk.init(dsn=dsn, integrations=[LoggingIntegration(event_level=None), *(integrations or [])],
                    before_send=_before_send, before_breadcrumb=_before_breadcrumb,
                    traces_sample_rate=0.0, include_local_variables=False, max_request_body_size="never",
                    trace_propagation_targets=[])
    return True
