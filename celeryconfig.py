"""Celery settings. Explicit queues only, JSON only, late acks with prefetch 1, time limits, no result backend.

Values come from the environment through ``integration.config`` so one file serves the worker, beat, the
webhook receiver (as a producer), the demo and the tests.

The broker is Redis (``REDIS_URL``) unless ``BROKER_URL`` names another: ``amqp://`` for RabbitMQ, with
quorum queues and publisher confirms. Redis stays required either way: locks, tokens, rate limits, the
circuit breakers and the beat leader lease live there. ``broker_settings`` holds everything that depends on
the broker, so ``tasks.app.use_broker`` (tests, demo) switches all of it at once.
"""

from __future__ import annotations

import os
from typing import Any

from kombu import Exchange, Queue

from integration.config import get_settings
from integration.flows.registry import FLOWS
from tasks import routing, transport

_settings = get_settings()

# Redis has no native acks: an unacked message comes back after the visibility timeout. It must exceed the
# longest task *and* the longest retry countdown (retry_backoff_max), or the task would run twice.
VISIBILITY_TIMEOUT = int(os.environ.get("PSINFOR_VISIBILITY_TIMEOUT", 7200))
QUEUE_NAMES = routing.queue_names(FLOWS.values())


def is_amqp(url: str) -> bool:
    return url.split("://", 1)[0] in ("amqp", "amqps", "pyamqp")


def broker_settings(url: str, key_prefix: str = "") -> dict[str, Any]:
    """The settings that depend on the broker.

    - Redis: visibility timeout, and the deployment's key prefix (several deployments or test runs may share
      one Redis).
    - RabbitMQ: quorum queues (replicated, durable, at-least-once dead-lettering), publisher confirms (a
      publish returns once the broker has the message), and a topic exchange, which Celery's native delayed
      delivery needs for retry countdowns on quorum queues (a routing key without wildcards matches exactly,
      as a direct exchange would).
    """
    if is_amqp(url):
        exchange = Exchange("psinfor", type="topic", durable=True)
        return {
            "broker_url": url,
            "broker_transport": None,
            "broker_transport_options": {"confirm_publish": True},
            "task_queues": tuple(Queue(name, exchange, routing_key=name, durable=True,
                                       queue_arguments={"x-queue-type": "quorum"}) for name in QUEUE_NAMES),
        }
    options: dict[str, Any] = {"visibility_timeout": VISIBILITY_TIMEOUT, "fanout_prefix": True,
                               "fanout_patterns": True}
    if key_prefix:
        options["global_keyprefix"] = key_prefix
    exchange = Exchange("psinfor", type="direct")
    return {
        "broker_url": url,
        # kombu's Redis transport with one client per pool instead of one per publish (tasks/transport.py)
        "broker_transport": transport.TRANSPORT if url.split("://", 1)[0] in transport.REDIS_SCHEMES else None,
        "broker_transport_options": options,
        "task_queues": tuple(Queue(name, exchange, routing_key=name) for name in QUEUE_NAMES),
    }


_broker = broker_settings(os.environ.get("BROKER_URL") or _settings.redis_url, _settings.key_prefix)
broker_url = _broker["broker_url"]
broker_transport = _broker["broker_transport"]
broker_transport_options: dict[str, object] = _broker["broker_transport_options"]
task_queues = _broker["task_queues"]
worker_detect_quorum_queues = True  # no global QoS on quorum queues (RabbitMQ)
broker_connection_retry_on_startup = True
# A worker never gives up on its broker: it retries for as long as the broker is away (Celery's default is
# 100 attempts, about 50 minutes, after which the worker exits and nothing is consumed until someone
# restarts it). Publishers retry a few times, then fail: the inbox row stays for the sweeper.
broker_connection_retry = True
broker_connection_max_retries = None
broker_channel_error_retry = True
# Celery's consumer with one fix: it survives a Redis that goes away while tasks are unacknowledged (see
# tasks.app.ResilientConsumer; without it the worker exited with "Unrecoverable error: AttributeError(
# "'NoneType' object has no attribute 'hostname'")").
worker_consumer = "tasks.app:ResilientConsumer"

# Queues, routes and the beat schedule are generated from the flow registry (tasks/routing.py): a flow
# declares its queue, steps and pollers once, and a task can never land on a queue nobody consumes.
task_default_queue = routing.MAINTENANCE_QUEUE
task_default_exchange = "psinfor"
task_default_routing_key = routing.MAINTENANCE_QUEUE
task_create_missing_queues = False  # a typo in a queue name is an error, not a new queue nobody consumes
task_routes = routing.task_routes(FLOWS.values())

task_serializer = "json"
result_serializer = "json"
accept_content = ["json"]
task_ignore_result = True
result_backend = None

task_acks_late = True
task_reject_on_worker_lost = False  # Redis would loop the message; the sweeper recovers lost work from SQL
worker_prefetch_multiplier = 1
task_soft_time_limit = int(os.environ.get("PSINFOR_SOFT_TIME_LIMIT", 120))
task_time_limit = task_soft_time_limit + 30
worker_send_task_events = True  # Flower
# No "task-sent" event: it would be a second publish in every webhook request (Flower still shows each task
# from the moment a worker receives it).
task_send_sent_event = False
worker_hijack_root_logger = False
timezone = "UTC"
enable_utc = True

# Retry policy of the sync steps (tasks/base.py): exponential backoff with full jitter over the real attempts,
# capped at a minute so that work caught in a fault goes on within a minute of the fault clearing (a long
# outage is the circuit breakers' to wait out, in waits that are not attempts), then dead letter: ten
# attempts spread over about six minutes at most.
retry_backoff_base = float(os.environ.get("PSINFOR_RETRY_BACKOFF", 2.0))
retry_backoff_max = float(os.environ.get("PSINFOR_RETRY_BACKOFF_MAX", 60.0))
retry_max_retries = int(os.environ.get("PSINFOR_MAX_RETRIES", 10))
# A step task goes on with its flow's next steps while they succeed (each still recorded on its own, a failed one
# retried or dead-lettered as itself): the hops between steps were most of a worker's CPU per order. "0": one
# task per step, each seen in Flower.
steps_together = _settings.steps_together
assert retry_backoff_max * 2 < VISIBILITY_TIMEOUT, "retry_backoff_max must stay well below the visibility timeout"

beat_schedule = routing.beat_schedule(FLOWS.values())
# Only one beat schedules: the leader, by a lease in Redis (tasks/beat.py).
beat_scheduler = "tasks.beat:LeaderScheduler"
