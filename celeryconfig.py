"""Celery settings. Explicit queues only, JSON only, late acks with prefetch 1, time limits, no result backend.

Values come from the environment through ``integration.config`` so one file serves the worker, beat, the
webhook receiver (as a producer), the demo and the tests.
"""

from __future__ import annotations

import os

from kombu import Exchange, Queue

from integration.config import get_settings
from integration.flows.registry import FLOWS
from tasks import routing

_settings = get_settings()

broker_url = _settings.redis_url
# Redis has no native acks: an unacked message comes back after the visibility timeout. It must exceed the
# longest task *and* the longest retry countdown (retry_backoff_max), or the task would run twice.
VISIBILITY_TIMEOUT = int(os.environ.get("PSINFOR_VISIBILITY_TIMEOUT", 7200))
broker_transport_options: dict[str, object] = {"visibility_timeout": VISIBILITY_TIMEOUT, "fanout_prefix": True,
                                               "fanout_patterns": True}
# Several deployments (or test runs) can share one Redis: each gets its own key prefix.
if os.environ.get("PSINFOR_BROKER_PREFIX"):
    broker_transport_options["global_keyprefix"] = os.environ["PSINFOR_BROKER_PREFIX"]
broker_connection_retry_on_startup = True

# Queues, routes and the beat schedule are generated from the flow registry (tasks/routing.py): a flow
# declares its queue, steps and pollers once, and a task can never land on a queue nobody consumes.
QUEUE_NAMES = routing.queue_names(FLOWS.values())
_exchange = Exchange("psinfor", type="direct")
task_queues = tuple(Queue(name, _exchange, routing_key=name) for name in QUEUE_NAMES)
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

# Retry policy of the sync steps (tasks/base.py): exponential backoff with full jitter, capped far below
# the visibility timeout, then dead letter.
retry_backoff_base = float(os.environ.get("PSINFOR_RETRY_BACKOFF", 2.0))
retry_backoff_max = float(os.environ.get("PSINFOR_RETRY_BACKOFF_MAX", 300.0))
retry_max_retries = int(os.environ.get("PSINFOR_MAX_RETRIES", 8))
assert retry_backoff_max * 2 < VISIBILITY_TIMEOUT, "retry_backoff_max must stay well below the visibility timeout"

beat_schedule = routing.beat_schedule(FLOWS.values())
# Only one beat schedules: the leader, by a lease in Redis (tasks/beat.py).
beat_scheduler = "tasks.beat:LeaderScheduler"
