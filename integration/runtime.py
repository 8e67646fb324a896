"""Everything a flow step needs, built once per process: the store, Redis, the mapping engine and clients.

Clients hold HTTP sessions, which are not shared between threads: each worker thread gets its own, per
connection. Rate limiters and circuit breakers live in Redis, so they are shared by all workers anyway.

Record locks are short leases kept alive by one heartbeat thread per process (``LeaseKeeper``): a live
holder keeps its lease however long its step takes (up to ``MAX_HOLD_LEASES`` lease lengths), and a killed
worker's lease runs out within one lease length, so its work is picked up in seconds, not minutes.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis
import structlog
from redis.lock import Lock

from integration.config import ConnectionSettings, Settings, get_settings
from integration.errors import ConfigurationError, LockBusy
from integration.store.repository import Store

if TYPE_CHECKING:
    from integration.binder import Binder
    from integration.connectors.infor.m3 import M3Client
    from integration.connectors.prestashop.client import PrestaShopClient
    from integration.connectors.resilience import CircuitBreaker
    from integration.mapping.engine import MappingEngine


log = structlog.get_logger("psinfor.runtime")

# A holder keeps renewing its lease for at most this many lease lengths: a step stuck for longer (a hung
# call the threads pool cannot interrupt) lets its record go rather than hold it for ever.
MAX_HOLD_LEASES = 10


class Lease:
    """One held record lock: a Redis key with our token and a time to live, renewed by the keeper."""

    def __init__(self, client: redis.Redis, key: str, seconds: float):
        self.client = client
        self.key = key
        self.seconds = seconds
        self.lock: Lock = client.lock(key, timeout=seconds, thread_local=False)  # the keeper renews it
        self.taken = time.monotonic()
        self.renewed = self.taken
        self.lost = False

    def acquire(self, wait: float) -> bool:
        # Our own random token: redis-py's default, a uuid1, is made in pure Python under a lock on this platform.
        return bool(self.lock.acquire(blocking=wait > 0, blocking_timeout=wait, token=os.urandom(16).hex()))

    def due(self, now: float) -> bool:
        return not self.lost and now - self.renewed >= self.seconds / 3

    def begin_hold(self) -> None:
        """A new step under the same lease (``flows.base.run_steps``): its hold limit counts from now, as if it
        had taken the lease itself."""
        self.taken = time.monotonic()

    def expired_hold(self, now: float) -> bool:
        return now - self.taken > self.seconds * MAX_HOLD_LEASES

    def renew(self) -> None:
        """Reset the time to live while the key still holds our token; take the key back if it vanished (an
        emptied Redis came back) and nobody else took it. Redis errors wait for the next beat."""
        try:
            self.lock.reacquire()
        except redis.exceptions.LockNotOwnedError:
            token = self.lock.local.token
            if token is not None and self.client.set(self.key, token, nx=True, px=int(self.seconds * 1000)):
                log.warning("lease re-taken after it vanished from Redis", key=self.key)
            else:
                self.lost = True
                log.error("lease lost to another holder while its step still runs", key=self.key,
                          resolution="the SQL claims still prevent a double write; see why the step took so long")
                return
        except redis.RedisError as exc:
            log.warning("lease not renewed: Redis unavailable", key=self.key, error=type(exc).__name__)
            return
        self.renewed = time.monotonic()

    def release(self) -> None:
        # A lease that expired or was lost while we worked: the binding table still guards against a double write.
        with suppress(redis.RedisError):
            self.lock.release()


class LeaseKeeper:
    """The heartbeat of every lease this process holds: one daemon thread renews each a third of a lease
    length after its last renewal. It dies with the process, and so do the leases, soon after."""

    TICK = 0.5

    def __init__(self) -> None:
        self._leases: set[Lease] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def hold(self, lease: Lease) -> None:
        with self._lock:
            self._leases.add(lease)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="psinfor-lease-keeper", daemon=True)
                self._thread.start()

    def drop(self, lease: Lease) -> None:
        with self._lock:
            self._leases.discard(lease)

    def _run(self) -> None:
        while True:
            time.sleep(self.TICK)
            now = time.monotonic()
            with self._lock:
                due = [lease for lease in self._leases if lease.due(now)]
            for lease in due:
                if lease.expired_hold(now):
                    lease.lost = True
                    log.error("a step held its record for too long; its lease is no longer renewed",
                              key=lease.key, held_seconds=round(now - lease.taken))
                    continue
                lease.renew()


_keeper = LeaseKeeper()


class Runtime:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.store = Store(settings.database_url)
        self._local = threading.local()
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        self._breakers_lock = threading.Lock()

    @cached_property
    def redis(self) -> redis.Redis:
        # Timeouts: a Redis that hangs must not hang a lease heartbeat or a step for ever.
        return redis.Redis.from_url(self.settings.redis_url, health_check_interval=30, socket_connect_timeout=5,
                                    socket_timeout=10)

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

    def breaker(self, system: str, connection: str) -> CircuitBreaker:
        """The circuit breaker of one remote system of a connection, one per process: the clients are per thread,
        and a breaker of their own would each read Redis's shared state and add their successes to it apart."""
        with self._breakers_lock:
            found = self._breakers.get((system, connection))
            if found is None:
                found = self._breakers[(system, connection)] = build_breaker(
                    system, self.connection(connection), self.redis, self.settings.key_prefix)
            return found

    def prestashop(self, connection: str) -> PrestaShopClient:
        cache = self._thread_cache()
        key = ("prestashop", connection)
        if key not in cache:
            cache[key] = build_prestashop_client(self.connection(connection), self.redis, self.settings.key_prefix,
                                                 breaker=self.breaker("prestashop", connection))
        return cache[key]  # type: ignore[no-any-return]

    def m3(self, connection: str) -> M3Client:
        cache = self._thread_cache()
        key = ("m3", connection)
        if key not in cache:
            cache[key] = build_m3_client(self.connection(connection), self.redis, self.settings.key_prefix,
                                         breaker=self.breaker("infor", connection))
        return cache[key]  # type: ignore[no-any-return]

    @contextmanager
    def record_lock(self, name: str, *, timeout: float | None = None, wait: float = 20.0) -> Iterator[Lease]:
        """One worker at a time per record (two webhooks for one order must not both create it).

        A lease of ``timeout`` seconds (``PSINFOR_EVENT_LOCK_SECONDS`` by default) renewed while the body runs:
        a dead holder's lease runs out within ``timeout``. A busy record is a wait of at most that long."""
        seconds = float(timeout if timeout is not None else self.settings.event_lock_seconds)
        lease = Lease(self.redis, self.key("lock", name), seconds)
        if not lease.acquire(wait):
            # The holder renews while it lives; when it died, its lease goes by itself within ``seconds``.
            raise LockBusy(f"record {name} is being synced by another worker",
                           retry_after=max(0.0, float(self.redis.pttl(lease.key) or 0) / 1000))
        _keeper.hold(lease)
        try:
            yield lease
        finally:
            _keeper.drop(lease)
            lease.release()

    def lock_held(self, names: list[str]) -> list[bool]:
        """Whether each record lock is held now (one round trip): the sweeper's sign of life."""
        with self.redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.exists(self.key("lock", name))
            return [bool(v) for v in pipe.execute()]


