"""gunicorn settings of the receiver: ``gunicorn -c python:integration.web.gunicorn_conf 'tasks.wsgi:create_app()'``.

Threaded workers (``gthread``): a request occupies one thread of a worker, not the whole worker, so a slow
client cannot starve the others while threads are left. What bounds a slow client in gunicorn 27's gthread
worker (read from its source, ``gunicorn/workers/gthread.py``):

- a new connection waits at most 5 s (``DEFAULT_WORKER_DATA_TIMEOUT``) for its first byte in a thread; then it
  goes back to the poller, which closes it after ``keepalive`` seconds;
- idle kept-alive connections are closed after ``keepalive`` seconds;
- ``limit_request_line`` / ``limit_request_fields`` / ``limit_request_field_size`` bound the *size* of the
  headers, never the time they take;
- ``timeout`` is the worker's heartbeat to the arbiter: the gthread main loop keeps beating while its threads
  wait, so it never ends a slow request.

Nothing bounds a client that sends its headers or body one byte at a time once it has started: it holds one
thread until it finishes. Hence two rules. (1) The receiver runs behind a reverse proxy that buffers whole
requests and times out slow ones (nginx: ``client_header_timeout``, ``client_body_timeout``, request buffering
on; ``docker/nginx.conf``), and only the proxy is reachable from outside. (2) Each worker has enough threads
that a few slow clients leave room for signed webhooks (tests/integration/test_receiver_slow_clients.py).

Logs: JSON (or ``LOG_FORMAT=console``) through the same redacting formatter as every other process.
"""

from __future__ import annotations

import os
import sys
from typing import Any


def _env_int(name: str, default: int, minimum: int = 1) -> int:
    raw = os.environ.get(name, "")
    if raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = minimum - 1
    if value < minimum:
        sys.stderr.write(f"psinfor: {name}={raw!r}: not a whole number of at least {minimum}\n")
        raise SystemExit(78)
    return value


bind = os.environ.get("WEB_BIND", "127.0.0.1:8000")
workers = _env_int("WEB_WORKERS", 2)
worker_class = "gthread"
threads = _env_int("WEB_THREADS", 16)
# Connections one worker holds at a time (kept-alive and slow ones included): beyond it, it stops accepting.
worker_connections = _env_int("WEB_WORKER_CONNECTIONS", 1000)
timeout = 30
graceful_timeout = 20
keepalive = _env_int("WEB_KEEPALIVE", 5)
# A webhook's request line and headers are small: anything larger is refused (400/431) before Flask runs.
limit_request_line = 1024
limit_request_fields = 50
limit_request_field_size = 4096
backlog = 2048
# The app (and its start-up checks) is loaded once, in the arbiter: a bad configuration is one line and exit
# status 4, and the workers share the loaded code.
preload_app = True
# Only the reverse proxy may set X-Forwarded-* (its address; 127.0.0.1 when it runs on the same host).
forwarded_allow_ips = os.environ.get("WEB_FORWARDED_ALLOW_IPS", "127.0.0.1")
# One JSON line per request (method, path, status, bytes, duration); WEB_ACCESS_LOG=0 leaves only the receiver's
# own line per webhook.
accesslog = None if os.environ.get("WEB_ACCESS_LOG", "1") == "0" else "-"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()

_format = os.environ.get("LOG_FORMAT", "json").lower()
logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"psinfor": {"()": "integration.observability.make_formatter",
                               "fmt": "console" if _format == "console" else "json"}},
    "filters": {"redact": {"()": "integration.observability.RedactingFilter"}},
    "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "psinfor", "filters": ["redact"],
                            "stream": "ext://sys.stderr"}},
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["stderr"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": ["stderr"], "propagate": False},
    },
    "root": {"level": loglevel.upper(), "handlers": ["stderr"]},
}


def post_fork(_server: Any, _worker: Any) -> None:
    """Pooled database connections opened by the arbiter's start-up checks must not cross the fork."""
    from integration.store.db import dispose_all

    dispose_all()
