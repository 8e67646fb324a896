"""A worker killed with SIGKILL in the middle of a stock window, then restarted: no change is lost and no shop
row is written twice (the re-run asks the shop what the unconfirmed rows hold before writing them).

The worker is a real ``celery worker`` process (an embedded one cannot be SIGKILLed without the test); the
sandboxes run in the test process, over HTTP.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from integration.flows import inventory
from integration.flows.maintenance import sweep
from integration.store import models as m
from tests.integration.conftest import (
    BROKER_PREFIX,
    PS_KEY,
    WEBHOOK_SECRET,
    kill_process_group,
    start_worker_process,
    wait_until,
)
from tests.integration.test_inventory import CONNECTION, Stock


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start_worker_process(env, log, "stock,dead_letter", 4)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_sigkill_mid_window_loses_nothing_and_writes_nothing_twice(tmp_path, db_url, redis_url, systems):
    from tasks.dispatch import enqueue

    stock = Stock(systems)
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "PS_URL": f"{systems.ps.url}/api",
           "PS_KEY": PS_KEY, "IONAPI_FILE": str(systems.ionapi), "WEBHOOK_SECRET": WEBHOOK_SECRET,
           "PSINFOR_BROKER_PREFIX": BROKER_PREFIX, "PSINFOR_EVENT_LOCK_SECONDS": "10",
           "PSINFOR_RETRY_BACKOFF": "0.2", "PSINFOR_RETRY_BACKOFF_MAX": "1", "LOG_FORMAT": "json"}
    workers: list[subprocess.Popen[bytes]] = []
    try:
        stock.generate(60)
        stock.align()
        items = sorted(stock.rt.binder(CONNECTION, inventory.ITEM).to_shop_many(
            [f"G{n:06d}-{s}" for n in range(1, 16) for s in ("S", "M", "L", "XL")]))[:30]
        expected = {itno: stock.shop(stock.row(itno)) + 3 for itno in items}
        for itno, qty in expected.items():
            stock.set_m3(itno, qty)
        stock.reset_writes()
        # Slow shop answers keep the window inside its load step long enough to kill the worker there.
        stock.ps_faults(latency_ms=300)
        workers.append(_start_worker(env, tmp_path / "worker1.log"))
        assert inventory.poll_stock(stock.rt, CONNECTION, enqueue)["enqueued"] == 1
        wait_until(lambda: stock.writes().get("PATCH stock_availables", 0) >= 5, timeout=60)
        kill_process_group(workers[0])
        [event] = stock.events()
        assert event.status not in m.FINAL_STATUSES, "the kill came too late to test anything"
        assert stock.writes()["PATCH stock_availables"] < len(items)

        requests.delete(f"{systems.ps.url}/_sandbox/faults", timeout=10).raise_for_status()
        workers.append(_start_worker(env, tmp_path / "worker2.log"))
        # The beat sweeper finds the window the dead worker left: once its lease has run out (no heartbeat), and
        # at a second look, so a step that is still running is never run twice.
        wait_until(lambda: sweep(stock.rt, enqueue, stale_seconds=0), timeout=60, interval=1)
        [event] = stock.wait_final(1, timeout=120)
        assert event.status == m.SUCCEEDED, event.last_error
        counts = event.result["counts"]
        # The re-run skipped what the dead worker had written and confirmed (instead of re-sending) a write
        # whose answer it never saw.
        assert sum(counts.values()) == len(items) and counts["written"] < len(items)
        assert stock.writes() == {"PATCH stock_availables": len(items)}  # every row once, none twice
        assert {itno: stock.shop(stock.row(itno)) for itno in items} == expected
    finally:
        for proc in workers:
            kill_process_group(proc)