def build_breaker(system: str, conn: ConnectionSettings, redis_client: redis.Redis | None,
                  key_prefix: str = "") -> CircuitBreaker:
    """The breaker of ``system`` (``prestashop`` or ``infor``) of one connection, named as every worker names it."""
    from integration.connectors.prestashop.client import PrestaShopClient
    from integration.connectors.resilience import CircuitBreaker

    if system == "prestashop":
        return PrestaShopClient.breaker_from_settings(conn.prestashop, redis=redis_client, name=conn.name,
                                                      key_prefix=key_prefix)
    return CircuitBreaker(f"infor:{conn.name}", conn.infor.breaker_failures, conn.infor.breaker_reset,
                          redis=redis_client, key_prefix=key_prefix)


def build_prestashop_client(conn: ConnectionSettings, redis_client: redis.Redis | None,
                            key_prefix: str = "", *, breaker: CircuitBreaker | None = None) -> PrestaShopClient:
    from integration.connectors.prestashop.client import PrestaShopClient

    if not conn.prestashop.key:
        raise ConfigurationError(f"connection {conn.name!r}: no PrestaShop key", resolution="set PS_KEY")
    return PrestaShopClient.from_settings(conn.prestashop, redis=redis_client, name=conn.name, key_prefix=key_prefix,
                                          breaker=breaker)


def build_m3_client(conn: ConnectionSettings, redis_client: redis.Redis | None, key_prefix: str = "", *,
                    breaker: CircuitBreaker | None = None) -> M3Client:
    from integration.connectors.infor.ionapi import IonApiCredentials, TokenProvider
    from integration.connectors.infor.m3 import M3Client
    from integration.connectors.resilience import RateLimiter

    infor = conn.infor
    credentials = IonApiCredentials.from_settings(infor)
    return M3Client(
        credentials, cono=infor.cono, divi=infor.divi, redis=redis_client, timeout=infor.timeout,
        list_cap=infor.list_cap,
        rate_limiter=RateLimiter(f"infor:{conn.name}", infor.rate_per_second, infor.burst, redis=redis_client,
                                 key_prefix=key_prefix),
        breaker=breaker or build_breaker("infor", conn, redis_client, key_prefix),
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
