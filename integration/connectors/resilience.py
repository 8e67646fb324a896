"""Rate limiting and circuit breaking shared by every connector and every worker.

Both remote systems meter us per tenant, not per process: PrestaShop hosts throttle (or fall over) when a
dozen Celery threads hit them at once, and ION API enforces a quota per tenant. So the token bucket and the
breaker state live in Redis, where all workers see the same numbers. Without Redis (unit tests, a one-off
CLI run) the same logic runs in-process.

Redis being unreachable must not stop the integration: the limiter then falls back to its in-process bucket
and the breaker to its in-process state, with a warning, rather than failing every call.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from integration.errors import TransientError

log = logging.getLogger(__name__)

T = TypeVar("T")

KEY_PREFIX = "psinfor:resilience"


class RateLimited(TransientError):
    """No token became available within the caller's timeout: a wait (``retry_after``), not an attempt."""

    default_counts_as_attempt = False


class CircuitOpen(TransientError):
    """The remote side failed repeatedly; calls are refused until the reset timeout has passed.

    ``retry_after`` (seconds) is when the breaker lets a probe through: a task retried sooner only fails
    again, so use it as the retry countdown (and do not count it as a real attempt).
    """

    default_counts_as_attempt = False


# Token bucket in one atomic step: take up to ARGV[3] tokens at once (at least one, or none and the wait for one),
# so that a process leases what it is about to spend instead of asking Redis once per call. Redis TIME keeps all
# workers on one clock. The wait is returned as a string because Lua numbers become truncated integers in a reply.
_TOKEN_LEASE_LUA = """
local key = KEYS[1]
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local data = redis.call('HMGET', key, 'tokens', 'ts')
local tokens = tonumber(data[1])
local ts = tonumber(data[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate)
local granted = 0
local wait = 0
if tokens >= 1 then
  granted = math.min(wanted, math.floor(tokens))
  tokens = tokens - granted
else
  wait = (1 - tokens) / rate
end
redis.call('HSET', key, 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', key, math.ceil(burst / rate * 1000) + 1000)
return {granted, tostring(wait)}
"""


