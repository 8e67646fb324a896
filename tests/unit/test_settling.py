"""The settling design's parts on their own: leases kept alive by a heartbeat, the sweeper's decision on signs
of life, waits and backoff, and a circuit breaker that a 20% error rate does not open."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from integration.connectors.resilience import CircuitBreaker, CircuitOpen
from integration.errors import TransientError
from integration.flows.maintenance import lost_events
from integration.runtime import Lease, LeaseKeeper
from integration.store.repository import StaleEvent
from tasks.base import backoff_seconds, wait_seconds


def _wait(predicate, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met"
        time.sleep(0.05)


def test_a_held_lease_outlives_its_length_comes_back_after_an_emptied_redis_and_yields_to_a_new_holder(
        redis_client):
    keeper = LeaseKeeper()
    lease = Lease(redis_client, "psinfor:lock:event:1", seconds=0.6)
    assert lease.acquire(0)
    keeper.hold(lease)
    try:
        renewed = lease.renewed
        _wait(lambda: lease.renewed > renewed + 0.6)  # alive for longer than one lease length
        assert redis_client.exists(lease.key)
        redis_client.flushdb()  # an emptied Redis came back
        _wait(lambda: redis_client.exists(lease.key))  # taken back, nobody else had it
        redis_client.set(lease.key, "another-worker")  # a new holder (ours had run out meanwhile)
        _wait(lambda: lease.lost)
        assert redis_client.get(lease.key) == b"another-worker"  # never taken from it
    finally:
        keeper.drop(lease)
        lease.release()
    assert redis_client.get(lease.key) == b"another-worker"  # nor released under it


def test_a_dead_holders_lease_runs_out(redis_client):
    lease = Lease(redis_client, "psinfor:lock:event:2", seconds=0.3)
    assert lease.acquire(0)  # nobody renews it: its holder died
    _wait(lambda: not redis_client.exists(lease.key), timeout=5)


def test_each_step_of_a_run_gets_the_hold_limit_from_its_own_start(redis_client):
    """Steps run together under one lease (``run_steps``): the limit on how long a hung step keeps its lease
    counts from the step's start, not from the first step's."""
    import time

    from integration.runtime import MAX_HOLD_LEASES

    lease = Lease(redis_client, "psinfor:lock:event:3", seconds=1.0)
    assert lease.acquire(0)
    try:
        first_step = time.monotonic() - MAX_HOLD_LEASES * 1.0 + 0.5  # the run's first step began long ago
        lease.taken = first_step
        assert lease.expired_hold(time.monotonic() + 1)  # one more second: over the limit, counted from it
        lease.begin_hold()  # the next step starts
        assert not lease.expired_hold(time.monotonic() + 1)
    finally:
        lease.release()


NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _stale(i: int, status: str, step: str | None = None, step_status: str | None = None,
           age: float = 60) -> StaleEvent:
    return StaleEvent(i, "order", status, step, step_status, NOW - timedelta(seconds=age))


def test_the_sweeper_publishes_only_events_without_a_sign_of_life():
    events = [
        _stale(1, "running", "load", "running"),  # a worker is inside the step: lease held
        _stale(2, "running", "load", "running"),  # no lease, seen so at an earlier sweep: its worker died
        _stale(3, "retrying", "load", "retrying"),  # a retry is scheduled
        _stale(4, "retrying", "load", "retrying"),  # overdue retry: its message is gone
        _stale(5, "received"),  # its publish failed
        _stale(6, "queued"),  # should be in its queue, and the queue has a backlog
        _stale(7, "running", "extract", "done"),  # between steps, behind the same backlog
        _stale(8, "queued", age=3600),  # behind the backlog for too long
        _stale(9, "running", "load", "running"),  # no lease, first seen now: its holder may be renewing it
        _stale(10, "running", "load", "running"),  # no lease since a moment only
    ]
    leased = [True] + [False] * 9
    waiting = [False, False, True] + [False] * 7
    suspected_for = [None, 30.0, None, None, None, None, None, None, None, 2.0]

    def decide(depth: int | None) -> tuple[list[int], list[int]]:
        verdict = lost_events(events, leased=leased, waiting=waiting, suspected_for=suspected_for,
                              confirm_after=11, backlog=lambda q: depth, queue_of=lambda e: "orders",
                              backlog_cutoff=NOW - timedelta(seconds=600))
        return [e.id for e in verdict.lost], [e.id for e in verdict.suspected]

    assert decide(40) == ([2, 4, 5, 8], [9])
    # with the queue empty, the queued and between-steps events are lost too; an unreadable queue counts as empty
    assert decide(0) == decide(None) == ([2, 4, 5, 6, 7, 8], [9])


def test_waits_follow_the_remote_side_and_backoff_counts_real_attempts_only():
    random.seed(15)
    for _ in range(200):
        assert 30 <= wait_seconds(30, 2, 60) <= 60  # what the other side asked for, a little jitter, capped
        assert 2 <= wait_seconds(0, 2, 60) <= 4  # "now": still not a thundering herd
        assert 2 <= backoff_seconds(0, 2, 60) <= 2
        assert 2 <= backoff_seconds(10, 2, 60) <= 60  # capped at a minute


def _fail() -> None:
    raise TransientError("502")


@pytest.mark.parametrize("shared", [False, True])
def test_a_20_percent_error_rate_never_opens_the_breaker_an_outage_does(shared: bool, request) -> None:
    redis = request.getfixturevalue("redis_client") if shared else None
    breaker = CircuitBreaker("rate", failure_threshold=5, reset_timeout=60, redis=redis, window=3600)
    # one call in five fails, with runs of five failures in a row now and then (what many workers see)
    pattern = ([True] * 4 + [False]) * 20 + [False] * 5 + ([True] * 4 + [False]) * 20
    for ok in pattern:
        if ok:
            breaker.call(lambda: None)
        else:
            with pytest.raises(TransientError):
                breaker.call(_fail)
    assert breaker.state == "closed"
    outage = CircuitBreaker("down", failure_threshold=5, reset_timeout=60, redis=redis, window=3600)
    for _ in range(20):
        outage.call(lambda: None)
    for _ in range(5):
        with pytest.raises(TransientError):
            outage.call(_fail)
    assert outage.state == "closed"  # 5 of 25: not yet
    failures = 5
    while outage.state == "closed":
        with pytest.raises(TransientError):
            outage.call(_fail)
        failures += 1
    assert failures == 20  # half of the calls in the window failed: open
    with pytest.raises(CircuitOpen):
        outage.call(lambda: None)
