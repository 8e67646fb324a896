"""RabbitMQ as the broker (``BROKER_URL=amqp://…``): quorum queues, publisher confirms, retry countdowns through
RabbitMQ's native delayed delivery, and Redis still holding locks and tokens.

Runs when the tests run on RabbitMQ (``PSINFOR_TEST_BROKER=amqp://…``: ``.ci/run``'s second pass, which also
runs the chain, dead-letter, crash, duplicate-webhook and chaos tests there).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.conftest import TEST_BROKER

pytestmark = pytest.mark.skipif(not TEST_BROKER.startswith("amqp"),
                                reason="runs on RabbitMQ only (PSINFOR_TEST_BROKER=amqp://…; .ci/run sets it)")


def test_queues_are_quorum_queues_and_publishes_are_confirmed(celery_app: Any, worker: Any):
    from amqp.exceptions import PreconditionFailed
    from kombu import Queue

    import celeryconfig

    assert celeryconfig.is_amqp(celery_app.conf.broker_url)
    assert celery_app.conf.broker_transport_options["confirm_publish"] is True
    with celery_app.connection_for_write() as conn:
        for queue in celery_app.conf.task_queues:
            assert queue.queue_arguments == {"x-queue-type": "quorum"}
            # The broker has them as quorum queues: declaring one as a classic queue is refused.
            with pytest.raises(PreconditionFailed):
                Queue(queue.name, durable=True, queue_arguments={"x-queue-type": "classic"})(conn.channel()).declare()
        # Countdowns go through the native delayed delivery exchanges (declared by the worker).
        conn.channel().exchange_declare("celery_delayed_27", "topic", passive=True)
    with celery_app.producer_or_acquire() as producer:
        producer.publish({}, routing_key="no-such-queue-just-a-confirm", exchange="")
        assert producer.channel._confirm_selected  # the broker acknowledges every publish


def test_locks_and_tokens_stay_in_redis(make_settings: Any, runtime_for: Any, redis_url: str):
    import redis

    rt = runtime_for(make_settings())
    with rt.record_lock("rabbitmq-test"):
        assert redis.Redis.from_url(redis_url).exists(rt.key("lock", "rabbitmq-test"))