class _Lease:
    """Tokens this process took from the shared bucket and has not spent yet, and how many it spent lately."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.tokens = 0
        self.expires = 0.0
        self.period_start = time.monotonic()
        self.period_calls = 0
        self.wanted = 1


_LEASES: dict[tuple[str, float, int], _Lease] = {}
_LEASES_LOCK = threading.Lock()


class _LocalBucket:
    """The in-process token bucket: the same arithmetic as the Lua script, under a lock."""

    def __init__(self, rate: float, burst: float):
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.stamp = time.monotonic()
        self.lock = threading.Lock()

    def take(self, requested: float = 1.0) -> float:
        """Take a token if one is there (returns 0), else return the seconds until one will be."""
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
            self.stamp = now
            if self.tokens >= requested:
                self.tokens -= requested
                return 0.0
            return (requested - self.tokens) / self.rate


class RateLimiter:
    """A token bucket: ``rate_per_second`` sustained, up to ``burst`` at once, shared through Redis.

    ``acquire`` blocks until a token is available or raises ``RateLimited`` after ``timeout`` seconds, so a
    worker never waits forever on a saturated tenant.

    One Redis round trip per call would cost more than many calls themselves, so a process leases tokens: it
    takes as many at once as it spent in the last ``lease_seconds`` (at most a quarter of the burst), and the
    ones not spent within ``lease_seconds`` are dropped, never given back. A token is still taken from the shared
    bucket before it is spent, only up to ``lease_seconds`` earlier: over any window the calls made stay within
    ``burst + rate * (window + lease_seconds)``, and dropped tokens only leave the bucket fuller.
    """

    def __init__(self, name: str, rate_per_second: float, burst: int, redis: Any | None = None, *,
                 key_prefix: str = "", lease_seconds: float = 0.1):
        if rate_per_second <= 0 or burst < 1:
            raise ValueError("rate_per_second must be > 0 and burst >= 1")
        self.name = name
        self.rate = float(rate_per_second)
        self.burst = int(burst)
        self.redis = redis
        self.key = f"{key_prefix}{KEY_PREFIX}:bucket:{name}"  # key_prefix: the deployment's Redis prefix
        self._local = _LocalBucket(self.rate, self.burst)
        self._script = redis.register_script(_TOKEN_LEASE_LUA) if redis is not None else None
        self.lease_seconds = max(0.0, float(lease_seconds))
        self.max_lease = max(1, self.burst // 4)
        with _LEASES_LOCK:  # every client of this bucket in the process (one per thread) shares one lease
            self._lease = _LEASES.setdefault((self.key, self.rate, self.burst), _Lease())

    def __repr__(self) -> str:
        shared = self.redis is not None
        return f"RateLimiter({self.name!r}, {self.rate}/s, burst={self.burst}, shared={shared})"

    def _spend_leased(self) -> bool:
        """Spend a leased token if one is left; count the call for the size of the next lease."""
        lease = self._lease
        with lease.lock:
            now = time.monotonic()
            if now - lease.period_start >= self.lease_seconds:
                lease.wanted = max(1, min(self.max_lease, lease.period_calls))
                lease.period_start, lease.period_calls = now, 0
            lease.period_calls += 1
            if lease.tokens > 0 and now < lease.expires:
                lease.tokens -= 1
                return True
            return False

    def _take(self) -> float:
        """Take tokens from the shared bucket: one spent now, and while calls come often the rest of a lease, kept
        for ``lease_seconds``. Returns 0, or the seconds until a token will be there. Without Redis (or while it is
        away) the bucket is this process's own."""
        lease = self._lease
        if self._script is None:
            return self._local.take()
        wanted = lease.wanted if self.lease_seconds else 1
        try:
            granted, wait = self._script(keys=[self.key], args=[self.rate, self.burst, wanted])
        except Exception as exc:  # any Redis failure: degrade to a per-process limit, do not stop work
            log.warning("rate limiter %s: Redis unavailable (%s), limiting in-process",
                        self.name, type(exc).__name__)
            return self._local.take()
        if int(granted) < 1:
            return float(wait)
        if int(granted) > 1:
            with lease.lock:
                now = time.monotonic()
                if now >= lease.expires:
                    lease.tokens = 0
                lease.tokens += int(granted) - 1
                lease.expires = now + self.lease_seconds
        return 0.0

    def acquire(self, timeout: float = 30.0) -> None:
        """Wait for one token; raise ``RateLimited`` if none comes within ``timeout`` seconds."""
        if self._script is not None and self._spend_leased():
            return
        deadline = time.monotonic() + timeout
        while True:
            wait = self._take()
            if wait <= 0:
                return
            remaining = deadline - time.monotonic()
            if wait > remaining:
                error = RateLimited(
                    f"rate limit {self.name!r} ({self.rate:g}/s): no token within {timeout:g}s",
                    resolution="the remote system is saturated; the task is retried later",
                    details={"limiter": self.name, "rate_per_second": self.rate, "burst": self.burst},
                    retry_after=wait,
                )
                raise error
            time.sleep(wait)


