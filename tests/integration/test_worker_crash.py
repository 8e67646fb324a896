"""A worker killed with SIGKILL in the middle of a flow, then restarted: nothing lost, nothing doubled.

The worker here is a real ``celery worker`` process (an embedded one cannot be SIGKILLed without the test);
the sandboxes and the receiver run in the test process, over HTTP. The dead worker's events are found by
their leases running out (its heartbeat stopped), not by waiting out a long lock: the sweeper, called here
as beat calls it, publishes them again as soon as they show no sign of life.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import requests

from integration.flows.maintenance import sweep
from integration.store import models as m
from tests.integration.conftest import (
    BROKER_PREFIX,
    PS_KEY,
    TEST_BROKER,
    WEBHOOK_SECRET,
    kill_process_group,
    start_worker_process,
    wait_until,
)


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return start_worker_process(env, log, "orders,dead_letter", 8)


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
                         indirect=True)
def test_sigkill_mid_flow_then_restart_loses_nothing_and_doubles_nothing(tmp_path, db_url, redis_url, systems):
    from tasks.dispatch import enqueue

    ps, infor, ionapi, rt = systems.ps, systems.infor, systems.ionapi, systems.rt
    env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "PS_URL": f"{ps.url}/api",
           "PS_KEY": PS_KEY, "IONAPI_FILE": str(ionapi), "WEBHOOK_SECRET": WEBHOOK_SECRET,
           "PSINFOR_BROKER_PREFIX": BROKER_PREFIX, "PSINFOR_EVENT_LOCK_SECONDS": "3",
           "PSINFOR_RETRY_BACKOFF": "0.2", "PSINFOR_RETRY_BACKOFF_MAX": "1", "LOG_FORMAT": "json"}
    if TEST_BROKER:
        env["BROKER_URL"] = TEST_BROKER
    workers: list[subprocess.Popen[bytes]] = []
    try:
        # Slow Infor answers keep the orders inside their flows long enough to kill the worker there.
        requests.post(f"{infor.url}/_sandbox/faults", json={"latency_ms": 700}, timeout=10).raise_for_status()
        workers.append(_start_worker(env, tmp_path / "worker1.log"))
        response = requests.post(f"{ps.url}/_sandbox/orders", json={"count": 6}, timeout=30)
        order_ids = [int(i) for i in response.json()["orders"]]

        def in_flight() -> bool:
            return any(e.status == m.RUNNING for e in rt.store.recent_events(limit=100))

        wait_until(in_flight, timeout=60)
        kill_process_group(workers[0])
        events = rt.store.recent_events(limit=100)
        assert any(e.status not in m.FINAL_STATUSES for e in events), "the kill came too late to test anything"

        requests.delete(f"{infor.url}/_sandbox/faults", timeout=10).raise_for_status()
        workers.append(_start_worker(env, tmp_path / "worker2.log"))
        swept: set[int] = set()

        def all_final() -> bool:
            # The sweeper, as beat runs it (here without waiting for staleness): an event whose lease is still
            # held is left alone; once the dead worker's leases ran out (3 s), its events are published again.
            swept.update(sweep(rt, enqueue, stale_seconds=0))
            return all(e.status in m.FINAL_STATUSES for e in rt.store.recent_events(limit=100))

        wait_until(all_final, timeout=120, interval=0.5)
        if not TEST_BROKER:  # Redis gives a dead worker's messages back only after hours: the sweeper did
            assert swept
        assert len(rt.store.recent_events(limit=100)) == len(order_ids)
        events = rt.store.recent_events(limit=100)
        assert {e.status for e in events} == {m.SUCCEEDED}, [(e.id, e.status, e.last_error) for e in events]
        orders = requests.get(f"{infor.url}/_sandbox/orders", timeout=10).json()["orders"]
        for order_id in order_ids:
            cuors = [o["CUOR"] for o in orders if o["CUOR"].endswith(f"-{order_id}")]
            assert len(cuors) == 1, (order_id, cuors)
            assert rt.store.get_binding("default", "order", str(order_id)) is not None
        customers = requests.get(f"{infor.url}/_sandbox/customers", timeout=10).json()["customers"]
        cunos = [c["CUNO"] for c in customers]
        assert len(cunos) == len(set(cunos))
    finally:
        for proc in workers:
            kill_process_group(proc)
