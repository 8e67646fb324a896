"""The broker transport: kombu's Redis channel with one client per pool, not one per publish or ack."""

from __future__ import annotations

from kombu import Connection

import celeryconfig
from tasks import transport


def test_redis_urls_use_our_transport_and_rabbitmq_keeps_its_own() -> None:
    assert celeryconfig.broker_settings("redis://localhost:6379/0")["broker_transport"] == transport.TRANSPORT
    assert celeryconfig.broker_settings("rediss://localhost:6380/0")["broker_transport"] == transport.TRANSPORT
    assert celeryconfig.broker_settings("amqp://guest:guest@localhost//")["broker_transport"] is None


def test_one_client_serves_every_publish_until_the_pool_is_replaced(redis_url: str) -> None:
    with Connection(redis_url, transport=transport.TRANSPORT) as conn:
        channel = conn.channel()
        with channel.conn_or_acquire() as first, channel.conn_or_acquire() as second:
            assert first is second and first.ping()
        assert channel.client is not first  # the event loop's client (it holds a connection) stays kombu's
        channel._pool = None  # what a reconnect does
        with channel.conn_or_acquire() as third:
            assert third is not first and third.connection_pool is channel.pool and third.ping()
        channel.close()
