"""The Celery application. ``celery -A tasks.app worker|beat|flower``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import structlog
from celery import Celery
from celery.signals import beat_init, setup_logging, worker_init, worker_process_init, worker_ready
from celery.worker.consumer import Consumer

from integration.config import get_settings
from integration.observability import configure_logging, init_sentry

log = structlog.get_logger("psinfor.worker")


class ResilientConsumer(Consumer):
    """Celery's consumer, made to survive a Redis that goes away while tasks are unacknowledged.

    kombu's Redis channels belong to a connection; once Celery has dropped a broken connection, any use of
    one of its channels builds a Redis client from the dropped transport's settings and fails with
    ``AttributeError: 'NoneType' object has no attribute 'hostname'``, which is not a connection error, so
    it escaped Celery's reconnect loop and the worker exited ("Unrecoverable error"). Under load only: it
    takes unacknowledged messages. Two ways in, both closed here:

    - closing the broken connection: its channel is closed twice (the first close, in Celery's "collect",
      fails to give the unacknowledged messages back to a Redis that is down, and leaves it open);
    - the late acknowledgement of a task that was running across the reconnect: it is sent on the old
      connection's channel.

    The connection is gone either way: the error is dropped and the consumer reconnects as usual. The
    unacknowledged messages stay in Redis's unacked set (or went with an emptied Redis), and a message of a
    step already done is a no-op when it comes back; lost ones are the sweeper's.
    """

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as error:
            log.warning("broker connection closed with errors; reconnecting", error=repr(error))

    def call_soon_ack(self, p: Any, *args: Any, **kwargs: Any) -> Any:
        return super().call_soon_ack(_ack_unless_dropped(p), *args, **kwargs)


def _ack_unless_dropped(ack: Any) -> Any:
    """Acknowledge a message, unless its channel's connection was dropped since it came (then it cannot be)."""

    def guarded(*args: Any, **kwargs: Any) -> Any:
        message = getattr(ack, "__self__", None)
        transport = getattr(getattr(message, "channel", None), "connection", None)
        if transport is not None and hasattr(transport, "client") and transport.client is None:
            log.warning("message received before the broker reconnected; not acknowledged",
                        delivery_tag=str(getattr(message, "delivery_tag", "")))
            return None
        try:
            return ack(*args, **kwargs)
        except AttributeError as error:
            log.warning("message not acknowledged: its connection is gone", error=repr(error))
            return None

    return guarded


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
def _refuse_a_broken_configuration(sender: Any = None, **_kwargs: Any) -> None:
    """A worker or beat process never starts with a broken configuration or against a schema it does not know
    (``integration.startup.check``). An embedded test worker is not a process of its own: its test set it up."""
    from celery.apps.worker import Worker
    from celery.worker import WorkController

    if isinstance(sender, WorkController) and not isinstance(sender, Worker):
        return
    from integration.errors import ConfigurationError
    from integration.runtime import get_runtime
    from integration.startup import EX_CONFIG, check, one_line

    try:  # keys, .ionapi, mappings, database (schema up to date) and Redis: one line, then exit (EX_CONFIG)
        check(get_runtime().settings, process="worker" if isinstance(sender, WorkController) else "beat")
    except ConfigurationError as exc:
        sys.stderr.write(f"psinfor: {one_line(exc)}\n")
        sys.stderr.flush()
        os._exit(EX_CONFIG)


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

    current_prefix = (app.conf.broker_transport_options or {}).get("global_keyprefix", "")
    if app.conf.broker_url == url and current_prefix == key_prefix and app._pool is not None:
        return  # the broker in use: closing its pools would break publishers that still hold them
    app.conf.update(celeryconfig.broker_settings(url, key_prefix))
    app.conf.broker_write_url = None
    app.conf.broker_read_url = None
    app.amqp.queues = app.conf.task_queues
    app.amqp.flush_routes()
    if app._pool is not None:  # connections made to the old broker
        from kombu import pools

        app._pool.force_close_all()
        app._pool = None
        app.amqp._producer_pool = None
        pools.reset()  # kombu keeps its pools in a registry by connection: a closed one must not come back
