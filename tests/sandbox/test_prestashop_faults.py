"""Fault injection in the PrestaShop sandbox, seen through our client's typed errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from integration.connectors.prestashop.client import PrestaShopClient
from integration.connectors.prestashop.errors import (
    PrestaShopRateLimited,
    PrestaShopServerError,
)
from integration.connectors.resilience import CircuitBreaker, CircuitOpen
from integration.errors import TransientError
from psinfor_devkit.sandbox.prestashop import start_prestashop_sandbox
from psinfor_devkit.sandbox.server import SandboxServer
from tests.sandbox.prestashop_helpers import KEY


@pytest.fixture
def sandbox() -> Iterator[SandboxServer]:
    server = start_prestashop_sandbox(port=0, key=KEY, orders=1)
    yield server
    server.stop()


def faults(sandbox: SandboxServer, **settings: object) -> dict:
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json=settings, timeout=5)
    response.raise_for_status()
    return response.json()


def client(sandbox: SandboxServer, **kwargs: object) -> PrestaShopClient:
    kwargs.setdefault("max_retries", 0)
    return PrestaShopClient(sandbox.url + "/api", KEY, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(("settings", "error"), [
    ({"error_rate": 1.0}, PrestaShopServerError),
    ({"error_rate": 1.0, "error_status": 503}, PrestaShopServerError),
    ({"rate_limit_rate": 1.0}, PrestaShopRateLimited),
    ({"down": True}, PrestaShopServerError),
    ({"drop_rate": 1.0}, PrestaShopServerError),
])
def test_each_fault_is_a_transient_typed_error(sandbox: SandboxServer, settings: dict, error: type) -> None:
    faults(sandbox, **settings)
    with pytest.raises(error) as caught:
        client(sandbox).get("orders", 1)
    assert isinstance(caught.value, TransientError)
    requests.delete(f"{sandbox.url}/_sandbox/faults", timeout=5)
    assert client(sandbox).get("orders", 1)["id"] == 1


def test_php_notices_do_not_stop_the_client(sandbox: SandboxServer) -> None:
    faults(sandbox, php_notice=1.0)
    assert client(sandbox).get("orders", 1)["id"] == 1
    assert requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()["injected"]["php_notice"] == 1


def test_timeout_fault(sandbox: SandboxServer) -> None:
    faults(sandbox, timeout_rate=1.0, timeout_seconds=3)
    with pytest.raises(PrestaShopServerError, match="did not answer"):
        client(sandbox, timeout=0.3).get("orders", 1)


def test_fail_next_then_recovers_and_retries_hide_it(sandbox: SandboxServer) -> None:
    faults(sandbox, fail_next=2, error_status=503)
    assert client(sandbox, max_retries=3).get("orders", 1)["id"] == 1  # two 503s retried by urllib3
    snapshot = requests.get(f"{sandbox.url}/_sandbox/faults", timeout=5).json()
    assert snapshot["fail_next"] == 0 and snapshot["injected"]["error"] == 2


def test_breaker_opens_on_a_down_shop(sandbox: SandboxServer) -> None:
    faults(sandbox, down=True)
    ps = client(sandbox, breaker=CircuitBreaker("ps-test", failure_threshold=2, reset_timeout=60))
    for _ in range(2):
        with pytest.raises(PrestaShopServerError):
            ps.get("orders", 1)
    with pytest.raises(CircuitOpen):
        ps.get("orders", 1)


def test_latency_and_stats(sandbox: SandboxServer) -> None:
    faults(sandbox, latency_ms=5, latency_jitter_ms=5)
    requests.post(f"{sandbox.url}/_sandbox/stats/reset", timeout=5)
    ps = client(sandbox)
    for _ in range(3):
        ps.get("orders", 1)
    stats = requests.get(f"{sandbox.url}/_sandbox/stats", timeout=5).json()
    assert stats["requests"] == 3 and stats["by_route"] == {"GET /api/orders/{id}": 3}


def test_unknown_fault_setting_is_refused(sandbox: SandboxServer) -> None:
    response = requests.post(f"{sandbox.url}/_sandbox/faults", json={"eror_rate": 1}, timeout=5)
    assert response.status_code == 400 and "eror_rate" in response.json()["error"]
