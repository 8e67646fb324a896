"""kombu's Redis transport, minus one cost: a new ``redis.Redis`` for every publish, acknowledgement and event.

kombu's channel builds a fresh client each time it needs one outside the event loop (``conn_or_acquire``),
and redis-py copies its table of some two hundred response callbacks into every new client: about 6 % of a
worker's CPU went there (py-spy, ``make bench``). Such a client holds no connection of its own (each command
borrows one from the channel's pool), so one per pool serves every thread. The event loop's client, which
does hold a connection, is left as kombu makes it.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    _shared_client: Any = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        if asynchronous:
            return super()._create_client(asynchronous=True)
        client = self._shared_client
        if client is None or client.connection_pool is not self.pool:  # a new pool after a reconnect
            client = self._shared_client = super()._create_client()
        return client


class Transport(kombu_redis.Transport):
    Channel = Channel


TRANSPORT = f"{__name__}:Transport"
REDIS_SCHEMES = ("redis", "rediss")
