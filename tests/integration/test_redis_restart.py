"""Redis killed under a running worker and beat, then back, twice (emptied, then with its data): both keep
running and finish the work; the receiver's ``/readyz`` says 503 while Redis or the database is away and
200 again once it is back, by itself.

Real processes (the dev kit's stack: sandboxes, gunicorn receiver, a worker as production runs it, beat) on
a Redis the test owns.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from bench.chaos import FAST_ENV
from psinfor_devkit.stack import RestartableRedis, Stack
from tests.integration.conftest import wait_until


def _ready(url: str) -> int:
    try:
        return requests.get(f"{url}/readyz", timeout=5).status_code
    except requests.RequestException:
        return 0


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[tuple[Stack, RestartableRedis]]:
    own = RestartableRedis()
    own.start()
    running = Stack(tmp_path / "stack", worker_concurrency=8, poll_interval=2, sweep_interval=2,
                    extra_env={**FAST_ENV, "REDIS_URL": own.url, "PSINFOR_POLL_INTERVAL": "2"})
    try:
        running.prepare()
        running.start_sandboxes()
        running.start_web()
        running.start_worker("worker1", production=True)
        running.start_worker("worker2", production=True)
        running.start_beat()
        yield running, own
    finally:
        running.stop()
        own.close()


def _place(stack: Stack, count: int, *, webhook: bool = True) -> list[int]:
    response = requests.post(f"{stack.ps_url}/_sandbox/orders", json={"count": count, "send_webhook": webhook},
                             timeout=60)
    response.raise_for_status()
    return [int(i) for i in response.json()["orders"]]


def _infor_orders_by_shop_order(stack: Stack) -> dict[int, int]:
    counts: dict[int, int] = {}
    for order in requests.get(f"{stack.infor_url}/_sandbox/orders", timeout=30).json()["orders"]:
        tail = str(order["CUOR"]).rsplit("-", 1)[-1]
        if tail.isdigit():
            counts[int(tail)] = counts.get(int(tail), 0) + 1
    return counts


def test_redis_killed_under_running_workers_and_beat(stack: tuple[Stack, RestartableRedis]):
    from integration.store import models as m
    from integration.store.repository import Store

    running, own = stack
    store = Store(running.env["DATABASE_URL"])
    procs = {name: running.procs[name].popen for name in ("worker1", "worker2", "beat")}
    # Slow and failing Infor answers keep orders inside their flows, and retries scheduled, when Redis goes.
    requests.post(f"{running.infor_url}/_sandbox/faults", json={"latency_ms": 200, "error_rate": 0.2},
                  timeout=10).raise_for_status()
    orders: list[int] = []
    stop = threading.Event()

    def shop() -> None:  # orders keep coming, a few a second, Redis or not
        while not stop.wait(0.5):
            orders.extend(_place(running, 2))

    placing = threading.Thread(target=shop, daemon=True)
    placing.start()
    try:
        for keep_data in (False, True):
            wait_until(lambda: store.status_counts(entity="order").get(m.RUNNING, 0) >= 2, timeout=60)
            if keep_data:
                own.stop(keep_data=True)  # a clean shutdown that writes its snapshot
            else:
                assert own.process is not None
                own.process.kill()  # a crash: everything in it is gone
                own.process.wait(timeout=10)
            wait_until(lambda: _ready(running.web_url) == 503, timeout=30)
            time.sleep(3)  # Redis stays away a while (the outage, not an assertion)
            dead = {name: proc.returncode for name, proc in procs.items() if proc.poll() is not None}
            assert dead == {}, running.procs[next(iter(dead))].log.read_text()[-3000:]
            own.start()
            wait_until(lambda: _ready(running.web_url) == 200, timeout=60)
    finally:
        stop.set()
        placing.join(timeout=30)
    orders += _place(running, 3, webhook=False)  # only beat's poller can find these
    requests.delete(f"{running.infor_url}/_sandbox/faults", timeout=10).raise_for_status()

    def done() -> bool:
        counts = _infor_orders_by_shop_order(running)
        return all(counts.get(i, 0) >= 1 for i in orders)

    wait_until(done, timeout=180, interval=1)
    for name, proc in procs.items():
        assert proc.poll() is None, running.procs[name].log.read_text()[-3000:]
    counts = _infor_orders_by_shop_order(running)
    assert {i: counts[i] for i in orders if counts[i] != 1} == {}  # nothing doubled


class Gate:
    """A TCP forwarder that can be shut: the database goes away and comes back without stopping it."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.open = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            threading.Thread(target=self._pipe, args=(client, upstream), daemon=True).start()

    @staticmethod
    def _pipe(a: socket.socket, b: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while True:
                readable, _, _ = select.select([a, b], [], [], 1.0)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    (b if sock is a else a).sendall(data)
        for sock in (a, b):
            with contextlib.suppress(OSError):
                sock.close()

    def shut(self) -> None:
        self.open = False
        with self.lock:
            for conn in self.conns:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self.conns.clear()

    def reopen(self) -> None:
        self.open = True

    def close(self) -> None:
        self.shut()
        self.server.close()


@pytest.mark.parametrize("db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True)
def test_readyz_while_the_database_is_away(db_url: str, make_settings: Any):
    from sqlalchemy.engine import make_url

    from integration.web.app import create_app

    url = make_url(db_url)
    gate = Gate((url.host or "127.0.0.1", url.port or 5432))
    try:
        through_gate = url.set(port=gate.port).render_as_string(hide_password=False)
        client = create_app(make_settings(DATABASE_URL=through_gate), enqueue=lambda *_: None).test_client()
        assert client.get("/readyz").status_code == 200
        gate.shut()
        response = client.get("/readyz")
        assert response.status_code == 503 and response.json["checks"]["database"].startswith("error")
        gate.reopen()
        wait_until(lambda: client.get("/readyz").status_code == 200, timeout=30)
    finally:
        gate.close()

