"""Everything a flow step needs, built once per process: the store, Redis, the mapping engine and clients.

Clients hold HTTP sessions, which are not shared between threads: each worker thread gets its own, per
connection. Rate limiters and circuit breakers live in Redis, so they are shared by all workers anyway.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis

from integration.config import ConnectionSettings, Settings, get_settings
from integration.errors import ConfigurationError, LockBusy
from integration.store.repository import Store

if TYPE_CHECKING:
    from integration.binder import Binder
    from integration.connectors.infor.m3 import M3Client
    from integration.connectors.prestashop.client import PrestaShopClient
    from integration.mapping.engine import MappingEngine


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.database_url)
        self._local = threading.local()

    @cached_property
    def redis(self) -> redis.Redis:
        return redis.Redis.from_url(self.settings.redis_url, health_check_interval=30)

    @cached_property
    def mapping(self) -> MappingEngine:
        from integration.mapping.engine import MappingEngine

        return MappingEngine.load(self.settings.mappings_dir)

    def binder(self, connection: str, entity: str) -> Binder:
        """The bindings of one connection and entity (shop id ⇄ Infor id)."""
        from integration.binder import Binder

        return Binder(self.store, connection, entity)

    def key(self, *parts: str) -> str:
        """A Redis key of ours, under the deployment's prefix like the broker's own keys."""
        return redis_key(self.settings.key_prefix, *parts)

    def connection(self, name: str) -> ConnectionSettings:
        return self.settings.connection(name)

    def _thread_cache(self) -> dict[tuple[str, str], Any]:
        cache = getattr(self._local, "clients", None)
        if cache is None:
            cache = self._local.clients = {}
        return cache

    def prestashop(self, connection: str) -> PrestaShopClient:
        cache = self._thread_cache()
        key = ("prestashop", connection)
        if key not in cache:
            cache[key] = build_prestashop_client(self.connection(connection), self.redis, self.settings.key_prefix)
        return cache[key]  # type: ignore[no-any-return]

    def m3(self, connection: str) -> M3Client:
        cache = self._thread_cache()
        key = ("m3", connection)
        if key not in cache:
            cache[key] = build_m3_client(self.connection(connection), self.redis, self.settings.key_prefix)
        return cache[key]  # type: ignore[no-any-return]

    @contextmanager
    def record_lock(self, name: str, *, timeout: float = 120.0, wait: float = 20.0) -> Iterator[None]:
        """One worker at a time per record (two webhooks for one order must not both create it)."""
        key = self.key("lock", name)
        lock = self.redis.lock(key, timeout=timeout, blocking_timeout=wait)
        if not lock.acquire():
            # When the holder may be dead, its lock only goes when it expires: wait for that, not an attempt.
            raise LockBusy(f"record {name} is being synced by another worker",
                           retry_after=max(0.0, float(self.redis.pttl(key) or 0) / 1000))
        try:
            yield
        finally:
            # A lock that expired while we worked: the binding table still guards against a double write.
            with suppress(redis.exceptions.LockError):
                lock.release()


def build_prestashop_client(conn: ConnectionSettings, redis_client: redis.Redis | None,
                            key_prefix: str = "") -> PrestaShopClient:
    from integration.connectors.prestashop.client import PrestaShopClient

    if not conn.prestashop.key:
        raise ConfigurationError(f"connection {conn.name!r}: no PrestaShop key", resolution="set PS_KEY")
    return PrestaShopClient.from_settings(conn.prestashop, redis=redis_client, name=conn.name, key_prefix=key_prefix)


def build_m3_client(conn: ConnectionSettings, redis_client: redis.Redis | None, key_prefix: str = "") -> M3Client:
    from integration.connectors.infor.ionapi import IonApiCredentials, TokenProvider
    from integration.connectors.infor.m3 import M3Client
    from integration.connectors.resilience import CircuitBreaker, RateLimiter

    infor = conn.infor
    credentials = IonApiCredentials.from_settings(infor)
    return M3Client(
        credentials, cono=infor.cono, divi=infor.divi, redis=redis_client, timeout=infor.timeout,
        rate_limiter=RateLimiter(f"infor:{conn.name}", infor.rate_per_second, infor.burst, redis=redis_client,
                                 key_prefix=key_prefix),
        breaker=CircuitBreaker(f"infor:{conn.name}", infor.breaker_failures, infor.breaker_reset, redis=redis_client,
                               key_prefix=key_prefix),
        token_provider=TokenProvider(credentials, redis=redis_client, key_prefix=key_prefix),
    )


def redis_key(prefix: str, *parts: str) -> str:
    """``<PSINFOR_BROKER_PREFIX>psinfor:<parts>``: every key of a deployment under one prefix, so deployments and
    test runs sharing one Redis never touch each other's locks, tokens, buckets or beat leader."""
    return prefix + ":".join(("psinfor", *parts))


_runtime: Runtime | None = None
_runtime_lock = threading.Lock()


def get_runtime() -> Runtime:
    global _runtime
    with _runtime_lock:
        if _runtime is None:
            _runtime = Runtime(get_settings())
        return _runtime


def reset_runtime(settings: Settings | None = None) -> Runtime | None:
    """Tests and the demo swap settings at run time."""
    global _runtime
    with _runtime_lock:
        _runtime = Runtime(settings) if settings is not None else None
        return _runtime
