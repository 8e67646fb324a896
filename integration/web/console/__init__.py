"""The operator console: a Flask blueprint under ``/console`` on the receiver's app, server-rendered (Jinja, htmx).

Invariant: it is registered only when ``PSINFOR_CONSOLE_SECRET_KEY`` is set, and it never changes what the
webhook endpoint does (no session, CSRF or login there: that endpoint stays authenticated by its signature
alone). Like the receiver it never imports Celery: replays and releases publish through the injected
``enqueue``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from flask import Flask

from integration.config import Settings
from integration.flows.base import Enqueue, Flow
from integration.store.repository import Store

from .settings import ConsoleSettings


def init_console(app: Flask, settings: Settings, store: Store, enqueue: Enqueue,
                 flows: Iterable[Flow] | None = None, env: Mapping[str, str] | None = None) -> bool:
    """Register the console on ``app`` when a secret key is configured; False (and nothing registered) if not."""
    console = ConsoleSettings.from_env(env)
    if not console.enabled:
        return False
    from .views import make_blueprint

    app.secret_key = console.secret_key.reveal()
    app.config.update(
        SESSION_COOKIE_NAME="psinfor_console",
        SESSION_COOKIE_PATH="/console",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=console.cookie_secure,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=int(console.session_hours * 3600),
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session (a page may stay open for hours)
    )
    app.register_blueprint(make_blueprint(console, settings, store, enqueue, flows))
    return True