class CircuitBreaker:
    """Stops calling a remote system that keeps failing, then lets one probe through after ``reset_timeout``.

    Closed: calls pass; it opens on ``failure_threshold`` consecutive failures *and* a failure rate of at
    least ``failure_rate`` over the last one or two ``window``s: a host down opens it after a few calls, while
    a host failing one call in five (each retried) keeps serving the other four; consecutive failures alone
    come in runs often enough at such a rate to starve every caller for a reset period at a time. Open: calls
    raise ``CircuitOpen`` at once (a retried Celery task then waits instead of piling more load onto a sick
    host). After ``reset_timeout`` seconds it is half-open: one caller (across all workers) probes; success
    closes it, failure opens it again. Only ``failure_types`` count: a 404 or a validation error says
    nothing about the remote system's health, and neither counts as a call.

    Shared state costs Redis round trips, so a healthy circuit is cheap: a closed state read from Redis is
    trusted for ``state_cache_seconds`` (a circuit another worker opens is seen within that time; any failure
    here reads it again at once), and successes are counted in-process and added to the shared window at most
    every ``state_cache_seconds`` (and before any failure is judged). Successes not yet added only make the
    failure rate look higher, never lower: the breaker may open a little sooner, never later.
    """

    def __init__(
        self,
        name: str,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        redis: Any | None = None,
        *,
        failure_types: tuple[type[BaseException], ...] = (TransientError,),
        key_prefix: str = "",
        failure_rate: float = 0.5,
        window: float = 30.0,
        state_cache_seconds: float = 1.0,
    ):
        self.name = name
        self.failure_threshold = max(1, int(failure_threshold))
        self.failure_rate = float(failure_rate)
        self.window = max(1.0, float(window))
        self.reset_timeout = float(reset_timeout)
        self.redis = redis
        self.failure_types = failure_types
        self.key = f"{key_prefix}{KEY_PREFIX}:breaker:{name}"
        self.probe_key = f"{self.key}:probe"
        self._lock = threading.Lock()
        self._failures = 0
        self._open_until = 0.0
        self._probing = False
        self._slots: dict[int, list[int]] = {}  # in-process window: slot -> [calls, failures]
        self.state_cache_seconds = max(0.0, float(state_cache_seconds))
        self._closed_until = 0.0  # monotonic: until then, the closed state last read from Redis is trusted
        self._unsent: dict[int, int] = {}  # successes not yet added to the shared window: slot -> calls
        self._sent_at = time.monotonic()

    def __repr__(self) -> str:
        return (f"CircuitBreaker({self.name!r}, threshold={self.failure_threshold}, "
                f"reset={self.reset_timeout}s)")

    # -- state, in Redis or in-process ------------------------------------------------------------------

    def _read(self) -> tuple[int, float]:
        if self.redis is not None:
            if self._closed_until > time.monotonic():
                return 0, 0.0
            try:
                raw_failures, raw_open_until = self.redis.hmget(self.key, "failures", "open_until")
                failures, open_until = int(raw_failures or 0), float(raw_open_until or 0)
                if not failures and not open_until:
                    self._closed_until = time.monotonic() + self.state_cache_seconds
                return failures, open_until
            except Exception as exc:
                log.warning("breaker %s: Redis unavailable (%s), using in-process state", self.name,
                            type(exc).__name__)
        with self._lock:
            return self._failures, self._open_until

    def _claim_probe(self) -> bool:
        """Half-open: only one caller may probe at a time; the claim expires if the prober dies."""
        if self.redis is not None:
            try:
                ttl = max(1, int(self.reset_timeout))
                return bool(self.redis.set(self.probe_key, "1", nx=True, ex=ttl))
            except Exception:
                log.warning("breaker %s: Redis unavailable, probing in-process", self.name)
        with self._lock:
            if self._probing:
                return False
            self._probing = True
            return True

    def _slot(self, now: float) -> int:
        return int(now // self.window)

    def _window_key(self, slot: int) -> str:
        return f"{self.key}:w:{slot}"

    def _rate_reached(self, calls: int, failures: int) -> bool:
        return calls > 0 and failures / calls >= self.failure_rate

    def _count_local(self, now: float, failed: bool) -> tuple[int, int]:
        """In-process window: count one call, return (calls, failures) over this slot and the one before."""
        slot = self._slot(now)
        for old in [s for s in self._slots if s < slot - 1]:
            del self._slots[old]
        counts = self._slots.setdefault(slot, [0, 0])
        counts[0] += 1
        counts[1] += int(failed)
        recent = [self._slots.get(slot - 1, [0, 0]), counts]
        return sum(c[0] for c in recent), sum(c[1] for c in recent)

    def _add_unsent(self, pipe: Any, now: float) -> None:
        """Queue on ``pipe`` the successes counted here since the last time (only the slots still judged)."""
        current = self._slot(now)
        with self._lock:
            unsent, self._unsent = self._unsent, {}
            self._sent_at = time.monotonic()
        for slot, calls in unsent.items():
            if slot >= current - 1:
                pipe.hincrby(self._window_key(slot), "calls", calls)
                pipe.expire(self._window_key(slot), int(self.window * 2) + 5)

    def _record_success(self, reset: bool = True) -> None:
        now = time.time()
        if self.redis is not None:
            with self._lock:
                slot = self._slot(now)
                self._unsent[slot] = self._unsent.get(slot, 0) + 1
                due = reset or time.monotonic() - self._sent_at >= self.state_cache_seconds
            if due:
                try:
                    with self.redis.pipeline(transaction=False) as pipe:
                        self._add_unsent(pipe, now)
                        if reset:
                            pipe.delete(self.key, self.probe_key)
                        pipe.execute()
                except Exception:
                    log.warning("breaker %s: Redis unavailable while recording success", self.name)
        with self._lock:
            self._count_local(now, failed=False)
            if reset:
                self._failures, self._open_until, self._probing = 0, 0.0, False

    def _record_failure(self, probing: bool) -> None:
        now = time.time()
        self._closed_until = 0.0  # read the shared state again from the next call on
        if self.redis is not None:
            try:
                slot = self._slot(now)
                with self.redis.pipeline(transaction=False) as pipe:
                    self._add_unsent(pipe, now)  # the successes counted here first: the rate is judged on all
                    pipe.hincrby(self.key, "failures", 1)
                    pipe.hincrby(self._window_key(slot), "calls", 1)
                    pipe.hincrby(self._window_key(slot), "failures", 1)
                    pipe.expire(self._window_key(slot), int(self.window * 2) + 5)
                    pipe.hmget(self._window_key(slot - 1), "calls", "failures")
                    consecutive, calls, failures, _, previous = pipe.execute()[-5:]
                calls += int(previous[0] or 0)
                failures += int(previous[1] or 0)
                if probing or (consecutive >= self.failure_threshold and self._rate_reached(calls, failures)):
                    self.redis.hset(self.key, mapping={"failures": 0, "open_until": now + self.reset_timeout})
                    self.redis.delete(self.probe_key)
                self.redis.expire(self.key, int(self.reset_timeout * 4) + 60)
                return
            except Exception:
                log.warning("breaker %s: Redis unavailable while recording failure", self.name)
        with self._lock:
            self._failures += 1
            calls, failures = self._count_local(now, failed=True)
            if probing or (self._failures >= self.failure_threshold and self._rate_reached(calls, failures)):
                self._failures, self._open_until = 0, now + self.reset_timeout
            self._probing = False

    # -- public -----------------------------------------------------------------------------------------

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half-open`` (for health pages and tests)."""
        _, open_until = self._read()
        if not open_until:
            return "closed"
        return "open" if time.time() < open_until else "half-open"

    def call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run ``fn`` unless the circuit is open; count its failures and successes."""
        failures, open_until = self._read()
        probing = False
        if open_until:
            remaining = open_until - time.time()
            if remaining > 0 or not self._claim_probe():
                error = CircuitOpen(
                    f"circuit {self.name!r} is open after repeated failures",
                    resolution="the remote system is failing; calls resume after the reset timeout",
                    details={"breaker": self.name, "retry_in_seconds": round(max(remaining, 0.0), 1)},
                    retry_after=max(remaining, 0.5),
                )
                raise error
            probing = True
        try:
            result = fn(*args, **kwargs)
        except self.failure_types:
            self._record_failure(probing)
            raise
        except BaseException:
            if probing:  # not a health failure, but release the probe so others may try
                self._release_probe()
            raise
        self._record_success(reset=bool(probing or open_until or failures))
        return result

    def _release_probe(self) -> None:
        if self.redis is not None:
            try:
                self.redis.delete(self.probe_key)
            except Exception:
                log.warning("breaker %s: Redis unavailable while releasing the probe", self.name)
        with self._lock:
            self._probing = False

    def reset(self) -> None:
        """Close the circuit by hand (operator action, tests)."""
        self._record_success()
