"""RateLimiter and CircuitBreaker, in-process and shared through a real Redis."""

from __future__ import annotations

import pytest

from integration.connectors.resilience import CircuitBreaker, CircuitOpen, RateLimited, RateLimiter
from integration.errors import NotFound, TransientError


def _fail() -> None:
    raise TransientError("boom")


def test_local_bucket_gives_burst_then_refuses_without_waiting() -> None:
    limiter = RateLimiter("t", rate_per_second=0.001, burst=3)
    for _ in range(3):
        limiter.acquire(timeout=0)
    with pytest.raises(RateLimited):
        limiter.acquire(timeout=0)


def test_redis_bucket_is_shared_between_limiters(redis_client) -> None:
    first = RateLimiter("shop-a", rate_per_second=0.001, burst=2, redis=redis_client)
    second = RateLimiter("shop-a", rate_per_second=0.001, burst=2, redis=redis_client)
    other = RateLimiter("shop-b", rate_per_second=0.001, burst=2, redis=redis_client)
    first.acquire(timeout=0)
    second.acquire(timeout=0)
    with pytest.raises(RateLimited):
        first.acquire(timeout=0)
    other.acquire(timeout=0)  # another name has its own bucket


@pytest.mark.parametrize("shared", [False, True])
def test_breaker_opens_after_threshold_and_ignores_permanent_errors(shared: bool, request) -> None:
    redis = request.getfixturevalue("redis_client") if shared else None
    breaker = CircuitBreaker("cb", failure_threshold=2, reset_timeout=60, redis=redis)
    for _ in range(3):
        with pytest.raises(NotFound):
            breaker.call(lambda: (_ for _ in ()).throw(NotFound("gone")))
    assert breaker.state == "closed"
    for _ in range(2):
        with pytest.raises(TransientError):
            breaker.call(_fail)
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen):
        breaker.call(lambda: 1)
    if shared:  # a second worker sees the same open circuit
        with pytest.raises(CircuitOpen):
            CircuitBreaker("cb", failure_threshold=2, reset_timeout=60, redis=redis).call(lambda: 1)


@pytest.mark.parametrize("shared", [False, True])
def test_breaker_half_open_probe_closes_on_success(shared: bool, request) -> None:
    redis = request.getfixturevalue("redis_client") if shared else None
    breaker = CircuitBreaker("cb2", failure_threshold=1, reset_timeout=0, redis=redis)
    with pytest.raises(TransientError):
        breaker.call(_fail)
    assert breaker.state == "half-open"
    assert breaker.call(lambda: 42) == 42
    assert breaker.state == "closed"


def test_breaker_success_resets_consecutive_failures() -> None:
    breaker = CircuitBreaker("cb3", failure_threshold=2, reset_timeout=60)
    with pytest.raises(TransientError):
        breaker.call(_fail)
    breaker.call(lambda: None)
    with pytest.raises(TransientError):
        breaker.call(_fail)
    assert breaker.state == "closed"


def test_acquire_waits_for_the_next_token_when_the_wait_fits(redis_client) -> None:
    limiter = RateLimiter("fast", rate_per_second=500, burst=1, redis=redis_client)
    for _ in range(3):
        limiter.acquire(timeout=5)  # the 2nd and 3rd wait ~2 ms for a refill instead of failing


def test_rate_limited_says_when_to_retry() -> None:
    limiter = RateLimiter("slow", rate_per_second=0.5, burst=1)
    limiter.acquire(timeout=0)
    with pytest.raises(RateLimited) as caught:
        limiter.acquire(timeout=0)
    assert caught.value.retry_after > 0 and caught.value.transient


def test_half_open_lets_one_probe_through_across_workers(redis_client) -> None:
    first = CircuitBreaker("probe", failure_threshold=1, reset_timeout=0, redis=redis_client)
    second = CircuitBreaker("probe", failure_threshold=1, reset_timeout=0, redis=redis_client)
    with pytest.raises(TransientError):
        first.call(_fail)
    seen: list[str] = []

    def probe() -> str:
        # While the first worker's probe is in flight, the second worker is refused.
        with pytest.raises(CircuitOpen) as refused:
            second.call(lambda: "second")
        seen.append(type(refused.value).__name__)
        return "first"

    assert first.call(probe) == "first"
    assert seen == ["CircuitOpen"] and first.state == "closed"
    assert second.call(lambda: "second") == "second"


def test_a_healthy_circuit_costs_no_redis_round_trip_per_call(redis_client) -> None:
    """Closed and healthy: the shared state is read once per ``state_cache_seconds`` and successes are added to
    the shared window in one batch, not two commands per call."""
    breaker = CircuitBreaker("quiet", failure_threshold=2, reset_timeout=60, redis=redis_client,
                             state_cache_seconds=60)
    sent: list[str] = []
    real = redis_client.execute_command

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        sent.append(str(args[0]))
        return real(*args, **kwargs)

    redis_client.execute_command = counting
    try:
        for _ in range(50):
            assert breaker.call(lambda: 1) == 1
    finally:
        del redis_client.execute_command
    assert sent == ["HMGET"]  # one read; the 50 successes are still counted here
    # A failure sends them first, so the rate it is judged on counts every call.
    with pytest.raises(TransientError):
        breaker.call(_fail)
    window = [k for k in redis_client.keys("*quiet:w:*")]
    assert sum(int(redis_client.hget(k, "calls") or 0) for k in window) == 51
    assert breaker.state == "closed"  # one failure in 51 calls


def test_a_circuit_opened_elsewhere_is_seen_within_the_state_cache_time(redis_client) -> None:
    import time

    here = CircuitBreaker("elsewhere", failure_threshold=1, reset_timeout=60, redis=redis_client,
                          state_cache_seconds=0.2)
    there = CircuitBreaker("elsewhere", failure_threshold=1, reset_timeout=60, redis=redis_client)
    assert here.call(lambda: 1) == 1
    with pytest.raises(TransientError):
        there.call(_fail)
    time.sleep(0.25)
    with pytest.raises(CircuitOpen):
        here.call(lambda: 1)


def test_a_busy_process_leases_tokens_and_never_overdraws_the_shared_bucket(redis_client) -> None:
    """Calls spaced closer than the lease period take tokens several at a time (far fewer Redis round trips),
    and however they are leased, no more calls pass than the bucket holds."""
    import time

    limiter = RateLimiter("leased", rate_per_second=0.001, burst=40, redis=redis_client, lease_seconds=0.05)
    scripts: list[str] = []
    real = redis_client.execute_command

    def counting(*args, **kwargs):  # type: ignore[no-untyped-def]
        if str(args[0]).startswith("EVAL"):
            scripts.append(str(args[0]))
        return real(*args, **kwargs)

    redis_client.execute_command = counting
    passed = 0
    try:
        while True:
            try:
                limiter.acquire(timeout=0)
            except RateLimited:
                break
            passed += 1
            time.sleep(0.004)
    finally:
        del redis_client.execute_command
    assert 30 <= passed <= 40  # tokens leased but not spent in time are dropped, never added
    assert len(scripts) < passed / 2  # the first lease period asks one at a time, then ten at once
