"""gunicorn entry point: the receiver, publishing through Celery.

``gunicorn -c python:integration.web.gunicorn_conf 'tasks.wsgi:create_app()'`` (``make web``). The settings are
checked before anything else is imported: a missing key, a broken ``.ionapi``, a bad mapping, an unreachable
database or Redis end the process with one line on stderr and gunicorn's "app failed to load" status (4), so
that gunicorn halts instead of restarting workers that cannot work.
"""

from __future__ import annotations

from flask import Flask

APP_LOAD_ERROR = 4  # gunicorn's Arbiter.APP_LOAD_ERROR: the arbiter halts rather than respawning workers


def create_app() -> Flask:
    from integration.startup import checked_settings

    settings = checked_settings("receiver", status=APP_LOAD_ERROR)

    from integration.observability import configure_logging, init_sentry
    from integration.web.app import create_app as create_receiver
    from tasks.app import app as celery_app
    from tasks.dispatch import enqueue

    configure_logging(settings.log_level, settings.log_format)
    if settings.sentry_dsn:
        from sentry_sdk.integrations.flask import FlaskIntegration

        init_sentry(settings.sentry_dsn.reveal(), integrations=[FlaskIntegration()])
    celery_app.loader.import_default_modules()
    return create_receiver(settings, enqueue=enqueue)
