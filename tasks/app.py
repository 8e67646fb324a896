"""The Celery application. ``celery -A tasks.app worker|beat|flower``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

from celery import Celery
from celery.signals import beat_init, setup_logging, worker_init, worker_process_init, worker_ready

from integration.config import get_settings
from integration.observability import configure_logging, init_sentry

app = Celery("psinfor")
app.config_from_object("celeryconfig")
app.conf.include = ["tasks.flows", "tasks.maintenance", "tasks.dead_letter"]


@setup_logging.connect
def _setup_logging(**_kwargs: Any) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format)


def _init_sentry() -> None:
    settings = get_settings()
    if settings.sentry_dsn:
        from sentry_sdk.integrations.celery import CeleryIntegration

        init_sentry(settings.sentry_dsn.reveal(), integrations=[CeleryIntegration()])


_init_sentry()


@worker_init.connect
@beat_init.connect
def _refuse_pending_migrations(sender: Any = None, **_kwargs: Any) -> None:
    """A worker or beat process never runs against a schema it does not know: one line, then exit (EX_CONFIG).
    (An embedded test worker is not a process of its own: its test set up the database.)"""
    from celery.apps.worker import Worker
    from celery.worker import WorkController

    if isinstance(sender, WorkController) and not isinstance(sender, Worker):
        return
    from integration.runtime import get_runtime
    from integration.store.migrate import schema_problem

    problem = schema_problem(get_runtime().settings.database_url)
    if problem:
        sys.stderr.write(f"psinfor: {problem}\n")
        sys.stderr.flush()
        os._exit(78)


@worker_process_init.connect
def _after_fork(**_kwargs: Any) -> None:
    from integration.store.db import dispose_all

    dispose_all()  # pooled DB connections must not cross a fork


@worker_ready.connect
@beat_init.connect
def _announce_ready(**_kwargs: Any) -> None:
    """A readiness file for supervisors (and our demo/bench), whatever the log level."""
    path = os.environ.get("PSINFOR_READY_FILE")
    if path:
        Path(path).write_text(str(os.getpid()))


def use_broker(url: str, key_prefix: str = "") -> None:
    """Point the app at another broker (the demo and the tests start their own): Redis or RabbitMQ, with
    everything that depends on it (queues, transport options; ``celeryconfig.broker_settings``)."""
    import celeryconfig

    app.conf.update(celeryconfig.broker_settings(url, key_prefix))
    app.conf.broker_write_url = None
    app.conf.broker_read_url = None
    app.amqp.queues = app.conf.task_queues
    app.amqp.flush_routes()
    if app._pool is not None:  # connections made to the old broker
        app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
