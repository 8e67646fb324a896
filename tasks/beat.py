"""Single-beat leadership: only the beat holding a lease in Redis schedules anything.

The lease is a Redis key holding this beat's token, taken with SET NX and renewed on every tick (only while
it still holds our token), well before it expires. A beat that cannot reach Redis stops scheduling as soon as
its lease may have run out, and takes the lease again once Redis is back — also when it started while Redis
was down. It exits only when another beat really holds the lease. A clean shutdown gives the lease up at once, so a
restarted beat does not wait for it to expire.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from typing import Any

import redis
import structlog
from celery.beat import PersistentScheduler

from integration.runtime import get_runtime

log = structlog.get_logger("psinfor.beat")

LEASE_SECONDS = 30.0
STANDBY_TICK = 2.0  # how often a beat without the lease tries again

# Renew or give up the lease only while it is still ours (another beat's lease is never touched).
_RENEW = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) end return 0"
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class LeaderLease:
    """The beat leader's lease (plain functions of a Redis client, testable without a beat)."""

    def __init__(self, client: redis.Redis, key: str, *, seconds: float = LEASE_SECONDS):
        self.client = client
        self.key = key
        self.seconds = seconds
        self.token = uuid.uuid4().hex
        self.valid_until = 0.0  # monotonic: until when we may act as leader without asking Redis
        self.reachable = True  # for one log line per outage, not one per tick
        self.leading = False

    @property
    def held(self) -> bool:
        return time.monotonic() < self.valid_until

    def ensure(self) -> bool:
        """True when this beat holds the lease now. Raises ``AnotherLeader`` when another beat holds it.

        Asked on every tick (one round trip), so that a lease wiped by an emptied Redis is taken back, or
        found taken by another beat, at the next tick rather than a third of a lease later."""
        now = time.monotonic()
        millis = int(self.seconds * 1000)
        try:
            ours = bool(self.client.eval(_RENEW, 1, self.key, self.token, millis)) if self.held else False
            if not ours:
                ours = bool(self.client.set(self.key, self.token, nx=True, px=millis))
            if not ours:
                holder = self.client.get(self.key)
                if holder is not None and (holder.decode() if isinstance(holder, bytes) else holder) != self.token:
                    self.valid_until = 0.0
                    raise AnotherLeader(f"another beat holds the leader lock {self.key}")
        except redis.RedisError as exc:
            if self.reachable:
                log.warning("beat cannot reach Redis; it schedules only while its lease lasts, then waits for Redis",
                            error=type(exc).__name__)
                self.reachable = False
            if self.held:
                return True  # our lease has not run out yet: nobody else can have it
            self._follow()
            return False
        self.reachable = True
        if ours:
            self.valid_until = now + self.seconds
            if not self.leading:
                log.info("this beat holds the leader lease and schedules", key=self.key)
                self.leading = True
        else:
            self._follow()
        return ours

    def _follow(self) -> None:
        if self.leading:
            log.warning("this beat no longer holds the leader lease; not scheduling until it does", key=self.key)
            self.leading = False

    def release(self) -> None:
        with contextlib.suppress(redis.RedisError):  # else it expires by itself
            self.client.eval(_RELEASE, 1, self.key, self.token)
        self.valid_until = 0.0


class AnotherLeader(RuntimeError):
    pass


class LeaderScheduler(PersistentScheduler):
    """Celery's persistent scheduler, ticking only while this beat holds the leader lease."""

    lease: LeaderLease | None = None

    def setup_schedule(self) -> None:
        super().setup_schedule()
        rt = get_runtime()
        self.lease = LeaderLease(rt.redis, rt.key("beat", "leader"))

    def tick(self, *args: Any, **kwargs: Any) -> float:
        assert self.lease is not None
        try:
            leader = self.lease.ensure()
        except AnotherLeader as exc:
            # Not SystemExit: celery's beat service would turn it into a clean exit with status 0.
            log.error("another beat is the leader; this one exits", reason=str(exc))
            os._exit(3)
        if not leader:
            return STANDBY_TICK
        return min(float(super().tick(*args, **kwargs)), self.lease.seconds / 3)

    def close(self) -> None:
        if self.lease is not None:
            self.lease.release()
        super().close()
