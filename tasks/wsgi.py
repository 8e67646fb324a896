"""gunicorn entry point: the receiver, publishing through Celery. ``gunicorn 'tasks.wsgi:create_app()'``."""

from __future__ import annotations

from flask import Flask

from integration.config import get_settings
from integration.observability import configure_logging, init_sentry
from integration.web.app import create_app as create_receiver
from tasks.app import app as celery_app
from tasks.dispatch import enqueue


def create_app() -> Flask:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)
    if settings.sentry_dsn:
        from sentry_sdk.integrations.flask import FlaskIntegration

        init_sentry(settings.sentry_dsn.reveal(), integrations=[FlaskIntegration()])
    celery_app.loader.import_default_modules()
    return create_receiver(settings, enqueue=enqueue)
