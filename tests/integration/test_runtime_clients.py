"""A runtime's API clients are per thread; the circuit breaker of each remote system is one per process, so the
threads of a worker judge a failing system together and read its shared state in Redis once, not each apart."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest

from integration.config import Settings
from integration.connectors.resilience import CircuitOpen
from integration.errors import TransientError


def _in_thread(fn: Callable[[], Any]) -> Any:
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(fn()))
    thread.start()
    thread.join()
    return result[0]


def test_the_clients_of_every_thread_share_one_breaker_per_remote_system(
        make_settings: Callable[..., Settings], runtime_for: Callable[[Settings], Any], redis_client: Any) -> None:
    rt = runtime_for(make_settings())
    here, there = rt.prestashop("default"), _in_thread(lambda: rt.prestashop("default"))
    assert here is not there  # a session per thread
    assert here.breaker is there.breaker is rt.breaker("prestashop", "default")
    assert rt.breaker("infor", "default") is _in_thread(lambda: rt.breaker("infor", "default"))
    assert rt.breaker("infor", "default") is not rt.breaker("prestashop", "default")


def test_failures_seen_by_one_thread_open_the_circuit_for_the_others(
        make_settings: Callable[..., Settings], runtime_for: Callable[[Settings], Any], redis_client: Any) -> None:
    # PS_URL is a closed port: every call fails at once with a network error, a failure the breaker counts.
    rt = runtime_for(make_settings(PS_BREAKER_FAILURES="3", PS_BREAKER_RESET="60"))
    rt.breaker("prestashop", "default").reset()

    def fail_three_times() -> None:
        client = rt.prestashop("default")
        for _ in range(3):
            with pytest.raises(TransientError) as failed:
                client.get("orders", 1)
            assert not isinstance(failed.value, CircuitOpen)

    _in_thread(fail_three_times)
    with pytest.raises(CircuitOpen):  # this thread's own client, which never called the shop
        rt.prestashop("default").get("orders", 1)
    rt.breaker("prestashop", "default").reset()
